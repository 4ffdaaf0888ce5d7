import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cronJitter, matchesWithinAMinute, nextSlot, Scheduler, stableHash } from '../src/checks/scheduler.js';
import type { Monitor } from '../src/checks/monitor.js';
import { monitorFor } from './helpers/checks.js';
import { httpServer, type Started } from './helpers/servers.js';
import { waitFor } from './helpers/service.js';

let target: Started<http.Server>;
let inFlight = 0;
let maxInFlight = 0;
const starts = new Map<string, number[]>();

beforeAll(async () => {
  target = await httpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const list = starts.get(url.pathname) ?? [];
    list.push(Date.now());
    starts.set(url.pathname, list);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const done = () => {
      inFlight--;
      res.writeHead(200).end();
    };
    if (url.pathname === '/hang') {
      res.on('close', () => inFlight--);
      return;
    }
    setTimeout(done, Number(url.searchParams.get('ms') ?? 0));
  });
});
afterAll(() => target.close());

function reset() {
  inFlight = 0;
  maxInFlight = 0;
  starts.clear();
}

/** Twenty checks `${prefix}-0` … `${prefix}-19` on one cron line, each asking its own path (`/${prefix}0` …), scheduled. */
function startCronChecks(prefix: string, schedule: string): { monitor: Monitor; scheduler: Scheduler } {
  const checks = Array.from(
    { length: 20 },
    (_, i) =>
      `  - name: ${prefix}-${i}\n    type: http\n    url: ${target.url}/${prefix}${i}\n    schedule: "${schedule}"\n`,
  ).join('');
  const monitor = monitorFor(`checks:\n${checks}`);
  const scheduler = new Scheduler(monitor);
  scheduler.start();
  return { monitor, scheduler };
}

describe('scheduler', () => {
  it('never overlaps a check with itself: a slow run makes the next ticks skip', async () => {
    reset();
    const monitor = monitorFor(
      `checks:\n  - name: slow\n    type: http\n    url: ${target.url}/slow?ms=700\n    interval: 100ms\n`,
    );
    const scheduler = new Scheduler(monitor);
    scheduler.start();
    await waitFor(() => (starts.get('/slow')?.length ?? 0) >= 2, 5000);
    scheduler.stop();
    await monitor.close();
    expect(maxInFlight).toBe(1);
    expect(scheduler.skipped).toBeGreaterThan(0);
  });

  it('bounds runs in flight by max_concurrency', async () => {
    reset();
    const checks = Array.from(
      { length: 6 },
      (_, i) => `  - name: c${i}\n    type: http\n    url: ${target.url}/c${i}?ms=200\n`,
    ).join('');
    const monitor = monitorFor(`max_concurrency: 2\nchecks:\n${checks}`);
    const records = await Promise.all(monitor.checks.map((c) => monitor.run(c.name)));
    await monitor.close();
    expect(records.every((r) => r.result.status === 'ok')).toBe(true);
    expect(maxInFlight).toBe(2);
  });

  it('releases the slot of a hanging target at its timeout', async () => {
    reset();
    const monitor = monitorFor(
      `max_concurrency: 1\nchecks:\n  - name: hang\n    type: http\n    url: ${target.url}/hang\n    timeout: 300ms\n  - name: quick\n    type: http\n    url: ${target.url}/quick\n`,
    );
    const [hang, quick] = await Promise.all([monitor.run('hang'), monitor.run('quick')]);
    await monitor.close();
    expect(hang.result.reason).toBe('timeout after 300ms waiting for the first byte');
    expect(quick.result.status).toBe('ok');
    // quick could only start once hang gave its slot back
    expect((starts.get('/quick')?.[0] ?? 0) - (starts.get('/hang')?.[0] ?? 0)).toBeGreaterThanOrEqual(250);
  });

  it('spreads checks with one interval by a stable per-check offset', async () => {
    reset();
    const checks = Array.from(
      { length: 40 },
      (_, i) => `  - name: spread-${i}\n    type: http\n    url: ${target.url}/s${i}\n    interval: 1s\n`,
    ).join('');
    const monitor = monitorFor(`checks:\n${checks}`);
    const scheduler = new Scheduler(monitor);
    scheduler.start();
    await waitFor(() => starts.size >= 40, 5000);
    scheduler.stop();
    await monitor.close();
    const firsts = [...starts.values()].map((l) => l[0] ?? 0);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(300);
    expect(stableHash('spread-1')).toBe(stableHash('spread-1'));
    expect(stableHash('spread-1')).not.toBe(stableHash('spread-2'));
  });

  it('wakes on a 50 ms grid of the clock: runs due within one step start together, none before its time', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      now: Date.parse('2026-03-01T12:00:00.000Z'),
    });
    try {
      const checks = Array.from(
        { length: 40 },
        (_, i) => `  - name: grid-${i}\n    type: http\n    url: ${target.url}/g${i}\n    interval: 1s\n`,
      ).join('');
      const monitor = monitorFor(`checks:\n${checks}`);
      const fired = new Map<string, number>();
      // The scheduler's side only: what a run would do is not under test here.
      monitor.run = (name) => {
        fired.set(name, Date.now());
        return new Promise(() => undefined);
      };
      const scheduler = new Scheduler(monitor);
      scheduler.start();
      const due = new Map(monitor.checks.map((c) => [c.name, scheduler.nextRunAt(c.name) ?? NaN]));
      vi.advanceTimersByTime(1000);
      scheduler.stop();
      expect(fired.size).toBe(40);
      for (const [name, at] of fired) {
        const planned = due.get(name) ?? NaN;
        expect(at).toBeGreaterThanOrEqual(planned);
        expect(at).toBe(Math.ceil(planned / 50) * 50);
      }
      // Forty runs planned at many different milliseconds of one second start in at most twenty wake-ups.
      expect(new Set(due.values()).size).toBeGreaterThan(20);
      expect(new Set(fired.values()).size).toBeLessThanOrEqual(20);
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs cron schedules through node-cron', async () => {
    reset();
    const monitor = monitorFor(
      `checks:\n  - name: cron\n    type: http\n    url: ${target.url}/cron\n    schedule: "* * * * * *"\n`,
    );
    const scheduler = new Scheduler(monitor);
    scheduler.start();
    await waitFor(() => (starts.get('/cron')?.length ?? 0) >= 2, 5000);
    scheduler.stop();
    await monitor.close();
    const [a = 0, b = 0] = starts.get('/cron') ?? [];
    expect(b - a).toBeGreaterThan(500);
  });

  it('puts later runs of 1,000 checks with one interval at stable phases over the whole interval', () => {
    const interval = 30_000;
    const t = Date.parse('2026-03-01T12:00:00.123Z');
    const phases = Array.from({ length: 1000 }, (_, i) => {
      const slot = nextSlot(`check-${i}`, interval, t);
      expect(slot).toBeGreaterThanOrEqual(t);
      expect(slot - t).toBeLessThan(interval);
      // Stable: the same phase from any starting time.
      expect(nextSlot(`check-${i}`, interval, t + 7 * interval + 1234) % interval).toBe(slot % interval);
      return slot % interval;
    });
    // Ten 3 s buckets: each gets a fair share (100 expected), none is empty, none takes a burst.
    const buckets = Array.from({ length: 10 }, (_, b) => phases.filter((p) => Math.floor(p / 3000) === b).length);
    for (const n of buckets) expect(n).toBeGreaterThan(50);
    for (const n of buckets) expect(n).toBeLessThan(150);
  });

  it("runs soon after start, then every interval at the check's own phase", async () => {
    reset();
    const checks = Array.from(
      { length: 30 },
      (_, i) => `  - name: phase-${i}\n    type: http\n    url: ${target.url}/p${i}\n    interval: 1m\n`,
    ).join('');
    const monitor = monitorFor(`checks:\n${checks}`);
    const scheduler = new Scheduler(monitor, { firstRunSpreadMs: 200 });
    const startedAt = Date.now();
    scheduler.start();
    // Planning 30 checks takes time itself: each is planned within the spread of the moment it was planned.
    const plannedBy = Date.now();
    const names = monitor.checks.map((c) => c.name);
    // First runs are planned within the short start-up spread...
    for (const name of names) expect((scheduler.nextRunAt(name) ?? Infinity) - plannedBy).toBeLessThan(200);
    await waitFor(() => [...starts.keys()].filter((p) => p.startsWith('/p')).length >= 30, 10_000);
    // ...and once a check has run, its later runs sit at its own phase, spread over the whole minute.
    const phases = names.map((name) => {
      const next = scheduler.nextRunAt(name) ?? 0;
      expect(next % 60_000).toBe(stableHash(name) % 60_000);
      expect(next - startedAt).toBeGreaterThanOrEqual(30_000);
      return next % 60_000;
    });
    scheduler.stop();
    await monitor.close();
    expect(Math.max(...phases) - Math.min(...phases)).toBeGreaterThan(40_000);
  });

  it('runs once after the event loop stalled for many intervals, skipping the missed slots instead of a burst', async () => {
    reset();
    const interval = 150;
    const monitor = monitorFor(
      `checks:\n  - name: steady\n    type: http\n    url: ${target.url}/steady\n    interval: ${interval}ms\n`,
    );
    const scheduler = new Scheduler(monitor, { firstRunSpreadMs: 10 });
    const runs = () => starts.get('/steady') ?? [];
    scheduler.start();
    try {
      await waitFor(() => runs().length >= 2, 5000);
      const runsBefore = runs().length;
      const firesBefore = scheduler.latencyPercentiles().samples;
      // Blocks this thread (timers, sockets, everything) for ten intervals, as a long GC pause or a stuck sync call would.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, interval * 10);
      const stallEnd = Date.now();
      // The run for the stalled slot, then two on the check's own phase.
      await waitFor(() => runs().length >= runsBefore + 3, 5000, 5);
      const fires = scheduler.latencyPercentiles().samples - firesBefore;
      const elapsed = Date.now() - stallEnd;
      // Slots are an interval apart and each fires after the one before: besides the stalled slot, no more fires
      // than slots in the time that passed. Catching up would have fired the ten missed slots back to back.
      expect(fires).toBeGreaterThanOrEqual(3);
      expect(fires).toBeLessThanOrEqual(Math.floor(elapsed / interval) + 2);
    } finally {
      scheduler.stop();
      await monitor.close();
    }
  });

  it('gives cron checks a stable jitter, so one cron line does not fire them all in one millisecond', async () => {
    expect(cronJitter('a', [new Date(0), new Date(1000), new Date(2000)])).toBe(
      cronJitter('a', [new Date(5000), new Date(6000)]),
    );
    // Bounded by half the schedule's shortest gap, and by 1 s.
    for (let i = 0; i < 50; i++)
      expect(cronJitter(`c${i}`, [new Date(0), new Date(200), new Date(60_000)])).toBeLessThan(100);
    for (let i = 0; i < 50; i++) expect(cronJitter(`c${i}`, [new Date(0), new Date(3_600_000)])).toBeLessThan(1000);

    reset();
    const { monitor, scheduler } = startCronChecks('k', '* * * * * *');
    await waitFor(() => [...starts.keys()].filter((p) => p.startsWith('/k')).length >= 20, 8000);
    const planned = monitor.checks.map((c) => (scheduler.nextRunAt(c.name) ?? 0) % 1000);
    scheduler.stop();
    await monitor.close();
    const firsts = [...starts.entries()].filter(([p]) => p.startsWith('/k')).map(([, l]) => (l[0] ?? 0) % 1000);
    expect(new Set(planned).size).toBeGreaterThan(15);
    expect(Math.max(...planned) - Math.min(...planned)).toBeGreaterThan(300);
    // And they really start apart (without jitter all twenty start within a few milliseconds).
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(150);
  });

  it("reads a cron line's next runs for its jitter only when two can fall within a minute", async () => {
    expect(['* * * * * *', '*/5 * * * * *', '0,30 * * * * *', '0-10 0 0 1 1 *'].map(matchesWithinAMinute)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['0 0 1 1 *', '*/5 * * * *', '30 0 0 1 1 *', ' 0   0 * * * '].map(matchesWithinAMinute)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    // A yearly line still spreads its checks over the second after its time, as half its gap (a year) allows.
    const { monitor, scheduler } = startCronChecks('y', '0 0 1 1 *');
    const planned = monitor.checks.map((c) => scheduler.nextRunAt(c.name) ?? 0);
    scheduler.stop();
    await monitor.close();
    // node-cron reads the line in local time.
    const nextNewYear = new Date(new Date().getFullYear() + 1, 0, 1).getTime();
    for (const [i, at] of planned.entries()) expect(at - nextNewYear).toBe(stableHash(`y-${i}`) % 1000);
  });
});
