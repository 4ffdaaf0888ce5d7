/** Persists each check's settled status to state_dir so a restart neither re-alerts nor forgets a failure. */
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/fs.js';
import type { CheckState } from './state.js';

export interface PersistedCheck {
  status: CheckState['status'];
  since: string;
  reason?: string;
}

const persistedCheckSchema = z.object({
  status: z.enum(['ok', 'warn', 'fail', 'unknown']),
  since: z.iso.datetime({ offset: true }),
  reason: z.string().max(10_000).optional(),
});
const stateFileSchema = z.object({ version: z.literal(1), checks: z.record(z.string(), z.unknown()) });
/**
 * While transitions keep coming, the file is written at most this often. Each write serialises every check: with
 * thousands of checks, first runs that each changed a state rewrote a megabyte back to back, the larger part of
 * the service's garbage while they lasted. The first write after a quiet spell goes at once.
 */
const WRITE_GAP_MS = 1_000;

interface StateFile {
  version: 1;
  checks: Record<string, PersistedCheck>;
}

/** state_dir cannot be created or written: the service cannot keep its promises across restarts. */
export class StateDirError extends Error {
  readonly event = 'state_dir_unusable';
  readonly hint: string;
  constructor(
    readonly dir: string,
    cause: NodeJS.ErrnoException,
  ) {
    const code = cause.code ?? cause.message;
    super(`state_dir ${dir} cannot be used: ${code}`);
    this.name = 'StateDirError';
    this.hint =
      code === 'EACCES' || code === 'EPERM'
        ? `the user forgewatch runs as may not write there: fix the owner or mode of ${dir}, or set state_dir (or FORGEWATCH_STATE_DIR) to a writable directory`
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? `a file stands where a directory is needed: move it, or set state_dir (or FORGEWATCH_STATE_DIR) to a directory`
          : code === 'EROFS'
            ? 'the file system is read-only: set state_dir (or FORGEWATCH_STATE_DIR) to a writable volume'
            : 'set state_dir (or FORGEWATCH_STATE_DIR) to a writable directory';
  }
}

export interface StoreEvents {
  /** The first failed write of a streak (later failures in the same streak are not reported again). */
  onWriteFailed?(error: Error, file: string): void;
  /** A write succeeded after a streak of failures. */
  onWriteRecovered?(file: string): void;
}

export class StateStore {
  readonly file: string;
  private writing: Promise<void> | undefined;
  private dirty: (() => StateFile['checks']) | undefined;
  private failing = false;
  /** When the last write ended (performance.now()). */
  private lastWriteAt = -Infinity;
  /** Ends the wait between two writes early (shutdown). */
  private endWait: (() => void) | undefined;
  private urgent = false;

  /** Throws StateDirError when the directory cannot be created or written. */
  constructor(
    readonly dir: string,
    private readonly events: StoreEvents = {},
  ) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw new StateDirError(dir, err as NodeJS.ErrnoException);
    }
    this.file = path.join(dir, 'state.json');
  }

  /**
   * The saved states; an entry that is not a known status with a valid time is left out (that check starts
   * unknown), so a damaged or edited file can never make up a transition from a status that does not exist.
   */
  load(): Record<string, PersistedCheck> {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      return {};
    }
    const file = stateFileSchema.safeParse(raw);
    if (!file.success) return {};
    const out: Record<string, PersistedCheck> = {};
    for (const [name, entry] of Object.entries(file.data.checks)) {
      const check = persistedCheckSchema.safeParse(entry);
      if (check.success) out[name] = check.data;
    }
    return out;
  }

  /**
   * Saves a snapshot; calls made while a write is under way collapse into one more write. Never
   * rejects: a failed write is reported through the events and the states stay in memory, to be
   * written with the next change (or at shutdown).
   */
  save(snapshot: () => Record<string, PersistedCheck>): Promise<void> {
    this.dirty = snapshot;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  /** Like save(), without waiting out the gap between writes: for shutdown. */
  flush(snapshot: () => Record<string, PersistedCheck>): Promise<void> {
    this.urgent = true;
    const written = this.save(snapshot);
    this.endWait?.();
    return written;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      const wait = this.lastWriteAt + WRITE_GAP_MS - performance.now();
      if (wait > 0 && !this.urgent)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.endWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      this.endWait = undefined;
      const take = this.dirty;
      if (!take) break;
      this.dirty = undefined;
      try {
        await writeFileAtomic(this.file, JSON.stringify({ version: 1, checks: take() } satisfies StateFile));
        if (this.failing) this.events.onWriteRecovered?.(this.file);
        this.failing = false;
      } catch (err) {
        if (!this.failing) this.events.onWriteFailed?.(err as Error, this.file);
        this.failing = true;
      }
      this.lastWriteAt = performance.now();
    }
    this.urgent = false;
  }
}
