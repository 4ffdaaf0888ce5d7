/**
 * What every alerter of a process shares: the channels built from `config.alerts`, the silences, the per-channel
 * hourly limit, the alert metrics and the periodic work of channels. Alone, one alerter runs on it for the
 * process's life; in a fleet, the leader's alerter and a failing-open node's own alerter come and go on it.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { Alerter } from './alerter.js';
import type { CheckStates } from './check-states.js';
import { makeChannel } from './channels.js';
import { DEFAULT_ALERTS, DEFAULT_GIVE_UP_MS, type AlertsConfig } from './config.js';
import { scrub } from './errors.js';
import type { IncidentPersistence } from './incidents.js';
import { Outbox, type DeliveryResult } from './outbox.js';
import type { OutboxStore } from './outbox-store.js';
import { Silences } from './silences.js';
import type { AlertEvent, Channel, Notification } from './types.js';

const HOUR_MS = 3_600_000;

type SendResult = DeliveryResult | 'rate_limited';

/** Fields every notification of an alerter carries (a failing-open node marks its own). */
export type NotificationMark = Pick<Notification, 'uncoordinated'>;

export class AlertingCore {
  readonly silences: Silences;
  private config: Config;
  private alerts: AlertsConfig;
  private channels = new Map<string, Channel>();
  private readonly outboxes = new Set<Outbox>();
  /** Each running alerter, with the names it alerts on besides the configured checks (fleet nodes). */
  private readonly alerters = new Map<Alerter, () => string[]>();
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly periodicRanAt = new Map<string, number>();
  private readonly resender: NodeJS.Timeout;
  private readonly sent: Counter;
  private readonly delivery: Histogram;

  constructor(
    config: Config,
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.config = config;
    this.alerts = config.alerts ?? DEFAULT_ALERTS;
    this.silences = new Silences(config.state_dir);
    this.sent = new Counter({
      name: 'forgewatch_alerts_sent_total',
      help: 'Alert delivery attempts by channel and result (ok, partial = accepted but some recipients refused, error = will retry, dropped = gave up, rate_limited = held back by max_per_hour).',
      labelNames: ['channel', 'result'],
      registers: [registry],
    });
    this.delivery = new Histogram({
      name: 'forgewatch_alert_delivery_seconds',
      help: 'Time from queueing a notification to its acceptance by the channel, retries included.',
      labelNames: ['channel'],
      registers: [registry],
      buckets: [0.1, 0.5, 1, 5, 30, 120, 600, 3600, 21_600, 86_400],
    });
    const outboxes = this.outboxes;
    new Gauge({
      name: 'forgewatch_alert_outbox_pending',
      help: 'Notifications written to the outbox and not yet accepted by the channel.',
      labelNames: ['channel'],
      registers: [registry],
      collect() {
        this.reset();
        const pending = new Map<string, number>();
        for (const o of outboxes)
          for (const name of o.channelNames) pending.set(name, (pending.get(name) ?? 0) + o.pending(name));
        for (const [name, n] of pending) this.set({ channel: name }, n);
      },
    });
    this.resender = setInterval(() => this.runPeriodic(), 500);
    this.resender.unref();
    this.apply(config);
  }

  get publicUrl(): string | undefined {
    return this.config.server.public_url;
  }

  /** An outbox on `store` (a directory or etcd), sending through this core's channels. */
  outbox(store: string | OutboxStore): Outbox {
    const outbox = new Outbox(store, this.alerts.retry, this.logger, {
      onAttempt: (channel, result, seconds) => {
        this.count(channel, result);
        if (seconds !== undefined) this.delivery.observe({ channel }, seconds);
      },
    });
    outbox.setChannels(this.channels);
    this.outboxes.add(outbox);
    return outbox;
  }

  /** Closes an outbox; what it still holds stays in its store. */
  async closeOutbox(outbox: Outbox): Promise<void> {
    this.outboxes.delete(outbox);
    await outbox.close();
  }

  /** An alerter over `checks`, keeping incidents in `persistence` and queueing into `outbox`. */
  alerter(
    checks: CheckStates,
    persistence: IncidentPersistence,
    outbox: Outbox,
    opts: { mark?: NotificationMark; extraNames?: () => string[] } = {},
  ): Alerter {
    const { mark, extraNames = () => [] } = opts;
    const dispatch = (channel: string, events: AlertEvent[], key: string) =>
      this.dispatch(outbox, channel, events, key, mark);
    const alerter = new Alerter(this.alerts, checks, this.silences, dispatch, persistence, this.logger);
    this.alerters.set(alerter, extraNames);
    this.namesChanged(alerter);
    return alerter;
  }

  /** The checks an alerter alerts on changed (config, or fleet nodes): incidents of the others end quietly. */
  namesChanged(alerter: Alerter): void {
    const extra = this.alerters.get(alerter);
    if (extra) alerter.onChecksChanged([...this.config.checks.map((c) => c.name), ...extra()]);
  }

  /** Stops an alerter: `flush` sends what waits for group_wait first (shutdown), otherwise it is left to others. */
  async closeAlerter(alerter: Alerter, { flush }: { flush: boolean }): Promise<void> {
    this.alerters.delete(alerter);
    await (flush ? alerter.close() : alerter.abandon());
  }

  /** Looks again at alerts held back (a silence was added). */
  poke(): void {
    for (const a of this.alerters.keys()) a.poke();
  }

  apply(next: Config): void {
    this.config = next;
    this.alerts = next.alerts ?? DEFAULT_ALERTS;
    for (const ch of this.channels.values()) ch.close?.();
    this.channels = new Map(this.alerts.channels.map((c) => [c.name, makeChannel(c)]));
    this.silences.setConfigured(this.alerts.silences);
    if (this.alerts.retry.give_up_after < DEFAULT_GIVE_UP_MS && this.alerts.channels.length > 0) {
      this.logger.warn(
        { event: 'alert_retry_short', give_up_after_ms: this.alerts.retry.give_up_after },
        'alerts.retry.give_up_after is under 24h: an alert a channel does not accept within it is dropped',
      );
    }
    for (const o of this.outboxes) {
      o.retry = this.alerts.retry;
      o.setChannels(this.channels);
    }
    for (const a of this.alerters.keys()) {
      a.config = this.alerts;
      this.namesChanged(a);
      a.poke();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.resender);
    for (const a of [...this.alerters.keys()]) await this.closeAlerter(a, { flush: true });
    for (const o of [...this.outboxes]) await this.closeOutbox(o);
    for (const ch of this.channels.values()) ch.close?.();
  }

  private count(channel: string, result: SendResult): void {
    this.sent.inc({ channel, result });
  }

  private async dispatch(
    outbox: Outbox,
    channel: string,
    events: AlertEvent[],
    key: string,
    mark: NotificationMark | undefined,
  ): Promise<void> {
    const { max_per_hour } = this.alerts;
    const now = Date.now();
    let w = this.windows.get(channel);
    if (!w || now - w.start >= HOUR_MS) this.windows.set(channel, (w = { start: now, count: 0 }));
    w.count += 1;
    if (w.count > max_per_hour + 1) {
      this.count(channel, 'rate_limited');
      this.logger.warn(
        { event: 'alert_rate_limited', channel, checks: events.map((e) => e.check) },
        `alert to ${channel} held back: max_per_hour reached`,
      );
      return;
    }
    const n: Notification = {
      id: key,
      channel,
      created_at: new Date(now).toISOString(),
      events,
      ...(this.config.server.public_url ? { public_url: this.config.server.public_url } : {}),
      ...(w.count === max_per_hour + 1
        ? { rate_limited: { limit: max_per_hour, quiet_until: new Date(w.start + HOUR_MS).toISOString() } }
        : {}),
      ...mark,
    };
    try {
      await outbox.enqueue(n);
    } catch (err) {
      if ((err as { handedOver?: boolean }).handedOver) {
        // A fleet node that lost leadership: the new leader re-creates this message with the same key.
        this.logger.info({ event: 'alert_handed_over', channel, id: key }, (err as Error).message);
        return;
      }
      // Not stored, so it can never be sent: lost loudly (counted as dropped), and the other channels still get theirs.
      const error = (err as Error).message;
      this.count(channel, 'dropped');
      this.logger.error(
        { event: 'alert_dropped', channel, id: key, reason: 'unwritable', error, checks: events.map((e) => e.check) },
        `cannot write an alert to ${channel} into the outbox (${error}); it is lost`,
      );
    }
  }

  /** Channels' own periodic work (Alertmanager's resend of what is firing), over every running alerter. */
  private runPeriodic(): void {
    for (const ch of this.channels.values()) {
      if (!ch.periodic) continue;
      const last = this.periodicRanAt.get(ch.name) ?? Date.now();
      if (!this.periodicRanAt.has(ch.name)) this.periodicRanAt.set(ch.name, last);
      if (Date.now() - last < ch.periodic.everyMs) continue;
      this.periodicRanAt.set(ch.name, Date.now());
      const { what } = ch.periodic;
      ch.periodic
        .run({
          firing: [...this.alerters.keys()].flatMap((a) => a.openFiring(ch.name)),
          publicUrl: this.config.server.public_url,
          signal: AbortSignal.timeout(ch.timeoutMs),
        })
        .catch((err: Error) => {
          this.logger.warn(
            { event: 'alert_resend_failed', channel: ch.name, error: scrub(err.message, ch.secrets) },
            `${what} to ${ch.name} failed`,
          );
        });
    }
  }
}
