/** The incident life cycle's decision table, walked along the paths an incident takes and checked as a whole. */
import { describe, expect, it } from 'vitest';
import {
  awaitsFlush,
  INCIDENT_INPUTS,
  INCIDENT_STATES,
  OPENING_STATE,
  owedMessage,
  step,
  type IncidentInput,
  type IncidentState,
} from '../src/alerts/incident-lifecycle.js';

/** Feeds inputs one after another from `from`; returns each step as `state>send` (send omitted when none). */
function walk(from: IncidentState, inputs: IncidentInput[]): string[] {
  const seen: string[] = [];
  let state: IncidentState | 'closed' = from;
  for (const input of inputs) {
    if (state === 'closed') throw new Error(`input ${input} after the incident closed`);
    const s = step(state, input);
    seen.push(s.send ? `${s.to}>${s.send}` : s.to);
    state = s.to;
  }
  return seen;
}

const FLUSHES: IncidentInput[] = ['flush_silenced', 'flush_dependent', 'flush_free'];

describe('incident life cycle', () => {
  it('sends a first failure once group_wait is over, unless a silence or a failing dependency holds it', () => {
    expect(OPENING_STATE).toBe('pending');
    expect(walk('pending', ['flush_free'])).toEqual(['notified>firing']);
    expect(walk('pending', ['flush_dependent', 'root_closed', 'flush_free'])).toEqual([
      'folded',
      'pending',
      'notified>firing',
    ]);
    expect(walk('pending', ['flush_silenced', 'unsilenced', 'flush_free'])).toEqual([
      'silenced',
      'pending',
      'notified>firing',
    ]);
  });

  it('reminds from notified and comes back to it; a reminder under a silence is not sent', () => {
    expect(walk('notified', ['remind', 'flush_free', 'remind', 'flush_silenced'])).toEqual([
      'reminding',
      'notified>reminder',
      'reminding',
      'notified',
    ]);
  });

  it('announces a worse status of a told incident as a new firing, and its recovery as resolved', () => {
    expect(walk('notified', ['escalated', 'flush_free', 'recovered', 'flush_free'])).toEqual([
      'escalating',
      'notified>firing',
      'resolving',
      'closed>resolved',
    ]);
    // A reminder waiting when it got worse becomes the firing message.
    expect(walk('reminding', ['escalated', 'flush_free'])).toEqual(['escalating', 'notified>firing']);
    // Told already: a silence keeps the worse news back, and the incident does not wait for the silence to end.
    expect(walk('escalating', ['flush_silenced'])).toEqual(['notified']);
  });

  it('ends quietly what nobody was told about on its own, and withdraws a recovery when the check fails again first', () => {
    for (const untold of ['pending', 'silenced', 'folded'] as const)
      expect(walk(untold, ['recovered', 'flush_free'])).toEqual(['lapsing', 'closed']);
    expect(walk('notified', ['recovered', 'regressed'])).toEqual(['resolving', 'notified']);
    expect(walk('pending', ['recovered', 'regressed', 'flush_free'])).toEqual([
      'lapsing',
      'pending',
      'notified>firing',
    ]);
  });

  it('closes an incident whose check a reload removed, except that a recovery under way still goes out', () => {
    for (const state of INCIDENT_STATES) {
      const s = step(state, 'removed');
      if (state === 'resolving' || state === 'lapsing') expect(s).toEqual({ to: state });
      else expect(s).toEqual({ to: 'closed' });
    }
    expect(walk('resolving', ['removed', 'flush_free'])).toEqual(['resolving', 'closed>resolved']);
  });

  it('sends only at a flush, and only from the states a flush waits for, which it always moves on', () => {
    for (const state of INCIDENT_STATES)
      for (const input of INCIDENT_INPUTS) {
        const s = step(state, input);
        if (s.send) expect(FLUSHES).toContain(input);
        if (FLUSHES.includes(input)) expect(s.to !== state).toBe(awaitsFlush(state));
      }
    // A flushed incident never waits for another flush: group_wait does not run twice for one change.
    for (const state of INCIDENT_STATES.filter(awaitsFlush))
      for (const input of FLUSHES) {
        const { to } = step(state, input);
        expect(to === 'closed' || !awaitsFlush(to)).toBe(true);
      }
  });

  it('reaches every state from a new incident, and can close from every state', () => {
    const reachable = new Set<IncidentState | 'closed'>([OPENING_STATE]);
    for (let grew = true; grew;) {
      grew = false;
      for (const state of [...reachable])
        if (state !== 'closed')
          for (const input of INCIDENT_INPUTS) {
            const { to } = step(state, input);
            if (reachable.has(to)) continue;
            reachable.add(to);
            grew = true;
          }
    }
    expect([...reachable].sort()).toEqual([...INCIDENT_STATES, 'closed'].sort());
    for (const state of INCIDENT_STATES) {
      const ends = walk(state, ['recovered', 'flush_free']);
      expect(ends.at(-1)?.startsWith('closed')).toBe(true);
    }
  });

  it('sends an update when a told incident fails for another class of reason, and only then', () => {
    expect(walk('notified', ['changed', 'flush_free', 'remind', 'changed', 'flush_free'])).toEqual([
      'changing',
      'notified>changed',
      'reminding',
      'changing',
      'notified>changed',
    ]);
    // Not told yet, folded or held back: the first message (or the root's) carries the new reason anyway.
    for (const state of ['pending', 'silenced', 'folded', 'escalating'] as const)
      expect(walk(state, ['changed'])).toEqual([state]);
    // A silence holds the update back; a failing dependency folds it; a worse status or a recovery overtakes it.
    expect(walk('notified', ['changed', 'flush_silenced'])).toEqual(['changing', 'notified']);
    expect(walk('notified', ['changed', 'flush_dependent'])).toEqual(['changing', 'folded']);
    expect(walk('notified', ['changed', 'escalated', 'flush_free'])).toEqual([
      'changing',
      'escalating',
      'notified>firing',
    ]);
    expect(walk('notified', ['changed', 'recovered', 'flush_free'])).toEqual([
      'changing',
      'resolving',
      'closed>resolved',
    ]);
    expect(awaitsFlush('changing')).toBe(true);
  });

  it('names in incidents.json the message each waiting state owes', () => {
    expect(Object.fromEntries(INCIDENT_STATES.map((s) => [s, owedMessage(s) ?? null]))).toEqual({
      pending: 'firing',
      silenced: null,
      notified: null,
      folded: null,
      escalating: 'firing',
      reminding: 'reminder',
      changing: 'changed',
      resolving: 'resolved',
      lapsing: null,
    });
  });
});
