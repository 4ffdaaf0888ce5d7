/**
 * Each probe kind's facts, from real runs against local servers: their text and tone, and that the status
 * page, the alert messages and the CLI table all show the same text.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationHtml, notificationText } from '../src/alerts/render.js';
import type { AlertEvent } from '../src/alerts/types.js';
import type { RunRecord } from '../src/checks/monitor.js';
import { buildReport, formatTable } from '../src/checks/report.js';
import { factsFor, summaryFacts } from '../src/probes/index.js';
import type { Fact } from '../src/probes/types.js';
import { History } from '../src/server/history.js';
import { renderPage } from '../src/server/status-page.js';
import { escapeHtml } from '../src/util/html.js';
import { runCheck } from './helpers/checks.js';
import { startDnsServer, type RunningDns } from './helpers/dns.js';
import { createSelfSignedLeaf, daysFromNow, serveHttps, writePem, type Issued } from './helpers/pki.js';
import { startPodman } from './helpers/podman.js';
import { httpServer, type Started } from './helpers/servers.js';
import { runCli, tempDir, waitFor } from './helpers/service.js';

const { dir, cleanup } = tempDir('forgewatch-facts-');
/** An hour past the whole days, so "N days left" holds however long the test takes. */
const days = (n: number) => daysFromNow(n + 1 / 24);

let tenDays: Issued;
let tenDaysServer: Started<https.Server>;
let plain: Started<http.Server>;
let dns: RunningDns;

beforeAll(async () => {
  tenDays = await createSelfSignedLeaf({ sans: ['www.forgewatch.test'], notAfter: days(10) });
  writePem(dir, 'ten-days.pem', tenDays.cert);
  tenDaysServer = await serveHttps(tenDays.cert, tenDays.key);
  plain = await httpServer((_req, res) => res.end('ok'));
  dns = await startDnsServer({ 'api.forgewatch.test': { A: ['10.1.2.3'] } });
});

afterAll(async () => {
  await tenDaysServer?.close();
  await plain?.close();
  await dns?.close();
  await cleanup();
});

function summary(rec: RunRecord): Pick<Fact, 'text' | 'tone'>[] {
  return summaryFacts(rec.check.type, rec.result.details).map(({ text, tone }) => ({ text, tone }));
}

function unescapeHtml(html: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
  return html.replace(/&(amp|lt|gt|quot|#39);/g, (_m, name: string) => named[name] ?? '');
}

/** The facts list of the check's row on the full status page, as text and tone. */
function pageFacts(rec: RunRecord): { page: string; facts: Pick<Fact, 'text' | 'tone'>[] } {
  const page = renderPage([{ check: rec.check, state: rec.state, last: rec, running: false }], new History(), {
    full: true,
    now: Date.now(),
  });
  const list = /<ul class="facts">(.*?)<\/ul>/s.exec(page)?.[1] ?? '';
  const facts = [...list.matchAll(/<li class="[^"]*" data-tone="(\w+)" title="[^"]*">(.*?)<\/li>/gs)].map((m) => ({
    tone: m[1] as Fact['tone'],
    text: unescapeHtml(m[2] ?? ''),
  }));
  return { page, facts };
}

function alertOf(rec: RunRecord): { text: string; html: string } {
  const event: AlertEvent = {
    kind: 'firing',
    check: rec.check.name,
    type: rec.check.type,
    labels: {},
    status: rec.result.status === 'ok' ? 'warn' : rec.result.status,
    previous: 'ok',
    reason: rec.result.reason,
    since: rec.at,
    at: rec.at,
    details: rec.result.details,
    dependents: [],
  };
  const n = { id: 'k', channel: 'test', created_at: rec.at, events: [event] };
  return { text: notificationText(n), html: notificationHtml(n) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The status page lists the summary facts with their tone; the alert and the CLI table carry the same text. */
function expectShownEverywhere(rec: RunRecord): void {
  const facts = summary(rec);
  expect(pageFacts(rec).facts).toEqual(facts);
  const alert = alertOf(rec);
  for (const f of factsFor(rec.check.type, rec.result.details)) {
    for (const line of f.text.split('\n')) expect(alert.text).toContain(line);
    expect(alert.html).toContain(escapeHtml(f.text));
  }
  const table = formatTable(buildReport([rec]));
  for (const f of facts) {
    const tone = f.tone === 'neutral' ? '' : `${f.tone}\\s+`;
    expect(table).toMatch(new RegExp(`^\\s+${tone}${escapeRegExp(f.text)}$`, 'm'));
  }
}

describe('facts of each probe kind, from real runs', () => {
  it('tls: days left warn inside three weeks, a missing name fails and names the host', async () => {
    const rec = await runCheck(`name: cert-www
type: tls
host: 127.0.0.1
port: ${tenDaysServer.port}
server_name: www.forgewatch.test
names: [forgewatch.test, www.forgewatch.test]
ca_file: ${path.join(dir, 'ten-days.pem')}`);
    expect(rec.result.status).toBe('fail');
    expect(summary(rec)).toEqual([
      { text: 'certificate: 10 days left', tone: 'warn' },
      { text: 'covers www.forgewatch.test', tone: 'ok' },
      { text: 'not covered: forgewatch.test', tone: 'fail' },
    ]);
    const alertOnly = factsFor('tls', rec.result.details).filter((f) => f.alertOnly);
    expect(alertOnly.map((f) => f.text)).toEqual(
      expect.arrayContaining(['SANs: www.forgewatch.test', 'TLS problems: name_not_covered, expires_soon']),
    );
    expectShownEverywhere(rec);
  });

  it('tls: five days left is inside the default fail_before of 7 days, so it fails like the check', async () => {
    const fiveDays = await createSelfSignedLeaf({ sans: ['soon.forgewatch.test'], notAfter: days(5) });
    const server = await serveHttps(fiveDays.cert, fiveDays.key);
    try {
      const rec = await runCheck(`name: cert-soon
type: tls
host: 127.0.0.1
port: ${server.port}
server_name: soon.forgewatch.test
ca_file: ${writePem(dir, 'five-days.pem', fiveDays.cert)}`);
      expect(rec.result.status).toBe('fail');
      expect(summary(rec)).toEqual([
        { text: 'certificate: 5 days left', tone: 'fail' },
        { text: 'covers soon.forgewatch.test', tone: 'ok' },
      ]);
      expectShownEverywhere(rec);
    } finally {
      await server.close();
    }
  });

  it('http: the served certificate of an https:// URL; raw fields only in alerts', async () => {
    const secure = await runCheck(`name: site
type: http
url: https://www.forgewatch.test:${tenDaysServer.port}/
resolve: 127.0.0.1
tls: { ca_file: ${path.join(dir, 'ten-days.pem')} }`);
    expect(secure.result.status).toBe('warn');
    expect(summary(secure)).toEqual([
      { text: 'certificate: 10 days left', tone: 'warn' },
      { text: 'covers www.forgewatch.test', tone: 'ok' },
    ]);
    expectShownEverywhere(secure);

    const insecure = await runCheck(`name: plain
type: http
url: ${plain.url}/`);
    expect(summary(insecure)).toEqual([]);
    const lines = factsFor('http', insecure.result.details).map((f) => f.text);
    expect(lines).toContain('status_code: 200');
    expect(lines.find((l) => l.startsWith('timings_ms: {'))).toBeDefined();
    expectShownEverywhere(insecure);
  });

  it('cert_file: each file by its last two path segments, escaped on the page', async () => {
    const apex = await createSelfSignedLeaf({
      sans: ['forgewatch.test', 'www.forgewatch.test'],
      notAfter: days(60),
    });
    for (const [name, pem] of [
      ['www.forgewatch.test', tenDays.cert],
      ['<b>&apex', apex.cert],
    ] as const) {
      mkdirSync(path.join(dir, 'live', name), { recursive: true });
      writeFileSync(path.join(dir, 'live', name, 'fullchain.pem'), pem);
    }
    const rec = await runCheck(`name: certbot-files
type: cert_file
path: '${dir}/live/*/fullchain.pem'
names: [forgewatch.test, www.forgewatch.test]`);
    const facts = summaryFacts('cert_file', rec.result.details);
    expect(facts.map(({ text, tone }) => ({ text, tone })).sort((a, b) => a.text.localeCompare(b.text))).toEqual([
      { text: '<b>&apex/fullchain.pem: 60 days left', tone: 'ok' },
      { text: 'www.forgewatch.test/fullchain.pem: 10 days left, does not cover forgewatch.test', tone: 'fail' },
    ]);
    // The label keeps the full path (the page shows it on hover).
    expect(facts.map((f) => f.label).sort()).toEqual([
      path.join(dir, 'live', '<b>&apex', 'fullchain.pem'),
      path.join(dir, 'live', 'www.forgewatch.test', 'fullchain.pem'),
    ]);
    const { page } = pageFacts(rec);
    expect(page).toContain('&lt;b&gt;&amp;apex/fullchain.pem: 60 days left');
    expect(page).not.toContain('<b>');
    expectShownEverywhere(rec);
  });

  it('port: where the listener is bound', async () => {
    const rec = await runCheck(`name: app-port
type: port
port: ${plain.port}`);
    expect(rec.result.status).toBe('ok');
    expect(summary(rec)).toEqual([{ text: `bound to 127.0.0.1:${plain.port}`, tone: 'neutral' }]);
    expect(factsFor('port', rec.result.details).map((f) => f.text)).toContain('listening: true');
    expectShownEverywhere(rec);
  });

  it('dns: the reason says it all; the answers are listed in alerts only', async () => {
    const rec = await runCheck(`name: api-dns
type: dns
host: api.forgewatch.test
server: ${dns.address}
expect: [10.9.9.9]`);
    expect(rec.result.status).toBe('fail');
    expect(summary(rec)).toEqual([]);
    expect(factsFor('dns', rec.result.details).map((f) => f.text)).toEqual(
      expect.arrayContaining(['answers: ["10.1.2.3"]', 'expected: ["10.9.9.9"]']),
    );
    expectShownEverywhere(rec);
  });

  it('container: state, restarts and exit code; in alerts the last log lines too', async () => {
    const podman = await startPodman();
    try {
      await podman.runContainer('fw-facts', [], ['/bin/sh', '-c', 'echo "database is locked"; exit 3']);
      await waitFor(
        async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-facts'])) === 'exited',
        30_000,
        200,
      );
      const rec = await runCheck(`name: worker
type: container
container: fw-facts
socket: ${podman.socket}
timeout: 10s`);
      expect(rec.result.status).toBe('fail');
      expect(summary(rec)).toEqual([{ text: 'fw-facts: exited, 0 restarts, exit 3', tone: 'fail' }]);
      const alertOnly = factsFor('container', rec.result.details).filter((f) => f.alertOnly);
      expect(alertOnly.map((f) => f.text)).toEqual(
        expect.arrayContaining([
          'fw-facts: restart count 0, exit code 3, not OOM killed',
          // Each log line as the engine timestamps it.
          expect.stringMatching(/^last log lines of fw-facts:\n {2}\| \S+ database is locked$/),
        ]),
      );
      expectShownEverywhere(rec);
    } finally {
      await podman.close();
    }
  }, 90_000);
});

describe('forgewatch check prints the facts under each row', () => {
  it('with their tone in the STATUS column', async () => {
    const file = path.join(dir, 'cli.yaml');
    writeFileSync(
      file,
      `checks:
  - name: cert-www
    type: tls
    host: 127.0.0.1
    port: ${tenDaysServer.port}
    server_name: www.forgewatch.test
    names: [forgewatch.test, www.forgewatch.test]
    ca_file: ${path.join(dir, 'ten-days.pem')}
  - name: plain
    type: http
    url: ${plain.url}/
`,
    );
    const res = await runCli(['check', '-c', file]);
    expect(res.code).toBe(1);
    const lines = res.stdout.split('\n');
    const row = lines.findIndex((l) => /^cert-www\s+FAIL\s+/.test(l));
    expect(row).toBeGreaterThan(0);
    expect(lines.slice(row + 1, row + 4).map((l) => l.trim().split(/\s{2,}/))).toEqual([
      ['warn', 'certificate: 10 days left'],
      ['ok', 'covers www.forgewatch.test'],
      ['fail', 'not covered: forgewatch.test'],
    ]);
    // A check without facts keeps its single row.
    expect(lines[row + 4]).toMatch(/^plain\s+OK\s+status 200 in/);
  });
});
