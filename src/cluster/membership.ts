/**
 * Lease-based membership of a fleet node: `${prefix}members/${node}` holds this node's record under a lease of
 * lease_ttl, so a node that stops renewing (killed, cut off) drops out of the member list by itself. The node
 * watches the members prefix, says whether it can coordinate (etcd reachable within lease_ttl), re-registers when
 * etcd is back, and campaigns for leadership with etcd's election (see leader.ts).
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, Lease, Watcher } from 'etcd3';
import type { ClusterConfig } from './config.js';
import { Leadership } from './leader.js';

export interface MemberRecord {
  name: string;
  location: string;
  /** Where this node's API answers (http://host:port), and how two nodes with one name are told apart. */
  address: string;
  started_at: string;
  /** Hash of the node's config: nodes whose hash differs from the leader's run another config. */
  config_hash: string;
  checks_owned?: number;
}

/** A member as assignment sees it before (or after) etcd holds its record: name and location only. */
export function placeholderMember(node: { name: string; location: string; address?: string }): MemberRecord {
  return { name: node.name, location: node.location, address: node.address ?? '', started_at: '', config_hash: '' };
}

export interface CoordinationState {
  up: boolean;
  reason: string;
}

interface MembershipEvents {
  members: [MemberRecord[]];
  coordination: [CoordinationState];
  leader: [{ isLeader: boolean; leader: string | undefined }];
}

/** Another live node already registered this node name. */
export class DuplicateNodeError extends Error {
  readonly event = 'cluster_duplicate_node';
  readonly hint: string;
  constructor(
    readonly node: string,
    readonly ours: string,
    readonly theirs: string,
  ) {
    super(`node name ${node} is already taken by the live node at ${theirs}; this node is at ${ours}`);
    this.name = 'DuplicateNodeError';
    this.hint = 'every node needs its own cluster.node (default: the hostname): set a unique one on this node';
  }
}

export interface MembershipOptions {
  client: Etcd3;
  config: ClusterConfig;
  address: string;
  configHash: string;
  /** How often coordination is assessed; a quarter of lease_ttl (at most 1 s) by default. */
  tickMs?: number;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Membership extends EventEmitter<MembershipEvents> {
  readonly key: string;
  private readonly membersPrefix: string;
  private readonly ttlSeconds: number;
  private record: MemberRecord;
  private lease: Lease | undefined;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewal = 0;
  private lastError = '';
  private registering = false;
  private closed = false;
  private readonly leadership: Leadership;
  private list: MemberRecord[] = [];
  private state: CoordinationState = { up: false, reason: 'not registered yet' };

  constructor(private readonly opts: MembershipOptions) {
    super();
    const { config } = opts;
    this.membersPrefix = `${config.etcd.prefix}members/`;
    this.key = `${this.membersPrefix}${config.node}`;
    this.ttlSeconds = Math.round(config.lease_ttl / 1000);
    this.record = {
      name: config.node,
      location: config.location,
      address: opts.address,
      started_at: new Date().toISOString(),
      config_hash: opts.configHash,
    };
    this.leadership = new Leadership(opts.client, config.etcd.prefix, config.node, this.ttlSeconds);
    this.leadership.on('change', (change) => this.emit('leader', change));
  }

  get members(): readonly MemberRecord[] {
    return this.list;
  }
  get coordination(): CoordinationState {
    return this.state;
  }
  get isLeader(): boolean {
    return this.leadership.isLeader;
  }
  get leader(): string | undefined {
    return this.leadership.leader;
  }
  get fenceKey(): string | undefined {
    return this.leadership.fenceKey;
  }

  /** Registers (throws DuplicateNodeError when the name is live elsewhere), then watches members and campaigns. */
  async start(): Promise<void> {
    await this.register();
    await this.follow();
    this.setState({ up: true, reason: 'registered in etcd' });
    await this.leadership.start();
  }

  /**
   * Starts without etcd (a node that was in the fleet before, restarted while etcd is away): coordination is down
   * from the start, and the node registers, watches and campaigns once etcd answers.
   */
  startDown(reason: string): void {
    this.state = { up: false, reason };
    this.lastError = reason;
    this.timer = setInterval(() => this.assess(), this.tickMs);
  }

  private get tickMs(): number {
    return this.opts.tickMs ?? Math.min(1000, this.opts.config.lease_ttl / 4);
  }

  /** Watches the member list and assesses coordination from here on. */
  private async follow(): Promise<void> {
    this.watcher = await this.opts.client.watch().prefix(this.membersPrefix).create();
    this.watcher.on('put', () => void this.refresh());
    this.watcher.on('delete', () => void this.refresh());
    this.watcher.on('connected', () => void this.refresh());
    this.watcher.on('error', (err) => (this.lastError = errorText(err)));
    await this.refresh();
    this.timer ??= setInterval(() => this.assess(), this.tickMs);
  }

  /** Publishes a changed share of checks (at most about once a second; the caller batches). */
  async setChecksOwned(count: number): Promise<void> {
    this.record = { ...this.record, checks_owned: count };
    if (this.lease && this.state.up) await this.lease.put(this.key).value(JSON.stringify(this.record)).exec();
  }

  /**
   * Publishes the hash of a reloaded config, so the others compare theirs with the one this node runs now. Only
   * while registered (the record must stay what etcd holds for a recovery to recognise it): call again once back.
   */
  async setConfigHash(hash: string): Promise<void> {
    if (hash === this.record.config_hash || !this.lease || !this.state.up) return;
    this.record = { ...this.record, config_hash: hash };
    await this.lease.put(this.key).value(JSON.stringify(this.record)).exec();
  }

  /** Leaves the fleet at once: resigns leadership and revokes the lease (the record goes with it). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.watcher?.cancel().catch(() => undefined);
    await this.leadership.close();
    await this.lease?.revoke().catch(() => undefined);
  }

  private async register(): Promise<void> {
    const { client } = this.opts;
    const lease = client.lease(this.ttlSeconds);
    lease.on('keepaliveSucceeded', () => (this.lastRenewal = Date.now()));
    lease.on('keepaliveFailed', (err) => (this.lastError = errorText(err)));
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.lease = undefined;
      this.lastError = errorText(err);
      this.setState({ up: false, reason: `lease lost: ${this.lastError}` });
    });
    try {
      const id = await lease.grant();
      const value = JSON.stringify(this.record);
      for (let attempt = 0; ; attempt++) {
        const created = await client
          .if(this.key, 'Create', '==', 0)
          .then(client.put(this.key).value(value).lease(id))
          .else(client.get(this.key))
          .commit();
        if (created.succeeded) break;
        const kv = created.responses[0]?.response_range?.kvs?.[0];
        if (!kv) continue; // gone meanwhile
        const holder = JSON.parse(kv.value.toString()) as Partial<MemberRecord>;
        // A live lease of another address: another node runs under this name. The same address is this node
        // restarted before its old lease ran out, and a key without a lease is left over: both are replaced.
        if (kv.lease !== '0' && holder.address !== this.record.address)
          throw new DuplicateNodeError(this.record.name, this.record.address, String(holder.address));
        const replaced = await client
          .if(this.key, 'Mod', '==', kv.mod_revision)
          .then(client.put(this.key).value(value).lease(id))
          .commit();
        if (replaced.succeeded) break;
        if (attempt >= 3) throw new Error(`cannot register ${this.key}: it keeps changing`);
      }
      this.lease = lease;
      this.lastRenewal = Date.now();
    } catch (err) {
      await lease.revoke().catch(() => undefined);
      throw err;
    }
  }

  private async refresh(): Promise<void> {
    try {
      const all = await this.opts.client.getAll().prefix(this.membersPrefix).strings();
      const list = Object.values(all)
        .map((v) => JSON.parse(v) as MemberRecord)
        .sort((a, b) => a.name.localeCompare(b.name));
      if (JSON.stringify(list) === JSON.stringify(this.list)) return;
      this.list = list;
      this.emit('members', list);
    } catch (err) {
      this.lastError = errorText(err);
    }
  }

  /** Down once the lease cannot have been renewed within lease_ttl (the others see this node gone by then). */
  private assess(): void {
    if (this.closed) return;
    const silentFor = Date.now() - this.lastRenewal;
    if (this.state.up && silentFor > this.opts.config.lease_ttl) {
      const seconds = Math.round(silentFor / 100) / 10;
      this.setState({
        up: false,
        reason: `no lease renewal from etcd for ${seconds}s: ${this.lastError || 'no answer'}`,
      });
    }
    if (!this.state.up) void this.recover();
  }

  /** Back up when the old lease renews again and still holds the record, or under a new lease otherwise. */
  private async recover(): Promise<void> {
    if (this.registering || this.closed) return;
    this.registering = true;
    try {
      const current = this.lease;
      if (current && Date.now() - this.lastRenewal < this.opts.config.lease_ttl) {
        const kv = await this.opts.client.get(this.key).exec();
        if (kv.kvs[0]?.value.toString() !== JSON.stringify(this.record)) throw new Error('record gone');
      } else {
        current?.release();
        this.lease = undefined;
        await this.register();
      }
      if (this.closed) return;
      if (!this.watcher) {
        // Started without etcd: the rest of the start now (coming up also starts the campaign).
        await this.follow();
        this.setState({ up: true, reason: 'etcd reachable; registered' });
        return;
      }
      await this.refresh();
      this.setState({ up: true, reason: 'etcd reachable again; registered' });
    } catch (err) {
      this.lastError = errorText(err);
      if (err instanceof DuplicateNodeError) this.setState({ up: false, reason: err.message });
    } finally {
      this.registering = false;
    }
  }

  private setState(next: CoordinationState): void {
    const changed = next.up !== this.state.up;
    this.state = next;
    if (!changed) return;
    this.emit('coordination', next);
    // Fail open: a node that cannot coordinate is nobody's leader; it campaigns again once back.
    if (next.up) this.leadership.resume();
    else this.leadership.suspend();
  }
}
