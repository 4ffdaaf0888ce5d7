import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/service.js';
import { httpServer, type Started } from './helpers/servers.js';

let target: Started<http.Server>;
/** /later answers 503 this many more times, then 200: a deploy that becomes healthy after the first attempt. */
let unhealthyAnswers = 0;
const { dir, cleanup } = tempDir();

beforeAll(async () => {
  target = await httpServer((req, res) => {
    if (req.url === '/later') return void res.writeHead(unhealthyAnswers-- > 0 ? 503 : 200).end();
    res.writeHead(req.url === '/ok' ? 200 : 502).end();
  });
});
afterAll(async () => {
  await target.close();
  await cleanup();
});

function writeConfig(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, body);
  return file;
}

const config = () => `checks:
  - name: good
    type: http
    url: ${target.url}/ok
    labels: { tier: front }
  - name: bad
    type: http
    url: ${target.url}/bad
  - name: later
    type: http
    url: ${target.url}/later
`;

describe('forgewatch check', () => {
  it('exits 0 when nothing fails and prints a table', async () => {
    const file = writeConfig('a.yaml', config());
    const res = await runCli(['check', '-c', file, '--name', 'good']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^NAME\s+STATUS\s+REASON\s+DURATION/);
    expect(res.stdout).toMatch(/good\s+OK\s+status 200 in/);
    expect(res.stdout).toContain('1 passed, 0 failed');
  });

  it('exits 1 when a check fails, with the reason and the hint', async () => {
    const file = writeConfig('b.yaml', config());
    const res = await runCli(['check', '-c', file, '--name', 'good', '--name', 'bad']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/bad\s+FAIL\s+status 502, expected 200-299/);
    expect(res.stdout).toContain('1 passed, 1 failed');
    expect(res.stdout).toMatch(/hints:\n\s+bad: The proxy/);
  });

  it('prints the /check JSON with --json, filtered by type and label', async () => {
    const file = writeConfig('c.yaml', config());
    const res = await runCli(['check', '-c', file, '--json', '--type', 'http', '--label', 'tier:front']);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; status: string; details: { status_code: number } }>;
    };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['good']);
    expect(report.checks[0]?.details.status_code).toBe(200);
  });

  it('reads $FORGEWATCH_CONFIG when -c is not given', async () => {
    const file = writeConfig('env.yaml', config());
    const res = await runCli(['check', '--name', 'bad'], { env: { FORGEWATCH_CONFIG: file } });
    expect(res.code).toBe(1);
  });

  it('exits 2 on a config error, an unknown check name and a bad flag', async () => {
    const broken = writeConfig(
      'broken.yaml',
      'checks:\n  - name: x\n    type: http\n    url: http://x/\n    retries: 3\n',
    );
    const res = await runCli(['check', '-c', broken]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('broken.yaml:5:5 checks[0] (x).retries: unknown key "retries"');
    const file = writeConfig('d.yaml', config());
    expect((await runCli(['check', '-c', file, '--name', 'nope'])).code).toBe(2);
    expect((await runCli(['check', '-c', file, '--bogus'])).code).toBe(2);
    expect((await runCli(['check', '-c', file, '--wait', 'soon'])).code).toBe(2);
  });

  it('--wait retries until the checks pass, for deploy pipelines', async () => {
    const file = writeConfig('e.yaml', config());
    unhealthyAnswers = 1;
    const res = await runCli(['check', '-c', file, '--name', 'later', '--wait', '30s']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/attempt 1: failing: later \(status 503, expected 200-299\); retrying in \d+s/);
    expect(res.stdout).toMatch(/later\s+OK/);
  });

  it('--wait gives up with exit 1 when the time is up', async () => {
    const file = writeConfig('f.yaml', config());
    const res = await runCli(['check', '-c', file, '--name', 'bad', '--wait', '1s']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/bad\s+FAIL/);
  });

  it('a filter that matches nothing, an unknown or repeated --type: exit 2 with the reason, like GET /check', async () => {
    const file = writeConfig('g.yaml', config());
    const none = await runCli(['check', '-c', file, '--label', 'tier:nonexist']);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('forgewatch: no check matches label=tier:nonexist');
    const noDns = await runCli(['check', '-c', file, '--type', 'dns']);
    expect(noDns.code).toBe(2);
    expect(noDns.stderr.trim()).toBe('forgewatch: no check matches type=dns');
    const typo = await runCli(['check', '-c', file, '--type', 'htp']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown check type "htp"; the types are http, ');
    const twice = await runCli(['check', '-c', file, '--type', 'http', '--type', 'dns']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('--type takes one check type');
  });

  it('without a config file, says so and exits 2 instead of passing on the discovered default', async () => {
    const empty = tempDir();
    try {
      const res = await runCli(['check'], { cwd: empty.dir, env: { FORGEWATCH_CONFIG: '' } });
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr.trim()).toBe(
        'forgewatch: no config file to check: pass -c PATH, set FORGEWATCH_CONFIG, or create ./forgewatch.yaml (forgewatch init writes one)',
      );
    } finally {
      await empty.cleanup();
    }
  });
});

describe('forgewatch check: the table', () => {
  it('fits 100 columns, cutting the reason and wrapping the hint; --wide prints each in full on one line', async () => {
    const marker = 'database pool healthy and every replica caught up with the primary';
    const file = writeConfig(
      'wide.yaml',
      `checks:\n  - name: a-rather-long-check-name-for-the-public-api\n    type: http\n    url: ${target.url}/ok\n    expect: { body_contains: "${marker}" }\n`,
    );
    const narrow = await runCli(['check', '-c', file]);
    expect(narrow.code).toBe(1);
    const lines = narrow.stdout.trimEnd().split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(100);
    // Cut at the column's end, so the facts under a row stay under it; the hint below the table wraps.
    const row = lines.find((l) => l.startsWith('a-rather-long-check-name-for-the-public…  FAIL'));
    expect(row).toMatch(/ {2}body does not contain "database pool[^"]*… {2}\d+(ms|\.\d+s|s)$/);
    expect(narrow.stdout).toMatch(/^ {2}a-rather-long-check-name-for-the-public-api: The endpoint .*\n {4}\S/m);

    const wide = await runCli(['check', '-c', file, '--wide']);
    expect(wide.code).toBe(1);
    const wideRow = wide.stdout.split('\n').find((l) => l.startsWith('a-rather-long'));
    expect(wideRow).toMatch(new RegExp(`FAIL\\s+body does not contain "${marker}".*\\s+\\d+(ms|\\.\\d+s|s)$`));
    expect(wideRow?.length).toBeGreaterThan(100);
  });
});

describe('forgewatch COMMAND --help', () => {
  it.each([
    ['check', /^forgewatch check \[-c PATH\].*--wide/, '--wait 120s'],
    ['serve', /^forgewatch \[serve\] .*--log-format json\|text/, 'FORGEWATCH_LOG_FORMAT'],
    ['validate', /^forgewatch validate \[PATH \| -c PATH\]/, 'no checks in the file'],
    ['init', /^forgewatch init \[PATH\] \[--force\]/, '--force overwrites'],
  ])("%s --help prints that command's usage, not the overview", async (command, first, detail) => {
    for (const args of [
      [command, '--help'],
      ['help', command],
    ]) {
      const res = await runCli(args);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(first);
      expect(res.stdout).toContain(detail);
      expect(res.stdout).not.toContain('usage:');
    }
  });

  it('--help alone prints the overview of every command', async () => {
    const res = await runCli(['--help']);
    expect(res.stdout).toMatch(/^forgewatch — health/);
    expect(res.stdout).toContain('forgewatch COMMAND --help');
  });
});

describe('a config without checks', () => {
  it('validate and check agree: exit 2, "no checks in FILE", for an empty file and for checks: []', async () => {
    for (const [name, body] of [
      ['empty.yaml', ''],
      ['none.yaml', 'checks: []\n'],
    ] as const) {
      const file = writeConfig(name, body);
      for (const command of ['validate', 'check']) {
        const res = await runCli([command, '-c', file]);
        expect(res.code, `${command} ${name}`).toBe(2);
        expect(res.stdout).toBe('');
        expect(res.stderr.trim()).toBe(
          `forgewatch: no checks in ${file}: add a checks: list (forgewatch init writes an annotated example)`,
        );
      }
    }
  });
});
