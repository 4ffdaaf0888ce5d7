/**
 * The fleet scenario: real `forgewatch serve` processes (the built CLI) over a real three-member etcd on loopback.
 *   1. CPU per node of a three-node fleet against one node alone, both running the same 10k HTTP checks at the
 *      same time over the same window (utime + stime from /proc/<pid>/stat).
 *   2. etcd's write rate over that window, from each member's /metrics, with nothing changing.
 *   3. A node killed with SIGKILL: how long until each of its checks is requested by another node, on a separate
 *      1k-check fleet with a short interval and lease_ttl (the target records who ran what).
 * The nodes log JSON; their logs are dropped once they listen.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assignChecks } from '../src/cluster/assign.js';
import type { ClusterView } from '../src/cluster/fleet.js';
import { startEtcdCluster, type EtcdCluster } from '../test/helpers/etcd.js';
import { getJson, hitTarget, startFleetNode, type FleetProcess, type HitTarget } from '../test/helpers/fleet.js';
import { tempDir, waitFor } from '../test/helpers/service.js';
import { cpuSeconds, row as printRow } from './proc.js';

const row = (label: string, values: Record<string, string | number>) => printRow(label, values, 2);

const CHECKS_STEADY = 10_000;
/** One node's share of the fleet, for the control that runs alone. */
const CHECKS_SHARE = Math.floor(CHECKS_STEADY / 3);
const INTERVAL_STEADY_S = 30;
const CHECKS_FAILOVER = 1_000;
const INTERVAL_FAILOVER_S = 5;
const LEASE_TTL_FAILOVER_S = 3;
const FLEET = ['web-1', 'web-2', 'web-3'];
/** The counters that tell what etcd wrote (mvcc) and agreed on (raft proposals); lease renewals skip raft. */
const ETCD_COUNTERS = [
  'etcd_mvcc_put_total',
  'etcd_mvcc_delete_total',
  'etcd_mvcc_txn_total',
  'etcd_server_proposals_committed_total',
  'etcd_debugging_lease_renewed_total',
] as const;
type EtcdCounters = Record<(typeof ETCD_COUNTERS)[number], number>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The etcd members this process started: the helper keeps their handles to itself. */
function etcdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (stat.includes('(etcd)') && Number(after[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // the process ended while listed
    }
  }
  return pids;
}

async function etcdCounters(endpoint: string): Promise<EtcdCounters> {
  const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const out = {} as EtcdCounters;
  for (const name of ETCD_COUNTERS) {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    out[name] = line ? Number(line.split(' ')[1]) : NaN;
  }
  return out;
}

/** Runs of every check this node has finished, summed from its /metrics, and when they were asked for. */
async function runsTotal(node: FleetProcess): Promise<{ runs: number; at: number }> {
  // The node counts as it starts to answer; sending a large /metrics takes a while after that.
  const at = performance.now();
  const text = await (await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('forgewatch_check_runs_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return { runs: total, at };
}

/** Stops keeping the node's log lines: a busy node's lines would only cost the bench memory and CPU. */
function dropLogs(node: FleetProcess): void {
  for (const stream of [node.process.stdout, node.process.stderr]) {
    stream?.removeAllListeners('data');
    stream?.resume();
  }
  node.logs.length = 0;
}

/** One config for every node: the node's name and state_dir come from FW_NODE and FW_STATE. */
function writeConfig(
  file: string,
  checks: number,
  url: (i: number) => string,
  intervalS: number,
  cluster = '',
): string {
  const lines = Array.from(
    { length: checks },
    (_, i) => `  - { name: c${i}, type: http, url: "${url(i)}", expect: { status: [200] } }`,
  );
  const head = `state_dir: \${FW_STATE}\ndefaults: { interval: ${intervalS}s, timeout: 10s }\n`;
  writeFileSync(file, `${head}${cluster}checks:\n${lines.join('\n')}\n`);
  return file;
}

function clusterBlock(etcd: EtcdCluster, prefix: string, leaseTtlS: number): string {
  return `cluster:\n  etcd: { endpoints: [${etcd.endpoints.join(', ')}], prefix: ${prefix} }\n  node: \${FW_NODE}\n  lease_ttl: ${leaseTtlS}s\n`;
}

/** Resolves once every node sees every member, coordinates, and owns exactly its rendezvous share. */
async function converged(nodes: FleetProcess[], checks: number): Promise<void> {
  const names = Array.from({ length: checks }, (_, i) => `c${i}`);
  await waitFor(
    async () => {
      const views = await Promise.all(nodes.map((n) => getJson<ClusterView>(`${n.url}/api/cluster`)));
      if (!views.every((v) => v.members.length === nodes.length && v.coordination.up)) return false;
      const shares = assignChecks(names, views[0]?.members ?? []);
      return views.every((v) => v.node.checks_owned === shares.get(v.node.name)?.length);
    },
    60_000,
    250,
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Phases 1 and 2: the fleet and a node alone run the same 10k checks side by side over one window. */
async function steadyState(port: number, etcd: EtcdCluster, dir: string, windowS: number, started: FleetProcess[]) {
  const url = (i: number) => `http://127.0.0.1:${port}/health?node=\${FW_NODE}&i=${i}`;
  const cluster = clusterBlock(etcd, '/bench-steady/', 10);
  const fleetFile = writeConfig(path.join(dir, 'fleet-10k.yaml'), CHECKS_STEADY, url, INTERVAL_STEADY_S, cluster);
  const aloneFile = writeConfig(path.join(dir, 'alone-10k.yaml'), CHECKS_STEADY, url, INTERVAL_STEADY_S);
  const fleet = await Promise.all(FLEET.map((n) => startFleetNode(fleetFile, n, dir)));
  started.push(...fleet);
  // A control: alone with one node's share, to tell the fleet's own cost from CPU per run at a lower rate.
  const thirdFile = writeConfig(path.join(dir, 'alone-third.yaml'), CHECKS_SHARE, url, INTERVAL_STEADY_S);
  const alone = await startFleetNode(aloneFile, 'alone', dir);
  const aloneThird = await startFleetNode(thirdFile, 'alone-third', dir);
  started.push(alone, aloneThird);
  [...fleet, alone, aloneThird].forEach(dropLogs);
  await converged(fleet, CHECKS_STEADY);
  // Moved checks take a quick first run, then settle on their phase; their first states go to etcd in batches.
  await sleep(INTERVAL_STEADY_S * 1000);

  const everyNode = [...fleet, alone, aloneThird];
  const etcdProcesses = etcdPids();
  const runs0 = await Promise.all(everyNode.map(runsTotal));
  const counters0 = await Promise.all(etcd.endpoints.map(etcdCounters));
  const cpu0 = [...everyNode.map((n) => cpuSeconds(n.process.pid ?? 0)), ...etcdProcesses.map(cpuSeconds)];
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const cpu1 = [...everyNode.map((n) => cpuSeconds(n.process.pid ?? 0)), ...etcdProcesses.map(cpuSeconds)];
  const elapsed = (performance.now() - t0) / 1000;
  const counters1 = await Promise.all(etcd.endpoints.map(etcdCounters));
  const runs1 = await Promise.all(everyNode.map(runsTotal));

  const share = (i: number) => ((cpu1[i] ?? 0) - (cpu0[i] ?? 0)) / elapsed;
  // Runs are counted between scrapes just outside the CPU window (a bigger /metrics takes longer): a rate.
  const figures = (i: number) => {
    const [before, after] = [runs0[i], runs1[i]];
    const runsPerS = before && after ? ((after.runs - before.runs) * 1000) / (after.at - before.at) : 0;
    return {
      'cpu_%_of_one_core': share(i) * 100,
      'runs/s': runsPerS,
      'cpu_us/run': runsPerS ? Math.round((share(i) * 1e6) / runsPerS) : 0,
    };
  };
  console.log(`\nfleet: ${CHECKS_STEADY} checks every ${INTERVAL_STEADY_S}s, window ${elapsed.toFixed(1)}s`);
  fleet.forEach((n, i) => row(`  fleet node ${n.node}`, figures(i)));
  const fleetMean = (share(0) + share(1) + share(2)) / 3;
  row('  alone (no cluster:)', figures(3));
  row('  fleet node mean / alone', { ratio: fleetMean / share(3) });
  row(`  control: alone with ${CHECKS_SHARE} checks`, figures(4));
  row('  fleet node mean / control', { ratio: fleetMean / share(4) });
  const etcdCpu = etcdProcesses.map((_, j) => share(everyNode.length + j) * 100);
  row('  etcd members', { 'cpu_%_of_one_core': etcdCpu.map((c) => c.toFixed(2)).join(',') });

  // Every member applies every write; lease renewals are counted by the leader alone, so those are summed.
  const rate = (name: (typeof ETCD_COUNTERS)[number], sum = false) => {
    const deltas = counters1.map((c, m) => c[name] - (counters0[m]?.[name] ?? NaN));
    return (sum ? deltas.reduce((a, b) => a + b, 0) : Math.max(...deltas)) / elapsed;
  };
  row('  etcd at steady state (per second)', {
    puts: rate('etcd_mvcc_put_total'),
    deletes: rate('etcd_mvcc_delete_total'),
    txns: rate('etcd_mvcc_txn_total'),
    proposals: rate('etcd_server_proposals_committed_total'),
    lease_renewals: rate('etcd_debugging_lease_renewed_total', true),
  });
  await Promise.all(everyNode.map((n) => n.kill()));
}

/** Phase 3: SIGKILL one node of a 1k-check fleet; time until each of its checks is requested by another node. */
async function failover(etcd: EtcdCluster, dir: string, target: HitTarget, started: FleetProcess[]): Promise<void> {
  const file = writeConfig(
    path.join(dir, 'fleet-1k.yaml'),
    CHECKS_FAILOVER,
    (i) => `${target.url}/c${i}?node=\${FW_NODE}&i=${i}`,
    INTERVAL_FAILOVER_S,
    clusterBlock(etcd, '/bench-failover/', LEASE_TTL_FAILOVER_S),
  );
  const fleet = await Promise.all(FLEET.map((n) => startFleetNode(file, n, dir)));
  started.push(...fleet);
  fleet.forEach(dropLogs);
  await converged(fleet, CHECKS_FAILOVER);
  // Steady: every check has run twice since the shares settled (the quick first run, then on its phase).
  const from = target.hits.length;
  await waitFor(
    () => {
      const counts = new Map<string, number>();
      for (const h of target.hits.slice(from)) counts.set(h.check, (counts.get(h.check) ?? 0) + 1);
      return counts.size === CHECKS_FAILOVER && [...counts.values()].every((c) => c >= 2);
    },
    60_000,
    250,
  );

  const victim = fleet[1]!;
  const lastRunner = new Map<string, string>();
  for (const h of target.hits) lastRunner.set(h.check, h.node);
  const orphans = new Set([...lastRunner].filter(([, node]) => node === victim.node).map(([check]) => check));
  const killedAt = Date.now();
  const afterKill = target.hits.length;
  await victim.kill('SIGKILL');
  const delays = new Map<string, number>();
  const deadline = killedAt + 5 * (LEASE_TTL_FAILOVER_S + INTERVAL_FAILOVER_S) * 1000;
  let scanned = afterKill;
  while (delays.size < orphans.size && Date.now() < deadline) {
    for (; scanned < target.hits.length; scanned++) {
      const h = target.hits[scanned]!;
      if (h.node !== victim.node && orphans.has(h.check) && !delays.has(h.check)) delays.set(h.check, h.at - killedAt);
    }
    await sleep(50);
  }
  const sorted = [...delays.values()].sort((a, b) => a - b);
  console.log(
    `\nfailover: separate ${CHECKS_FAILOVER}-check fleet, interval ${INTERVAL_FAILOVER_S}s, lease_ttl ${LEASE_TTL_FAILOVER_S}s; kill -9 of ${victim.node}`,
  );
  row('  its checks requested by another node', {
    checks: orphans.size,
    moved: delays.size,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    max_ms: sorted.at(-1) ?? NaN,
  });
  await Promise.all(fleet.map((n) => n.kill()));
}

export async function fleetScenario(port: number, quick: boolean): Promise<void> {
  const temp = tempDir('forgewatch-bench-fleet-');
  const started: FleetProcess[] = [];
  let etcd: EtcdCluster | undefined;
  let target: HitTarget | undefined;
  const cleanup = async () => {
    await Promise.all(started.map((n) => n.kill()));
    await Promise.all([etcd?.stop(), target?.close()]);
    await temp.cleanup();
  };
  // Interrupted (Ctrl-C, or the parent bench gone): stop every process and remove the temp dir before leaving.
  const abort = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', abort).once('SIGTERM', abort).once('disconnect', abort);
  try {
    [etcd, target] = await Promise.all([startEtcdCluster(), hitTarget()]);
    await steadyState(port, etcd, temp.dir, quick ? INTERVAL_STEADY_S : 2 * INTERVAL_STEADY_S, started);
    await failover(etcd, temp.dir, target, started);
  } finally {
    process.off('SIGINT', abort).off('SIGTERM', abort).off('disconnect', abort);
    await cleanup();
  }
}
