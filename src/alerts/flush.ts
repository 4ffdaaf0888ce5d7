/**
 * What a flush sends: it moves every incident that waited for group_wait on (recovered, folded under a failing
 * dependency, held by a silence, or free to go out) and builds one message per channel from the results. The
 * incidents are moved through the alerter's `advance`, which owns what closing an incident does to the others;
 * this module only decides the order of the steps and what each message holds.
 */
import type { Logger } from '../log.js';
import { failingRoot, type CheckStates } from './check-states.js';
import type { AlertsConfig } from './config.js';
import { awaitsFlush, type IncidentInput } from './incident-lifecycle.js';
import { notificationKey, type Incident, type KeyPart } from './incidents.js';
import { followUpChannels, liveChannels, route } from './routing.js';
import type { AlertEvent, EventKind, FoldedDependent } from './types.js';

/** What a flush reads from and acts through. */
export interface FlushContext {
  readonly config: AlertsConfig;
  readonly checks: CheckStates;
  readonly logger: Logger;
  silenced(event: AlertEvent): boolean;
  /** Moves the incident on (closing it may free its folded dependents); returns the message the step sends. */
  advance(inc: Incident, input: IncidentInput): EventKind | undefined;
}

/** One channel's share of a flush. `key` is the same whenever the same message is re-created. */
export interface ChannelMessage {
  channel: string;
  events: AlertEvent[];
  key: string;
}

/** The failing checks folded into `root`'s message. */
export function foldedDependents(incidents: Iterable<Incident>, root: string): FoldedDependent[] {
  return [...incidents]
    .filter((i) => i.state === 'folded' && i.folded_under === root)
    .map((i) => ({ check: i.check, status: i.event.status, reason: i.event.reason, since: i.opened_at }));
}

/**
 * Moves the incidents on for a flush at `now` and returns the messages to send, by channel in the order first
 * addressed. The incidents are changed in place (states, channels, sequence numbers): they are to be saved once the
 * messages are queued.
 */
export function flushMessages(
  incidents: ReadonlyMap<string, Incident>,
  ctx: FlushContext,
  now: string,
): ChannelMessage[] {
  const out = new Map<string, { events: AlertEvent[]; parts: KeyPart[] }>();
  const push = (channels: string[], inc: Incident, e: AlertEvent) => {
    const part = { check: inc.check, kind: e.kind, opened_at: inc.opened_at, seq: nextSeq(inc) };
    for (const ch of channels) {
      const m = out.get(ch) ?? { events: [], parts: [] };
      m.events.push(e);
      m.parts.push(part);
      out.set(ch, m);
    }
  };

  // Recoveries first: a root cause that ends lets its still-failing dependents go out on their own in this flush.
  for (const inc of [...incidents.values()].filter((i) => i.state === 'resolving' || i.state === 'lapsing')) {
    const send = ctx.advance(inc, 'flush_free');
    if (send === 'resolved' && ctx.config.send_resolved && inc.resolved)
      push(followUpChannels(ctx.config, inc, ctx.logger), inc, inc.resolved);
  }
  // Every fold is decided before any message is built, so each root's message lists all its dependents.
  const sending: { inc: Incident; kind: EventKind }[] = [];
  for (const inc of [...incidents.values()].filter((i) => awaitsFlush(i.state))) {
    const { input, root } = flushInput(inc, ctx);
    const kind = ctx.advance(inc, input);
    if (inc.state === 'folded') inc.folded_under = root;
    if (kind) sending.push({ inc, kind });
  }
  for (const { inc, kind } of sending) {
    const event: AlertEvent = {
      ...inc.event,
      kind,
      at: now,
      since: inc.opened_at,
      ...(kind === 'changed' && inc.changed_from !== undefined ? { previous_reason: inc.changed_from } : {}),
      dependents: foldedDependents(incidents.values(), inc.check),
    };
    // Reminders and updates follow the incident to where it was told; a firing message is routed afresh.
    const followUp = kind === 'reminder' || kind === 'changed';
    const channels = followUp ? followUpChannels(ctx.config, inc, ctx.logger) : route(ctx.config, event);
    push(channels, inc, event);
    inc.channels = followUp ? channels : [...new Set([...liveChannels(ctx.config, inc.channels), ...channels])];
    inc.last_notified_at = now;
  }
  for (const inc of incidents.values()) if (inc.state !== 'changing') delete inc.changed_from;
  return [...out].map(([channel, m]) => ({
    channel,
    events: m.events.sort((a, b) => a.check.localeCompare(b.check)),
    key: notificationKey(channel, m.parts),
  }));
}

/** What a flush finds for an incident: held by a silence, behind a failing dependency (`root`), or free to go out. */
function flushInput(inc: Incident, ctx: FlushContext): { input: IncidentInput; root?: string } {
  if (ctx.silenced(inc.event)) return { input: 'flush_silenced' };
  const root = failingRoot(ctx.checks, inc.check);
  return root ? { input: 'flush_dependent', root } : { input: 'flush_free' };
}

function nextSeq(inc: Incident): number {
  inc.sent = (inc.sent ?? 0) + 1;
  return inc.sent;
}
