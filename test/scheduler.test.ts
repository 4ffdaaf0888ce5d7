import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  cronJitter,
  matchesWithinAMinute,
  nextSlot,
  Scheduler,
  stableHash,
  wakeStep,
} from '../src/checks/scheduler.js';
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

  it('picks a wake-up step of a twentieth of the interval, at most 200 ms, holding about 40 runs', () => {
    expect(wakeStep(5000)).toBe(200);
    expect(wakeStep(60_000)).toBe(200);
    expect(wakeStep(2000)).toBe(100);
    expect(wakeStep(1000)).toBe(50);
    expect(wakeStep(600)).toBe(25);
    expect(wakeStep(150)).toBe(5);
    expect(wakeStep(10)).toBe(1);
    expect(wakeStep(0)).toBe(200); // a cron check
    // Runs per millisecond: 10,000 checks every 60 s keep 200 ms; every 10 s, 25 ms; 500 first runs a second, 50 ms.
    expect(wakeStep(60_000, 10_000 / 60_000)).toBe(200);
    expect(wakeStep(10_000, 10_000 / 10_000)).toBe(25);
    expect(wakeStep(86_400_000, 0.5)).toBe(50);
    expect(wakeStep(0, 0.5)).toBe(50);
    // 1,000 checks every 5 s: a sum of a thousand 1/5000 is a little over 0.2, yet exactly 40 runs per 200 ms.
    let runsPerMs = 0;
    for (let i = 0; i < 1000; i++) runsPerMs += 1 / 5000;
    expect(wakeStep(5000, runsPerMs)).toBe(200);
  });

  it('starts the dense first pass of 4,000 checks on 50 ms steps, then their later runs on 200 ms steps', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      now: Date.parse('2026-03-01T12:00:00.000Z'),
    });
    try {
      const checks = Array.from(
        { length: 4000 },
        (_, i) => `  - { name: d${i}, type: http, url: "${target.url}/d", interval: 60s }\n`,
      ).join('');
      const monitor = monitorFor(`checks:\n${checks}`);
      const firsts: number[] = [];
      const laters: number[] = [];
      const seen = new Set<string>();
      monitor.run = (name) => {
        (seen.has(name) ? laters : firsts).push(Date.now());
        seen.add(name);
        return Promise.resolve({} as Awaited<ReturnType<Monitor['run']>>);
      };
      const scheduler = new Scheduler(monitor);
      scheduler.start();
      vi.advanceTimersByTime(130_000);
      scheduler.stop();
      // 4,000 first runs over 8 s, 500 a second: on 50 ms steps, so about 25 at a time rather than 100.
      expect(firsts).toHaveLength(4000);
      expect(firsts.every((t) => t % 50 === 0)).toBe(true);
      expect(firsts.filter((t) => t % 200 !== 0).length).toBeGreaterThan(2000);
      const perStep = new Map<number, number>();
      for (const t of firsts) perStep.set(t, (perStep.get(t) ?? 0) + 1);
      expect(Math.max(...perStep.values())).toBeLessThan(60);
      // Later runs, 67 a second: on 200 ms steps.
      expect(laters.length).toBeGreaterThan(4000);
      expect(laters.every((t) => t % 200 === 0)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("starts each run at its grid step after its plan: runs due close together share a wake-up, and a check's interval does not drift", () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      now: Date.parse('2026-03-01T12:00:00.000Z'),
    });
    try {
      const intervals = { fast: '1s', slow: '5s', odd: '4990ms', tiny: '150ms' };
      const steps: Record<string, number> = { fast: 50, slow: 200, odd: 200, tiny: 5 };
      const checks = Object.entries(intervals).flatMap(([kind, interval]) =>
        Array.from(
          { length: 10 },
          (_, i) =>
            `  - name: ${kind}-${i}\n    type: http\n    url: ${target.url}/${kind}\n    interval: ${interval}\n`,
        ),
      );
      const monitor = monitorFor(`checks:\n${checks.join('')}`);
      const scheduler = new Scheduler(monitor);
      const plans = new Map<string, number[]>();
      const fired = new Map<string, number[]>();
      // The scheduler's side only: what a run would do is not under test here.
      monitor.run = (name) => {
        fired.get(name)?.push(Date.now());
        plans.get(name)?.push(scheduler.nextRunAt(name) ?? NaN); // the next run's plan, made before this one starts
        return Promise.resolve({} as Awaited<ReturnType<Monitor['run']>>);
      };
      scheduler.start();
      for (const c of monitor.checks) {
        plans.set(c.name, [scheduler.nextRunAt(c.name) ?? NaN]);
        fired.set(c.name, []);
      }
      vi.advanceTimersByTime(30_000);
      scheduler.stop();
      for (const [name, starts] of fired) {
        const step = steps[name.split('-')[0] as string] as number;
        const planned = plans.get(name) ?? [];
        expect(starts.length).toBeGreaterThan(4);
        starts.forEach((at, k) => {
          const plan = planned[k] as number;
          expect(at).toBe(Math.ceil(plan / step) * step);
          expect(at - plan).toBeLessThan(step);
        });
        // After the quick first run, runs are planned exactly one interval apart, whatever the step.
        if (name.startsWith('odd-'))
          for (let k = 2; k < starts.length; k++) expect(planned[k]! - planned[k - 1]!).toBe(4990);
      }
      // Ten 5 s checks planned at ten different milliseconds start on steps of 200 ms, so in fewer wake-ups.
      const slowFirst = [...fired].filter(([n]) => n.startsWith('slow-')).map(([, s]) => s[0]!);
      expect(slowFirst.every((t) => t % 200 === 0)).toBe(true);
      const firstPlans = [...plans].filter(([n]) => n.startsWith('slow-')).map(([, p]) => p[0]!);
      expect(new Set(firstPlans).size).toBe(10);
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
