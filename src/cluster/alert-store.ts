/**
 * The fleet leader's alert state in etcd, so the next leader goes on where it stopped: one key per incident
 * (`<prefix>alerts/incidents/<check>`) and one per notification not yet accepted by its channel
 * (`<prefix>alerts/outbox/<seq>-<id>.json`, the outbox file's name and content). Every write is fenced by the
 * leader's election key: a node that lost leadership without noticing cannot overwrite its successor's state.
 */
import type { Etcd3 } from 'etcd3';
import { readIncident, type Incident, type IncidentPersistence, type IncidentStore } from '../alerts/incidents.js';
import { parseEntry, type Pending } from '../alerts/outbox-entry.js';
import type { OutboxStore } from '../alerts/outbox-store.js';
import type { Logger } from '../log.js';

/** etcd's default limit of operations in one transaction (--max-txn-ops). */
const MAX_TXN_OPS = 128;

/** etcd calls of the alert state give up after this: a leader cut off from etcd must not hang its alerter. */
const CALL_DEADLINE_MS = 5_000;
const callOptions = () => ({ deadline: Date.now() + CALL_DEADLINE_MS });

/** A write refused because this node is no longer the fleet's leader: the new leader takes the work on. */
export class NotLeaderError extends Error {
  readonly handedOver = true;
  constructor() {
    super('this node is no longer the fleet leader; the new leader takes this on');
    this.name = 'NotLeaderError';
  }
}

export interface Fence {
  /** The leader's election key, or undefined when this node does not lead. */
  key(): string | undefined;
}

async function fencedTxn(client: Etcd3, fence: Fence, ops: Parameters<ReturnType<Etcd3['if']>['then']>): Promise<void> {
  const key = fence.key();
  if (!key) throw new NotLeaderError();
  const res = await client
    .if(key, 'Create', '>', 0)
    .then(...ops)
    .options(callOptions())
    .commit();
  if (!res.succeeded) throw new NotLeaderError();
}

/** A cursor that moved without an incident changing is saved after this long (a write only when records change). */
const CURSOR_SAVE_MS = 1_000;

/** What a leader loads from etcd: the incidents, and the record revision its predecessor had taken them up to. */
export interface LeaderIncidents extends IncidentPersistence {
  store: EtcdIncidentStore;
  /** Undefined for a fleet whose alerter never ran. */
  cursor: string | undefined;
}

export class EtcdIncidentStore implements IncidentStore {
  private readonly prefix: string;
  private readonly cursorKey: string;
  /** What etcd holds, as last written: only changed incidents are written again. */
  private readonly written = new Map<string, string>();
  private saving: Promise<void> = Promise.resolve();
  private cursor: string | undefined;
  private writtenCursor: string | undefined;
  private cursorTimer: NodeJS.Timeout | undefined;
  private latest: Map<string, string> | undefined;
  private stopped = false;

  private constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly fence: Fence,
    private readonly logger: Logger,
  ) {
    this.prefix = `${prefix}alerts/incidents/`;
    this.cursorKey = `${prefix}alerts/cursor`;
  }

  static async open(client: Etcd3, prefix: string, fence: Fence, logger: Logger): Promise<LeaderIncidents> {
    const store = new EtcdIncidentStore(client, prefix, fence, logger);
    const [all, cursor] = await Promise.all([
      client.getAll().prefix(store.prefix).options(callOptions()).strings(),
      client.get(store.cursorKey).options(callOptions()).string(),
    ]);
    store.cursor = store.writtenCursor = cursor ?? undefined;
    const loaded: Incident[] = [];
    for (const [key, text] of Object.entries(all)) {
      let read: ReturnType<typeof readIncident>;
      try {
        read = readIncident(JSON.parse(text));
      } catch (err) {
        read = { error: (err as Error).message };
      }
      if ('incident' in read) {
        loaded.push(read.incident);
        store.written.set(read.incident.check, text);
      } else {
        logger.warn({ event: 'incident_unreadable', key, error: read.error }, `incident ${key} in etcd is malformed`);
      }
    }
    return { loaded, store, cursor: store.cursor };
  }

  /**
   * The alerter has taken in every record change up to `revision`: saved with the next incidents (in the same
   * transaction, so the two always agree), or on its own shortly.
   */
  advance(revision: string): void {
    if (this.stopped) return;
    this.cursor = revision;
    if (this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      if (this.cursor !== this.writtenCursor) this.enqueue(this.latest);
    }, CURSOR_SAVE_MS);
    this.cursorTimer.unref();
  }

  /**
   * Writes the cursor now (a leader starting from the records as they are): the next leader then follows from
   * here even if this one dies before its first change. Throws when etcd refuses.
   */
  async startAt(revision: string): Promise<void> {
    this.cursor = revision;
    await this.write(this.latest ?? new Map(this.written), revision);
  }

  save(incidents: Iterable<Incident>): void {
    const next = new Map([...incidents].map((i) => [i.check, JSON.stringify(i)]));
    this.latest = next;
    this.enqueue(next);
  }

  /** Leadership lost: nothing more is written from here, whatever the alerter still does while it winds down. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
  }

  private enqueue(next: Map<string, string> | undefined): void {
    if (this.stopped) return;
    const cursor = this.cursor;
    this.saving = this.saving
      .then(() => this.write(next ?? new Map(this.written), cursor))
      .catch((err: Error) => {
        const level = err instanceof NotLeaderError ? 'info' : 'error';
        this.logger[level]({ event: 'incidents_write_failed', error: err.message }, 'cannot save alert incidents');
      });
  }

  saved(): Promise<void> {
    return this.saving;
  }

  private async write(next: Map<string, string>, cursor: string | undefined): Promise<void> {
    const puts = [...next].filter(([check, text]) => this.written.get(check) !== text);
    const deletes = [...this.written.keys()].filter((check) => !next.has(check));
    const ops = [
      ...puts.map(([check, text]) => this.client.put(this.key(check)).value(text)),
      ...deletes.map((check) => this.client.delete().key(this.key(check))),
    ];
    const moved = cursor !== undefined && cursor !== this.writtenCursor;
    if (ops.length === 0 && !moved) return;
    // The cursor goes with the last chunk: it never claims more than the incidents written say.
    const chunk = MAX_TXN_OPS - 2;
    for (let i = 0; i < Math.max(ops.length, 1); i += chunk) {
      const last = i + chunk >= ops.length;
      const cursorOp = last && moved ? [this.client.put(this.cursorKey).value(cursor)] : [];
      await fencedTxn(this.client, this.fence, [...ops.slice(i, i + chunk), ...cursorOp]);
    }
    for (const [check, text] of puts) this.written.set(check, text);
    for (const check of deletes) this.written.delete(check);
    if (moved) this.writtenCursor = cursor;
  }

  private key(check: string): string {
    return this.prefix + encodeURIComponent(check);
  }
}

export class EtcdOutboxStore implements OutboxStore {
  private readonly prefix: string;

  private constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly fence: Fence,
    private readonly loaded: Pending[],
  ) {
    this.prefix = `${prefix}alerts/outbox/`;
  }

  static async open(client: Etcd3, prefix: string, fence: Fence, logger: Logger): Promise<EtcdOutboxStore> {
    const at = `${prefix}alerts/outbox/`;
    const all = await client.getAll().prefix(at).strings();
    const loaded: Pending[] = [];
    for (const [key, text] of Object.entries(all)) {
      const entry = parseEntry(text);
      if (typeof entry === 'string') {
        // Kept where it is for a person to look at; never sent half understood.
        logger.error({ event: 'outbox_bad_entry', key, error: entry }, `outbox entry ${key} in etcd is unusable`);
        continue;
      }
      loaded.push({ entry, file: key.slice(at.length) });
    }
    loaded.sort((a, b) => a.entry.seq - b.entry.seq);
    return new EtcdOutboxStore(client, prefix, fence, loaded);
  }

  load(): Pending[] {
    return this.loaded;
  }

  write(p: Pending): Promise<void> {
    return fencedTxn(this.client, this.fence, [this.client.put(this.prefix + p.file).value(JSON.stringify(p.entry))]);
  }

  async remove(p: Pending): Promise<void> {
    await this.client
      .delete()
      .key(this.prefix + p.file)
      .options(callOptions())
      .exec();
  }
}
