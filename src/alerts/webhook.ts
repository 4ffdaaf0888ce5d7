/**
 * Generic webhook: a JSON POST of the notification (see docs/alerts.md for the payload). With a secret,
 * `X-Forgewatch-Signature: sha256=<hex HMAC-SHA256 of the raw body>` lets the receiver verify it.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { channelName, secretText, secretUrl, timeout } from './channel-fields.js';
import { urlSecrets } from '../util/redact.js';
import { JsonPostChannel } from './http-post.js';
import { eventTitle, notificationText, notificationTitle } from './render.js';
import type { ChannelKind, Notification } from './types.js';

const webhookChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal('webhook'),
  url: secretUrl,
  secret: secretText.optional(),
  headers: z.record(z.string(), secretText).default({}),
  timeout,
});
export type WebhookChannelConfig = z.output<typeof webhookChannelSchema>;

const SIGNATURE_HEADER = 'x-forgewatch-signature';
const IDEMPOTENCY_HEADER = 'idempotency-key';

function webhookPayload(n: Notification) {
  return {
    version: 1,
    idempotency_key: n.id,
    channel: n.channel,
    created_at: n.created_at,
    title: notificationTitle(n),
    text: notificationText(n),
    status_page: n.public_url ?? null,
    rate_limited: n.rate_limited ?? null,
    uncoordinated: n.uncoordinated ?? null,
    events: n.events.map((e) => ({ ...e, title: eventTitle(e), hint: e.hint ?? null })),
  };
}

function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookChannel extends JsonPostChannel {
  readonly type = 'webhook';

  constructor(private readonly config: WebhookChannelConfig) {
    super(config, config.url, 'webhook', [
      ...urlSecrets(config.url),
      ...(config.secret ? [config.secret] : []),
      ...Object.values(config.headers),
    ]);
  }

  protected payload(n: Notification) {
    return webhookPayload(n);
  }

  protected override headers(n: Notification, body: string): Record<string, string> {
    const headers: Record<string, string> = { ...this.config.headers, [IDEMPOTENCY_HEADER]: n.id };
    if (this.config.secret) headers[SIGNATURE_HEADER] = signBody(body, this.config.secret);
    return headers;
  }
}

export const webhookChannel: ChannelKind<typeof webhookChannelSchema> = {
  schema: webhookChannelSchema,
  create: (config) => new WebhookChannel(config),
};
