/** The etcd client of a fleet node, and the start-up probe that turns "cannot coordinate" into a clear error. */
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import type { ClusterConfig } from './config.js';

type Etcd3Library = typeof import('etcd3');
let library: Promise<Etcd3Library> | undefined;

/**
 * etcd3, with the gRPC and protobuf libraries under it, loaded on first use: a node without `cluster:`
 * never pays their memory (several MiB of code and heap).
 */
function loadEtcd3(): Promise<Etcd3Library> {
  library ??= import('etcd3');
  return library;
}

/** A single call (not a watch or keepalive stream) that takes longer than this has failed. */
const CALL_DEADLINE_MS = 5_000;

/** Options of the etcd3 client for `cluster.etcd`, restricted to `endpoints` when given (the probe asks one by one). */
function clientOptions(config: ClusterConfig, endpoints = config.etcd.endpoints): IOptions {
  const { tls, username, password } = config.etcd;
  return {
    hosts: endpoints,
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    ...(tls
      ? {
          credentials: {
            rootCertificate: tls.ca_file ? readFileSync(tls.ca_file) : Buffer.alloc(0),
            ...(tls.cert_file && tls.key_file
              ? { certChain: readFileSync(tls.cert_file), privateKey: readFileSync(tls.key_file) }
              : {}),
          },
        }
      : {}),
    ...(username && password ? { auth: { username, password } } : {}),
  };
}

export async function createEtcdClient(config: ClusterConfig): Promise<Etcd3> {
  const { Etcd3 } = await loadEtcd3();
  return new Etcd3(clientOptions(config));
}

/** No endpoint of `cluster.etcd` can be used at start-up: the node cannot join the fleet. */
export class EtcdUnavailableError extends Error {
  readonly event = 'etcd_unavailable';
  readonly hint: string;
  constructor(readonly failures: ReadonlyArray<{ endpoint: string; reason: string }>) {
    super(`cannot use etcd: ${failures.map((f) => `${f.endpoint}: ${f.reason}`).join('; ')}`);
    this.name = 'EtcdUnavailableError';
    const reasons = failures.map((f) => f.reason).join(' ');
    this.hint = /user name or password|not authorized|permission/.test(reasons)
      ? 'check cluster.etcd.username and password, and that the etcd role of that user may read and write cluster.etcd.prefix'
      : /TLS|certificate|SSL/i.test(reasons)
        ? 'check cluster.etcd.tls: ca_file must sign the etcd server certificate, cert_file and key_file must match; use https:// endpoints with TLS'
        : 'check that etcd runs and listens there (etcdctl --endpoints URL endpoint health), and that cluster.etcd.endpoints lists its client URLs';
  }
}

/** A reason a user can act on, never the password (etcd's messages do not carry it; ours do not either). */
function explain(err: unknown, timeoutMs: number, lib: Etcd3Library): string {
  const {
    EtcdAuthenticationFailedError,
    EtcdInvalidAuthTokenError,
    EtcdPermissionDeniedError,
    GRPCUnauthenticatedError,
  } = lib;
  if (err instanceof EtcdAuthenticationFailedError || err instanceof EtcdInvalidAuthTokenError)
    return 'authentication failed: wrong user name or password';
  if (err instanceof EtcdPermissionDeniedError) return 'permission denied: the user is not authorized for the prefix';
  if (err instanceof GRPCUnauthenticatedError)
    return 'authentication required: etcd has auth enabled, set username and password';
  const message = err instanceof Error ? err.message : String(err);
  if (/timed out/.test(message)) return `no answer within ${timeoutMs}ms (unreachable, or no quorum)`;
  if (/SSL|certificate|handshake|tls/i.test(message)) return `TLS failed: ${message}`;
  if (/ECONNREFUSED|connection refused/i.test(message)) return 'connection refused: nothing listens there';
  if (/No connection established|UNAVAILABLE|14 /.test(message)) return `unreachable: ${message}`;
  return message;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export interface ProbeResult {
  /** Endpoints that answered a linearizable read of the prefix. */
  reachable: string[];
  /** Endpoints that did not, with why (fine while at least one answered: etcd clients fail over). */
  failures: Array<{ endpoint: string; reason: string }>;
}

/**
 * Asks every endpoint, each through its own short-lived client, for a linearizable read under the prefix, within
 * `timeoutMs`. Throws EtcdUnavailableError naming each endpoint and why when none answers; returns the partial
 * failures otherwise, for a warning.
 */
export async function probeEtcd(config: ClusterConfig, timeoutMs = CALL_DEADLINE_MS): Promise<ProbeResult> {
  const lib = await loadEtcd3();
  const { Etcd3 } = lib;
  const results = await Promise.all(
    config.etcd.endpoints.map(async (endpoint) => {
      const client = new Etcd3({
        ...clientOptions(config, [endpoint]),
        dialTimeout: timeoutMs,
        defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      });
      try {
        await withDeadline(client.get(`${config.etcd.prefix}members/`).string(), timeoutMs);
        return { endpoint, reason: undefined };
      } catch (err) {
        return { endpoint, reason: explain(err, timeoutMs, lib) };
      } finally {
        client.close();
      }
    }),
  );
  const failures = results.flatMap((r) => (r.reason === undefined ? [] : [{ endpoint: r.endpoint, reason: r.reason }]));
  const reachable = results.filter((r) => r.reason === undefined).map((r) => r.endpoint);
  if (reachable.length === 0) throw new EtcdUnavailableError(failures);
  return { reachable, failures };
}
