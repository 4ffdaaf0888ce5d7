/**
 * The fleet-wide check list that GET /api/status and the status page show on a node of a fleet: the checks this
 * node runs as it sees them, and every other check under the node that runs it now, in the state the fleet
 * recorded at its latest transition (etcd). A check's state only changes with a transition, so that record stays
 * current while its owner's runs agree; a node that takes a check over adopts it without writing a new one. This
 * node's own runs of a check it does not own (GET /check, or runs before it handed the check on) are left out:
 * they would show what a node saw that no longer watches the check.
 */
import type { CheckView, Monitor } from '../checks/monitor.js';
import { recordResult, type HandedOverState } from '../cluster/handover.js';
import type { ProbeResult } from '../probes/types.js';

/** A check's state as the fleet records it: what its owner saw at its latest transition. */
export type FleetCheckRecord = Pick<
  HandedOverState,
  'status' | 'since' | 'reason' | 'hint' | 'code' | 'node' | 'at' | 'details'
>;

/** The fleet as the status page shows it, without a request to etcd. */
export interface FleetGlance {
  leader: string | null;
  coordination: { up: boolean; reason: string };
  /** Names of the live members, this node included once it has seen its own record. */
  members: string[];
  config: { hash: string; leader_hash: string | null; matches: boolean | null };
}

/** What the API and the status page read of this node's fleet (src/cluster/fleet.ts Fleet provides it). */
export interface FleetStatusSource {
  readonly node: string;
  /** Where this node probes from. */
  readonly location: string;
  /** Whether this node runs the check on schedule now. */
  owns(check: string): boolean;
  record(check: string): FleetCheckRecord | undefined;
  /** The live member that runs the check now (rendezvous over the members this node sees). */
  runnerOf(check: string): string | undefined;
  glance(): FleetGlance;
  /** For a check run from several locations: what each saw, and the check judged on them together. */
  locations(check: CheckView['check']): LocatedView | undefined;
}

/** One location's view of a check, as /api/status, /check and the status page show it. */
export interface LocationEntry {
  status: 'ok' | 'warn' | 'fail' | 'unknown';
  reason: string;
  hint?: string;
  node?: string;
  since?: string;
  at?: string;
}

export interface LocatedView {
  /** The check's result over its locations (quorum). */
  result: ProbeResult;
  /** The latest change among its locations. */
  since: string;
  locations: Record<string, LocationEntry>;
}

/** A check as shown fleet-wide: which node runs it, and whether its state is the fleet's record (not run here). */
export interface FleetCheckView extends CheckView {
  /** The node that runs it; undefined outside a fleet, or when no live member is known to run it. */
  node?: string;
  /** True when state and last come from the fleet's record (another node's run, no duration known). */
  recorded?: boolean;
  /** A check run from several locations: each location's view. */
  locations?: Record<string, LocationEntry>;
}

/** One check's view: this node's own when it runs the check, else the fleet's record under the node running it. */
export function fleetCheckView(local: CheckView, fleet: FleetStatusSource): FleetCheckView {
  const name = local.check.name;
  const located = local.check.locations ? fleet.locations(local.check) : undefined;
  if (located) {
    const state = { status: located.result.status, since: located.since };
    return {
      check: local.check,
      state,
      last: { check: local.check, at: located.since, state, result: located.result },
      running: local.running,
      ...(fleet.owns(name) ? { node: fleet.node } : {}),
      recorded: true,
      locations: located.locations,
    };
  }
  if (fleet.owns(name)) return { ...local, node: fleet.node };
  const record = fleet.record(name);
  const runner = fleet.runnerOf(name) ?? record?.node;
  // Not recorded yet (its owner has not finished a first run): this node's view, which is the configured check.
  if (!record) return { ...local, ...(runner ? { node: runner } : {}) };
  const recordedAt = record.at ?? record.since;
  const state = { status: record.status, since: record.since, ...(record.code ? { code: record.code } : {}) };
  return {
    check: local.check,
    state,
    last: {
      check: local.check,
      at: recordedAt,
      state,
      result: recordResult(record),
    },
    running: false,
    node: runner ?? record.node,
    recorded: true,
  };
}

/** Every configured check, fleet-wide when this node is in a fleet (its own views otherwise). */
export function checkViews(monitor: Monitor, fleet: FleetStatusSource | undefined): FleetCheckView[] {
  const views = monitor.views();
  return fleet ? views.map((v) => fleetCheckView(v, fleet)) : views;
}
