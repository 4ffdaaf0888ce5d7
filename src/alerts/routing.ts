/** Which channels an incident's messages go to: its first alert by the routes, follow-ups where that one went. */
import type { Logger } from '../log.js';
import type { AlertsConfig } from './config.js';
import type { Incident } from './incidents.js';
import { matches, subjectOf } from './match.js';
import type { AlertEvent } from './types.js';

/** The first route matching the event, or every channel. */
export function route(config: AlertsConfig, e: AlertEvent): string[] {
  const hit = config.routes.find((r) => matches(r.match, subjectOf(e)));
  return hit ? hit.channels : config.channels.map((c) => c.name);
}

/** The channels still configured. */
export function liveChannels(config: AlertsConfig, channels: string[]): string[] {
  const known = new Set(config.channels.map((c) => c.name));
  return channels.filter((c) => known.has(c));
}

/**
 * Where follow-ups (reminders, recoveries) of an incident go: the channels its failure went to that still
 * exist, or, when a reload removed or renamed all of them, wherever the routes send it now. `logger` is given
 * when a message is about to go: a rerouted one is logged.
 */
export function followUpChannels(config: AlertsConfig, inc: Incident, logger?: Logger): string[] {
  const live = liveChannels(config, inc.channels);
  if (live.length > 0) return live;
  const channels = route(config, inc.event);
  if (logger && inc.channels.length > 0) {
    logger.warn(
      { event: 'alert_rerouted', check: inc.check, from: inc.channels, to: channels },
      `the channels ${inc.check} was alerted on (${inc.channels.join(', ')}) are no longer configured; its follow-ups go to ${channels.join(', ') || 'no channel'}`,
    );
  }
  return channels;
}
