import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from './helpers/checks.js';
import { freePort, httpServer, listen, type Started } from './helpers/servers.js';

let server: Started<http.Server>;
const seenHosts: string[] = [];

beforeAll(async () => {
  server = await httpServer((req, res) => {
    seenHosts.push(req.headers.host ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/health':
        res.writeHead(200, { 'content-type': 'application/json', 'x-version': '1.4.2' });
        res.end(JSON.stringify({ status: 'ok', db: { connected: true }, items: [{ id: 7 }] }));
        return;
      case '/bad-gateway':
        res.writeHead(502, { server: 'nginx' }).end('<html>502 Bad Gateway</html>');
        return;
      case '/slow':
        setTimeout(() => res.writeHead(200).end('late'), 5_000).unref();
        return;
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return; // never ends
      case '/huge': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 120);
        let sent = 0;
        const pump = () => {
          while (sent < 50 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
        return;
      }
      case '/hints':
        // An informational answer first (103 Early Hints), then the real one, with a header sent twice.
        res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' }, () => {
          res.writeHead(200, [
            ['Content-Type', 'text/plain'],
            ['Set-Cookie', 'a=1'],
            ['Set-Cookie', 'b=2'],
          ]);
          res.end('ready');
        });
        return;
      case '/hints-only':
        res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' });
        return; // the real answer never comes
      case '/a':
        res.writeHead(302, { location: '/b' }).end();
        return;
      case '/b':
        res.writeHead(302, { location: '/a' }).end();
        return;
      case '/hop':
        res.writeHead(301, { location: '/health' }).end();
        return;
      case '/to-https':
        res.writeHead(301, { location: `https://forgetrace.test${url.pathname}` }).end();
        return;
      default:
        res.writeHead(404).end('not found');
    }
  });
});

afterAll(() => server.close());

const check = (path: string, extra = '') => `name: t\ntype: http\nurl: ${server.url}${path}\n${extra}`;

describe('http probe', () => {
  it('passes a healthy endpoint and reports phase timings and observations', async () => {
    const { result } = await runCheck(check('/health'));
    expect(result.status).toBe('ok');
    expect(result.reason).toMatch(/^status 200 in /);
    expect(Object.keys(result.timings)).toEqual(
      expect.arrayContaining(['dns', 'connect', 'tls', 'ttfb', 'transfer', 'total']),
    );
    expect(result.observations).toContainEqual({ metric: 'forgewatch_http_status_code', value: 200 });
    expect(result.details).toMatchObject({ status_code: 200, address: '127.0.0.1' });
  });

  it('fails a status mismatch and explains a proxy 502', async () => {
    const { result } = await runCheck(check('/bad-gateway', 'expect: { status: [200] }'));
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('status 502, expected 200');
    expect(result.hint).toMatch(/upstream/);
  });

  it('accepts status ranges', async () => {
    const { result } = await runCheck(check('/bad-gateway', 'expect: { status: ["500-599"] }'));
    expect(result.status).toBe('ok');
  });

  it.each([
    ['body_contains: \'"ok"\'', 'ok'],
    ['body_contains: degraded', 'fail'],
    ['body_regex: \'"status":\\s*"ok"\'', 'ok'],
    ['body_regex: \'"status":\\s*"down"\'', 'fail'],
    ['json: { status: ok, db.connected: true, items.0.id: 7 }', 'ok'],
    ['json: { db.connected: false }', 'fail'],
    ["header: { x-version: '^1\\.' }", 'ok'],
    ["header: { x-version: '^2\\.' }", 'fail'],
    ['header: { x-missing: yes }', 'fail'],
    ['max_response_time: 1ms', 'fail'],
    ['max_response_time: 5s', 'ok'],
  ])('expect %s -> %s', async (expectation, wanted) => {
    const { result } = await runCheck(check('/health', `expect: { ${expectation} }`));
    expect(result.status, result.reason).toBe(wanted);
  });

  it('reads the final answer after a 103 Early Hints, and a header sent twice as both values', async () => {
    const { result } = await runCheck(check('/hints', 'expect: { status: [200], body_contains: ready }'));
    expect(result.status, result.reason).toBe('ok');
    expect(result.details).toMatchObject({ status_code: 200, body_bytes: 5 });
    const cookies = await runCheck(check('/hints', "expect: { header: { set-cookie: '^a=1, b=3$' } }"));
    expect(cookies.result.reason).toBe('header set-cookie is "a=1, b=2", expected /^a=1, b=3$/');
  });

  it('still waits for the answer after a 103 Early Hints: the hints are no status and no body', async () => {
    const { result } = await runCheck(check('/hints-only', 'timeout: 300ms'));
    expect(result.reason).toMatch(/^timeout after 300ms receiving the response headers \(\d+ bytes arrived\)$/);
    expect(result.details).not.toHaveProperty('status_code');
  });

  it('names the json path and the value it found', async () => {
    const { result } = await runCheck(check('/health', 'expect: { json: { db.connected: false, status: ok } }'));
    expect(result.reason).toBe('json db.connected is true, expected false');
  });

  it('compares an expected object or list as a whole, and names the path and both values when they differ', async () => {
    const whole = await runCheck(check('/health', 'expect: { json: { db: { connected: true }, items: [{ id: 7 }] } }'));
    expect(whole.result.status, whole.result.reason).toBe('ok');
    const differs = await runCheck(check('/health', 'expect: { json: { status: ok, db: { connected: false } } }'));
    expect(differs.result.status).toBe('fail');
    expect(differs.result.reason).toBe('json db is {"connected":true}, expected {"connected":false}');
    const longer = await runCheck(check('/health', 'expect: { json: { items: [{ id: 7 }, { id: 8 }] } }'));
    expect(longer.result.reason).toBe('json items is [{"id":7}], expected [{"id":7},{"id":8}]');
    const missing = await runCheck(check('/health', 'expect: { json: { db.pool: { size: 5 } } }'));
    expect(missing.result.reason).toBe('json db.pool is missing, expected {"size":5}');
  });

  it('enforces the timeout and names the phase it was in', async () => {
    const { result } = await runCheck(check('/slow', 'timeout: 300ms'));
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('timeout after 300ms waiting for the first byte');
    expect(result.hint).toMatch(/application never answered/);
  });

  it('times out a body that never ends', async () => {
    const { result } = await runCheck(check('/stall-body', 'timeout: 300ms'));
    expect(result.reason).toBe('timeout after 300ms reading the body');
  });

  it('stops reading at max_body and keeps memory bounded on a 50 MB body', async () => {
    const before = process.memoryUsage().rss;
    const { result } = await runCheck(check('/huge', 'max_body: 1MiB'));
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('body exceeds 1MiB');
    expect(process.memoryUsage().rss - before).toBeLessThan(40 * 1024 * 1024);
  });

  it('follows redirects and detects a loop', async () => {
    expect((await runCheck(check('/hop'))).result).toMatchObject({ status: 'ok', details: { redirects: 1 } });
    const { result } = await runCheck(check('/a'));
    expect(result.reason).toBe('redirect loop: /a -> /b -> /a');
    expect(result.hint).toMatch(/X-Forwarded-Proto/);
  });

  it('asserts an HTTP->HTTPS redirect itself with follow_redirects: false', async () => {
    const ok = await runCheck(
      check('/to-https', "follow_redirects: false\nexpect: { status: [301], header: { location: '^https://' } }"),
    );
    expect(ok.result.status).toBe('ok');
    const unexpected = await runCheck(check('/to-https', 'follow_redirects: false'));
    expect(unexpected.result.reason).toBe('status 301, expected 200-299');
    expect(unexpected.result.hint).toMatch(/redirects to https:\/\/forgetrace\.test/);
  });

  it('reports a refused connection with a hint about the container and the port', async () => {
    const port = await freePort();
    const { result } = await runCheck(`name: t\ntype: http\nurl: http://127.0.0.1:${port}/health`);
    expect(result.reason).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(result.hint).toMatch(/container/);
    expect(result.hint).toMatch(/systemd/);
    // The fix: start the service (is its container up?), or find what else holds the port.
    expect(result.hint).toContain(`Nothing is listening on 127.0.0.1:${port}.`);
    expect(result.hint).toContain('Is the container up and not restarting (docker ps)?');
    expect(result.hint).toContain(`(ss -tlnp | grep :${port})`);
  });

  it('reports a DNS failure for a name under .invalid', async () => {
    const { result } = await runCheck('name: t\ntype: http\nurl: http://forgewatch-nowhere.invalid/health');
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('dns: cannot resolve forgewatch-nowhere.invalid (no such host)');
    expect(result.hint).toMatch(/DNS record/);
  });

  it('connects to resolve: while keeping the Host from the URL', async () => {
    const { result } = await runCheck(
      `name: t\ntype: http\nurl: http://api.forgetrace.test:${server.port}/health\nresolve: 127.0.0.1`,
    );
    expect(result.status).toBe('ok');
    expect(seenHosts).toContain(`api.forgetrace.test:${server.port}`);
  });

  it('fails, with a reason, on a server that resets the connection', async () => {
    const resetter = await listen(net.createServer((s) => s.resetAndDestroy()));
    try {
      const { result } = await runCheck(`name: t\ntype: http\nurl: ${resetter.url}/`);
      expect(result.status).toBe('fail');
      expect(result.reason).toMatch(/connection reset|closed/);
    } finally {
      await resetter.close();
    }
  });

  it('times out connecting to a server that accepts and never answers', async () => {
    const silent = await listen(net.createServer(() => undefined));
    try {
      const { result } = await runCheck(`name: t\ntype: http\nurl: ${silent.url}/\ntimeout: 300ms`);
      expect(result.reason).toBe('timeout after 300ms waiting for the first byte');
    } finally {
      await silent.close();
    }
  });

  it.each([
    [
      'huge headers',
      (s: net.Socket) => s.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(200_000)}\r\n\r\n`),
      /response headers from 127\.0\.0\.1:\d+ are too large/,
      /oversized headers: usually a cookie or redirect loop/,
    ],
    [
      'garbage instead of HTTP',
      (s: net.Socket) => s.write('SSH-2.0-OpenSSH_9.2\r\n'),
      /127\.0\.0\.1:\d+ did not answer HTTP/,
      /Something other than an HTTP server answers on this port .*: check the URL scheme and port\./,
    ],
  ])('fails with a reason and a hint naming the cause, never a crash, on %s', async (_label, speak, reason, hint) => {
    const hostile = await listen(
      net.createServer((s) => {
        s.on('error', () => undefined);
        s.once('data', () => speak(s));
      }),
    );
    try {
      const { result } = await runCheck(`name: t\ntype: http\nurl: ${hostile.url}/\ntimeout: 2s`);
      expect(result.status).toBe('fail');
      expect(result.reason).toMatch(reason);
      expect(result.hint).toMatch(hint);
    } finally {
      await hostile.close();
    }
  });
});
