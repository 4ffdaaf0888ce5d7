import { describe, expect, it } from 'vitest';
import { Monitor } from '../src/checks/monitor.js';
import { parseConfig } from '../src/config/load.js';
import { History, HISTORY_WINDOW_MS, MAX_POINTS } from '../src/server/history.js';
import { sparkline } from '../src/server/sparkline.js';
import { httpServer } from './helpers/servers.js';

describe('History', () => {
  it('keeps memory per check bounded and only the last 24 hours', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const history = new History(() => now);
    // A check every second for two days.
    for (let i = 0; i < 2 * 86_400; i++, now += 1000) history.add('fast', now, i % 100, i === 172_000 ? 'fail' : 'ok');
    const points = history.points('fast');
    expect(points.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(points[0]?.t).toBeGreaterThanOrEqual(now - HISTORY_WINDOW_MS);
    // Merged points keep the worst status, so a failure is not averaged away.
    expect(points.some((p) => p.status === 'fail')).toBe(true);
    const runs = points.reduce((n, p) => n + p.runs, 0);
    expect(runs).toBeGreaterThan(80_000);
    expect(runs).toBeLessThanOrEqual(86_400);
    // Typed arrays of at most MAX_POINTS + 1 entries, 17 bytes each.
    expect(history.bytes).toBeLessThanOrEqual((MAX_POINTS + 1) * 17);
  });

  it('draws at most 80 points however long the history', () => {
    const history = new History(() => 1_000_000);
    for (let i = 0; i < MAX_POINTS; i++) history.add('c', 1_000 + i, i, i === 7 ? 'fail' : 'ok');
    const svg = sparkline(history.points('c'));
    const drawn = /points="([^"]+)"/.exec(svg)?.[1]?.split(' ') ?? [];
    expect(drawn.length).toBeGreaterThan(40);
    expect(drawn.length).toBeLessThanOrEqual(80);
    expect(svg.match(/class="fail"/g)).toHaveLength(1);
    expect(svg).toContain(`over ${MAX_POINTS} runs`);
  });

  it('scales the sparkline from zero, so 4 ms against 5 ms is a small step', () => {
    const history = new History(() => 1_000_000);
    for (let i = 0; i < 20; i++) history.add('c', 1_000 + i, i % 2 === 0 ? 4 : 5, 'ok');
    const ys = (/points="([^"]+)"/.exec(sparkline(history.points('c')))?.[1] ?? '')
      .split(' ')
      .map((xy) => Number(xy.split(',')[1]));
    expect(ys).toHaveLength(20);
    // 36 px high with 3 px margins: 5 ms is at the top, 4 ms a fifth of 30 px below it, far from the bottom.
    expect(Math.min(...ys)).toBeCloseTo(3, 5);
    expect(Math.max(...ys)).toBeCloseTo(9, 5);
    const flat = new History(() => 1_000_000);
    for (let i = 0; i < 3; i++) flat.add('z', 1_000 + i, 0, 'ok');
    expect(/points="([^"]+)"/.exec(sparkline(flat.points('z')))?.[1]).toBe('2.0,33.0 80.0,33.0 158.0,33.0');
  });

  it('forgets checks that a reload removed', async () => {
    const healthy = await httpServer((_req, res) => res.end('ok'));
    const yaml = (names: string[]) =>
      `checks:\n${names.map((n) => `  - { name: ${n}, type: http, url: '${healthy.url}/' }`).join('\n')}\n`;
    const monitor = new Monitor(parseConfig(yaml(['a', 'b']), 'test.yaml'));
    const history = new History().attach(monitor);
    await Promise.all([monitor.run('a'), monitor.run('b')]);
    expect(history.points('a')).toHaveLength(1);
    expect(history.size).toBe(2);
    monitor.apply(parseConfig(yaml(['a']), 'test.yaml'));
    expect(history.size).toBe(1);
    expect(history.points('b')).toEqual([]);
    expect(history.points('a')).toHaveLength(1);
    await monitor.close();
    await healthy.close();
  });
});
