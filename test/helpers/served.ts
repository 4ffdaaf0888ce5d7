/** A real `forgewatch serve` child process on a free port, killed (-9) by the test's cleanups if still running. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { BUILT_CLI, cliNodeFlags, waitFor } from './service.js';

export type Cleanups = (() => Promise<void>)[];

export interface ServedProcess {
  proc: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Calls `fn` with each complete stdout line from now on. */
  onLine(fn: (line: string) => void): void;
}

/** `configFile` undefined: no config file (serve runs what discovery finds, in `cwd`), `args` naming its sources. */
export async function serveProcess(
  configFile: string | undefined,
  cleanups: Cleanups,
  env: NodeJS.ProcessEnv = {},
  opts: { args?: string[]; cwd?: string } = {},
): Promise<ServedProcess> {
  // Port 0, and the address from its own `started` line: a port read free here could be taken by another test's
  // server before this process binds it, and that server would then answer for it.
  const config = configFile === undefined ? [] : ['-c', configFile];
  const proc = spawn(
    process.execPath,
    [...cliNodeFlags(), BUILT_CLI, 'serve', ...config, '--listen', '127.0.0.1:0', ...(opts.args ?? [])],
    {
      env: { ...process.env, FORGEWATCH_LOG_FORMAT: 'json', ...env },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
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
  const url = await waitFor(() => {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`forgewatch serve exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${out}`);
    const started = out.split('\n').find((l) => l.includes('"event":"started"'));
    return started ? (JSON.parse(started) as { url: string }).url : undefined;
  }, 15_000);
  return { proc, url, output: () => out, onLine: (fn) => void listeners.push(fn) };
}
