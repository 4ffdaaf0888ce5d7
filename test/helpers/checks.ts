/** Runs checks described in YAML through the real loader, monitor and probe (no service, no state file). */
import { Monitor, type RunRecord } from '../../src/checks/monitor.js';
import { parseConfig } from '../../src/config/load.js';

export function monitorFor(yaml: string, baseDir = process.cwd()): Monitor {
  return new Monitor(parseConfig(yaml, 'test.yaml', process.env, baseDir));
}

/** Runs the first check of a config made from one check's YAML (indented as a list item body). */
export async function runCheck(checkYaml: string, extraTopLevel = ''): Promise<RunRecord> {
  const yaml = `${extraTopLevel}\nchecks:\n  - ${checkYaml.trim().split('\n').join('\n    ')}\n`;
  const monitor = monitorFor(yaml);
  const [first] = monitor.checks;
  if (!first) throw new Error('no check in config');
  try {
    return await monitor.run(first.name);
  } finally {
    await monitor.close();
  }
}
