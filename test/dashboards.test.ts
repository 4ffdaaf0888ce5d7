import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtool, startPrometheus, type RunningPrometheus } from './helpers/prometheus.js';
import { httpServer, type Started } from './helpers/servers.js';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';

const DASHBOARDS = path.resolve('dashboards');
const RULES = path.join(DASHBOARDS, 'forgewatch.rules.yml');

interface Target {
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  templating: { list: { name: string; type: string; query: unknown }[] };
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
  return expr.replaceAll('$check', '.*').replaceAll('$__rate_interval', '1m');
}

/** Keeps forgewatch's own series: prom-client's default process/nodejs gauges end in _total and fail the lint. */
function ownSeries(exposition: string): string {
  return exposition
    .split('\n')
    .filter((line) => /^(# (HELP|TYPE) )?forgewatch_/.test(line))
    .join('\n') + '\n';
}

let upstream: Started<http.Server>;
let fw: RunningForgewatch;
let prom: RunningPrometheus;

beforeAll(async () => {
  upstream = await httpServer((req, res) => {
    res.statusCode = req.url === '/health' ? 200 : 502;
    res.end();
  });
  fw = await startForgewatch(`
defaults: { interval: 1s, timeout: 2s, failure_threshold: 1 }
checks:
  - { name: backend-local, type: http, url: '${upstream.url}/health' }
  - { name: api-public, type: http, url: '${upstream.url}/broken' }
`);
  await waitFor(() => fw.service.monitor.views().every((v) => v.last));
  prom = await startPrometheus({ job: 'forgewatch', targets: [new URL(fw.url).host], ruleFiles: [RULES] });
});

afterAll(async () => {
  await prom?.stop();
  await fw?.close();
  await upstream?.close();
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
    const tested = new Set([...readFileSync(path.join(DASHBOARDS, 'forgewatch.rules.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    const alerts = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)));
    expect([...alerts].sort()).toEqual(['AlertOutboxStuck', 'CertificateExpiringSoon', 'CertificateNameNotCovered', 'CheckFailing', 'ContainerCrashLooping', 'ForgewatchDown', 'PortOwnerMismatch']);
    expect([...tested].sort()).toEqual([...alerts].sort());
  });
});

describe('live /metrics', () => {
  it("passes promtool check metrics for forgewatch's own series", async () => {
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    const own = ownSeries(text);
    expect(own).toContain('forgewatch_check_up{check="api-public",type="http"} 0');
    const r = await promtool(['check', 'metrics'], { input: own });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('has every metric the dashboard and the rules use', async () => {
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    const declared = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap((m) => (m[2] === 'histogram' || m[2] === 'summary' ? [m[1], `${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]])));
    const used = metricNames([...dashboardExprs, ...ruleExprs]);
    expect(used.size).toBeGreaterThan(25);
    const missing = [...used].filter((m) => !declared.has(m)).sort();
    expect(missing).toEqual([]);
  });
});

describe('a real Prometheus scraping forgewatch', () => {
  it('reads forgewatch_check_up back through its HTTP API', async () => {
    const samples = await waitFor(async () => {
      const r = await prom.query('forgewatch_check_up');
      return r.length === 2 ? r : undefined;
    }, 30_000, 250);
    const byCheck = Object.fromEntries(samples.map((s) => [s.metric.check, s]));
    expect(byCheck['backend-local']?.value[1]).toBe('1');
    expect(byCheck['api-public']?.value[1]).toBe('0');
    expect(byCheck['api-public']?.metric).toMatchObject({ job: 'forgewatch', type: 'http' });
  });

  it('loads every alerting rule, and every dashboard query parses', async () => {
    const loaded = await waitFor(async () => {
      const r = await prom.api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((x) => x.health === 'ok') ? all : undefined;
    }, 15_000, 250);
    expect(loaded).toHaveLength(8);
    for (const expr of dashboardExprs) {
      const r = await prom.api<unknown>(`/api/v1/query?query=${encodeURIComponent(asGrafanaSends(expr))}`);
      expect({ expr, status: r.status, error: r.error }).toEqual({ expr, status: 'success', error: undefined });
    }
    // The status table is built from these series: it must show the failing check.
    const failing = await prom.query(asGrafanaSends('max by (check, type, status) (forgewatch_check_status{check=~"$check"} == 1)'));
    expect(failing.find((s) => s.metric.check === 'api-public')?.metric.status).toBe('fail');
  });
});

describe('Grafana dashboard', () => {
  it('takes its datasource from a variable and uses it in every panel', () => {
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const dataPanels = panels(dashboard.panels).filter((p) => p.type !== 'row');
    expect(dataPanels.length).toBeGreaterThan(10);
    for (const p of dataPanels) expect({ panel: p.title, uid: p.datasource?.uid }).toEqual({ panel: p.title, uid: '${datasource}' });
    const titles = dataPanels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['status', 'phase', 'certificate', 'restarts', 'port', 'alert deliveries', 'outbox']) expect(titles).toContain(topic);
  });
});
