/**
 * Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is received"): a
 * message with one Adaptive Card, a title per event, its facts and details, and a status page button.
 */
import { z } from 'zod';
import { formatDuration } from '../util/format.js';
import { webhookUrlChannelSchema } from './channel-fields.js';
import { JsonPostChannel } from './http-post.js';
import { detailLines, eventTitle, notificationTitle, uncoordinatedNote } from './render.js';
import type { AlertEvent, ChannelKind, Notification } from './types.js';

const teamsChannelSchema = webhookUrlChannelSchema('teams');
export type TeamsChannelConfig = z.output<typeof teamsChannelSchema>;

/** Teams refuses messages over about 28 KB: the card body stays under this, leaving room for the envelope. */
const MAX_BODY_BYTES = 24_000;
const MAX_EVENTS = 10;
/** One event's text, reason or hint can be long (a container's error); its share of the card stays bounded. */
const MAX_TEXT = 2000;
const MAX_DETAIL_LINES = 30;

type CardElement = Record<string, unknown>;

export interface TeamsMessage {
  type: 'message';
  attachments: {
    contentType: 'application/vnd.microsoft.card.adaptive';
    contentUrl: null;
    content: {
      $schema: string;
      type: 'AdaptiveCard';
      version: string;
      fallbackText: string;
      msteams: { width: 'Full' };
      body: CardElement[];
      actions: CardElement[];
    };
  }[];
}

function capped(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

function textBlock(text: string, style: CardElement = {}): CardElement {
  return { type: 'TextBlock', text: capped(text), wrap: true, ...style };
}

function colour(e: AlertEvent): string {
  if (e.kind === 'resolved') return 'Good';
  return e.status === 'warn' ? 'Warning' : 'Attention';
}

function facts(e: AlertEvent): { title: string; value: string }[] {
  if (e.kind === 'resolved')
    return [
      { title: 'Recovered', value: `ok again; failing since ${e.since} (${formatDuration(e.duration_ms ?? 0)})` },
      { title: 'Now', value: capped(e.reason) },
    ];
  return [
    { title: 'Reason', value: capped(e.reason) },
    ...(e.previous_reason !== undefined ? [{ title: 'Before', value: capped(e.previous_reason) }] : []),
    ...(e.hint ? [{ title: 'Hint', value: capped(e.hint) }] : []),
    { title: 'Since', value: `${e.since} (was ${e.previous})` },
  ];
}

function eventElements(e: AlertEvent, first: boolean): CardElement[] {
  const out: CardElement[] = [
    textBlock(eventTitle(e), { size: 'Medium', weight: 'Bolder', color: colour(e), separator: !first }),
    { type: 'FactSet', facts: facts(e) },
  ];
  if (e.dependents.length > 0)
    out.push(
      textBlock('Also failing, folded into this alert:', { weight: 'Bolder' }),
      textBlock(
        e.dependents.map((d) => `- ${d.check}: ${d.reason} — probably because ${e.check} is failing`).join('\n'),
      ),
    );
  const details = e.kind === 'resolved' ? [] : detailLines(e.type, e.details);
  // One block per line: Teams does not keep single line breaks inside a TextBlock.
  for (const line of details.slice(0, MAX_DETAIL_LINES))
    out.push(textBlock(line, { fontType: 'Monospace', size: 'Small', spacing: 'None' }));
  if (details.length > MAX_DETAIL_LINES)
    out.push(textBlock(`…${details.length - MAX_DETAIL_LINES} more lines on the status page`, { isSubtle: true }));
  const labels = Object.entries(e.labels).map(([k, v]) => `${k}=${v}`);
  out.push(
    textBlock([e.check, e.type, ...(labels.length > 0 ? [labels.join(' ')] : [])].join(' · '), {
      isSubtle: true,
      size: 'Small',
    }),
  );
  return out;
}

const bytes = (elements: CardElement[]) => Buffer.byteLength(JSON.stringify(elements));

export function teamsPayload(n: Notification): TeamsMessage {
  const body: CardElement[] = [];
  const note = uncoordinatedNote(n);
  if (note) body.push(textBlock(note, { color: 'Warning' }));
  if (n.rate_limited)
    body.push(
      textBlock(`Alert limit of ${n.rate_limited.limit}/h reached: quiet until ${n.rate_limited.quiet_until}.`, {
        color: 'Warning',
        weight: 'Bolder',
      }),
    );
  let size = bytes(body);
  let shown = 0;
  for (const e of n.events.slice(0, MAX_EVENTS)) {
    const elements = eventElements(e, shown === 0);
    const more = bytes(elements);
    // The first event always goes in (its parts are capped); later ones only while the card stays small enough.
    if (shown > 0 && size + more > MAX_BODY_BYTES) break;
    body.push(...elements);
    size += more;
    shown += 1;
  }
  if (shown < n.events.length) body.push(textBlock(`…and ${n.events.length - shown} more`, { separator: true }));
  const actions = n.public_url ? [{ type: 'Action.OpenUrl', title: 'Status page', url: n.public_url }] : [];
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          fallbackText: notificationTitle(n),
          msteams: { width: 'Full' },
          body,
          actions,
        },
      },
    ],
  };
}

class TeamsChannel extends JsonPostChannel {
  readonly type = 'teams';

  constructor(config: TeamsChannelConfig) {
    // The Workflows URL carries its signature in the `sig` query parameter: urlSecrets covers it.
    super(config, config.webhook_url, 'Teams webhook');
  }

  protected payload(n: Notification): TeamsMessage {
    return teamsPayload(n);
  }
}

export const teamsChannel: ChannelKind<typeof teamsChannelSchema> = {
  schema: teamsChannelSchema,
  create: (config) => new TeamsChannel(config),
};
