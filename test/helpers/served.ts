/** A real `forgewatch serve` child process on a free port, killed (-9) by the test's cleanups if still running. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './servers.js';
import { BUILT_CLI, waitFor } from './service.js';

export type Cleanups = (() => Promise<void>)[];

export interface ServedProcess {
  proc: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Calls `fn` with each complete stdout line from now on. */
  onLine(fn: (line: string) => void): void;
}

export async function serveProcess(
  configFile: string,
  cleanups: Cleanups,
  env: NodeJS.ProcessEnv = {},
): Promise<ServedProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [BUILT_CLI, 'serve', '-c', configFile, '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await once(proc, 'exit');
    }
  });
  let out = '';
  let partial = '';
  const listeners: ((line: string) => void)[] = [];
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const fn of listeners) fn(line);
  });
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    () =>
      fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    15_000,
  );
  return { proc, url, output: () => out, onLine: (fn) => void listeners.push(fn) };
}
