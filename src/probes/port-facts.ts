/** The port probe's facts (beside port.ts, which is long enough): where the port is bound and why an owner is unknown. */
import { fieldFacts } from './facts.js';
import type { Fact, FactsOf } from './types.js';

/** The reason already names the owner; in alerts the scalar details follow as they are. */
export const portFacts: FactsOf = (details) => {
  const facts: Fact[] = [];
  if (typeof details.bound === 'string')
    facts.push({ label: 'bound', text: `bound to ${details.bound}`, tone: 'neutral' });
  if (typeof details.owner_note === 'string') facts.push({ label: 'owner', text: details.owner_note, tone: 'warn' });
  return [...facts, ...fieldFacts(details, { nested: false })];
};
