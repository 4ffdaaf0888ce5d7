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
    .commit();
  if (!res.succeeded) throw new NotLeaderError();
}

export class EtcdIncidentStore implements IncidentStore {
  private readonly prefix: string;
  /** What etcd holds, as last written: only changed incidents are written again. */
  private readonly written = new Map<string, string>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly fence: Fence,
    private readonly logger: Logger,
  ) {
    this.prefix = `${prefix}alerts/incidents/`;
  }

  static async open(client: Etcd3, prefix: string, fence: Fence, logger: Logger): Promise<IncidentPersistence> {
    const store = new EtcdIncidentStore(client, prefix, fence, logger);
    const all = await client.getAll().prefix(store.prefix).strings();
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
    return { loaded, store };
  }

  save(incidents: Iterable<Incident>): void {
    const next = new Map([...incidents].map((i) => [i.check, JSON.stringify(i)]));
    this.saving = this.saving
      .then(() => this.write(next))
      .catch((err: Error) => {
        const level = err instanceof NotLeaderError ? 'info' : 'error';
        this.logger[level]({ event: 'incidents_write_failed', error: err.message }, 'cannot save alert incidents');
      });
  }

  saved(): Promise<void> {
    return this.saving;
  }

  private async write(next: Map<string, string>): Promise<void> {
    const puts = [...next].filter(([check, text]) => this.written.get(check) !== text);
    const deletes = [...this.written.keys()].filter((check) => !next.has(check));
    const ops = [
      ...puts.map(([check, text]) => this.client.put(this.key(check)).value(text)),
      ...deletes.map((check) => this.client.delete().key(this.key(check))),
    ];
    for (let i = 0; i < ops.length; i += MAX_TXN_OPS - 1)
      await fencedTxn(this.client, this.fence, ops.slice(i, i + MAX_TXN_OPS - 1));
    for (const [check, text] of puts) this.written.set(check, text);
    for (const check of deletes) this.written.delete(check);
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
      .exec();
  }
}
