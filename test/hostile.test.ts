import { writeFileSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from './helpers/checks.js';
import {
  DEEP_JSON_LEVELS,
  HOSTILE_PATHS,
  hostileServer,
  MANY_HEADERS,
  REDIRECT_HOPS,
  tlsHangServer,
} from './helpers/hostile.js';
import type { Started } from './helpers/servers.js';
import { runCli, startForgewatch, tempDir } from './helpers/service.js';

let target: Started<net.Server>;
let tlsHang: Started<net.Server>;
/** One check, written as a YAML flow map, through the real loader and probe. */
const probe = async (check: object) => (await runCheck(JSON.stringify(check))).result;

beforeAll(async () => {
  target = await hostileServer();
  tlsHang = await tlsHangServer();
});
afterAll(async () => {
  await target.close();
  await tlsHang.close();
});

/** What each hostile path must give: a failed check (or a harmless pass) with a reason a person understands. */
const EXPECTED: Record<(typeof HOSTILE_PATHS)[number], { status: 'ok' | 'fail'; reason: RegExp }> = {
  '/silent': { status: 'fail', reason: /^timeout after 1s waiting for the first byte$/ },
  '/slow-status': {
    status: 'fail',
    reason: /^timeout after 1s receiving the response headers \(\d+ bytes? arrived\)$/,
  },
  '/slow-headers': {
    status: 'fail',
    reason: /^timeout after 1s receiving the response headers \(\d+ bytes arrived\)$/,
  },
  '/slow-body': { status: 'fail', reason: /^timeout after 1s reading the body$/ },
  '/endless': { status: 'fail', reason: /^body exceeds 1MiB$/ },
  '/many-headers': { status: 'fail', reason: /^response headers from 127\.0\.0\.1:\d+ are too large \(over 16 KiB\)$/ },
  // Never inflated: the body is compared as sent, so the bomb costs 20 KB.
  '/gzip-bomb': { status: 'ok', reason: /^status 200 in / },
  '/garbage': { status: 'fail', reason: /^127\.0\.0\.1:\d+ did not answer HTTP: / },
  '/reset': { status: 'fail', reason: /^connection reset by 127\.0\.0\.1:\d+/ },
  '/redirect/0': {
    status: 'fail',
    reason: /^more than 10 redirects, last to http:\/\/127\.0\.0\.1:\d+\/redirect\/11$/,
  },
  '/backtrack': { status: 'ok', reason: /^status 200 in / },
  '/deep-json': { status: 'ok', reason: /^status 200 in / },
};

describe('hostile targets', () => {
  it.each(HOSTILE_PATHS.map((p) => [p]))('%s gives a plain reason within the timeout', async (path) => {
    const started = performance.now();
    const r = await probe({ name: 'hostile', type: 'http', url: `${target.url}${path}`, timeout: '1s' });
    expect({ status: r.status, reason: r.reason }).toEqual({
      status: EXPECTED[path].status,
      reason: expect.stringMatching(EXPECTED[path].reason),
    });
    // The run's deadline holds (1 s), plus the runner's grace for a probe to notice its abort.
    expect(performance.now() - started).toBeLessThan(1_000 + 1_000);
  });

  it(`serves ${MANY_HEADERS} headers and ${REDIRECT_HOPS} redirects as the fixture promises`, async () => {
    const r = await probe({ name: 'hops', type: 'http', url: `${target.url}/redirect/0`, follow_redirects: false });
    expect(r.reason).toMatch(/^status 302, expected /);
  });

  it('times out a TLS handshake that never completes, for tls and https checks', async () => {
    for (const check of [
      { name: 'tls-hang', type: 'tls', host: '127.0.0.1', port: tlsHang.port, timeout: '1s' },
      { name: 'https-hang', type: 'http', url: `https://127.0.0.1:${tlsHang.port}/`, timeout: '1s' },
    ]) {
      const r = await probe(check);
      expect(r.reason).toBe('timeout after 1s in the TLS handshake');
      expect(r.hint).toMatch(/never completed a TLS handshake/);
    }
  });

  it('keeps the service, the API and other checks answering while 120 hostile checks run at once', async () => {
    const hostile = Array.from({ length: 10 }, (_, i) =>
      HOSTILE_PATHS.map(
        (p) =>
          `  - { name: h${i}${p.replace(/\W/g, '-')}, type: http, url: "${target.url}${p}", interval: 1h, timeout: 5s }`,
      ),
    ).flat();
    const fw = await startForgewatch(`max_concurrency: 200
checks:
${hostile.join('\n')}
  - { name: fine, type: http, url: "${target.url}/ok", interval: 1h }
`);
    try {
      const all = fetch(`${fw.url}/check`).then((r) => r.json() as Promise<{ checks: { status: string }[] }>);
      const fine = (await (await fetch(`${fw.url}/check?name=fine`)).json()) as { checks: { status: string }[] };
      expect(fine.checks[0]?.status).toBe('ok');
      expect((await fetch(`${fw.url}/healthz`)).status).toBe(200);
      const report = await all;
      expect(report.checks).toHaveLength(hostile.length + 1);
      expect(report.checks.filter((c) => c.status === 'fail')).toHaveLength(10 * 9);
    } finally {
      await fw.close();
    }
  });
});

describe('patterns against a body the target controls', () => {
  it('stops a backtracking body_regex at the timeout with a reason and a hint that names the fix', async () => {
    const started = performance.now();
    const r = await probe({
      name: 'bt',
      type: 'http',
      url: `${target.url}/backtrack`,
      timeout: '800ms',
      expect: { body_regex: '^(a+)+$' },
    });
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/body_regex \/\^\(a\+\)\+\$\/ was still matching when the check's timeout ran out/);
    expect(r.hint).toMatch(/nested quantifiers/);
    expect(r.hint).toMatch(/body_contains/);
    // The run's own timing covers the match, not only the response.
    expect(r.timings.total).toBeGreaterThan(0.5);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('stops a backtracking header pattern the same way', async () => {
    const r = await probe({
      name: 'bt-header',
      type: 'http',
      url: `${target.url}/backtrack`,
      timeout: '800ms',
      expect: { header: { 'x-token': '^(a+)+$' } },
    });
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/^header x-token \/\^\(a\+\)\+\$\/ was still matching/);
  });

  it('still matches ordinary patterns, and reports a mismatch as before', async () => {
    const ok = await probe({
      name: 'fine',
      type: 'http',
      url: `${target.url}/ok`,
      expect: { body_regex: '"status":\\s*"ok"' },
    });
    expect(ok.status).toBe('ok');
    const miss = await probe({
      name: 'miss',
      type: 'http',
      url: `${target.url}/ok`,
      expect: { body_regex: 'down' },
    });
    expect(miss.reason).toMatch(/^body does not match \/down\//);
  });

  it('lets forgewatch check exit once its pattern matched (the idle worker does not hold the process)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(
        file,
        `checks:\n  - { name: p, type: http, url: "${target.url}/ok", expect: { body_regex: "ok" } }\n`,
      );
      const res = await runCli(['check', '-c', file], { timeoutMs: 20_000 });
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/p\s+OK/);
    } finally {
      await cleanup();
    }
  });

  it('keeps the service answering while a check is stuck in a pattern', async () => {
    const fw = await startForgewatch(`
checks:
  - { name: hostile, type: http, url: "${target.url}/backtrack", interval: 1h, timeout: 3s, expect: { body_regex: "^(a+)+$" } }
  - { name: fine, type: http, url: "${target.url}/ok", interval: 1h }
`);
    try {
      type Report = { ok: boolean; checks: { name: string; status: string; reason: string }[] };
      const stuck = fetch(`${fw.url}/check?name=hostile`).then((r) => r.json() as Promise<Report>);
      // While the hostile match runs, another check and the health endpoint answer at once.
      const fine = (await (await fetch(`${fw.url}/check?name=fine`)).json()) as Report;
      expect(fine.checks[0]?.status).toBe('ok');
      expect((await fetch(`${fw.url}/healthz`)).status).toBe(200);
      const hostile = (await stuck).checks[0];
      expect(hostile?.status).toBe('fail');
      expect(hostile?.reason).toMatch(/still matching/);
    } finally {
      await fw.close();
    }
  });
});

describe('JSON the target controls', () => {
  it(`refuses a body nested ${DEEP_JSON_LEVELS} levels deep without blaming forgewatch`, async () => {
    const r = await probe({
      name: 'deep',
      type: 'http',
      url: `${target.url}/deep-json`,
      expect: { json: { status: 'ok' } },
    });
    expect(r.status).toBe('fail');
    expect(r.reason).toBe('body is JSON nested deeper than 1000 levels; not parsed');
    expect(r.hint).not.toMatch(/bug in forgewatch/);
  });
});
