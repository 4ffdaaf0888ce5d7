/**
 * The timer's look at incidents no flush is waiting for: recoveries that happened while forgewatch was down,
 * silences that ended, reminders due after repeat_every. It reads the check states; incidents are moved through
 * the alerter's `advance`, one at a time, so each sees what the previous step did to the others.
 */
import { failingStatus, latestFailure, recoveryFound, type CheckStates } from './check-states.js';
import type { AlertsConfig } from './config.js';
import { awaitsFlush, type IncidentInput } from './incident-lifecycle.js';
import type { Incident } from './incidents.js';
import type { AlertEvent, EventKind } from './types.js';

/** What a review reads from and acts through. */
export interface ReviewContext {
  readonly config: AlertsConfig;
  readonly checks: CheckStates;
  silenced(event: AlertEvent): boolean;
  /** Moves the incident on (closing it may free its folded dependents). */
  advance(inc: Incident, input: IncidentInput): EventKind | undefined;
}

/** Reviews the incidents at `now` (epoch ms); returns whether any moved (they are then to be saved). */
export function reviewIncidents(incidents: ReadonlyMap<string, Incident>, ctx: ReviewContext, now: number): boolean {
  let changed = false;
  for (const inc of [...incidents.values()]) {
    if (awaitsFlush(inc.state)) continue;
    const input = reviewInput(inc, ctx, now);
    if (!input) continue;
    if (input === 'recovered') inc.resolved = recoveryFound(ctx.checks, inc);
    if (input === 'remind') {
      // A reminder tells the latest failure, and the next one is due repeat_every from now.
      inc.event = latestFailure(ctx.checks, inc);
      inc.last_notified_at = new Date(now).toISOString();
    }
    ctx.advance(inc, input);
    changed = true;
  }
  return changed;
}

function reviewInput(inc: Incident, ctx: ReviewContext, now: number): IncidentInput | undefined {
  const state = ctx.checks.state(inc.check);
  const status = state?.status;
  // The recovery happened while forgewatch was down (or before it restarted). An ok older than the incident is
  // a state.json written before the failure (a crash between the two writes): wait for the first run instead.
  if (status === 'ok') {
    const stale = Date.parse(state?.since ?? '') < Date.parse(inc.opened_at) && !ctx.checks.lastResult(inc.check);
    return stale ? undefined : 'recovered';
  }
  if (!failingStatus(status)) return undefined;
  // Held back by a silence (or lost in a restart before it went out): sent once it may go out.
  if (inc.state === 'silenced') return ctx.silenced(inc.event) ? undefined : 'unsilenced';
  const remindAfter = ctx.config.repeat_every;
  if (
    inc.state === 'notified' &&
    remindAfter > 0 &&
    now - Date.parse(inc.last_notified_at ?? inc.opened_at) >= remindAfter
  )
    return 'remind';
  return undefined;
}
