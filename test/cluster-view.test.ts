/**
 * The fleet-wide view for real: `forgewatch serve` processes of one fleet against a real etcd. /api/status and the
 * status page of any node show every check with the node that ran it, /api/cluster compares each node's config
 * with the leader's, and the page says when a node is left alone or cannot coordinate. Needs the built CLI.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerOf } from '../src/cluster/assign.js';
import type { ClusterView } from '../src/cluster/fleet.js';
import { escapeHtml } from '../src/util/html.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { getJson, hitTarget, startFleetNode, type FleetProcess, type HitTarget } from './helpers/fleet.js';
import { runCli, tempDir, waitFor } from './helpers/service.js';

const LEASE_TTL_MS = 3_000;
const CHECKS = Array.from({ length: 12 }, (_, i) => `v${String(i + 1).padStart(2, '0')}`);
const PREFIX = '/view-a/';

interface StatusEntry {
  name: string;
  node: string | null;
  state: string;
  since: string;
  last: { at: string; status: string; reason: string; hint: string | null; duration_ms: number | null } | null;
}
interface StatusBody {
  node?: string;
  checks: StatusEntry[];
}

let etcd: EtcdCluster;
let target: HitTarget;
const temp = tempDir('forgewatch-view-');
const nodes = new Map<string, FleetProcess>();

beforeAll(async () => {
  [etcd, target] = await Promise.all([startEtcdCluster(1), hitTarget()]);
}, 30_000);
afterAll(async () => {
  await Promise.all([...nodes.values()].map((n) => n.kill()));
  await target?.close();
  await etcd?.stop();
  await temp.cleanup();
});

/** One config for the fleet; `expectStatus` of the last check lets one node run a config that differs. */
function writeConfig(file: string, expectStatus = 200): string {
  const full = path.join(temp.dir, file);
  writeFileSync(
    full,
    `state_dir: \${FW_STATE}
defaults: { interval: 1s, timeout: 1s, failure_threshold: 2 }
cluster:
  etcd: { endpoints: [${etcd.endpoints.join(', ')}], prefix: ${PREFIX} }
  node: \${FW_NODE}
  location: fra
  lease_ttl: ${LEASE_TTL_MS}ms
checks:
${CHECKS.map((c, i) => `  - { name: ${c}, type: http, url: "${target.url}/${c}", expect: { status: ${i === CHECKS.length - 1 ? expectStatus : 200} } }`).join('\n')}
`,
  );
  return full;
}

const node = (name: string) => nodes.get(name)!;
const cluster = (name: string) => getJson<ClusterView>(`${node(name).url}/api/cluster`);
const status = (name: string) => getJson<StatusBody>(`${node(name).url}/api/status`);
const page = async (name: string) => (await fetch(`${node(name).url}/`)).text();

/** Every node named sees `count` members and one leader. */
async function converged(names: string[], count: number): Promise<ClusterView | undefined> {
  const views = await Promise.all(names.map(cluster));
  const leader = views[0]?.leader;
  const settled = views.every((v) => v.leader === leader && v.members.length === count && v.coordination.up);
  return leader && settled ? views[0] : undefined;
}

describe('the fleet-wide view', () => {
  let members: ClusterView['members'] = [];
  let leader = '';

  it('shows on one node every check of the fleet, with the node that ran it and the state that node saw', async () => {
    const file = writeConfig('fleet.yaml');
    for (const name of ['web-1', 'web-2', 'web-3']) nodes.set(name, await startFleetNode(file, name, temp.dir));
    const view = await waitFor(() => converged(['web-1', 'web-2', 'web-3'], 3), 20_000, 200);
    members = view.members;
    leader = view.leader!;
    const elsewhere = CHECKS.find((c) => ownerOf(c, members) !== 'web-1')!;
    const runner = ownerOf(elsewhere, members)!;
    target.set(elsewhere, 503);

    // web-1 lists every check under the node that runs it once each has reported, and the failure web-x saw.
    const seen = await waitFor(
      async () => {
        const body = await status('web-1');
        const failing = body.checks.find((c) => c.name === elsewhere);
        const placed = body.checks.every((c) => c.node === ownerOf(c.name, members));
        return placed && failing?.state === 'fail' ? body : undefined;
      },
      20_000,
      200,
    );
    expect(seen.node).toBe('web-1');
    expect(seen.checks.map((c) => c.name)).toEqual(CHECKS);
    const onA = seen.checks.find((c) => c.name === elsewhere)!;
    expect(onA.node).toBe(runner);
    expect(onA.last?.reason).toContain('503');
    expect(onA.last?.duration_ms).toBeNull();
    const onRunner = (await status(runner)).checks.find((c) => c.name === elsewhere)!;
    expect(onRunner.node).toBe(runner);
    expect(onA).toMatchObject({ state: onRunner.state, since: onRunner.since });
    expect(onA.last).toMatchObject({ status: 'fail', reason: onRunner.last?.reason, hint: onRunner.last?.hint });
    // A check web-1 runs itself carries its own run, with a duration.
    const own = seen.checks.find((c) => c.node === 'web-1');
    expect(own?.last?.duration_ms).toEqual(expect.any(Number));

    const html = await page('web-1');
    expect(html).toContain('fleet of 3 members');
    expect(html).toContain(`leader ${leader}`);
    const row = html.slice(html.indexOf(`data-check="${elsewhere}"`));
    expect(row.slice(0, row.indexOf('</li>'))).toContain(`on ${runner}</span>`);
    expect(row.slice(0, row.indexOf('</li>'))).toContain(escapeHtml(onRunner.last!.reason));
  }, 60_000);

  it('tells a node whose config differs from the leader’s, in /api/cluster, its log and the table, until reloaded', async () => {
    const file = writeConfig('drifted.yaml', 204);
    nodes.set('web-4', await startFleetNode(file, 'web-4', temp.dir));
    const drifted = await waitFor(
      async () => {
        const v = await cluster('web-4');
        return v.config.matches === false && v.members.length === 4 ? v : undefined;
      },
      20_000,
      200,
    );
    const leaderRecord = drifted.members.find((m) => m.name === drifted.leader)!;
    const own = drifted.members.find((m) => m.name === 'web-4')!;
    expect(drifted.config.leader_hash).toBe(leaderRecord.config_hash);
    expect(drifted.config.hash).toBe(own.config_hash);
    expect(drifted.config.hash).not.toBe(drifted.config.leader_hash);
    const logged = node('web-4').logs.filter((l) => l.event === 'cluster_config_differs');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      node: 'web-4',
      leader: drifted.leader,
      hash: drifted.config.hash,
      leader_hash: drifted.config.leader_hash,
    });
    expect(logged[0]?.msg).toContain(`differs from the leader ${drifted.leader}'s`);
    expect(logged[0]?.msg).toContain('reload or deploy the same file on every node');
    expect((await cluster(drifted.leader!)).config).toMatchObject({ matches: true });

    const table = await runCli(['cluster', 'status', '--url', node('web-4').url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/web-4\s.*\sDIFFERS/);
    expect(table.stdout).toMatch(new RegExp(`${drifted.leader} \\(leader\\)\\s.*\\ssame`));
    expect(table.stdout).toContain('the config of web-4 differs from the leader');

    // The same file again and a reload: the new hash is published, and every node sees it match.
    writeConfig('drifted.yaml');
    const reload = await fetch(`${node('web-4').url}/-/reload`, { method: 'POST' });
    expect(reload.status).toBe(200);
    const fixed = await waitFor(
      async () => {
        const [mine, leaders] = await Promise.all([cluster('web-4'), cluster(drifted.leader!)]);
        const published = leaders.members.find((m) => m.name === 'web-4')?.config_hash;
        return mine.config.matches === true && published === mine.config.leader_hash ? mine : undefined;
      },
      15_000,
      200,
    );
    expect(fixed.config.hash).toBe(leaderRecord.config_hash);
    expect(node('web-4').logs.some((l) => l.event === 'cluster_config_matches')).toBe(true);
  }, 60_000);

  it('says on the page when one node is left, and why it runs every check alone while etcd is gone', async () => {
    await Promise.all(['web-2', 'web-3', 'web-4'].map((n) => node(n).kill()));
    await waitFor(() => converged(['web-1'], 1), LEASE_TTL_MS + 15_000, 200);
    const alone = await waitFor(
      async () => {
        const html = await page('web-1');
        return CHECKS.every((c) => html.includes(`data-check="${c}"`)) && html.includes('fleet of one remaining node')
          ? html
          : undefined;
      },
      10_000,
      200,
    );
    expect(alone).toContain('fleet of one remaining node: web-1 runs every check');
    const body = await status('web-1');
    expect(body.checks.every((c) => c.node === 'web-1')).toBe(true);

    await etcd.kill(0);
    const down = await waitFor(
      async () => {
        const v = await cluster('web-1');
        return v.coordination.up ? undefined : v.coordination;
      },
      LEASE_TTL_MS + 15_000,
      200,
    );
    const html = await page('web-1');
    expect(html).toContain(
      `cannot coordinate through etcd (${escapeHtml(down.reason)}): this node runs every check and alerts on its own`,
    );
    expect(down.reason).toMatch(/no lease renewal from etcd|lease lost/);
  }, 60_000);
});
