/**
 * Who holds a socket: the process whose /proc/PID/fd links to socket:[inode], its comm and cmdline,
 * its systemd unit and container id from /proc/PID/cgroup. The /proc root is a parameter so forgewatch
 * can read a host /proc mounted elsewhere.
 */
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

async function holds(procRoot: string, pid: string, target: string): Promise<boolean | 'unreadable'> {
  let fds: string[];
  try {
    fds = await readdir(path.join(procRoot, pid, 'fd'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'unreadable' : false;
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
  if (links.includes(target)) return true;
  return denied ? 'unreadable' : false;
}

/** Finds the process holding socket `inode` (the lowest pid when several share it, as after fork). */
export async function findSocketOwner(inode: number, procRoot = '/proc', signal?: AbortSignal): Promise<OwnerSearch> {
  if (!inode) return { unreadable: 0 };
  const target = `socket:[${inode}]`;
  const pids = (await readdir(procRoot).catch(() => [] as string[]))
    .filter((p) => /^\d+$/.test(p))
    .sort((a, b) => Number(a) - Number(b));
  let unreadable = 0;
  for (let i = 0; i < pids.length; i += BATCH) {
    signal?.throwIfAborted();
    const batch = pids.slice(i, i + BATCH);
    const found = await Promise.all(batch.map((pid) => holds(procRoot, pid, target)));
    unreadable += found.filter((f) => f === 'unreadable').length;
    const hit = found.indexOf(true);
    if (hit >= 0) return { owner: await describeProcess(Number(batch[hit]), procRoot), unreadable };
  }
  return { unreadable };
}
