import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type RunningDns } from './helpers/dns.js';
import { createSelfSignedLeaf, daysFromNow, serveHttps, writePem } from './helpers/pki.js';
import { promtool, startPrometheus, type RunningPrometheus } from './helpers/prometheus.js';
import { httpServer, type Started } from './helpers/servers.js';
import { startForgewatch, tempDir, waitFor, type RunningForgewatch } from './helpers/service.js';

const DASHBOARDS = path.resolve('dashboards');
const RULES = path.join(DASHBOARDS, 'forgewatch.rules.yml');

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
  repeat?: string;
  transformations?: { id: string; options: { sort?: { field: string; desc?: boolean }[] } }[];
  fieldConfig?: { defaults: { custom?: { stacking?: { mode: string } } } };
}
interface Dashboard {
  templating: { list: { name: string; type: string; query: unknown; hide?: number }[] };
  panels: Panel[];
}

const dashboard = JSON.parse(readFileSync(path.join(DASHBOARDS, 'forgewatch.json'), 'utf8')) as Dashboard;
const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };

function panels(list: Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
}
const dashboardExprs = panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));

function metricNames(exprs: string[]): Set<string> {
  return new Set(exprs.flatMap((e) => [...e.matchAll(/\bforgewatch_[a-z0-9_]+/g)].map((m) => m[0])));
}

/** What Grafana would send: its variables replaced by plain values. */
function asGrafanaSends(expr: string): string {
  return expr.replaceAll('$http_check', '.*').replaceAll('$check', '.*').replaceAll('$__rate_interval', '1m');
}

const scratch = tempDir('forgewatch-dashboards-');
const cleanups: (() => Promise<unknown>)[] = [];
let fw: RunningForgewatch;
let prom: RunningPrometheus;
let dns: RunningDns;
/** Checks in the config below, one or more of every probe type. */
const CHECKS = [
  'backend-local',
  'api-public',
  'cert-www',
  'certbot-files',
  'dns-app',
  'backend-port',
  'worker-container',
  'engine-gone',
];

/** A Docker engine on a unix socket that answers with a recorded inspect of an OOM-killed container. */
async function recordedEngine(): Promise<string> {
  const inspect = readFileSync(path.resolve('test/fixtures/docker-inspect-oomkilled.json'), 'utf8');
  const socket = path.join(scratch.dir, 'engine.sock');
  const engine = http.createServer((req, res) => {
    if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.47' }));
    if (req.url === '/v1.43/containers/forgetrace-worker/json') return res.end(inspect);
    if (/^\/v1\.43\/containers\/[0-9a-f]+\/logs\?/.test(req.url ?? '')) return res.end('');
    res.statusCode = 404;
    res.end(JSON.stringify({ message: 'not recorded' }));
  });
  await new Promise<void>((resolve) => engine.listen(socket, resolve));
  cleanups.push(() => new Promise((resolve) => engine.close(resolve)));
  return socket;
}

beforeAll(async () => {
  const upstream: Started<http.Server> = await httpServer((req, res) => {
    res.statusCode = req.url === '/health' ? 200 : 502;
    res.end();
  });
  const hook = await httpServer((_req, res) => res.end('ok'));
  const leaf = await createSelfSignedLeaf({ sans: ['www.forgewatch.test'], notAfter: daysFromNow(10) });
  const https = await serveHttps(leaf.cert, leaf.key);
  const certFile = writePem(scratch.dir, 'fullchain.pem', leaf.cert);
  dns = await startDnsServer({ 'app.forgewatch.test': { A: ['127.0.0.1'] } });
  cleanups.push(
    () => upstream.close(),
    () => hook.close(),
    () => https.close(),
    () => dns.close(),
  );
  const socket = await recordedEngine();
  fw = await startForgewatch(`
defaults: { interval: 1s, timeout: 2s, failure_threshold: 1 }
checks:
  - { name: backend-local, type: http, url: '${upstream.url}/health' }
  - { name: api-public, type: http, url: '${upstream.url}/broken' }
  - { name: cert-www, type: tls, host: 127.0.0.1, port: ${https.port}, server_name: www.forgewatch.test, names: [www.forgewatch.test, forgewatch.test], ca_file: '${certFile}', cert_file: '${certFile}' }
  - { name: certbot-files, type: cert_file, path: '${certFile}', names: [www.forgewatch.test] }
  - { name: dns-app, type: dns, host: app.forgewatch.test, server: '${dns.address}', expect: [127.0.0.1] }
  - { name: backend-port, type: port, host: 127.0.0.1, port: ${upstream.port}, owner: { process: node } }
  - { name: worker-container, type: container, container: forgetrace-worker, socket: '${socket}' }
  - { name: engine-gone, type: container, container: forgetrace-backend, socket: '${path.join(scratch.dir, 'missing.sock')}' }
alerts:
  channels:
    - { name: hook, type: webhook, url: '${hook.url}/forgewatch' }
  routes:
    - { channels: [hook] }
  group_wait: 0s
`);
  // Every check has run and the failing ones were delivered, so the alert series have samples too.
  await waitFor(
    async () =>
      fw.service.monitor.views().every((v) => v.last) &&
      /forgewatch_alerts_sent_total\{channel="hook",result="ok"\}/.test(
        await (await fetch(`${fw.url}/metrics`)).text(),
      ),
    20_000,
    100,
  );
  prom = await startPrometheus({ job: 'forgewatch', targets: [new URL(fw.url).host], ruleFiles: [RULES] });
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  await fw?.close();
  for (const c of cleanups) await c();
  await scratch.cleanup();
});

describe('Prometheus rules', () => {
  it('pass promtool check rules', async () => {
    const r = await promtool(['check', 'rules', RULES]);
    expect(r.stderr + r.stdout).toContain('SUCCESS: 8 rules found');
    expect(r.code).toBe(0);
  });

  it('pass their unit tests, which cover every alert', async () => {
    const r = await promtool(['test', 'rules', 'forgewatch.rules.test.yml'], { cwd: DASHBOARDS });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code).toBe(0);
    const tested = new Set(
      [...readFileSync(path.join(DASHBOARDS, 'forgewatch.rules.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map(
        (m) => m[1],
      ),
    );
    const alerts = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)));
    expect([...alerts].sort()).toEqual([
      'AlertOutboxStuck',
      'CertificateExpiringSoon',
      'CertificateNameNotCovered',
      'CheckFailing',
      'ContainerCrashLooping',
      'ForgewatchDown',
      'PortOwnerMismatch',
    ]);
    expect([...tested].sort()).toEqual([...alerts].sort());
  });
});

describe('live /metrics', () => {
  it('passes promtool check metrics as a whole, with series of every probe type and of the alerts', async () => {
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    for (const series of [
      'forgewatch_check_up{check="api-public",type="http"} 0',
      'forgewatch_http_phase_seconds{check="backend-local",phase="ttfb"}',
      'forgewatch_tls_cert_not_after_timestamp_seconds{check="cert-www",cert="chain_min"}',
      'forgewatch_tls_name_covered{check="cert-www",name="forgewatch.test"} 0',
      'forgewatch_tls_served_matches_file{check="cert-www"} 1',
      'forgewatch_cert_file_not_after_timestamp_seconds{check="certbot-files",path=',
      'forgewatch_dns_lookup_seconds{check="dns-app"}',
      'forgewatch_port_owner_info{check="backend-port",port=',
      'forgewatch_port_owner_ok{check="backend-port",',
      'forgewatch_container_oom_killed{check="worker-container",container="forgetrace-worker"} 1',
      'forgewatch_container_restarts{check="worker-container",',
      'forgewatch_alerts_sent_total{channel="hook",result="ok"}',
      'forgewatch_alert_delivery_seconds_bucket{le="0.1",channel="hook"}',
      'forgewatch_alert_outbox_pending{channel="hook"} ',
      'forgewatch_scheduler_skipped_runs_total ',
      'process_cpu_seconds_total ',
      'nodejs_active_handles{type=',
    ])
      expect(text).toContain(series);
    // prom-client's gauges named like counters are left out; their per-type siblings above carry the same numbers.
    expect(text).not.toMatch(/^nodejs_active_(handles|requests|resources)_total/m);
    expect(text).not.toContain('# TYPE forgewatch_scheduler_skipped_runs gauge');
    const r = await promtool(['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('has every metric the dashboard and the rules use', async () => {
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    const declared = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap((m) =>
        m[2] === 'histogram' || m[2] === 'summary' ? [m[1], `${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]],
      ),
    );
    const used = metricNames([...dashboardExprs, ...ruleExprs]);
    expect(used.size).toBeGreaterThan(25);
    const missing = [...used].filter((m) => !declared.has(m)).sort();
    expect(missing).toEqual([]);
  });
});

describe('a real Prometheus scraping forgewatch', () => {
  it('reads forgewatch_check_up back through its HTTP API', async () => {
    const samples = await waitFor(
      async () => {
        const r = await prom.query('forgewatch_check_up');
        return r.length === CHECKS.length ? r : undefined;
      },
      30_000,
      250,
    );
    const byCheck = Object.fromEntries(samples.map((s) => [s.metric.check, s]));
    expect(Object.keys(byCheck).sort()).toEqual([...CHECKS].sort());
    expect(byCheck['backend-local']?.value[1]).toBe('1');
    expect(byCheck['api-public']?.value[1]).toBe('0');
    expect(byCheck['engine-gone']?.value[1]).toBe('0');
    expect(byCheck['api-public']?.metric).toMatchObject({ job: 'forgewatch', type: 'http' });
  });

  it('loads every alerting rule, and every dashboard query parses', async () => {
    const loaded = await waitFor(
      async () => {
        const r = await prom.api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
          '/api/v1/rules',
        );
        const all = r.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((x) => x.health === 'ok') ? all : undefined;
      },
      15_000,
      250,
    );
    expect(loaded).toHaveLength(8);
    for (const expr of dashboardExprs) {
      const r = await prom.api<unknown>(`/api/v1/query?query=${encodeURIComponent(asGrafanaSends(expr))}`);
      expect({ expr, status: r.status, error: r.error }).toEqual({ expr, status: 'success', error: undefined });
    }
    // The status table is built from these series: it must show the failing check.
    const failing = await prom.query(
      asGrafanaSends('max by (check, type, status) (forgewatch_check_status{check=~"$check"} == 1)'),
    );
    expect(failing.find((s) => s.metric.check === 'api-public')?.metric.status).toBe('fail');
    // The table sorts on, and the timeline draws, one number per check: fail 3, warn 2, unknown 1, ok 0.
    const table = panels(dashboard.panels).find((p) => p.title === 'Status');
    const rank = table?.targets?.find((t) => t.refId === 'E')?.expr ?? '';
    expect(table?.transformations?.find((t) => t.id === 'sortBy')?.options.sort).toEqual([
      { field: 'Value #E', desc: true },
    ]);
    expect(panels(dashboard.panels).find((p) => p.title === 'Status over time')?.targets?.[0]?.expr).toBe(rank);
    const ranks = Object.fromEntries((await prom.query(asGrafanaSends(rank))).map((s) => [s.metric.check, s.value[1]]));
    expect(ranks).toMatchObject({ 'api-public': '3', 'engine-gone': '3', 'backend-local': '0', 'dns-app': '0' });
    expect(Object.keys(ranks).sort()).toEqual([...CHECKS].sort());
  });

  it("repeats the phase panel once per HTTP check, stacking only that check's phases", async () => {
    const phase = panels(dashboard.panels).find((p) => p.title.includes('by phase'));
    expect(phase?.repeat).toBe('http_check');
    expect(phase?.fieldConfig?.defaults.custom?.stacking?.mode).toBe('normal');
    expect(phase?.targets?.map((t) => [t.expr, t.legendFormat])).toEqual([
      ['forgewatch_http_phase_seconds{check=~"$http_check"}', '{{phase}}'],
    ]);
    const variable = dashboard.templating.list.find((v) => v.name === 'http_check');
    expect(variable?.hide).toBe(2);
    const selector = /^label_values\((.+), check\)$/.exec((variable?.query as { query: string }).query)?.[1] ?? '';
    const http = await prom.query(asGrafanaSends(`count by (check) (${selector})`));
    expect(http.map((s) => s.metric.check).sort()).toEqual(['api-public', 'backend-local']);
  });
});

describe('Grafana dashboard', () => {
  it('takes its datasource from a variable and uses it in every panel', () => {
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const dataPanels = panels(dashboard.panels).filter((p) => p.type !== 'row');
    expect(dataPanels.length).toBeGreaterThan(10);
    for (const p of dataPanels)
      expect({ panel: p.title, uid: p.datasource?.uid }).toEqual({ panel: p.title, uid: '${datasource}' });
    const titles = dataPanels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['status', 'phase', 'certificate', 'restarts', 'port', 'alert deliveries', 'outbox'])
      expect(titles).toContain(topic);
  });
});
