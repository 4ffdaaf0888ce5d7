/** Starts a real forgewatch in the test process, and runs the real CLI as a child process. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { loadConfigFile } from '../../src/config/load.js';
import { startService, type Service } from '../../src/service.js';

const helpersDir = path.dirname(fileURLToPath(import.meta.url));
/** The built CLI; `npm test` builds before it runs the tests. The bench imports these helpers compiled, from dist/. */
export const BUILT_CLI = path.resolve(
  helpersDir,
  path.basename(path.resolve(helpersDir, '../..')) === 'dist' ? '../../src/cli.js' : '../../dist/src/cli.js',
);

/**
 * The node flags of the CLI's `#!/usr/bin/env -S node …` line: what `npx forgewatch` and the installed
 * `forgewatch` run with, so processes the tests and the bench start run as a user's would.
 */
export function cliNodeFlags(): string[] {
  const shebang = readFileSync(BUILT_CLI, 'utf8').split('\n', 1)[0] ?? '';
  return shebang.split(/\s+/).filter((word) => word.startsWith('--'));
}

export function tempDir(prefix = 'forgewatch-test-'): { dir: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface RunningForgewatch {
  service: Service;
  url: string;
  dir: string;
  configFile: string;
  /** Rewrites the config file (for reload tests). */
  writeConfig(yaml: string): void;
  close(): Promise<void>;
}

/** Writes `yaml` to a temp dir (state_dir defaults there) and starts the service on a free port (silent by default). */
export async function startForgewatch(
  yaml: string,
  opts: { dir?: string; logger?: Logger } = {},
): Promise<RunningForgewatch> {
  const own = opts.dir ? undefined : tempDir();
  const dir = opts.dir ?? (own as { dir: string }).dir;
  const configFile = path.join(dir, 'forgewatch.yaml');
  writeFileSync(configFile, yaml);
  const load = () => loadConfigFile(configFile);
  const service = await startService({
    config: load(),
    loadConfig: load,
    logger: opts.logger ?? pino({ level: 'silent' }),
    listen: { host: '127.0.0.1', port: 0 },
  });
  return {
    service,
    url: service.url,
    dir,
    configFile,
    writeConfig: (text) => writeFileSync(configFile, text),
    async close() {
      await service.close();
      await own?.cleanup();
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/src/cli.js) with the given args. */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...cliNodeFlags(), BUILT_CLI, ...args],
      { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Polls until `fn` returns a truthy value or the time is up. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
