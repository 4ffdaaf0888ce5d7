/**
 * The fleet's check states as every node sees them: a mirror of `<prefix>checks/`, read once and then kept
 * current by a watch from the revision of that read, so no change between the two is missed. The fleet-wide
 * status view reads it, and the leader's alerter takes its transitions from it.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { HandedOverState } from './handover.js';

export interface FleetStateChange {
  check: string;
  before: HandedOverState | undefined;
  after: HandedOverState | undefined;
}

interface FleetStatesEvents {
  change: [FleetStateChange];
}

function parse(kv: IKeyValue): HandedOverState | undefined {
  try {
    return JSON.parse(kv.value.toString()) as HandedOverState;
  } catch {
    return undefined;
  }
}

export class FleetStates extends EventEmitter<FleetStatesEvents> {
  private readonly prefix: string;
  private readonly states = new Map<string, HandedOverState>();
  private watcher: Watcher | undefined;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
  ) {
    super();
    this.prefix = `${prefix}checks/`;
  }

  /** Reads every state, then follows changes from that revision on. */
  async start(): Promise<void> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    for (const kv of res.kvs) this.set(kv);
    const watcher = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(BigInt(res.header.revision) + 1n))
      .create();
    watcher.on('put', (kv) => this.set(kv));
    watcher.on('delete', (kv) => this.remove(kv));
    watcher.on('error', () => undefined);
    // A stream re-established after a break may skip changes made meanwhile: read everything again then.
    watcher.on('connected', () => void this.reread().catch(() => undefined));
    this.watcher = watcher;
  }

  private async reread(): Promise<void> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      seen.add(this.nameOf(kv));
      const now = parse(kv);
      if (now && JSON.stringify(now) !== JSON.stringify(this.states.get(this.nameOf(kv)))) this.set(kv);
    }
    for (const [check, before] of [...this.states])
      if (!seen.has(check)) {
        this.states.delete(check);
        this.emit('change', { check, before, after: undefined });
      }
  }

  get(check: string): HandedOverState | undefined {
    return this.states.get(check);
  }

  all(): ReadonlyMap<string, HandedOverState> {
    return this.states;
  }

  async close(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = undefined;
  }

  private nameOf(kv: IKeyValue): string {
    return decodeURIComponent(kv.key.toString().slice(this.prefix.length));
  }

  private set(kv: IKeyValue): void {
    const after = parse(kv);
    if (!after) return;
    const check = this.nameOf(kv);
    const before = this.states.get(check);
    this.states.set(check, after);
    this.emit('change', { check, before, after });
  }

  private remove(kv: IKeyValue): void {
    const check = this.nameOf(kv);
    const before = this.states.get(check);
    if (!before) return;
    this.states.delete(check);
    this.emit('change', { check, before, after: undefined });
  }
}
