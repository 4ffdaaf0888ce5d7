/**
 * Alerts from a fleet for real: `forgewatch serve` processes against a real three-member etcd, a target whose
 * checks the test fails and heals, and a webhook receiver that counts idempotency keys. Exactly one FAIL and one
 * RECOVERED per transition for the whole fleet, through leader kills and a lost etcd quorum.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerOf } from '../src/cluster/assign.js';
import type { ClusterView } from '../src/cluster/fleet.js';
import type { Received, Receiver } from './helpers/alerts.js';
import type { EtcdCluster } from './helpers/etcd.js';
import {
  getJson,
  startFleetNode,
  startFleetScene,
  type FleetProcess,
  type FleetScene,
  type HitTarget,
} from './helpers/fleet.js';
import { tempDir, waitFor } from './helpers/service.js';

const LEASE_TTL_MS = 3_000;
const CHECKS = Array.from({ length: 30 }, (_, i) => `k${String(i + 1).padStart(2, '0')}`);

const temp = tempDir('forgewatch-fleet-alerts-');
const nodes: FleetProcess[] = [];
let scene: FleetScene | undefined;
let etcd: EtcdCluster, target: HitTarget, hook: Receiver;
beforeAll(async () => ({ etcd, target, hook } = scene = await startFleetScene()), 30_000);
afterAll(() => scene?.close(nodes).finally(() => temp.cleanup()));

/** One config for every node (the checks' URLs are the same on every node, so their config hashes match). */
function writeFleetConfig(prefix: string): string {
  const file = path.join(temp.dir, `${prefix.replaceAll('/', '')}.yaml`);
  writeFileSync(
    file,
    `state_dir: \${FW_STATE}
defaults: { interval: 1s, timeout: 1s, failure_threshold: 2 }
cluster:
  etcd: { endpoints: [${etcd.endpoints.join(', ')}], prefix: ${prefix} }
  node: \${FW_NODE}
  location: fra
  lease_ttl: ${LEASE_TTL_MS}ms
checks:
${CHECKS.map((c) => `  - { name: ${c}, type: http, url: "${target.url}/${prefix.replaceAll('/', '')}-${c}", expect: { status: 200 } }`).join('\n')}
alerts:
  group_wait: 100ms
  channels:
    - { name: hook, type: webhook, url: "${hook.url}${prefix}" }
  retry: { initial: 100ms, max: 300ms }
`,
  );
  return file;
}

interface HookEvent {
  kind: string;
  check: string;
  title: string;
  key: string;
  uncoordinated: boolean;
  path: string;
}

/** Every event the receiver accepted for one fleet (its channel URL path), with its message's idempotency key. */
function accepted(prefix: string): HookEvent[] {
  return hook.accepted
    .filter((r: Received) => r.path === prefix)
    .flatMap((r) => {
      const body = r.json as {
        idempotency_key: string;
        uncoordinated: unknown;
        events: { kind: string; check: string; title: string }[];
      };
      return body.events.map((e) => ({
        kind: e.kind,
        check: e.check,
        title: e.title,
        key: body.idempotency_key,
        uncoordinated: body.uncoordinated !== null,
        path: r.path,
      }));
    });
}

/** Distinct idempotency keys of accepted `kind` events about `check`. */
function keys(prefix: string, kind: string, check: string, opts: { uncoordinated?: boolean } = {}): Set<string> {
  return new Set(
    accepted(prefix)
      .filter((e) => e.kind === kind && e.check === check)
      .filter((e) => opts.uncoordinated === undefined || e.uncoordinated === opts.uncoordinated)
      .map((e) => e.key),
  );
}

const cluster = (n: FleetProcess) => getJson<ClusterView>(`${n.url}/api/cluster`);

/** Every given node sees `count` members and the same leader; resolves with the members. */
async function converged(among: FleetProcess[], count: number): Promise<ClusterView['members'] | undefined> {
  const views = await Promise.all(among.map(cluster));
  const leaders = new Set(views.map((v) => v.leader));
  if (leaders.size !== 1 || views[0]?.leader === null) return undefined;
  if (!views.every((v) => v.members.length === count && v.coordination.up)) return undefined;
  return views[0]?.members;
}

const live = () => nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
const failTarget = (prefix: string, check: string, status: number) =>
  target.set(`${prefix.replaceAll('/', '')}-${check}`, status);

describe('alerts from a fleet of three nodes', () => {
  const prefix = '/alerts-a/';
  const failing: string[] = [];
  let leader: FleetProcess;

  it('tells each failure once, though the leader is killed while its receiver refuses', async () => {
    const file = writeFleetConfig(prefix);
    for (const name of ['web-1', 'web-2', 'web-3']) nodes.push(await startFleetNode(file, name, temp.dir));
    const members = await waitFor(() => converged(nodes, 3), 20_000, 200);
    const leaderName = (await cluster(nodes[0]!)).leader!;
    leader = nodes.find((n) => n.node === leaderName)!;
    // Ten checks, four of them run by the leader: those move when it dies, with their open incidents.
    failing.push(...CHECKS.filter((c) => ownerOf(c, members) === leaderName).slice(0, 4));
    failing.push(...CHECKS.filter((c) => !failing.includes(c)).slice(0, 10 - failing.length));

    hook.respond = (r) => ({ status: r.path === prefix ? 503 : 200 });
    for (const c of failing) failTarget(prefix, c, 500);
    // Every FAIL is decided and on its way (the receiver saw an attempt) but none was accepted yet.
    await waitFor(
      () => {
        const tried = hook.received.filter((r) => r.path === prefix).map((r) => r.raw);
        return failing.every((c) => tried.some((raw) => raw.includes(`"check":"${c}"`)));
      },
      20_000,
      100,
    );
    expect(accepted(prefix)).toEqual([]);
    await leader.kill('SIGKILL');
    hook.respond = undefined;

    // The next leader delivers what the dead one left pending, and reports the dead node.
    const nodeCheck = `forgewatch node ${leaderName} (fra)`;
    await waitFor(
      () => failing.every((c) => keys(prefix, 'firing', c).size > 0) && keys(prefix, 'firing', nodeCheck).size > 0,
      LEASE_TTL_MS + 20_000,
      100,
    );
    const down = accepted(prefix).find((e) => e.check === nodeCheck)!;
    expect(down.title).toMatch(
      new RegExp(
        `^\\[FAIL\\] forgewatch node ${leaderName} \\(fra\\) stopped reporting: its lease ran out; its \\d+ checks now run on `,
      ),
    );
    expect(down.uncoordinated).toBe(false);

    for (const c of failing) failTarget(prefix, c, 200);
    await waitFor(() => failing.every((c) => keys(prefix, 'resolved', c).size > 0), 20_000, 100);

    // A later transition, told after all of the above: had anything been told twice, it would be in by now.
    const marker = CHECKS.find((c) => !failing.includes(c))!;
    failTarget(prefix, marker, 500);
    await waitFor(() => keys(prefix, 'firing', marker).size > 0, 20_000, 100);
    for (const c of failing) {
      expect([c, keys(prefix, 'firing', c).size]).toEqual([c, 1]);
      expect([c, keys(prefix, 'resolved', c).size]).toEqual([c, 1]);
    }
    expect(keys(prefix, 'firing', nodeCheck).size).toBe(1);
    // Nothing was marked as sent without coordination: etcd was there all along.
    expect(accepted(prefix).filter((e) => e.uncoordinated)).toEqual([]);
    failTarget(prefix, marker, 200);
    await waitFor(() => keys(prefix, 'resolved', marker).size > 0, 20_000, 100);
  }, 120_000);

  it('tells the killed node is back once it rejoins', async () => {
    const file = writeFleetConfig(prefix);
    const back = await startFleetNode(file, leader.node, path.join(temp.dir, 'again'));
    nodes.push(back);
    const nodeCheck = `forgewatch node ${leader.node} (fra)`;
    await waitFor(() => keys(prefix, 'resolved', nodeCheck).size > 0, 20_000, 100);
    expect(accepted(prefix).find((e) => e.kind === 'resolved' && e.check === nodeCheck)?.title).toMatch(
      new RegExp(`^\\[RECOVERED\\] forgewatch node ${leader.node} \\(fra\\) after `),
    );
  }, 60_000);

  it('runs a check on request on a node that does not own it without alerting a second time', async () => {
    const members = await waitFor(() => converged(live(), 3), 20_000, 200);
    const spare = CHECKS.filter((c) => !failing.includes(c));
    // Not the first spare check: the first test used that one as its marker.
    const check = spare.slice(1, -1).find((c) => ownerOf(c, members) !== members[0]?.name)!;
    const bystander = live().find((n) => n.node !== ownerOf(check, members))!;
    failTarget(prefix, check, 500);
    await waitFor(() => keys(prefix, 'firing', check).size > 0, 20_000, 100);
    // The bystander runs it now, twice (failure_threshold 2), and finds it failing too.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${bystander.url}/check?name=${check}`);
      expect(res.status).toBe(503);
    }
    failTarget(prefix, check, 200);
    await waitFor(() => keys(prefix, 'resolved', check).size > 0, 20_000, 100);
    const marker = spare.at(-1)!;
    failTarget(prefix, marker, 500);
    await waitFor(() => keys(prefix, 'firing', marker).size > 0, 20_000, 100);
    expect(keys(prefix, 'firing', check).size).toBe(1);
    expect(keys(prefix, 'resolved', check).size).toBe(1);
    failTarget(prefix, marker, 200);
  }, 60_000);

  it('holds back a failure silenced through any node, the leader included', async () => {
    await waitFor(() => converged(live(), 3), 20_000, 200);
    const views = await Promise.all(live().map(cluster));
    const asked = live().find((n) => n.node !== views[0]?.leader)!;
    const spare = CHECKS.filter((c) => !failing.includes(c));
    const [quiet, loud] = [spare[2]!, spare[3]!];
    const res = await fetch(`${asked.url}/api/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ match: { check: quiet }, duration: '10m', reason: 'deploy' }),
    });
    expect(res.status).toBe(201);
    // Every node, the leader too, knows it.
    await waitFor(
      async () => {
        const lists = await Promise.all(
          live().map((n) =>
            getJson<{ silences: { match: { check?: string }; reason: string }[] }>(`${n.url}/api/silences`),
          ),
        );
        return lists.every((l) => l.silences.some((s) => s.match.check === quiet && s.reason === 'deploy'));
      },
      10_000,
      100,
    );
    failTarget(prefix, quiet, 500);
    await waitFor(() => target.hits.filter((h) => h.check === `alerts-a-${quiet}`).length > 0, 10_000, 50);
    const from = target.hits.length;
    // Both fail from here; only the one not silenced is told.
    await waitFor(() => target.hits.slice(from).filter((h) => h.check === `alerts-a-${quiet}`).length >= 3, 10_000, 50);
    failTarget(prefix, loud, 500);
    await waitFor(() => keys(prefix, 'firing', loud).size > 0, 20_000, 100);
    expect(keys(prefix, 'firing', quiet).size).toBe(0);
    failTarget(prefix, quiet, 200);
    failTarget(prefix, loud, 200);
  }, 60_000);
});

describe('a fleet without an etcd quorum', () => {
  const prefix = '/alerts-b/';

  it('alerts on its own, marked, and tells the recovery once after the quorum is back', async () => {
    const file = writeFleetConfig(prefix);
    const pair: FleetProcess[] = [];
    for (const name of ['edge-1', 'edge-2']) pair.push(await startFleetNode(file, name, temp.dir));
    nodes.push(...pair);
    await waitFor(() => converged(pair, 2), 20_000, 200);
    const check = CHECKS[3]!;

    await Promise.all([etcd.kill(0), etcd.kill(1)]);
    try {
      await waitFor(
        async () => (await Promise.all(pair.map(cluster))).every((v) => !v.coordination.up),
        LEASE_TTL_MS + 10_000,
        200,
      );
      failTarget(prefix, check, 500);
      // Each node runs every check now and tells the failure itself: duplicates, each saying so.
      await waitFor(() => keys(prefix, 'firing', check, { uncoordinated: true }).size > 0, 20_000, 100);
      const told = hook.accepted.find((r) => r.path === prefix)!.json as {
        title: string;
        text: string;
        uncoordinated: { node: string; reason: string };
      };
      expect(told.title).toMatch(/\[uncoordinated: edge-[12]\]$/);
      expect(told.text).toContain('without fleet coordination');
      expect(told.text).toContain('another forgewatch node may send this alert too');
      expect(told.uncoordinated.reason).toMatch(/no lease renewal from etcd|lease lost/);
    } finally {
      etcd.restart(0);
      etcd.restart(1);
    }
    await etcd.healthy();
    await waitFor(() => converged(pair, 2), 2 * LEASE_TTL_MS + 20_000, 200);
    const failsWhileAlone = keys(prefix, 'firing', check).size;

    failTarget(prefix, check, 200);
    await waitFor(() => keys(prefix, 'resolved', check, { uncoordinated: false }).size > 0, 20_000, 100);
    const marker = CHECKS[4]!;
    failTarget(prefix, marker, 500);
    await waitFor(() => keys(prefix, 'firing', marker).size > 0, 20_000, 100);
    // No further FAIL once the fleet coordinated again, and one RECOVERED from the fleet.
    expect(keys(prefix, 'firing', check).size).toBe(failsWhileAlone);
    expect(keys(prefix, 'firing', check, { uncoordinated: false }).size).toBe(0);
    expect(keys(prefix, 'resolved', check).size).toBe(1);
    expect(keys(prefix, 'firing', marker, { uncoordinated: true }).size).toBe(0);
    failTarget(prefix, marker, 200);
  }, 120_000);

  it('starts a node that was in the fleet while etcd is away: alone, its alerts marked, and joins once etcd is back', async () => {
    const file = writeFleetConfig(prefix);
    const [edge1] = live().filter((n) => n.node === 'edge-1');
    await edge1!.kill('SIGKILL');
    await Promise.all([etcd.kill(0), etcd.kill(1)]);
    const check = CHECKS[6]!;
    let restarted: FleetProcess;
    try {
      // The same state_dir: it joined this fleet before, so it starts instead of stopping with exit 2.
      restarted = await startFleetNode(file, 'edge-1', temp.dir);
      nodes.push(restarted);
      const warned = restarted.logs.find((l) => l.event === 'cluster_start_uncoordinated');
      expect(String(warned?.msg)).toContain('this node was in the fleet before, so it starts anyway');
      expect((await cluster(restarted)).coordination.up).toBe(false);
      failTarget(prefix, check, 500);
      await waitFor(
        () =>
          hook.accepted.some((r) => {
            const body = r.json as { title: string; events: { check: string; kind: string }[] };
            return (
              r.path === prefix &&
              body.title.endsWith('[uncoordinated: edge-1]') &&
              body.events.some((e) => e.check === check && e.kind === 'firing')
            );
          }),
        20_000,
        100,
      );
    } finally {
      etcd.restart(0);
      etcd.restart(1);
    }
    await etcd.healthy();
    const members = await waitFor(
      () =>
        converged(
          live().filter((n) => n.node.startsWith('edge-')),
          2,
        ),
      2 * LEASE_TTL_MS + 20_000,
      200,
    );
    expect(members.map((m) => m.name)).toEqual(['edge-1', 'edge-2']);
    failTarget(prefix, check, 200);
    await waitFor(() => keys(prefix, 'resolved', check, { uncoordinated: false }).size > 0, 20_000, 100);
    // The check of the first outage, long recovered: no node took its own stale state of it for a failure.
    expect(keys(prefix, 'resolved', CHECKS[3]!).size).toBe(1);
  }, 120_000);
});
