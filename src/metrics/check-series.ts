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

/**
 * A check's text, and what it was written from: any of these replaced means the text is stale. The text is kept as
 * bytes, so a scrape copies it into its chunks and never builds one string of megabytes: `text` starts with one
 * 32-bit little-endian end offset per family, then the lines of every family in family order (UTF-8).
 */
interface Written {
  check: CheckConfig;
  state: CheckState;
  last: RunRecord | undefined;
  observations: readonly Observation[] | undefined;
  runs: RunCounts | undefined;
  text: Buffer;
}

/** The per-check families of a scrape: their size, and their bytes in chunks written when asked for. */
export interface SeriesBody {
  byteLength: number;
  chunks: () => Generator<Buffer>;
}

/** Bytes per chunk a scrape hands on: large enough that compressing them costs few round trips to the thread pool. */
const CHUNK_BYTES = 64 * 1024;

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
  private readonly location: string | undefined;
  /** HELP and TYPE of each family. */
  private readonly headers: Buffer[];
  /** Bytes at the start of a check's text that hold where each family's lines end. */
  private readonly offsetBytes: number;

  /** `location`: a fleet node's location, the last label of every per-check series. */
  constructor(probeMetrics: readonly MetricSpec[], location?: string) {
    this.location = location;
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
    this.headers = this.families.map((family) => Buffer.from(familyHeader(family)));
    this.offsetBytes = this.families.length * 4;
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
    const rows: Buffer[] = [];
    let writtenNow = 0;
    let byteLength = 0;
    for (const header of this.headers) byteLength += header.length;
    const offsets = this.offsetBytes;
    for (const facts of checks) {
      const name = facts.view.check.name;
      let row = this.written.get(name);
      if (!row || !this.fresh(row, facts)) {
        row = this.write(facts);
        this.written.set(name, row);
        if (++writtenNow % 1000 === 0) await pause();
      }
      rows.push(row.text);
      byteLength += row.text.length - offsets;
    }
    return { byteLength, chunks: () => this.chunks(rows) };
  }

  /** The families in order, each check's lines of a family copied from its text, in chunks of CHUNK_BYTES. */
  private *chunks(rows: readonly Buffer[]): Generator<Buffer> {
    let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    /** Makes room for `length` more bytes; answers the chunk to hand on when it had to start a new one. */
    const full = (length: number): Buffer | undefined => {
      if (used + length <= chunk.length) return undefined;
      const done = used > 0 ? chunk.subarray(0, used) : undefined;
      chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, length));
      used = 0;
      return done;
    };
    for (let family = 0; family < this.headers.length; family++) {
      const header = this.headers[family] as Buffer;
      const done = full(header.length);
      if (done) yield done;
      used += header.copy(chunk, used);
      for (const text of rows) {
        const start = family === 0 ? this.offsetBytes : text.readUInt32LE((family - 1) * 4);
        const end = text.readUInt32LE(family * 4);
        if (end === start) continue;
        const done = full(end - start);
        if (done) yield done;
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

  private write({ view, runs, observations }: CheckFacts): Written {
    const parts = new Array<string>(this.families.length).fill('');
    const { name, type } = view.check;
    const location = this.location;
    const line = (index: number, values: string[], value: number) => {
      const family = this.families[index] as FamilyWriter;
      if (location !== undefined) values.push(location);
      parts[index] += sampleLine(family.name, family.prefixes, values, value);
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
    const body = parts.join('');
    const text = Buffer.allocUnsafeSlow(this.offsetBytes + Buffer.byteLength(body));
    // Byte offsets: the same as string offsets unless some label holds a character beyond ASCII.
    const ascii = text.length - this.offsetBytes === body.length;
    let end = this.offsetBytes;
    for (const [index, part] of parts.entries())
      text.writeUInt32LE((end += ascii ? part.length : Buffer.byteLength(part)), index * 4);
    text.write(body, this.offsetBytes);
    return { check: view.check, state: view.state, last, observations, runs, text };
  }
}
