/**
 * The per-check families of /metrics, kept as text per check. Between two scrapes most of thousands of checks did
 * not run: their lines are reused as they are, and only a check that ran, changed state or changed config is
 * written again. The text format groups samples by family, so each check keeps one piece of text per family.
 */
import type { CheckConfig } from '../config/load.js';
import type { CheckView, RunRecord } from '../checks/monitor.js';
import type { CheckState } from '../checks/state.js';
import type { MetricSpec, Observation, Status } from '../probes/types.js';
import { familyHeader, labelPrefixes, sampleLine, type Family } from './exposition.js';

const STATUSES = ['unknown', 'ok', 'warn', 'fail'] as const;
const RUN_RESULTS: readonly Status[] = ['ok', 'warn', 'fail'];

/** Runs of a check by result, under the type they were counted as. */
export interface RunCounts {
  type: string;
  counts: Record<Status, number>;
}

/** What a check's lines are written from. */
interface CheckFacts {
  view: CheckView;
  runs: RunCounts | undefined;
  observations: readonly Observation[] | undefined;
}

interface FamilyWriter extends Pick<Family, 'name' | 'help' | 'type'> {
  prefixes: readonly string[];
}

/** A check's text per family, and what it was written from: any of these replaced means the text is stale. */
interface Written {
  check: CheckConfig;
  state: CheckState;
  last: RunRecord | undefined;
  observations: readonly Observation[] | undefined;
  runs: RunCounts | undefined;
  /** Indexed like the families; undefined where the check has no sample. */
  parts: Array<string | undefined>;
}

/** The fixed per-check families, then one per probe metric. */
const CHECK_FAMILIES = [
  {
    name: 'forgewatch_check_up',
    help: 'Whether the last run of the check passed (1 for ok or warn, 0 for fail).',
    type: 'gauge',
    labelNames: ['check', 'type'],
  },
  {
    name: 'forgewatch_check_status',
    help: 'Settled status of the check after thresholds: 1 on the current status.',
    type: 'gauge',
    labelNames: ['check', 'type', 'status'],
  },
  {
    name: 'forgewatch_check_duration_seconds',
    help: 'Duration of the last run of the check.',
    type: 'gauge',
    labelNames: ['check', 'type'],
  },
  // Every result of a check that ran is exported, zeros included, so rate() sees a first failure.
  {
    name: 'forgewatch_check_runs_total',
    help: 'Runs of each check by result.',
    type: 'counter',
    labelNames: ['check', 'type', 'result'],
  },
  {
    name: 'forgewatch_check_last_run_timestamp_seconds',
    help: 'Unix time the check last finished a run.',
    type: 'gauge',
    labelNames: ['check'],
  },
] as const;
const [UP, STATUS, DURATION, RUNS, LAST_RUN] = [0, 1, 2, 3, 4] as const;

/**
 * The same text as one flat string. Text built with + is a rope that every scrape would walk again, piece by piece,
 * to join it; converting it to a number makes V8 flatten it in place, once (the trick of the flatstr package).
 */
function flat(text: string): string {
  void Number(text);
  return text;
}

export class CheckSeries {
  private readonly families: FamilyWriter[];
  /** Family index of each probe metric. */
  private readonly probeFamily = new Map<string, { index: number; spec: MetricSpec }>();
  private readonly written = new Map<string, Written>();
  private readonly location: readonly string[];

  /** `location`: a fleet node's location, the last label of every per-check series. */
  constructor(probeMetrics: readonly MetricSpec[], location?: string) {
    this.location = location === undefined ? [] : [location];
    const withLocation = (labels: readonly string[]) => (location === undefined ? labels : [...labels, 'location']);
    this.families = CHECK_FAMILIES.map((f) => ({ ...f, prefixes: labelPrefixes(withLocation(f.labelNames)) }));
    for (const spec of probeMetrics) {
      this.probeFamily.set(spec.name, { index: this.families.length, spec });
      this.families.push({
        name: spec.name,
        help: spec.help,
        type: 'gauge',
        prefixes: labelPrefixes(withLocation(['check', ...spec.labelNames])),
      });
    }
  }

  /** Drops a check's text: it ran, so its counts and observations moved. */
  changed(name: string): void {
    this.written.delete(name);
  }

  /** Forgets the checks not in `live`. */
  keepOnly(live: ReadonlySet<string>): void {
    for (const name of this.written.keys()) if (!live.has(name)) this.written.delete(name);
  }

  /**
   * Every family, HELP and TYPE included even without samples, each check's lines written again only when stale.
   * `pause` is awaited every so many checks written, so a first scrape of thousands does not stall the scheduler.
   */
  async render(checks: Iterable<CheckFacts>, pause: () => Promise<void>): Promise<string> {
    const rows: Written[] = [];
    let writtenNow = 0;
    for (const facts of checks) {
      const name = facts.view.check.name;
      let row = this.written.get(name);
      if (!row || !this.fresh(row, facts)) {
        row = this.write(facts);
        this.written.set(name, row);
        if (++writtenNow % 1000 === 0) await pause();
      }
      rows.push(row);
    }
    const out: string[] = [];
    for (const [index, family] of this.families.entries()) {
      out.push(familyHeader(family));
      for (const row of rows) {
        const part = row.parts[index];
        if (part !== undefined) out.push(part);
      }
    }
    return out.join('');
  }

  private fresh(row: Written, { view, runs, observations }: CheckFacts): boolean {
    return (
      row.check === view.check &&
      row.state === view.state &&
      row.last === view.last &&
      row.observations === observations &&
      row.runs === runs
    );
  }

  private write({ view, runs, observations }: CheckFacts): Written {
    const lines: Array<string[] | undefined> = new Array<string[] | undefined>(this.families.length);
    const { name, type } = view.check;
    const line = (index: number, values: readonly string[], value: number) => {
      const family = this.families[index] as FamilyWriter;
      const text = sampleLine(family.name, family.prefixes, [...values, ...this.location], value);
      const list = lines[index];
      if (list) list.push(text);
      else lines[index] = [text];
    };
    const { last } = view;
    if (last) line(UP, [name, type], last.result.status === 'fail' ? 0 : 1);
    for (const status of STATUSES) line(STATUS, [name, type, status], view.state.status === status ? 1 : 0);
    if (last) line(DURATION, [name, type], last.result.timings.total ?? 0);
    if (runs) for (const result of RUN_RESULTS) line(RUNS, [name, runs.type, result], runs.counts[result]);
    if (last) line(LAST_RUN, [name], Date.parse(last.at) / 1000);
    for (const o of observations ?? []) {
      const family = this.probeFamily.get(o.metric);
      if (!family) continue;
      line(family.index, [name, ...family.spec.labelNames.map((l) => o.labels?.[l] ?? '')], o.value);
    }
    const parts = Array.from(lines, (list) => (list ? flat(list.join('')) : undefined));
    return { check: view.check, state: view.state, last, observations, runs, parts };
  }
}
