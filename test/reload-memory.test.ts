/**
 * A check's run memory (a container check's restart history) survives a reload that leaves the check as it was,
 * and starts afresh after a reload that changes it. Seen through GET /check on a running service, with a stand-in
 * engine whose container the test restarts by moving RestartCount and StartedAt.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeEngine } from './helpers/container-check.js';
import { startForgewatch, tempDir } from './helpers/service.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface CheckReport {
  checks: { name: string; status: string; reason: string; details: { containers: { restarts_in_window: number }[] } }[];
}

describe('run memory across reloads', () => {
  it('keeps a container check’s restart history on a reload that leaves the check alone, and resets it on one that changes it', async () => {
    const scratch = tempDir('forgewatch-reload-memory-');
    cleanups.push(() => scratch.cleanup());
    const socket = path.join(scratch.dir, 'engine.sock');
    // Created and last started long ago: a first look at it sees no restart within the window.
    const container = { restartCount: 2, startedAt: '2020-01-01T00:00:00Z' };
    const engine = await fakeEngine(socket, (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.43' }));
      if (req.url === '/v1.43/containers/app/json')
        return res.end(
          JSON.stringify({
            Id: 'a1b2c3',
            Name: '/app',
            Created: '2020-01-01T00:00:00Z',
            RestartCount: container.restartCount,
            State: {
              Status: 'running',
              Running: true,
              ExitCode: 0,
              StartedAt: container.startedAt,
              FinishedAt: '0001-01-01T00:00:00Z',
            },
            Config: { Image: 'forgetrace/app:1', Tty: false },
          }),
        );
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'no such path' }));
    });
    cleanups.push(() => engine.close());

    const config = (maxRestarts: number, extraCheck = '') =>
      `defaults: { interval: 1h }\nchecks:\n  - { name: app, type: container, socket: ${socket}, container: app, max_restarts: ${maxRestarts}, window: 10m }\n${extraCheck}`;
    const fw = await startForgewatch(config(10), { dir: scratch.dir });
    cleanups.push(() => fw.close());
    const restartsSeen = async () => {
      const report = (await (await fetch(`${fw.url}/check?name=app`)).json()) as CheckReport;
      const [entry] = report.checks;
      expect(entry?.status, entry?.reason).toBe('ok');
      return entry?.details.containers[0]?.restarts_in_window;
    };

    expect(await restartsSeen()).toBe(0);
    // Three restarts between two runs: only the memory of the earlier RestartCount lets the check count all three.
    Object.assign(container, { restartCount: 5, startedAt: new Date(Date.now() - 1000).toISOString() });
    expect(await restartsSeen()).toBe(3);

    fw.writeConfig(config(10, `  - { name: other, type: port, port: 1, expect: closed }\n`));
    expect(await fw.service.reload()).toBeUndefined();
    expect(fw.service.monitor.checks.map((c) => c.name)).toEqual(['app', 'other']);
    expect(await restartsSeen()).toBe(3);

    // Changed: the old history is dropped, so only the latest restart (StartedAt within the window) is seen.
    fw.writeConfig(config(9, `  - { name: other, type: port, port: 1, expect: closed }\n`));
    expect(await fw.service.reload()).toBeUndefined();
    expect(fw.service.monitor.view('app')?.check).toMatchObject({ max_restarts: 9 });
    expect(await restartsSeen()).toBe(1);
  });
});
