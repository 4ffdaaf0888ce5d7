/** Per-check text kept as bytes and copied into chunks: the joined chunks are the exposition, byte for byte. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { CheckView, RunRecord } from '../src/checks/monitor.js';
import { CheckSeries, type SeriesBody } from '../src/metrics/check-series.js';
import type { Observation } from '../src/probes/types.js';
import { promtool } from './helpers/prometheus.js';

const SUBJECT = { name: 'forgewatch_test_subject', help: 'A label beyond ASCII.', labelNames: ['subject'] };

function checks(count: number) {
  const lines = Array.from(
    { length: count },
    (_, i) => `  - { name: c${i}, type: http, url: "http://127.0.0.1/${i}" }`,
  );
  return parseConfig(`checks:\n${lines.join('\n')}\n`, 'test.yaml').checks;
}

function facts(check: CheckView['check'], subject: string, value = 1) {
  const state = { status: 'ok' as const, since: '2026-01-01T00:00:00.000Z' };
  const observations: Observation[] = [{ metric: SUBJECT.name, labels: { subject }, value }];
  const last: RunRecord = {
    check,
    state,
    at: '2026-01-01T00:00:01.000Z',
    result: { status: 'ok', reason: 'fine', timings: { total: 0.25 }, details: {}, observations },
  };
  return {
    view: { check, state, last, running: false },
    runs: { type: 'http', counts: { ok: 1, warn: 0, fail: 0 } },
    observations,
  };
}

const immediately = () => Promise.resolve();

function joined(body: SeriesBody): { bytes: Buffer; chunks: number } {
  const chunks = [...body.chunks()];
  return { bytes: Buffer.concat(chunks), chunks: chunks.length };
}

describe('per-check series as bytes', () => {
  it('keeps byte offsets right for label values beyond ASCII, and the text passes promtool', async () => {
    const [a, b] = checks(2);
    const series = new CheckSeries([SUBJECT], 'fra');
    const body = await series.render(
      [facts(a as CheckView['check'], 'CN=Zürich "Ost" ✓'), facts(b as CheckView['check'], 'CN=plain')],
      immediately,
    );
    const { bytes } = joined(body);
    expect(bytes.length).toBe(body.byteLength);
    const text = bytes.toString('utf8');
    expect(text).toContain('forgewatch_test_subject{check="c0",subject="CN=Zürich \\"Ost\\" ✓",location="fra"} 1\n');
    expect(text).toContain('forgewatch_test_subject{check="c1",subject="CN=plain",location="fra"} 1\n');
    // Each family's lines follow its own HELP and TYPE, both checks' lines together.
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(types.map((l) => l.split(' ')[2])).toEqual([
      'forgewatch_check_up',
      'forgewatch_check_status',
      'forgewatch_check_duration_seconds',
      'forgewatch_check_runs_total',
      'forgewatch_check_last_run_timestamp_seconds',
      'forgewatch_test_subject',
    ]);
    expect(text.indexOf('forgewatch_check_up{check="c1"')).toBeLessThan(text.indexOf('# HELP forgewatch_check_status'));
    const lint = await promtool(['check', 'metrics'], { input: text });
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
  });

  it('spreads thousands of checks over several chunks without losing or repeating a line', async () => {
    const all = checks(3000);
    const series = new CheckSeries([SUBJECT]);
    const body = await series.render(
      all.map((c, i) => facts(c, `s${i}`, i)),
      immediately,
    );
    const { bytes, chunks } = joined(body);
    expect(chunks).toBeGreaterThan(1);
    expect(bytes.length).toBe(body.byteLength);
    const subjects = bytes
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('forgewatch_test_subject{'));
    expect(subjects).toEqual(all.map((c, i) => `forgewatch_test_subject{check="${c.name}",subject="s${i}"} ${i}`));
  });

  it('writes a check again once it changed, and the chunks of an earlier scrape keep what they had', async () => {
    const [a] = checks(1);
    const check = a as CheckView['check'];
    const series = new CheckSeries([SUBJECT]);
    const before = await series.render([facts(check, 'old')], immediately);
    series.changed(check.name);
    const after = await series.render([facts(check, 'new', 2)], immediately);
    expect(joined(after).bytes.toString()).toContain('forgewatch_test_subject{check="c0",subject="new"} 2\n');
    expect(joined(before).bytes.toString()).toContain('forgewatch_test_subject{check="c0",subject="old"} 1\n');
  });
});
