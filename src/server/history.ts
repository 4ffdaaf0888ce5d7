/**
 * Per-check response-time history for the status page: the last 24 hours, in memory only.
 * Memory is bounded per check whatever the interval: runs are kept one by one until a check has
 * MAX_POINTS of them; then neighbours are merged pairwise and later runs closer together than the
 * new spacing fold into the last point, so the spacing grows until 24 hours fit.
 */
import type { Monitor } from '../checks/monitor.js';
import { STATUS_RANK, type Status } from '../probes/types.js';

export const HISTORY_WINDOW_MS = 24 * 60 * 60 * 1000;
export const MAX_POINTS = 480;

export interface HistoryPoint {
  /** Unix ms of the (first) run this point stands for. */
  t: number;
  /** Mean duration of the runs merged into this point. */
  durationMs: number;
  /** Worst result among them. */
  status: Status;
  runs: number;
}

interface Series {
  points: HistoryPoint[];
  /** Runs less than this many ms after the last point are merged into it. */
  spacing: number;
}

export class History {
  private readonly byCheck = new Map<string, Series>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records every finished run and forgets checks a reload removed or changed the type of. */
  attach(monitor: Monitor): this {
    monitor.onResult((rec) => this.add(rec.check.name, Date.parse(rec.at), (rec.result.timings.total ?? 0) * 1000, rec.result.status));
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
    if (!series) this.byCheck.set(check, (series = { points: [], spacing: 0 }));
    const { points } = series;
    const last = points.at(-1);
    const point = { t, durationMs, status, runs: 1 };
    if (last && t - last.t < series.spacing) points[points.length - 1] = merge(last, point);
    else points.push(point);
    this.prune(points);
    if (points.length > MAX_POINTS) {
      const merged: HistoryPoint[] = [];
      for (let i = 0; i < points.length; i += 2) merged.push(points[i + 1] ? merge(points[i] as HistoryPoint, points[i + 1] as HistoryPoint) : (points[i] as HistoryPoint));
      series.points = merged;
      series.spacing = Math.max(series.spacing * 2, (t - (merged[0] as HistoryPoint).t) / merged.length);
    }
  }

  points(check: string): HistoryPoint[] {
    const series = this.byCheck.get(check);
    if (!series) return [];
    this.prune(series.points);
    return series.points.slice();
  }

  get size(): number {
    return this.byCheck.size;
  }

  private prune(points: HistoryPoint[]): void {
    const oldest = this.now() - HISTORY_WINDOW_MS;
    let drop = 0;
    while (drop < points.length && (points[drop] as HistoryPoint).t < oldest) drop++;
    if (drop > 0) points.splice(0, drop);
  }
}

function merge(a: HistoryPoint, b: HistoryPoint): HistoryPoint {
  const runs = a.runs + b.runs;
  return {
    t: a.t,
    durationMs: (a.durationMs * a.runs + b.durationMs * b.runs) / runs,
    status: STATUS_RANK[b.status] > STATUS_RANK[a.status] ? b.status : a.status,
    runs,
  };
}
