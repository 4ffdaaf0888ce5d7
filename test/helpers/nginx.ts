/**
 * A real Debian nginx for tests, in the foreground with its own prefix, config, pid, logs and temp
 * paths under one folder, listening where the given `http {}` body says. Stopped by its own PID.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from './service.js';

export interface NginxOptions {
  /** The body of the `http {}` block: server blocks, upstreams, maps... */
  http: string;
  /** Folder for config, logs and temp paths (and the caller's certificates); default a new temp dir, removed on stop. */
  dir?: string;
}

export interface RunningNginx {
  dir: string;
  pid: number;
  /** Rewrites the `http {}` body (when given), runs `nginx -s reload` and waits until new workers replaced the old ones. */
  reload(http?: string): Promise<void>;
  stop(): Promise<void>;
  errorLog(): string;
}

const NGINX = '/usr/sbin/nginx';

function renderConfig(dir: string, http: string): string {
  const tmp = path.join(dir, 'tmp');
  return `daemon off;
master_process on;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} notice;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${tmp}/client_body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${http}
}
`;
}

/** A TLS server block answering 200 "ok" (and the server name) on 127.0.0.1:port. */
export function tlsServerBlock(opts: {
  port: number;
  certFile: string;
  keyFile: string;
  serverName?: string;
  extra?: string;
}): string {
  return `  server {
    listen 127.0.0.1:${opts.port} ssl;
    server_name ${opts.serverName ?? '_'};
    ssl_certificate ${opts.certFile};
    ssl_certificate_key ${opts.keyFile};
    ${opts.extra ?? ''}
    location / { return 200 "ok $server_name\\n"; }
  }`;
}

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NGINX, args, { timeout: 10_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
    );
  });
}

export async function startNginx(opts: NginxOptions): Promise<RunningNginx> {
  const own = opts.dir ? undefined : tempDir('forgewatch-nginx-');
  const dir = opts.dir ?? (own as { dir: string }).dir;
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const confFile = path.join(dir, 'nginx.conf');
  const logFile = path.join(dir, 'error.log');
  const pidFile = path.join(dir, 'nginx.pid');
  writeFileSync(confFile, renderConfig(dir, opts.http));
  const base = ['-p', dir, '-c', confFile, '-e', logFile];
  const check = await run([...base, '-t']);
  if (check.code !== 0) throw new Error(`nginx -t failed:\n${check.stderr}`);

  const child: ChildProcess = spawn(NGINX, base, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  // The pid file can appear before the listen sockets accept; a started worker means they do.
  await waitFor(() => {
    if (child.exitCode !== null)
      throw new Error(`nginx exited at start (code ${child.exitCode}):\n${stderr}${errorLog()}`);
    return existsSync(pidFile) && /start worker process/.test(errorLog());
  });

  return {
    dir,
    pid: child.pid as number,
    errorLog,
    async reload(http) {
      if (http !== undefined) writeFileSync(confFile, renderConfig(dir, http));
      const before = errorLog().length;
      const signalled = await run([...base, '-s', 'reload']);
      if (signalled.code !== 0) throw new Error(`nginx -s reload failed:\n${signalled.stderr}`);
      // Done when a new worker started and the old one exited, so no connection reaches the old config.
      await waitFor(() => {
        const since = errorLog().slice(before);
        if (/\[emerg\]/.test(since)) throw new Error(`nginx rejected the new config:\n${since}`);
        return /start worker process/.test(since) && /exited with code/.test(since);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await own?.cleanup();
    },
  };
}
