/**
 * Turns check results into Prometheus series. Gauges are computed at scrape time from each check's
 * latest result, so a check removed by a reload loses its series without bookkeeping.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricType } from 'prom-client';
import type { Monitor } from '../checks/monitor.js';
import type { Scheduler } from '../checks/scheduler.js';
import { probeKinds } from '../probes/index.js';
import type { MetricSpec, Observation } from '../probes/types.js';

const STATUSES = ['unknown', 'ok', 'warn', 'fail'] as const;
/**
 * prom-client's default metrics that are gauges named like counters: `promtool check metrics` rejects
 * them, and each is the sum of its un-suffixed sibling (nodejs_active_handles etc.), which stays.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class Metrics {
  readonly registry = new Registry();
  /** Latest observations per check, indexed by metric name. */
  private readonly latest = new Map<string, Map<string, Observation[]>>();
  private readonly runs: Counter<'check' | 'type' | 'result'>;
  /** Checks with run counters, and the type they were counted under. */
  private readonly counted = new Map<string, string>();
  private readonly reloadOk: Gauge;
  private readonly reloadAt: Gauge;

  constructor(private readonly monitor: Monitor, scheduler?: Scheduler) {
    collectDefaultMetrics({ register: this.registry });
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    const views = () => this.monitor.views();
    const reg = [this.registry];
    computed(reg, 'forgewatch_check_up', 'Whether the last run of the check passed (1 for ok or warn, 0 for fail).', function* () {
      for (const v of views()) if (v.last) yield { labels: { check: v.check.name, type: v.check.type }, value: v.last.result.status === 'fail' ? 0 : 1 };
    });
    computed(reg, 'forgewatch_check_status', 'Settled status of the check after thresholds: 1 on the current status.', function* () {
      for (const v of views()) for (const status of STATUSES) yield { labels: { check: v.check.name, type: v.check.type, status }, value: v.state.status === status ? 1 : 0 };
    });
    computed(reg, 'forgewatch_check_duration_seconds', 'Duration of the last run of the check.', function* () {
      for (const v of views()) if (v.last) yield { labels: { check: v.check.name, type: v.check.type }, value: v.last.result.timings.total ?? 0 };
    });
    computed(reg, 'forgewatch_check_last_run_timestamp_seconds', 'Unix time the check last finished a run.', function* () {
      for (const v of views()) if (v.last) yield { labels: { check: v.check.name }, value: Date.parse(v.last.at) / 1000 };
    });
    this.runs = new Counter({ name: 'forgewatch_check_runs_total', help: 'Runs of each check by result.', labelNames: ['check', 'type', 'result'], registers: reg });
    this.reloadOk = new Gauge({ name: 'forgewatch_config_last_reload_successful', help: 'Whether the last config reload succeeded.', registers: reg });
    this.reloadAt = new Gauge({ name: 'forgewatch_config_last_reload_success_timestamp_seconds', help: 'Unix time of the last successful config load.', registers: reg });
    this.reloadOk.set(1);
    this.reloadAt.set(Date.now() / 1000);
    if (scheduler) {
      new Gauge({ name: 'forgewatch_checks_in_flight', help: 'Check runs under way.', registers: reg, collect() { this.set(monitor.limiter.inFlight); } });
      new Gauge({ name: 'forgewatch_checks_queued', help: 'Check runs waiting for a slot (max_concurrency).', registers: reg, collect() { this.set(monitor.limiter.queued); } });
      // The scheduler keeps a plain count (the benchmark resets it): report its growth, so the counter never goes down.
      let seen = 0;
      new Counter({
        name: 'forgewatch_scheduler_skipped_runs_total', help: 'Scheduled runs skipped because the previous run of the check was still under way.', registers: reg,
        collect() {
          if (scheduler.skipped > seen) this.inc(scheduler.skipped - seen);
          seen = scheduler.skipped;
        },
      });
    }
    for (const spec of declaredMetrics()) this.probeGauge(spec);

    monitor.onResult((rec) => {
      this.runs.inc({ check: rec.check.name, type: rec.check.type, result: rec.result.status });
      this.counted.set(rec.check.name, rec.check.type);
      const byMetric = new Map<string, Observation[]>();
      for (const o of rec.result.observations) {
        const list = byMetric.get(o.metric);
        if (list) list.push(o);
        else byMetric.set(o.metric, [o]);
      }
      this.latest.set(rec.check.name, byMetric);
    });
    monitor.onConfig((config) => {
      const live = new Map(config.checks.map((c) => [c.name, c.type]));
      for (const name of [...this.latest.keys()]) if (!live.has(name)) this.latest.delete(name);
      for (const [name, type] of this.counted) {
        if (live.get(name) === type) continue;
        for (const result of STATUSES) this.runs.remove({ check: name, type, result });
        this.counted.delete(name);
      }
    });
  }

  reloaded(ok: boolean): void {
    this.reloadOk.set(ok ? 1 : 0);
    if (ok) this.reloadAt.set(Date.now() / 1000);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private probeGauge(spec: MetricSpec): void {
    const latest = this.latest;
    computed([this.registry], spec.name, spec.help, function* () {
      for (const [check, byMetric] of latest) {
        for (const o of byMetric.get(spec.name) ?? []) {
          const labels: Record<string, string> = { check };
          for (const l of spec.labelNames) labels[l] = o.labels?.[l] ?? '';
          yield { labels, value: o.value };
        }
      }
    });
  }
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/**
 * A gauge whose samples are computed at scrape time. Overriding get() skips prom-client's
 * per-sample label hashing, which dominates the scrape at thousands of checks.
 */
class ComputedGauge extends Gauge {
  constructor(registers: Registry[], private readonly metricName: string, private readonly metricHelp: string, private readonly samples: () => Iterable<Sample>) {
    super({ name: metricName, help: metricHelp, registers });
  }

  override async get() {
    // prom-client declares MetricType as an enum in its types only; its runtime value is the string.
    return { name: this.metricName, help: this.metricHelp, type: 'gauge' as unknown as MetricType, aggregator: 'sum' as const, collect: () => undefined, values: [...this.samples()] };
  }
}

function computed(registers: Registry[], name: string, help: string, samples: () => Iterable<Sample>): void {
  new ComputedGauge(registers, name, help, samples);
}

/** Every gauge some probe kind declares; one name declared twice must mean the same series. */
export function declaredMetrics(): MetricSpec[] {
  const byName = new Map<string, MetricSpec>();
  for (const kind of Object.values(probeKinds)) {
    for (const spec of kind.metrics) {
      const seen = byName.get(spec.name);
      if (seen && seen.labelNames.join() !== spec.labelNames.join()) throw new Error(`metric ${spec.name} declared with different labels`);
      byName.set(spec.name, spec);
    }
  }
  return [...byName.values()];
}
