/**
 * Check states handed between fleet nodes: `<prefix>checks/<name>` holds a check's settled state as its owner last
 * saw it change. Writes come only from transitions (rare), batched into one transaction every WRITE_BATCH_MS, so
 * etcd never sees a write per run; a batch etcd refuses stays for the next try. Reads come only when a node takes
 * checks over.
 */
import type { Etcd3 } from 'etcd3';
import type { CheckStatus } from '../checks/state.js';
import type { JsonObject, ProbeResult } from '../probes/types.js';

/** A check's settled state as the fleet keeps it: what its owner saw at its latest transition. */
export interface HandedOverState {
  status: Exclude<CheckStatus, 'unknown'>;
  since: string;
  reason: string;
  hint?: string;
  /** The failure's class while failing, so the next owner does not take the same failure for a changed one. */
  code?: string;
  /** The node that wrote it. */
  node: string;
  /** For a check run from several locations: the location this record is the view of. */
  location?: string;
  /** When the result that made the transition finished. */
  at?: string;
  /** `changed`: still failing, for another class of reason (notify_on_change). */
  kind?: 'changed';
  /** The result's details (redacted), left out when larger than MAX_DETAILS_BYTES. */
  details?: JsonObject;
  /**
   * Set by a node that alerted on this failure on its own while it could not coordinate (fail open): the fleet's
   * alerter adopts that incident instead of announcing it a second time.
   */
  alerted?: { opened_at: string; channels: string[] };
}

/** The result a fleet record stands for (what the owner's transition carried). */
export function recordResult(r: HandedOverState): ProbeResult {
  return {
    status: r.status,
    reason: r.reason,
    ...(r.hint ? { hint: r.hint } : {}),
    ...(r.code !== undefined ? { code: r.code } : {}),
    timings: { total: 0 },
    details: r.details ?? {},
    observations: [],
  };
}

/** Details larger than this stay on the node that ran the check (keeps etcd values small). */
export const MAX_DETAILS_BYTES = 8 * 1024;

/** Transitions are written together after this long: a burst (start-up, a shared outage) is a few writes a second. */
const WRITE_BATCH_MS = 200;
/** Changes kept per check while etcd cannot be written. */
const MAX_QUEUED_PER_CHECK = 16;
/** etcd's default limit of operations in one transaction (--max-txn-ops). */
const MAX_TXN_OPS = 128;

export class HandoverStore {
  private readonly prefix: string;
  /**
   * Transitions not yet in etcd, oldest first, per check: each is written as a change of its own (a failure
   * and its recovery while etcd was away are two changes for the leader, not one unchanged state).
   */
  private readonly unwritten = new Map<string, HandedOverState[]>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    /** Whether etcd can be written now (writes wait while coordination is down). */
    private readonly writable: () => boolean,
    private readonly onError: (what: string, err: unknown) => void,
    /**
     * Whether this node still runs the check when the batch is written: after a stretch of failing open only the
     * owner's view goes to etcd, so a node coming back cannot overwrite what the owner saw meanwhile.
     */
    private readonly owns: (check: string) => boolean = () => true,
    /** What this node alerted on its own about a failing check while it could not coordinate. */
    private readonly alertedFor: (check: string) => HandedOverState['alerted'] = () => undefined,
  ) {
    this.prefix = `${prefix}checks/`;
  }

  /** Queues a check's new state; written with the next batch. */
  record(check: string, state: HandedOverState): void {
    const queue = this.unwritten.get(check) ?? [];
    queue.push(state);
    // A check flapping for hours while etcd is away: its first change and the latest ones are what count.
    if (queue.length > MAX_QUEUED_PER_CHECK) queue.splice(1, queue.length - MAX_QUEUED_PER_CHECK);
    this.unwritten.set(check, queue);
    this.flushSoon();
  }

  /** Writes what is queued soon (after coordination came back). */
  flushSoon(): void {
    if (this.timer || this.unwritten.size === 0 || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write().catch((err: unknown) => this.onError('write check states', err));
    }, WRITE_BATCH_MS);
  }

  /** Every stored state, by check name (one read). */
  async readAll(): Promise<Map<string, HandedOverState>> {
    const stored = await this.client.getAll().prefix(this.prefix).strings();
    const out = new Map<string, HandedOverState>();
    for (const [key, text] of Object.entries(stored))
      out.set(decodeURIComponent(key.slice(this.prefix.length)), JSON.parse(text) as HandedOverState);
    return out;
  }

  /** Writes what is still queued (shutdown) and stops. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.write().catch(() => undefined);
  }

  private withAlerted(name: string, state: HandedOverState): HandedOverState {
    const alerted = state.status === 'ok' ? undefined : this.alertedFor(name);
    return alerted ? { ...state, alerted } : state;
  }

  private async write(): Promise<void> {
    if (!this.writable()) return;
    for (const name of [...this.unwritten.keys()]) if (!this.owns(name)) this.unwritten.delete(name);
    // One change per check per transaction (etcd refuses a key twice in one), the oldest first.
    const batch = [...this.unwritten]
      .slice(0, MAX_TXN_OPS)
      .map(([name, queue]) => [name, queue[0] as HandedOverState] as const);
    if (batch.length === 0) return;
    // One transaction for the whole batch; its comparison always holds (a key's create revision is never negative).
    await this.client
      .if(this.prefix, 'Create', '>', -1)
      .then(
        ...batch.map(([name, state]) =>
          this.client.put(this.prefix + encodeURIComponent(name)).value(JSON.stringify(this.withAlerted(name, state))),
        ),
      )
      .commit();
    for (const [name, state] of batch) {
      const queue = this.unwritten.get(name);
      if (queue?.[0] === state) queue.shift();
      if (queue?.length === 0) this.unwritten.delete(name);
    }
    this.flushSoon();
  }
}
