/**
 * Per-check response-time history for the status page: the last 24 hours, in memory only.
 * Memory is bounded per check whatever the interval: runs are kept one by one until a check has
 * MAX_POINTS of them; then neighbours are merged pairwise and later runs closer together than the
 * new spacing fold into the last point, so the spacing grows until 24 hours fit.
 * Points live in one buffer per check (17 bytes each) that grows on demand, so 10,000 checks with a full
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

/** Bytes per point: the time (float64), the mean duration (float32), the runs (uint32) and the worst status (uint8). */
const POINT_BYTES = 17;
const T = 0;
const MS = 8;
const RUNS = 12;
const STATUS = 16;

/**
 * A check's points in one buffer, read through one DataView: four typed arrays per check cost eight objects and four
 * allocations each, which at ten thousand checks weighed more than the points themselves.
 */
class Series {
  private view = new DataView(new ArrayBuffer(INITIAL_CAPACITY * POINT_BYTES));
  length = 0;
  /** Runs less than this many ms after the last point are merged into it. */
  spacing = 0;

  get bytes(): number {
    return this.view.byteLength;
  }

  t(i: number): number {
    return this.view.getFloat64(i * POINT_BYTES + T, true);
  }

  ms(i: number): number {
    return this.view.getFloat32(i * POINT_BYTES + MS, true);
  }

  runs(i: number): number {
    return this.view.getUint32(i * POINT_BYTES + RUNS, true);
  }

  status(i: number): number {
    return this.view.getUint8(i * POINT_BYTES + STATUS);
  }

  push(t: number, ms: number, status: number): void {
    if ((this.length + 1) * POINT_BYTES > this.view.byteLength)
      this.grow(Math.min((this.view.byteLength / POINT_BYTES) * 2, MAX_POINTS + 1));
    this.set(this.length++, t, ms, 1, status);
  }

  /** Folds point `from` into point `into` (runs-weighted mean, worst status). */
  merge(into: number, from: number): void {
    const a = this.runs(into);
    const b = this.runs(from);
    const ms = (this.ms(into) * a + this.ms(from) * b) / (a + b);
    this.set(into, this.t(into), ms, a + b, Math.max(this.status(into), this.status(from)));
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
    while (drop < this.length && this.t(drop) < oldest) drop++;
    if (drop === 0) return;
    const bytes = new Uint8Array(this.view.buffer);
    bytes.copyWithin(0, drop * POINT_BYTES, this.length * POINT_BYTES);
    this.length -= drop;
  }

  private set(i: number, t: number, ms: number, runs: number, status: number): void {
    const at = i * POINT_BYTES;
    this.view.setFloat64(at + T, t, true);
    this.view.setFloat32(at + MS, ms, true);
    this.view.setUint32(at + RUNS, runs, true);
    this.view.setUint8(at + STATUS, status);
  }

  private move(from: number, to: number): void {
    if (from !== to) this.set(to, this.t(from), this.ms(from), this.runs(from), this.status(from));
  }

  private grow(capacity: number): void {
    const next = new Uint8Array(capacity * POINT_BYTES);
    next.set(new Uint8Array(this.view.buffer, 0, this.length * POINT_BYTES));
    this.view = new DataView(next.buffer);
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
    if (last >= 0 && t - series.t(last) < series.spacing) {
      series.merge(last, last + 1);
      series.length--;
    }
    series.dropBefore(this.now() - HISTORY_WINDOW_MS);
    if (series.length > MAX_POINTS) {
      const length = series.halve();
      series.spacing = Math.max(series.spacing * 2, (t - series.t(0)) / length);
    }
  }

  points(check: string): HistoryPoint[] {
    const series = this.byCheck.get(check);
    if (!series) return [];
    series.dropBefore(this.now() - HISTORY_WINDOW_MS);
    const out: HistoryPoint[] = [];
    for (let i = 0; i < series.length; i++) {
      out.push({
        t: series.t(i),
        durationMs: series.ms(i),
        status: STATUSES[series.status(i)] ?? 'fail',
        runs: series.runs(i),
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
