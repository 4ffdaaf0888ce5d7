/**
 * The durable outbox: every notification is written (fsync) to state_dir before it is sent and removed only
 * after its channel accepted it. A channel sends one message at a time, and each message has its own next
 * attempt time, so a message its receiver keeps refusing does not hold up the rest of the channel; only later
 * messages about the same check wait for it, so a [RECOVERED] never overtakes its [FAIL]. A failure is retried
 * with exponential backoff and jitter until `give_up_after`; a refusal that no retry can fix is given up at once.
 * After a restart the files are picked up again, so a crash between "accepted" and "removed" sends one
 * notification at most once more (same idempotency key).
 */
import type { Logger } from '../log.js';
import { deadline } from '../util/deadline.js';
import { DeliveryError, scrub } from './errors.js';
import { entryFileName, type Entry, type Pending } from './outbox-entry.js';
import { FileOutboxStore, type OutboxStore } from './outbox-store.js';
import { backoffMs, settleBy, type RetryPolicy } from './retry.js';
import type { Channel, Notification, SendOutcome } from './types.js';

// Callers building an Outbox take its retry policy (and the backoff it implies) from here.
export { backoffMs, type RetryPolicy } from './retry.js';

export type DeliveryResult = 'ok' | 'partial' | 'error' | 'dropped';

type GiveUp = 'refused' | 'expired' | 'orphaned';

/** setTimeout overflows past about 24.8 days; long waits are re-armed instead. */
const MAX_TIMER_MS = 3_600_000;

export interface OutboxHooks {
  onAttempt(channel: string, result: DeliveryResult, deliverySeconds?: number): void;
}

export class Outbox {
  private readonly queues = new Map<string, Pending[]>();
  private readonly ids = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly busy = new Map<string, Promise<void>>();
  private channels = new Map<string, Channel>();
  private orphanTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;
  /** Until release(): nothing is sent, so the alerter can re-create what a crash left half done first. */
  private held = true;
  private readonly stop = new AbortController();
  private readonly store: OutboxStore;

  /** `where`: a directory (state_dir/outbox) or another store. */
  constructor(
    where: string | OutboxStore,
    public retry: RetryPolicy,
    private readonly logger: Logger,
    private readonly hooks: OutboxHooks,
  ) {
    this.store = typeof where === 'string' ? new FileOutboxStore(where, logger) : where;
    const latest = Date.now() + retry.max;
    for (const p of this.store.load()) {
      // A file may promise a wait longer than the retry cap now allows.
      p.entry.next_attempt_at = Math.min(p.entry.next_attempt_at, latest);
      this.queueOf(p.entry.notification.channel).push(p);
      this.ids.add(p.entry.notification.id);
      this.seq = Math.max(this.seq, p.entry.seq);
    }
  }

  release(): void {
    this.held = false;
    for (const name of this.queues.keys()) this.kick(name);
  }

  setChannels(channels: Map<string, Channel>): void {
    this.channels = channels;
    for (const [name, q] of this.queues) {
      if (q.length > 0 && !channels.has(name)) {
        this.logger.warn(
          { event: 'outbox_orphaned', channel: name, pending: q.length },
          `${q.length} notifications wait for channel ${name}, which is no longer configured; they are given up after retry.give_up_after`,
        );
      }
      this.kick(name);
    }
    this.sweepOrphans();
  }

  pending(channel: string): number {
    return this.queues.get(channel)?.length ?? 0;
  }

  get channelNames(): string[] {
    return [...new Set([...this.channels.keys(), ...this.queues.keys()])];
  }

  /** Resolves once the notification is on disk (or already was: ids are derived from content, see alerter). */
  async enqueue(notification: Notification): Promise<void> {
    const { id, channel } = notification;
    if (this.ids.has(id)) {
      this.logger.info(
        { event: 'alert_already_queued', channel, id },
        `alert ${id} to ${channel} is already in the outbox`,
      );
      return;
    }
    const orphan = !this.channels.has(channel);
    if (orphan)
      this.logger.warn(
        { event: 'alert_queued_orphan', channel, id },
        `alert queued for channel ${channel}, which is no longer configured; it is given up after retry.give_up_after`,
      );
    const entry: Entry = { version: 1, seq: ++this.seq, notification, attempts: 0, next_attempt_at: 0 };
    const p: Pending = { entry, file: entryFileName(entry) };
    this.ids.add(id);
    try {
      await this.write(p);
    } catch (err) {
      this.ids.delete(id);
      throw err;
    }
    const q = this.queueOf(channel);
    const at = q.findIndex((o) => o.entry.seq > entry.seq);
    q.splice(at < 0 ? q.length : at, 0, p);
    this.kick(channel);
    if (orphan) this.sweepOrphans();
  }

  /** Stops sending; what is still queued stays on disk for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.orphanTimer);
    const inflight = [...this.busy.values()];
    // A send under way gets a moment to finish so it is not repeated after the restart.
    await Promise.race([Promise.allSettled(inflight), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.stop.abort();
  }

  private queueOf(channel: string): Pending[] {
    let q = this.queues.get(channel);
    if (!q) this.queues.set(channel, (q = []));
    return q;
  }

  private write(p: Pending): Promise<void> {
    return this.store.write(p);
  }

  /** Starts the first message that is due and not behind an earlier one about the same check, or arms a timer. */
  private kick(channel: string): void {
    if (this.closed || this.held || this.busy.has(channel) || !this.channels.has(channel)) return;
    clearTimeout(this.timers.get(channel));
    this.timers.delete(channel);
    const now = Date.now();
    const held = new Set<string>();
    let soonest = Infinity;
    for (const p of this.queues.get(channel) ?? []) {
      const checks = p.entry.notification.events.map((e) => e.check);
      const waits = checks.some((c) => held.has(c));
      for (const c of checks) held.add(c);
      if (waits) continue;
      if (p.entry.next_attempt_at <= now) {
        const run = this.deliver(channel, p).finally(() => {
          this.busy.delete(channel);
          this.kick(channel);
        });
        this.busy.set(channel, run);
        return;
      }
      soonest = Math.min(soonest, p.entry.next_attempt_at);
    }
    if (soonest === Infinity) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(channel);
        this.kick(channel);
      },
      Math.min(soonest - now, MAX_TIMER_MS),
    );
    this.timers.set(channel, timer);
  }

  private async deliver(name: string, p: Pending): Promise<void> {
    const channel = this.channels.get(name);
    if (!channel) return;
    const n = p.entry.notification;
    const attempt = deadline(this.stop.signal, channel.timeoutMs);
    let outcome: SendOutcome | void;
    try {
      // The channel is asked to stop at the deadline; if it does not, the outbox stops waiting for it anyway.
      outcome = await settleBy(channel.send(n, attempt.signal), attempt.signal, `${channel.type} channel ${name}`);
    } catch (err) {
      await this.failed(channel, p, err);
      return;
    } finally {
      attempt.done();
    }
    const seconds = (Date.now() - Date.parse(n.created_at)) / 1000;
    const checks = n.events.map((e) => e.check);
    const refused = outcome?.refused ?? [];
    if (refused.length > 0) {
      // The others have it: sending it again would repeat it to all of them.
      this.hooks.onAttempt(name, 'partial', seconds);
      const detail = outcome?.detail ? scrub(outcome.detail, channel.secrets) : undefined;
      this.logger.warn(
        {
          event: 'alert_partly_refused',
          channel: name,
          id: n.id,
          refused,
          ...(detail ? { error: detail } : {}),
          checks,
        },
        `alert delivered to ${name}, but the receiver refused ${refused.join(', ')}${detail ? ` (${detail})` : ''}; not sent again`,
      );
    } else {
      this.hooks.onAttempt(name, 'ok', seconds);
      this.logger.info(
        { event: 'alert_sent', channel: name, id: n.id, attempts: p.entry.attempts + 1, checks },
        `alert delivered to ${name}`,
      );
    }
    await this.remove(name, p);
  }

  private async failed(channel: Channel, p: Pending, err: unknown): Promise<void> {
    const { entry } = p;
    const error = scrub(err instanceof Error ? err.message : String(err), channel.secrets);
    entry.attempts += 1;
    entry.last_error = error;
    if (err instanceof DeliveryError && err.permanent) return this.drop(channel.name, p, 'refused', error);
    if (Date.now() - Date.parse(entry.notification.created_at) >= this.retry.give_up_after)
      return this.drop(channel.name, p, 'expired', error);
    let wait = backoffMs(entry.attempts, this.retry);
    const asked = err instanceof DeliveryError ? err.retryAfterMs : undefined;
    // Retry-After is honoured as a lower bound, but never beyond the retry cap.
    if (asked !== undefined) wait = Math.min(this.retry.max, Math.max(wait, asked));
    entry.next_attempt_at = Date.now() + wait;
    this.hooks.onAttempt(channel.name, 'error');
    this.logger.warn(
      {
        event: 'alert_retry',
        channel: channel.name,
        id: entry.notification.id,
        attempts: entry.attempts,
        retry_at: new Date(entry.next_attempt_at).toISOString(),
        ...(asked !== undefined ? { retry_after_ms: asked } : {}),
        error,
      },
      `alert to ${channel.name} not accepted (${error}); retrying`,
    );
    if (!this.closed)
      await this.write(p).catch((e: Error) =>
        this.logger.error({ event: 'outbox_write_failed', error: e.message }, 'cannot update outbox file'),
      );
  }

  private async drop(channel: string, p: Pending, why: GiveUp, error: string): Promise<void> {
    const n = p.entry.notification;
    const because =
      why === 'refused'
        ? 'refused for good'
        : why === 'expired'
          ? 'not accepted within retry.give_up_after'
          : 'its channel is no longer configured';
    this.hooks.onAttempt(channel, 'dropped');
    this.logger.error(
      {
        event: 'alert_dropped',
        channel,
        id: n.id,
        attempts: p.entry.attempts,
        reason: why,
        error,
        checks: n.events.map((e) => e.check),
      },
      `gave up on an alert to ${channel} after ${p.entry.attempts} attempts (${because}): ${error}`,
    );
    await this.remove(channel, p);
  }

  /** Messages for a channel a reload removed cannot be sent; they are kept for give_up_after in case it comes back. */
  private sweepOrphans(): void {
    clearTimeout(this.orphanTimer);
    this.orphanTimer = undefined;
    if (this.closed) return;
    const now = Date.now();
    let soonest = Infinity;
    for (const [name, q] of this.queues) {
      if (this.channels.has(name)) continue;
      for (const p of [...q]) {
        const expires = Date.parse(p.entry.notification.created_at) + this.retry.give_up_after;
        if (expires <= now) void this.drop(name, p, 'orphaned', p.entry.last_error ?? `no channel named ${name}`);
        else soonest = Math.min(soonest, expires);
      }
    }
    if (soonest === Infinity) return;
    this.orphanTimer = setTimeout(() => this.sweepOrphans(), Math.min(soonest - now, MAX_TIMER_MS));
    this.orphanTimer.unref();
  }

  private async remove(channel: string, p: Pending): Promise<void> {
    const q = this.queues.get(channel);
    const i = q ? q.indexOf(p) : -1;
    if (q && i >= 0) q.splice(i, 1);
    this.ids.delete(p.entry.notification.id);
    await this.store.remove(p).catch(() => undefined);
  }
}
