/**
 * Who holds a socket: the process whose /proc/PID/fd links to socket:[inode], its comm and cmdline,
 * its systemd unit and container id from /proc/PID/cgroup. The /proc root is a parameter so forgewatch
 * can read a host /proc mounted elsewhere.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

export interface ProcessInfo {
  pid: number;
  process: string;
  cmdline: string;
  /** The command line's arguments (the first 64), for matching `python3 -m uvicorn` as uvicorn. */
  argv: string[];
  unit: string | null;
  /** Full container id when the cgroup path names one (docker, podman, containerd, cri-o). */
  containerId: string | null;
}

interface OwnerSearch {
  owner?: ProcessInfo;
  /** Processes whose fd table could not be read (other users' processes without root). */
  unreadable: number;
}

/** Processes scanned at once: enough to be quick, few enough to stay well under the fd limit. */
const BATCH = 32;
const CONTAINER_ID = /(?:^|[-/:])([0-9a-f]{64})(?:\.scope)?$/;

/** The systemd unit and container id a cgroup file places the process in. */
function parseCgroup(text: string): { unit: string | null; containerId: string | null } {
  const paths = text
    .split('\n')
    .map((l) => l.split(':').slice(2).join(':'))
    .filter((p) => p && p !== '/');
  // Prefer the unified (v2) line or the name=systemd one: they carry the systemd layout.
  const lines = text.split('\n');
  const preferred =
    lines.find((l) => l.startsWith('0::') && l.length > 4) ?? lines.find((l) => l.includes(':name=systemd:'));
  const main = preferred ? preferred.split(':').slice(2).join(':') : (paths[0] ?? '');
  let containerId: string | null = null;
  for (const p of [main, ...paths]) {
    for (const seg of p.split('/')) {
      const m = CONTAINER_ID.exec(seg);
      if (m) containerId = m[1] as string;
    }
    if (containerId) break;
  }
  const segs = main.split('/').filter(Boolean);
  const unit =
    [...segs].reverse().find((s) => s.endsWith('.service')) ??
    [...segs].reverse().find((s) => s.endsWith('.scope') && !CONTAINER_ID.test(s)) ??
    null;
  return { unit, containerId };
}

async function describeProcess(pid: number, procRoot = '/proc'): Promise<ProcessInfo> {
  const dir = path.join(procRoot, String(pid));
  const read = (name: string) => readFile(path.join(dir, name), 'utf8').catch(() => '');
  const [comm, cmdline, cgroup] = await Promise.all([read('comm'), read('cmdline'), read('cgroup')]);
  const { unit, containerId } = parseCgroup(cgroup);
  const argv = cmdline.split('\0').filter(Boolean).slice(0, 64);
  return {
    pid,
    process: comm.trim() || path.basename(argv[0] ?? '') || '?',
    cmdline: argv.join(' ').slice(0, 512),
    argv,
    unit,
    containerId,
  };
}

/** The fd of `pid` that links to `target`; 'unreadable' when the fd table may not be read. */
async function heldFd(procRoot: string, pid: string, target: string): Promise<string | 'unreadable' | undefined> {
  let fds: string[];
  try {
    fds = await readdir(path.join(procRoot, pid, 'fd'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'unreadable' : undefined;
  }
  // Root without CAP_SYS_PTRACE may list another root process's fds but not read where they point.
  let denied = false;
  const links = await Promise.all(
    fds.map((fd) =>
      readlink(path.join(procRoot, pid, 'fd', fd)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EACCES' || err.code === 'EPERM') denied = true;
        return '';
      }),
    ),
  );
  const at = links.indexOf(target);
  if (at >= 0) return fds[at];
  return denied ? 'unreadable' : undefined;
}

interface KnownHolder {
  pid: number;
  fd: string;
  owner: ProcessInfo;
  /** The process's comm as read then: a process that ran exec since is described again. */
  comm: string;
}

/**
 * The holder last found for each socket (by /proc root and inode). Scanning every process's fds costs
 * milliseconds; one readlink of the remembered fd says whether that process still holds the socket,
 * and its comm whether it is still the same program. A holder that exited, closed it, handed it on or
 * ran exec fails that test and the full scan runs again; a new listener is a new socket, with an inode
 * of its own.
 */
const knownHolders = new Map<string, KnownHolder>();
const MAX_KNOWN_HOLDERS = 4096;
/** Scans in progress, so checks of one port running together share one. */
const scans = new Map<string, Promise<OwnerSearch>>();

function commOf(procRoot: string, pid: number): string {
  try {
    return readFileSync(path.join(procRoot, String(pid), 'comm'), 'utf8');
  } catch {
    return '';
  }
}

function stillHolds(procRoot: string, known: KnownHolder, target: string): boolean {
  try {
    // Synchronous: a readlink and a small read in /proc cost less than trips to the thread pool.
    const dir = path.join(procRoot, String(known.pid));
    return readlinkSync(path.join(dir, 'fd', known.fd)) === target && commOf(procRoot, known.pid) === known.comm;
  } catch {
    return false;
  }
}

async function scanForOwner(inode: number, procRoot: string, key: string): Promise<OwnerSearch> {
  const target = `socket:[${inode}]`;
  const pids = (await readdir(procRoot).catch(() => [] as string[]))
    .filter((p) => /^\d+$/.test(p))
    .sort((a, b) => Number(a) - Number(b));
  let unreadable = 0;
  for (let i = 0; i < pids.length; i += BATCH) {
    const batch = pids.slice(i, i + BATCH);
    const found = await Promise.all(batch.map((pid) => heldFd(procRoot, pid, target)));
    unreadable += found.filter((f) => f === 'unreadable').length;
    const hit = found.findIndex((f) => f !== undefined && f !== 'unreadable');
    if (hit >= 0) {
      const pid = Number(batch[hit]);
      const comm = commOf(procRoot, pid);
      const owner = await describeProcess(pid, procRoot);
      if (knownHolders.size >= MAX_KNOWN_HOLDERS) knownHolders.clear();
      knownHolders.set(key, { pid, fd: found[hit] as string, owner, comm });
      return { owner, unreadable };
    }
  }
  knownHolders.delete(key);
  return { unreadable };
}

/** Finds the process holding socket `inode` (the lowest pid when several share it, as after fork). */
export async function findSocketOwner(inode: number, procRoot = '/proc', signal?: AbortSignal): Promise<OwnerSearch> {
  if (!inode) return { unreadable: 0 };
  const key = `${inode}\0${procRoot}`;
  const known = knownHolders.get(key);
  if (known && stillHolds(procRoot, known, `socket:[${inode}]`)) return { owner: known.owner, unreadable: 0 };
  signal?.throwIfAborted();
  let scan = scans.get(key);
  if (!scan) {
    scan = scanForOwner(inode, procRoot, key).finally(() => scans.delete(key));
    scans.set(key, scan);
  }
  const found = await scan;
  signal?.throwIfAborted();
  return found;
}
