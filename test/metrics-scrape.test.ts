/** /metrics as Prometheus asks for it (gzip), and per-check text kept between scrapes but never stale. */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForgewatch, type RunningForgewatch } from './helpers/service.js';
import { httpServer, type Started } from './helpers/servers.js';

let target: Started<http.Server>;
let webStatus = 200;
let fw: RunningForgewatch;

beforeAll(async () => {
  target = await httpServer((req, res) => {
    res.writeHead(req.url === '/web' ? webStatus : 200).end('ok');
  });
  fw = await startForgewatch(`defaults: { interval: 1h, failure_threshold: 1 }
checks:
  - { name: web, type: http, url: "${target.url}/web" }
  - { name: api, type: http, url: "${target.url}/api" }
`);
});
afterAll(async () => {
  await fw.close();
  await target.close();
});

/** GET with node:http, which leaves the body as sent (fetch would decompress it). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The lines of the per-check families, which do not move between two scrapes unless a check runs. */
const checkLines = (text: string) =>
  text.split('\n').filter((l) => /^forgewatch_(check|http)_/.test(l) || /^# (HELP|TYPE) forgewatch_/.test(l));
const families = (text: string) => text.split('\n').filter((l) => l.startsWith('# TYPE '));
const sample = (text: string, series: string) =>
  text
    .split('\n')
    .find((l) => l.startsWith(`${series} `))
    ?.split(' ')[1];

async function runChecks(): Promise<void> {
  await fetch(`${fw.url}/check`);
}

describe('/metrics', () => {
  it('answers gzip when asked for it, with the same families and series as the plain text', async () => {
    await runChecks();
    const gzipped = await rawGet(`${fw.url}/metrics`, { 'accept-encoding': 'gzip' });
    const plain = await rawGet(`${fw.url}/metrics`, {});
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(Number(gzipped.headers['content-length'])).toBe(gzipped.body.length);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
    const unzipped = gunzipSync(gzipped.body).toString('utf8');
    const text = plain.body.toString('utf8');
    expect(families(unzipped)).toEqual(families(text));
    expect(checkLines(unzipped)).toEqual(checkLines(text));
    expect(sample(unzipped, 'forgewatch_http_status_code{check="web"}')).toBe('200');
    expect(gzipped.body.length).toBeLessThan(text.length);
  });

  it('shows the new result of a check that ran again after a scrape', async () => {
    webStatus = 200;
    await runChecks();
    const before = await (await fetch(`${fw.url}/metrics`)).text();
    expect(sample(before, 'forgewatch_http_status_code{check="web"}')).toBe('200');
    expect(sample(before, 'forgewatch_check_up{check="web",type="http"}')).toBe('1');
    const failedBefore = Number(sample(before, 'forgewatch_check_runs_total{check="web",type="http",result="fail"}'));

    webStatus = 503;
    await fetch(`${fw.url}/check?name=web`);
    const after = await (await fetch(`${fw.url}/metrics`)).text();
    expect(sample(after, 'forgewatch_http_status_code{check="web"}')).toBe('503');
    expect(sample(after, 'forgewatch_check_up{check="web",type="http"}')).toBe('0');
    expect(sample(after, 'forgewatch_check_status{check="web",type="http",status="fail"}')).toBe('1');
    expect(Number(sample(after, 'forgewatch_check_runs_total{check="web",type="http",result="fail"}'))).toBe(
      failedBefore + 1,
    );
    // The check that did not run keeps its lines as they were.
    const apiLines = (text: string) => checkLines(text).filter((l) => l.includes('check="api"'));
    expect(apiLines(after)).toEqual(apiLines(before));
  });
});
