/**
 * The life of one alert incident, as a decision table: which state an incident moves to on each input, and
 * which message (if any) that step sends. The alerter feeds it inputs (transitions, flushes after group_wait,
 * timer reviews) and carries out the messages; nothing else decides where an incident stands.
 *
 *   pending ──flush──> notified (firing sent) | folded (into its root cause's message) | silenced (held back)
 *   silenced ──unsilenced──> pending        folded ──root closed──> pending
 *   notified ──remind──> reminding ──flush──> notified (reminder sent)
 *   notified ──escalated──> escalating ──flush──> notified (firing sent)
 *   notified ──changed──> changing ──flush──> notified (changed sent: "still failing, now …")
 *   told ──recovered──> resolving ──flush──> closed (resolved sent)
 *   untold or folded ──recovered──> lapsing ──flush──> closed (nothing sent)
 */
import type { EventKind } from './types.js';

export const INCIDENT_STATES = [
  /** Failing; its first message goes out at the next flush. */
  'pending',
  /** Failing, and held back by a silence before anyone was told. */
  'silenced',
  /** Its firing message went out; reminders start from here. */
  'notified',
  /** Told inside its root cause's message instead of on its own; stays quiet. */
  'folded',
  /** Told, and now failing differently: a new firing message goes out at the next flush. */
  'escalating',
  /** Told, and still failing after repeat_every: a reminder goes out at the next flush. */
  'reminding',
  /** Told, and now failing for another class of reason: an update goes out at the next flush. */
  'changing',
  /** Recovered after it was told on its own: the recovery goes out at the next flush. */
  'resolving',
  /** Recovered before it was told on its own (pending, silenced or folded): ends quietly at the next flush. */
  'lapsing',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const INCIDENT_INPUTS = [
  /** A transition to a failing status equal to the incident's (failing again after a recovery or a reset). */
  'regressed',
  /** A transition to a failing status other than the incident's. */
  'escalated',
  /** The check still fails with the same status, for another class of reason (only with notify_on_change). */
  'changed',
  /** A transition to ok, or ok found by a review (the recovery happened while forgewatch was down). */
  'recovered',
  /** Review: repeat_every passed since the last message and the check still fails. */
  'remind',
  /** Review: no silence holds it any more and the check still fails. */
  'unsilenced',
  /** The incident it was folded under ended while it still fails. */
  'root_closed',
  /** A reload removed the check. */
  'removed',
  /** Flush: a silence holds it. */
  'flush_silenced',
  /** Flush: a check it depends on fails. */
  'flush_dependent',
  /** Flush: nothing holds it back. */
  'flush_free',
] as const;
export type IncidentInput = (typeof INCIDENT_INPUTS)[number];

interface Step {
  to: IncidentState | 'closed';
  /** The message this step sends about the incident. */
  send?: EventKind;
}

/** A new incident: a check without one regressed. */
export const OPENING_STATE: IncidentState = 'pending';

const stay = (to: IncidentState): Step => ({ to });
const closed: Step = { to: 'closed' };
const flushAll = (step: Step) => ({ flush_silenced: step, flush_dependent: step, flush_free: step });

/** Inputs a state does not list leave it as it is. */
const TABLE: Record<IncidentState, Partial<Record<IncidentInput, Step>>> = {
  pending: {
    regressed: stay('pending'),
    escalated: stay('pending'),
    recovered: stay('lapsing'),
    removed: closed,
    flush_silenced: stay('silenced'),
    flush_dependent: stay('folded'),
    flush_free: { to: 'notified', send: 'firing' },
  },
  silenced: {
    regressed: stay('pending'),
    escalated: stay('pending'),
    recovered: stay('lapsing'),
    unsilenced: stay('pending'),
    removed: closed,
  },
  notified: {
    escalated: stay('escalating'),
    changed: stay('changing'),
    recovered: stay('resolving'),
    remind: stay('reminding'),
    removed: closed,
  },
  folded: {
    // Decided afresh at the next flush: folded again while its root still fails.
    escalated: stay('pending'),
    recovered: stay('lapsing'),
    root_closed: stay('pending'),
    removed: closed,
  },
  escalating: {
    recovered: stay('resolving'),
    removed: closed,
    // Told already: a silence keeps the worse news back, but it does not count as held back before anyone knew.
    flush_silenced: stay('notified'),
    flush_dependent: stay('folded'),
    flush_free: { to: 'notified', send: 'firing' },
  },
  reminding: {
    escalated: stay('escalating'),
    // The update says all a reminder would, and more; the next reminder is due repeat_every after it.
    changed: stay('changing'),
    recovered: stay('resolving'),
    removed: closed,
    flush_silenced: stay('notified'),
    flush_dependent: { to: 'notified', send: 'reminder' },
    flush_free: { to: 'notified', send: 'reminder' },
  },
  changing: {
    escalated: stay('escalating'),
    recovered: stay('resolving'),
    removed: closed,
    // As for escalating: told already, so a silence keeps the update back without counting as held back before.
    flush_silenced: stay('notified'),
    flush_dependent: stay('folded'),
    flush_free: { to: 'notified', send: 'changed' },
  },
  resolving: {
    // Failing again before the recovery went out: the recovery is not sent, as if it never happened.
    regressed: stay('notified'),
    escalated: stay('escalating'),
    // A recovery still goes out for a check a reload removed.
    ...flushAll({ to: 'closed', send: 'resolved' }),
  },
  lapsing: {
    regressed: stay('pending'),
    escalated: stay('pending'),
    ...flushAll(closed),
  },
};

export function step(state: IncidentState, input: IncidentInput): Step {
  return TABLE[state][input] ?? { to: state };
}

/** States the next flush has work for; a timer review leaves them alone. */
export function awaitsFlush(state: IncidentState): boolean {
  return (
    state === 'pending' ||
    state === 'escalating' ||
    state === 'reminding' ||
    state === 'changing' ||
    state === 'resolving' ||
    state === 'lapsing'
  );
}

/** Told on its own and still failing: what a channel that repeats firing alerts (Alertmanager) repeats. */
export function announcedFiring(state: IncidentState): boolean {
  return state === 'notified' || state === 'reminding' || state === 'escalating' || state === 'changing';
}

/** The message the next flush owes, if any (written to incidents.json for people reading it). */
export function owedMessage(state: IncidentState): EventKind | undefined {
  switch (state) {
    case 'pending':
    case 'escalating':
      return 'firing';
    case 'reminding':
      return 'reminder';
    case 'changing':
      return 'changed';
    case 'resolving':
      return 'resolved';
    default:
      return undefined;
  }
}
