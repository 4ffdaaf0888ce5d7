import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { teamsPayload } from '../src/alerts/teams.js';
import type { AlertEvent, Notification } from '../src/alerts/types.js';
import { captureLogger, flipTarget, receiver, type Received } from './helpers/alerts.js';
import { startForgewatch, waitFor } from './helpers/service.js';

const SIG = 'Tq9vXk2sigSecret0123456789';
/** Shaped like a Workflows trigger URL: the signature in `sig` is what lets anyone post to the channel. */
const WORKFLOW_PATH = `/workflows/5f3c9a/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Card {
  $schema: string;
  type: string;
  version: string;
  fallbackText: string;
  body: { type: string; text?: string; color?: string; facts?: { title: string; value: string }[] }[];
  actions: { type: string; title: string; url: string }[];
}

interface TeamsMessage {
  type: string;
  attachments: { contentType: string; contentUrl: null; content: Card }[];
}

const cardOf = (r: Received | undefined): Card => {
  const msg = r?.json as TeamsMessage;
  expect(msg.type).toBe('message');
  expect(msg.attachments).toHaveLength(1);
  expect(msg.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
  expect(msg.attachments[0]?.contentUrl).toBeNull();
  return msg.attachments[0]?.content as Card;
};
const factsOf = (card: Card) =>
  Object.fromEntries((card.body.find((b) => b.type === 'FactSet')?.facts ?? []).map((f) => [f.title, f.value]));

describe('Microsoft Teams alerts to a real HTTP receiver', () => {
  it('posts an Adaptive Card for a failure and its recovery, retries a 500, and keeps the signed URL out of logs and files', async () => {
    const target = await flipTarget();
    const teams = await receiver();
    // The first POST fails with an answer that echoes the request, as some gateways do.
    teams.respond = (r) =>
      teams.received.length === 1
        ? { status: 500, body: `{"error":{"message":"flow run failed for POST ${r.path}"}}` }
        : { status: 202 };
    const log = captureLogger();
    cleanups.push(
      () => target.close(),
      () => teams.close(),
    );
    const fw = await startForgewatch(
      `server:
  public_url: https://status.example.com/
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: api-public, type: http, url: "${target.url}/api", expect: { status: 200 }, labels: { team: web } }
alerts:
  channels:
    - { name: ops-teams, type: teams, webhook_url: "${teams.url}${WORKFLOW_PATH}", timeout: 5s }
  group_wait: 50ms
  retry: { initial: 100ms, max: 300ms }
`,
      { logger: log.logger },
    );
    cleanups.push(() => fw.close());
    await waitFor(() => fw.service.monitor.view('api-public')?.state.status === 'ok');

    target.set('/api', 502);
    await waitFor(() => teams.accepted.length === 1);
    expect(teams.received).toHaveLength(2);
    expect(teams.received[0]?.raw).toBe(teams.received[1]?.raw);
    expect(teams.accepted[0]?.path).toBe(WORKFLOW_PATH);
    expect(teams.accepted[0]?.headers['content-type']).toBe('application/json');

    const failing = cardOf(teams.accepted[0]);
    expect(failing).toMatchObject({
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      type: 'AdaptiveCard',
      version: '1.4',
      fallbackText: '[FAIL] api-public: status 502, expected 200',
    });
    expect(failing.body[0]).toMatchObject({
      type: 'TextBlock',
      text: '[FAIL] api-public: status 502, expected 200',
      color: 'Attention',
    });
    const facts = factsOf(failing);
    expect(facts.Reason).toBe('status 502, expected 200');
    expect(facts.Hint).toMatch(/upstream/);
    expect(facts.Since).toMatch(/^\d{4}-\d\d-\d\dT.* \(was ok\)$/);
    expect(failing.body.map((b) => b.text)).toContain('api-public · http · team=web');
    expect(failing.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Status page', url: 'https://status.example.com/' },
    ]);

    target.set('/api', 200);
    await waitFor(() => teams.accepted.length === 2);
    const recovered = cardOf(teams.accepted[1]);
    expect(recovered.body[0]?.text).toMatch(/^\[RECOVERED\] api-public after \d/);
    expect(recovered.body[0]?.color).toBe('Good');
    expect(factsOf(recovered).Now).toMatch(/^status 200/);
    expect(recovered.actions[0]?.url).toBe('https://status.example.com/');

    // The retry was logged with the receiver's answer, minus everything that could let someone post to the channel.
    const [retry] = log.events('alert_retry');
    expect(retry?.error).toMatch(
      /^Teams webhook of channel ops-teams answered HTTP 500: \{"error":\{"message":"flow run failed for POST (\[redacted\])+"\}\}$/,
    );
    expect(log.text()).not.toContain(SIG);
    expect(log.text()).not.toContain('/workflows/5f3c9a');
    const outbox = path.join(fw.service.monitor.config.state_dir, 'outbox');
    // Removed from the outbox once accepted (just after the receiver answered, so waited for).
    await waitFor(() => readdirSync(outbox).filter((f) => f.endsWith('.json')).length === 0);
    for (const p of ['/api/status', '/metrics', '/check']) {
      expect(await (await fetch(`${fw.url}${p}`)).text()).not.toContain(SIG);
    }
  });
});

const bigEvent = (i: number): AlertEvent => ({
  kind: 'firing',
  check: `backend-${i}`,
  type: 'container',
  labels: {},
  status: 'fail',
  previous: 'ok',
  reason: `container backend-${i} is restarting: ${'x'.repeat(3000)}`,
  hint: 'The container keeps exiting: read its last log lines below.',
  since: '2026-11-25T06:00:00.000Z',
  at: '2026-11-25T06:12:00.000Z',
  details: {
    containers: [
      {
        name: `backend-${i}`,
        restart_count: 9,
        exit_code: 1,
        oom_killed: false,
        logs: Array.from({ length: 40 }, (_, n) => `${n} ${'log text '.repeat(40)}`).join('\n'),
      },
    ],
  },
  dependents: Array.from({ length: 5 }, (_, n) => ({
    check: `frontend-${i}-${n}`,
    status: 'fail' as const,
    reason: 'status 502, expected 200',
    since: '2026-11-25T06:00:00.000Z',
  })),
});

describe('Teams message size', () => {
  it('keeps a card about many large failures under the Teams limit and says how many were left out', () => {
    const n: Notification = {
      id: 'k',
      channel: 'ops-teams',
      created_at: '2026-11-25T06:12:00.000Z',
      events: Array.from({ length: 40 }, (_, i) => bigEvent(i)),
      rate_limited: { limit: 20, quiet_until: '2026-11-25T07:00:00.000Z' },
      public_url: 'https://status.example.com/',
    };
    const payload = teamsPayload(n);
    const card = payload.attachments[0]?.content;
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThan(28_000);
    const texts = (card?.body ?? []).map((b) => String(b.text ?? ''));
    expect(texts[0]).toBe('Alert limit of 20/h reached: quiet until 2026-11-25T07:00:00.000Z.');
    const shown = texts.filter((t) => t.startsWith('[FAIL] backend-')).length;
    expect(shown).toBeGreaterThanOrEqual(1);
    expect(texts.at(-1)).toBe(`…and ${40 - shown} more`);
    const folded = texts.find((t) => t.startsWith('- frontend-0-0:'))?.split('\n');
    expect(folded).toHaveLength(5);
    expect(folded?.[4]).toBe('- frontend-0-4: status 502, expected 200 — probably because backend-0 is failing');
    expect(texts).toContain('backend-0: restart count 9, exit code 1, not OOM killed');
    expect(card?.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Status page', url: 'https://status.example.com/' },
    ]);
  });
});
