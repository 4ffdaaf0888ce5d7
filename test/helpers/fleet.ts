/**
 * Real `forgewatch serve` processes of one fleet (the built CLI), so a test can kill -9 one for real, and an HTTP
 * target that records which node ran which check (each check's URL carries `?node=${FW_NODE}`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { receiver, type Receiver } from './alerts.js';
import { startEtcdCluster, type EtcdCluster } from './etcd.js';
import { BUILT_CLI, cliNodeFlags, waitFor } from './service.js';
import { httpServer, type Started } from './servers.js';
import type http from 'node:http';

export interface FleetProcess {
  node: string;
  url: string;
  process: ChildProcess;
  /** Every log line so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `forgewatch serve -c configFile --listen 127.0.0.1:0` with FW_NODE=node and FW_STATE=<dir>/<node>;
 * resolves once it listens (its `started` log line), rejects with its output when it exits first.
 */
export async function startFleetNode(
  configFile: string,
  node: string,
  dir: string,
  env: NodeJS.ProcessEnv = {},
  /** `netns`: run it in that network namespace (`ip netns exec`), listening on `host`. */
  where: { netns?: string; host?: string } = {},
): Promise<FleetProcess> {
  const stateDir = path.join(dir, node);
  mkdirSync(stateDir, { recursive: true });
  const serve = [...cliNodeFlags(), BUILT_CLI, 'serve', '-c', configFile, '--listen', `${where.host ?? '127.0.0.1'}:0`];
  const [command, args] = where.netns
    ? ['ip', ['netns', 'exec', where.netns, process.execPath, ...serve]]
    : [process.execPath, serve];
  const child = spawn(command, args, {
    env: { ...process.env, ...env, FW_NODE: node, FW_STATE: stateDir, FORGEWATCH_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      raw += line + '\n';
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let gone: number | string | undefined;
  void exited.then((c) => (gone = c));
  const started = await waitFor(
    () => {
      if (gone !== undefined) throw new Error(`forgewatch ${node} exited (${gone}) before listening:\n${raw}`);
      return logs.find((l) => l.event === 'started');
    },
    30_000,
    50,
  );
  return {
    node,
    url: started.url as string,
    process: child,
    logs,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface HitTarget extends Started<http.Server> {
  /** Every run seen: the check (the path without its slash), the node from the query, and when. */
  hits: Array<{ check: string; node: string; at: number }>;
  /** Status answered per check name; 200 until set. */
  set(check: string, status: number): void;
}

export async function hitTarget(host = '127.0.0.1'): Promise<HitTarget> {
  const hits: HitTarget['hits'] = [];
  const statuses = new Map<string, number>();
  const started = await httpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const check = url.pathname.slice(1);
    hits.push({ check, node: url.searchParams.get('node') ?? '', at: Date.now() });
    res.writeHead(statuses.get(check) ?? 200).end('target\n');
  }, host);
  return Object.assign(started, { hits, set: (check: string, status: number) => void statuses.set(check, status) });
}

/** GET a node's API as JSON. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** What a fleet test runs against: a three-member etcd with a client, a target that records runs, a webhook receiver. */
export interface FleetScene {
  etcd: EtcdCluster;
  client: Etcd3;
  target: HitTarget;
  hook: Receiver;
  /** Kills the nodes given, then stops everything else. */
  close(nodes: FleetProcess[]): Promise<void>;
}

export async function startFleetScene(): Promise<FleetScene> {
  const [etcd, target, hook] = await Promise.all([startEtcdCluster(), hitTarget(), receiver()]);
  const client = new Etcd3({ hosts: etcd.endpoints });
  return {
    etcd,
    client,
    target,
    hook,
    async close(nodes) {
      await Promise.all(nodes.map((n) => n.kill()));
      client.close();
      await Promise.all([target.close(), hook.close()]);
      await etcd.stop();
    },
  };
}
