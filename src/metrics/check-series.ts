/**
 * The per-check families of /metrics, kept as text per check. Between two scrapes most of thousands of checks did
 * not run: their lines are reused as they are, and only a check that ran, changed state or changed config is
 * written again. The text format groups samples by family, so each check keeps its lines family by family, with
 * where each family's lines end.
 */
import type { CheckConfig } from '../config/load.js';
import type { CheckView, RunRecord } from '../checks/monitor.js';
import type { CheckState } from '../checks/state.js';
import type { MetricSpec, Observation, Status } from '../probes/types.js';
import { escapeLabel, familyHeader, formatValue, type Family } from './exposition.js';

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
  /** A probe metric's labels after `check`, each as it starts a label: `,phase="`. */
  labelStarts: readonly string[];
}

/** A check's text, and what it was written from: any of these replaced means the text is stale. */
interface Written {
  check: CheckConfig;
  state: CheckState;
  last: RunRecord | undefined;
  observations: readonly Observation[] | undefined;
  runs: RunCounts | undefined;
  /**
   * The check's lines of every family it has samples in, in family order, as UTF-8 bytes outside V8's heap: ten
   * thousand checks' texts are 10 MB that the garbage collector would otherwise mark again and again.
   */
  text: Buffer;
  /** Pairs of (family index, end of its lines in `text`), in family order; families without samples are absent. */
  spans: number[];
}

/** The per-check families of a scrape: their size, and their bytes in chunks written when asked for. */
export interface SeriesBody {
  byteLength: number;
  chunks: () => Generator<Buffer>;
}

/** Bytes per chunk a scrape hands on: large enough that compressing them costs few round trips to the thread pool. */
const CHUNK_BYTES = 512 * 1024;

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

export class CheckSeries {
  private readonly families: FamilyWriter[];
  /** Family index of each probe metric. */
  private readonly probeFamily = new Map<string, { index: number; spec: MetricSpec }>();
  private readonly written = new Map<string, Written>();
  /** The label that ends every per-check series in a fleet: `,location="fra"`; empty alone. */
  private readonly locationLabel: string;
  /** HELP and TYPE of each family. */
  private readonly headers: Buffer[];

  /** `location`: a fleet node's location, the last label of every per-check series. */
  constructor(probeMetrics: readonly MetricSpec[], location?: string) {
    this.locationLabel = location === undefined ? '' : `,location="${escapeLabel(location)}"`;
    this.families = CHECK_FAMILIES.map((f) => ({ ...f, labelStarts: [] }));
    for (const spec of probeMetrics) {
      this.probeFamily.set(spec.name, { index: this.families.length, spec });
      this.families.push({
        name: spec.name,
        help: spec.help,
        type: 'gauge',
        labelStarts: spec.labelNames.map((l) => `,${l}="`),
      });
    }
    this.headers = this.families.map((family) => Buffer.from(familyHeader(family)));
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
   * The chunks are copied from the checks' texts of this moment: a check that runs meanwhile gets a new text.
   */
  async render(checks: Iterable<CheckFacts>, pause: () => Promise<void>): Promise<SeriesBody> {
    const rows: Written[] = [];
    let writtenNow = 0;
    let byteLength = 0;
    for (const header of this.headers) byteLength += header.length;
    for (const facts of checks) {
      const name = facts.view.check.name;
      let row = this.written.get(name);
      if (!row || !this.fresh(row, facts)) {
        row = this.write(facts);
        this.written.set(name, row);
        if (++writtenNow % 1000 === 0) await pause();
      }
      rows.push(row);
      byteLength += row.text.length;
    }
    return { byteLength, chunks: () => this.chunks(rows) };
  }

  /**
   * The families in order, each check's lines of a family copied into chunks of CHUNK_BYTES. A check that runs
   * meanwhile gets a new text: the ones taken here are never changed.
   */
  private *chunks(rows: readonly Written[]): Generator<Buffer> {
    let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    /** Per row, the position in its spans of the next family it has lines in. */
    const next = new Uint16Array(rows.length);
    for (let family = 0; family < this.headers.length; family++) {
      const header = this.headers[family] as Buffer;
      if (used + header.length > chunk.length) {
        yield chunk.subarray(0, used);
        chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, header.length));
        used = 0;
      }
      used += header.copy(chunk, used);
      for (let r = 0; r < rows.length; r++) {
        const { text, spans } = rows[r] as Written;
        const at = next[r] as number;
        if (spans[at] !== family) continue;
        const start = at === 0 ? 0 : (spans[at - 1] as number);
        const end = spans[at + 1] as number;
        next[r] = at + 2;
        if (used + end - start > chunk.length) {
          if (used > 0) yield chunk.subarray(0, used);
          chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, end - start));
          used = 0;
        }
        used += text.copy(chunk, used, start, end);
      }
    }
    if (used > 0) yield chunk.subarray(0, used);
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

  /** The check's lines, written with as few intermediate strings as possible: thousands are written per scrape. */
  private write({ view, runs, observations }: CheckFacts): Written {
    const parts = new Array<string>(this.families.length).fill('');
    const names = this.families;
    const end = `${this.locationLabel}} `;
    const check = `{check="${escapeLabel(view.check.name)}"`;
    const checkType = `${check},type="${escapeLabel(view.check.type)}"`;
    const { last, state } = view;
    if (last) parts[UP] = `${names[UP]?.name}${checkType}${end}${last.result.status === 'fail' ? 0 : 1}\n`;
    let lines = '';
    for (const status of STATUSES)
      lines += `${names[STATUS]?.name}${checkType},status="${status}"${end}${state.status === status ? 1 : 0}\n`;
    parts[STATUS] = lines;
    if (last)
      parts[DURATION] = `${names[DURATION]?.name}${checkType}${end}${formatValue(last.result.timings.total ?? 0)}\n`;
    if (runs) {
      const counted = runs.type === view.check.type ? checkType : `${check},type="${escapeLabel(runs.type)}"`;
      lines = '';
      for (const result of RUN_RESULTS)
        lines += `${names[RUNS]?.name}${counted},result="${result}"${end}${formatValue(runs.counts[result])}\n`;
      parts[RUNS] = lines;
    }
    if (last) parts[LAST_RUN] = `${names[LAST_RUN]?.name}${check}${end}${formatValue(Date.parse(last.at) / 1000)}\n`;
    for (const o of observations ?? []) {
      const found = this.probeFamily.get(o.metric);
      if (!found) continue;
      const family = names[found.index] as FamilyWriter;
      let line = family.name + check;
      const labelNames = found.spec.labelNames;
      for (let i = 0; i < labelNames.length; i++)
        line += `${family.labelStarts[i]}${escapeLabel(o.labels?.[labelNames[i] as string] ?? '')}"`;
      parts[found.index] += `${line}${end}${formatValue(o.value)}\n`;
    }
    const spans: number[] = [];
    let bytes = 0;
    for (let family = 0; family < parts.length; family++) {
      const part = parts[family] as string;
      if (part.length === 0) continue;
      bytes += Buffer.byteLength(part);
      spans.push(family, bytes);
    }
    // Its own allocation rather than a slice of Node's shared pool: a slice would keep a whole pool slab alive.
    const text = Buffer.allocUnsafeSlow(bytes);
    let at = 0;
    for (const part of parts) if (part.length > 0) at += text.write(part, at);
    return { check: view.check, state, last, observations, runs, text, spans };
  }
}
