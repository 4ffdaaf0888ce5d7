/**
 * incidents.json as the version before named incident states wrote it (flags `notified` and `due`): read into
 * the matching states, and carried on by a real service against a real target and webhook receiver.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIncidents, notificationKey } from '../src/alerts/incidents.js';
import { captureLogger, flipTarget, receiver } from './helpers/alerts.js';
import { startForgewatch, tempDir, waitFor } from './helpers/service.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const OPENED = '2026-03-01T10:00:00.000Z';

/** A firing event as the alerter stored them. */
function firing(check: string) {
  return {
    kind: 'firing',
    check,
    type: 'http',
    labels: {},
    status: 'fail',
    previous: 'ok',
    reason: 'status 502, expected 200',
    since: OPENED,
    at: OPENED,
    details: {},
    dependents: [],
  };
}

/** An incident in the former shape: what was sent in `notified`, what was owed in `due`. */
function flagged(check: string, flags: Record<string, unknown>) {
  return { check, event: firing(check), opened_at: OPENED, channels: ['hook'], ...flags };
}

interface Payload {
  idempotency_key: string;
  events: { kind: string; check: string; since: string }[];
}

describe('incidents.json written with notified/due flags', () => {
  it('reads each flag combination into the state it meant, dropping the flags', () => {
    const t = tempDir();
    cleanups.push(() => t.cleanup());
    const file = path.join(t.dir, 'incidents.json');
    const resolved = { ...firing('x'), kind: 'resolved', status: 'ok', previous: 'fail' };
    writeFileSync(
      file,
      JSON.stringify({
        incidents: [
          flagged('waiting', { notified: false, due: 'firing', channels: [] }),
          flagged('worse', { notified: true, due: 'firing', sent: 1 }),
          flagged('held', { notified: false, channels: [] }),
          flagged('told', { notified: true, sent: 1, last_notified_at: OPENED }),
          flagged('under-root', { notified: true, folded_under: 'root', channels: [] }),
          flagged('worse-under-root', { notified: true, folded_under: 'root', due: 'firing', channels: [] }),
          flagged('again', { notified: true, due: 'reminder', sent: 3 }),
          flagged('recovering', { notified: true, due: 'resolved', resolved: { ...resolved, check: 'recovering' } }),
          flagged('recovered-folded', {
            notified: true,
            folded_under: 'root',
            due: 'resolved',
            resolved: { ...resolved, check: 'recovered-folded' },
          }),
          flagged('recovered-unsent', { notified: false, due: 'resolved', resolved: { ...resolved, check: 'r' } }),
        ],
      }),
    );
    const log = captureLogger();
    const incidents = loadIncidents(file, log.logger);
    expect(Object.fromEntries(incidents.map((i) => [i.check, i.state]))).toEqual({
      waiting: 'pending',
      worse: 'escalating',
      held: 'silenced',
      told: 'notified',
      'under-root': 'folded',
      // Decided afresh at the next flush, folded again while the root still fails: as the flags did.
      'worse-under-root': 'pending',
      again: 'reminding',
      recovering: 'resolving',
      'recovered-folded': 'lapsing',
      'recovered-unsent': 'lapsing',
    });
    for (const i of incidents) {
      expect(i).not.toHaveProperty('notified');
      expect(i).not.toHaveProperty('due');
      expect('folded_under' in i).toBe(i.state === 'folded');
    }
    expect(incidents.find((i) => i.check === 'again')?.sent).toBe(3);
    expect(incidents.find((i) => i.check === 'recovering')?.resolved?.kind).toBe('resolved');
    expect(log.text()).toBe('');
  });

  it('goes on where the former version stopped: sends what was due with the key it would have used, and the recovery of what it had told', async () => {
    const target = await flipTarget();
    const hook = await receiver();
    cleanups.push(
      () => target.close(),
      () => hook.close(),
    );
    target.set('/late', 502);
    target.set('/down', 200);
    target.set('/quiet', 200);
    const t = tempDir();
    cleanups.push(() => t.cleanup());
    const stateDir = path.join(t.dir, 'state');
    mkdirSync(stateDir);
    const file = path.join(stateDir, 'incidents.json');
    writeFileSync(
      file,
      JSON.stringify({
        incidents: [
          // Waiting for group_wait when the former version stopped.
          flagged('late', { notified: false, due: 'firing', channels: [] }),
          // Told once; it recovered while no forgewatch ran.
          flagged('down', { notified: true, sent: 1, last_notified_at: OPENED }),
          // Folded into late's message; its recovery stays as quiet as its failure was.
          flagged('quiet', { notified: true, folded_under: 'late', channels: [] }),
        ],
      }),
    );
    const checks = ['late', 'down', 'quiet']
      .map((n) => `  - { name: ${n}, type: http, url: "${target.url}/${n}", expect: { status: 200 } }`)
      .join('\n');
    const fw = await startForgewatch(
      `state_dir: ${stateDir}
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
${checks}
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/in" }
  group_wait: 50ms
`,
      { dir: t.dir },
    );
    cleanups.push(() => fw.close());

    // Positive end point: only late is left open, told now.
    const stored = await waitFor(() => {
      const open = (JSON.parse(readFileSync(file, 'utf8')) as { incidents: { check: string; state: string }[] })
        .incidents;
      return open.length === 1 && open[0]?.state === 'notified' && hook.accepted.length >= 2 ? open : undefined;
    });
    expect(stored.map((i) => i.check)).toEqual(['late']);
    expect(readFileSync(file, 'utf8')).not.toContain('"notified":');

    const payloads = hook.accepted.map((r) => r.json as Payload);
    expect(payloads.flatMap((p) => p.events.map((e) => `${e.kind}:${e.check}:${e.since}`)).sort()).toEqual([
      `firing:late:${OPENED}`,
      `resolved:down:${OPENED}`,
    ]);
    const keyOf = (check: string) => payloads.find((p) => p.events[0]?.check === check)?.idempotency_key;
    // The first message about late, and the second about down: the counts came across.
    expect(keyOf('late')).toBe(notificationKey('hook', [{ check: 'late', kind: 'firing', opened_at: OPENED, seq: 1 }]));
    expect(keyOf('down')).toBe(
      notificationKey('hook', [{ check: 'down', kind: 'resolved', opened_at: OPENED, seq: 2 }]),
    );
  });
});
