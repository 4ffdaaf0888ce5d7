/**
 * Prometheus Alertmanager (POST /api/v2/alerts). Firing alerts carry an endsAt a few resend periods ahead and
 * are posted again every `resend_every` while they fire; a recovery posts the same labels with endsAt = now.
 */
import type { AlertmanagerChannelConfig } from './config.js';
import { buildOrGiveUp, urlSecrets } from './errors.js';
import { postJson } from './http-post.js';
import { eventTitle } from './render.js';
import type { AlertEvent, Channel, Notification } from './types.js';

export const ALERT_NAME = 'ForgewatchCheckFailing';
/** Like Prometheus: an alert not heard of for this many resend periods expires on its own. */
const RESEND_PERIODS_UNTIL_EXPIRY = 4;

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** Only stable identity goes in labels, so a warn -> fail change updates one alert instead of opening another. */
export function alertLabels(e: AlertEvent): Record<string, string> {
  return { ...e.labels, alertname: ALERT_NAME, check: e.check, type: e.type };
}

export function toAmAlert(
  e: AlertEvent,
  idempotencyKey: string,
  resendEveryMs: number,
  publicUrl: string | undefined,
  now = Date.now(),
): AmAlert {
  const annotations: Record<string, string> = {
    summary: eventTitle(e),
    description: e.reason,
    status: e.kind === 'resolved' ? 'ok' : e.status,
    since: e.since,
    idempotency_key: idempotencyKey,
  };
  if (e.hint) annotations.hint = e.hint;
  if (e.dependents.length > 0) annotations.dependents = e.dependents.map((d) => `${d.check}: ${d.reason}`).join('\n');
  return {
    labels: alertLabels(e),
    annotations,
    startsAt: e.since,
    endsAt: e.kind === 'resolved' ? e.at : new Date(now + RESEND_PERIODS_UNTIL_EXPIRY * resendEveryMs).toISOString(),
    ...(publicUrl ? { generatorURL: publicUrl } : {}),
  };
}

export class AlertmanagerChannel implements Channel {
  readonly type = 'alertmanager';
  readonly name: string;
  readonly timeoutMs: number;
  readonly secrets: readonly string[];
  readonly resendEveryMs: number;
  private readonly endpoint: string;

  constructor(config: AlertmanagerChannelConfig) {
    this.name = config.name;
    this.timeoutMs = config.timeout;
    this.resendEveryMs = config.resend_every;
    this.endpoint = new URL('api/v2/alerts', config.url.endsWith('/') ? config.url : `${config.url}/`).toString();
    // A reverse proxy in front of Alertmanager may take a password or a token in the URL.
    this.secrets = urlSecrets(config.url);
  }

  async send(n: Notification, signal: AbortSignal): Promise<void> {
    return this.post(
      buildOrGiveUp(this.what, () => n.events.map((e) => toAmAlert(e, n.id, this.resendEveryMs, n.public_url))),
      signal,
    );
  }

  /** Keeps firing alerts alive; not queued, since the next resend replaces a lost one. */
  resend(events: AlertEvent[], publicUrl: string | undefined, signal: AbortSignal): Promise<void> {
    return this.post(
      events.map((e) => toAmAlert(e, `resend-${e.check}-${e.since}`, this.resendEveryMs, publicUrl)),
      signal,
    );
  }

  private post(alerts: AmAlert[], signal: AbortSignal): Promise<void> {
    if (alerts.length === 0) return Promise.resolve();
    return postJson(this.endpoint, JSON.stringify(alerts), {}, signal, this.what);
  }

  private get what(): string {
    return `Alertmanager of channel ${this.name}`;
  }
}
