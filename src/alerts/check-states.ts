/**
 * What the alerter reads about checks: a narrow, read-only view of their states and dependencies (built from
 * the monitor by index.ts, or from elsewhere), and the alert events made from it.
 */
import type { CheckStatus } from '../checks/state.js';
import type { ProbeResult } from '../probes/types.js';
import type { Incident } from './incidents.js';
import type { AlertEvent } from './types.js';

/** The checks as the alerter sees them: settled states and dependencies, nothing of how they run. */
export interface CheckStates {
  /** The settled status of a configured check and since when; undefined for a check that is not configured. */
  state(name: string): { status: CheckStatus; since: string } | undefined;
  /** The check's latest result and the ISO time it finished. */
  lastResult(name: string): { at: string; result: ProbeResult } | undefined;
  dependsOn(name: string): readonly string[];
}

/** What an alert says about the check a transition is about. */
export interface AlertedCheck {
  name: string;
  type: string;
  labels: Record<string, string>;
  description?: string | undefined;
}

export function failingStatus(status: string | undefined): boolean {
  return status === 'fail' || status === 'warn';
}

/** A check state.json kept as failing, as start-up found it. */
export interface SavedFailure {
  check: AlertedCheck;
  status: 'warn' | 'fail';
  since: string;
  reason: string;
}

/** The event a saved failure makes, as its transition would have made it (no details: no run has seen them). */
export function savedFailureEvent(f: SavedFailure): AlertEvent {
  const result: ProbeResult = {
    status: f.status,
    reason: f.reason,
    timings: { total: 0 },
    details: {},
    observations: [],
  };
  return alertEvent(f.check, result, 'firing', 'ok', f.since, f.since);
}

/** The event a transition's result makes for a check. */
export function alertEvent(
  check: AlertedCheck,
  r: ProbeResult,
  kind: AlertEvent['kind'],
  previous: AlertEvent['previous'],
  since: string,
  at: string,
): AlertEvent {
  return {
    kind,
    check: check.name,
    type: check.type,
    labels: check.labels,
    ...(check.description ? { description: check.description } : {}),
    status: r.status,
    previous,
    reason: r.reason,
    ...(r.hint ? { hint: r.hint } : {}),
    since,
    at,
    details: r.details,
    dependents: [],
  };
}

/** The deepest failing check this one depends on, directly or transitively. */
export function failingRoot(checks: CheckStates, name: string, seen = new Set<string>()): string | undefined {
  for (const dep of checks.dependsOn(name)) {
    if (seen.has(dep)) continue;
    seen.add(dep);
    const deeper = failingRoot(checks, dep, seen);
    if (deeper) return deeper;
    if (failingStatus(checks.state(dep)?.status)) return dep;
  }
  return undefined;
}

/** The recovery of an incident whose check was found ok: it recovered while forgewatch was down. */
export function recoveryFound(checks: CheckStates, inc: Incident): AlertEvent {
  const state = checks.state(inc.check);
  const last = checks.lastResult(inc.check);
  const since = state?.since ?? new Date().toISOString();
  return {
    ...inc.event,
    kind: 'resolved',
    status: 'ok',
    previous: inc.event.status,
    reason: last?.result.reason ?? 'ok',
    at: last?.at ?? since,
    duration_ms: Date.parse(since) - Date.parse(inc.opened_at),
    dependents: [],
  };
}

/** The incident's event brought up to the check's latest failing result, for a reminder. */
export function latestFailure(checks: CheckStates, inc: Incident): AlertEvent {
  const last = checks.lastResult(inc.check)?.result;
  if (!last || last.status === 'ok') return inc.event;
  return {
    ...inc.event,
    status: last.status,
    reason: last.reason,
    ...(last.hint ? { hint: last.hint } : {}),
    details: last.details,
  };
}
