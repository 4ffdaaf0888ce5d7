/**
 * The check state machine: the only place that decides "regressed" and "recovered".
 * A result that points away from the current status must repeat `failure_threshold` times
 * (towards worse) or `success_threshold` times (towards better) before the status moves.
 */
import { STATUS_RANK, type ProbeResult, type Status } from '../probes/types.js';

export type CheckStatus = 'unknown' | Status;

export interface CheckState {
  status: CheckStatus;
  /** ISO time the current status began (the first result that pointed to it). */
  since: string;
  /** Consecutive results pointing away from `status`, not yet enough to move it. */
  pending?: { direction: 'worse' | 'better'; count: number; firstAt: string };
}

export interface Transition {
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
  const at = now.toISOString();
  if (result.status === state.status) return { state: { status: state.status, since: state.since } };
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
  if (pending.count < needed) return { state: { status: state.status, since: state.since, pending } };
  const next: CheckState = { status: result.status, since: pending.firstAt };
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

/** A regression is any move to a worse status that alerting should announce. */
export function isRegression(t: Pick<Transition, 'from' | 'to'>): boolean {
  return t.to !== 'ok' && (t.from === 'unknown' || STATUS_RANK[t.to] > STATUS_RANK[t.from]);
}

export function isRecovery(t: Pick<Transition, 'from' | 'to'>): boolean {
  return t.to === 'ok' && t.from !== 'unknown';
}
