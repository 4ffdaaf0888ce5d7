/** Runs a built probe in a child process with fewer privileges, for what full root would bypass (permissions). */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProbeResult } from '../../src/probes/types.js';
import { BUILT_CLI } from './service.js';

const NOBODY = 65534;

/**
 * Imports dist/src/probes/<file>.js, calls its export `probe` with the given (already resolved)
 * check as user nobody, and returns the result. Needs `npm run build` first, like the CLI tests.
 */
export function runProbeAsNobody(
  file: string,
  probe: string,
  check: Record<string, unknown>,
  timeoutMs = 5000,
): Promise<ProbeResult> {
  return runProbeWith({ uid: NOBODY, gid: NOBODY }, [], file, probe, check, timeoutMs);
}

/** The same as root under `setpriv` with these arguments (e.g. root without capabilities). */
export function runProbeUnderSetpriv(
  setpriv: string[],
  file: string,
  probe: string,
  check: Record<string, unknown>,
  timeoutMs = 5000,
): Promise<ProbeResult> {
  return runProbeWith({}, setpriv, file, probe, check, timeoutMs);
}

function runProbeWith(
  user: { uid?: number; gid?: number },
  setpriv: string[],
  file: string,
  probe: string,
  check: Record<string, unknown>,
  timeoutMs: number,
): Promise<ProbeResult> {
  const moduleUrl = pathToFileURL(path.resolve(path.dirname(BUILT_CLI), 'probes', `${file}.js`)).href;
  const script = `const m = await import(${JSON.stringify(moduleUrl)});
const r = await m[${JSON.stringify(probe)}](${JSON.stringify(check)}, { signal: AbortSignal.timeout(${timeoutMs}), memo: new Map() });
process.stdout.write(JSON.stringify(r));`;
  return new Promise((resolve, reject) => {
    const command = [process.execPath, '--input-type=module', '-e', script];
    const [bin, ...args] = setpriv.length > 0 ? ['setpriv', ...setpriv, ...command] : command;
    execFile(bin as string, args, { ...user, cwd: '/', timeout: timeoutMs + 5000 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout) as ProbeResult),
    );
  });
}
