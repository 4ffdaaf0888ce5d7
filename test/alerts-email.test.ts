import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flipTarget, type FlipTarget } from './helpers/alerts.js';
import { startForgewatch, tempDir, waitFor, type RunningForgewatch } from './helpers/service.js';
import { freePort } from './helpers/servers.js';
import { localhostCert, startSmtp, type TestCert } from './helpers/smtp.js';

const PASSWORD = 'smtp-s3cret-pw-4711';
let cert: TestCert;
let certDir: { dir: string; cleanup: () => Promise<void> };
let caFile: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cert = await localhostCert();
  certDir = tempDir();
  caFile = path.join(certDir.dir, 'ca.pem');
  writeFileSync(caFile, cert.cert);
  return () => certDir.cleanup();
});

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function config(target: FlipTarget, smtpPort: number, opts: { password?: string; secure?: string } = {}): string {
  return `server:
  public_url: https://status.example.com/
defaults: { interval: 150ms, failure_threshold: 1 }
checks:
  - name: api-public
    type: http
    url: ${target.url}/api
    expect: { status: 200 }
alerts:
  channels:
    - name: ops-mail
      type: email
      smtp: { host: localhost, port: ${smtpPort}, secure: ${opts.secure ?? 'starttls'}, user: alerts, password: "${opts.password ?? '${SMTP_PASSWORD}'}", ca_file: ${caFile} }
      from: forgewatch@example.com
      to: [ops@example.com]
  group_wait: 100ms
  retry: { initial: 100ms, max: 300ms }
`;
}

async function start(yaml: string): Promise<RunningForgewatch> {
  process.env.SMTP_PASSWORD = PASSWORD;
  const fw = await startForgewatch(yaml);
  cleanups.push(() => fw.close());
  return fw;
}

async function metric(fw: RunningForgewatch, line: RegExp): Promise<number> {
  const text = await (await fetch(`${fw.url}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : 0;
}

describe('email alerts through a real SMTP server', () => {
  it('sends a regress and a recover mail over STARTTLS with login, text and HTML parts', async () => {
    const smtp = await startSmtp({ tls: cert, auth: { user: 'alerts', password: PASSWORD } });
    cleanups.push(() => smtp.stop());
    const target = await flipTarget();
    cleanups.push(() => target.close());
    const fw = await start(config(target, smtp.port));
    await waitFor(() => fw.service.monitor.view('api-public')?.state.status === 'ok');
    target.set('/api', 502);
    const down = await waitFor(() => smtp.messages[0]);
    expect(down.subject).toBe('[FAIL] api-public: status 502, expected 200');
    expect(down.text).toContain('Reason: status 502, expected 200');
    expect(down.text).toMatch(/Hint: +The proxy \(e\.g\. nginx\) is up but its upstream is not answering/);
    expect(down.text).toMatch(/Status: fail since \d{4}-\d\d-\d\dT/);
    expect(down.text).toContain('status_code: 502');
    expect(down.text).toContain('Status page: https://status.example.com/');
    expect(down.html).toContain('<h2');
    expect(down.html).toContain('status 502, expected 200');
    expect(down.html).toContain('href="https://status.example.com/"');
    expect(down.messageId).toMatch(/@forgewatch>$/);

    target.set('/api', 200);
    const recovered = await waitFor(() => smtp.messages[1]);
    expect(recovered.subject).toMatch(/^\[RECOVERED\] api-public after \d+(ms|s)/);
    expect(recovered.text).toContain('ok again');
    expect(recovered.html).toContain('[RECOVERED] api-public');
    expect(smtp.tlsSessions).toBe(2);
    expect(smtp.messages).toHaveLength(2);
    expect(await metric(fw, /^forgewatch_alerts_sent_total\{channel="ops-mail",result="ok"\}/)).toBe(2);
    expect(await metric(fw, /^forgewatch_alert_delivery_seconds_count\{channel="ops-mail"\}/)).toBe(2);
  });

  it('keeps the message queued with a clear error when the SMTP password is wrong', async () => {
    const smtp = await startSmtp({ tls: cert, auth: { user: 'alerts', password: PASSWORD } });
    cleanups.push(() => smtp.stop());
    const target = await flipTarget();
    cleanups.push(() => target.close());
    target.set('/api', 503);
    const fw = await start(config(target, smtp.port, { password: 'wrong-password-1234' }));
    await waitFor(
      async () => (await metric(fw, /^forgewatch_alerts_sent_total\{channel="ops-mail",result="error"\}/)) >= 2,
    );
    expect(smtp.messages).toHaveLength(0);
    expect(smtp.failedLogins).toBeGreaterThanOrEqual(2);
    expect(await metric(fw, /^forgewatch_alert_outbox_pending\{channel="ops-mail"\}/)).toBe(1);
    const outbox = path.join(fw.dir, '.forgewatch', 'outbox');
    const files = readdirSync(outbox).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const entry = JSON.parse(readFileSync(path.join(outbox, files[0] as string), 'utf8')) as {
      last_error: string;
      attempts: number;
    };
    expect(entry.last_error).toMatch(/^SMTP login to localhost:\d+ failed .*check smtp\.user and smtp\.password/);
    expect(entry.attempts).toBeGreaterThanOrEqual(1);
  });

  it('delivers every message exactly once after the SMTP server was down for several retries', async () => {
    const port = await freePort();
    const smtp = await startSmtp({ port });
    await smtp.stop();
    cleanups.push(() => smtp.stop());
    const target = await flipTarget();
    cleanups.push(() => target.close());
    const fw = await start(config(target, port, { secure: 'none' }).replace(/ user: alerts, password: "[^"]*",/, ''));
    await waitFor(() => fw.service.monitor.view('api-public')?.state.status === 'ok');
    target.set('/api', 502);
    await waitFor(() => fw.service.monitor.view('api-public')?.state.status === 'fail');
    target.set('/api', 200);
    await waitFor(
      async () => (await metric(fw, /^forgewatch_alerts_sent_total\{channel="ops-mail",result="error"\}/)) >= 4,
      15_000,
    );
    expect(await metric(fw, /^forgewatch_alert_outbox_pending\{channel="ops-mail"\}/)).toBe(2);
    await smtp.start();
    await waitFor(() => smtp.messages.length >= 2, 15_000);
    await waitFor(async () => (await metric(fw, /^forgewatch_alert_outbox_pending\{channel="ops-mail"\}/)) === 0);
    // A few more retry periods: nothing arrives twice.
    await new Promise((r) => setTimeout(r, 800));
    expect(smtp.messages.map((m) => m.subject?.replace(/after .*/, 'after'))).toEqual([
      '[FAIL] api-public: status 502, expected 200',
      '[RECOVERED] api-public after',
    ]);
    expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(2);
  });
});
