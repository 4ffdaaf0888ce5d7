/**
 * A fleet for real: three `forgewatch serve` processes on one config against a real three-member etcd, a target
 * that records which node ran which check, and a webhook receiver. Needs the built CLI (`npm test` builds first).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignChecks, ownerOf } from '../src/cluster/assign.js';
import type { ClusterView } from '../src/cluster/fleet.js';
import type { HandedOverState } from '../src/cluster/handover.js';
import { acceptedEvents, type Receiver } from './helpers/alerts.js';
import type { EtcdCluster } from './helpers/etcd.js';
import {
  getJson,
  startFleetNode,
  startFleetScene,
  type FleetProcess,
  type FleetScene,
  type HitTarget,
} from './helpers/fleet.js';
import { freePort } from './helpers/servers.js';
import { runCli, tempDir, waitFor } from './helpers/service.js';

const LEASE_TTL_MS = 3_000;
const INTERVAL_MS = 1_000;
/** Scheduling and process start-up on a machine shared with other test runs. */
const SLACK_MS = 3_000;
const CHECKS = Array.from({ length: 30 }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);

let etcd: EtcdCluster;
let client: Etcd3;
let target: HitTarget;
let hook: Receiver;
let scene: FleetScene | undefined;
const temp = tempDir('forgewatch-fleet-');
const nodes: FleetProcess[] = [];

beforeAll(async () => {
  scene = await startFleetScene();
  ({ etcd, client, target, hook } = scene);
}, 30_000);
afterAll(async () => {
  await scene?.close(nodes);
  await temp.cleanup();
});

/** One config for every node: the node's name and state_dir come from FW_NODE and FW_STATE. */
function writeFleetConfig(prefix: string, endpoints = etcd.endpoints): string {
  const file = path.join(temp.dir, `${prefix.replaceAll('/', '')}.yaml`);
  writeFileSync(
    file,
    `state_dir: \${FW_STATE}
defaults: { interval: ${INTERVAL_MS}ms, timeout: 1s, failure_threshold: 2 }
cluster:
  etcd: { endpoints: [${endpoints.join(', ')}], prefix: ${prefix} }
  node: \${FW_NODE}
  location: fra
  lease_ttl: ${LEASE_TTL_MS}ms
checks:
${CHECKS.map((c) => `  - { name: ${c}, type: http, url: "${target.url}/${c}?node=\${FW_NODE}", expect: { status: 200 } }`).join('\n')}
alerts:
  group_wait: 100ms
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/fleet" }
  retry: { initial: 100ms, max: 300ms }
`,
  );
  return file;
}

const cluster = (n: FleetProcess) => getJson<ClusterView>(`${n.url}/api/cluster`);

/** Every given node sees `count` members, the same leader, and runs exactly its rendezvous share. */
async function converged(among: FleetProcess[], count: number): Promise<ClusterView[] | undefined> {
  const views = await Promise.all(among.map(cluster));
  const leaders = new Set(views.map((v) => v.leader));
  if (leaders.size !== 1 || views[0]?.leader === null) return undefined;
  if (!views.every((v) => v.members.length === count && v.coordination.up)) return undefined;
  const shares = assignChecks(CHECKS, views[0]?.members ?? []);
  return views.every((v) => v.node.checks_owned === shares.get(v.node.name)?.length) ? views : undefined;
}

/** The nodes that ran each check after hit number `from`. */
function runnersSince(from: number): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>(CHECKS.map((c) => [c, new Set()]));
  for (const h of target.hits.slice(from)) out.get(h.check)?.add(h.node);
  return out;
}

/** Resolves once every check has been run at least `times` times after hit number `from`. */
async function everyCheckRan(from: number, times: number): Promise<void> {
  await waitFor(
    () => {
      const counts = new Map<string, number>();
      for (const h of target.hits.slice(from)) counts.set(h.check, (counts.get(h.check) ?? 0) + 1);
      return CHECKS.every((c) => (counts.get(c) ?? 0) >= times);
    },
    15_000,
    50,
  );
}

async function metric(n: FleetProcess, name: string): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} missing from ${n.node}'s /metrics`);
  return Number(line.split(' ')[1]);
}

describe('a fleet of three forgewatch serve processes', () => {
  const prefix = '/fleet-a/';
  let members: ClusterView['members'] = [];

  it('runs each of 30 checks on exactly one node, the one rendezvous hashing names', async () => {
    const file = writeFleetConfig(prefix);
    for (const name of ['web-1', 'web-2', 'web-3']) nodes.push(await startFleetNode(file, name, temp.dir));
    const views = await waitFor(() => converged(nodes, 3), 20_000, 200);
    members = views[0]?.members ?? [];
    expect(members.map((m) => m.name)).toEqual(['web-1', 'web-2', 'web-3']);
    expect(members.every((m) => m.location === 'fra' && m.address.startsWith('http://127.0.0.1:'))).toBe(true);

    // Runs already under way when the shares settled end within one interval: count from after that.
    await everyCheckRan(target.hits.length, 1);
    const from = target.hits.length;
    await everyCheckRan(from, 2);
    const runners = runnersSince(from);
    for (const check of CHECKS) expect([check, ...runners.get(check)!]).toEqual([check, ownerOf(check, members)]);

    const table = await runCli(['cluster', 'status', '--url', nodes[1]!.url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('fleet of 3 members');
    expect(table.stdout).toContain(`${views[0]?.leader} (leader)`);
    for (const m of members)
      expect(table.stdout).toMatch(new RegExp(`${m.name}.*fra\\s+${m.address}\\s+\\d+\\s+\\ds ago`));
  }, 60_000);

  it('moves a killed leader’s checks within lease_ttl + interval, keeping a failing check’s state', async () => {
    const leaderName = (await cluster(nodes[0]!)).leader!;
    const victim = nodes.find((n) => n.node === leaderName)!;
    const survivors = nodes.filter((n) => n !== victim);
    const moving = CHECKS.filter((c) => ownerOf(c, members) === victim.node);
    const failing = moving[0]!;
    target.set(failing, 500);
    // The FAIL went out, and the transition reached etcd (written within a fraction of a second).
    await waitFor(() => acceptedEvents(hook).includes(`firing:${failing}`), 15_000);
    const stored = await waitFor(async () => {
      const text = await client.get(`${prefix}checks/${failing}`).string();
      const state = text ? (JSON.parse(text) as HandedOverState) : undefined;
      return state?.status === 'fail' ? state : undefined;
    }, 10_000);
    expect(stored.node).toBe(victim.node);
    expect(stored.reason).toContain('500');

    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await waitFor(
      () => moving.every((c) => target.hits.some((h) => h.check === c && h.node !== victim.node && h.at > killedAt)),
      LEASE_TTL_MS + INTERVAL_MS + SLACK_MS + 5_000,
      50,
    );
    const movedAfterMs = Date.now() - killedAt;
    expect(movedAfterMs).toBeLessThan(LEASE_TTL_MS + INTERVAL_MS + SLACK_MS);

    const views = await waitFor(() => converged(survivors, 2), 15_000, 200);
    expect(views[0]?.members.map((m) => m.name)).toEqual(survivors.map((n) => n.node));
    expect(survivors.map((n) => n.node)).toContain(views[0]?.leader);
    const survivorsNow = views[0]?.members ?? [];
    const heir = survivors.find((n) => n.node === ownerOf(failing, survivorsNow))!;

    // The heir runs the failing check with the state it took over: failing since the original time, no new FAIL.
    const runsBefore = target.hits.filter((h) => h.check === failing && h.node === heir.node).length;
    await waitFor(
      () => target.hits.filter((h) => h.check === failing && h.node === heir.node).length >= runsBefore + 3,
      10_000,
    );
    const status = await getJson<{ checks: Array<{ name: string; state: string; since: string }> }>(
      `${heir.url}/api/status`,
    );
    expect(status.checks.find((c) => c.name === failing)).toMatchObject({ state: 'fail', since: stored.since });
    // A later alert from the heir: had it taken the moved failure for a new one, that FAIL would have gone first.
    const later = CHECKS.find((c) => c !== failing && ownerOf(c, survivorsNow) === heir.node)!;
    target.set(later, 500);
    await waitFor(() => acceptedEvents(hook).includes(`firing:${later}`), 15_000);
    expect(acceptedEvents(hook).filter((e) => e === `firing:${failing}`)).toHaveLength(1);

    const [members0, members1] = await Promise.all(survivors.map((n) => metric(n, 'forgewatch_cluster_members')));
    expect([members0, members1]).toEqual([2, 2]);
    const leaders = await Promise.all(survivors.map((n) => metric(n, 'forgewatch_cluster_leader')));
    expect(leaders.sort()).toEqual([0, 1]);
    const owned = await Promise.all(survivors.map((n) => metric(n, 'forgewatch_cluster_owned_checks')));
    expect(owned[0]! + owned[1]!).toBe(CHECKS.length);
    const up = await Promise.all(survivors.map((n) => metric(n, 'forgewatch_cluster_coordination_up')));
    expect(up).toEqual([1, 1]);
    const handovers = await Promise.all(survivors.map((n) => metric(n, 'forgewatch_cluster_handovers_total')));
    expect(handovers[0]! + handovers[1]!).toBeGreaterThanOrEqual(moving.length);
  }, 60_000);

  it('fails open without an etcd quorum: every node runs every check, and the shares return with the quorum', async () => {
    const survivors = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
    expect(survivors).toHaveLength(2);
    await Promise.all([etcd.kill(0), etcd.kill(1)]);
    try {
      await failedOpen(survivors);
    } finally {
      etcd.restart(0);
      etcd.restart(1);
    }
    await etcd.healthy();
    const views = await waitFor(() => converged(survivors, 2), 2 * LEASE_TTL_MS + 15_000, 200);
    const shares = views[0]?.members ?? [];
    await everyCheckRan(target.hits.length, 1);
    const again = target.hits.length;
    await everyCheckRan(again, 2);
    for (const [check, ran] of runnersSince(again)) expect([check, ...ran]).toEqual([check, ownerOf(check, shares)]);
    expect(await metric(survivors[0]!, 'forgewatch_cluster_coordination_up')).toBe(1);
  }, 60_000);

  /** Both nodes say they cannot coordinate, own every check, and each runs every check. */
  async function failedOpen(survivors: FleetProcess[]): Promise<void> {
    await waitFor(
      async () => (await Promise.all(survivors.map(cluster))).every((v) => !v.coordination.up),
      LEASE_TTL_MS + 10_000,
      200,
    );
    const down = await cluster(survivors[0]!);
    expect(down.coordination.reason).toMatch(/no lease renewal from etcd for [\d.]+s|lease lost/);
    expect(down.node.checks_owned).toBe(CHECKS.length);
    expect(await metric(survivors[1]!, 'forgewatch_cluster_coordination_up')).toBe(0);
    const from = target.hits.length;
    await waitFor(() => [...runnersSince(from).values()].every((ran) => ran.size === 2), 15_000, 100);
    expect(survivors[0]!.logs.some((l) => l.event === 'cluster_coordination_down')).toBe(true);
  }
});

describe('joining a fleet', () => {
  it('refuses an etcd it cannot reach, naming the endpoint, with exit 2', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const file = writeFleetConfig('/fleet-unreachable/', [endpoint]);
    mkdirSync(path.join(temp.dir, 'lonely'), { recursive: true });
    const res = await runCli(['serve', '-c', file, '--listen', '127.0.0.1:0'], {
      env: { FW_NODE: 'lonely', FW_STATE: path.join(temp.dir, 'lonely'), FORGEWATCH_LOG_FORMAT: 'json' },
    });
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toContain(`${endpoint}: connection refused`);
    expect(res.stdout + res.stderr).toContain('etcdctl --endpoints URL endpoint health');
  }, 30_000);

  it('refuses a second node with a live node’s name, naming both addresses, with exit 2', async () => {
    const file = writeFleetConfig('/fleet-twins/');
    const first = await startFleetNode(file, 'twin', path.join(temp.dir, 'twin-a'));
    nodes.push(first);
    mkdirSync(path.join(temp.dir, 'twin-b'), { recursive: true });
    const res = await runCli(['serve', '-c', file, '--listen', '127.0.0.1:0'], {
      env: { FW_NODE: 'twin', FW_STATE: path.join(temp.dir, 'twin-b'), FORGEWATCH_LOG_FORMAT: 'json' },
    });
    expect(res.code).toBe(2);
    const out = res.stdout + res.stderr;
    expect(out).toContain(`node name twin is already taken by the live node at ${first.url}`);
    expect(out).toContain('set a unique one on this node');
    // The running node keeps its place.
    expect((await cluster(first)).members.map((m) => m.address)).toEqual([first.url]);
  }, 30_000);
});
