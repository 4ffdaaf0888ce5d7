/** The per-check series are written without prom-client: their text must still be valid exposition. */
import { describe, expect, it } from 'vitest';
import { renderFamily } from '../src/metrics/exposition.js';
import { promtool } from './helpers/prometheus.js';

describe('exposition of per-check families', () => {
  it('escapes label values and help, formats special numbers, and passes promtool', async () => {
    const text = renderFamily({
      name: 'forgewatch_tls_cert_info',
      help: 'Certificate facts\\ as labels',
      type: 'gauge',
      labelNames: ['check', 'subject'],
      samples: () => [
        { values: ['api', 'CN=a "quoted" \\ name\nsecond line'], value: 1 },
        { values: ['web', 'CN=web'], value: NaN },
        { values: ['far'], value: Infinity },
      ],
    });
    expect(text).toBe(
      [
        '# HELP forgewatch_tls_cert_info Certificate facts\\\\ as labels',
        '# TYPE forgewatch_tls_cert_info gauge',
        'forgewatch_tls_cert_info{check="api",subject="CN=a \\"quoted\\" \\\\ name\\nsecond line"} 1',
        'forgewatch_tls_cert_info{check="web",subject="CN=web"} NaN',
        'forgewatch_tls_cert_info{check="far",subject=""} +Inf',
        '',
      ].join('\n'),
    );
    const lint = await promtool(['check', 'metrics'], { input: text });
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
  });

  it('writes HELP and TYPE alone for a family without samples, and counters as counters', () => {
    expect(
      renderFamily({
        name: 'forgewatch_check_runs_total',
        help: 'Runs.',
        type: 'counter',
        labelNames: ['check'],
        samples: () => [],
      }),
    ).toBe('# HELP forgewatch_check_runs_total Runs.\n# TYPE forgewatch_check_runs_total counter\n');
  });
});
