import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flipTarget, receiver, type FlipTarget, type Receiver } from './helpers/alerts.js';
import { httpServer } from './helpers/servers.js';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';

const SLACK_PATH = '/services/T0SECRET/B0SECRET/slackTokenXyz123';
const HOOK_SECRET = 'hmac-secret-value-9876';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Setup {
  fw: RunningForgewatch;
  target: FlipTarget;
  hook: Receiver;
  slack: Receiver;
}

interface HookPayload {
  idempotency_key: string;
  channel: string;
  title: string;
  text: string;
  rate_limited: { limit: number } | null;
  events: {
    kind: string;
    check: string;
    status: string;
    reason: string;
    hint: string | null;
    since: string;
    /** When the message was made. */
    at: string;
    title: string;
    dependents: { check: string; reason: string }[];
  }[];
}

/** `checks` is YAML for the check list; every check hits the flip target at /<name>. */
async function setup(checks: string[], alerts: string, extra = '', moreChannels = ''): Promise<Setup> {
  const target = await flipTarget();
  const hook = await receiver();
  const slack = await receiver();
  cleanups.push(
    () => target.close(),
    () => hook.close(),
    () => slack.close(),
  );
  const fw = await startForgewatch(`${extra}defaults: { interval: 100ms, failure_threshold: 1 }
checks:
${checks.map((c) => `  - { ${c.replace(/^name: (\S+?)(,|$)/, (_m, n: string, rest: string) => `name: ${n}, type: http, url: "${target.url}/${n}", expect: { status: 200 }${rest}`)} }`).join('\n')}
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/forgewatch", secret: ${HOOK_SECRET} }
    - { name: chat, type: slack, webhook_url: "${slack.url}${SLACK_PATH}" }
${moreChannels}  retry: { initial: 100ms, max: 300ms }
${alerts}`);
  cleanups.push(() => fw.close());
  return { fw, target, hook, slack };
}

const payloads = (r: Receiver) => r.accepted.map((x) => x.json as HookPayload);
const settled = (fw: RunningForgewatch, name: string, status: string) =>
  waitFor(() => fw.service.monitor.view(name)?.state.status === status);

describe('Slack and webhook alerts to a real HTTP receiver', () => {
  it('sends one signed webhook and one Slack message for five checks failing within group_wait, and keeps secrets out of the API', async () => {
    const names = ['svc-a', 'svc-b', 'svc-c', 'svc-d', 'svc-e'];
    const { fw, target, hook, slack } = await setup(
      names.map((n) => `name: ${n}`),
      '  group_wait: 700ms\n',
      'server:\n  public_url: https://status.example.com/\n',
    );
    for (const n of names) await settled(fw, n, 'ok');
    for (const n of names) target.set(`/${n}`, 502);
    await waitFor(() => hook.accepted.length >= 1 && slack.accepted.length >= 1);
    // A later message to both: had the five failures gone out in more than one message, those came before it.
    target.set('/svc-a', 200);
    await waitFor(() => hook.accepted.length >= 2 && slack.accepted.length >= 2, 5000);
    expect(payloads(hook)[1]?.events.map((e) => `${e.kind}:${e.check}`)).toEqual(['resolved:svc-a']);
    expect(hook.accepted).toHaveLength(2);
    expect(slack.accepted).toHaveLength(2);

    const [msg] = hook.accepted;
    const body = payloads(hook)[0] as HookPayload;
    expect(msg?.headers['x-forgewatch-signature']).toBe(
      `sha256=${createHmac('sha256', HOOK_SECRET)
        .update(msg?.raw ?? '')
        .digest('hex')}`,
    );
    expect(msg?.headers['idempotency-key']).toBe(body.idempotency_key);
    expect(msg?.path).toBe('/forgewatch');
    expect(body.title).toBe('[FAIL] 5 failing: svc-a, svc-b, svc-c, svc-d, svc-e');
    expect(body.events.map((e) => e.check).sort()).toEqual(names);
    expect(body.events[0]).toMatchObject({ kind: 'firing', status: 'fail', reason: 'status 502, expected 200' });
    expect(body.events[0]?.hint).toMatch(/upstream/);
    expect(body.events[0]?.title).toMatch(/^\[FAIL\] svc-.: status 502, expected 200$/);

    const sl = slack.accepted[0]?.json as {
      text: string;
      blocks: { type: string; text?: { text: string }; elements?: { url?: string }[] }[];
    };
    expect(slack.accepted[0]?.path).toBe(SLACK_PATH);
    expect(sl.text).toBe(body.title);
    expect(sl.blocks.filter((b) => b.type === 'header').map((b) => b.text?.text)).toHaveLength(5);
    expect(
      sl.blocks.some((b) => b.type === 'section' && b.text?.text.includes('*Reason:* status 502, expected 200')),
    ).toBe(true);
    expect(sl.blocks.find((b) => b.type === 'actions')?.elements?.[0]?.url).toBe('https://status.example.com/');

    for (const p of ['/api/status', '/api/silences', '/metrics', '/check']) {
      const text = await (await fetch(`${fw.url}${p}`)).text();
      expect(text).not.toContain(HOOK_SECRET);
      expect(text).not.toContain('slackTokenXyz123');
    }
  });

  /** api-public depends on backend-container; the dependent notices first, the root fails a moment later, within group_wait. */
  async function dependentThenRootFail(groupWait: string) {
    const running = await setup(
      ['name: backend-container', 'name: api-public, depends_on: [backend-container]'],
      `  group_wait: ${groupWait}\n`,
    );
    const { fw, target } = running;
    await settled(fw, 'api-public', 'ok');
    await settled(fw, 'backend-container', 'ok');
    target.set('/api-public', 502);
    await settled(fw, 'api-public', 'fail');
    target.set('/backend-container', 503);
    return running;
  }

  it('folds a dependent into its root cause, and alerts on the dependent alone once the root recovers first', async () => {
    const { target, hook } = await dependentThenRootFail('400ms');
    const first = await waitFor(() => payloads(hook)[0]);
    expect(first?.events).toHaveLength(1);
    expect(first?.events[0]).toMatchObject({
      check: 'backend-container',
      kind: 'firing',
      dependents: [{ check: 'api-public', reason: 'status 502, expected 200' }],
    });
    expect(first?.title).toBe('[FAIL] backend-container: status 503, expected 200 (+1 dependent)');
    expect(first?.text).toContain(
      'api-public: status 502, expected 200 — probably because backend-container is failing',
    );

    target.set('/backend-container', 200);
    await waitFor(() => payloads(hook).flatMap((p) => p.events).length >= 3);
    const later = payloads(hook).slice(1);
    const events = later.flatMap((p) => p.events.map((e) => `${e.kind}:${e.check}`));
    expect(events.sort()).toEqual(['firing:api-public', 'resolved:backend-container']);
    // The next message is api-public's own recovery: nothing else came in between.
    target.set('/api-public', 200);
    await waitFor(() => payloads(hook).flatMap((p) => p.events).length >= 4, 5000);
    expect(
      payloads(hook)
        .slice(1)
        .flatMap((p) => p.events.map((e) => `${e.kind}:${e.check}`))
        .sort(),
    ).toEqual(['firing:api-public', 'resolved:api-public', 'resolved:backend-container']);
  });

  it('reminds while a check keeps failing and stops on recovery', async () => {
    const { fw, target, hook } = await setup(
      ['name: db'],
      '  group_wait: 50ms\n  repeat_every: 600ms\n  send_resolved: false\n',
    );
    await settled(fw, 'db', 'ok');
    target.set('/db', 500);
    await waitFor(() => payloads(hook).length >= 3);
    const reminders = payloads(hook).slice(0, 3);
    expect(reminders.map((p) => p.events[0]?.kind)).toEqual(['firing', 'reminder', 'reminder']);
    expect(reminders[1]?.title).toMatch(/^\[FAIL\] db: status 500, expected 200 \(still failing after \d/);
    expect(new Set(reminders.map((p) => p.idempotency_key)).size).toBe(3);
    target.set('/db', 200);
    await settled(fw, 'db', 'ok');
    const recoveredAt = Date.parse(fw.service.monitor.view('db')?.state.since ?? '');
    // Quiet for a while (no resolved message is sent), then a new failure: the first message made after the
    // recovery is that failure, not a reminder. Each event carries the time its message was made.
    await waitFor(() => Date.now() - recoveredAt > 1000, 5000);
    target.set('/db', 500);
    const madeAfter = () =>
      payloads(hook)
        .flatMap((p) => p.events)
        .filter((e) => Date.parse(e.at) > recoveredAt);
    await waitFor(() => madeAfter().length >= 1, 5000);
    expect(madeAfter()[0]).toMatchObject({ kind: 'firing', check: 'db' });
  });

  it('sends one summary past max_per_hour, then stays quiet', async () => {
    const { fw, target, hook } = await setup(['name: flappy'], '  group_wait: 0s\n  max_per_hour: 3\n');
    await settled(fw, 'flappy', 'ok');
    for (let i = 0; i < 4; i++) {
      target.set('/flappy', 502);
      await settled(fw, 'flappy', 'fail');
      await new Promise((r) => setTimeout(r, 150));
      target.set('/flappy', 200);
      await settled(fw, 'flappy', 'ok');
      await new Promise((r) => setTimeout(r, 150));
    }
    const sent = payloads(hook);
    expect(sent).toHaveLength(4);
    expect(sent.slice(0, 3).every((p) => p.rate_limited === null)).toBe(true);
    expect(sent[3]?.rate_limited?.limit).toBe(3);
    expect(sent[3]?.title).toMatch(/^\[LIMIT\] alert limit of 3\/h reached, quiet until /);
    const metrics = await (await fetch(`${fw.url}/metrics`)).text();
    expect(metrics).toMatch(/forgewatch_alerts_sent_total\{channel="hook",result="rate_limited"\} [1-9]/);
  });

  it('holds messages back for silenced checks while they keep running, from the config and from POST /api/silences', async () => {
    const now = Date.now();
    const silenceYaml = `  silences:\n    - { match: { check: backend-* }, from: ${new Date(now - 60_000).toISOString()}, until: ${new Date(now + 3_600_000).toISOString()}, reason: planned maintenance }\n`;
    const { fw, target, hook } = await setup(
      ['name: backend-db', 'name: web'],
      `  group_wait: 50ms\n${silenceYaml}`,
      'server:\n  token: tok-123\n',
    );
    const auth = { authorization: 'Bearer tok-123', 'content-type': 'application/json' };
    expect(
      (
        await fetch(`${fw.url}/api/silences`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(401);
    const bad = await fetch(`${fw.url}/api/silences`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ match: { check: 'web' } }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/until .* or duration/);
    const notJson = await fetch(`${fw.url}/api/silences`, { method: 'POST', headers: auth, body: '{match' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/^request body must be a JSON object/);
    const created = await fetch(`${fw.url}/api/silences`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ match: { check: 'web' }, duration: '1500ms', reason: 'deploy' }),
    });
    expect(created.status).toBe(201);
    const listed = (await (await fetch(`${fw.url}/api/silences`, { headers: auth })).json()) as {
      silences: { source: string; reason: string }[];
    };
    expect(listed.silences.map((s) => `${s.source}:${s.reason}`)).toEqual(['config:planned maintenance', 'api:deploy']);

    await settled(fw, 'backend-db', 'ok');
    await settled(fw, 'web', 'ok');
    target.set('/backend-db', 502);
    target.set('/web', 502);
    await settled(fw, 'backend-db', 'fail');
    const runsBefore = fw.service.monitor.view('backend-db')?.last?.at;
    // The silenced check keeps running.
    await waitFor(() => fw.service.monitor.view('backend-db')?.last?.at !== runsBefore);
    const metrics = await (await fetch(`${fw.url}/metrics`)).text();
    expect(metrics).toMatch(/forgewatch_check_status\{check="backend-db",type="http",status="fail"\} 1/);
    // The API silence on web expires: web, still failing, is announced then (the first message of all);
    // backend-db stays silenced.
    const late = await waitFor(() => payloads(hook)[0], 5000);
    expect(late?.events.map((e) => e.check)).toEqual(['web']);
    expect(hook.received).toHaveLength(1);
    // A later message, web's recovery: backend-db, still failing and silenced, was in none of them.
    target.set('/web', 200);
    await waitFor(() => payloads(hook).length >= 2, 5000);
    expect(payloads(hook).flatMap((p) => p.events.map((e) => `${e.kind}:${e.check}`))).toEqual([
      'firing:web',
      'resolved:web',
    ]);
    expect(fw.service.monitor.view('backend-db')?.state.status).toBe('fail');
  });

  it('retries a receiver that hangs or floods its error answer, with a plain error and bounded reading', async () => {
    const hang = await httpServer(() => undefined);
    const flood = await httpServer((_req, res) => {
      res.writeHead(500);
      const chunk = 'x'.repeat(64 * 1024);
      const write = () => {
        while (res.write(chunk)) if (res.writableLength > 1 << 20) break;
      };
      res.on('drain', write);
      write();
    });
    cleanups.push(
      () => hang.close(),
      () => flood.close(),
    );
    const { fw, target } = await setup(
      ['name: svc'],
      '  group_wait: 50ms\n  routes:\n    - { match: {}, channels: [stuck, noisy] }\n',
      '',
      `    - { name: stuck, type: webhook, url: "${hang.url}/", timeout: 200ms }\n    - { name: noisy, type: webhook, url: "${flood.url}/" }\n`,
    );
    target.set('/svc', 502);
    const outbox = path.join(fw.dir, '.forgewatch', 'outbox');
    const errors = () =>
      readdirSync(outbox)
        .filter((f) => f.endsWith('.json'))
        .map(
          (f) =>
            JSON.parse(readFileSync(path.join(outbox, f), 'utf8')) as {
              notification: { channel: string };
              attempts: number;
              last_error?: string;
            },
        )
        .filter((e) => e.attempts >= 2);
    await waitFor(() => errors().length === 2, 10_000);
    const found = errors();
    const byChannel = Object.fromEntries(found.map((e) => [e.notification.channel, e.last_error ?? '']));
    expect(byChannel.stuck).toBe('webhook of channel stuck did not answer in time');
    expect(byChannel.noisy).toMatch(/^webhook of channel noisy answered HTTP 500: x+$/);
    expect((byChannel.noisy ?? '').length).toBeLessThan(700);
    expect((await fetch(`${fw.url}/healthz`)).status).toBe(200);
  });

  it('gives up on a message after give_up_after and counts it as dropped', async () => {
    const { fw, target, hook } = await setup(
      ['name: svc'],
      '  group_wait: 50ms\n  routes:\n    - { match: {}, channels: [hook] }\n',
    );
    fw.writeConfig(
      readFileSync(fw.configFile, 'utf8').replace(
        'retry: { initial: 100ms, max: 300ms }',
        'retry: { initial: 100ms, max: 100ms, give_up_after: 400ms }',
      ),
    );
    expect(await fw.service.reload()).toBeUndefined();
    hook.answer = 503;
    target.set('/svc', 502);
    const metrics = () => fetch(`${fw.url}/metrics`).then((r) => r.text());
    await waitFor(
      async () => /forgewatch_alerts_sent_total\{channel="hook",result="dropped"\} 1/.test(await metrics()),
      10_000,
    );
    expect(await metrics()).toMatch(/forgewatch_alert_outbox_pending\{channel="hook"\} 0/);
    expect(hook.received.length).toBeGreaterThanOrEqual(2);
    expect(hook.accepted).toHaveLength(0);
  });

  it('counts an alert the outbox cannot write as dropped on every channel, instead of skipping the channels after the first', async () => {
    const { fw, target, hook, slack } = await setup(['name: svc'], '  group_wait: 50ms\n');
    await settled(fw, 'svc', 'ok');
    // A file where the outbox directory was: every write into it fails, as on a full or read-only disk.
    const outbox = path.join(fw.service.monitor.config.state_dir, 'outbox');
    rmSync(outbox, { recursive: true, force: true });
    writeFileSync(outbox, '');
    target.set('/svc', 502);
    const metrics = () => fetch(`${fw.url}/metrics`).then((r) => r.text());
    await waitFor(
      async () => /forgewatch_alerts_sent_total\{channel="chat",result="dropped"\} 1/.test(await metrics()),
      5000,
    );
    expect(await metrics()).toMatch(/forgewatch_alerts_sent_total\{channel="hook",result="dropped"\} 1/);
    expect(hook.received).toHaveLength(0);
    expect(slack.received).toHaveLength(0);
  });

  it('sends the recovery to where the routes point now when a reload renamed the channel the failure went to', async () => {
    const { fw, target, hook, slack } = await setup(
      ['name: svc'],
      '  group_wait: 50ms\n  routes:\n    - { match: {}, channels: [hook] }\n',
    );
    await settled(fw, 'svc', 'ok');
    target.set('/svc', 502);
    await waitFor(() => payloads(hook).length === 1);
    fw.writeConfig(
      readFileSync(fw.configFile, 'utf8')
        .replace('{ name: hook,', '{ name: hook-v2,')
        .replace('channels: [hook]', 'channels: [hook-v2]'),
    );
    expect(await fw.service.reload()).toBeUndefined();
    target.set('/svc', 200);
    await waitFor(() => payloads(hook).length === 2, 5000);
    expect(payloads(hook).map((p) => `${p.channel} ${p.events.map((e) => `${e.kind}:${e.check}`).join()}`)).toEqual([
      'hook firing:svc',
      'hook-v2 resolved:svc',
    ]);
    expect(slack.received).toHaveLength(0);
  });

  it('lets a folded dependent alert on its own when a reload removes its root check', async () => {
    const { fw, target, hook } = await dependentThenRootFail('300ms');
    const first = await waitFor(() => payloads(hook)[0]);
    expect(first.events.map((e) => [e.check, e.dependents.map((d) => d.check)])).toEqual([
      ['backend-container', ['api-public']],
    ]);
    fw.writeConfig(
      readFileSync(fw.configFile, 'utf8')
        .replace(/^.*name: backend-container,.*\n/m, '')
        .replace(', depends_on: [backend-container]', ''),
    );
    expect(await fw.service.reload()).toBeUndefined();
    expect(fw.service.monitor.view('backend-container')).toBeUndefined();
    const second = await waitFor(() => payloads(hook)[1], 5000);
    expect(second.events.map((e) => `${e.kind}:${e.check}`)).toEqual(['firing:api-public']);
    // Its recovery is the next message: nothing came in between.
    target.set('/api-public', 200);
    await waitFor(() => payloads(hook).length >= 3, 5000);
    expect(payloads(hook).map((p) => p.events.map((e) => `${e.kind}:${e.check}`).join())).toEqual([
      'firing:backend-container',
      'firing:api-public',
      'resolved:api-public',
    ]);
  });

  it('applies changed channels and routes on reload', async () => {
    const { fw, target, hook, slack } = await setup(['name: svc', 'name: other'], '  group_wait: 50ms\n');
    await settled(fw, 'svc', 'ok');
    await settled(fw, 'other', 'ok');
    fw.writeConfig(
      readFileSync(fw.configFile, 'utf8').replace(
        '  group_wait: 50ms',
        '  group_wait: 50ms\n  routes:\n    - { match: { check: svc }, channels: [chat] }',
      ),
    );
    expect(await fw.service.reload()).toBeUndefined();
    target.set('/svc', 502);
    await waitFor(() => slack.accepted.length >= 1);
    // A check no route matches goes to every channel: its message is the first the webhook gets.
    target.set('/other', 502);
    await waitFor(() => hook.accepted.length >= 1, 5000);
    expect(payloads(hook).flatMap((p) => p.events.map((e) => `${e.kind}:${e.check}`))).toEqual(['firing:other']);
    expect(hook.received).toHaveLength(1);
  });
});
