/**
 * Secrets and file references against hostile input: a ${file:} reference reads regular files only, small ones,
 * never echoed in errors; a secret the config resolved never reaches anything forgewatch writes or shows, even
 * when a target echoes it back; a body from another origin is never quoted.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger, receiver } from './helpers/alerts.js';
import { runCheck } from './helpers/checks.js';
import { httpServer } from './helpers/servers.js';
import { runCli, startForgewatch, tempDir, waitFor } from './helpers/service.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function temp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

const NO_STACK = /\n\s+at |node_modules|dist\/src|\.ts:\d+/;

describe('${file:} references', () => {
  it('never print the file they read, even when it lands in the wrong key', async () => {
    const dir = temp();
    writeFileSync(path.join(dir, 'password.txt'), 'hunter2-Correct-Horse\n');
    const file = path.join(dir, 'forgewatch.yaml');
    writeFileSync(file, 'defaults:\n  interval: ${file:password.txt}\nchecks: []\n');
    const res = await runCli(['validate', file]);
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toContain('defaults.interval: expected a duration');
    expect(res.stdout + res.stderr).toContain('${file:password.txt} (value not shown)');
    expect(res.stdout + res.stderr).not.toContain('hunter2');
  });

  it.each([
    ['/proc/self/environ', /is under \/proc: only regular files are read/],
    ['/dev/zero', /is under \/dev: only regular files are read/],
  ])('refuse %s', async (target, message) => {
    const dir = temp();
    const file = path.join(dir, 'forgewatch.yaml');
    writeFileSync(file, `server: { token: "\${file:${target}}" }\nchecks: []\n`);
    const res = await runCli(['validate', file]);
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toMatch(message);
  });

  it('refuse a FIFO at once instead of hanging, and a file over 64 KiB', async () => {
    const dir = temp();
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    writeFileSync(path.join(dir, 'big'), 'x'.repeat(70 * 1024));
    const file = path.join(dir, 'forgewatch.yaml');
    writeFileSync(file, 'server: { token: "${file:pipe}" }\nstate_dir: "${file:big}"\nchecks: []\n');
    const res = await runCli(['validate', file], { timeoutMs: 20_000 });
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toMatch(/\$\{file:pipe\}: .*pipe is not a regular file/);
    expect(res.stdout + res.stderr).toMatch(/\$\{file:big\}: .*big is 71680 bytes, over the 64 KiB limit/);
  });

  it('keep a rejected reload answer and its log line free of the value, stacks and install paths', async () => {
    const dir = temp();
    writeFileSync(path.join(dir, 'token.txt'), 'tok-9f8e7d6c5b4a\n');
    const log = captureLogger();
    const fw = await startForgewatch('checks: []\n', { dir, logger: log.logger });
    cleanups.push(() => fw.close());
    fw.writeConfig('max_concurrency: ${file:token.txt}\nchecks: []\n');
    const answer = await fetch(`${fw.url}/-/reload`, { method: 'POST' });
    expect(answer.status).toBe(400);
    const body = await answer.text();
    expect(body).toContain('max_concurrency: expected a number, got ${file:token.txt} (value not shown)');
    expect(body + log.text()).not.toContain('tok-9f8e7d6c5b4a');

    // A "billion laughs" document: refused in plain words, never a stack.
    const laughs = ['a: &a [x,x,x,x,x,x,x,x,x]'];
    for (let i = 1; i < 9; i++) {
      const [prev, name] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      laughs.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    fw.writeConfig(`${laughs.join('\n')}\nchecks: []\n`);
    const bomb = await fetch(`${fw.url}/-/reload`, { method: 'POST' });
    expect(bomb.status).toBe(400);
    const bombBody = await bomb.text();
    expect(bombBody).toMatch(/YAML aliases expand too far/);
    expect(bombBody).not.toMatch(NO_STACK);
  });
});

describe('a target that echoes what it is sent', () => {
  it('never gets a secret header value into a reason, the API, the page, state files, the outbox or the logs', async () => {
    const dir = temp();
    const KEY = 'sk-echo-0a1b2c3d4e5f';
    writeFileSync(path.join(dir, 'api-key.txt'), `${KEY}\n`);
    const echo = await httpServer((req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`you sent X-Api-Key: ${req.headers['x-api-key']}`);
    });
    const hook = await receiver();
    hook.answer = 503; // keeps the alert in the outbox, so its file can be read
    cleanups.push(
      () => echo.close(),
      () => hook.close(),
    );
    const log = captureLogger();
    const fw = await startForgewatch(
      `defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: echo, type: http, url: "${echo.url}/", headers: { X-Api-Key: "\${file:api-key.txt}" }, expect: { status: 200 } }
  - { name: echo-body, type: http, url: "${echo.url}/b", headers: { X-Api-Key: "\${file:api-key.txt}" }, expect: { status: [500], body_contains: "welcome" } }
alerts:
  channels: [ { name: hook, type: webhook, url: "${hook.url}/in" } ]
  group_wait: 20ms
  retry: { initial: 100ms, max: 200ms }
`,
      { dir, logger: log.logger },
    );
    cleanups.push(() => fw.close());
    await waitFor(() => hook.received.length >= 2);
    const status = await (await fetch(`${fw.url}/api/status`)).text();
    expect(status).toContain('you sent X-Api-Key: [redacted]');
    const check = await (await fetch(`${fw.url}/check`)).text();
    const page = await (await fetch(`${fw.url}/`)).text();
    const metrics = await (await fetch(`${fw.url}/metrics`)).text();
    await fw.close();
    const files = [
      'state.json',
      'incidents.json',
      ...readdirSync(path.join(dir, '.forgewatch', 'outbox')).map((f) => `outbox/${f}`),
    ]
      .filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(path.join(dir, '.forgewatch', f), 'utf8'));
    expect(files.some((f) => f.includes('[redacted]'))).toBe(true);
    for (const text of [status, check, page, metrics, log.text(), ...files, ...hook.received.map((r) => r.raw)])
      expect(text).not.toContain(KEY);
  });
});

describe('a redirect to another origin', () => {
  it('names where it led and what it answered, but never quotes that body', async () => {
    const internal = await httpServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('aws_secret_access_key=AKIA-internal-only');
    });
    const front = await httpServer((_req, res) => {
      res.writeHead(302, { location: `${internal.url}/latest/meta-data` }).end();
    });
    cleanups.push(
      () => internal.close(),
      () => front.close(),
    );
    const status = (
      await runCheck(JSON.stringify({ name: 'ssrf', type: 'http', url: `${front.url}/`, follow_redirects: true }))
    ).result;
    expect(status.reason).toBe(`redirected to ${internal.url}/latest/meta-data, which answered 403, expected 200-299`);
    const body = (
      await runCheck(
        JSON.stringify({
          name: 'ssrf-body',
          type: 'http',
          url: `${front.url}/`,
          follow_redirects: true,
          expect: { status: [403], body_contains: 'ok' },
        }),
      )
    ).result;
    expect(body.reason).toBe(`body does not contain "ok" (from ${internal.url}/latest/meta-data, not quoted)`);
    expect(JSON.stringify([status, body])).not.toContain('aws_secret');
  });
});
