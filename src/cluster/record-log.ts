/**
 * The fleet's check records as a log: etcd keeps every change of `<prefix>checks/` by revision, so a leader
 * follows them from the revision its predecessor's alerter had taken in (the cursor saved with the incidents),
 * each change once and in order, with the value before it. A failure that came and went while no leader ran
 * reaches the next one as the two transitions it was, not as an unchanged state.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { FleetStateChange } from './fleet-states.js';
import type { HandedOverState } from './handover.js';

function parse(kv: IKeyValue | undefined): HandedOverState | undefined {
  if (!kv || kv.value.length === 0) return undefined;
  try {
    return JSON.parse(kv.value.toString()) as HandedOverState;
  } catch {
    return undefined;
  }
}

/** After a broken watch stream, follow again this long after (etcd is likely coming back). */
const REOPEN_MS = 500;

export interface RecordSnapshot {
  /** Every record now, by check name. */
  records: Map<string, HandedOverState>;
  /** The revision they were read at. */
  revision: string;
}

export class RecordLog {
  private readonly prefix: string;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
  ) {
    this.prefix = `${prefix}checks/`;
  }

  async snapshot(): Promise<RecordSnapshot> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    const records = new Map<string, HandedOverState>();
    for (const kv of res.kvs) {
      const r = parse(kv);
      if (r) records.set(this.nameOf(kv), r);
    }
    return { records, revision: res.header.revision };
  }

  /**
   * Calls `onChange` for every change after `revision`, in order, with the revision it was made at. `onLost`
   * is told when etcd no longer has that history (compacted): the caller falls back to the states as they are.
   * A watch stream that breaks is followed again from the last change seen: the client's own resumption starts
   * from the revision of its reconnection and would skip history not yet delivered.
   */
  async follow(
    afterRevision: string,
    onChange: (change: FleetStateChange, revision: string) => void,
    onLost: (err: Error) => void,
  ): Promise<{ cancel(): Promise<void> }> {
    // Every put of one transaction shares its revision: a change is known by its revision and key.
    let last = BigInt(afterRevision);
    let keysAtLast = new Set<string>();
    let watcher: Watcher | undefined;
    let cancelled = false;
    let retry: NodeJS.Timeout | undefined;
    const emit = (kv: IKeyValue, previous: IKeyValue | undefined, deleted: boolean) => {
      const revision = BigInt(kv.mod_revision);
      const key = kv.key.toString();
      if (revision < last || (revision === last && keysAtLast.has(key))) return;
      if (revision > last) keysAtLast = new Set();
      last = revision;
      keysAtLast.add(key);
      onChange(
        { check: this.nameOf(kv), before: parse(previous), after: deleted ? undefined : parse(kv) },
        kv.mod_revision,
      );
    };
    const open = async (): Promise<void> => {
      const w = await this.client
        .watch()
        .prefix(this.prefix)
        .withPreviousKV()
        .startRevision(String(keysAtLast.size > 0 ? last : last + 1n))
        .create();
      if (cancelled) return void (await w.cancel().catch(() => undefined));
      watcher = w;
      w.on('put', (kv, previous) => emit(kv, previous, false));
      w.on('delete', (kv, previous) => emit(kv, previous, true));
      w.on('disconnected', () => {
        if (watcher !== w || cancelled) return;
        watcher = undefined;
        void w.cancel().catch(() => undefined);
        reopen();
      });
      w.on('error', (err) => {
        if (watcher !== w || cancelled) return;
        watcher = undefined;
        void w.cancel().catch(() => undefined);
        onLost(err);
      });
    };
    const reopen = () => {
      retry = setTimeout(() => {
        if (!cancelled) open().catch(() => reopen());
      }, REOPEN_MS);
    };
    await open();
    return {
      async cancel() {
        cancelled = true;
        clearTimeout(retry);
        await watcher?.cancel().catch(() => undefined);
      },
    };
  }

  private nameOf(kv: IKeyValue): string {
    return decodeURIComponent(kv.key.toString().slice(this.prefix.length));
  }
}
