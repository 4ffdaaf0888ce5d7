import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSchema } from '../src/cluster/config.js';
import { Decisions, type PendingNotification } from '../src/cluster/decisions.js';
import { createEtcdClient } from '../src/cluster/etcd.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { waitFor } from './helpers/service.js';

let etcd: EtcdCluster;
const clients: Etcd3[] = [];
beforeAll(async () => {
  etcd = await startEtcdCluster();
}, 30_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await etcd?.stop();
});

function decisions(node: string, prefix: string, endpoint: string): Decisions {
  const config = clusterSchema.parse({ etcd: { endpoints: [endpoint], prefix }, node });
  const client = createEtcdClient(config);
  clients.push(client);
  return new Decisions(client, config.etcd.prefix, node);
}

describe('exactly-once incident decisions', () => {
  it('two nodes racing the same transition 50 times record exactly one notification per transition', async () => {
    // Each node talks to another etcd member, as two nodes of a fleet would.
    const a = decisions('web-1', '/race/', etcd.endpoints[0] as string);
    const b = decisions('web-2', '/race/', etcd.endpoints[1] as string);
    const seen: PendingNotification[] = [];
    const stopWatching = await a.watch((n) => seen.push(n));
    for (let i = 0; i < 50; i++) {
      const status = i % 2 === 0 ? 'open' : 'resolved';
      const since = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      const results = await Promise.all([
        a.decide('api', status, since, `api ${status}`, `inc-a-${i}`),
        b.decide('api', status, since, `api ${status}`, `inc-b-${i}`),
      ]);
      expect(results.filter((r) => r.decided)).toHaveLength(1);
      expect(results[0]?.incident).toEqual(results[1]?.incident);
    }
    const pending = await b.pending();
    expect(pending).toHaveLength(50);
    const keys = pending.map((p) => p.idempotency_key);
    expect(new Set(keys).size).toBe(50);
    // FAIL and RECOVERED of one incident share its id: 25 incidents, each opened and resolved once.
    const incidents = new Map<string, string[]>();
    for (const k of keys) {
      const [id, status] = k.split(':') as [string, string];
      incidents.set(id, [...(incidents.get(id) ?? []), status]);
    }
    expect(incidents.size).toBe(25);
    for (const statuses of incidents.values()) expect(statuses.sort()).toEqual(['open', 'resolved']);
    await waitFor(() => seen.length === 50);
    expect(seen.map((n) => n.idempotency_key).sort()).toEqual([...keys].sort());
    await stopWatching();
  }, 60_000);

  it('a new leader finds what the old one left undelivered, with the same idempotency keys', async () => {
    const old = decisions('web-1', '/handover/', etcd.endpoints[0] as string);
    const next = decisions('web-2', '/handover/', etcd.endpoints[2] as string);
    for (const check of ['api', 'db', 'cache'])
      await old.decide(check, 'open', new Date().toISOString(), `${check} down`, `inc-${check}`);
    const recorded = await old.pending();
    expect(recorded.map((n) => n.idempotency_key).sort()).toEqual(['inc-api:open', 'inc-cache:open', 'inc-db:open']);
    // The old leader delivered one, then died.
    await old.delivered('inc-api:open');
    const left = await next.pending();
    expect(left.map((n) => n.idempotency_key).sort()).toEqual(['inc-cache:open', 'inc-db:open']);
    expect(left.find((n) => n.check === 'db')).toMatchObject({
      decided_by: 'web-1',
      message: 'db down',
      status: 'open',
    });
    // The same transition decided again (a node that had not heard) records nothing new.
    const again = await next.decide('db', 'open', new Date().toISOString(), 'db down', 'inc-db-2');
    expect(again).toEqual({ decided: false, incident: expect.objectContaining({ id: 'inc-db', status: 'open' }) });
    expect(await next.pending()).toHaveLength(2);
  }, 30_000);
});
