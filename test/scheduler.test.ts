import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, stableHash } from '../src/checks/scheduler.js';
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

describe('scheduler', () => {
  it('never overlaps a check with itself: a slow run makes the next ticks skip', async () => {
    reset();
    const monitor = monitorFor(`checks:\n  - name: slow\n    type: http\n    url: ${target.url}/slow?ms=700\n    interval: 100ms\n`);
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
    const checks = Array.from({ length: 6 }, (_, i) => `  - name: c${i}\n    type: http\n    url: ${target.url}/c${i}?ms=200\n`).join('');
    const monitor = monitorFor(`max_concurrency: 2\nchecks:\n${checks}`);
    const records = await Promise.all(monitor.checks.map((c) => monitor.run(c.name)));
    await monitor.close();
    expect(records.every((r) => r.result.status === 'ok')).toBe(true);
    expect(maxInFlight).toBe(2);
  });

  it('releases the slot of a hanging target at its timeout', async () => {
    reset();
    const monitor = monitorFor(`max_concurrency: 1\nchecks:\n  - name: hang\n    type: http\n    url: ${target.url}/hang\n    timeout: 300ms\n  - name: quick\n    type: http\n    url: ${target.url}/quick\n`);
    const [hang, quick] = await Promise.all([monitor.run('hang'), monitor.run('quick')]);
    await monitor.close();
    expect(hang.result.reason).toBe('timeout after 300ms waiting for the first byte');
    expect(quick.result.status).toBe('ok');
    // quick could only start once hang gave its slot back
    expect((starts.get('/quick')?.[0] ?? 0) - (starts.get('/hang')?.[0] ?? 0)).toBeGreaterThanOrEqual(250);
  });

  it('spreads checks with one interval by a stable per-check offset', async () => {
    reset();
    const checks = Array.from({ length: 40 }, (_, i) => `  - name: spread-${i}\n    type: http\n    url: ${target.url}/s${i}\n    interval: 1s\n`).join('');
    const monitor = monitorFor(`checks:\n${checks}`);
    const scheduler = new Scheduler(monitor);
    scheduler.start();
    await waitFor(() => starts.size >= 40, 5000);
    scheduler.stop();
    await monitor.close();
    const firsts = [...starts.values()].map((l) => l[0] ?? 0);
    const distinctMs = new Set(firsts).size;
    expect(distinctMs).toBeGreaterThan(20);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(300);
    expect(stableHash('spread-1')).toBe(stableHash('spread-1'));
    expect(stableHash('spread-1')).not.toBe(stableHash('spread-2'));
  });

  it('runs cron schedules through node-cron', async () => {
    reset();
    const monitor = monitorFor(`checks:\n  - name: cron\n    type: http\n    url: ${target.url}/cron\n    schedule: "* * * * * *"\n`);
    const scheduler = new Scheduler(monitor);
    scheduler.start();
    await waitFor(() => (starts.get('/cron')?.length ?? 0) >= 2, 5000);
    scheduler.stop();
    await monitor.close();
    const [a = 0, b = 0] = starts.get('/cron') ?? [];
    expect(b - a).toBeGreaterThan(500);
  });
});
