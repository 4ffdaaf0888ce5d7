/**
 * A small Docker Engine API client over the unix socket (works with podman's Docker-compatible API too).
 * Every failure becomes a DockerError carrying the reason and hint a check result shows.
 */
import { Agent, request } from 'undici';
import type { ProbeMemo } from '../probes/types.js';
import { demultiplex } from './frames.js';
import type { ContainerInspect, ContainerSummary } from './types.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';
/** The newest API version this client speaks; older engines are met at their own version. */
const CLIENT_API = [1, 43] as const;
const MAX_JSON_BYTES = 8 * 1024 * 1024;
const MAX_LOG_BYTES = 256 * 1024;
/** A crash loop's events for a window: at ~400 bytes an event, room for about 1,300 deaths. */
const MAX_EVENT_BYTES = 512 * 1024;
const MAX_EVENTS = 2000;
/** How long a negotiated API version is reused: engines are rarely upgraded, but they are sometimes. */
const VERSION_TTL_MS = 60_000;

export class DockerError extends Error {
  constructor(
    readonly reason: string,
    readonly hint?: string,
    readonly statusCode?: number,
  ) {
    super(reason);
    this.name = 'DockerError';
  }
}

/**
 * The socket a check uses: its own `socket`, else DOCKER_HOST when it is unix://, else the default.
 * Throws a DockerError for any other DOCKER_HOST: silently falling back to the default socket would
 * blame a socket the user never meant.
 */
export function resolveSocket(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  const host = env.DOCKER_HOST;
  if (!host) return DEFAULT_SOCKET;
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  throw new DockerError(
    `DOCKER_HOST=${host} is not supported: only unix:// sockets are`,
    'forgewatch talks to the engine over its unix socket only (no TCP, TLS or SSH): set `socket:` on the check, or DOCKER_HOST=unix:///var/run/docker.sock. For a remote engine, run forgewatch on that host.',
  );
}

function explainSocketError(err: unknown, socketPath: string): DockerError {
  if (err instanceof DockerError) return err;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.code ?? e?.cause?.code ?? '';
  switch (code) {
    case 'ENOENT':
      return new DockerError(
        `docker socket ${socketPath} not found`,
        'No engine socket at that path: is Docker (or podman system service) running on this host? Point the check at the right socket with `socket:` or DOCKER_HOST=unix:///path/to/docker.sock.',
      );
    case 'EACCES':
    case 'EPERM':
      return new DockerError(
        `permission denied on docker socket ${socketPath}`,
        'forgewatch may not open the engine socket: add its user to the docker group (then restart it), or put a read-only socket proxy in front (e.g. one that allows only GET /containers and /version) and point `socket:` at it.',
      );
    case 'ECONNREFUSED':
      return new DockerError(
        `docker socket ${socketPath} refuses connections`,
        'The socket file exists but nothing accepts on it: the engine has stopped or crashed and left a stale socket. Restart it (systemctl restart docker) and check its logs (journalctl -u docker).',
      );
    case 'ENOTSOCK':
      return new DockerError(
        `${socketPath} is not a socket`,
        'The path exists but is not a unix socket: point `socket:` at the engine socket (usually /var/run/docker.sock).',
      );
    default:
      return new DockerError(
        `docker engine: ${code ? `${code}: ` : ''}${(e?.message ?? String(err)).split('\n')[0]} (${socketPath})`,
        'The engine dropped the connection or sent a broken answer: it may be restarting, crashing or overloaded. Check its logs (journalctl -u docker) and retry.',
      );
  }
}

function versionPrefix(apiVersion: unknown): string {
  const m = typeof apiVersion === 'string' ? /^(\d+)\.(\d+)/.exec(apiVersion) : null;
  if (!m) return '';
  const engine = [Number(m[1]), Number(m[2])] as const;
  const use =
    engine[0] < CLIENT_API[0] || (engine[0] === CLIENT_API[0] && engine[1] < CLIENT_API[1]) ? engine : CLIENT_API;
  return `/v${use[0]}.${use[1]}`;
}

/** Docker's `seconds.nanoseconds` timestamp: the fraction is read as nanoseconds, so it has nine digits. */
function engineTimestamp(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${seconds}.${String(Math.round((ms - seconds * 1000) * 1e6)).padStart(9, '0')}`;
}

async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): void },
  limit: number,
): Promise<{ data: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      return { data: Buffer.concat(chunks).subarray(0, limit), truncated: true };
    }
  }
  return { data: Buffer.concat(chunks), truncated: false };
}

interface NegotiatedVersion {
  prefix: string;
  at: number;
  /** podman's compat API needs other event parameters than Docker (see events()). */
  podman?: boolean;
}

/** One line of GET /events, the fields forgewatch reads. */
export interface EngineEvent {
  Action?: string;
  status?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null } | null;
  time?: number;
}

/** What a client keeps in a check's memo: the API version it negotiated, per socket. */
export type EngineMemo = { [key: `docker.version:${string}`]: NegotiatedVersion };

export class DockerClient {
  private readonly agent: Agent;
  private prefix?: string;
  private podman = false;

  /** `cache` (a check's memo) keeps the negotiated API version across runs, per socket. */
  constructor(
    readonly socketPath: string,
    private readonly cache?: ProbeMemo<EngineMemo>,
  ) {
    this.agent = new Agent({ connect: { socketPath }, headersTimeout: 0, bodyTimeout: 0 });
  }

  private get cacheKey(): `docker.version:${string}` {
    return `docker.version:${this.socketPath}`;
  }

  private async get(
    path: string,
    signal: AbortSignal,
    limit = MAX_JSON_BYTES,
  ): Promise<{ status: number; data: Buffer; truncated: boolean }> {
    let res;
    try {
      res = await request(`http://docker${path}`, { dispatcher: this.agent, signal });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      // A new engine may sit behind the socket once it answers again: negotiate afresh then.
      this.cache?.delete(this.cacheKey);
      throw explainSocketError(err, this.socketPath);
    }
    let read: Awaited<ReturnType<typeof readCapped>>;
    try {
      read = await readCapped(res.body, limit);
    } catch (err) {
      if (signal.aborted) throw err;
      this.cache?.delete(this.cacheKey);
      throw explainSocketError(err, this.socketPath);
    }
    const { data, truncated } = read;
    if (truncated && limit === MAX_JSON_BYTES)
      throw new DockerError(`docker engine answer to ${path.split('?')[0]} exceeds ${MAX_JSON_BYTES} bytes`);
    return { status: res.statusCode, data, truncated };
  }

  private async getJson(path: string, signal: AbortSignal): Promise<{ status: number; json: unknown }> {
    const { status, data } = await this.get(path, signal);
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      throw new DockerError(
        `docker engine answered ${path.split('?')[0]} with status ${status} and a body that is not JSON`,
        'Is the socket really a Docker Engine API (or a socket proxy that rewrites answers)?',
        status,
      );
    }
    if (status >= 400 && status !== 404) {
      const message = (json as { message?: unknown })?.message;
      throw new DockerError(
        `docker engine error ${status}: ${typeof message === 'string' ? message : 'no message'}`,
        status === 403
          ? 'A socket proxy refused the call: allow GET on /version and /containers.'
          : 'The engine failed to answer: check its logs (journalctl -u docker).',
        status,
      );
    }
    return { status, json };
  }

  /** GET /version; every later call uses the lower of the engine's and this client's API version. */
  async negotiate(signal: AbortSignal): Promise<string> {
    if (this.prefix !== undefined) return this.prefix;
    const cached = this.cache?.get(this.cacheKey);
    if (cached && Date.now() - cached.at < VERSION_TTL_MS) {
      this.podman = cached.podman === true;
      return (this.prefix = cached.prefix);
    }
    const { json } = await this.getJson('/version', signal);
    const version = json as { ApiVersion?: unknown; Components?: unknown };
    this.prefix = versionPrefix(version?.ApiVersion);
    this.podman =
      Array.isArray(version?.Components) &&
      version.Components.some((c) => /podman/i.test(String((c as { Name?: unknown })?.Name)));
    this.cache?.set(this.cacheKey, {
      prefix: this.prefix,
      at: Date.now(),
      podman: this.podman,
    } satisfies NegotiatedVersion);
    return this.prefix;
  }

  async list(filters: Record<string, string[]>, signal: AbortSignal): Promise<ContainerSummary[]> {
    const prefix = await this.negotiate(signal);
    const query = new URLSearchParams({
      all: '1',
      ...(Object.keys(filters).length ? { filters: JSON.stringify(filters) } : {}),
    });
    const { json } = await this.getJson(`${prefix}/containers/json?${query}`, signal);
    if (!Array.isArray(json)) throw new DockerError('docker engine: container list is not an array');
    return json as ContainerSummary[];
  }

  /** Inspects by name or id; undefined when the engine knows no such container. */
  async inspect(idOrName: string, signal: AbortSignal): Promise<ContainerInspect | undefined> {
    const prefix = await this.negotiate(signal);
    const { status, json } = await this.getJson(`${prefix}/containers/${encodeURIComponent(idOrName)}/json`, signal);
    if (status === 404) return undefined;
    if (!json || typeof json !== 'object' || typeof (json as { Id?: unknown }).Id !== 'string')
      throw new DockerError('docker engine: inspect answer has no container Id');
    return json as ContainerInspect;
  }

  /** The last `tail` log lines (stdout and stderr, with timestamps), demultiplexed unless the container has a TTY. */
  async logs(id: string, opts: { tail: number; tty: boolean }, signal: AbortSignal): Promise<string[]> {
    const prefix = await this.negotiate(signal);
    const { status, data } = await this.get(
      `${prefix}/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&timestamps=1&tail=${opts.tail}`,
      signal,
      MAX_LOG_BYTES,
    );
    if (status >= 400) throw new DockerError(`docker engine error ${status} reading logs`);
    const text = opts.tty ? data.toString('utf8') : demultiplex(data);
    return text
      .split(/\r?\n/)
      .filter((l) => l.length > 0)
      .slice(-opts.tail);
  }

  /**
   * The container's `die` and `oom` events between two times, oldest first, at most the newest MAX_EVENTS.
   * Docker answers events up to `until` and closes; podman (4.x) closes at once when `until` has
   * passed and streams until a future one, but answers what it has with `stream=false`. podman's
   * filter knows the death as `died` (it reports it as `die`); Docker ignores names it does not emit.
   */
  async events(
    id: string,
    window: { sinceMs: number; untilMs: number },
    signal: AbortSignal,
  ): Promise<{ events: EngineEvent[]; truncated: boolean }> {
    const prefix = await this.negotiate(signal);
    const query = new URLSearchParams({
      since: String(Math.floor(window.sinceMs / 1000)),
      until: this.podman ? String(Math.ceil(window.untilMs / 1000) + 1) : engineTimestamp(window.untilMs),
      ...(this.podman ? { stream: 'false' } : {}),
      filters: JSON.stringify({ container: [id], type: ['container'], event: ['die', 'died', 'oom'] }),
    });
    const { status, data, truncated } = await this.get(`${prefix}/events?${query}`, signal, MAX_EVENT_BYTES);
    if (status >= 400) throw new DockerError(`docker engine error ${status} reading events`);
    const lines = data.toString('utf8').split('\n');
    // A cut answer ends in a partial line: drop it rather than misread it.
    if (truncated) lines.pop();
    const events: EngineEvent[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === 'object') events.push(parsed as EngineEvent);
      } catch {
        // One unreadable line does not spoil the others.
      }
    }
    // The newest count most (the latest exit code): keep those.
    return { events: events.slice(-MAX_EVENTS), truncated: truncated || events.length > MAX_EVENTS };
  }

  /** Destroys rather than drains: a hung engine must not hold the probe past its deadline. */
  close(): Promise<void> {
    return this.agent.destroy().catch(() => undefined);
  }
}
