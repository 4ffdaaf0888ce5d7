import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILT_CLI, tempDir, waitFor } from './helpers/service.js';
import { freePort } from './helpers/servers.js';

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

async function serve(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', '--listen', `127.0.0.1:${port}`, ...args], { cwd, env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const served: Served = {
    child,
    url: `http://127.0.0.1:${port}`,
    lines: () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
  running.push(served);
  await waitFor(() => served.lines().some((l) => l.event === 'started'), 15_000);
  return served;
}

describe('forgewatch serve', () => {
  it('runs the embedded default when no config file exists, and its self-check passes', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await serve([], dir, { FORGEWATCH_CONFIG: '' });
      expect(s.lines().some((l) => l.event === 'default_config')).toBe(true);
      const health = await fetch(`${s.url}/healthz`);
      expect(health.status).toBe(200);
      const report = (await (await fetch(`${s.url}/check?name=forgewatch-self`)).json()) as { ok: boolean; checks: Array<{ status: string }> };
      expect(report.ok).toBe(true);
      expect(report.checks[0]?.status).toBe('ok');
    } finally {
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
      const names = async () => ((await (await fetch(`${s.url}/api/status`, { headers: auth })).json()) as { checks: Array<{ name: string }> }).checks.map((c) => c.name);
      expect(await names()).toEqual(['one']);

      writeFileSync(file, `${base}  - name: two\n    type: http\n    url: http://127.0.0.1:9/two\n`);
      s.child.kill('SIGHUP');
      await waitFor(async () => (await names()).length === 2);
      expect(await names()).toEqual(['one', 'two']);

      writeFileSync(file, `${base}  - name: three\n    type: http\n    url: not-a-url\n`);
      s.child.kill('SIGHUP');
      const rejected = await waitFor(() => s.lines().find((l) => l.event === 'reload_failed'));
      expect(rejected.error).toMatch(/fw\.yaml:\d+:\d+ checks\[1\]\.url: expected an http/);
      expect(await names()).toEqual(['one', 'two']);

      await waitFor(() => s.lines().some((l) => l.event === 'transition'), 15_000);
      const transition = s.lines().find((l) => l.event === 'transition');
      expect(transition).toMatchObject({ check: expect.any(String), from: 'unknown', to: 'fail', reason: expect.stringContaining('ECONNREFUSED') });
      expect(JSON.stringify(s.lines())).not.toContain(token);
    } finally {
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
      expect(err.trim()).toBe(`${file}:5:5 checks[0].intervall: unknown key "intervall"`);
    } finally {
      await cleanup();
    }
  });
});
