import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alertScene } from './helpers/alerts.js';
import { serveProcess } from './helpers/served.js';
import { waitFor } from './helpers/service.js';

const SECRET = 'restart-hook-secret-5150';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const serve = (configFile: string) => serveProcess(configFile, cleanups, { WEBHOOK_SECRET: SECRET });

async function pending(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^forgewatch_alert_outbox_pending\{channel="hook"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

interface Payload {
  idempotency_key: string;
  events: { kind: string; check: string }[];
}

/** A check `svc` failing at once against a real target, alerting to a real webhook receiver, with `alerts` added to its channel. */
async function failingSvc(alerts: string) {
  const { dir, target, hook } = await alertScene(cleanups);
  target.set('/svc', 502);
  const stateDir = path.join(dir, 'state');
  const configFile = path.join(dir, 'forgewatch.yaml');
  writeFileSync(
    configFile,
    `state_dir: ${stateDir}
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: svc, type: http, url: "${target.url}/svc", expect: { status: 200 } }
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/in" }
${alerts}`,
  );
  return { hook, configFile, incidents: path.join(stateDir, 'incidents.json') };
}

describe('alert delivery across a killed forgewatch process', () => {
  it('sends each pending notification exactly once after SIGKILL and restart, and never logs secrets', async () => {
    const { dir, target, hook } = await alertScene(cleanups);
    hook.answer = 503;
    target.set('/early', 502);
    target.set('/late', 502);
    const configFile = path.join(dir, 'forgewatch.yaml');
    writeFileSync(
      configFile,
      `state_dir: ${path.join(dir, 'state')}
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: early, type: http, url: "${target.url}/early", expect: { status: 200 } }
  - { name: late, type: http, url: "${target.url}/late", expect: { status: 200 }, failure_threshold: 8 }
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/in", secret: "\${WEBHOOK_SECRET}" }
  group_wait: 100ms
  retry: { initial: 100ms, max: 200ms }
`,
    );
    const first = await serve(configFile);
    // Two separate notifications queued, both refused a few times, then the process dies without warning.
    const keys = () => new Set(hook.received.map((r) => (r.json as Payload).idempotency_key));
    await waitFor(
      async () => (await pending(first.url)) === 2 && keys().size === 2 && hook.received.length >= 4,
      15_000,
    );
    first.proc.kill('SIGKILL');
    await once(first.proc, 'exit');
    const refusedKeys = keys();

    hook.answer = 200;
    const second = await serve(configFile);
    await waitFor(() => hook.accepted.length >= 2, 15_000);
    await waitFor(async () => (await pending(second.url)) === 0);
    target.set('/early', 200);
    await waitFor(() => hook.accepted.length >= 3, 15_000);
    // Several retry periods and check runs later, still nothing twice.
    await new Promise((r) => setTimeout(r, 800));

    const accepted = hook.accepted.map((r) => r.json as Payload);
    expect(
      accepted
        .slice(0, 2)
        .map((p) => p.idempotency_key)
        .sort(),
    ).toEqual([...refusedKeys].sort());
    expect(new Set(accepted.map((p) => p.idempotency_key)).size).toBe(accepted.length);
    expect(accepted.flatMap((p) => p.events.map((e) => `${e.kind}:${e.check}`)).sort()).toEqual([
      'firing:early',
      'firing:late',
      'resolved:early',
    ]);

    const logs = first.output() + second.output();
    expect(logs).toContain('"event":"alert_retry"');
    expect(logs).toContain('answered HTTP 503');
    expect(logs).not.toContain(SECRET);
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).not.toContain(SECRET);
    second.proc.kill('SIGTERM');
    await once(second.proc, 'exit');
  });

  it('sends an alert that was still waiting for group_wait when the process was killed', async () => {
    const { hook, configFile, incidents } = await failingSvc('  group_wait: 1500ms\n');
    const first = await serve(configFile);
    await waitFor(() => existsSync(incidents) && readFileSync(incidents, 'utf8').includes('"due":"firing"'));
    first.proc.kill('SIGKILL');
    await once(first.proc, 'exit');
    expect(hook.received).toHaveLength(0);

    const second = await serve(configFile);
    await waitFor(() => hook.accepted.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(hook.accepted.map((r) => (r.json as Payload).events.map((e) => `${e.kind}:${e.check}`))).toEqual([
      ['firing:svc'],
    ]);
    second.proc.kill('SIGTERM');
    await once(second.proc, 'exit');
  });
});

describe('a crash between queueing a message and saving incidents.json', () => {
  it('re-creates the message with the same key, and the receiver gets it once', async () => {
    const { hook, configFile, incidents } = await failingSvc(
      '  group_wait: 1s\n  retry: { initial: 100ms, max: 200ms }\n',
    );
    hook.answer = 503;
    const first = await serve(configFile);
    await waitFor(() => existsSync(incidents) && readFileSync(incidents, 'utf8').includes('"due":"firing"'));
    const beforeQueueing = readFileSync(incidents, 'utf8');
    await waitFor(() => hook.received.length >= 2, 10_000);
    first.proc.kill('SIGKILL');
    await once(first.proc, 'exit');
    // What the disk holds when the process dies right after the outbox write, before incidents.json is saved again.
    writeFileSync(incidents, beforeQueueing);
    const queuedKey = (hook.received[0]?.json as Payload).idempotency_key;

    hook.answer = 200;
    const second = await serve(configFile);
    await waitFor(() => hook.accepted.length >= 1, 10_000);
    await waitFor(() => !readFileSync(incidents, 'utf8').includes('"due"'), 10_000);
    // Several retry periods and check runs later, still one message.
    await new Promise((r) => setTimeout(r, 800));
    expect(hook.accepted.map((r) => (r.json as Payload).idempotency_key)).toEqual([queuedKey]);
    expect(second.output()).toContain('"event":"alert_already_queued"');
    second.proc.kill('SIGTERM');
    await once(second.proc, 'exit');
  });
});
