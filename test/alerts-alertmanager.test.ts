import { beforeAll, describe, expect, it } from 'vitest';
import { flipTarget, type FlipTarget } from './helpers/alerts.js';
import { startAlertmanager, type RunningAlertmanager } from './helpers/alertmanager.js';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';

let am: RunningAlertmanager;
let target: FlipTarget;
let fw: RunningForgewatch;

beforeAll(async () => {
  am = await startAlertmanager();
  target = await flipTarget();
  fw = await startForgewatch(`server:
  public_url: https://status.example.com/
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: api-public, type: http, url: "${target.url}/api", expect: { status: 200 }, labels: { severity: page, team: web } }
  - { name: keepalive, type: http, url: "${target.url}/keepalive", expect: { status: 200 } }
alerts:
  channels:
    # Resent every minute: within the test, an alert can only go away because forgewatch resolved it.
    - { name: am, type: alertmanager, url: "${am.url}", resend_every: 1m }
    - { name: am-fast, type: alertmanager, url: "${am.url}", resend_every: 300ms }
  routes:
    - { match: { check: keepalive }, channels: [am-fast] }
    - { match: { check: api-* }, channels: [am] }
  group_wait: 50ms
`);
  return async () => {
    await fw.close();
    await target.close();
    await am.stop();
  };
});

const alertsOf = async (check: string) => (await am.alerts()).filter((a) => a.labels.check === check);

describe('a real Alertmanager', () => {
  it('shows a firing alert and resolves it with endsAt', async () => {
    await waitFor(() => fw.service.monitor.view('api-public')?.state.status === 'ok');
    target.set('/api', 502);
    const firing = await waitFor(async () => (await alertsOf('api-public'))[0]);
    expect(firing?.status.state).toBe('active');
    expect(firing?.labels).toMatchObject({
      alertname: 'ForgewatchCheckFailing',
      check: 'api-public',
      type: 'http',
      severity: 'page',
      team: 'web',
    });
    expect(firing?.annotations.summary).toBe('[FAIL] api-public: status 502, expected 200');
    expect(firing?.annotations.description).toBe('status 502, expected 200');
    expect(firing?.annotations.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(firing?.startsAt ?? '')).toBe(
      Date.parse(fw.service.monitor.view('api-public')?.state.since ?? ''),
    );

    expect(Date.parse(firing?.endsAt ?? '') - Date.now()).toBeGreaterThan(60_000);

    target.set('/api', 200);
    await waitFor(async () => (await alertsOf('api-public')).length === 0, 10_000);
  });

  it('sends a firing alert again while it fires, moving endsAt forward', async () => {
    await waitFor(() => fw.service.monitor.view('keepalive')?.state.status === 'ok');
    target.set('/keepalive', 503);
    const first = await waitFor(async () => (await alertsOf('keepalive'))[0]);
    const firstEnd = Date.parse(first?.endsAt ?? '');
    await waitFor(async () => Date.parse((await alertsOf('keepalive'))[0]?.endsAt ?? '') > firstEnd, 5000);
    expect((await alertsOf('keepalive'))[0]?.status.state).toBe('active');
  });
});
