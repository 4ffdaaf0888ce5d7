/** Who holds a port: the process, its systemd unit and its container, described and compared with what is expected. */
import path from 'node:path';
import { DockerClient, DockerError, resolveSocket, type EngineMemo } from '../docker/client.js';
import { containerName } from '../docker/types.js';
import type { ProcessInfo } from '../ports/owner.js';
import type { OwnPrivileges } from '../ports/privileges.js';
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

/** Interpreters whose name alone says little: the script or module they run says which service it is. */
const INTERPRETER = /^(?:python[\d.]*|pypy[\d.]*|node|nodejs|ruby[\d.]*|perl[\d.]*|php[\d.]*|sh|bash|dash)$/;
/** Interpreter options whose value is the next argument, so it is not taken for the script. */
const TAKES_VALUE = new Set([
  '-W',
  '-X',
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '-I',
]);
/** Options after which the program is inline code, not a file: nothing short to name. */
const INLINE_CODE = new Set(['-c', '-e', '-E', '--eval', '-p', '--print']);
const MAX_SCRIPT = 40;

/** `legacy_backend.py`, `-m uvicorn` or `server.js` for an interpreter; undefined for anything else. */
export function scriptOf(o: Pick<ProcessInfo, 'process' | 'argv'>): string | undefined {
  if (!INTERPRETER.test(o.process)) return undefined;
  const args = o.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return clipScript(args[i + 1]);
    if (arg === '-m') return args[i + 1] === undefined ? undefined : `-m ${clipScript(args[i + 1])}`;
    if (/^-m[\w.]+$/.test(arg)) return `-m ${clipScript(arg.slice(2))}`;
    if (INLINE_CODE.has(arg)) return undefined;
    if (TAKES_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return clipScript(arg);
  }
  return undefined;
}

function clipScript(arg: string | undefined): string | undefined {
  if (!arg) return undefined;
  const name = path.basename(arg);
  return name.length <= MAX_SCRIPT ? name : `${name.slice(0, MAX_SCRIPT - 1)}…`;
}

export function describeOwner(o: PortOwner): string {
  const extra = [`pid ${o.pid}`, o.unit ? `unit ${o.unit}` : '', o.container ? `container ${o.container}` : '']
    .filter(Boolean)
    .join(', ');
  const script = scriptOf(o);
  return `${o.process}${script ? ` ${script}` : ''} (${extra})`;
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

/**
 * Why no owner was found for a listening socket, in words that fit forgewatch's own privileges: it
 * never advises root or CAP_SYS_PTRACE to a process that already has them.
 */
export function unknownOwnerNote(
  found: { unreadable: number; stillListed: boolean },
  socket: { inode: number; procRoot: string },
  own: OwnPrivileges,
): string {
  if (found.unreadable > 0) {
    const unreadable = `owner unknown: ${found.unreadable} processes' file descriptors are unreadable`;
    const missing = [
      own.uid !== 0 && !own.dacReadSearch ? 'run forgewatch as root' : '',
      own.ptrace
        ? ''
        : own.uid === 0
          ? 'give it CAP_SYS_PTRACE (root without it, as in a container)'
          : 'CAP_SYS_PTRACE',
    ].filter(Boolean);
    if (missing.length > 0)
      return `${unreadable} (they belong to other users); ${missing.join(' or give it ')} to see who holds the port`;
    const as = `${own.uid === 0 ? 'uid 0 ' : ''}with CAP_SYS_PTRACE`;
    return own.userNamespace
      ? `${unreadable} although forgewatch runs as ${as}: it runs in a user namespace (a rootless or userns-remapped container), whose capabilities do not reach processes outside it. Run forgewatch on the host (a system service) or in a rootful container with pid: host`
      : `${unreadable} although forgewatch runs as ${as}: a security module (AppArmor or SELinux) denies reading them. Look for the denial in the kernel log (dmesg | grep -i denied) and run forgewatch unconfined or allow it ptrace read access`;
  }
  if (!found.stillListed)
    return `owner unknown: the socket closed while forgewatch looked for its process (it is gone from ${socket.procRoot}/net/tcp): the process exited or restarted between reading the socket table and its file descriptors; the next run sees who holds the port now`;
  return `owner unknown: no process visible in ${socket.procRoot} holds socket inode ${socket.inode}: its holder runs in another PID namespace (forgewatch in a container without pid: host; with the host's /proc mounted elsewhere, point proc_root at it), or the kernel holds it (nfsd, a socket in flight between processes)`;
}
