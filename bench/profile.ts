/**
 * CPU and allocation profiles of one bench phase, through the inspector in the same process: `--cpu-prof` alone
 * would cover start-up and config parsing too, and `--heap-prof` keeps only what is still alive at exit, while
 * the question is what each run allocates and drops. Written as .cpuprofile / .heapprofile files that Chrome
 * DevTools opens and bench/profile-summary.ts summarises.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

export interface PhaseProfile {
  /** Stops both profilers and writes `<name>.cpuprofile` and `<name>.heapprofile` into the directory. */
  stop(): Promise<string[]>;
}

export async function profilePhase(dir: string, name: string): Promise<PhaseProfile> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      const { profile: heap } = await session.post('HeapProfiler.stopSampling');
      session.disconnect();
      const files = [path.join(dir, `${name}.cpuprofile`), path.join(dir, `${name}.heapprofile`)];
      writeFileSync(files[0] as string, JSON.stringify(profile));
      writeFileSync(files[1] as string, JSON.stringify(heap));
      return files;
    },
  };
}
