/**
 * Requests the API must refuse plainly: silences of absurd length, an empty check name, a body sent where none is
 * read, JSON that does not parse or is too large, and a route that throws. No answer carries a stack or a path.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/server/app.js';
import { captureLogger, type CapturedLog } from './helpers/alerts.js';
import { httpServer, type Started } from './helpers/servers.js';
import { runCli, startForgewatch, type RunningForgewatch } from './helpers/service.js';

const TOKEN = 'api-errors-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let target: Started<http.Server>;
let fw: RunningForgewatch;
let log: CapturedLog;
const hits: string[] = [];

/** Two checks on the target, and a third one when `extra` is set (to tell whether a reload happened). */
const config = (extra = false) => `server:
  token: ${TOKEN}
defaults: { interval: 1h }
checks:
  - { name: web, type: http, url: "${target.url}/web" }
  - { name: api, type: http, url: "${target.url}/api" }
${extra ? `  - { name: extra, type: http, url: "${target.url}/extra" }\n` : ''}`;

beforeAll(async () => {
  target = await httpServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('ok');
  });
  log = captureLogger();
  fw = await startForgewatch(config(), { logger: log.logger });
});
afterAll(async () => {
  await fw.close();
  await target.close();
});

/** No installation path (this checkout, node_modules) and no JS stack frame in what a client reads. */
function expectNothingInternal(text: string): void {
  expect(text).not.toContain(process.cwd());
  expect(text).not.toMatch(/node_modules|\n\s+at |\.ts:\d+|\.js:\d+/);
}

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${fw.url}${path}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  expectNothingInternal(text);
  return { status: res.status, error: (JSON.parse(text) as { error?: string }).error };
}

describe('POST /api/silences bounds', () => {
  const silence = (fields: object) => post('/api/silences', JSON.stringify({ match: { check: 'web' }, ...fields }));
  const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

  it('refuses a duration past a year with the allowed range, not a 500', async () => {
    expect(await silence({ duration: '100000000d' })).toEqual({
      status: 400,
      error: 'duration: must be 1s to 365d (1 year), got "100000000d"',
    });
    expect((await silence({ duration: '366d' })).error).toMatch(/^duration: must be 1s to 365d/);
    expect((await silence({ duration: '500ms' })).error).toMatch(/^duration: must be 1s to 365d/);
  });

  it('refuses an until in the past or more than a year ahead, and a from that pushes the end past a year', async () => {
    expect(await silence({ until: inHours(-1) })).toEqual({
      status: 400,
      error: expect.stringMatching(/^until: must be in the future, got /),
    });
    expect(await silence({ until: inHours(24 * 400) })).toEqual({
      status: 400,
      error: 'until: a silence must end within 365d (1 year) from now',
    });
    expect(await silence({ from: '9999-12-31T00:00:00Z', duration: '1h' })).toEqual({
      status: 400,
      error: 'from + duration: a silence must end within 365d (1 year) from now',
    });
  });

  it('still accepts a silence inside the range', async () => {
    expect((await silence({ duration: '364d', reason: 'bounded' })).status).toBe(201);
    expect((await silence({ until: inHours(2), reason: 'until' })).status).toBe(201);
    const listed = (await (await fetch(`${fw.url}/api/silences`, { headers: auth })).json()) as {
      silences: { reason: string }[];
    };
    expect(listed.silences.map((s) => s.reason)).toEqual(expect.arrayContaining(['bounded', 'until']));
  });

  it('answers malformed JSON with 400 and a body over 16kb with 413, in plain words', async () => {
    expect(await post('/api/silences', '{"match": {"check": "web"}, "duration": ')).toEqual({
      status: 400,
      error: 'request body must be a JSON object of at most 16kb: request body is not valid JSON',
    });
    const huge = JSON.stringify({ match: { check: 'web' }, duration: '1h', reason: 'x'.repeat(2_000_000) });
    expect(await post('/api/silences', huge)).toEqual({
      status: 413,
      error: 'request body must be a JSON object of at most 16kb: request body is larger than 16384 bytes',
    });
  });
});

describe('GET /check with an empty name', () => {
  it('answers 400 and runs nothing', async () => {
    const before = hits.length;
    for (const query of ['name=', 'name=web&name=']) {
      const res = await fetch(`${fw.url}/check?${query}`, { headers: auth });
      expect({ query, status: res.status, body: await res.json() }).toEqual({
        query,
        status: 400,
        body: { error: 'a check name is empty: give the name of a configured check' },
      });
    }
    expect(hits.length).toBe(before);
  });

  it('exits 2 from forgewatch check --name ""', async () => {
    const res = await runCli(['check', '-c', fw.configFile, '--name', '']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('forgewatch: a check name is empty: give the name of a configured check');
  });
});

describe('POST /-/reload with a body', () => {
  it('refuses a 50 MiB body after its first bytes, without waiting for the rest, and does not reload', async () => {
    fw.writeConfig(config(true));
    const size = 50 * 1024 * 1024;
    const req = http.request(`${fw.url}/-/reload`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': size },
    });
    req.on('error', () => undefined);
    // Only the first 64 KiB go out: an answer can only come if the server refuses without reading the rest.
    req.write(Buffer.alloc(64 * 1024));
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    let text = '';
    for await (const chunk of res) text += String(chunk);
    req.destroy();
    expect(res.statusCode).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(text)).toEqual({
      error: '/-/reload takes no request body (52428800 bytes sent); send an empty POST, e.g. curl -X POST',
    });
    expect(fw.service.monitor.checks.map((c) => c.name)).toEqual(['web', 'api']);
  });

  it('refuses a small or chunked body too, and still reloads on an empty POST', async () => {
    expect(await post('/-/reload', '{}')).toEqual({
      status: 413,
      error: '/-/reload takes no request body (2 bytes sent); send an empty POST, e.g. curl -X POST',
    });
    const chunked = await fetch(`${fw.url}/-/reload`, {
      method: 'POST',
      headers: auth,
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('x'));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { error: string }).error).toMatch(
      /^\/-\/reload takes no request body \(a chunked/,
    );
    const empty = await fetch(`${fw.url}/-/reload`, { method: 'POST', headers: auth });
    expect(await empty.json()).toEqual({ reloaded: true, checks: 3 });
    fw.writeConfig(config());
    expect(await (await fetch(`${fw.url}/-/reload`, { method: 'POST', headers: auth })).json()).toEqual({
      reloaded: true,
      checks: 2,
    });
  });
});

describe('a route that throws', () => {
  let server: http.Server;
  let url: string;
  let appLog: CapturedLog;

  beforeAll(async () => {
    appLog = captureLogger();
    const { monitor, metrics, scheduler } = fw.service;
    const app = createApp({
      monitor,
      metrics,
      scheduler,
      reload: async () => undefined,
      startedAt: new Date(),
      logger: appLog.logger,
      routes: [
        (a) => {
          a.get('/throws', () => {
            throw new Error(`cannot open ${process.cwd()}/state/secret.json`);
          });
          a.get('/rejects', async () => {
            await Promise.resolve();
            throw new TypeError("Cannot read properties of undefined (reading 'x')");
          });
        },
      ],
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers 500 "internal error" without the message or stack, and logs the error', async () => {
    for (const path of ['/throws', '/rejects']) {
      const res = await fetch(`${url}${path}`);
      const text = await res.text();
      expect({ path, status: res.status, body: JSON.parse(text) }).toEqual({
        path,
        status: 500,
        body: { error: 'internal error' },
      });
      expectNothingInternal(text);
    }
    const logged = appLog.events('api_error');
    expect(logged.map((l) => [l.method, l.path, l.error])).toEqual([
      ['GET', '/throws', `cannot open ${process.cwd()}/state/secret.json`],
      ['GET', '/rejects', "Cannot read properties of undefined (reading 'x')"],
    ]);
    expect(logged[0]?.stack).toMatch(/api-errors\.test\.ts/);
  });
});
