import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILT_CLI, tempDir, waitFor } from './helpers/service.js';
import { freePort, httpServer, listen, lowestFreePort } from './helpers/servers.js';

interface Served {
  child: ChildProcessWithoutNullStreams;
  lines: () => Array<Record<string, unknown>>;
  url: string;
}

const running: Served[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    s.child.kill('SIGKILL');
  }
});

async function serve(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, listenAt?: string): Promise<Served> {
  const port = listenAt ? 0 : await freePort();
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', '--listen', listenAt ?? `127.0.0.1:${port}`, ...args], {
    cwd,
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const served: Served = {
    child,
    url: `http://127.0.0.1:${port}`,
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
  running.push(served);
  const started = await waitFor(() => served.lines().find((l) => l.event === 'started'), 15_000);
  served.url = started.url as string;
  return served;
}

/** Runs `forgewatch serve` that is expected to stop by itself; returns its exit code and output. */
function serveUntilExit(
  args: string[],
  cwd: string,
  opts: { uid?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', ...args], {
    cwd,
    env: { ...process.env, FORGEWATCH_CONFIG: '' },
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))),
  );
}

/** Stops the served process before its folder is removed (it writes state there until it exits). */
async function stop(s: Served): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGKILL');
  await exited;
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('forgewatch serve', () => {
  it('runs the discovered default when no config file exists, and its self-check passes', async () => {
    const { dir, cleanup } = tempDir();
    let s: Served | undefined;
    try {
      s = await serve([], dir, { FORGEWATCH_CONFIG: '' });
      expect(s.lines().some((l) => l.event === 'default_config')).toBe(true);
      const health = await fetch(`${s.url}/healthz`);
      expect(health.status).toBe(200);
      const report = (await (await fetch(`${s.url}/check?name=forgewatch-self`)).json()) as {
        ok: boolean;
        checks: Array<{ status: string }>;
      };
      expect(report.ok).toBe(true);
      expect(report.checks[0]?.status).toBe('ok');
    } finally {
      if (s) await stop(s);
      await cleanup();
    }
  });

  it('watches the listeners still there a few seconds after start-up, not one that came and went', async () => {
    const { dir, cleanup } = tempDir();
    const kept = await listen(net.createServer(), '127.0.0.1', await lowestFreePort());
    const brief = await listen(net.createServer(), '127.0.0.1', await lowestFreePort());
    let s: Served | undefined;
    try {
      s = await serve([], dir, { FORGEWATCH_CONFIG: '' });
      await brief.close();
      // The second scan reloads the default: only then do listeners become checks.
      await waitFor(() => s?.lines().some((l) => l.event === 'reloaded'), 15_000);
      const names = ((await (await fetch(`${s.url}/api/status`)).json()) as { checks: { name: string }[] }).checks.map(
        (c) => c.name,
      );
      expect(names).toContain(`port-${kept.port}`);
      expect(names).not.toContain(`port-${brief.port}`);
    } finally {
      if (s) await stop(s);
      await kept.close();
      await cleanup();
    }
  });

  it('reloads on SIGHUP, keeps the running config when the new one is bad, and never logs the token', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'fw.yaml');
      const token = 'sup3r-s3cret-token';
      const base = `server:\n  token: \${FW_TEST_TOKEN}\ndefaults: { interval: 1h, failure_threshold: 1 }\nchecks:\n  - name: one\n    type: http\n    url: http://127.0.0.1:9/\n`;
      writeFileSync(file, base);
      const s = await serve(['-c', file], dir, { FW_TEST_TOKEN: token });
      const auth = { authorization: `Bearer ${token}` };
      const names = async () =>
        (
          (await (await fetch(`${s.url}/api/status`, { headers: auth })).json()) as { checks: Array<{ name: string }> }
        ).checks.map((c) => c.name);
      expect(await names()).toEqual(['one']);

      writeFileSync(file, `${base}  - name: two\n    type: http\n    url: http://127.0.0.1:9/two\n`);
      s.child.kill('SIGHUP');
      await waitFor(async () => (await names()).length === 2);
      expect(await names()).toEqual(['one', 'two']);

      writeFileSync(file, `${base}  - name: three\n    type: http\n    url: not-a-url\n`);
      s.child.kill('SIGHUP');
      const rejected = await waitFor(() => s.lines().find((l) => l.event === 'reload_failed'));
      expect(rejected.error).toMatch(/fw\.yaml:\d+:\d+ checks\[1\] \(three\)\.url: expected an http/);
      expect(await names()).toEqual(['one', 'two']);

      await waitFor(() => s.lines().some((l) => l.event === 'transition'), 15_000);
      const transition = s.lines().find((l) => l.event === 'transition');
      expect(transition).toMatchObject({
        check: expect.any(String),
        from: 'unknown',
        to: 'fail',
        reason: expect.stringContaining('ECONNREFUSED'),
      });
      expect(JSON.stringify(s.lines())).not.toContain(token);
    } finally {
      await Promise.all(running.map(stop));
      await cleanup();
    }
  });

  it('exits 2 with file:line:col when the config is bad at start-up', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'bad.yaml');
      writeFileSync(file, 'checks:\n  - name: x\n    type: http\n    url: http://127.0.0.1:9/\n    intervall: 5s\n');
      const child = spawn(process.execPath, [BUILT_CLI, 'serve', '-c', file, '--listen', '127.0.0.1:0'], { cwd: dir });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      expect(err.trim()).toBe(
        `${file}:5:5 checks[0] (x).intervall: unknown key "intervall" — did you mean "interval"?`,
      );
    } finally {
      await cleanup();
    }
  });

  it('with --listen HOST:0 the discovered self-check dials the port actually bound', async () => {
    const { dir, cleanup } = tempDir();
    let s: Served | undefined;
    try {
      s = await serve([], dir, { FORGEWATCH_CONFIG: '' }, '127.0.0.1:0');
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(s.url.endsWith(':0')).toBe(false);
      const report = (await (await fetch(`${s.url}/check?name=forgewatch-self`)).json()) as {
        ok: boolean;
        checks: Array<{ status: string; details: { url: string } }>;
      };
      expect(report.checks[0]?.details.url).toBe(`${s.url}/healthz`);
      expect(report.ok).toBe(true);
    } finally {
      if (s) await stop(s);
      await cleanup();
    }
  });

  it('keeps running when the state file cannot be written, says so once, and says when writes work again', async () => {
    const { dir, cleanup } = tempDir();
    let flip = false;
    const target = await httpServer((_req, res) => res.writeHead((flip = !flip) ? 200 : 503).end());
    try {
      const stateDir = path.join(dir, 'state');
      mkdirSync(path.join(stateDir, 'state.json'), { recursive: true });
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(
        file,
        `state_dir: ./state\ndefaults: { failure_threshold: 1 }\nchecks:\n  - name: flappy\n    type: http\n    url: ${target.url}/\n    interval: 100ms\n`,
      );
      const s = await serve(['-c', file], dir);
      const count = (event: string) => s.lines().filter((l) => l.event === event).length;
      // Every run flips the check, so every run tries to write the state file.
      await waitFor(() => count('transition') >= 5, 15_000);
      expect(count('state_write_failed')).toBe(1);
      const failed = s.lines().find((l) => l.event === 'state_write_failed');
      expect(failed).toMatchObject({ level: 'error', error: expect.stringContaining('EISDIR') });
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);

      rmdirSync(path.join(stateDir, 'state.json'));
      await waitFor(() => count('state_write_recovered') === 1, 15_000);
      expect(count('state_write_failed')).toBe(1);
      expect(statSync(path.join(stateDir, 'state.json')).isFile()).toBe(true);
      expect(JSON.parse(readFileSync(path.join(stateDir, 'state.json'), 'utf8'))).toMatchObject({
        version: 1,
        checks: { flappy: { status: expect.stringMatching(/^(ok|fail)$/) } },
      });
      expect(s.child.exitCode).toBeNull();
      // A clean shutdown, then no temp file from any of the failed writes is left behind.
      const exited = new Promise((resolve) => s.child.once('exit', resolve));
      s.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(readdirSync(stateDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await Promise.all(running.map(stop));
      await target.close();
      await cleanup();
    }
  });

  it('exits 2 with one line naming the state_dir and the fix when it cannot be created', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(path.join(dir, 'blocker'), 'a file where the state directory should be\n');
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(file, 'state_dir: ./blocker/state\nchecks: []\n');
      const res = await serveUntilExit(['-c', file, '--listen', '127.0.0.1:0'], dir);
      expect(res.code).toBe(2);
      expect(res.stderr).toBe('');
      const lines = jsonLines(res.stdout);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        event: 'state_dir_unusable',
        msg: `state_dir ${path.join(dir, 'blocker', 'state')} cannot be used: ENOTDIR`,
        hint: expect.stringContaining('set state_dir'),
      });
    } finally {
      await cleanup();
    }
  });

  it('exits 2 naming the state_dir when the user it runs as may not create it (EACCES)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      // Root bypasses permissions: run serve as nobody in a folder nobody may read but not write.
      chmodSync(dir, 0o755);
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(file, 'state_dir: ./state\nchecks: []\n', { mode: 0o644 });
      const res = await serveUntilExit(['-c', file, '--listen', '127.0.0.1:0'], dir, { uid: 65534 });
      expect(res.code).toBe(2);
      const lines = jsonLines(res.stdout);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        event: 'state_dir_unusable',
        msg: `state_dir ${path.join(dir, 'state')} cannot be used: EACCES`,
        hint: expect.stringContaining('fix the owner or mode'),
      });
    } finally {
      await cleanup();
    }
  });

  it('a busy listen port gives one JSON line with a plain message and a hint, and exit 2', async () => {
    const { dir, cleanup } = tempDir();
    const holder = await listen(net.createServer());
    try {
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(file, 'checks: []\n');
      const res = await serveUntilExit(['-c', file, '--listen', `127.0.0.1:${holder.port}`], dir);
      expect(res.code).toBe(2);
      expect(res.stderr).toBe('');
      const lines = jsonLines(res.stdout);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 'error',
        event: 'listen_failed',
        msg: `cannot listen on 127.0.0.1:${holder.port}: the address is already in use`,
      });
      expect(lines[0]?.hint).toMatch(
        /another forgewatch or another process holds this port.*--listen HOST:PORT or server\.listen/,
      );
    } finally {
      await holder.close();
      await cleanup();
    }
  });

  it('logs the level as a word; --log-format text (or FORGEWATCH_LOG_FORMAT) prints one readable line per event', async () => {
    const { dir, cleanup } = tempDir();
    const target = await httpServer((_req, res) => void res.writeHead(502).end());
    try {
      const config = (stateDir: string) =>
        `state_dir: ${stateDir}\ndefaults: { failure_threshold: 1 }\nchecks:\n  - name: api\n    type: http\n    url: ${target.url}/\n    interval: 100ms\n`;
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(file, config('./state'));
      const json = await serve(['-c', file], dir);
      expect(json.lines().find((l) => l.event === 'started')).toMatchObject({ level: 'info', service: 'forgewatch' });
      await stop(json);

      const ways = [
        { args: ['--log-format', 'text'], env: {} },
        { args: [], env: { FORGEWATCH_LOG_FORMAT: 'text' } },
      ];
      for (const [i, how] of ways.entries()) {
        // A state_dir of its own: a check remembered as failing makes no transition to log.
        const file = path.join(dir, `fw-${i}.yaml`);
        writeFileSync(file, config(`./state-${i}`));
        const port = await freePort();
        const child = spawn(
          process.execPath,
          [BUILT_CLI, 'serve', '-c', file, '--listen', `127.0.0.1:${port}`, ...how.args],
          { cwd: dir, env: { ...process.env, ...how.env } },
        );
        running.push({ child, lines: () => [], url: '' });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        await waitFor(() => out.includes(' transition '), 15_000);
        const lines = out.split('\n').filter(Boolean);
        for (const line of lines) expect(line.startsWith('{'), line).toBe(false);
        expect(lines.find((l) => l.includes(' started '))).toMatch(
          new RegExp(
            `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  started forgewatch listening on http://127\\.0\\.0\\.1:${port} {2}checks=1 `,
          ),
        );
        const transition = lines.find((l) => l.includes(' transition '));
        expect(transition).toMatch(/^\S+Z INFO  transition api: unknown -> fail: status 502, expected 200-299 /);
        // What the message leaves out follows as key=value; what it says is not repeated.
        expect(transition).toMatch(/ type=http /);
        expect(transition).toMatch(/ hint="The proxy/);
        expect(transition).not.toContain('check=api');
        child.kill('SIGKILL');
      }

      const bad = await serveUntilExit(['-c', file, '--log-format', 'xml'], dir);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim()).toBe('forgewatch: --log-format: expected json or text, got "xml"');
    } finally {
      await target.close();
      await cleanup();
    }
  });
});
