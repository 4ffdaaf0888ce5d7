/** Who holds a port: the process, its systemd unit and its container, described and compared with what is expected. */
import path from 'node:path';
import { DockerClient, DockerError, resolveSocket, type EngineMemo } from '../docker/client.js';
import { containerName } from '../docker/types.js';
import type { ProcessInfo } from '../ports/owner.js';
import { isWildcard, type Listener } from '../ports/proc-net.js';
import type { PortCheck } from './port.js';
import type { ProbeMemo } from './types.js';

/** Helpers that hold a port on a container's behalf; the engine's port map says which container. */
const PROXIES = new Set(['docker-proxy', 'conmon', 'rootlessport', 'rootlesskit', 'slirp4netns', 'pasta']);
export interface PortOwner extends ProcessInfo {
  container: string | null;
}

export interface ContainerLookup {
  name: string | null;
  /** Why the owner runs for a container the engine could not name (unreachable, unknown id, no port mapping). */
  unresolved?: string;
}

/** Names the container behind an owner: from its cgroup, or from the engine's port map for a proxy. */
export async function containerOf(
  owner: ProcessInfo,
  listener: Listener,
  socket: string | undefined,
  signal: AbortSignal,
  memo: ProbeMemo<EngineMemo>,
): Promise<ContainerLookup> {
  if (!owner.containerId && !PROXIES.has(owner.process)) return { name: null };
  let client: DockerClient;
  try {
    client = new DockerClient(resolveSocket(socket), memo);
  } catch (err) {
    if (err instanceof DockerError) return { name: null, unresolved: err.reason };
    throw err;
  }
  try {
    if (owner.containerId) {
      const info = await client.inspect(owner.containerId, signal);
      return info
        ? { name: containerName(info) }
        : {
            name: null,
            unresolved: `the engine at ${client.socketPath} knows no container ${owner.containerId.slice(0, 12)}`,
          };
    }
    const list = await client.list({}, signal);
    const hit = list.find((c) =>
      c.Ports?.some((p) => p.PublicPort === listener.port && (!p.IP || isWildcard(p.IP) || p.IP === listener.address)),
    );
    return hit
      ? { name: containerName(hit) }
      : {
          name: null,
          unresolved: `no container publishes port ${listener.port} in the port map of the engine at ${client.socketPath}`,
        };
  } catch (err) {
    if (signal.aborted) throw err;
    return { name: null, unresolved: err instanceof DockerError ? err.reason : (err as Error).message };
  } finally {
    await client.close();
  }
}

export function describeOwner(o: PortOwner): string {
  const extra = [`pid ${o.pid}`, o.unit ? `unit ${o.unit}` : '', o.container ? `container ${o.container}` : '']
    .filter(Boolean)
    .join(', ');
  return `${o.process} (${extra})`;
}

/**
 * Whether each expected key matches. A process matches by comm or by the file name of any argument
 * that is not an option, so `uvicorn` matches `python3 -m uvicorn app:main` but not `--log=/var/log/uvicorn`.
 */
export function ownerMatches(
  o: PortOwner,
  want: NonNullable<PortCheck['owner']>,
): { container: boolean; rest: boolean } {
  return {
    container:
      want.container === undefined ||
      o.container === want.container ||
      (o.containerId?.startsWith(want.container) ?? false),
    rest:
      (want.process === undefined ||
        o.process === want.process ||
        o.argv.some((a) => !a.startsWith('-') && path.basename(a) === want.process)) &&
      (want.unit === undefined || o.unit === want.unit || o.unit === `${want.unit}.service`),
  };
}

export function expectedText(want: NonNullable<PortCheck['owner']>): string {
  return Object.entries(want)
    .map(([k, v]) => `${k} ${v}`)
    .join(' and ');
}

export function stopHint(o: PortOwner): string {
  if (o.container) return `stop or re-publish container ${o.container} (docker stop ${o.container})`;
  if (o.unit?.endsWith('.service')) return `stop and disable that unit (systemctl disable --now ${o.unit})`;
  return `stop that process (kill ${o.pid}) and whatever starts it`;
}
