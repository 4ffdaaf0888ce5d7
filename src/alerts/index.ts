/**
 * The alerting layer as the service sees it: built from `config.alerts`, fed only by the monitor's
 * transitions, the checks a reload leaves and a read-only view of check states, with channels behind one
 * durable outbox, rate-limited per channel, and its own metrics.
 */
import path from 'node:path';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Monitor } from '../checks/monitor.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { Alerter } from './alerter.js';
import type { CheckStates } from './check-states.js';
import { makeChannel } from './channels.js';
import { DEFAULT_ALERTS, DEFAULT_GIVE_UP_MS, type AlertsConfig } from './config.js';
import { scrub } from './errors.js';
import { Outbox, type DeliveryResult } from './outbox.js';
import { Silences } from './silences.js';
import type { AlertEvent, Channel, Notification } from './types.js';

const HOUR_MS = 3_600_000;

interface Alerting {
  /** For the silence API, which calls `silencesChanged` after adding one. */
  silences: Silences;
  /** Looks again at alerts held back, now that a silence was added. */
  silencesChanged(): void;
  close(): Promise<void>;
}

export interface AlertingOptions {
  monitor: Monitor;
  registry: Registry;
  logger: Logger;
}

type SendResult = DeliveryResult | 'rate_limited';

export function createAlerting({ monitor, registry, logger }: AlertingOptions): Alerting {
  const stateDir = monitor.config.state_dir;
  let config: Config = monitor.config;
  let alerts: AlertsConfig = config.alerts ?? DEFAULT_ALERTS;
  let channels = new Map<string, Channel>();

  const sent = new Counter({
    name: 'forgewatch_alerts_sent_total',
    help: 'Alert delivery attempts by channel and result (ok, partial = accepted but some recipients refused, error = will retry, dropped = gave up, rate_limited = held back by max_per_hour).',
    labelNames: ['channel', 'result'],
    registers: [registry],
  });
  const delivery = new Histogram({
    name: 'forgewatch_alert_delivery_seconds',
    help: 'Time from queueing a notification to its acceptance by the channel, retries included.',
    labelNames: ['channel'],
    registers: [registry],
    buckets: [0.1, 0.5, 1, 5, 30, 120, 600, 3600, 21_600, 86_400],
  });
  const count = (channel: string, result: SendResult) => sent.inc({ channel, result });

  const outbox = new Outbox(path.join(stateDir, 'outbox'), alerts.retry, logger, {
    onAttempt(channel, result, seconds) {
      count(channel, result);
      if (seconds !== undefined) delivery.observe({ channel }, seconds);
    },
  });
  new Gauge({
    name: 'forgewatch_alert_outbox_pending',
    help: 'Notifications written to the outbox and not yet accepted by the channel.',
    labelNames: ['channel'],
    registers: [registry],
    collect() {
      this.reset();
      for (const name of outbox.channelNames) this.set({ channel: name }, outbox.pending(name));
    },
  });

  const windows = new Map<string, { start: number; count: number }>();
  const dispatch = async (channel: string, events: AlertEvent[], key: string): Promise<void> => {
    const now = Date.now();
    let w = windows.get(channel);
    if (!w || now - w.start >= HOUR_MS) windows.set(channel, (w = { start: now, count: 0 }));
    w.count += 1;
    if (w.count > alerts.max_per_hour + 1) {
      count(channel, 'rate_limited');
      logger.warn(
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
      ...(config.server.public_url ? { public_url: config.server.public_url } : {}),
      ...(w.count === alerts.max_per_hour + 1
        ? { rate_limited: { limit: alerts.max_per_hour, quiet_until: new Date(w.start + HOUR_MS).toISOString() } }
        : {}),
    };
    try {
      await outbox.enqueue(n);
    } catch (err) {
      // Not on disk, so it can never be sent: lost loudly (counted as dropped), and the other channels still get theirs.
      const error = (err as Error).message;
      count(channel, 'dropped');
      logger.error(
        { event: 'alert_dropped', channel, id: key, reason: 'unwritable', error, checks: events.map((e) => e.check) },
        `cannot write an alert to ${channel} into the outbox (${error}); it is lost`,
      );
    }
  };

  const silences = new Silences(stateDir);
  const checks: CheckStates = {
    state: (name) => monitor.view(name)?.state,
    lastResult(name) {
      const last = monitor.view(name)?.last;
      return last && { at: last.at, result: last.result };
    },
    dependsOn: (name) => monitor.view(name)?.check.depends_on ?? [],
  };
  const alerter = new Alerter(alerts, checks, silences, dispatch, stateDir, logger);

  const periodicRanAt = new Map<string, number>();
  const resender = setInterval(() => {
    for (const ch of channels.values()) {
      if (!ch.periodic) continue;
      const last = periodicRanAt.get(ch.name) ?? Date.now();
      if (!periodicRanAt.has(ch.name)) periodicRanAt.set(ch.name, last);
      if (Date.now() - last < ch.periodic.everyMs) continue;
      periodicRanAt.set(ch.name, Date.now());
      const { what } = ch.periodic;
      ch.periodic
        .run({
          firing: alerter.openFiring(ch.name),
          publicUrl: config.server.public_url,
          signal: AbortSignal.timeout(ch.timeoutMs),
        })
        .catch((err: Error) => {
          logger.warn(
            { event: 'alert_resend_failed', channel: ch.name, error: scrub(err.message, ch.secrets) },
            `${what} to ${ch.name} failed`,
          );
        });
    }
  }, 500);
  resender.unref();

  const apply = (next: Config) => {
    config = next;
    alerts = next.alerts ?? DEFAULT_ALERTS;
    for (const ch of channels.values()) ch.close?.();
    channels = new Map(alerts.channels.map((c) => [c.name, makeChannel(c)]));
    silences.setConfigured(alerts.silences);
    alerter.config = alerts;
    outbox.retry = alerts.retry;
    if (alerts.retry.give_up_after < DEFAULT_GIVE_UP_MS && alerts.channels.length > 0) {
      logger.warn(
        { event: 'alert_retry_short', give_up_after_ms: alerts.retry.give_up_after },
        'alerts.retry.give_up_after is under 24h: an alert a channel does not accept within it is dropped',
      );
    }
    outbox.setChannels(channels);
    alerter.onChecksChanged(next.checks.map((c) => c.name));
    alerter.poke();
  };
  apply(config);
  alerter.reconcile(
    monitor.views().flatMap((v) =>
      (v.state.status === 'fail' || v.state.status === 'warn') && !v.last
        ? [
            {
              check: v.check,
              status: v.state.status,
              since: v.state.since,
              reason: v.savedReason ?? `${v.state.status} when forgewatch stopped`,
            },
          ]
        : [],
    ),
  );
  void alerter.start().finally(() => outbox.release());

  monitor.onTransition(({ transition, check }) => alerter.onTransition(transition, check));
  monitor.onConfig(apply);

  return {
    silences,
    silencesChanged: () => alerter.poke(),
    async close() {
      clearInterval(resender);
      await alerter.close();
      await outbox.close();
      for (const ch of channels.values()) ch.close?.();
    },
  };
}
