import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSchema, describeCluster, type ClusterConfig } from '../src/cluster/config.js';
import { EtcdUnavailableError, createEtcdClient, probeEtcd } from '../src/cluster/etcd.js';
import { DuplicateNodeError, Membership } from '../src/cluster/membership.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { freePort } from './helpers/servers.js';
import { BUILT_CLI, waitFor } from './helpers/service.js';

/** The built fleet-member script (test/helpers/cluster-node.ts); `npm test` builds first. */
const NODE_SCRIPT = path.resolve(path.dirname(BUILT_CLI), '../test/helpers/cluster-node.js');
const children: ChildProcess[] = [];

let etcd: EtcdCluster;
const clients: Etcd3[] = [];
beforeAll(async () => {
  etcd = await startEtcdCluster();
}, 30_000);
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const c of clients) c.close();
  await etcd?.stop();
});

const LEASE_TTL_MS = 3_000;
let fleet = 0;

function clusterConfig(node: string, prefix: string, endpoints = etcd.endpoints): ClusterConfig {
  return clusterSchema.parse({ etcd: { endpoints, prefix }, node, location: 'fra', lease_ttl: '3s' });
}

async function node(name: string, prefix: string, address = `http://127.0.0.1:${8000 + name.length}`) {
  const config = clusterConfig(name, prefix);
  const client = await createEtcdClient(config);
  clients.push(client);
  return { name, client, membership: new Membership({ client, config, address, configHash: 'abc123' }) };
}

describe('cluster config', () => {
  it('fills the defaults the issue names and never shows the password', () => {
    const c = clusterSchema.parse({
      etcd: { endpoints: ['http://10.0.0.5:2379'], username: 'fw', password: 'hunter2' },
    });
    expect(c.etcd.prefix).toBe('/forgewatch/');
    expect(c.location).toBe('default');
    expect(c.lease_ttl).toBe(10_000);
    expect(c.node.length).toBeGreaterThan(0);
    expect(JSON.stringify(describeCluster(c))).not.toContain('hunter2');
    const bad = clusterSchema.safeParse({ etcd: { endpoints: ['10.0.0.5'], password: 'hunter2' }, lease_ttl: '1s' });
    expect(bad.success).toBe(false);
    const messages = JSON.stringify(bad.error?.issues);
    expect(messages).toContain('etcd client URL');
    expect(messages).toContain('at least 2s');
    expect(messages).toContain('username and password go together');
    expect(messages).not.toContain('hunter2');
  });
});

describe('etcd start-up probe', () => {
  it('names the unreachable endpoint and the fix, within a bounded time', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const err = await probeEtcd(clusterConfig('a', '/p/', [dead]), 2_000).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(err).toBeInstanceOf(EtcdUnavailableError);
    expect((err as Error).message).toContain(dead);
    expect((err as EtcdUnavailableError).hint).toContain('etcdctl --endpoints URL endpoint health');
  });

  it('passes with one live endpoint and lists the dead one', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const live = etcd.endpoints[0] as string;
    const result = await probeEtcd(clusterConfig('a', '/p/', [live, dead]), 2_000);
    expect(result.reachable).toEqual([live]);
    expect(result.failures.map((f) => f.endpoint)).toEqual([dead]);
  });
});

describe('membership', () => {
  it('three nodes join and elect one leader; a killed leader (kill -9, lease not revoked) drops out within lease_ttl and is replaced', async () => {
    const prefix = `/fleet-${++fleet}/`;
    // The first node is a process of its own (to be killed -9), and becomes the leader by campaigning first.
    const child = spawn(process.execPath, [
      NODE_SCRIPT,
      JSON.stringify({ etcd: { endpoints: etcd.endpoints, prefix }, node: 'web-0', location: 'fra', lease_ttl: '3s' }),
      'http://127.0.0.1:8000',
    ]);
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('"isLeader":true'), 15_000);
    const nodes = await Promise.all(['web-1', 'web-2'].map((n) => node(n, prefix)));
    await Promise.all(nodes.map((n) => n.membership.start()));
    for (const n of nodes) await waitFor(() => n.membership.members.length === 3, 15_000);
    expect(nodes[0]?.membership.members.map((m) => [m.name, m.location, m.config_hash])).toEqual([
      ['web-0', 'fra', 'h'],
      ['web-1', 'fra', 'abc123'],
      ['web-2', 'fra', 'abc123'],
    ]);
    for (const n of nodes) await waitFor(() => n.membership.leader === 'web-0', 5_000);
    expect(nodes.map((n) => n.membership.isLeader)).toEqual([false, false]);

    const killedAt = Date.now();
    child.kill('SIGKILL');
    for (const n of nodes) await waitFor(() => n.membership.members.length === 2, LEASE_TTL_MS + 5_000);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_TTL_MS + 3_000);
    expect(nodes[0]?.membership.members.map((m) => m.name)).toEqual(['web-1', 'web-2']);
    // One leader among the two left, and both agree which.
    await waitFor(() => nodes.filter((n) => n.membership.isLeader).length === 1, LEASE_TTL_MS + 10_000);
    const next = nodes.find((n) => n.membership.isLeader)!;
    for (const n of nodes) await waitFor(() => n.membership.leader === next.name, 10_000);
    await Promise.all(nodes.map((n) => n.membership.close()));
  }, 60_000);

  it('refuses a second node with the same name, naming both addresses; a restart at the same address takes over', async () => {
    const prefix = `/fleet-${++fleet}/`;
    const first = await node('db-1', prefix, 'http://10.1.0.1:8080');
    await first.membership.start();
    const second = await node('db-1', prefix, 'http://10.1.0.2:8080');
    const err = await second.membership.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateNodeError);
    expect((err as Error).message).toContain('http://10.1.0.1:8080');
    expect((err as Error).message).toContain('http://10.1.0.2:8080');
    expect((err as DuplicateNodeError).hint).toContain('cluster.node');

    // The first one crashes and comes back at once (its old lease still runs): it is let in.
    first.client.close();
    const again = await node('db-1', prefix, 'http://10.1.0.1:8080');
    await again.membership.start();
    await waitFor(() => again.membership.members.length === 1);
    expect(again.membership.members[0]?.address).toBe('http://10.1.0.1:8080');
    await again.membership.close();
  }, 30_000);
});
