import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILT_CLI, tempDir, waitFor } from './helpers/service.js';

interface Served {
  child: ChildProcess;
  output: () => string;
  lines: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  }
  for (const c of cleanups.splice(0)) await c();
});

/** A real `forgewatch serve` on a config in `dir` (its state_dir is `dir/state`). */
function serve(dir: string): Served {
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', '-c', 'fw.yaml', '--listen', '127.0.0.1:0'], {
    cwd: dir,
    env: { ...process.env, FORGEWATCH_CONFIG: '', FORGEWATCH_STATE_DIR: '' },
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
}

function fleetDir(): string {
  const { dir, cleanup } = tempDir('forgewatch-lock-');
  cleanups.push(cleanup);
  writeFileSync(
    path.join(dir, 'fw.yaml'),
    `state_dir: ./state\ndefaults: { interval: 1h }\nchecks:\n  - name: one\n    type: http\n    url: http://127.0.0.1:9/\n`,
  );
  return dir;
}

const started = (s: Served) => waitFor(() => s.lines().find((l) => l.event === 'started'), 20_000);

describe('one process per state_dir', () => {
  it('refuses a second serve on the same state_dir with exit 2, naming the holder pid and the fix', async () => {
    const dir = fleetDir();
    const first = serve(dir);
    await started(first);
    const lock = JSON.parse(readFileSync(path.join(dir, 'state', 'forgewatch.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(first.child.pid);

    const second = serve(dir);
    expect(await second.exited).toBe(2);
    const refused = second.lines().find((l) => l.event === 'state_dir_locked');
    expect(refused?.error).toContain(`pid ${first.child.pid}`);
    expect(refused?.error).toContain(path.join(dir, 'state'));
    expect(refused?.hint).toContain(`kill ${first.child.pid}`);
    expect(refused?.hint).toContain('FORGEWATCH_STATE_DIR');
    expect(second.lines().some((l) => l.event === 'started')).toBe(false);
    // The refused process left the holder's lock alone.
    expect(JSON.parse(readFileSync(path.join(dir, 'state', 'forgewatch.lock'), 'utf8'))).toEqual(lock);
  });

  it('a lock left by a process killed with -9 does not block the next start', async () => {
    const dir = fleetDir();
    const first = serve(dir);
    await started(first);
    first.child.kill('SIGKILL');
    await first.exited;

    const next = serve(dir);
    await started(next);
    const lock = JSON.parse(readFileSync(path.join(dir, 'state', 'forgewatch.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(next.child.pid);
    // A clean stop removes the lock.
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(() => readFileSync(path.join(dir, 'state', 'forgewatch.lock'))).toThrow(/ENOENT/);
  });

  it('a lock whose pid now belongs to another process (pid reused) does not block', async () => {
    const dir = fleetDir();
    // A live process that is not the lock's holder: same pid, another start time.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    children.push(other);
    await waitFor(() => other.pid);
    mkdirSync(path.join(dir, 'state'));
    writeFileSync(
      path.join(dir, 'state', 'forgewatch.lock'),
      JSON.stringify({ pid: other.pid, start_ticks: 1, started_at: '2020-01-01T00:00:00.000Z' }),
    );
    const next = serve(dir);
    await started(next);
    const lock = JSON.parse(readFileSync(path.join(dir, 'state', 'forgewatch.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(next.child.pid);
  });
});
