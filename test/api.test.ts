import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger, type CapturedLog } from './helpers/alerts.js';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';
import { httpServer, type Started } from './helpers/servers.js';

let target: Started<http.Server>;
const hits = new Map<string, number>();
let slowRelease: (() => void) | undefined;

beforeAll(async () => {
  target = await httpServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/down') return void res.writeHead(503).end('down');
    if (path === '/slow') {
      slowRelease = () => res.writeHead(200).end('ok');
      return;
    }
    res.writeHead(200).end('ok');
  });
});
afterAll(() => target.close());

const config = (
  token = '',
) => `${token ? `server:\n  token: ${token}\n` : ''}defaults: { interval: 1h, failure_threshold: 1 }
checks:
  - name: web-up
    type: http
    url: ${target.url}/up
    labels: { team: web }
  - name: api-down
    type: http
    url: ${target.url}/down
    labels: { team: api, severity: page }
  - name: slow-one
    type: http
    url: ${target.url}/slow
    labels: { team: api }
`;

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type CheckEntry = {
  name: string;
  status: string;
  reason: string;
  hint: string | null;
  duration_ms: number;
  type: string;
  details: Record<string, unknown>;
};

describe('HTTP API', () => {
  let fw: RunningForgewatch;
  beforeAll(async () => {
    fw = await startForgewatch(config());
  });
  afterAll(() => fw.close());

  it('GET /check answers 200 when nothing fails and 503 when something does', async () => {
    const ok = await getJson(`${fw.url}/check?name=web-up`);
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    expect(Date.parse(ok.body.checked_at as string)).not.toBeNaN();
    const [entry] = ok.body.checks as CheckEntry[];
    expect(entry).toMatchObject({ name: 'web-up', type: 'http', status: 'ok', hint: null });
    expect(entry?.details).toMatchObject({ status_code: 200 });
    expect(typeof entry?.duration_ms).toBe('number');

    const bad = await getJson(`${fw.url}/check?type=http&label=team:api&name=api-down`);
    expect(bad.status).toBe(503);
    expect(bad.body.ok).toBe(false);
    expect((bad.body.checks as CheckEntry[]).map((c) => [c.name, c.reason])).toEqual([
      ['api-down', 'status 503, expected 200-299'],
    ]);
  });

  it('filters by repeated name, by type and by label', async () => {
    const both = await getJson(`${fw.url}/check?name=web-up&name=api-down`);
    expect((both.body.checks as CheckEntry[]).map((c) => c.name)).toEqual(['web-up', 'api-down']);
    const byLabel = await getJson(`${fw.url}/check?label=team:web`);
    expect((byLabel.body.checks as CheckEntry[]).map((c) => c.name)).toEqual(['web-up']);
  });

  it('a filter that matches nothing is a 404, never an empty pass; a bad filter is a 400', async () => {
    const before = [...hits.values()].reduce((a, b) => a + b, 0);
    expect(await getJson(`${fw.url}/check?label=team:nonexist`)).toEqual({
      status: 404,
      body: { error: 'no check matches label=team:nonexist' },
    });
    expect(await getJson(`${fw.url}/check?type=dns`)).toEqual({
      status: 404,
      body: { error: 'no check matches type=dns' },
    });
    expect(await getJson(`${fw.url}/check?type=http&label=team:web&label=severity:page`)).toEqual({
      status: 404,
      body: { error: 'no check matches type=http, label=team:web, label=severity:page' },
    });
    const repeated = await getJson(`${fw.url}/check?type=http&type=dns`);
    expect(repeated).toEqual({
      status: 400,
      body: { error: 'give type once: one check type per call, e.g. ?type=http' },
    });
    const typo = await getJson(`${fw.url}/check?type=htp`);
    expect(typo.status).toBe(400);
    expect(typo.body.error).toBe('unknown check type "htp"; the types are http, container, port, tls, cert_file, dns');
    const param = await getJson(`${fw.url}/check?lable=team:web`);
    expect(param).toEqual({
      status: 400,
      body: { error: 'unknown query parameter "lable"; /check takes name, type and label' },
    });
    expect([...hits.values()].reduce((a, b) => a + b, 0)).toBe(before);
  });

  it('runs only configured checks: an unknown name is a 404, never a new target', async () => {
    const before = [...hits.values()].reduce((a, b) => a + b, 0);
    const res = await getJson(`${fw.url}/check?name=http://127.0.0.1:1/`);
    expect(res.status).toBe(404);
    expect(res.body.error).toContain('no configured check named');
    expect([...hits.values()].reduce((a, b) => a + b, 0)).toBe(before);
  });

  it('shares one run between calls that arrive while it is under way', async () => {
    hits.delete('/slow');
    // Counted after the API's own handler has seen the request (listeners run in order), so it has joined the run.
    let arrived = 0;
    const count = (req: http.IncomingMessage) => void (req.url?.includes('slow-one') && arrived++);
    fw.service.server.on('request', count);
    const calls = [1, 2, 3].map(() => getJson(`${fw.url}/check?name=slow-one`));
    await waitFor(() => slowRelease && arrived === 3);
    fw.service.server.off('request', count);
    slowRelease?.();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(hits.get('/slow')).toBe(1);
    slowRelease = undefined;
  });

  it('GET /api/status shows last results and states without running anything', async () => {
    const before = hits.get('/up') ?? 0;
    const { status, body } = await getJson(`${fw.url}/api/status`);
    expect(status).toBe(200);
    const checks = body.checks as Array<{ name: string; state: string; last: { reason: string } | null }>;
    expect(checks.find((c) => c.name === 'api-down')).toMatchObject({
      state: 'fail',
      last: { reason: 'status 503, expected 200-299' },
    });
    expect(hits.get('/up') ?? 0).toBe(before);
  });

  it('GET /healthz says the scheduler is ticking', async () => {
    const { status, body } = await getJson(`${fw.url}/healthz`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', checks: 3 });
  });

  it('exports the metrics, parseable, with the documented names and labels', async () => {
    await fetch(`${fw.url}/check?name=web-up&name=api-down`);
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    const samples = parseExposition(text);
    const get = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(get('forgewatch_check_up', { check: 'web-up', type: 'http' })).toBe(1);
    expect(get('forgewatch_check_up', { check: 'api-down', type: 'http' })).toBe(0);
    expect(get('forgewatch_check_status', { check: 'api-down', status: 'fail' })).toBe(1);
    expect(get('forgewatch_check_status', { check: 'api-down', status: 'ok' })).toBe(0);
    expect(get('forgewatch_check_runs_total', { check: 'api-down', result: 'fail' })).toBeGreaterThanOrEqual(1);
    // A result that never happened is still exported as 0, so rate() sees the first one.
    expect(get('forgewatch_check_runs_total', { check: 'api-down', type: 'http', result: 'warn' })).toBe(0);
    expect(get('forgewatch_http_status_code', { check: 'api-down' })).toBe(503);
    expect(get('forgewatch_http_phase_seconds', { check: 'web-up', phase: 'connect' })).toBeGreaterThan(0);
    expect(get('forgewatch_check_duration_seconds', { check: 'web-up', type: 'http' })).toBeGreaterThan(0);
    const lastRun = get('forgewatch_check_last_run_timestamp_seconds', { check: 'web-up' }) ?? 0;
    expect(Math.abs(lastRun - Date.now() / 1000)).toBeLessThan(60);
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
  });

  it('reloads on POST /-/reload: a removed check loses its series; a bad config is rejected and the old one stays', async () => {
    fw.writeConfig(config().replace(/  - name: api-down[\s\S]*?severity: page \}\n/, ''));
    const res = await getJson(`${fw.url}/-/reload`, { method: 'POST' });
    expect(res).toMatchObject({ status: 200, body: { reloaded: true, checks: 2 } });
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    expect(text).not.toContain('check="api-down"');
    expect(text).toContain('check="web-up"');

    fw.writeConfig(`${config()}  - name: broken\n    type: http\n    url: nope\n`);
    const bad = await getJson(`${fw.url}/-/reload`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/forgewatch\.yaml:\d+:\d+ checks\[3\] \([a-z0-9_.-]+\)\.url: expected an http/);
    expect(fw.service.monitor.checks.map((c) => c.name)).toEqual(['web-up', 'slow-one']);
    expect(await (await fetch(`${fw.url}/metrics`)).text()).toContain('forgewatch_config_last_reload_successful 0');
  });
});

describe('bearer token', () => {
  let fw: RunningForgewatch;
  beforeAll(async () => {
    fw = await startForgewatch(config('t0ken-abc'));
  });
  afterAll(() => fw.close());

  it('guards /check and /api/* but not /metrics and /healthz', async () => {
    expect((await fetch(`${fw.url}/check?name=web-up`)).status).toBe(401);
    expect((await fetch(`${fw.url}/check?name=web-up`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      401,
    );
    expect((await fetch(`${fw.url}/api/status`)).status).toBe(401);
    expect((await fetch(`${fw.url}/-/reload`, { method: 'POST' })).status).toBe(401);
    expect(
      (await fetch(`${fw.url}/check?name=web-up`, { headers: { authorization: 'Bearer t0ken-abc' } })).status,
    ).toBe(200);
    expect((await fetch(`${fw.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${fw.url}/healthz`)).status).toBe(200);
    const status = await (
      await fetch(`${fw.url}/api/status`, { headers: { authorization: 'Bearer t0ken-abc' } })
    ).text();
    expect(status).not.toContain('t0ken-abc');
  });
});

describe('a token that is also a check’s credential', () => {
  // Set in the environment and interpolated twice: as the API's token and in a check's Authorization header.
  const TOKEN = 'leak-canary-7f3a9c1e5b';
  const ENV = 'FORGEWATCH_TEST_LEAK_TOKEN';
  let fw: RunningForgewatch;
  let log: CapturedLog;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const yaml = (extra = '') => `server:
  token: \${${ENV}}
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - name: private-api
    type: http
    url: ${target.url}/down
    headers: { Authorization: "Bearer \${${ENV}}", X-Api-Key: "\${${ENV}}" }
  - name: private-ok
    type: http
    url: ${target.url}/up
    headers: { Authorization: "Bearer \${${ENV}}" }
${extra}`;

  beforeAll(async () => {
    process.env[ENV] = TOKEN;
    log = captureLogger();
    fw = await startForgewatch(yaml(), { logger: log.logger });
    await waitFor(() => fw.service.monitor.view('private-api')?.state.status === 'fail');
  });
  afterAll(async () => {
    await fw.close();
    delete process.env[ENV];
  });

  it('is in no answer, metric, page or log line, failing, passing or refused', async () => {
    const answers: [string, RequestInit?][] = [
      ['/api/status', { headers: auth }],
      ['/check', { headers: auth }],
      ['/check?name=private-api', { headers: auth }],
      ['/check?name=missing', { headers: auth }],
      ['/check?colour=red', { headers: auth }],
      ['/check?name=private-api'],
      ['/check?name=private-api', { headers: { authorization: `Bearer ${TOKEN}x` } }],
      ['/api/silences', { headers: auth }],
      ['/api/history?check=private-api', { headers: auth }],
      ['/metrics'],
      ['/healthz'],
      ['/', { headers: auth }],
      ['/nothing-here', { headers: auth }],
    ];
    const statuses: number[] = [];
    for (const [p, init] of answers) {
      const res = await fetch(`${fw.url}${p}`, init);
      statuses.push(res.status);
      expect(await res.text(), p).not.toContain(TOKEN);
    }
    // Each kind of answer was really produced: ok, failing, not found, bad request and refused.
    expect(statuses).toEqual(expect.arrayContaining([200, 503, 404, 400, 401]));
    // A rejected reload reports the config error, not the values around it.
    fw.writeConfig(yaml(`  - { name: broken, type: http, url: "${target.url}/up", timeout: soon }\n`));
    const reload = await fetch(`${fw.url}/-/reload`, { method: 'POST', headers: auth });
    expect(reload.status).toBe(400);
    const rejected = await reload.text();
    expect(rejected).toMatch(/checks\[2\] \([a-z0-9_.-]+\)\.timeout: expected a duration/);
    expect(rejected).not.toContain(TOKEN);
    fw.writeConfig(yaml());
    expect(log.text()).toMatch(/private-api/);
    expect(log.text()).not.toContain(TOKEN);
  });
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser for the Prometheus text format, enough to read samples back. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k as string] = (v as string).replace(/\\(.)/g, '$1');
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}
