/**
 * The outbox against real receivers (HTTP servers, smtp-server, a hostile raw SMTP server) with real files:
 * what is given up at once, what is retried and when, what one stuck message does to the rest of its channel,
 * and what reaches logs and files.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmailChannel } from '../src/alerts/email.js';
import { loadIncidents } from '../src/alerts/incidents.js';
import { Outbox, type RetryPolicy } from '../src/alerts/outbox.js';
import { SlackChannel } from '../src/alerts/slack.js';
import type { Channel } from '../src/alerts/types.js';
import { WebhookChannel } from '../src/alerts/webhook.js';
import {
  acceptedEvents,
  captureLogger,
  notification,
  receiver,
  type CapturedLog,
  type Received,
  type Receiver,
} from './helpers/alerts.js';
import { tempDir, waitFor } from './helpers/service.js';
import { startSmtp, startTricklingSmtp } from './helpers/smtp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StoredEntry {
  seq: number;
  attempts: number;
  next_attempt_at: number;
  last_error?: string;
  notification: { id: string; channel: string };
}

interface Harness {
  outbox: Outbox;
  dir: string;
  log: CapturedLog;
  /** `channel:result` of every attempt, in order. */
  results: string[];
  files(): StoredEntry[];
}

function harness(channels: Channel[], retry: Partial<RetryPolicy> = {}, base?: string): Harness {
  const own = base ? undefined : tempDir();
  const dir = path.join(base ?? (own as { dir: string }).dir, 'outbox');
  const log = captureLogger();
  const results: string[] = [];
  const outbox = new Outbox(dir, { initial: 50, max: 200, give_up_after: 86_400_000, ...retry }, log.logger, {
    onAttempt: (channel, result) => results.push(`${channel}:${result}`),
  });
  outbox.setChannels(new Map(channels.map((c) => [c.name, c])));
  outbox.release();
  cleanups.push(async () => {
    await outbox.close();
    await own?.cleanup();
  });
  const files = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as StoredEntry);
  return { outbox, dir, log, results, files };
}

async function started(): Promise<Receiver> {
  const r = await receiver();
  cleanups.push(() => r.close());
  return r;
}

const webhook = (name: string, url: string, timeout = 5000) =>
  new WebhookChannel({ name, type: 'webhook', url, headers: {}, timeout });
const email = (name: string, port: number, opts: { to?: string[]; timeout?: number } = {}) =>
  new EmailChannel({
    name,
    type: 'email',
    smtp: { host: '127.0.0.1', port, secure: 'none' },
    from: 'forgewatch@example.com',
    to: opts.to ?? ['ops@example.com'],
    timeout: opts.timeout ?? 5000,
  });
const checksOf = (r: Received) => (r.json as { events: { check: string; kind: string }[] }).events.map((e) => e.check);

describe('refusals that no retry can fix', () => {
  it('gives up at once on HTTP 400/401/403/404/410 and retries 408/429/500/503, without holding up the rest of the channel', async () => {
    const hook = await started();
    const seen = new Map<string, number>();
    hook.respond = (r) => {
      const check = checksOf(r)[0] ?? '';
      seen.set(check, (seen.get(check) ?? 0) + 1);
      const status = Number(check.slice(1));
      if (check.startsWith('p')) return { status, body: 'invalid_token' };
      return (seen.get(check) ?? 0) === 1 ? { status } : { status: 200 };
    };
    const h = harness([webhook('hook', `${hook.url}/in`)]);
    const permanent = [400, 401, 403, 404, 410];
    const transient = [408, 429, 500, 503];
    for (const s of permanent) await h.outbox.enqueue(notification('hook', [`p${s}`]));
    for (const s of transient) await h.outbox.enqueue(notification('hook', [`t${s}`]));
    await waitFor(() => h.files().length === 0, 10_000);
    await sleep(300);

    for (const s of permanent) expect(seen.get(`p${s}`)).toBe(1);
    for (const s of transient) expect(seen.get(`t${s}`)).toBe(2);
    expect(acceptedEvents(hook).sort()).toEqual(transient.map((s) => `firing:t${s}`).sort());
    expect(h.results.filter((r) => r === 'hook:dropped')).toHaveLength(permanent.length);
    expect(h.results.filter((r) => r === 'hook:ok')).toHaveLength(transient.length);
    const dropped = h.log.events('alert_dropped');
    expect(dropped.map((d) => d.reason)).toEqual(permanent.map(() => 'refused'));
    expect(dropped.map((d) => d.error)).toEqual(
      permanent.map((s) => `webhook of channel hook answered HTTP ${s}: invalid_token`),
    );
  });

  it('gives up at once on an SMTP 5xx for the whole message, after DATA or for every recipient', async () => {
    const afterData = await startSmtp({ rejectMessage: 554 });
    const noRecipient = await startSmtp({ refuseRecipients: ['ops@example.com'] });
    cleanups.push(
      () => afterData.stop(),
      () => noRecipient.stop(),
    );
    const h = harness([email('data', afterData.port), email('rcpt', noRecipient.port)]);
    await h.outbox.enqueue(notification('data', ['svc']));
    await h.outbox.enqueue(notification('rcpt', ['svc']));
    await waitFor(() => h.results.length === 2);
    await sleep(300);
    expect(h.results.sort()).toEqual(['data:dropped', 'rcpt:dropped']);
    expect(afterData.dataCommands).toBe(1);
    expect(h.files()).toHaveLength(0);
    const errors = Object.fromEntries(h.log.events('alert_dropped').map((d) => [d.channel, String(d.error)]));
    expect(errors.data).toMatch(
      new RegExp(
        `^SMTP server 127\\.0\\.0\\.1:${afterData.port} refused the message: 554 5\\.7\\.1 message refused by policy`,
      ),
    );
    expect(errors.rcpt).toMatch(/refused the message: 550 5\.1\.1 <ops@example\.com>: mailbox unknown/);
  });
});

describe('one message backing off', () => {
  it('lets later messages of the channel through, while later messages about the same check keep their order', async () => {
    const hook = await started();
    let aDown = true;
    hook.respond = (r) => ({ status: aDown && checksOf(r).includes('a') ? 503 : 200 });
    const h = harness([webhook('hook', `${hook.url}/in`)], { initial: 100, max: 200 });
    await h.outbox.enqueue(notification('hook', ['a']));
    await h.outbox.enqueue(notification('hook', ['b']));
    await h.outbox.enqueue(notification('hook', ['a'], { kind: 'resolved' }));
    await waitFor(() => acceptedEvents(hook).includes('firing:b') && hook.received.length >= 4, 10_000);
    expect(acceptedEvents(hook)).toEqual(['firing:b']);
    // The recovery of a waits behind a's failure: it was never offered while that one was refused.
    expect(hook.received.every((r) => (r.json as { events: { kind: string }[] }).events[0]?.kind === 'firing')).toBe(
      true,
    );
    aDown = false;
    await waitFor(() => acceptedEvents(hook).length === 3, 10_000);
    expect(acceptedEvents(hook)).toEqual(['firing:b', 'firing:a', 'resolved:a']);
  });

  it('waits as long as Retry-After asks (seconds or an HTTP date) on 429 and 503, up to retry.max', async () => {
    const hook = await started();
    hook.respond = (r) => {
      const n = hook.received.indexOf(r);
      if (n === 0) return { status: 429, headers: { 'retry-after': '1' } };
      if (n === 1) return { status: 503, headers: { 'retry-after': new Date(Date.now() + 3000).toUTCString() } };
      return { status: 200 };
    };
    const h = harness([webhook('hook', `${hook.url}/in`)], { initial: 20, max: 10_000 });
    await h.outbox.enqueue(notification('hook', ['svc']));
    const first = await waitFor(() => h.files().find((e) => e.attempts === 1));
    expect(first.next_attempt_at - (hook.received[0] as Received).at).toBeGreaterThanOrEqual(1000);
    const second = await waitFor(() => h.files().find((e) => e.attempts === 2), 5000);
    // The date has whole seconds: it lies 2 to 3 s after the answer.
    expect(second.next_attempt_at - (hook.received[1] as Received).at).toBeGreaterThanOrEqual(2000);
    await waitFor(() => hook.accepted.length === 1, 10_000);
    expect(h.log.events('alert_retry').map((l) => typeof l.retry_after_ms)).toEqual(['number', 'number']);

    const capped = await started();
    capped.respond = (r) =>
      capped.received.indexOf(r) === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 };
    const c = harness([webhook('hook', `${capped.url}/in`)], { initial: 20, max: 300 });
    await c.outbox.enqueue(notification('hook', ['svc']));
    const held = await waitFor(() => c.files().find((e) => e.attempts === 1));
    expect(held.next_attempt_at).toBeLessThanOrEqual(Date.now() + 300);
    await waitFor(() => capped.accepted.length === 1, 5000);
  });
});

describe('send deadlines', () => {
  it('ends an SMTP attempt at its timeout against a server that trickles replies forever, and retries it', async () => {
    const trickle = await startTricklingSmtp();
    cleanups.push(() => trickle.close());
    const h = harness([email('mail', trickle.port, { timeout: 300 })], { initial: 50, max: 100 });
    await h.outbox.enqueue(notification('mail', ['svc']));
    const entry = await waitFor(() => h.files().find((e) => e.attempts >= 2), 15_000);
    expect(entry.last_error).toBe(`SMTP server 127.0.0.1:${trickle.port} did not answer in time`);
    expect(trickle.connections).toBeGreaterThanOrEqual(2);
    // The client hung up: the attempt really ended instead of trickling on in the background.
    await waitFor(() => trickle.closedByClient >= 1, 5000);
    expect(h.results.every((r) => r === 'mail:error')).toBe(true);
  });

  it('stops waiting on a send past its deadline even when the channel ignores the abort', async () => {
    const trickle = await startTricklingSmtp();
    cleanups.push(() => trickle.close());
    const inner = email('deaf', trickle.port, { timeout: 60_000 });
    const deaf: Channel = {
      name: 'deaf',
      type: 'email',
      timeoutMs: 200,
      secrets: [],
      send: (n) => inner.send(n, new AbortController().signal),
    };
    const h = harness([deaf], { initial: 50, max: 100 });
    await h.outbox.enqueue(notification('deaf', ['svc']));
    const entry = await waitFor(() => h.files().find((e) => e.attempts >= 2), 15_000);
    expect(entry.last_error).toBe('email channel deaf did not answer in time (attempt abandoned)');
  });
});

describe('secrets in error answers', () => {
  it('scrubs the URL, its path, query and token from an echoing receiver in logs and outbox files', async () => {
    const hook = await started();
    hook.respond = (r) => ({
      status: r.path.startsWith('/perm') ? 404 : 503,
      body: `no route for POST ${r.path} (${hook.url}${r.path}); token ${r.path.split('?')[0]?.split('/').pop()} unknown`,
    });
    const h = harness([
      webhook('perm', `${hook.url}/perm/hooks/T0SECRET9/tok3nABCDEFGH12345?key=qs-secret-777`),
      new SlackChannel({
        name: 'chat',
        type: 'slack',
        webhook_url: `${hook.url}/services/T0SECRET9/B0SECRET8/slackTok3nXyz123`,
        timeout: 5000,
      }),
    ]);
    await h.outbox.enqueue(notification('perm', ['svc']));
    await h.outbox.enqueue(notification('chat', ['svc']));
    await waitFor(
      () => h.results.includes('perm:dropped') && h.results.filter((r) => r === 'chat:error').length >= 2,
      10_000,
    );
    const stored = readdirSync(h.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(path.join(h.dir, f), 'utf8'))
      .join('\n');
    expect(h.log.text()).toContain('answered HTTP 404: no route for POST [redacted]');
    expect(stored).toContain('Slack webhook of channel chat answered HTTP 503: no route for POST [redacted]');
    for (const secret of ['T0SECRET9', 'tok3nABCDEFGH12345', 'qs-secret-777', 'B0SECRET8', 'slackTok3nXyz123']) {
      expect(h.log.text()).not.toContain(secret);
      expect(stored).not.toContain(secret);
    }
  });
});

describe('recipients refused while others accepted the mail', () => {
  it('logs the refused addresses, counts it as partial and does not send it again', async () => {
    const smtp = await startSmtp({ refuseRecipients: ['nobody@example.com'] });
    cleanups.push(() => smtp.stop());
    const h = harness([email('mail', smtp.port, { to: ['ops@example.com', 'nobody@example.com'] })]);
    await h.outbox.enqueue(notification('mail', ['svc']));
    await waitFor(() => h.results.length === 1);
    await sleep(400);
    expect(h.results).toEqual(['mail:partial']);
    expect(smtp.envelopes).toEqual([['ops@example.com']]);
    const [warn] = h.log.events('alert_partly_refused');
    expect(warn?.refused).toEqual(['nobody@example.com']);
    expect(String(warn?.error)).toMatch(/550 5\.1\.1 <nobody@example\.com>/);
    expect(h.files()).toHaveLength(0);
  });
});

describe('outbox files', () => {
  it('moves unusable files to outbox/bad/ with a log line, and a bad seq does not poison the counter', async () => {
    const hook = await started();
    hook.answer = 503;
    const t = tempDir();
    cleanups.push(() => t.cleanup());
    const dir = path.join(t.dir, 'outbox');
    mkdirSync(dir);
    const good = { version: 1, seq: 5, notification: notification('hook', ['kept']), attempts: 0, next_attempt_at: 0 };
    const bad: Record<string, string> = {
      '000000000006-cut.json': '{"version":1,"seq":6,"notif',
      'zzz-seq.json': JSON.stringify({ ...good, seq: 'abc', notification: notification('hook', ['x']) }),
      '000000000007-empty.json': JSON.stringify({ ...good, seq: 7, notification: notification('hook', []) }),
      '000000000008-escape.json': JSON.stringify({
        ...good,
        seq: 8,
        notification: { ...notification('hook', ['y']), id: '../../escape' },
      }),
    };
    writeFileSync(path.join(dir, '000000000005-good.json'), JSON.stringify(good));
    for (const [name, text] of Object.entries(bad)) writeFileSync(path.join(dir, name), text);
    const h = harness([webhook('hook', `${hook.url}/in`)], {}, t.dir);

    expect(readdirSync(path.join(dir, 'bad')).sort()).toEqual(Object.keys(bad).sort());
    expect(
      h.log
        .events('outbox_bad_entry')
        .map((l) => l.file)
        .sort(),
    ).toEqual(Object.keys(bad).sort());
    await waitFor(() => hook.received.length >= 1);
    expect(checksOf(hook.received[0] as Received)).toEqual(['kept']);
    await h.outbox.enqueue(notification('hook', ['new']));
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, 12))
        .sort(),
    ).toEqual(['000000000005', '000000000006']);
  });

  it('gives up messages for a channel that is no longer configured after give_up_after, with a log line', async () => {
    const hook = await started();
    const h = harness([webhook('hook', `${hook.url}/in`)], { give_up_after: 300 });
    await h.outbox.enqueue(notification('gone', ['svc']));
    expect(h.log.events('alert_queued_orphan')).toMatchObject([{ channel: 'gone' }]);
    await waitFor(() => h.results.includes('gone:dropped') && h.files().length === 0, 5000);
    expect(h.log.events('alert_dropped')).toMatchObject([{ channel: 'gone', reason: 'orphaned' }]);
    expect(hook.received).toHaveLength(0);
  });

  it('keeps one copy of a notification queued twice with the same key', async () => {
    const hook = await started();
    hook.answer = 503;
    const h = harness([webhook('hook', `${hook.url}/in`)], { initial: 1000, max: 1000 });
    const n = notification('hook', ['svc']);
    await h.outbox.enqueue(n);
    await h.outbox.enqueue({ ...n, created_at: new Date().toISOString() });
    expect(h.files().map((e) => e.notification.id)).toEqual([n.id]);
    expect(h.log.events('alert_already_queued')).toHaveLength(1);
  });
});

describe('incidents.json', () => {
  it('warns about a corrupt file and keeps it aside, and says nothing when there is none', () => {
    const t = tempDir();
    cleanups.push(() => t.cleanup());
    const file = path.join(t.dir, 'incidents.json');
    const log = captureLogger();
    expect(loadIncidents(file, log.logger)).toEqual([]);
    expect(log.text()).toBe('');
    writeFileSync(file, '{"incidents":[{"check":"a", "ev');
    expect(loadIncidents(file, log.logger)).toEqual([]);
    expect(log.events('incidents_unreadable')).toHaveLength(1);
    expect(existsSync(`${file}.corrupt`)).toBe(true);
  });
});
