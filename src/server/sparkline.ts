/** A check's response times over its kept history as a small inline SVG for the status page. */
import { STATUS_RANK } from '../probes/types.js';
import { formatDuration } from '../util/format.js';
import { escapeHtml } from '../util/html.js';
import type { HistoryPoint } from './history.js';

const SPARK_W = 160;
const SPARK_H = 36;
/** Two pixels per point is as fine as the eye can see; it also keeps a page of many checks small. */
const SPARK_MAX_POINTS = 80;

/** Merges neighbouring points until at most `max` are left (runs-weighted mean, worst status). */
function thin(points: HistoryPoint[], max: number): HistoryPoint[] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: HistoryPoint[] = [];
  for (let i = 0; i < points.length; i += per) {
    const group = points.slice(i, i + per);
    const runs = group.reduce((n, p) => n + p.runs, 0);
    const worst = group.reduce(
      (w, p) => (STATUS_RANK[p.status] > STATUS_RANK[w] ? p.status : w),
      'ok' as HistoryPoint['status'],
    );
    out.push({
      t: group[0]?.t ?? 0,
      durationMs: group.reduce((sum, p) => sum + p.durationMs * p.runs, 0) / runs,
      status: worst,
      runs,
    });
  }
  return out;
}

/** Response time over the kept history; failed runs are red dots (a lone first run is a dot too). */
export function sparkline(all: HistoryPoint[]): string {
  const points = thin(all, SPARK_MAX_POINTS);
  if (points.length === 0)
    return `<svg class="sparkline" width="${SPARK_W}" height="${SPARK_H}" role="img" aria-label="no response times yet"></svg>`;
  const values = points.map((p) => p.durationMs);
  const max = Math.max(...values);
  const min = Math.min(...values);
  const x = (i: number) => (points.length === 1 ? SPARK_W / 2 : 2 + (i * (SPARK_W - 4)) / (points.length - 1));
  // From zero, not from the minimum: 4 ms against 5 ms is a small step, not the full height.
  const y = (ms: number) => SPARK_H - 3 - (max > 0 ? ms / max : 0) * (SPARK_H - 6);
  const line = points.map((p, i) => `${x(i).toFixed(1)},${y(p.durationMs).toFixed(1)}`).join(' ');
  const dots = points
    .map((p, i) =>
      p.status === 'ok' && points.length > 1
        ? ''
        : `<circle cx="${x(i).toFixed(1)}" cy="${y(p.durationMs).toFixed(1)}" r="2.2" class="${p.status}"/>`,
    )
    .join('');
  const lastMs = values[values.length - 1] ?? 0;
  const label = `response time: last ${formatDuration(lastMs)}, min ${formatDuration(min)}, max ${formatDuration(max)} over ${all.reduce((n, p) => n + p.runs, 0)} runs`;
  return `<svg class="sparkline" width="${SPARK_W}" height="${SPARK_H}" viewBox="0 0 ${SPARK_W} ${SPARK_H}" role="img" aria-label="${escapeHtml(label)}"><title>${escapeHtml(label)}</title><polyline points="${line}"/>${dots}</svg><span class="ms">${escapeHtml(formatDuration(lastMs))}</span>`;
}
