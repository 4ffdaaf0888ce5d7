/**
 * The leader's view of checks run from several locations: each location's owner writes its own record
 * (`checks/<name>@<location>`), and here they are combined (src/checks/locations.ts) and run through the state
 * machine, which alone decides that the check regressed or recovered. A location with no live node is unknown.
 */
import type { CheckConfig } from '../config/load.js';
import { combineLocations, type LocationView } from '../checks/locations.js';
import { advance, type CheckState, type Transition } from '../checks/state.js';
import type { ProbeResult } from '../probes/types.js';
import type { LocatedView } from '../server/fleet-status.js';
import type { HandedOverState } from './handover.js';
import { explainLayer } from './origin.js';

/** The record key of one location's view of a check. */
export const locationKey = (check: string, location: string) => `${check}@${location}`;

/** The check name and location of a record key, when it is a location's record. */
export function splitLocationKey(key: string): { check: string; location: string } | undefined {
  const at = key.lastIndexOf('@');
  return at > 0 ? { check: key.slice(0, at), location: key.slice(at + 1) } : undefined;
}

/** What each listed location of `check` saw, from its records; a location with no live node is unknown. */
export function locationViews(
  check: CheckConfig,
  record: (key: string) => HandedOverState | undefined,
  live: ReadonlySet<string>,
): Map<string, LocationView & { at?: string }> {
  const seen = new Map<string, LocationView & { at?: string }>();
  for (const location of check.locations ?? []) {
    if (!live.has(location)) {
      seen.set(location, { status: 'unknown', reason: `no live node in ${location}` });
      continue;
    }
    const r = record(locationKey(check.name, location));
    if (r)
      seen.set(location, {
        status: r.status,
        reason: r.reason,
        node: r.node,
        since: r.since,
        ...(r.at ? { at: r.at } : {}),
        ...(r.hint ? { hint: r.hint } : {}),
        ...(r.code !== undefined ? { code: r.code } : {}),
        ...(r.details ? { details: r.details } : {}),
      });
    else seen.set(location, { status: 'unknown', reason: 'no result yet' });
  }
  return seen;
}

/** The combined result changes the status at once: each location's own thresholds already applied. */
const THRESHOLDS = { failure_threshold: 1, success_threshold: 1 };

interface Combined {
  state: CheckState;
  result: ProbeResult;
  at: string;
}

export class LocationQuorum {
  private readonly combined = new Map<string, Combined>();

  constructor(
    private readonly record: (key: string) => HandedOverState | undefined,
    /** Locations with at least one live node. */
    private readonly liveLocations: () => ReadonlySet<string>,
    /** Adds what can be said of the failing layer (edge or origin) to a combined result. */
    private readonly explain: (check: CheckConfig, result: ProbeResult) => ProbeResult = (_c, r) => r,
  ) {}

  state(check: string): Combined | undefined {
    return this.combined.get(check);
  }

  /** Sets the check's combined state from its records as they are, without a transition (a leader's start). */
  seed(check: CheckConfig, openSince: string | undefined): Combined | undefined {
    const result = this.result(check);
    if (!result) return undefined;
    const now = new Date().toISOString();
    const entry = { state: { status: result.status, since: openSince ?? now }, result, at: now };
    this.combined.set(check.name, entry);
    return entry;
  }

  /** Recomputes the check over its locations; the transition when its status (or failure class) moved. */
  update(check: CheckConfig): Transition | undefined {
    const result = this.result(check);
    if (!result) return undefined;
    const now = new Date();
    const before = this.combined.get(check.name)?.state ?? { status: 'unknown' as const, since: now.toISOString() };
    const { state, transition } = advance(check.name, before, result, THRESHOLDS, now);
    this.combined.set(check.name, { state, result, at: now.toISOString() });
    return transition;
  }

  private result(check: CheckConfig): ProbeResult | undefined {
    if (!check.locations) return undefined;
    const seen = locationViews(check, this.record, this.liveLocations());
    if (![...seen.values()].some((v) => v.status !== 'unknown')) return undefined;
    return this.explain(check, combineLocations(check.locations, check.quorum ?? check.locations.length, seen));
  }
}

/** A location-judged check as every node shows it: each location's view, and the check judged on them (with its layer). */
export function locatedView(
  check: CheckConfig,
  checks: readonly CheckConfig[],
  record: (key: string) => HandedOverState | undefined,
  live: ReadonlySet<string>,
): LocatedView | undefined {
  if (!check.locations) return undefined;
  const seen = locationViews(check, record, live);
  const combined = combineLocations(check.locations, check.quorum ?? check.locations.length, seen);
  const result = explainLayer(check, combined, checks, record);
  const locations: LocatedView['locations'] = {};
  let since = new Date(0).toISOString();
  for (const [location, v] of seen) {
    locations[location] = {
      status: v.status,
      reason: v.reason,
      ...(v.hint ? { hint: v.hint } : {}),
      ...(v.node ? { node: v.node } : {}),
      ...(v.since ? { since: v.since } : {}),
      ...(v.at ? { at: v.at } : {}),
    };
    if (v.since && v.since > since) since = v.since;
  }
  return { result, since, locations };
}
