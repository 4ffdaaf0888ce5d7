/**
 * The check state machine: the only place that decides "regressed", "recovered" and "changed".
 * A result that points away from the current status must repeat `failure_threshold` times
 * (towards worse) or `success_threshold` times (towards better) before the status moves. A failing check
 * whose failure class (ProbeResult.code) changes while its status stays is "changed", once the new class
 * has repeated `failure_threshold` times too.
 */
import { STATUS_RANK, type ProbeResult, type Status } from '../probes/types.js';

export type CheckStatus = 'unknown' | Status;

export interface CheckState {
  status: CheckStatus;
  /** ISO time the current status began (the first result that pointed to it). */
  since: string;
  /** Consecutive results pointing away from `status`, not yet enough to move it. */
  pending?: { direction: 'worse' | 'better'; count: number; firstAt: string };
  /** While failing: the class of the failure the status stands for (the first classed result's). */
  code?: string;
  /** Consecutive failing results of another class, not yet enough to change `code`. */
  pendingCode?: { code: string; count: number };
}

export interface Transition {
  /** `changed`: still failing with the same status, but another class of failure (`to` equals `from`). */
  kind?: 'changed';
  check: string;
  from: CheckStatus;
  to: Status;
  result: ProbeResult;
  /** When the new status began. */
  since: string;
  /** How long the previous status lasted, in ms (0 when it was unknown). */
  previousDurationMs: number;
  at: string;
}

interface Thresholds {
  failure_threshold: number;
  success_threshold: number;
}

export function initialState(now: Date): CheckState {
  return { status: 'unknown', since: now.toISOString() };
}

export function advance(
  check: string,
  state: CheckState,
  result: ProbeResult,
  thresholds: Thresholds,
  now: Date,
): { state: CheckState; transition?: Transition } {
  if (result.status === state.status) return sameStatus(check, state, result, thresholds, now);
  const at = now.toISOString();
  const direction =
    state.status === 'unknown'
      ? result.status === 'ok'
        ? 'better'
        : 'worse'
      : STATUS_RANK[result.status] > STATUS_RANK[state.status]
        ? 'worse'
        : 'better';
  const continuing = state.pending?.direction === direction;
  const pending = {
    direction,
    count: continuing ? (state.pending?.count ?? 0) + 1 : 1,
    firstAt: continuing ? (state.pending?.firstAt ?? at) : at,
  } as const;
  // From unknown, a good result settles at once: there is nothing to recover from.
  const needed =
    state.status === 'unknown' && direction === 'better'
      ? 1
      : direction === 'worse'
        ? thresholds.failure_threshold
        : thresholds.success_threshold;
  if (pending.count < needed) return { state: { ...settled(state), pending } };
  const next: CheckState = {
    status: result.status,
    since: pending.firstAt,
    ...(result.status !== 'ok' && result.code !== undefined ? { code: result.code } : {}),
  };
  return {
    state: next,
    transition: {
      check,
      from: state.status,
      to: result.status,
      result,
      since: pending.firstAt,
      previousDurationMs: state.status === 'unknown' ? 0 : Date.parse(pending.firstAt) - Date.parse(state.since),
      at,
    },
  };
}

/**
 * The state without what is pending: the status, since when, and the class of its failure. The same object when
 * nothing was pending, so a run that changes nothing (nearly every one) leaves the state as it was, for the
 * readers that keep work per state (the metrics text) as for memory.
 */
function settled(state: CheckState): CheckState {
  if (state.pending === undefined && state.pendingCode === undefined) return state;
  return { status: state.status, since: state.since, ...(state.code !== undefined ? { code: state.code } : {}) };
}

/** A result with the current status: a failing one may change the failure's class. */
function sameStatus(
  check: string,
  state: CheckState,
  result: ProbeResult,
  thresholds: Thresholds,
  now: Date,
): { state: CheckState; transition?: Transition } {
  const code = result.code;
  if (result.status === 'ok' || code === undefined || code === state.code) return { state: settled(state) };
  // No class known yet (the status was restored from state.json): this one is the baseline, not a change.
  if (state.code === undefined) return { state: { ...settled(state), code } };
  const count = state.pendingCode?.code === code ? state.pendingCode.count + 1 : 1;
  if (count < thresholds.failure_threshold) return { state: { ...settled(state), pendingCode: { code, count } } };
  const at = now.toISOString();
  return {
    state: { status: state.status, since: state.since, code },
    transition: {
      kind: 'changed',
      check,
      from: state.status,
      to: result.status,
      result,
      since: state.since,
      previousDurationMs: Date.parse(at) - Date.parse(state.since),
      at,
    },
  };
}

/** A regression is any move to a worse status that alerting should announce. */
export function isRegression(t: Pick<Transition, 'from' | 'to'>): boolean {
  return t.to !== 'ok' && (t.from === 'unknown' || STATUS_RANK[t.to] > STATUS_RANK[t.from]);
}

export function isRecovery(t: Pick<Transition, 'from' | 'to'>): boolean {
  return t.to === 'ok' && t.from !== 'unknown';
}

/** The failing check's failure changed class while its status stayed. */
export function isChange(t: Pick<Transition, 'kind'>): boolean {
  return t.kind === 'changed';
}
