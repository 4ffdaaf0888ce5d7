/**
 * Generic webhook: a JSON POST of the notification (see docs/alerts.md for the payload). With a secret,
 * `X-Forgewatch-Signature: sha256=<hex HMAC-SHA256 of the raw body>` lets the receiver verify it.
 */
import { createHmac } from 'node:crypto';
import type { WebhookChannelConfig } from './config.js';
import { buildOrGiveUp, urlSecrets } from './errors.js';
import { postJson } from './http-post.js';
import { eventTitle, notificationText, notificationTitle } from './render.js';
import type { Channel, Notification } from './types.js';

export const SIGNATURE_HEADER = 'x-forgewatch-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export function webhookPayload(n: Notification) {
  return {
    version: 1,
    idempotency_key: n.id,
    channel: n.channel,
    created_at: n.created_at,
    title: notificationTitle(n),
    text: notificationText(n),
    status_page: n.public_url ?? null,
    rate_limited: n.rate_limited ?? null,
    events: n.events.map((e) => ({ ...e, title: eventTitle(e), hint: e.hint ?? null })),
  };
}

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookChannel implements Channel {
  readonly type = 'webhook';
  readonly name: string;
  readonly timeoutMs: number;
  readonly secrets: readonly string[];

  constructor(private readonly config: WebhookChannelConfig) {
    this.name = config.name;
    this.timeoutMs = config.timeout;
    this.secrets = [
      ...urlSecrets(config.url),
      ...(config.secret ? [config.secret] : []),
      ...Object.values(config.headers),
    ];
  }

  async send(n: Notification, signal: AbortSignal): Promise<void> {
    const what = `webhook of channel ${this.name}`;
    const body = buildOrGiveUp(what, () => JSON.stringify(webhookPayload(n)));
    const headers: Record<string, string> = { ...this.config.headers, [IDEMPOTENCY_HEADER]: n.id };
    if (this.config.secret) headers[SIGNATURE_HEADER] = signBody(body, this.config.secret);
    return postJson(this.config.url, body, headers, signal, what);
  }
}
