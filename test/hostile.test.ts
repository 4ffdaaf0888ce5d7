import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from './helpers/checks.js';
import { DEEP_JSON_LEVELS, hostileServer } from './helpers/hostile.js';
import type { Started } from './helpers/servers.js';
import { startForgewatch } from './helpers/service.js';

let target: Started<http.Server>;
/** One check, written as a YAML flow map, through the real loader and probe. */
const probe = async (check: object) => (await runCheck(JSON.stringify(check))).result;

beforeAll(async () => {
  target = await hostileServer();
});
afterAll(() => target.close());

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
