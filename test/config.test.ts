import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.js';
import { parseDuration, parseSize } from '../src/config/units.js';
import { runCli, tempDir } from './helpers/service.js';

function problemsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'forgewatch.yaml', env, '/tmp');
  } catch (err) {
    if (err instanceof ConfigError)
      return err.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

const head = 'checks:\n';
const httpCheck = (name: string, extra = '') =>
  `  - name: ${name}\n    type: http\n    url: http://127.0.0.1:8000/health\n${extra}`;

describe('config loading', () => {
  it('applies defaults and resolves units', () => {
    const config = parseConfig(
      `defaults:\n  interval: 1m\n  timeout: 2s\n${head}${httpCheck('a', '    max_body: 512KiB\n')}${httpCheck('b', '    interval: 250ms\n    failure_threshold: 3\n')}`,
      'f.yaml',
      {},
      '/etc/fw',
    );
    const [a, b] = config.checks;
    expect(a).toMatchObject({
      interval: 60_000,
      timeout: 2000,
      failure_threshold: 2,
      success_threshold: 1,
      max_body: 512 * 1024,
      depends_on: [],
      labels: {},
    });
    expect(b).toMatchObject({ interval: 250, failure_threshold: 3 });
    expect(config.state_dir).toBe('/etc/fw/.forgewatch');
    expect(config.server.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(config.max_concurrency).toBe(64);
  });

  it('takes state_dir from FORGEWATCH_STATE_DIR only when the file sets none', () => {
    const env = { FORGEWATCH_STATE_DIR: '/var/lib/forgewatch' };
    expect(parseConfig(`${head}${httpCheck('a')}`, 'f.yaml', env, '/etc/fw').state_dir).toBe('/var/lib/forgewatch');
    expect(parseConfig(`state_dir: ./st\n${head}${httpCheck('a')}`, 'f.yaml', env, '/etc/fw').state_dir).toBe(
      '/etc/fw/st',
    );
  });

  it('names file, line:column and key path for a bad status', () => {
    const yaml = `${head}${httpCheck('a')}${httpCheck('b')}${httpCheck('c', '    expect:\n      status: [20O]\n')}`;
    expect(problemsOf(yaml)).toEqual([
      'forgewatch.yaml:12:16 checks[2].expect.status[0]: expected an HTTP status 100-599 or a range, got "20O"',
    ]);
  });

  it('rejects unknown keys, pointing at the key itself', () => {
    expect(problemsOf(`${head}${httpCheck('a', '    expct:\n      status: [200]\n')}`)).toEqual([
      'forgewatch.yaml:5:5 checks[0].expct: unknown key "expct" — did you mean "expect"?',
    ]);
    expect(problemsOf(`servr:\n  listen: 1.2.3.4:80\n`)).toEqual([
      'forgewatch.yaml:1:1 servr: unknown key "servr" — did you mean "server"?',
    ]);
  });

  it('suggests the closest known key for an unknown one, at every level, and none when nothing is close', () => {
    const yaml = [
      'defaults:',
      '  intervall: 30s',
      'checks:',
      '  - name: a',
      '    type: http',
      '    url: http://x/',
      '    intervall: 5s',
      '    expect: { stat: [200] }',
      '    tls: { insecur: true }',
      '    frobnicate: 1',
      '  - name: c',
      '    type: tls',
      '    host: x',
      '    warn_befor: 21d',
      'alerts:',
      '  channels:',
      '    - name: m',
      '      type: slack',
      '      webhok_url: https://hooks.slack.com/x',
      '',
    ].join('\n');
    expect(problemsOf(yaml)).toEqual([
      'forgewatch.yaml:2:3 defaults.intervall: unknown key "intervall" — did you mean "interval"?',
      'forgewatch.yaml:7:5 checks[0].intervall: unknown key "intervall" — did you mean "interval"?',
      'forgewatch.yaml:8:15 checks[0].expect.stat: unknown key "stat" — did you mean "status"?',
      'forgewatch.yaml:9:12 checks[0].tls.insecur: unknown key "insecur" — did you mean "insecure"?',
      'forgewatch.yaml:10:5 checks[0].frobnicate: unknown key "frobnicate"',
      'forgewatch.yaml:14:5 checks[1].warn_befor: unknown key "warn_befor" — did you mean "warn_before"?',
      'forgewatch.yaml:17:7 alerts.channels[0].webhook_url: required key is missing',
      // A slack channel's own key, not an email channel's.
      'forgewatch.yaml:19:7 alerts.channels[0].webhok_url: unknown key "webhok_url" — did you mean "webhook_url"?',
    ]);
  });

  it('names the check by its name as well as its index in the printed message', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'named.yaml');
      writeFileSync(
        file,
        `${head}${httpCheck('api-local')}${httpCheck('worker')}${httpCheck('api-public', '    expect:\n      status: [20O]\n')}  - name: Bad Name\n    type: http\n    url: http://x/\n    intervall: 5s\n`,
      );
      expect(() => loadConfigFile(file, {})).toThrow(
        [
          `${file}:12:16 checks[2] (api-public).expect.status[0]: expected an HTTP status 100-599 or a range, got "20O"`,
          `${file}:13:11 checks[3].name: must match [a-z0-9][a-z0-9_.-]* (lower case letters, digits, "_", "." and "-"), got "Bad Name"`,
          `${file}:16:5 checks[3].intervall: unknown key "intervall" — did you mean "interval"?`,
        ].join('\n'),
      );
    } finally {
      await cleanup();
    }
  });

  it.each([
    [
      `${head}${httpCheck('a', '    interval: 30 seconds\n')}`,
      'checks[0].interval: expected a duration such as 250ms, 30s, 5m, 1h or 7d, got "30 seconds"',
    ],
    [
      `${head}${httpCheck('a', '    max_body: lots\n')}`,
      'checks[0].max_body: expected a size such as 512KiB or 1MiB, got "lots"',
    ],
    [`${head}  - name: a\n    type: htp\n`, 'checks[0].type: unknown check type "htp", expected one of'],
    [`${head}  - name: a\n    url: http://x/\n`, 'checks[0].type: required key is missing'],
    [
      `${head}  - name: Bad Name\n    type: http\n    url: http://x/\n`,
      'checks[0].name: must match [a-z0-9][a-z0-9_.-]*',
    ],
    [`${head}  - name: a\n    type: http\n    url: ftp://x/\n`, 'checks[0].url: expected an http:// or https:// URL'],
    [`${head}  - name: a\n    type: http\n`, 'checks[0].url: required key is missing'],
    [`${head}${httpCheck('a')}${httpCheck('a')}`, 'checks[1].name: duplicate check name "a"'],
    [
      `${head}${httpCheck('a', '    depends_on: [ghost]\n')}`,
      'checks[0].depends_on[0]: depends on "ghost", which is not a configured check',
    ],
    [
      `${head}${httpCheck('a', '    depends_on: [b]\n')}${httpCheck('b', '    depends_on: [a]\n')}`,
      'dependency cycle: a -> b -> a',
    ],
    [
      `${head}${httpCheck('a', '    schedule: "not cron"\n')}`,
      'checks[0].schedule: invalid cron expression "not cron"',
    ],
    [
      `${head}${httpCheck('a', '    interval: 5s\n    schedule: "*/5 * * * * *"\n')}`,
      'checks[0].schedule: set either interval or schedule, not both',
    ],
    [
      `${head}${httpCheck('a', '    expect: { body_regex: "(" }\n')}`,
      'checks[0].expect.body_regex: invalid regular expression "("',
    ],
    [
      `${head}${httpCheck('a', '    follow_redirects: sometimes\n')}`,
      'checks[0].follow_redirects: expected a boolean, got "sometimes"',
    ],
    [
      `${head}${httpCheck('a', '    locations: [fra, nyc, home]\n    quorum: 4\n')}`,
      'checks[0].quorum: is 4 but only 3 locations are listed',
    ],
    [
      `${head}${httpCheck('a', '    quorum: 2\n')}`,
      'checks[0].quorum: quorum needs locations: the locations it counts',
    ],
    [`${head}${httpCheck('a', '    locations: [fra, fra]\n')}`, 'checks[0].locations: lists a location twice'],
    [`server:\n  listen: nine\n`, 'server.listen: expected host:port'],
    [`max_concurrency: 0\n`, 'max_concurrency: must be at least 1'],
    [`checks: {}\n`, 'checks: expected a list, got a map'],
    [`checks:\n  - name: a\n    type: http\n   url: x\n`, 'YAML syntax:'],
    [`server:\n  token: \${FW_TOKEN_NOT_SET}\n`, 'server.token: environment variable FW_TOKEN_NOT_SET is not set'],
  ])('reports %#', (yaml, wanted) => {
    const problems = problemsOf(yaml);
    expect(problems.length, `no error for:\n${yaml}`).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(wanted);
    expect(problems[0]).toMatch(/^forgewatch\.yaml:\d+:\d+ /);
  });

  it('reports every problem, not only the first', () => {
    const problems = problemsOf(`${head}${httpCheck('a', '    interval: soon\n    timeout: never\n')}`);
    expect(problems).toHaveLength(2);
  });

  it('interpolates ${VAR} and ${file:...}, and keeps $${ literal', () => {
    const { dir } = tempDir();
    const secret = path.join(dir, 'token');
    writeFileSync(secret, 's3cret\n');
    const config = parseConfig(
      `server:\n  token: \${file:${secret}}\n${head}${httpCheck('a', '    headers: { x-env: "\${FW_ENV}", x-lit: "$\${HOME}" }\n')}`,
      'f.yaml',
      { FW_ENV: 'prod' },
      dir,
    );
    expect(config.server.token).toBe('s3cret');
    expect(config.checks[0]?.headers).toEqual({ 'x-env': 'prod', 'x-lit': '${HOME}' });
  });
});

describe('config problems in one pass', () => {
  it('reports reference, top-level, check, label and dependency problems together, in file order', () => {
    const yaml = [
      'server:',
      '  token: ${FW_ONE_PASS_MISSING}',
      'max_concurrency: zero',
      'checks:',
      '  - name: a',
      '    type: http',
      '    url: ftp://x/',
      '    depends_on: [ghost]',
      '  - name: b',
      '    type: http',
      '    url: http://x/',
      '    depends_on: [a]',
      '    labels: { team-x: web }',
      '  - name: c',
      '    type: nope',
      '    depends_on: [b]',
      '',
    ].join('\n');
    expect(problemsOf(yaml)).toEqual([
      'forgewatch.yaml:2:10 server.token: environment variable FW_ONE_PASS_MISSING is not set (use ${FW_ONE_PASS_MISSING:-} to make it optional)',
      'forgewatch.yaml:3:18 max_concurrency: expected a number, got "zero"',
      'forgewatch.yaml:7:10 checks[0].url: expected an http:// or https:// URL',
      'forgewatch.yaml:8:18 checks[0].depends_on[0]: depends on "ghost", which is not a configured check',
      'forgewatch.yaml:13:15 checks[1].labels.team-x: invalid label name "team-x": use letters, digits and "_", not starting with a digit, such as team or on_call',
      'forgewatch.yaml:15:11 checks[2].type: unknown check type "nope", expected one of http, container, port, tls, cert_file, dns',
    ]);
  });

  it('still finds a dependency cycle through a check that has other mistakes', () => {
    const problems = problemsOf(
      `${head}${httpCheck('a', '    depends_on: [b]\n    timeout: never\n')}${httpCheck('b', '    depends_on: [a]\n')}`,
    );
    expect(problems.join('\n')).toContain('checks[0].timeout: expected a duration');
    expect(problems.join('\n')).toContain('dependency cycle: a -> b -> a');
  });

  it('says what a map looks like', () => {
    expect(problemsOf(`${head}${httpCheck('a', '    labels: web\n')}`)).toEqual([
      'forgewatch.yaml:5:13 checks[0].labels: expected a map of key: value pairs (one "key: value" per indented line, or { key: value }), got "web"',
    ]);
    expect(problemsOf(`${head}  - just-a-name\n`)[0]).toContain('checks[0]: expected a map of key: value pairs');
  });
});

describe('${...} references', () => {
  it('${VAR:-default} gives the default when the variable is unset or empty; an empty token means none', () => {
    const yaml = `server:\n  token: \${FW_TOKEN:-}\n  public_url: \${FW_PUBLIC:-}\nmax_concurrency: \${FW_MC:-8}\n${head}${httpCheck('a', '    headers: { x-env: "\${FW_ENV:-dev}" }\n')}`;
    for (const env of [{}, { FW_TOKEN: '', FW_PUBLIC: '', FW_MC: '', FW_ENV: '' }]) {
      const config = parseConfig(yaml, 'f.yaml', env, '/tmp');
      expect(config.server.token).toBeUndefined();
      expect(config.server.public_url).toBeUndefined();
      expect(config.max_concurrency).toBe(8);
      expect(config.checks[0]?.headers).toEqual({ 'x-env': 'dev' });
    }
    const set = parseConfig(
      yaml,
      'f.yaml',
      { FW_TOKEN: 'tok', FW_PUBLIC: 'https://status.example.com', FW_MC: '3', FW_ENV: 'prod' },
      '/tmp',
    );
    expect([set.server.token, set.server.public_url, set.max_concurrency, set.checks[0]?.headers]).toEqual([
      'tok',
      'https://status.example.com',
      3,
      { 'x-env': 'prod' },
    ]);
  });

  it('a lone unquoted ${VAR} fills numbers and booleans; text stays text where text is wanted', () => {
    const yaml = `server:\n  token: \${FW_TOK}\nmax_concurrency: \${FW_MC}\ndefaults:\n  failure_threshold: \${FW_FT}\n${head}${httpCheck('a', '    follow_redirects: \${FW_FR}\n    labels: { team: web }\n')}`;
    const config = parseConfig(yaml, 'f.yaml', { FW_TOK: '0123', FW_MC: '8', FW_FT: '3', FW_FR: 'false' }, '/tmp');
    expect(config.max_concurrency).toBe(8);
    expect(config.defaults.failure_threshold).toBe(3);
    expect(config.checks[0]?.follow_redirects).toBe(false);
    // A secret that looks like a number is kept exactly as written, leading zero and all.
    expect(config.server.token).toBe('0123');
    expect(
      parseConfig(yaml, 'f.yaml', { FW_TOK: '123456', FW_MC: '8', FW_FT: '3', FW_FR: 'true' }, '/tmp').server.token,
    ).toBe('123456');
    // Quoted, it is text: a number field says so, naming the reference rather than showing its value.
    expect(problemsOf('max_concurrency: "${FW_MC}"\n', { FW_MC: '8' })).toEqual([
      'forgewatch.yaml:1:18 max_concurrency: expected a number, got ${FW_MC} (value not shown)',
    ]);
    expect(problemsOf('max_concurrency: ${FW_MC}\n', { FW_MC: 'lots' })).toEqual([
      'forgewatch.yaml:1:18 max_concurrency: expected a number, got ${FW_MC} (value not shown)',
    ]);
  });

  it('an empty required value names the reference that came out empty', () => {
    expect(problemsOf(`${head}  - name: a\n    type: http\n    url: \${FW_URL:-}\n`)).toEqual([
      'forgewatch.yaml:4:5 checks[0].url: required key is missing (${FW_URL:-} is empty)',
    ]);
  });

  it('reads ${file:relative} next to the config file, not the working directory', () => {
    const { dir } = tempDir();
    writeFileSync(path.join(dir, 'token.txt'), 'from-file\n');
    const file = path.join(dir, 'forgewatch.yaml');
    writeFileSync(file, 'server:\n  token: ${file:token.txt}\n');
    expect(process.cwd()).not.toBe(dir);
    expect(loadConfigFile(file, {}).server.token).toBe('from-file');
    writeFileSync(file, 'server:\n  token: ${file:missing.txt}\n');
    expect(() => loadConfigFile(file, {})).toThrow(
      `cannot read ${path.join(dir, 'missing.txt')} for \${file:missing.txt}: ENOENT`,
    );
  });
});

describe('units', () => {
  it('parses durations and sizes', () => {
    expect([
      parseDuration('250ms'),
      parseDuration('30s'),
      parseDuration('5m'),
      parseDuration('1h'),
      parseDuration('7d'),
      parseDuration('1h30m'),
    ]).toEqual([250, 30_000, 300_000, 3_600_000, 604_800_000, 5_400_000]);
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect([parseSize('512KiB'), parseSize('1MiB'), parseSize('100')]).toEqual([524_288, 1_048_576, 100]);
  });
});

describe('forgewatch validate (CLI)', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('exits 0 on a good file and 2 with file:line:col on a bad one', async () => {
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, `${head}${httpCheck('a')}`);
    const ok = await runCli(['validate', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ok (1 checks)');

    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, `${head}${httpCheck('a', '    expect:\n      status: [20O]\n')}`);
    const res = await runCli(['validate', bad]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(
      `${bad}:6:16 checks[0] (a).expect.status[0]: expected an HTTP status 100-599 or a range, got "20O"`,
    );
  });

  it('exits 2 when the named file does not exist', async () => {
    const res = await runCli(['validate', path.join(dir, 'missing.yaml')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cannot read config: ENOENT');
  });

  it('init writes an annotated config that validates, and refuses to overwrite it', async () => {
    const res = await runCli(['init'], { cwd: dir });
    expect(res.code).toBe(0);
    const again = await runCli(['init'], { cwd: dir });
    expect(again.code).toBe(2);
    const valid = await runCli(['validate'], { cwd: dir });
    expect(valid.stdout).toContain('forgewatch.yaml: ok');
    expect(valid.code).toBe(0);
    // The deployment it models: local and public health, the certificate's names, the backend container and who holds :8000.
    const config = parseConfig(
      readFileSync(path.join(dir, 'forgewatch.yaml'), 'utf8'),
      'forgewatch.yaml',
      { FORGEWATCH_TOKEN: '' },
      dir,
    );
    expect(config.checks.map((c) => c.type).sort()).toEqual([
      'container',
      'http',
      'http',
      'http',
      'http',
      'http',
      'port',
      'tls',
    ]);
    expect(config.checks.find((c) => c.type === 'tls')).toMatchObject({
      names: ['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro'],
    });
    expect(config.checks.find((c) => c.type === 'port')).toMatchObject({
      port: 8000,
      owner: { container: 'forgetrace-backend' },
    });
  });

  it('the alerts example init writes is valid once uncommented, with its variables set', async () => {
    const own = tempDir();
    try {
      expect((await runCli(['init'], { cwd: own.dir })).code).toBe(0);
      const written = readFileSync(path.join(own.dir, 'forgewatch.yaml'), 'utf8').split('\n');
      const start = written.indexOf('# alerts:');
      expect(start).toBeGreaterThan(0);
      const uncommented = [
        ...written.slice(0, start),
        ...written.slice(start).map((line) => (line.startsWith('# ') ? line.slice(2) : line)),
      ].join('\n');
      const env = { SMTP_PASSWORD: 'pw', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' };
      expect(problemsOf(uncommented, env)).toEqual([]);
      const config = parseConfig(uncommented, 'forgewatch.yaml', env, own.dir);
      expect(config.alerts?.channels).toMatchObject([
        { name: 'ops-mail', type: 'email', smtp: { host: 'smtp.example.com', port: 587, password: 'pw' } },
        { name: 'ops-slack', type: 'slack', webhook_url: 'https://hooks.slack.com/services/T/B/x' },
      ]);
    } finally {
      await own.cleanup();
    }
  });
});

describe('YAML syntax errors', () => {
  it('an unquoted ${VAR} inside { } says to quote it, once, instead of a burst of YAML errors', () => {
    const yaml = [
      'alerts:',
      '  channels:',
      '    - name: ops-mail',
      '      type: email',
      '      smtp: { host: smtp.example.com, port: 587, user: alerts, password: ${SMTP_PASSWORD} }',
      '      from: forgewatch@example.com',
      '      to: [ops@example.com]',
      '',
    ].join('\n');
    const problems = problemsOf(yaml, { SMTP_PASSWORD: 'pw' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^forgewatch\.yaml:5:74 : YAML syntax: Unexpected flow-map-start/);
    expect(problems[0]).toContain('quote the reference: "${SMTP_PASSWORD}"');
    expect(problems[0]).toMatch(/the \d+ YAML errors after it follow from it/);
    // Quoted as the hint says, the same file loads.
    const fixed = yaml.replace('password: ${SMTP_PASSWORD}', 'password: "${SMTP_PASSWORD}"');
    expect(problemsOf(fixed, { SMTP_PASSWORD: 'pw' })).toEqual([]);
  });

  it('in a [ ] list too; a YAML error elsewhere gets no such hint', () => {
    const inList = problemsOf('checks:\n  - name: a\n    type: http\n    url: http://x/\n    depends_on: [${DEP}]\n', {
      DEP: 'b',
    });
    expect(inList[0]).toContain('quote the reference: "${DEP}"');
    const other = problemsOf('checks:\n  - name: a\n    type: http\n   url: ${URL}\n', { URL: 'http://x/' });
    expect(other.length).toBeGreaterThan(0);
    expect(other.join('\n')).not.toContain('quote the reference');
  });
});
