/**
 * This node's share of the fleet's checks: which it runs (rendezvous hashing over the live members), what it
 * adopts from the fleet when it takes a check over, and how many it took over. While the node cannot coordinate
 * it runs every check (fail open), starting from the states it last heard from the fleet.
 */
import type { Monitor } from '../checks/monitor.js';
import type { Scheduler } from '../checks/scheduler.js';
import type { Logger } from '../log.js';
import { ownerOf } from './assign.js';
import type { ClusterConfig } from './config.js';
import type { HandedOverState } from './handover.js';
import { locationKey } from './location-quorum.js';
import { placeholderMember, type MemberRecord } from './membership.js';

export interface ShareOptions {
  cluster: ClusterConfig;
  monitor: Monitor;
  scheduler: Scheduler;
  logger: Logger;
  /** One read of every check record in etcd. */
  readRecords: () => Promise<Map<string, HandedOverState>>;
  /** The records this node last heard of (for failing open, when etcd cannot be read). */
  knownRecords: () => ReadonlyMap<string, HandedOverState>;
  logError: (what: string, err: unknown) => void;
}

export interface ShareChange {
  gained: number;
  lost: number;
  owned: number;
  members: number;
}

export class Share {
  private owned = new Set<string>();
  private taken = 0;

  constructor(private readonly opts: ShareOptions) {}

  has(check: string): boolean {
    return this.owned.has(check);
  }
  get size(): number {
    return this.owned.size;
  }
  /** Checks taken over from another node (counted once the node has joined). */
  get handovers(): number {
    return this.taken;
  }

  /** The member list as etcd shows it, with this node in it even before its own record is seen. */
  withSelf(members: readonly MemberRecord[]): MemberRecord[] {
    const { cluster } = this.opts;
    if (members.some((m) => m.name === cluster.node)) return [...members];
    return [...members, placeholderMember({ name: cluster.node, location: cluster.location })];
  }

  /** The member that runs `check` over `members` (this node included). */
  runnerOf(check: string, members: readonly MemberRecord[]): string | undefined {
    return ownerOf(check, this.withSelf(members));
  }

  /**
   * Recomputes the share over `members` (all checks when `up` is false); adopts the fleet's state of each check it
   * gains before the check runs here, then reschedules. Undefined when nothing changed.
   */
  async reassign(members: readonly MemberRecord[], up: boolean, counted: boolean): Promise<ShareChange | undefined> {
    const { monitor, scheduler, cluster } = this.opts;
    const all = this.withSelf(members);
    // A check with locations runs once from each, on one node of that location; alone, from this node's location.
    const here = monitor.checks.filter((c) => !c.locations || c.locations.includes(cluster.location));
    const mine = (c: (typeof here)[number]) =>
      (c.locations ? ownerOf(c.name, all, cluster.location) : ownerOf(c.name, all)) === cluster.node;
    const next = new Set((up ? here.filter(mine) : here).map((c) => c.name));
    const gained = [...next].filter((n) => !this.owned.has(n));
    const lost = [...this.owned].filter((n) => !next.has(n));
    if (gained.length === 0 && lost.length === 0) return undefined;
    // Failing open, the states this node last heard from the fleet replace its own stale ones (from before a handover).
    if (gained.length > 0) await this.adopt(gained, up ? undefined : this.opts.knownRecords());
    this.owned = next;
    scheduler.sync();
    if (counted && up) this.taken += gained.length;
    return { gained: gained.length, lost: lost.length, owned: next.size, members: all.length };
  }

  /** One read of the handed-over states; a check runs with what it has here when etcd has nothing newer. */
  private async adopt(gained: string[], known?: ReadonlyMap<string, HandedOverState>): Promise<void> {
    const { monitor, logger } = this.opts;
    let stored: ReadonlyMap<string, HandedOverState>;
    try {
      stored = known ?? (await this.opts.readRecords());
    } catch (err) {
      this.opts.logError('read check states', err);
      return;
    }
    for (const name of gained) {
      const located = monitor.view(name)?.check.locations !== undefined;
      const handed = stored.get(located ? locationKey(name, this.opts.cluster.location) : name);
      if (!handed) continue;
      const local = monitor.view(name)?.state;
      if (local && local.status !== 'unknown' && Date.parse(local.since) > Date.parse(handed.since)) continue;
      monitor.adopt(name, handed);
      if (handed.status !== 'ok')
        logger.info(
          { event: 'check_adopted', check: name, status: handed.status, since: handed.since, from: handed.node },
          `${name}: taking over from ${handed.node}, ${handed.status} since ${handed.since}`,
        );
    }
  }
}
