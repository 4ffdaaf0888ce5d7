/**
 * Silences shared by the fleet: one key per silence added through any node's API (`<prefix>silences/<id>`), under
 * a lease that runs out when the silence ends, so etcd forgets it by itself. Every node reads them all and keeps
 * them current with a watch; the leader's alerter holds back what they match.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Silence, Silences } from '../alerts/silences.js';

/** etcd refuses longer leases; a longer silence is kept by a lease of this length, renewed by nobody: see put(). */
const MAX_LEASE_S = 9_000_000_000;

export class FleetSilences {
  private readonly prefix: string;
  private readonly known = new Map<string, Silence>();
  private watcher: Watcher | undefined;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly silences: Silences,
    /** Held-back alerts are looked at again. */
    private readonly onChange: () => void,
  ) {
    this.prefix = `${prefix}silences/`;
  }

  async start(): Promise<void> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    for (const kv of res.kvs) this.set(kv);
    this.publish();
    const watcher = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(BigInt(res.header.revision) + 1n))
      .create();
    watcher.on('put', (kv) => {
      this.set(kv);
      this.publish();
    });
    watcher.on('delete', (kv) => {
      this.known.delete(kv.key.toString().slice(this.prefix.length));
      this.publish();
    });
    watcher.on('error', () => undefined);
    this.watcher = watcher;
    this.silences.shareWith({ put: (s) => this.put(s) });
  }

  async close(): Promise<void> {
    this.silences.shareWith(undefined);
    await this.watcher?.cancel().catch(() => undefined);
  }

  /** Written under a lease that ends with the silence. */
  private async put(silence: Silence): Promise<void> {
    const ttl = Math.min(MAX_LEASE_S, Math.max(1, Math.ceil((Date.parse(silence.until) - Date.now()) / 1000)));
    const lease = this.client.lease(ttl, { autoKeepAlive: false });
    await lease.put(this.prefix + silence.id).value(JSON.stringify(silence));
    lease.release();
  }

  private set(kv: IKeyValue): void {
    try {
      const s = JSON.parse(kv.value.toString()) as Silence;
      this.known.set(s.id, s);
    } catch {
      // Not a silence: ignored.
    }
  }

  private publish(): void {
    this.silences.setShared([...this.known.values()]);
    this.onChange();
  }
}
