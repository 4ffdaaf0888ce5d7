/**
 * This node's part in a fleet: joins through etcd (membership and leadership), decides which checks it runs
 * (rendezvous hashing of the config's check names over the live members), and hands check states over between
 * nodes. The owner of a check records each of its transitions (handover.ts); a node that takes a check over
 * adopts that state before the check's first run there, so a failure that moves is not announced again. While
 * etcd cannot be reached for longer than lease_ttl the node runs every check (fail open): a duplicate alert is
 * acceptable, a missed one is not.
 */
import type { Etcd3 } from 'etcd3';
import type { Monitor } from '../checks/monitor.js';
import type { Scheduler } from '../checks/scheduler.js';
import type { Logger } from '../log.js';
import { describeCluster, type ClusterConfig } from './config.js';
import { ConfigDrift, type ConfigMatch } from './config-drift.js';
import { configHash, writeJoinedMarker } from './joining.js';
import { lastRenewals, type ClusterView } from './cluster-view.js';
import { FleetStates } from './fleet-states.js';
import { HandoverStore, MAX_DETAILS_BYTES, type HandedOverState } from './handover.js';
import type { CheckConfig } from '../config/load.js';
import type { LocatedView } from '../server/fleet-status.js';
import { locatedView, locationKey, splitLocationKey } from './location-quorum.js';
import { Share } from './share.js';
import { Membership, type CoordinationState, type MemberRecord } from './membership.js';

export type { ClusterMemberView, ClusterView } from './cluster-view.js';

export interface FleetOptions {
  cluster: ClusterConfig;
  /** The etcd client for `cluster.etcd` (createEtcdClient); the fleet closes it. */
  client: Etcd3;
  monitor: Monitor;
  scheduler: Scheduler;
  logger: Logger;
  /** Where this node's API answers (shown to the other nodes and in /api/cluster). */
  address: string;
}

/** A node that joined the fleet once: kept (without a lease) until it leaves cleanly, so its silence is noticed. */
export interface KnownNode {
  name: string;
  location: string;
  address: string;
}

export class Fleet {
  readonly client: Etcd3;
  private readonly membership: Membership;
  private readonly handover: HandoverStore;
  /** The fleet's check states (every node's transitions), kept current by a watch. */
  readonly states: FleetStates;
  private alertedFor: (check: string) => HandedOverState['alerted'] = () => undefined;
  private readonly share: Share;
  private started = false;
  private joined = false;
  private closed = false;
  /** Ownership changes run one after another, each on the latest members and config. */
  private resyncing: Promise<void> = Promise.resolve();
  private publishedCount: number | undefined;
  private readonly drift: ConfigDrift;

  constructor(private readonly opts: FleetOptions) {
    const { cluster, monitor } = opts;
    this.client = opts.client;
    this.membership = new Membership({
      client: this.client,
      config: cluster,
      address: opts.address,
      configHash: configHash(monitor.config),
    });
    this.handover = new HandoverStore(
      this.client,
      cluster.etcd.prefix,
      () => this.membership.coordination.up,
      (what, err) => this.logError(what, err),
      (key) => this.share.has(splitLocationKey(key)?.check ?? key),
      (check) => this.alertedFor(check),
    );
    this.states = new FleetStates(this.client, cluster.etcd.prefix);
    this.share = new Share({
      cluster,
      monitor,
      scheduler: opts.scheduler,
      logger: opts.logger,
      readRecords: () => this.handover.readAll(),
      knownRecords: () => this.states.all(),
      logError: (what, err) => this.logError(what, err),
    });
    this.owns = this.owns.bind(this);
    this.drift = new ConfigDrift({
      node: cluster.node,
      logger: opts.logger,
      ownHash: () => configHash(monitor.config),
      leader: () => this.membership.leader,
      members: () => this.membership.members,
    });
    for (const event of ['members', 'leader'] as const) this.membership.on(event, () => this.drift.assess());
    // A reload changes the hash: published while registered, else once coordination is back.
    const publishHash = () =>
      this.membership
        .setConfigHash(configHash(monitor.config))
        .catch((err: unknown) => this.logError('publish config hash', err));
    monitor.onConfig(() => void publishHash().then(() => this.drift.assess()));
    this.membership.on('coordination', (state) => void (state.up && publishHash()));
  }

  /** Registers (DuplicateNodeError when the name is live elsewhere) and takes its share, adopting the states. */
  /**
   * Registers (DuplicateNodeError when the name is live elsewhere) and takes its share, adopting the states.
   * `down`: etcd cannot be reached now but this node was in the fleet before: it starts failing open and joins
   * once etcd answers.
   */
  async start({ down }: { down?: string } = {}): Promise<void> {
    const { logger, cluster, monitor } = this.opts;
    if (down === undefined) await this.membership.start();
    else this.membership.startDown(down);
    this.membership.on('members', () => this.resync());
    this.membership.on('coordination', (state) => {
      if (state.up) {
        logger.info(
          { event: 'cluster_coordination_up', reason: state.reason },
          `fleet coordination back: ${state.reason}`,
        );
        if (!this.joined) void this.join().catch((err: unknown) => this.logError('join the fleet', err));
        // Written once this node knows its share again: what it saw of others' checks stays unwritten.
        this.resync();
        void this.resyncing.then(() => this.handover.flushSoon());
        return;
      } else {
        logger.warn(
          { event: 'cluster_coordination_down', reason: state.reason },
          `cannot coordinate through etcd (${state.reason}): running every check on this node until it is back`,
        );
      }
      this.resync();
    });
    this.membership.on('leader', ({ isLeader, leader }) =>
      logger.info({ event: 'cluster_leader', leader, is_leader: isLeader }, `fleet leader: ${leader ?? 'none'}`),
    );
    monitor.onTransition(({ transition: t, check }) => {
      if (!this.share.has(t.check)) return;
      const { result } = t;
      const details = JSON.stringify(result.details).length <= MAX_DETAILS_BYTES ? result.details : undefined;
      // A check run from several locations: each location's view is a record of its own.
      const key = check.locations ? locationKey(t.check, cluster.location) : t.check;
      this.handover.record(key, {
        status: t.to,
        since: t.since,
        reason: result.reason,
        ...(result.hint ? { hint: result.hint } : {}),
        ...(t.to !== 'ok' && result.code !== undefined ? { code: result.code } : {}),
        node: cluster.node,
        ...(check.locations ? { location: cluster.location } : {}),
        at: t.at,
        ...(t.kind ? { kind: t.kind } : {}),
        ...(details ? { details } : {}),
      });
    });
    monitor.onConfig(() => this.resync());
    if (down === undefined) await this.join();
    this.resync();
    await this.resyncing;
    this.started = true;
    if (down === undefined)
      logger.info(
        { event: 'cluster_joined', ...describeCluster(cluster), members: this.membership.members.length },
        `joined the fleet as ${cluster.node}: ${this.share.size} of ${monitor.checks.length} checks run here`,
      );
  }

  /** What joining takes besides membership: the fleet's check states, this node's name kept, the marker file. */
  private async join(): Promise<void> {
    const { cluster, monitor } = this.opts;
    await this.states.start();
    const known: KnownNode = { name: cluster.node, location: cluster.location, address: this.opts.address };
    await this.client.put(this.nodeKey).value(JSON.stringify(known));
    this.joined = true;
    await writeJoinedMarker(monitor.config.state_dir, cluster).catch((err: unknown) =>
      this.logError('write the fleet marker in state_dir', err),
    );
  }

  /** This node's name in the fleet. */
  get node(): string {
    return this.opts.cluster.node;
  }
  get location(): string {
    return this.opts.cluster.location;
  }
  get prefix(): string {
    return this.opts.cluster.etcd.prefix;
  }
  get members(): readonly MemberRecord[] {
    return this.membership.members;
  }
  /** The leader's election key while this node leads (fences leader-only writes). */
  get fenceKey(): string | undefined {
    return this.membership.fenceKey;
  }
  get coordination(): CoordinationState {
    return this.membership.coordination;
  }
  onLeader(fn: (isLeader: boolean) => void): void {
    this.membership.on('leader', ({ isLeader }) => fn(isLeader));
  }
  onCoordination(fn: (state: CoordinationState) => void): void {
    this.membership.on('coordination', fn);
  }
  /** Returns the way to stop listening (a leader's alerter listens only while it leads). */
  onMembers(fn: (members: MemberRecord[]) => void): () => void {
    this.membership.on('members', fn);
    return () => this.membership.off('members', fn);
  }
  /** Every node that joined and has not left cleanly. */
  async knownNodes(): Promise<KnownNode[]> {
    const all = await this.client.getAll().prefix(`${this.prefix}nodes/`).strings();
    return Object.values(all).map((v) => JSON.parse(v) as KnownNode);
  }

  private get nodeKey(): string {
    return `${this.prefix}nodes/${this.opts.cluster.node}`;
  }

  /** Resolves once the latest change of membership, coordination or config has been applied to this node's share. */
  settled(): Promise<void> {
    return this.resyncing;
  }

  /** Tells what this node alerted on its own while failing open, for the check states it writes once back. */
  setAlertedSource(fn: (check: string) => HandedOverState['alerted']): void {
    this.alertedFor = fn;
  }

  /** Whether this node runs `check` on schedule now. */
  owns(check: string): boolean {
    return this.share.has(check);
  }

  get ownedCount(): number {
    return this.share.size;
  }
  get memberCount(): number {
    return this.membership.members.length;
  }
  get isLeader(): boolean {
    return this.membership.isLeader;
  }
  get coordinationUp(): boolean {
    return this.membership.coordination.up;
  }
  /** Checks this node took over from another node since it joined. */
  get handovers(): number {
    return this.share.handovers;
  }

  async view(): Promise<ClusterView> {
    const { cluster, address } = this.opts;
    const renewals = this.coordinationUp
      ? await lastRenewals(this.client, cluster.etcd.prefix).catch(() => new Map<string, string>())
      : new Map<string, string>();
    return {
      node: {
        name: cluster.node,
        location: cluster.location,
        address,
        checks_owned: this.share.size,
        is_leader: this.isLeader,
      },
      leader: this.membership.leader ?? null,
      coordination: this.membership.coordination,
      members: this.membership.members.map((m) => ({
        name: m.name,
        location: m.location,
        address: m.address,
        checks_owned: m.checks_owned ?? null,
        last_renewal: renewals.get(m.name) ?? null,
        config_hash: m.config_hash,
      })),
      handovers: this.share.handovers,
      config: this.drift.assess(),
    };
  }

  /** The fleet's record of a check: its state as the node that ran it saw it change last. */
  record(check: string): HandedOverState | undefined {
    return this.states.get(check);
  }

  /** The member that runs `check` now, as the shares are computed over the live members (or over `members`). */
  runnerOf(check: string, members: readonly MemberRecord[] = this.membership.members): string | undefined {
    return this.share.runnerOf(check, members);
  }

  /** A check run from several locations, judged on what each location's record says now (no request to etcd). */
  locations(check: CheckConfig): LocatedView | undefined {
    const live = new Set(this.share.withSelf(this.membership.members).map((m) => m.location));
    return locatedView(check, this.opts.monitor.config.checks, (key) => this.states.get(key), live);
  }

  /** The fleet as the status page shows it, from what this node holds (no request to etcd). */
  glance(): { leader: string | null; coordination: CoordinationState; members: string[]; config: ConfigMatch } {
    return {
      leader: this.membership.leader ?? null,
      coordination: this.membership.coordination,
      members: this.membership.members.map((m) => m.name),
      config: this.drift.assess(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.resyncing;
    await this.handover.close();
    await this.states.close();
    // Leaving cleanly: the leader does not report this node as stopped.
    if (this.started && this.coordinationUp)
      await this.client
        .delete()
        .key(this.nodeKey)
        .exec()
        .catch(() => undefined);
    await this.membership.close();
    this.client.close();
  }

  private resync(): void {
    this.resyncing = this.resyncing.then(() => this.reassign()).catch((err: unknown) => this.logError('resync', err));
  }

  /** Recomputes this node's share and publishes its size. */
  private async reassign(): Promise<void> {
    if (this.closed) return;
    const up = this.membership.coordination.up;
    const change = await this.share.reassign(this.membership.members, up, this.started);
    if (change && this.started)
      this.opts.logger.info(
        { event: 'cluster_reassigned', ...change },
        `fleet of ${change.members}: ${change.owned} checks run here (${change.gained} taken over, ${change.lost} handed on)`,
      );
    if (up && this.publishedCount !== this.share.size) {
      await this.membership.setChecksOwned(this.share.size);
      this.publishedCount = this.share.size;
    }
  }

  private logError(what: string, err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    this.opts.logger.warn({ event: 'cluster_error', what, error }, `fleet: cannot ${what}: ${error}`);
  }
}
