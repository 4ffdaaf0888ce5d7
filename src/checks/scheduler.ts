/**
 * Fires each check on its interval or cron schedule; a check still running is skipped (and counted).
 * Interval checks: the first run comes soon after start (spread over a few seconds), later runs sit at
 * a stable per-check phase of the interval on the wall clock, so many checks with one interval spread
 * over all of it, and keep their phase across restarts and reloads. Cron checks fire after a stable
 * per-check delay of up to 1 s (at most half the schedule's shortest gap), so many checks with one
 * cron line do not start in the same millisecond. One timer serves every check; each run waits for the next
 * step of a grid of the clock (a twentieth of its interval, at most 200 ms, shorter when many runs are due),
 * together with the others due by then.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { CheckConfig } from '../config/load.js';
import { DueQueue, type DueItem } from './due-queue.js';
import type { Monitor } from './monitor.js';

/** First runs spread over at least this long (bounded by the interval)... */
const FIRST_RUN_SPREAD_MS = 5_000;
/** ...and at least this long per check, so ten thousand checks do not all start within seconds. */
const FIRST_RUN_SPREAD_PER_CHECK_MS = 2;
const LATENESS_SAMPLES = 4096;
/** The most a cron-scheduled run is delayed past its time. */
const CRON_JITTER_MS = 1_000;
/**
 * A run waits for the next step of a grid of the wall clock, and every run due by then starts with it: runs due
 * close together start together, so their connections' events share the event loop's wake-ups instead of each run
 * paying for its own. Each wake-up of an idle process costs far more than its work where the CPU sleeps in between
 * (on a virtual machine, tens of microseconds to milliseconds), so fewer of them is most of a scheduled probe's cost.
 * The step is the longest of these at most a twentieth of the check's interval (cron checks: the longest): each
 * divides the ones before it, so checks of different intervals still share steps.
 */
const WAKE_STEPS_MS = [200, 100, 50, 25, 5, 1] as const;
const INTERVAL_PER_STEP = 20;
/**
 * ...and short enough that a step holds about this many runs on average: runs started together are in flight
 * together, and with a 2 MiB young generation what many connections hold at once outlives it. The first pass of
 * 10,000 checks (500 runs a second) on 200 ms steps left `serve` at 230–254 MiB instead of 170.
 */
const RUNS_PER_STEP = 40;
/** setTimeout's longest delay; a later due time is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SchedulerOptions {
  /** First runs spread over at least this long (bounded by the interval); default 5 s. */
  firstRunSpreadMs?: number;
}

interface Entry extends DueItem {
  name: string;
  key: string;
  /** Interval checks: the interval (ms); cron checks: 0. */
  interval: number;
  task?: ScheduledTask;
  /** When the next run is planned; it starts at the next step of the grid from then (dueAt). */
  nextAt: number;
  /** The next run is the quick first one, not yet on the check's phase. */
  first: boolean;
  /** Cron checks: the delay after each cron time. */
  jitter: number;
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

/** The first time at or after `t` that is on this check's phase of the interval (wall clock). */
export function nextSlot(name: string, interval: number, t: number): number {
  const phase = stableHash(name) % interval;
  return t + ((((phase - t) % interval) + interval) % interval);
}

/**
 * The step of the wake-up grid for a check of this interval (ms; 0 for a cron check) when the checks' runs come at
 * `runsPerMs` on average: the longest step at most a twentieth of the interval that holds about RUNS_PER_STEP runs.
 */
export function wakeStep(interval: number, runsPerMs = 0): number {
  const byInterval = interval > 0 ? interval / INTERVAL_PER_STEP : Infinity;
  // The rate is a sum of many 1/interval: 1,000 checks every 5 s must come to 40 runs per 200 ms, not 40.0000001.
  return WAKE_STEPS_MS.find((step) => step <= byInterval && step * runsPerMs <= RUNS_PER_STEP * (1 + 1e-9)) ?? 1;
}

/** The first step of a `step` ms grid of the clock at or after `t`. */
function onGrid(t: number, step: number): number {
  return Math.ceil(t / step) * step;
}

/**
 * Whether a cron line can match twice less than a minute apart: only with a seconds field (six fields) that is not
 * a single second. Any other line's runs are a minute or more apart, so its jitter needs none of its next runs,
 * which node-cron finds day by day: eight runs of a yearly line cost milliseconds each, seconds for thousands.
 */
export function matchesWithinAMinute(expression: string): boolean {
  const fields = expression.trim().split(/\s+/);
  return fields.length >= 6 && !/^\d+$/.test(fields[0] as string);
}

/** A stable delay for a cron-scheduled check: up to 1 s, at most half the schedule's shortest gap. */
export function cronJitter(name: string, nextRuns: readonly Date[]): number {
  let gap = CRON_JITTER_MS * 2;
  for (let i = 1; i < nextRuns.length; i++)
    gap = Math.min(gap, (nextRuns[i] as Date).getTime() - (nextRuns[i - 1] as Date).getTime());
  return stableHash(name) % Math.max(1, Math.min(CRON_JITTER_MS, Math.floor(gap / 2)));
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  /**
   * Every check's next run, earliest first, behind one timer: a Timeout and a timer list per check cost
   * memory and CPU for thousands of checks.
   */
  private readonly due = new DueQueue<Entry>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer is set to go off; Infinity when it is not set. */
  private timerAt = Infinity;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Last time the event loop ran the heartbeat: /healthz reads it. */
  lastTick = Date.now();
  private skippedCount = 0;
  /** Recent lateness samples (ms), a ring buffer for percentiles. */
  private readonly lateness = new Float64Array(LATENESS_SAMPLES);
  private latenessCount = 0;
  /** How many runs the interval checks make per millisecond, on average; the quick first runs, while they last. */
  private runsPerMs = 0;
  private firstRunsPerMs = 0;
  /** Which checks this process runs on schedule (in a fleet: the ones it owns); all of them by default. */
  private runsHere: (name: string) => boolean = () => true;

  constructor(
    private readonly monitor: Monitor,
    private readonly options: SchedulerOptions = {},
  ) {}

  start(): void {
    this.heartbeat = setInterval(() => (this.lastTick = Date.now()), 1000);
    this.heartbeat.unref();
    this.sync();
  }

  /** Schedules only the checks `runsHere` accepts from the next sync() on (call sync() when its answers change). */
  setFilter(runsHere: (name: string) => boolean): void {
    this.runsHere = runsHere;
  }

  /** Brings timers in line with the monitor's checks and the filter (after start, a reload or an ownership change). */
  sync(): void {
    const live = new Map(this.monitor.checks.filter((c) => this.runsHere(c.name)).map((c) => [c.name, c]));
    for (const [name, entry] of this.entries) {
      const check = live.get(name);
      if (!check || keyOf(check) !== entry.key) this.cancel(name);
    }
    const firstRunSpread = Math.max(
      this.options.firstRunSpreadMs ?? FIRST_RUN_SPREAD_MS,
      live.size * FIRST_RUN_SPREAD_PER_CHECK_MS,
    );
    const added = [...live.values()].filter((c) => !this.entries.has(c.name));
    this.runsPerMs = 0;
    for (const check of live.values()) if (!check.schedule) this.runsPerMs += 1 / check.interval;
    this.firstRunsPerMs = added.length / firstRunSpread;
    for (const check of added) this.schedule(check, firstRunSpread);
    this.armTimer();
  }

  stop(): void {
    clearInterval(this.heartbeat);
    for (const name of [...this.entries.keys()]) this.cancel(name);
    this.armTimer();
  }

  /** When the check is due next (ms since the epoch), as planned. */
  nextRunAt(name: string): number | undefined {
    const entry = this.entries.get(name);
    if (!entry?.task) return entry?.nextAt;
    const next = entry.task.getNextRun();
    return next ? next.getTime() + entry.jitter : undefined;
  }

  /** Scheduled runs skipped since start because the check's previous run was still under way; never decreases. */
  get skipped(): number {
    return this.skippedCount;
  }

  latencyPercentiles(): { p50: number; p99: number; samples: number } {
    const n = Math.min(this.latenessCount, LATENESS_SAMPLES);
    const sorted = Array.from(this.lateness.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0;
    return { p50: at(0.5), p99: at(0.99), samples: this.latenessCount };
  }

  private schedule(check: CheckConfig, firstRunSpread: number): void {
    const entry: Entry = {
      name: check.name,
      key: keyOf(check),
      interval: check.schedule ? 0 : check.interval,
      nextAt: 0,
      first: true,
      jitter: 0,
      dueAt: 0,
      queueIndex: -1,
    };
    this.entries.set(check.name, entry);
    if (check.schedule) {
      const task = cron.schedule(
        check.schedule,
        ({ date }) => {
          if (this.entries.get(check.name) !== entry) return;
          this.plan(entry, date.getTime() + entry.jitter);
          this.armTimer();
        },
        { name: `forgewatch:${check.name}` },
      );
      entry.task = task;
      entry.jitter = cronJitter(check.name, matchesWithinAMinute(check.schedule) ? task.getNextRuns(8) : []);
      return;
    }
    const spread = Math.min(check.interval, firstRunSpread);
    this.plan(entry, Date.now() + (stableHash(check.name) % Math.max(1, spread)));
  }

  /** Plans the entry's next run at `at`; it is due at the grid's next step from then. */
  private plan(entry: Entry, at: number): void {
    entry.nextAt = at;
    const quick = entry.first && entry.interval > 0;
    this.due.set(entry, onGrid(at, wakeStep(entry.interval, quick ? this.firstRunsPerMs : this.runsPerMs)));
  }

  /** Sets the one timer for the earliest due run, unless it is already set for that time. */
  private armTimer(): void {
    const at = this.due.peek()?.dueAt ?? Infinity;
    if (at === this.timerAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(() => this.runDue(), Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
  }

  /** Fires every run now due, plans the next run of each interval check, and sets the timer for the next one. */
  private runDue(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    for (let entry = this.due.peek(); entry && entry.dueAt <= now; entry = this.due.peek()) {
      this.due.remove(entry);
      const planned = entry.nextAt;
      if (entry.interval > 0) this.planNext(entry, now);
      this.fire(entry.name, planned);
    }
    this.armTimer();
  }

  /** Plans an interval check's next run from its planned time (not the grid step it ran at, which would drift). */
  private planNext(entry: Entry, now: number): void {
    const { interval, nextAt: planned } = entry;
    // After the quick first run, move onto the check's own phase, at least half an interval later.
    let next = entry.first ? nextSlot(entry.name, interval, planned + interval / 2) : planned + interval;
    entry.first = false;
    // After a long stall, skip the missed slots instead of firing them back to back.
    if (next <= now) next += Math.max(1, Math.ceil((now - next) / interval)) * interval;
    this.plan(entry, next);
  }

  /** Starts a run planned for `plannedAt`; its lateness counts from then, the wait for the grid's step included. */
  private fire(name: string, plannedAt: number): void {
    this.lateness[this.latenessCount++ % LATENESS_SAMPLES] = Math.max(0, Date.now() - plannedAt);
    if (this.monitor.isRunning(name)) {
      this.skippedCount++;
      return;
    }
    this.monitor.run(name).catch(() => undefined);
  }

  private cancel(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    this.due.remove(entry);
    void entry.task?.destroy();
    this.entries.delete(name);
  }
}

function keyOf(check: CheckConfig): string {
  return check.schedule ? `cron:${check.schedule}` : `every:${check.interval}`;
}
