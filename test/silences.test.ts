/**
 * Silences and routes as a running forgewatch applies them, seen at real HTTP receivers: when a silence starts,
 * what it matches (check glob, label, `*`), that it holds back reminders too, and that a route sends to its channels only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { flipTarget, receiver, type FlipTarget, type Receiver } from './helpers/alerts.js';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';

const TOKEN = 'silence-test-token';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Event {
  kind: string;
  check: string;
  at: string;
}

interface Running {
  fw: RunningForgewatch;
  target: FlipTarget;
  ops: Receiver;
  data: Receiver;
}

/**
 * `checks` maps a check name to its extra YAML keys (e.g. labels); each check hits the target at /<name>.
 * Two webhook channels: ops and data. `alerts` is YAML for the rest of the alerts block.
 */
async function start(checks: Record<string, string>, alerts: string, failing: string[] = []): Promise<Running> {
  const target = await flipTarget();
  const ops = await receiver();
  const data = await receiver();
  cleanups.push(
    () => target.close(),
    () => ops.close(),
    () => data.close(),
  );
  for (const name of failing) target.set(`/${name}`, 502);
  const fw = await startForgewatch(`server:
  token: ${TOKEN}
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
${Object.entries(checks)
  .map(
    ([name, extra]) =>
      `  - { name: ${name}, type: http, url: "${target.url}/${name}", expect: { status: 200 }${extra ? `, ${extra}` : ''} }`,
  )
  .join('\n')}
alerts:
  channels:
    - { name: ops, type: webhook, url: "${ops.url}/" }
    - { name: data, type: webhook, url: "${data.url}/" }
  group_wait: 50ms
  retry: { initial: 100ms, max: 300ms }
${alerts}`);
  cleanups.push(() => fw.close());
  return { fw, target, ops, data };
}

const events = (r: Receiver): Event[] => r.accepted.flatMap((x) => (x.json as { events: Event[] }).events);
const described = (r: Receiver) => events(r).map((e) => `${e.kind}:${e.check}`);
const settled = (fw: RunningForgewatch, name: string, status: string) =>
  waitFor(() => fw.service.monitor.view(name)?.state.status === status);
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

describe('silences', () => {
  it('does not hold back an alert before the silence’s from', async () => {
    const { fw, target, ops } = await start(
      { db: '' },
      `  routes: [{ match: {}, channels: [ops] }]\n  silences:\n    - { match: { check: db }, from: ${iso(3_600_000)}, until: ${iso(7_200_000)}, reason: tonight }\n`,
    );
    await settled(fw, 'db', 'ok');
    target.set('/db', 502);
    await waitFor(() => events(ops).length >= 1, 5000);
    expect(described(ops)).toEqual(['firing:db']);
    // Listed already, so an operator sees what is coming.
    const listed = (await (
      await fetch(`${fw.url}/api/silences`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { silences: { reason: string }[] };
    expect(listed.silences.map((s) => s.reason)).toEqual(['tonight']);
  });

  it('holds back a check matched by a label (with a * wildcard), while a check without the label alerts', async () => {
    const { fw, target, ops } = await start(
      { 'orders-db': 'labels: { team: data-platform }', web: 'labels: { team: frontend }' },
      `  routes: [{ match: {}, channels: [ops] }]\n  silences:\n    - { match: { team: "data-*" }, until: ${iso(3_600_000)}, reason: migration }\n`,
    );
    await settled(fw, 'orders-db', 'ok');
    await settled(fw, 'web', 'ok');
    target.set('/orders-db', 502);
    await settled(fw, 'orders-db', 'fail');
    // web fails after orders-db: its alert goes out in the same flush as orders-db's would, or a later one.
    target.set('/web', 502);
    await waitFor(() => events(ops).length >= 1, 5000);
    expect(described(ops)).toEqual(['firing:web']);
    expect(fw.service.monitor.view('orders-db')?.state.status).toBe('fail');
  });

  it('sends no reminders for a silenced check while reminding about the others', async () => {
    const { fw, ops } = await start(
      { 'backend-db': '', web: '' },
      '  routes: [{ match: {}, channels: [ops] }]\n  repeat_every: 400ms\n  send_resolved: false\n',
      ['backend-db', 'web'],
    );
    await waitFor(() => described(ops).includes('firing:backend-db') && described(ops).includes('firing:web'), 5000);
    const created = await fetch(`${fw.url}/api/silences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ match: { check: 'backend-*' }, duration: '1h', reason: 'restore from backup' }),
    });
    expect(created.status).toBe(201);
    const { from } = (await created.json()) as { from: string };
    // Every event carries the time its message was made: a message made before the silence may still arrive after it.
    const madeSince = () => events(ops).filter((e) => Date.parse(e.at) >= Date.parse(from));
    await waitFor(() => madeSince().filter((e) => e.check === 'web').length >= 3, 10_000);
    expect(madeSince().map((e) => `${e.kind}:${e.check}`)).toEqual(
      expect.arrayContaining(['reminder:web', 'reminder:web', 'reminder:web']),
    );
    expect(madeSince().filter((e) => e.check === 'backend-db')).toEqual([]);
    expect(fw.service.monitor.view('backend-db')?.state.status).toBe('fail');
  });
});

describe('routes', () => {
  it('sends a check matched by a label to that route’s channel only, and the others to the catch-all', async () => {
    const { fw, target, ops, data } = await start(
      { 'orders-db': 'labels: { team: data-platform }', web: 'labels: { team: frontend }' },
      '  routes:\n    - { match: { team: "data-*", status: fail }, channels: [data] }\n    - { match: { check: "*" }, channels: [ops] }\n',
    );
    await settled(fw, 'orders-db', 'ok');
    await settled(fw, 'web', 'ok');
    target.set('/orders-db', 502);
    await waitFor(() => events(data).length >= 1, 5000);
    // A later alert on ops: had orders-db's gone to ops too, it would have arrived before this one.
    target.set('/web', 502);
    await waitFor(() => events(ops).length >= 1, 5000);
    expect(described(data)).toEqual(['firing:orders-db']);
    expect(described(ops)).toEqual(['firing:web']);
  });
});
