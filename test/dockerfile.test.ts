/**
 * There is no Docker engine here, so this test plays the Dockerfile itself outside Docker: each stage
 * gets a directory standing in for its filesystem root, COPY and RUN steps run as written (absolute
 * image paths mapped into that root), then the final stage's ENTRYPOINT + CMD is started and its
 * HEALTHCHECK is run. A missing COPY, a broken build command or a bad entry point fails here.
 * Deviation from Docker, for speed and no network: `npm ci` is played as `npm prune` over a hard-linked
 * copy of the installed node_modules (so `--omit=dev` still removes the dev dependencies).
 * The tests run as root; the final stage is started with its USER's uid and gid (setpriv), and as the
 * compose example runs it, so a state directory the image's user cannot write fails here.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCompose, setprivArgs, type ComposeService } from './helpers/compose.js';
import { freePort } from './helpers/servers.js';
import { cliNodeFlags, tempDir, waitFor } from './helpers/service.js';

const run = promisify(execFile);
const CONTEXT = path.resolve('.');

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  name?: string;
  from: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  volumes: string[];
  expose: string[];
  healthcheck?: string[];
  entrypoint?: string[];
  cmd?: string[];
}

function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`unparsable Dockerfile line: ${l}`);
      return { op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() };
    });
}

function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw new Error(`expected exec form (JSON array), got ${args}`);
  return parsed;
}

const instructions = parseDockerfile(readFileSync(path.join(CONTEXT, 'Dockerfile'), 'utf8'));
const ignored = readFileSync(path.join(CONTEXT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

/** Absolute paths the Dockerfile itself creates or names: these are mapped into a stage's root. */
const imagePaths = (() => {
  const found = new Set<string>();
  for (const { op, args } of instructions) {
    if (op === 'WORKDIR') found.add(args);
    if (op === 'VOLUME') for (const v of execForm(args)) found.add(v);
    if (op === 'ENV') for (const m of args.matchAll(/=(\/\S+)/g)) found.add(path.dirname(m[1] as string));
    if (op === 'COPY') for (const m of args.matchAll(/(?:^|\s)(\/[^\s]+)/g)) found.add(m[1] as string);
  }
  return [...found].sort((a, b) => b.length - a.length);
})();

function mapPaths(text: string, root: string): string {
  let out = text;
  for (const p of imagePaths)
    out = out.replace(
      new RegExp(`(?<![\\w/])${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=$|[\\s/'"])`, 'g'),
      root + p,
    );
  return out;
}

const tmp = tempDir('forgewatch-dockerfile-');
const stages: Stage[] = [];

async function playRun(stage: Stage, command: string): Promise<void> {
  const cwd = path.join(stage.root, stage.workdir);
  let shell = mapPaths(command, stage.root);
  if (/\bnpm ci\b/.test(shell)) {
    cpHardlinks(path.join(CONTEXT, 'node_modules'), path.join(cwd, 'node_modules'));
    shell = shell.replace(/\bnpm ci\b/g, 'npm prune');
  }
  const env = {
    ...process.env,
    ...stage.env,
    npm_config_offline: 'true',
    npm_config_cache: path.join(tmp.dir, 'npm-cache'),
    npm_config_update_notifier: 'false',
  };
  try {
    await run('sh', ['-ec', shell], { cwd, env, timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`RUN ${command} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * Hard links are instant on one filesystem; a plain copy is the fallback across filesystems.
 * npm rewrites its hidden lockfile in place, so that one file is copied: the repository's own stays untouched.
 */
function cpHardlinks(from: string, to: string): void {
  try {
    execFileSync('cp', ['-al', from, to]);
    const hidden = path.join(to, '.package-lock.json');
    if (existsSync(hidden)) {
      rmSync(hidden);
      cpSync(path.join(from, '.package-lock.json'), hidden);
    }
  } catch {
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

async function play(): Promise<void> {
  const args: Record<string, string> = {};
  let stage: Stage | undefined;
  for (const { op, args: raw } of instructions) {
    const text = raw.replace(/\$\{(\w+)\}/g, (_m, k: string) => args[k] ?? process.env[k] ?? '');
    switch (op) {
      case 'ARG': {
        const [k, v] = text.split('=');
        if (k && !(k in args)) args[k] = v ?? '';
        break;
      }
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(text);
        stage = {
          from: m?.[1] ?? text,
          ...(m?.[2] ? { name: m[2] } : {}),
          root: path.join(tmp.dir, `stage${stages.length}`),
          workdir: '/',
          env: {},
          volumes: [],
          expose: [],
        };
        mkdirSync(stage.root, { recursive: true });
        stages.push(stage);
        break;
      }
      case 'WORKDIR':
        if (!stage) throw new Error('WORKDIR before FROM');
        stage.workdir = path.posix.resolve(stage.workdir, text);
        mkdirSync(path.join(stage.root, stage.workdir), { recursive: true });
        break;
      case 'ENV':
        for (const m of text.matchAll(/(\w+)=(\S+)/g))
          if (stage) stage.env[m[1] as string] = mapPaths(m[2] as string, stage.root);
        break;
      case 'COPY': {
        if (!stage) throw new Error('COPY before FROM');
        const parts = text.split(/\s+/);
        const fromStage = parts[0]?.startsWith('--from=')
          ? stages.find((s) => s.name === parts[0]?.slice(7))
          : undefined;
        const paths = parts.filter((p) => !p.startsWith('--'));
        const dest = paths.pop() as string;
        const destDir = path.join(stage.root, path.posix.resolve(stage.workdir, dest));
        for (const src of paths) {
          const from = fromStage ? path.join(fromStage.root, src) : path.join(CONTEXT, src);
          if (!fromStage && ignored.some((pattern) => pattern === src || pattern === src.split('/')[0]))
            throw new Error(`COPY ${src}: excluded by .dockerignore`);
          if (!existsSync(from))
            throw new Error(
              `COPY ${src}: no such file in the ${fromStage ? `stage ${fromStage.name}` : 'build context'}`,
            );
          cpSync(from, dest.endsWith('/') ? path.join(destDir, path.basename(src)) : destDir, { recursive: true });
        }
        break;
      }
      case 'RUN':
        if (!stage) throw new Error('RUN before FROM');
        await playRun(stage, text);
        break;
      case 'USER':
        if (stage) stage.user = text;
        break;
      case 'VOLUME':
        stage?.volumes.push(...execForm(text));
        break;
      case 'EXPOSE':
        stage?.expose.push(...text.split(/\s+/));
        break;
      case 'HEALTHCHECK':
        if (stage) stage.healthcheck = execForm(text.replace(/^(--\S+\s+)*CMD\s+/, ''));
        break;
      case 'ENTRYPOINT':
        if (stage) stage.entrypoint = execForm(text);
        break;
      case 'CMD':
        if (stage) stage.cmd = execForm(text);
        break;
      default:
        throw new Error(
          `instruction ${op} is not played by this test: teach it, or keep the Dockerfile to the ones above`,
        );
    }
  }
}

beforeAll(play, 180_000);
afterAll(() => tmp.cleanup());

describe('Dockerfile', () => {
  it('is multi-stage on a Node LTS image, and runs as a non-root user with the state in a volume', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const final = stages.at(-1) as Stage;
    for (const s of stages) expect(s.from).toMatch(/^node:(2[02468]|[3-9][02468])-/);
    // Numeric, so an orchestrator can tell it is not root without the image's /etc/passwd.
    expect(final.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(final.expose).toContain('9464');
    expect(final.volumes).toContain('/var/lib/forgewatch');
    expect(final.env.FORGEWATCH_CONFIG).toBe(path.join(final.root, '/etc/forgewatch/forgewatch.yaml'));
    // A config without state_dir keeps its state in the volume, not next to the root-owned config.
    expect(final.env.FORGEWATCH_STATE_DIR).toBe(path.join(final.root, '/var/lib/forgewatch'));
    expect(final.healthcheck?.join(' ')).toContain('FORGEWATCH_HEALTHCHECK_URL');
    expect(final.env.FORGEWATCH_HEALTHCHECK_URL).toBe('http://127.0.0.1:9464/healthz');
  });

  it('installs only production dependencies in the runtime stage, and ships the compiled code', () => {
    const app = path.join((stages.at(-1) as Stage).root, 'app');
    const modules = readdirSync(path.join(app, 'node_modules'));
    expect(modules).toContain('express');
    expect(modules).toContain('prom-client');
    expect(modules).not.toContain('typescript');
    expect(modules).not.toContain('vitest');
    expect(existsSync(path.join(app, 'dist/src/cli.js'))).toBe(true);
    expect(existsSync(path.join(app, 'dist/test'))).toBe(false);
  });

  it('starts from its ENTRYPOINT and CMD as its USER with a config that sets no state_dir, answers /healthz, passes its own HEALTHCHECK and stops on SIGTERM', async () => {
    const final = stages.at(-1) as Stage;
    const [uid, gid] = (final.user ?? '').split(':');
    await startFinal({ user: `${uid}:${gid}`, cap_drop: ['ALL'] }, true);
  });

  it('runs as the compose example runs it: root with only SYS_PTRACE and DAC_READ_SEARCH, still writing its state', async () => {
    const service = readCompose(path.join(CONTEXT, 'examples/docker-compose.yml'), {
      SECRET_KEY: 'x',
      SMTP_PASSWORD: 'x',
      SLACK_WEBHOOK_URL: 'x',
      FORGEWATCH_TOKEN: 'x',
    }).services.forgewatch as ComposeService;
    expect(service.user).toBe('0:0');
    await startFinal(service, false);
  });

  it("starts node with the CLI's own flags (its #! line), as npx forgewatch and npm start do", () => {
    const flags = cliNodeFlags();
    expect(flags).toContain('--max-semi-space-size=2');
    expect(flags).toContain('--single-threaded-gc');
    const final = stages.at(-1) as Stage;
    expect(final.entrypoint).toEqual(['node', ...flags, '/app/dist/src/cli.js']);
    const scripts = (
      JSON.parse(readFileSync(path.join(CONTEXT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.start).toContain(`node ${flags.join(' ')} dist/src/cli.js serve`);
  });

  it('keeps the build context small: dependencies, build output and secrets stay out', () => {
    for (const p of ['node_modules', 'dist', '.git', '.env', 'forgewatch.yaml']) expect(ignored).toContain(p);
  });
});

/**
 * Starts the final stage's ENTRYPOINT + CMD with `privileges` (user, groups, capabilities), with a config
 * that sets no state_dir, waits for /healthz, optionally runs the HEALTHCHECK, checks the state landed
 * in the volume directory, and stops it with SIGTERM.
 */
async function startFinal(privileges: ComposeService, healthcheck: boolean): Promise<void> {
  const final = stages.at(-1) as Stage;
  const port = await freePort();
  const stateDir = final.env.FORGEWATCH_STATE_DIR as string;
  // The temp dir stands in for the image's /: like it, others may enter it.
  chmodSync(tmp.dir, 0o755);
  for (const f of existsSync(stateDir) ? readdirSync(stateDir) : [])
    rmSync(path.join(stateDir, f), { recursive: true, force: true });
  writeFileSync(
    final.env.FORGEWATCH_CONFIG as string,
    `checks:\n  - { name: self, type: http, url: 'http://127.0.0.1:${port}/healthz', interval: 1s }\n`,
  );
  const argv = [...(final.entrypoint ?? []), ...(final.cmd ?? [])].map((a) =>
    mapPaths(a, final.root).replace('0.0.0.0:9464', `127.0.0.1:${port}`),
  );
  expect(argv[0]).toBe('node');
  const env = {
    PATH: process.env.PATH ?? '',
    ...final.env,
    FORGEWATCH_HEALTHCHECK_URL: `http://127.0.0.1:${port}/healthz`,
  };
  const child = spawn('setpriv', [...setprivArgs(privileges), process.execPath, ...argv.slice(1)], {
    cwd: path.join(final.root, final.workdir),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  try {
    const health = await waitFor(
      async () =>
        child.exitCode === null
          ? fetch(`http://127.0.0.1:${port}/healthz`).then(
              (r) => (r.ok ? r.json() : undefined),
              () => undefined,
            )
          : Promise.reject(new Error(`exited: ${output}`)),
      20_000,
      100,
    );
    expect(health).toMatchObject({ status: 'ok', checks: 1 });
    if (healthcheck) {
      const probe = final.healthcheck ?? [];
      expect(probe[0]).toBe('node');
      const result = await run('setpriv', [...setprivArgs(privileges), process.execPath, ...probe.slice(1)], {
        env,
        timeout: 10_000,
      }).then(
        () => 0,
        (e: { code?: number }) => e.code ?? 1,
      );
      expect(result).toBe(0);
    }
    // The state lands in the volume directory, though the config names none.
    await waitFor(() => readdirSync(stateDir).length > 0, 10_000);
    expect(statSync(stateDir).uid).toBe(1000);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
