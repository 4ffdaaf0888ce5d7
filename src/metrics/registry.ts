/**
 * Turns check results into Prometheus series. Gauges are computed at scrape time from each check's
 * latest result, so a check removed by a reload loses its series without bookkeeping.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Monitor } from '../checks/monitor.js';
import type { Scheduler } from '../checks/scheduler.js';
import { probeKinds } from '../probes/index.js';
import type { MetricSpec, Observation } from '../probes/types.js';
import { CheckSeries, type RunCounts, type SeriesBody } from './check-series.js';

/** A scrape's text: its size in bytes and its bytes in chunks. */
export type MetricsBody = SeriesBody;

/** What the fleet series are read from (src/cluster/fleet.ts). */
export interface ClusterGauges {
  readonly memberCount: number;
  readonly isLeader: boolean;
  readonly ownedCount: number;
  readonly coordinationUp: boolean;
  readonly handovers: number;
}

/**
 * prom-client's default metrics that are gauges named like counters: `promtool check metrics` rejects
 * them, and each is the sum of its un-suffixed sibling (nodejs_active_handles etc.), which stays.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export class Metrics {
  /** prom-client's own metrics and the few service-wide ones; alert channels register theirs here too. */
  readonly registry = new Registry();
  /** The per-check families, rendered without prom-client and kept as text per check (see check-series.ts). */
  private readonly series: CheckSeries;
  /** Observations of each check's latest result. */
  private readonly latest = new Map<string, readonly Observation[]>();
  /** Runs per check by result, under the type they were counted as. */
  private readonly runs = new Map<string, RunCounts>();
  private readonly reloadOk: Gauge;
  private readonly reloadAt: Gauge;

  /**
   * `location`: a fleet node's location, added as a `location` label to every per-check series, so the series of
   * one check run from several places stay apart once Prometheus scrapes every node.
   */
  constructor(
    private readonly monitor: Monitor,
    scheduler?: Scheduler,
    location?: string,
  ) {
    // The event loop delay histograms (nodejs_eventloop_lag_*) sample every 100 ms, not prom-client's 10 ms: a timer
    // every 10 ms wakes an idle process 100 times a second, most of its wake-ups between scheduled runs.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    this.series = new CheckSeries(declaredMetrics(), location);
    const runs = this.runs;
    const reg = [this.registry];
    this.reloadOk = new Gauge({
      name: 'forgewatch_config_last_reload_successful',
      help: 'Whether the last config reload succeeded.',
      registers: reg,
    });
    this.reloadAt = new Gauge({
      name: 'forgewatch_config_last_reload_success_timestamp_seconds',
      help: 'Unix time of the last successful config load.',
      registers: reg,
    });
    this.reloadOk.set(1);
    this.reloadAt.set(Date.now() / 1000);
    if (scheduler) {
      new Gauge({
        name: 'forgewatch_checks_in_flight',
        help: 'Check runs under way.',
        registers: reg,
        collect() {
          this.set(monitor.concurrency().inFlight);
        },
      });
      new Gauge({
        name: 'forgewatch_checks_queued',
        help: 'Check runs waiting for a slot (max_concurrency).',
        registers: reg,
        collect() {
          this.set(monitor.concurrency().queued);
        },
      });
      // The scheduler's count only grows: each scrape adds what was skipped since the previous one.
      let seen = 0;
      new Counter({
        name: 'forgewatch_scheduler_skipped_runs_total',
        help: 'Scheduled runs skipped because the previous run of the check was still under way.',
        registers: reg,
        collect() {
          const skipped = scheduler.skipped;
          if (skipped > seen) this.inc(skipped - seen);
          seen = skipped;
        },
      });
    }
    monitor.onResult((rec) => {
      const counted = runs.get(rec.check.name);
      if (counted && counted.type === rec.check.type) counted.counts[rec.result.status]++;
      else
        runs.set(rec.check.name, { type: rec.check.type, counts: { ok: 0, warn: 0, fail: 0, [rec.result.status]: 1 } });
      this.latest.set(rec.check.name, rec.result.observations);
      this.series.changed(rec.check.name);
    });
    monitor.onConfig((config) => {
      const live = new Map(config.checks.map((c) => [c.name, c.type]));
      for (const name of [...this.latest.keys()]) if (!live.has(name)) this.latest.delete(name);
      for (const [name, { type }] of [...runs]) if (live.get(name) !== type) runs.delete(name);
      this.series.keepOnly(new Set(live.keys()));
    });
  }

  /** The fleet series of a node in a fleet (`cluster:`), read at scrape time. */
  addCluster(fleet: ClusterGauges): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('forgewatch_cluster_members', 'Live members of the fleet, as this node sees them.', () => fleet.memberCount);
    gauge('forgewatch_cluster_leader', 'Whether this node is the fleet leader (1) or not (0).', () =>
      fleet.isLeader ? 1 : 0,
    );
    gauge('forgewatch_cluster_owned_checks', 'Checks this node runs on schedule.', () => fleet.ownedCount);
    gauge(
      'forgewatch_cluster_coordination_up',
      'Whether this node coordinates through etcd (1); 0 while it runs every check on its own (fail open).',
      () => (fleet.coordinationUp ? 1 : 0),
    );
    let seen = 0;
    new Counter({
      name: 'forgewatch_cluster_handovers_total',
      help: 'Checks this node took over from another node since it joined.',
      registers,
      collect() {
        const now = fleet.handovers;
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  }

  reloaded(ok: boolean): void {
    this.reloadOk.set(ok ? 1 : 0);
    if (ok) this.reloadAt.set(Date.now() / 1000);
  }

  /**
   * The whole exposition: its size, and its bytes in chunks written as they are read, so a scrape of thousands of
   * checks never holds megabytes of text at once. Yields to the event loop now and then while it writes the text of
   * checks that ran since the last scrape: a scrape of thousands must not stall the scheduler.
   */
  async body(): Promise<MetricsBody> {
    const head = Buffer.from(await this.registry.metrics());
    const checks = this.monitor.views().map((view) => ({
      view,
      runs: this.runs.get(view.check.name),
      observations: this.latest.get(view.check.name),
    }));
    const series = await this.series.render(checks, () => new Promise((resolve) => setImmediate(resolve)));
    return {
      byteLength: head.length + series.byteLength,
      *chunks() {
        yield head;
        yield* series.chunks();
      },
    };
  }

  /** The exposition as one string. */
  async render(): Promise<string> {
    const body = await this.body();
    return Buffer.concat([...body.chunks()], body.byteLength).toString('utf8');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Every gauge some probe kind declares; one name declared twice must mean the same series. */
function declaredMetrics(): MetricSpec[] {
  const byName = new Map<string, MetricSpec>();
  for (const kind of Object.values(probeKinds)) {
    for (const spec of kind.metrics) {
      const seen = byName.get(spec.name);
      if (seen && seen.labelNames.join() !== spec.labelNames.join())
        throw new Error(`metric ${spec.name} declared with different labels`);
      byName.set(spec.name, spec);
    }
  }
  return [...byName.values()];
}
