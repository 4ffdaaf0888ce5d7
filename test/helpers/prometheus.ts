/** A real Prometheus (Debian's) and promtool, run by tests on 127.0.0.1 with a temp data dir. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './servers.js';
import { tempDir, waitFor } from './service.js';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs promtool with `args`, feeding `input` on stdin when given. */
export function promtool(args: string[], opts: { input?: string; cwd?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile('promtool', args, { cwd: opts.cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

export interface RunningPrometheus {
  url: string;
  /** GET /api/v1/query; returns the `data.result` vector. */
  query(expr: string): Promise<PromSample[]>;
  api<T>(pathAndQuery: string): Promise<{ status: string; data: T; error?: string }>;
  stop(): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Starts Prometheus scraping `targets` (host:port) every second as job `job`, with optional rule files. */
export async function startPrometheus(opts: {
  job: string;
  targets: string[];
  ruleFiles?: string[];
}): Promise<RunningPrometheus> {
  const tmp = tempDir('forgewatch-prom-');
  const port = await freePort();
  const configFile = path.join(tmp.dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: opts.ruleFiles ?? [],
      scrape_configs: [{ job_name: opts.job, static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(tmp.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(pathAndQuery: string) =>
    (await (await fetch(`${url}${pathAndQuery}`)).json()) as { status: string; data: T; error?: string };
  try {
    await waitFor(
      async () =>
        child.exitCode === null &&
        (await fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        )),
      15_000,
      100,
    );
  } catch (err) {
    child.kill('SIGKILL');
    await tmp.cleanup();
    throw new Error(`prometheus did not become ready: ${(err as Error).message}\n${log}`);
  }
  return {
    url,
    api,
    query: async (expr) => {
      const res = await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (res.status !== 'success') throw new Error(`query ${expr} failed: ${res.error ?? ''}`);
      return res.data.result;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await tmp.cleanup();
    },
  };
}
