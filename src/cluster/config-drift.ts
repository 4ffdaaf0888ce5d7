/**
 * Config drift in a fleet: every node should read the same config file, so each compares the hash of its checks
 * (fleet.ts configHash, published in its member record) with the leader's. A node that runs another config would
 * run its share of the checks differently from the rest; it says so in its log, once per change, and in
 * /api/cluster.
 */
import type { Logger } from '../log.js';
import type { MemberRecord } from './membership.js';

/** This node's config against the leader's, as GET /api/cluster shows it. */
export interface ConfigMatch {
  /** This node's config hash. */
  hash: string;
  /** The leader's, from its member record; null while no leader (or its record) is known. */
  leader_hash: string | null;
  /** Whether the two are equal; null while the leader's hash is unknown. */
  matches: boolean | null;
}

/** Compares this node's hash with the leader's record; the leader matches itself. */
export function compareConfig(
  node: string,
  hash: string,
  leader: string | undefined,
  members: readonly MemberRecord[],
): ConfigMatch {
  const leaderHash = leader === node ? hash : (members.find((m) => m.name === leader)?.config_hash ?? null);
  return { hash, leader_hash: leaderHash, matches: leaderHash === null ? null : leaderHash === hash };
}

export interface ConfigDriftOptions {
  node: string;
  logger: Logger;
  /** This node's hash of the config it runs now (it changes with a reload). */
  ownHash: () => string;
  leader: () => string | undefined;
  members: () => readonly MemberRecord[];
}

/** Compares on demand and logs each change: a node that keeps differing is not logged again on every look. */
export class ConfigDrift {
  /** The last comparison that was logged (or found matching), so the same one is not logged twice. */
  private seen = '';
  private differed = false;

  constructor(private readonly opts: ConfigDriftOptions) {}

  /** Compares now; logs `cluster_config_differs` when a difference is new, `cluster_config_matches` when it ends. */
  assess(): ConfigMatch {
    const { node, logger } = this.opts;
    const leader = this.opts.leader();
    const match = compareConfig(node, this.opts.ownHash(), leader, this.opts.members());
    if (match.matches === null) return match;
    const key = `${leader}\0${match.hash}\0${match.leader_hash}`;
    if (key === this.seen) return match;
    this.seen = key;
    if (!match.matches) {
      logger.warn(
        { event: 'cluster_config_differs', node, leader, hash: match.hash, leader_hash: match.leader_hash },
        `this node's config differs from the leader ${leader}'s (hash ${match.hash}, leader ${match.leader_hash}): reload or deploy the same file on every node`,
      );
    } else if (this.differed) {
      logger.info(
        { event: 'cluster_config_matches', node, leader, hash: match.hash },
        `this node's config matches the leader ${leader}'s again`,
      );
    }
    this.differed = !match.matches;
    return match;
  }
}
