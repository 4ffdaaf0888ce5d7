/**
 * One process per state_dir: two processes on one state directory would both decide every transition and both
 * send every alert, each with its own idempotency keys. The lock is a file naming its holder; a lock whose holder
 * is gone (or whose pid now belongs to another process) is stale and taken over, so kill -9 never blocks a restart.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const LOCK_FILE = 'forgewatch.lock';

interface LockHolder {
  pid: number;
  /** Clock ticks since boot when the process started (field 22 of /proc/PID/stat); absent off Linux. */
  start_ticks?: number;
  /** The kernel's boot id: a pid and start time mean nothing across a reboot. */
  boot_id?: string;
  started_at: string;
}

/** Another live process holds the state_dir. */
export class StateDirLockedError extends Error {
  readonly event = 'state_dir_locked';
  readonly hint: string;
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    super(`state_dir ${dir} is in use by another forgewatch (pid ${holder.pid}, started ${holder.started_at})`);
    this.name = 'StateDirLockedError';
    this.hint =
      `one process per state_dir: stop the other one (kill ${holder.pid}), or give this one its own state_dir ` +
      `(state_dir or FORGEWATCH_STATE_DIR)`;
  }
}

export interface StateDirLock {
  readonly file: string;
  /** Removes the lock file if it is still this process's. */
  release(): void;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Start time of a process in clock ticks since boot, or undefined without /proc or without that process. */
function startTicks(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function currentHolder(): LockHolder {
  const ticks = startTicks(process.pid);
  const bootId = readProc('/proc/sys/kernel/random/boot_id')?.trim();
  return {
    pid: process.pid,
    ...(ticks !== undefined ? { start_ticks: ticks } : {}),
    ...(bootId ? { boot_id: bootId } : {}),
    started_at: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    return {
      pid: value.pid,
      ...(typeof value.start_ticks === 'number' ? { start_ticks: value.start_ticks } : {}),
      ...(typeof value.boot_id === 'string' ? { boot_id: value.boot_id } : {}),
      started_at: typeof value.started_at === 'string' ? value.started_at : 'at an unknown time',
    };
  } catch {
    return undefined;
  }
}

/** Whether the recorded holder is still the running process it was (not a dead one, nor a reused pid). */
function holderAlive(holder: LockHolder, me: LockHolder): boolean {
  if (holder.boot_id && me.boot_id && holder.boot_id !== me.boot_id) return false;
  if (!pidAlive(holder.pid)) return false;
  if (holder.start_ticks === undefined) return true;
  const ticks = startTicks(holder.pid);
  return ticks === undefined || ticks === holder.start_ticks;
}

const sameHolder = (a: LockHolder | undefined, b: LockHolder): boolean =>
  !!a && a.pid === b.pid && a.start_ticks === b.start_ticks && a.boot_id === b.boot_id;

/**
 * Takes the state_dir's lock or throws StateDirLockedError naming the live holder. The file appears atomically
 * (written aside, then hard-linked into place), so a reader never sees half a lock. Within one process the lock
 * is re-entrant (a container restarted as pid 1 finds its own pid in the old lock, too).
 */
export function acquireStateDirLock(dir: string): StateDirLock {
  const file = path.join(dir, LOCK_FILE);
  const me = currentHolder();
  const draft = `${file}.${process.pid}.tmp`;
  writeFileSync(draft, JSON.stringify(me) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
      }
      const text = readProc(file);
      if (text === undefined) continue; // removed meanwhile: try again
      const holder = parseHolder(text);
      if (holder && holder.pid === me.pid) {
        writeFileSync(file, JSON.stringify(me) + '\n');
        break;
      }
      if (holder && holderAlive(holder, me)) throw new StateDirLockedError(dir, holder);
      // Stale: move it aside, then make sure what moved is the stale lock and not one a rival just took.
      const aside = `${file}.stale.${process.pid}`;
      try {
        renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = parseHolder(readProc(aside) ?? '');
      if (moved && holder && !sameHolder(moved, holder) && holderAlive(moved, me)) {
        try {
          linkSync(aside, file);
        } catch {
          // someone else's lock is in place already; the loop reads it next
        }
      }
      unlinkSync(aside);
    }
  } finally {
    unlinkSync(draft);
  }
  return {
    file,
    release() {
      if (sameHolder(parseHolder(readProc(file) ?? ''), me)) {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      }
    },
  };
}
