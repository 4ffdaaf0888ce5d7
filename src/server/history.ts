/**
 * Per-check response-time history for the status page: the last 24 hours, in memory only.
 * Memory is bounded per check whatever the interval: runs are kept one by one until a check has
 * MAX_POINTS of them; then neighbours are merged pairwise and later runs closer together than the
 * new spacing fold into the last point, so the spacing grows until 24 hours fit.
 * Points live in typed arrays (17 bytes each) that grow on demand, so 10,000 checks with a full
 * day each stay around 40 MB, and a check that runs rarely costs almost nothing.
 */
import type { Monitor } from '../checks/monitor.js';
import { STATUS_RANK, type Status } from '../probes/types.js';

export const HISTORY_WINDOW_MS = 24 * 60 * 60 * 1000;
export const MAX_POINTS = 240;
const INITIAL_CAPACITY = 16;
const STATUSES: readonly Status[] = ['ok', 'warn', 'fail'];

export interface HistoryPoint {
  /** Unix ms of the (first) run this point stands for. */
  t: number;
  /** Mean duration of the runs merged into this point. */
  durationMs: number;
  /** Worst result among them. */
  status: Status;
  runs: number;
}

class Series {
  t = new Float64Array(INITIAL_CAPACITY);
  ms = new Float32Array(INITIAL_CAPACITY);
  status = new Uint8Array(INITIAL_CAPACITY);
  runs = new Uint32Array(INITIAL_CAPACITY);
  length = 0;
  /** Runs less than this many ms after the last point are merged into it. */
  spacing = 0;

  get bytes(): number {
    return this.t.byteLength + this.ms.byteLength + this.status.byteLength + this.runs.byteLength;
  }

  push(t: number, ms: number, status: number): void {
    if (this.length === this.t.length) this.grow(Math.min(this.t.length * 2, MAX_POINTS + 1));
    const i = this.length++;
    this.t[i] = t;
    this.ms[i] = ms;
    this.status[i] = status;
    this.runs[i] = 1;
  }

  /** Folds point `from` into point `into` (runs-weighted mean, worst status). */
  merge(into: number, from: number): void {
    const a = this.runs[into] as number;
    const b = this.runs[from] as number;
    this.ms[into] = ((this.ms[into] as number) * a + (this.ms[from] as number) * b) / (a + b);
    this.status[into] = Math.max(this.status[into] as number, this.status[from] as number);
    this.runs[into] = a + b;
  }

  /** Halves the number of points by merging neighbours; returns the new length. */
  halve(): number {
    let w = 0;
    for (let r = 0; r < this.length; r += 2, w++) {
      this.move(r, w);
      if (r + 1 < this.length) this.merge(w, r + 1);
    }
    return (this.length = w);
  }

  dropBefore(oldest: number): void {
    let drop = 0;
    while (drop < this.length && (this.t[drop] as number) < oldest) drop++;
    if (drop === 0) return;
    for (const arr of [this.t, this.ms, this.status, this.runs]) arr.copyWithin(0, drop, this.length);
    this.length -= drop;
  }

  private move(from: number, to: number): void {
    this.t[to] = this.t[from] as number;
    this.ms[to] = this.ms[from] as number;
    this.status[to] = this.status[from] as number;
    this.runs[to] = this.runs[from] as number;
  }

  private grow(capacity: number): void {
    const copy = <A extends Float64Array | Float32Array | Uint8Array | Uint32Array>(old: A, next: A): A => (
      next.set(old),
      next
    );
    this.t = copy(this.t, new Float64Array(capacity));
    this.ms = copy(this.ms, new Float32Array(capacity));
    this.status = copy(this.status, new Uint8Array(capacity));
    this.runs = copy(this.runs, new Uint32Array(capacity));
  }
}

export class History {
  private readonly byCheck = new Map<string, Series>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records every finished run and forgets checks a reload removed or changed the type of. */
  attach(monitor: Monitor): this {
    monitor.onResult((rec) =>
      this.add(rec.check.name, Date.parse(rec.at), (rec.result.timings.total ?? 0) * 1000, rec.result.status),
    );
    const types = new Map(monitor.checks.map((c) => [c.name, c.type]));
    monitor.onConfig((config) => {
      const live = new Map(config.checks.map((c) => [c.name, c.type]));
      for (const name of [...this.byCheck.keys()]) if (live.get(name) !== types.get(name)) this.byCheck.delete(name);
      types.clear();
      for (const [k, v] of live) types.set(k, v);
    });
    return this;
  }

  add(check: string, t: number, durationMs: number, status: Status): void {
    let series = this.byCheck.get(check);
    if (!series) this.byCheck.set(check, (series = new Series()));
    const last = series.length - 1;
    series.push(t, durationMs, STATUS_RANK[status]);
    if (last >= 0 && t - (series.t[last] as number) < series.spacing) {
      series.merge(last, last + 1);
      series.length--;
    }
    series.dropBefore(this.now() - HISTORY_WINDOW_MS);
    if (series.length > MAX_POINTS) {
      const length = series.halve();
      series.spacing = Math.max(series.spacing * 2, (t - (series.t[0] as number)) / length);
    }
  }

  points(check: string): HistoryPoint[] {
    const series = this.byCheck.get(check);
    if (!series) return [];
    series.dropBefore(this.now() - HISTORY_WINDOW_MS);
    const out: HistoryPoint[] = [];
    for (let i = 0; i < series.length; i++) {
      out.push({
        t: series.t[i] as number,
        durationMs: series.ms[i] as number,
        status: STATUSES[series.status[i] as number] ?? 'fail',
        runs: series.runs[i] as number,
      });
    }
    return out;
  }

  get size(): number {
    return this.byCheck.size;
  }

  /** Bytes held by the points of every check. */
  get bytes(): number {
    let total = 0;
    for (const s of this.byCheck.values()) total += s.bytes;
    return total;
  }
}
