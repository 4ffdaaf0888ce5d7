/** Slack incoming webhook: Block Kit blocks plus a plain `text` that notifications and old clients show. */
import { z } from 'zod';
import { formatDuration } from '../util/format.js';
import { webhookUrlChannelSchema } from './channel-fields.js';
import { JsonPostChannel } from './http-post.js';
import { detailLines, eventTitle, notificationTitle, uncoordinatedNote } from './render.js';
import type { AlertEvent, ChannelKind, Notification } from './types.js';

const slackChannelSchema = webhookUrlChannelSchema('slack');
export type SlackChannelConfig = z.output<typeof slackChannelSchema>;

/** Slack rejects section text over 3000 characters and messages over 50 blocks. */
const MAX_SECTION = 2900;
/** Up to 5 blocks per event, plus the limit notice, the "more" line and the button. */
const MAX_EVENTS = 9;

type Block = Record<string, unknown>;

function mrkdwn(text: string): { type: 'mrkdwn'; text: string } {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return { type: 'mrkdwn', text: escaped.length > MAX_SECTION ? `${escaped.slice(0, MAX_SECTION)}…` : escaped };
}

function eventBlocks(e: AlertEvent): Block[] {
  const lines: string[] = [];
  if (e.kind === 'resolved') {
    lines.push(`ok again; failing since ${e.since} (${formatDuration(e.duration_ms ?? 0)})`, `now: ${e.reason}`);
  } else {
    lines.push(`*Reason:* ${e.reason}`);
    if (e.previous_reason !== undefined) lines.push(`*Before:* ${e.previous_reason}`);
    if (e.hint) lines.push(`*Hint:* ${e.hint}`);
    lines.push(`*Since:* ${e.since} (was ${e.previous})`);
  }
  for (const d of e.dependents) lines.push(`• ${d.check}: ${d.reason} — probably because ${e.check} is failing`);
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: eventTitle(e).slice(0, 150) } },
    { type: 'section', text: mrkdwn(lines.join('\n')) },
  ];
  const facts = e.kind === 'resolved' ? [] : detailLines(e.type, e.details);
  if (facts.length > 0) blocks.push({ type: 'section', text: mrkdwn('```' + facts.join('\n') + '```') });
  blocks.push({
    type: 'context',
    elements: [
      mrkdwn(
        `${e.check} · ${e.type}${
          Object.keys(e.labels).length > 0
            ? ` · ${Object.entries(e.labels)
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')}`
            : ''
        }`,
      ),
    ],
  });
  return blocks;
}

function slackPayload(n: Notification): { text: string; blocks: Block[] } {
  const blocks: Block[] = [];
  const note = uncoordinatedNote(n);
  if (note) blocks.push({ type: 'section', text: mrkdwn(note) });
  if (n.rate_limited)
    blocks.push({
      type: 'section',
      text: mrkdwn(`Alert limit of ${n.rate_limited.limit}/h reached: quiet until ${n.rate_limited.quiet_until}.`),
    });
  for (const e of n.events.slice(0, MAX_EVENTS)) blocks.push(...eventBlocks(e), { type: 'divider' });
  if (n.events.length > MAX_EVENTS)
    blocks.push({ type: 'section', text: mrkdwn(`…and ${n.events.length - MAX_EVENTS} more`) });
  if (n.public_url)
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Status page' }, url: n.public_url }],
    });
  return { text: notificationTitle(n), blocks };
}

export class SlackChannel extends JsonPostChannel {
  readonly type = 'slack';

  constructor(config: SlackChannelConfig) {
    super(config, config.webhook_url, 'Slack webhook');
  }

  protected payload(n: Notification) {
    return slackPayload(n);
  }
}

export const slackChannel: ChannelKind<typeof slackChannelSchema> = {
  schema: slackChannelSchema,
  create: (config) => new SlackChannel(config),
};
