/** What an http check sends hop by hop, how it names its targets, and what a failed run still reports. */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import { freePort, listen, type Started } from './helpers/servers.js';

interface Seen {
  server: 'a' | 'b';
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let a: Started<http.Server>;
let b: Started<http.Server>;

function recorder(
  name: Seen['server'],
  route: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): http.Server {
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ server: name, path: req.url ?? '', method: req.method ?? '', headers: req.headers, body });
      route(req, res, body);
    });
  });
}

const ALICE = `Basic ${Buffer.from('alice:s3cr@t').toString('base64')}`;

beforeAll(async () => {
  b = await listen(recorder('b', (_req, res) => res.end('b')));
  a = await listen(
    recorder('a', (req, res) => {
      const path = req.url ?? '/';
      const spin = /^\/spin\/(\d+)$/.exec(path);
      if (path === '/to-b') res.writeHead(302, { location: `${b.url}/landing` }).end();
      else if (path === '/same') res.writeHead(302, { location: '/landing' }).end();
      else if (path === '/see-other') res.writeHead(303, { location: '/done' }).end();
      else if (path === '/moved') res.writeHead(301, { location: '/done' }).end();
      else if (path === '/temporary') res.writeHead(307, { location: '/done' }).end();
      else if (path === '/bad-location') res.writeHead(302, { location: 'http://[bad' }).end();
      else if (path === '/to-ftp') res.writeHead(302, { location: 'ftp://files.example/x' }).end();
      else if (spin) res.writeHead(302, { location: `/spin/${Number(spin[1]) + 1}` }).end();
      else if (path === '/private') res.writeHead(req.headers.authorization === ALICE ? 200 : 401).end();
      else if (path === '/slow') setTimeout(() => res.end('late'), 5_000).unref();
      else if (path === '/stall') res.writeHead(200).write('partial');
      else res.end('ok');
    }),
  );
});

afterAll(async () => {
  await a.close();
  await b.close();
});

function requestsTo(server: Seen['server'], path: string): Seen[] {
  return seen.filter((s) => s.server === server && s.path === path);
}

describe('redirects', () => {
  it('drops credentials when a redirect leaves the origin, and keeps them within it', async () => {
    const headers =
      "headers: { authorization: 'Bearer tok', Cookie: 'sid=1', proxy-authorization: 'Basic cHJveHk=', x-trace: keep }";
    expect((await runCheck(`name: t\ntype: http\nurl: ${a.url}/to-b\n${headers}`)).result.status).toBe('ok');
    const landed = requestsTo('b', '/landing').at(-1);
    expect(landed?.headers).toMatchObject({ 'x-trace': 'keep' });
    expect(landed?.headers).not.toHaveProperty('authorization');
    expect(landed?.headers).not.toHaveProperty('cookie');
    expect(landed?.headers).not.toHaveProperty('proxy-authorization');

    expect((await runCheck(`name: t\ntype: http\nurl: ${a.url}/same\n${headers}`)).result.status).toBe('ok');
    expect(requestsTo('a', '/landing').at(-1)?.headers).toMatchObject({ authorization: 'Bearer tok', cookie: 'sid=1' });
  });

  it.each([
    ['303 after a PUT', '/see-other', 'PUT'],
    ['303 after a POST', '/see-other', 'POST'],
    ['301 after a POST', '/moved', 'POST'],
  ])('sends no body and no body headers after a %s turns the request into GET', async (_label, path, method) => {
    const before = requestsTo('a', '/done').length;
    const { result } = await runCheck(
      `name: t\ntype: http\nurl: ${a.url}${path}\nmethod: ${method}\nheaders: { content-type: application/json }\nbody: '{"order":42}'`,
    );
    expect(result.status).toBe('ok');
    const done = requestsTo('a', '/done').slice(before);
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ method: 'GET', body: '' });
    expect(done[0]?.headers).not.toHaveProperty('content-type');
    expect(done[0]?.headers).not.toHaveProperty('content-length');
  });

  it('resends the method and body on a 307', async () => {
    await runCheck(
      `name: t\ntype: http\nurl: ${a.url}/temporary\nmethod: POST\nheaders: { content-type: application/json }\nbody: '{"order":42}'`,
    );
    expect(requestsTo('a', '/done').at(-1)).toMatchObject({
      method: 'POST',
      body: '{"order":42}',
      headers: expect.objectContaining({ 'content-type': 'application/json' }),
    });
  });

  it('names an invalid Location and an unsupported scheme in words', async () => {
    const bad = (await runCheck(`name: t\ntype: http\nurl: ${a.url}/bad-location`)).result;
    expect(bad.status).toBe('fail');
    expect(bad.reason).toBe(`redirect to an invalid Location "http://[bad" from ${a.url}/bad-location`);
    expect(bad.hint).toMatch(/Location header/);
    const ftp = (await runCheck(`name: t\ntype: http\nurl: ${a.url}/to-ftp`)).result;
    expect(ftp.reason).toBe(`redirect to unsupported scheme ftp: (ftp://files.example/x) from ${a.url}/to-ftp`);
    expect(ftp.hint).toMatch(/only http:\/\/ and https:\/\//);
    expect(ftp.details).toMatchObject({ status_code: 302 });
  });
});

describe('credentials in the URL', () => {
  const url = (path: string) => a.url.replace('http://', 'http://alice:s3cr%40t@') + path;

  it('sends them as Basic auth and never shows the password', async () => {
    const { result } = await runCheck(`name: t\ntype: http\nurl: ${url('/private')}`);
    expect(result.status).toBe('ok');
    expect(result.details).toMatchObject({
      url: url('/private').replace('s3cr%40t', '***'),
      final_url: url('/private').replace('s3cr%40t', '***'),
    });
    expect(JSON.stringify(result)).not.toMatch(/s3cr/);
  });

  it('redacts them in reasons about redirects', async () => {
    const { result } = await runCheck(`name: t\ntype: http\nurl: ${url('/spin/0')}`);
    expect(result.reason).toBe(`more than 10 redirects, last to ${url('/spin/11').replace('s3cr%40t', '***')}`);
    expect(JSON.stringify(result)).not.toMatch(/s3cr/);
  });
});

describe('where a failure happened', () => {
  it('names a refused IPv6 loopback address once bracketed, with the local hint', async () => {
    const port = await freePort('::1');
    const { result } = await runCheck(`name: t\ntype: http\nurl: http://[::1]:${port}/health`);
    expect(result.reason).toBe(`connect ECONNREFUSED [::1]:${port}`);
    expect(result.hint).toMatch(/Is the container up/);
  });

  it('names the address dialled with resolve:, and gives the local hint for a loopback one', async () => {
    const port = await freePort();
    const { result } = await runCheck(
      `name: t\ntype: http\nurl: http://api.forgetrace.test:${port}/health\nresolve: 127.0.0.1`,
    );
    expect(result.reason).toBe(`connect ECONNREFUSED 127.0.0.1:${port} (api.forgetrace.test)`);
    expect(result.hint).toMatch(/Is the container up/);
  });
});

describe('timings in details', () => {
  const phasesOf = (details: JsonObject) => Object.keys(details.timings_ms as JsonObject).sort();

  it('reports every phase and the total after a success', async () => {
    const { result } = await runCheck(`name: t\ntype: http\nurl: ${a.url}/`);
    expect(phasesOf(result.details)).toEqual(['connect', 'dns', 'tls', 'total', 'transfer', 'ttfb']);
    expect(Object.values(result.details.timings_ms as JsonObject).every((v) => typeof v === 'number' && v >= 0)).toBe(
      true,
    );
  });

  it('reports the phases measured before a timeout, and no status when none came', async () => {
    const { result } = await runCheck(`name: t\ntype: http\nurl: ${a.url}/slow\ntimeout: 300ms`);
    expect(result.reason).toBe('timeout after 300ms waiting for the first byte');
    expect(phasesOf(result.details)).toEqual(['connect', 'dns', 'total']);
    expect(result.details).not.toHaveProperty('status_code');
    expect(result.observations.map((o) => o.labels?.phase ?? o.metric).sort()).toEqual(['connect', 'dns']);
  });

  it('keeps the status code of a response whose body then stalled', async () => {
    const { result } = await runCheck(`name: t\ntype: http\nurl: ${a.url}/stall\ntimeout: 300ms`);
    expect(result.reason).toBe('timeout after 300ms reading the body');
    expect(result.details).toMatchObject({ status_code: 200, address: '127.0.0.1' });
    expect(phasesOf(result.details)).toEqual(['connect', 'dns', 'total', 'ttfb']);
    expect(result.observations).toContainEqual({ metric: 'forgewatch_http_status_code', value: 200 });
    expect(result.observations).toContainEqual(
      expect.objectContaining({ metric: 'forgewatch_http_phase_seconds', labels: { phase: 'ttfb' } }),
    );
  });
});
