/**
 * A failing check whose failure changes class is announced again ("[STILL FAILING] api: now …"), through the
 * same outbox as every message; one whose numbers change (502 then 503) is not. Real targets, a real receiver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { receiver, type Receiver } from './helpers/alerts.js';
import { createLeaf, createRootCa, serveHttps, writePem } from './helpers/pki.js';
import { httpServer } from './helpers/servers.js';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface HookEvent {
  kind: string;
  check: string;
  status: string;
  reason: string;
  previous_reason?: string;
  title: string;
}
interface HookPayload {
  idempotency_key: string;
  title: string;
  text: string;
  events: HookEvent[];
}

const payloads = (r: Receiver) => r.accepted.map((x) => x.json as HookPayload);

/** An HTTP target answering `status`, or (mode reset) dropping each connection before it answers. */
async function switchableTarget() {
  const mode = { status: 502, reset: false };
  const started = await httpServer((req, res) => {
    if (mode.reset) req.socket.destroy();
    else res.writeHead(mode.status).end('target\n');
  });
  let closed = false;
  cleanups.push(() => (closed ? Promise.resolve() : started.close()));
  return {
    ...started,
    mode,
    stop: async () => {
      closed = true;
      await started.close();
    },
  };
}

async function start(checkYaml: string, alertsYaml = ''): Promise<{ fw: RunningForgewatch; hook: Receiver }> {
  const hook = await receiver();
  cleanups.push(() => hook.close());
  const fw = await startForgewatch(`defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - ${checkYaml}
alerts:
  group_wait: 200ms
  retry: { initial: 100ms, max: 300ms }
${alertsYaml}  channels:
    - { name: hook, type: webhook, url: "${hook.url}/hook" }
`);
  cleanups.push(() => fw.close());
  return { fw, hook };
}

/** Waits until `n` results of the check after this call satisfied `test`: later runs, not a sleep. */
async function runsSeen(fw: RunningForgewatch, name: string, test: (reason: string) => boolean, n = 3) {
  let seen = 0;
  let last = fw.service.monitor.view(name)?.last?.at;
  await waitFor(
    () => {
      const rec = fw.service.monitor.view(name)?.last;
      if (rec && rec.at !== last) {
        last = rec.at;
        if (test(rec.result.reason)) seen += 1;
      }
      return seen >= n;
    },
    10_000,
    10,
  );
}

describe('a failing check whose failure changes class', () => {
  it('sends nothing for 502 then 503, and "[STILL FAILING] api: now connect ECONNREFUSED …" once the target stops', async () => {
    const target = await switchableTarget();
    const { fw, hook } = await start(`{ name: api, type: http, url: "${target.url}/health", expect: { status: 200 } }`);
    const firing = await waitFor(() => payloads(hook)[0]);
    expect(firing.events.map((e) => `${e.kind}:${e.reason}`)).toEqual(['firing:status 502, expected 200']);

    target.mode.status = 503;
    await runsSeen(fw, 'api', (r) => r === 'status 503, expected 200');
    expect(fw.service.monitor.view('api')?.last?.result.code).toBe('http_status');

    await target.stop();
    const update = await waitFor(() => payloads(hook)[1]);
    // The second message is the change: the 503s before it sent nothing of their own.
    expect(update.title).toBe(`[STILL FAILING] api: now connect ECONNREFUSED 127.0.0.1:${target.port}`);
    expect(update.events).toHaveLength(1);
    expect(update.events[0]).toMatchObject({
      kind: 'changed',
      check: 'api',
      status: 'fail',
      reason: `connect ECONNREFUSED 127.0.0.1:${target.port}`,
      previous_reason: 'status 502, expected 200',
      title: update.title,
    });
    expect(update.text).toContain('Before: status 502, expected 200');
    expect(update.idempotency_key).not.toBe(firing.idempotency_key);
    expect(fw.service.monitor.view('api')?.last?.result.code).toBe('connect_refused');
    // Further refused runs are the same class: the incident is back to notified, and nothing else went out.
    await runsSeen(fw, 'api', (r) => r.startsWith('connect ECONNREFUSED'));
    expect(hook.accepted).toHaveLength(2);
  });

  it('stays quiet about a change with notify_on_change: false, and still announces the recovery', async () => {
    const target = await switchableTarget();
    const { fw, hook } = await start(
      `{ name: api, type: http, url: "${target.url}/health", expect: { status: 200 } }`,
      '  notify_on_change: false\n',
    );
    await waitFor(() => payloads(hook)[0]);

    target.mode.reset = true;
    await runsSeen(fw, 'api', (r) => r.startsWith('connection reset'));
    expect(fw.service.monitor.view('api')?.last?.result.code).toBe('connection_reset');
    target.mode.reset = false;
    target.mode.status = 200;
    await waitFor(() => payloads(hook)[1]);
    expect(payloads(hook).map((p) => p.events.map((e) => `${e.kind}:${e.check}`))).toEqual([
      ['firing:api'],
      ['resolved:api'],
    ]);
  });

  it('tells a TLS check that goes from a name not covered to serving another certificate than its file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forgewatch-change-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const ca = await createRootCa('Change Test CA');
    const wrongName = await createLeaf(ca, { sans: ['other.test'] });
    const renewed = await createLeaf(ca, { sans: ['shop.test'] });
    const caFile = writePem(dir, 'ca.pem', ca.cert);
    // The file on disk is the certificate first served: the second one served differs from it.
    const certFile = writePem(dir, 'cert.pem', wrongName.cert);
    const server = await serveHttps(wrongName.cert, wrongName.key);
    cleanups.push(() => server.close());
    const { hook } = await start(
      `{ name: cert-shop, type: tls, host: 127.0.0.1, port: ${server.port}, server_name: shop.test, ca_file: '${caFile}', cert_file: '${certFile}' }`,
    );
    const firing = await waitFor(() => payloads(hook)[0]);
    expect(firing.events[0]?.reason).toMatch(/^shop\.test is not in the SANs \[other\.test\]/);

    server.server.setSecureContext({ cert: renewed.cert, key: renewed.key });
    const update = await waitFor(() => payloads(hook)[1]);
    expect(update.title).toMatch(
      /^\[STILL FAILING\] cert-shop: now the server serves serial [0-9A-F]+ .* but .*cert\.pem holds serial/,
    );
    expect(update.events[0]).toMatchObject({ kind: 'changed', previous_reason: firing.events[0]?.reason });
  });
});
