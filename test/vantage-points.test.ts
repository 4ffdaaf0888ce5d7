/**
 * Vantage points for real: three `forgewatch serve` nodes in three locations (fra on the host, nyc and home in
 * network namespaces of their own), one etcd, and a target address that a location reaches only while it has a
 * route to it. Cutting a location off is taking its route away: its connections fail as they would from a place
 * with no path to the service. Needs root (CI runs as root) and the built CLI.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterView } from '../src/cluster/fleet.js';
import { receiver, type Receiver } from './helpers/alerts.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { getJson, hitTarget, startFleetNode, type FleetProcess, type HitTarget } from './helpers/fleet.js';
import { startDnsServer, type RunningDns } from './helpers/dns.js';
import { startNetLab, type NetLab } from './helpers/netns.js';
import { listen, type Started } from './helpers/servers.js';
import { tempDir, waitFor } from './helpers/service.js';

const LEASE_TTL_MS = 3_000;
const CHECK = 'api-public';
const PUBLIC_HOST = 'www.vantage.test';
let wrong: Started<http.Server>;
let dns: RunningDns;

let lab: NetLab;
let etcd: EtcdCluster;
let target: HitTarget;
let hook: Receiver;
const temp = tempDir('forgewatch-vantage-');
const nodes = new Map<string, FleetProcess>();

beforeAll(async () => {
  lab = await startNetLab(['nyc', 'home']);
  // From nyc the public name's DNS answers another server (a wrong load balancer); from home it leads to the origin.
  dns = await startDnsServer({ [PUBLIC_HOST]: { A: [lab.otherAddress] } }, { host: lab.hostAddress, port: 53 });
  lab.hosts('nyc', []);
  lab.resolver('nyc', lab.hostAddress);
  lab.hosts('home', [`${lab.targetAddress} ${PUBLIC_HOST}`]);
  [etcd, target, hook] = await Promise.all([
    startEtcdCluster(1, lab.hostAddress),
    hitTarget(lab.targetAddress),
    receiver(lab.hostAddress),
  ]);
  wrong = await listen(
    http.createServer((_req, res) => res.writeHead(503).end('no backend here\n')),
    lab.otherAddress,
    target.port,
  );
}, 60_000);
afterAll(async () => {
  await Promise.all([...nodes.values()].map((n) => n.kill()));
  await Promise.all([target?.close(), hook?.close(), wrong?.close(), dns?.close()]);
  await etcd?.stop();
  await lab?.cleanup();
  await temp.cleanup();
});

function writeConfig(): string {
  const file = path.join(temp.dir, 'vantage.yaml');
  writeFileSync(
    file,
    `state_dir: \${FW_STATE}
defaults: { interval: 1s, timeout: 1s, failure_threshold: 2 }
cluster:
  etcd: { endpoints: [${etcd.endpoints.join(', ')}], prefix: /vantage/ }
  node: \${FW_NODE}
  location: \${FW_LOCATION}
  lease_ttl: ${LEASE_TTL_MS}ms
checks:
  - { name: backend, type: http, url: "${target.url}/backend", expect: { status: 200 }, locations: [fra] }
  - { name: ${CHECK}, type: http, url: "${target.url}/health", expect: { status: 200 }, locations: [fra, nyc, home], quorum: 2, depends_on: [backend] }
  - { name: www-origin, type: http, url: "http://${PUBLIC_HOST}:${target.port}/health", resolve: ${lab.targetAddress}, expect: { status: 200 }, locations: [fra] }
  - { name: www-public, type: http, url: "http://${PUBLIC_HOST}:${target.port}/health", expect: { status: 200 }, locations: [nyc, home], quorum: 1 }
alerts:
  group_wait: 100ms
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/vantage" }
  retry: { initial: 100ms, max: 300ms }
`,
  );
  return file;
}

interface Told {
  title: string;
  kind: string;
  status: string;
  reason: string;
  locations: Record<string, { status: string; reason: string }>;
}

/** Every event about the check the receiver accepted, in order. */
function told(check = CHECK): Told[] {
  return hook.accepted.flatMap((r) =>
    (r.json as { events: (Told & { check: string; details: { locations: Told['locations'] } })[] }).events
      .filter((e) => e.check === check)
      .map((e) => ({ ...e, locations: e.details.locations })),
  );
}

async function start(name: string, location: string): Promise<FleetProcess> {
  const place = lab.places.find((p) => p.name === location);
  const node = await startFleetNode(
    writeConfig(),
    name,
    temp.dir,
    { FW_LOCATION: location },
    place ? { netns: place.netns, host: place.address } : { host: lab.hostAddress },
  );
  nodes.set(name, node);
  return node;
}

describe('a check run from three locations, quorum 2', () => {
  it('warns when one location is cut off, naming it, and fails when two are, naming both', async () => {
    await Promise.all([start('fra-1', 'fra'), start('nyc-1', 'nyc'), start('home-1', 'home')]);
    await waitFor(
      async () => (await getJson<ClusterView>(`${nodes.get('fra-1')!.url}/api/cluster`)).members.length === 3,
      20_000,
      200,
    );
    // Each location runs it: the target sees three source addresses.
    await waitFor(() => target.hits.length >= 6, 15_000, 100);

    await lab.cut('nyc');
    const minority = await waitFor(() => told().find((e) => e.kind === 'firing'), 20_000, 100);
    expect(minority.status).toBe('warn');
    expect(minority.reason).toMatch(/^fails from nyc only: /);
    expect(minority.reason).toContain('fra, home: status 200');
    expect(minority.locations.nyc?.status).toBe('fail');
    expect(minority.locations.fra?.status).toBe('ok');

    // Every node shows each location: the API (from a node in a namespace), /check, the page, the metrics.
    const home = nodes.get('home-1')!;
    const status = await getJson<{ checks: { name: string; state: string; locations: Told['locations'] }[] }>(
      `${home.url}/api/status`,
    );
    const shown = status.checks.find((c) => c.name === CHECK)!;
    expect(shown.state).toBe('warn');
    expect(shown.locations.nyc).toMatchObject({ status: 'fail', node: 'nyc-1' });
    expect(shown.locations.home).toMatchObject({ status: 'ok', node: 'home-1' });
    const fra = nodes.get('fra-1')!;
    const ran = await getJson<{ checks: { name: string; status: string; locations: Told['locations'] }[] }>(
      `${fra.url}/check?name=${CHECK}`,
    );
    const entry = ran.checks.find((c) => c.name === CHECK)!;
    expect(entry.status).toBe('ok');
    expect(entry.locations.fra).toMatchObject({ status: 'ok', node: 'fra-1' });
    expect(entry.locations.nyc?.status).toBe('fail');
    const page = await (await fetch(`${fra.url}/`)).text();
    expect(page).toContain('data-location="nyc" data-status="fail"');
    expect(page).toContain('data-location="fra" data-status="ok"');
    const metrics = await (await fetch(`${fra.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`forgewatch_check_up\\{check="${CHECK}",type="http",location="fra"\\} 1`));

    await lab.cut('home');
    const failure = await waitFor(() => told().find((e) => e.kind === 'firing' && e.status === 'fail'), 20_000, 100);
    expect(failure.reason).toMatch(/^fails from nyc and home: /);
    expect(failure.reason).toContain('(fra: status 200');
    expect(failure.title).toMatch(/^\[FAIL\] api-public: fails from nyc and home/);

    await Promise.all([lab.restore('nyc'), lab.restore('home')]);
    await waitFor(() => told().some((e) => e.kind === 'resolved'), 20_000, 100);
  }, 90_000);

  it('says DNS when the public name leads elsewhere from outside while the origin answers', async () => {
    const failed = await waitFor(() => told('www-public').find((e) => e.kind === 'firing'), 20_000, 100);
    expect(failed.status).toBe('fail');
    expect(failed.reason).toMatch(/^fails from nyc: status 503/);
    expect(failed.reason).toContain(
      `fails from outside, origin answers locally; from outside the name leads to ${lab.otherAddress}, not the origin's ${lab.targetAddress}`,
    );
    expect((failed as Told & { hint: string }).hint).toMatch(/^look at DNS: the public record points at /);
    expect(told('www-origin')).toEqual([]);
    // Every node shows the same: home's /api/status, from its namespace.
    await waitFor(
      async () =>
        (
          await getJson<{ checks: { name: string; last: { reason: string } | null }[] }>(
            `${nodes.get('home-1')!.url}/api/status`,
          )
        ).checks
          .find((c) => c.name === 'www-public')
          ?.last?.reason.includes(`from outside the name leads to ${lab.otherAddress}, not the origin's`),
      10_000,
      100,
    );
    // nyc's node asked the test's DNS server for the name.
    expect(dns.queries).toContain(`A ${PUBLIC_HOST}`);
  }, 40_000);

  it('counts a location whose node is gone as unknown, not as failing', async () => {
    const before = told().length;
    await nodes.get('nyc-1')!.kill('SIGKILL');
    await waitFor(
      async () => (await getJson<ClusterView>(`${nodes.get('fra-1')!.url}/api/cluster`)).members.length === 2,
      LEASE_TTL_MS + 10_000,
      200,
    );
    await lab.cut('home');
    // Two of three locations are not ok, but only home fails: a warning, with nyc unknown.
    const warned = await waitFor(
      () =>
        told()
          .slice(before)
          .find((e) => e.kind === 'firing'),
      20_000,
      100,
    );
    expect(warned.status).toBe('warn');
    expect(warned.reason).toMatch(/^fails from home only: /);
    expect(warned.reason).toContain('nyc: unknown');
    expect(warned.locations.nyc).toEqual({ status: 'unknown', reason: 'no live node in nyc' });
    await lab.restore('home');
    await waitFor(
      () =>
        told()
          .slice(before)
          .some((e) => e.kind === 'resolved'),
      20_000,
      100,
    );
    expect(
      told()
        .slice(before)
        .filter((e) => e.status === 'fail'),
    ).toEqual([]);
  }, 60_000);

  it('folds a public check failing everywhere under its failing backend, as any check', async () => {
    const before = hook.accepted.length;
    target.set('backend', 500);
    await waitFor(() => told('backend').find((e) => e.kind === 'firing'), 20_000, 100);
    target.set('health', 502);
    // The public check fails from every location meanwhile (as every node shows it)...
    const stateOf = async () =>
      (
        await getJson<{ checks: { name: string; state: string }[] }>(`${nodes.get('fra-1')!.url}/api/status`)
      ).checks.find((c) => c.name === CHECK)?.state;
    await waitFor(async () => (await stateOf()) === 'fail', 20_000, 100);
    // ...and recovers before its backend does: folded under the backend, it is told neither way.
    target.set('health', 200);
    await waitFor(async () => (await stateOf()) === 'ok', 20_000, 100);
    target.set('backend', 200);
    await waitFor(() => told('backend').some((e) => e.kind === 'resolved'), 20_000, 100);
    const publicAfter = hook.accepted
      .slice(before)
      .flatMap((r) => (r.json as { events: { check: string; kind: string }[] }).events)
      .filter((e) => e.check === CHECK && e.kind === 'firing');
    expect(publicAfter).toEqual([]);
  }, 60_000);
});
