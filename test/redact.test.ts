import { afterEach, describe, expect, it } from 'vitest';
import { Redactor, urlSecrets } from '../src/util/redact.js';
import { captureLogger, flipTarget, receiver } from './helpers/alerts.js';
import { startForgewatch, waitFor } from './helpers/service.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('redaction replaces whole secret values', () => {
  it('keeps words that merely contain a short secret, and replaces the secret where it stands alone', () => {
    const r = new Redactor(urlSecrets('http://127.0.0.1:8080/hook'));
    expect(r.text('webhook of channel hook answered HTTP 500: no route for POST /hook')).toBe(
      'webhook of channel hook answered HTTP 500: no route for POST [redacted]',
    );
  });

  it('replaces a long secret wherever it occurs, also inside other text', () => {
    const r = new Redactor(['sk_live_0123456789abcdef']);
    expect(r.text('auth=Bearersk_live_0123456789abcdefX')).toBe('auth=Bearer[redacted]X');
  });

  it('redacts strings and keys inside nested values, leaving other values alone', () => {
    const r = new Redactor(['s3cr3t-value']);
    expect(r.value({ a: ['x s3cr3t-value y', 3, null], 's3cr3t-value': true })).toEqual({
      a: ['x [redacted] y', 3, null],
      '[redacted]': true,
    });
  });
});

describe('a channel whose name is also its URL path', () => {
  it('names the channel in delivery errors instead of blanking it out', async () => {
    const target = await flipTarget();
    const hook = await receiver();
    hook.respond = (r) =>
      hook.received.length === 1 ? { status: 500, body: `no route for ${r.path}` } : { status: 200 };
    const log = captureLogger();
    cleanups.push(
      () => target.close(),
      () => hook.close(),
    );
    const fw = await startForgewatch(
      `defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: api, type: http, url: "${target.url}/api" }
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/hook" }
  group_wait: 50ms
  retry: { initial: 100ms, max: 300ms }
`,
      { logger: log.logger },
    );
    cleanups.push(() => fw.close());
    await waitFor(() => fw.service.monitor.view('api')?.state.status === 'ok');
    target.set('/api', 502);
    await waitFor(() => hook.accepted.length === 1);
    const failures = log.events('alert_retry');
    expect(failures.length).toBeGreaterThan(0);
    expect(String(failures[0]?.error)).toBe('webhook of channel hook answered HTTP 500: no route for [redacted]');
  });
});
