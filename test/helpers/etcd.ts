/** A real three-member etcd cluster on loopback: free ports, own data dirs, members that can be killed and restarted. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from './service.js';
import { freePort } from './servers.js';

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process?: ChildProcess;
  exited?: Promise<void>;
}

export interface EtcdCluster {
  /** Client URLs of every member, in member order. */
  endpoints: string[];
  /** Kills a member with SIGKILL (no goodbye to its peers) and waits until it has exited. */
  kill(index: number): Promise<void>;
  /** Starts a killed member again with the same flags and data dir; it rejoins the cluster. */
  restart(index: number): void;
  /** Resolves once `etcdctl endpoint health` answers healthy for the given members (all by default). */
  healthy(indexes?: number[], timeoutMs?: number): Promise<void>;
  /** SIGKILL every member, then remove the data dirs (SIGTERM while the dir vanishes can hang etcd). */
  stop(): Promise<void>;
}

function etcdctl(args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('etcdctl', args, { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 5_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, output: stdout + stderr }),
    );
  });
}

/**
 * Starts a cluster, trying again on new ports when a member dies at start-up: a free port read here can be taken
 * by another process (another test file's etcd, on a busy machine) before etcd binds it.
 */
export async function startEtcdCluster(size = 3, host = '127.0.0.1'): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size, host);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** `host`: where clients reach it (another address than loopback lets network namespaces reach it too). */
async function startOnce(size: number, host: string): Promise<EtcdCluster> {
  const root = mkdtempSync(path.join(tmpdir(), 'forgewatch-etcd-'));
  const token = `fw-${process.pid}-${Date.now()}`;
  const members: Member[] = [];
  for (let i = 0; i < size; i++) {
    const name = `e${i + 1}`;
    members.push({
      name,
      clientUrl: `http://${host}:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: path.join(root, name),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const launch = (m: Member) => {
    const child = spawn(
      'etcd',
      [
        ...['--name', m.name, '--data-dir', m.dataDir, '--log-level', 'error'],
        ...['--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl],
        ...['--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl],
        ...['--initial-cluster', initialCluster, '--initial-cluster-state', 'new'],
        ...['--initial-cluster-token', token],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // Drain stderr so a chatty member never blocks on a full pipe.
    child.stderr?.resume();
    m.process = child;
    m.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  };
  members.forEach(launch);

  const cluster: EtcdCluster = {
    endpoints: members.map((m) => m.clientUrl),
    async kill(index) {
      const m = members[index] as Member;
      if (m.process && m.process.exitCode === null && m.process.signalCode === null) {
        m.process.kill('SIGKILL');
        await m.exited;
      }
    },
    restart(index) {
      launch(members[index] as Member);
    },
    async healthy(indexes = members.map((_, i) => i), timeoutMs = 20_000) {
      const endpoints = indexes.map((i) => (members[i] as Member).clientUrl).join(',');
      await waitFor(async () => (await etcdctl(['--endpoints', endpoints, 'endpoint', 'health'])).ok, timeoutMs, 100);
    },
    async stop() {
      await Promise.all(members.map((_, i) => cluster.kill(i)));
      await rm(root, { recursive: true, force: true });
    },
  };
  let starting = true;
  const died = new Promise<never>((_, reject) => {
    for (const m of members)
      void m.exited?.then(() => {
        if (starting) reject(new Error(`etcd member ${m.name} exited during start-up (its port was taken?)`));
      });
  });
  died.catch(() => undefined); // a member killed later by a test is not a start-up failure
  try {
    await Promise.race([cluster.healthy(undefined, 15_000), died]);
    starting = false;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
