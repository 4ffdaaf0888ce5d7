/**
 * Prometheus Alertmanager (POST /api/v2/alerts). Firing alerts carry an endsAt a few resend periods ahead and
 * are posted again every `resend_every` while they fire; a recovery posts the same labels with endsAt = now.
 */
import { z } from 'zod';
import { positiveDuration } from '../config/fields.js';
import { channelName, timeout } from './channel-fields.js';
import { urlSecrets } from '../util/redact.js';
import { JsonPostChannel, postJson } from './http-post.js';
import { eventTitle, uncoordinatedNote } from './render.js';
import type { AlertEvent, ChannelKind, Notification, PeriodicWork } from './types.js';

const alertmanagerChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal('alertmanager'),
  url: z.url(),
  /** Firing alerts are posted again this often; Alertmanager resolves alerts it stops hearing about. */
  resend_every: positiveDuration.prefault('1m'),
  timeout,
});
export type AlertmanagerChannelConfig = z.output<typeof alertmanagerChannelSchema>;

const ALERT_NAME = 'ForgewatchCheckFailing';
/** Like Prometheus: an alert not heard of for this many resend periods expires on its own. */
const RESEND_PERIODS_UNTIL_EXPIRY = 4;

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** Only stable identity goes in labels, so a warn -> fail change updates one alert instead of opening another. */
function alertLabels(e: AlertEvent): Record<string, string> {
  return { ...e.labels, alertname: ALERT_NAME, check: e.check, type: e.type };
}

function toAmAlert(
  e: AlertEvent,
  idempotencyKey: string,
  resendEveryMs: number,
  publicUrl: string | undefined,
  now = Date.now(),
): AmAlert {
  const annotations: Record<string, string> = {
    // A change updates the one firing alert: its summary reads as the resends of it will.
    summary: eventTitle(e.kind === 'changed' ? { ...e, kind: 'firing' } : e),
    description: e.reason,
    status: e.kind === 'resolved' ? 'ok' : e.status,
    since: e.since,
    idempotency_key: idempotencyKey,
  };
  if (e.hint) annotations.hint = e.hint;
  if (e.previous_reason !== undefined) annotations.previous_reason = e.previous_reason;
  if (e.dependents.length > 0) annotations.dependents = e.dependents.map((d) => `${d.check}: ${d.reason}`).join('\n');
  return {
    labels: alertLabels(e),
    annotations,
    startsAt: e.since,
    endsAt: e.kind === 'resolved' ? e.at : new Date(now + RESEND_PERIODS_UNTIL_EXPIRY * resendEveryMs).toISOString(),
    ...(publicUrl ? { generatorURL: publicUrl } : {}),
  };
}

class AlertmanagerChannel extends JsonPostChannel {
  readonly type = 'alertmanager';
  readonly resendEveryMs: number;
  /** Keeps firing alerts alive; not queued, since the next resend replaces a lost one. */
  readonly periodic: PeriodicWork;

  constructor(config: AlertmanagerChannelConfig) {
    const endpoint = new URL('api/v2/alerts', config.url.endsWith('/') ? config.url : `${config.url}/`).toString();
    // A reverse proxy in front of Alertmanager may take a password or a token in the URL.
    super(config, endpoint, 'Alertmanager', urlSecrets(config.url));
    this.resendEveryMs = config.resend_every;
    this.periodic = {
      everyMs: config.resend_every,
      what: 'resending firing alerts',
      run: ({ firing, publicUrl, signal }) => this.resend(firing, publicUrl, signal),
    };
  }

  protected payload(n: Notification): AmAlert[] {
    const note = uncoordinatedNote(n);
    return n.events.map((e) => {
      const alert = toAmAlert(e, n.id, this.resendEveryMs, n.public_url);
      if (note) alert.annotations.uncoordinated = note;
      return alert;
    });
  }

  private resend(events: AlertEvent[], publicUrl: string | undefined, signal: AbortSignal): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const alerts = events.map((e) => toAmAlert(e, `resend-${e.check}-${e.since}`, this.resendEveryMs, publicUrl));
    return postJson(this.url, JSON.stringify(alerts), {}, signal, this.what);
  }
}

export const alertmanagerChannel: ChannelKind<typeof alertmanagerChannelSchema> = {
  schema: alertmanagerChannelSchema,
  create: (config) => new AlertmanagerChannel(config),
};
