/**
 * Per-check response-time history for the status page: the last 24 hours, in memory only.
 * Memory is bounded per check whatever the interval: when a check has more than MAX_POINTS
 * points, the older half is merged pairwise, so recent runs keep full detail and old ones thin out.
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

export class History {
  private readonly byCheck = new Map<string, HistoryPoint[]>();

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
    let points = this.byCheck.get(check);
    if (!points) this.byCheck.set(check, (points = []));
    points.push({ t, durationMs, status, runs: 1 });
    this.prune(points);
  }

  points(check: string): HistoryPoint[] {
    const points = this.byCheck.get(check);
    if (!points) return [];
    this.prune(points);
    return points.slice();
  }

  get size(): number {
    return this.byCheck.size;
  }

  private prune(points: HistoryPoint[]): void {
    const oldest = this.now() - HISTORY_WINDOW_MS;
    let drop = 0;
    while (drop < points.length && (points[drop] as HistoryPoint).t < oldest) drop++;
    if (drop > 0) points.splice(0, drop);
    if (points.length <= MAX_POINTS) return;
    const half = Math.floor(points.length / 2) & ~1;
    const merged: HistoryPoint[] = [];
    for (let i = 0; i < half; i += 2) merged.push(mergePair(points[i] as HistoryPoint, points[i + 1] as HistoryPoint));
    points.splice(0, half, ...merged);
  }
}

function mergePair(a: HistoryPoint, b: HistoryPoint): HistoryPoint {
  const runs = a.runs + b.runs;
  return {
    t: a.t,
    durationMs: (a.durationMs * a.runs + b.durationMs * b.runs) / runs,
    status: STATUS_RANK[b.status] > STATUS_RANK[a.status] ? b.status : a.status,
    runs,
  };
}
