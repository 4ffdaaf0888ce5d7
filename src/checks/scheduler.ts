/**
 * Fires each check on its interval or cron schedule. Interval checks are spread by a stable per-check
 * offset so many checks with one interval do not fire together; a check still running is skipped.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { CheckConfig } from '../config/load.js';
import type { Monitor } from './monitor.js';

/** First runs spread over at least this long (bounded by the interval)... */
const FIRST_RUN_SPREAD_MS = 5_000;
/** ...and at least this long per check, so ten thousand checks do not all start within seconds. */
const FIRST_RUN_SPREAD_PER_CHECK_MS = 2;
const LATENESS_SAMPLES = 4096;

interface Entry {
  key: string;
  timer?: NodeJS.Timeout;
  task?: ScheduledTask;
  nextAt: number;
}

/** FNV-1a: a stable 32-bit hash so a check keeps its offset across restarts. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Last time the event loop ran the heartbeat: /healthz reads it. */
  lastTick = Date.now();
  skipped = 0;
  /** Recent lateness samples (ms), a ring buffer for percentiles. */
  private readonly lateness = new Float64Array(LATENESS_SAMPLES);
  private latenessCount = 0;

  constructor(private readonly monitor: Monitor) {}

  start(): void {
    this.heartbeat = setInterval(() => (this.lastTick = Date.now()), 1000);
    this.heartbeat.unref();
    this.sync();
  }

  /** Brings timers in line with the monitor's checks (after start or a reload). */
  sync(): void {
    const live = new Map(this.monitor.checks.map((c) => [c.name, c]));
    for (const [name, entry] of this.entries) {
      const check = live.get(name);
      if (!check || keyOf(check) !== entry.key) this.cancel(name);
    }
    const firstRunSpread = Math.max(FIRST_RUN_SPREAD_MS, live.size * FIRST_RUN_SPREAD_PER_CHECK_MS);
    for (const check of live.values()) if (!this.entries.has(check.name)) this.schedule(check, firstRunSpread);
  }

  stop(): void {
    clearInterval(this.heartbeat);
    for (const name of [...this.entries.keys()]) this.cancel(name);
  }

  latencyPercentiles(): { p50: number; p99: number; samples: number } {
    const n = Math.min(this.latenessCount, LATENESS_SAMPLES);
    const sorted = Array.from(this.lateness.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0;
    return { p50: at(0.5), p99: at(0.99), samples: this.latenessCount };
  }

  resetLateness(): void {
    this.latenessCount = 0;
    this.skipped = 0;
  }

  private schedule(check: CheckConfig, firstRunSpread: number): void {
    const entry: Entry = { key: keyOf(check), nextAt: 0 };
    this.entries.set(check.name, entry);
    if (check.schedule) {
      entry.task = cron.schedule(check.schedule, () => this.fire(check.name, Date.now()), { name: `forgewatch:${check.name}` });
      return;
    }
    const spread = Math.min(check.interval, firstRunSpread);
    entry.nextAt = Date.now() + (stableHash(check.name) % Math.max(1, spread));
    this.arm(check.name, entry, check.interval);
  }

  private arm(name: string, entry: Entry, interval: number): void {
    entry.timer = setTimeout(() => {
      const due = entry.nextAt;
      const now = Date.now();
      entry.nextAt += interval;
      // After a long stall, skip the missed slots instead of firing them back to back.
      if (entry.nextAt <= now) entry.nextAt += Math.ceil((now - entry.nextAt) / interval) * interval;
      if (this.entries.get(name) === entry) this.arm(name, entry, interval);
      this.fire(name, due);
    }, Math.max(0, entry.nextAt - Date.now()));
  }

  private fire(name: string, dueAt: number): void {
    this.lateness[this.latenessCount++ % LATENESS_SAMPLES] = Math.max(0, Date.now() - dueAt);
    if (this.monitor.isRunning(name)) {
      this.skipped++;
      return;
    }
    this.monitor.run(name).catch(() => undefined);
  }

  private cancel(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    clearTimeout(entry.timer);
    void entry.task?.destroy();
    this.entries.delete(name);
  }
}

function keyOf(check: CheckConfig): string {
  return check.schedule ? `cron:${check.schedule}` : `every:${check.interval}`;
}
