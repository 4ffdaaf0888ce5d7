import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  advance,
  initialState,
  isRecovery,
  isRegression,
  type CheckState,
  type Transition,
} from '../src/checks/state.js';
import { StateDirError, StateStore } from '../src/checks/store.js';
import { writeFileAtomic } from '../src/util/fs.js';
import type { ProbeResult, Status } from '../src/probes/types.js';
import { startForgewatch, tempDir, waitFor } from './helpers/service.js';
import { httpServer, type Started } from './helpers/servers.js';

const result = (status: Status): ProbeResult => ({
  status,
  reason: status,
  timings: { total: 0 },
  details: {},
  observations: [],
});

/** Feeds a sequence of results through the machine; returns the transitions it emitted. */
function feed(
  statuses: Status[],
  thresholds = { failure_threshold: 2, success_threshold: 1 },
  start: CheckState = initialState(new Date(0)),
) {
  let state = start;
  const transitions: Transition[] = [];
  statuses.forEach((s, i) => {
    const out = advance('c', state, result(s), thresholds, new Date(1000 * (i + 1)));
    state = out.state;
    if (out.transition) transitions.push(out.transition);
  });
  return { state, transitions: transitions.map((t) => `${t.from}->${t.to}`), raw: transitions };
}

describe('a run that changes nothing', () => {
  it('leaves the state as it was, and a pending move still starts a new state', () => {
    const thresholds = { failure_threshold: 2, success_threshold: 1 };
    const ok: CheckState = { status: 'ok', since: '2026-01-01T00:00:00.000Z' };
    const now = new Date('2026-01-01T00:01:00.000Z');
    const same = advance('api', ok, result('ok'), thresholds, now);
    expect(same.state).toBe(ok);
    expect(same.transition).toBeUndefined();
    const pending = advance('api', ok, result('fail'), thresholds, now).state;
    expect(pending).toEqual({ ...ok, pending: { direction: 'worse', count: 1, firstAt: now.toISOString() } });
    const recovered = advance('api', pending, result('ok'), thresholds, now).state;
    expect(recovered).toEqual(ok);
    expect(recovered).not.toBe(pending);
  });
});

describe('state machine', () => {
  it('settles unknown -> ok on the first good result', () => {
    expect(feed(['ok']).transitions).toEqual(['unknown->ok']);
  });

  it('needs failure_threshold consecutive bad results to regress', () => {
    expect(feed(['ok', 'fail']).transitions).toEqual(['unknown->ok']);
    expect(feed(['ok', 'fail', 'ok', 'fail']).transitions).toEqual(['unknown->ok']);
    const { transitions, raw } = feed(['ok', 'fail', 'fail']);
    expect(transitions).toEqual(['unknown->ok', 'ok->fail']);
    // "since" is when the problem began: the first bad result, not the one that crossed the threshold.
    expect(raw[1]?.since).toBe(new Date(2000).toISOString());
  });

  it('counts warn and fail together towards a regression and lands on the latest', () => {
    expect(feed(['ok', 'warn', 'fail']).transitions).toEqual(['unknown->ok', 'ok->fail']);
  });

  it('needs success_threshold good results to recover', () => {
    const th = { failure_threshold: 1, success_threshold: 3 };
    expect(feed(['fail', 'ok', 'ok'], th).transitions).toEqual(['unknown->fail']);
    expect(feed(['fail', 'ok', 'ok', 'ok'], th).transitions).toEqual(['unknown->fail', 'fail->ok']);
  });

  it('reports how long the previous status lasted', () => {
    const { raw } = feed(['fail', 'fail', 'ok', 'ok'], { failure_threshold: 2, success_threshold: 1 });
    expect(raw.map((t) => t.previousDurationMs)).toEqual([0, 2000]);
  });

  it('classifies regressions and recoveries', () => {
    expect(isRegression({ from: 'ok', to: 'warn' })).toBe(true);
    expect(isRegression({ from: 'unknown', to: 'fail' })).toBe(true);
    expect(isRegression({ from: 'fail', to: 'warn' })).toBe(false);
    expect(isRecovery({ from: 'fail', to: 'ok' })).toBe(true);
    expect(isRecovery({ from: 'unknown', to: 'ok' })).toBe(false);
  });
});

describe('state across restarts', () => {
  let target: Started<http.Server>;
  let healthy = false;
  /** While set, requests get no answer at all. */
  let hanging = false;
  let hung = 0;
  beforeAll(async () => {
    target = await httpServer((_req, res) => {
      if (!hanging) res.writeHead(healthy ? 200 : 503).end();
      else hung++;
    });
  });
  afterAll(() => target.close());

  const yaml = () =>
    `defaults: { failure_threshold: 1, interval: 1h }\nchecks:\n  - name: app\n    type: http\n    url: ${target.url}/health\n`;

  it('keeps a failing check failing after a restart and emits "recovered" on its first good run', async () => {
    const { dir, cleanup } = tempDir();
    try {
      let fw = await startForgewatch(yaml(), { dir });
      const first: Transition[] = [];
      fw.service.monitor.onTransition(({ transition }) => first.push(transition));
      await fw.service.monitor.run('app');
      expect(first.map((t) => `${t.from}->${t.to}`)).toEqual(['unknown->fail']);
      await fw.service.close();

      fw = await startForgewatch(yaml(), { dir });
      const second: Transition[] = [];
      fw.service.monitor.onTransition(({ transition }) => second.push(transition));
      expect(fw.service.monitor.view('app')?.state.status).toBe('fail');
      await fw.service.monitor.run('app');
      expect(second).toEqual([]); // still failing: no second "regressed"
      healthy = true;
      await fw.service.monitor.run('app');
      expect(second.map((t) => `${t.from}->${t.to}`)).toEqual(['fail->ok']);
      await fw.service.close();
    } finally {
      await cleanup();
    }
  });

  it('a run cut short by shutdown changes no state, persisted or not, and emits no transition', async () => {
    const { dir, cleanup } = tempDir();
    try {
      healthy = true;
      const fw = await startForgewatch(yaml(), { dir });
      await fw.service.monitor.run('app');
      expect(fw.service.monitor.view('app')?.state.status).toBe('ok');
      const seen: Transition[] = [];
      fw.service.monitor.onTransition(({ transition }) => seen.push(transition));
      hanging = true;
      const cut = fw.service.monitor.run('app');
      await waitFor(() => hung > 0);
      await fw.service.close();
      expect((await cut).result.reason).toBe('cancelled: forgewatch is shutting down');
      expect(seen).toEqual([]);
      expect(fw.service.monitor.view('app')?.state.status).toBe('ok');
      expect(new StateStore(fw.service.monitor.config.state_dir).load().app?.status).toBe('ok');
    } finally {
      hanging = false;
      healthy = false;
      await cleanup();
    }
  });
});

describe('state file write failures', () => {
  it('a failed write resolves, is reported once per streak, leaves no temp file, and recovery is reported', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const events: string[] = [];
      const store = new StateStore(dir, {
        onWriteFailed: (err) => events.push(`failed: ${(err as NodeJS.ErrnoException).code}`),
        onWriteRecovered: () => events.push('recovered'),
      });
      // state.json is a directory: the rename onto it fails, as a full disk or a wrong owner would.
      mkdirSync(store.file);
      const snapshot = () => ({ app: { status: 'fail' as const, since: '2026-01-01T00:00:00.000Z' } });
      await expect(store.save(snapshot)).resolves.toBeUndefined();
      await store.save(snapshot);
      await store.save(snapshot);
      expect(events).toEqual(['failed: EISDIR']);
      expect(readdirSync(dir)).toEqual(['state.json']);

      rmdirSync(store.file);
      await store.save(snapshot);
      expect(events).toEqual(['failed: EISDIR', 'recovered']);
      expect(JSON.parse(readFileSync(store.file, 'utf8'))).toEqual({ version: 1, checks: snapshot() });
      expect(new StateStore(dir).load()).toEqual(snapshot());
    } finally {
      await cleanup();
    }
  });

  it('writeFileAtomic removes its temp file when the rename fails', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const target = path.join(dir, 'taken');
      mkdirSync(target);
      await expect(writeFileAtomic(target, 'x')).rejects.toThrow(/EISDIR/);
      expect(readdirSync(dir)).toEqual(['taken']);
    } finally {
      await cleanup();
    }
  });

  it('a state_dir that cannot be created names the directory and the fix', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(path.join(dir, 'blocker'), '');
      const stateDir = path.join(dir, 'blocker', 'state');
      let error: unknown;
      try {
        new StateStore(stateDir);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(StateDirError);
      expect((error as StateDirError).message).toBe(`state_dir ${stateDir} cannot be used: ENOTDIR`);
      expect((error as StateDirError).hint).toContain('set state_dir (or FORGEWATCH_STATE_DIR) to a directory');
    } finally {
      await cleanup();
    }
  });
});
