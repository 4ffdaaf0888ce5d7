import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSchema } from '../src/cluster/config.js';
import { createEtcdClient } from '../src/cluster/etcd.js';
import { Membership, type CoordinationState } from '../src/cluster/membership.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { waitFor } from './helpers/service.js';

let etcd: EtcdCluster;
let client: Etcd3 | undefined;
beforeAll(async () => {
  etcd = await startEtcdCluster();
}, 30_000);
afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

describe('coordination state', () => {
  it('goes down within lease_ttl when etcd loses quorum, and comes back (registered again) after the members restart', async () => {
    const config = clusterSchema.parse({
      etcd: { endpoints: etcd.endpoints, prefix: '/q/' },
      node: 'solo',
      lease_ttl: '3s',
    });
    client = await createEtcdClient(config);
    const membership = new Membership({ client, config, address: 'http://127.0.0.1:7000', configHash: 'h' });
    const changes: Array<CoordinationState & { at: number }> = [];
    membership.on('coordination', (c) => changes.push({ ...c, at: Date.now() }));
    await membership.start();
    await waitFor(() => membership.isLeader, 15_000);
    expect(membership.coordination.up).toBe(true);

    await etcd.kill(1);
    await etcd.kill(2);
    // Quorum is gone once the second member has exited (on a loaded machine the kills themselves take a while).
    const lostAt = Date.now();
    // The member left may be the leader, and it renews leases until it notices the lost quorum (etcd's check of
    // quorum: one to two election timeouts, 1 s each). The node goes down within lease_ttl of the last renewal.
    const down = await waitFor(() => changes.find((c) => !c.up), 3_000 + 2_000 + 3_000);
    expect(down.at - lostAt).toBeLessThanOrEqual(3_000 + 2_000 + 1_500);
    const silence = /no lease renewal from etcd for (\d+(?:\.\d)?)s/.exec(down.reason);
    expect(silence, down.reason).not.toBeNull();
    expect(Number(silence?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(silence?.[1])).toBeLessThanOrEqual(3 + 1.5);
    // Fail open: nobody leads without coordination.
    expect(membership.isLeader).toBe(false);

    etcd.restart(1);
    etcd.restart(2);
    await etcd.healthy();
    const up = await waitFor(() => changes.slice(changes.indexOf(down)).find((c) => c.up), 20_000);
    expect(up.reason).toContain('registered');
    await waitFor(() => membership.members.length === 1 && membership.isLeader, 15_000);
    expect(membership.members[0]?.name).toBe('solo');
    await membership.close();
  }, 60_000);
});
