/**
 * The durable outbox: every notification is written (fsync) to state_dir before it is sent and removed only
 * after its channel accepted it. Each channel delivers its queue in order, one at a time; a failure is retried
 * with exponential backoff and jitter until `give_up_after`. After a restart the files are picked up again,
 * so a crash between "accepted" and "removed" sends one notification at most once more (same idempotency key).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../checks/store.js';
import type { Logger } from '../log.js';
import type { Channel, Notification } from './types.js';
import { deadline } from '../util/deadline.js';

export interface RetryPolicy {
  initial: number;
  max: number;
  give_up_after: number;
}

export type DeliveryResult = 'ok' | 'error' | 'dropped';

interface Entry {
  version: 1;
  seq: number;
  notification: Notification;
  attempts: number;
  next_attempt_at: number;
  last_error?: string;
}

export interface OutboxHooks {
  onAttempt(channel: string, result: DeliveryResult, deliverySeconds?: number): void;
}

/** Full jitter over the upper half keeps retries spread out while never waiting less than half the step. */
export function backoffMs(attempts: number, policy: Pick<RetryPolicy, 'initial' | 'max'>, random = Math.random): number {
  const step = Math.min(policy.max, policy.initial * 2 ** Math.max(0, attempts - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

export class Outbox {
  private readonly queues = new Map<string, Entry[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly busy = new Map<string, Promise<void>>();
  private channels = new Map<string, Channel>();
  private seq = 0;
  private closed = false;
  private readonly stop = new AbortController();

  constructor(private readonly dir: string, public retry: RetryPolicy, private readonly logger: Logger, private readonly hooks: OutboxHooks) {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      try {
        const entry = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Entry;
        if (entry.version !== 1 || !entry.notification?.id) continue;
        this.queueOf(entry.notification.channel).push(entry);
        this.seq = Math.max(this.seq, entry.seq);
      } catch (err) {
        logger.error({ event: 'outbox_unreadable', file, error: (err as Error).message }, `outbox file ${file} is unreadable; left in place`);
      }
    }
    for (const q of this.queues.values()) q.sort((a, b) => a.seq - b.seq);
  }

  setChannels(channels: Map<string, Channel>): void {
    this.channels = channels;
    for (const [name, q] of this.queues) {
      if (q.length > 0 && !channels.has(name)) this.logger.warn({ event: 'outbox_orphaned', channel: name, pending: q.length }, `${q.length} notifications wait for channel ${name}, which is no longer configured`);
      this.kick(name);
    }
  }

  pending(channel: string): number {
    return this.queues.get(channel)?.length ?? 0;
  }

  get channelNames(): string[] {
    return [...new Set([...this.channels.keys(), ...this.queues.keys()])];
  }

  /** Resolves once the notification is on disk. */
  async enqueue(notification: Notification): Promise<void> {
    const entry: Entry = { version: 1, seq: ++this.seq, notification, attempts: 0, next_attempt_at: 0 };
    await this.write(entry);
    this.queueOf(notification.channel).push(entry);
    this.kick(notification.channel);
  }

  /** Stops sending; what is still queued stays on disk for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const inflight = [...this.busy.values()];
    // A send under way gets a moment to finish so it is not repeated after the restart.
    await Promise.race([Promise.allSettled(inflight), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.stop.abort();
  }

  private queueOf(channel: string): Entry[] {
    let q = this.queues.get(channel);
    if (!q) this.queues.set(channel, (q = []));
    return q;
  }

  private fileOf(entry: Entry): string {
    return path.join(this.dir, `${String(entry.seq).padStart(12, '0')}-${entry.notification.id}.json`);
  }

  private async write(entry: Entry): Promise<void> {
    await writeFileAtomic(this.fileOf(entry), JSON.stringify(entry));
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private kick(channel: string): void {
    if (this.closed || this.busy.has(channel) || !this.channels.has(channel)) return;
    const head = this.queues.get(channel)?.[0];
    if (!head) return;
    clearTimeout(this.timers.get(channel));
    this.timers.delete(channel);
    const wait = head.next_attempt_at - Date.now();
    if (wait > 0) {
      this.timers.set(channel, setTimeout(() => { this.timers.delete(channel); this.kick(channel); }, wait));
      return;
    }
    const run = this.deliver(channel, head).finally(() => {
      this.busy.delete(channel);
      this.kick(channel);
    });
    this.busy.set(channel, run);
  }

  private async deliver(name: string, entry: Entry): Promise<void> {
    const channel = this.channels.get(name);
    if (!channel) return;
    const n = entry.notification;
    const attempt = deadline(this.stop.signal, channel.timeoutMs);
    try {
      await channel.send(n, attempt.signal);
    } catch (err) {
      await this.failed(channel, entry, scrub((err as Error).message, channel.secrets));
      return;
    } finally {
      attempt.done();
    }
    this.hooks.onAttempt(name, 'ok', (Date.now() - Date.parse(n.created_at)) / 1000);
    this.logger.info({ event: 'alert_sent', channel: name, id: n.id, attempts: entry.attempts + 1, checks: n.events.map((e) => e.check) }, `alert delivered to ${name}`);
    await this.remove(name, entry);
  }

  private async failed(channel: Channel, entry: Entry, error: string): Promise<void> {
    const n = entry.notification;
    entry.attempts += 1;
    entry.last_error = error;
    const age = Date.now() - Date.parse(n.created_at);
    if (age >= this.retry.give_up_after) {
      this.hooks.onAttempt(channel.name, 'dropped');
      this.logger.error({ event: 'alert_dropped', channel: channel.name, id: n.id, attempts: entry.attempts, error }, `gave up on an alert to ${channel.name} after ${entry.attempts} attempts: ${error}`);
      await this.remove(channel.name, entry);
      return;
    }
    entry.next_attempt_at = Date.now() + backoffMs(entry.attempts, this.retry);
    this.hooks.onAttempt(channel.name, 'error');
    this.logger.warn(
      { event: 'alert_retry', channel: channel.name, id: n.id, attempts: entry.attempts, retry_at: new Date(entry.next_attempt_at).toISOString(), error },
      `alert to ${channel.name} not accepted (${error}); retrying`,
    );
    if (!this.closed) await this.write(entry).catch((err: Error) => this.logger.error({ event: 'outbox_write_failed', error: err.message }, 'cannot update outbox file'));
  }

  private async remove(channel: string, entry: Entry): Promise<void> {
    const q = this.queues.get(channel);
    if (q) q.splice(q.indexOf(entry), 1);
    await unlink(this.fileOf(entry)).catch(() => undefined);
    await this.syncDir().catch(() => undefined);
  }
}
