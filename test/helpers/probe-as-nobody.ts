/** Runs a built probe in a child process as an unprivileged user, for what root would bypass (permissions). */
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
export function runProbeAsNobody(file: string, probe: string, check: Record<string, unknown>, timeoutMs = 5000): Promise<ProbeResult> {
  const moduleUrl = pathToFileURL(path.resolve(path.dirname(BUILT_CLI), 'probes', `${file}.js`)).href;
  const script = `const m = await import(${JSON.stringify(moduleUrl)});
const r = await m[${JSON.stringify(probe)}](${JSON.stringify(check)}, { signal: AbortSignal.timeout(${timeoutMs}), memo: new Map() });
process.stdout.write(JSON.stringify(r));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { uid: NOBODY, gid: NOBODY, cwd: '/', timeout: timeoutMs + 5000 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout) as ProbeResult),
    );
  });
}
