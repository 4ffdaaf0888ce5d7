/** The `/check` JSON and the CLI's table: one shape for "what happened when these checks ran". */
import type { CheckConfig } from '../config/load.js';
import { formatDuration } from '../util/format.js';
import { summaryFacts } from '../probes/index.js';
import type { JsonObject, Status } from '../probes/types.js';
import type { RunRecord } from './monitor.js';

interface CheckReportEntry {
  name: string;
  type: string;
  status: Status;
  reason: string;
  hint: string | null;
  duration_ms: number;
  details: JsonObject;
}

export interface CheckReport {
  ok: boolean;
  checked_at: string;
  checks: CheckReportEntry[];
}

export function buildReport(records: RunRecord[], at = new Date()): CheckReport {
  const checks = records.map(({ check, result }) => ({
    name: check.name,
    type: check.type,
    status: result.status,
    reason: result.reason,
    hint: result.hint ?? null,
    duration_ms: Math.round((result.timings.total ?? 0) * 1000 * 10) / 10,
    details: result.details,
  }));
  return { ok: checks.every((c) => c.status !== 'fail'), checked_at: at.toISOString(), checks };
}

interface CheckFilter {
  names?: string[];
  type?: string;
  /** "key:value" pairs (or a bare key); a check must carry all of them. */
  labels?: string[];
}

/** Which checks a `/check` call or `forgewatch check` runs; a filter that selects nothing is an error, never an empty pass. */
type Selection =
  | { selected: CheckConfig[]; error?: undefined }
  | { selected?: undefined; error: { kind: 'usage' | 'not_found'; message: string } };

export function selectChecks(checks: CheckConfig[], filter: CheckFilter, knownTypes: readonly string[]): Selection {
  const names = filter.names ?? [];
  // An empty name would otherwise mean "no name filter" and run every check.
  if (names.some((n) => n.trim() === ''))
    return { error: { kind: 'usage', message: 'a check name is empty: give the name of a configured check' } };
  if (filter.type !== undefined && !knownTypes.includes(filter.type)) {
    return {
      error: {
        kind: 'usage',
        message: `unknown check type ${JSON.stringify(filter.type)}; the types are ${knownTypes.join(', ')}`,
      },
    };
  }
  const known = new Set(checks.map((c) => c.name));
  const unknownNames = names.filter((n) => !known.has(n));
  if (unknownNames.length > 0)
    return { error: { kind: 'not_found', message: `no configured check named ${unknownNames.join(', ')}` } };
  const labels = (filter.labels ?? []).map((l) => {
    const i = l.indexOf(':');
    return i < 0 ? [l, undefined] : [l.slice(0, i), l.slice(i + 1)];
  });
  const selected = checks.filter(
    (c) =>
      (names.length === 0 || names.includes(c.name)) &&
      (!filter.type || c.type === filter.type) &&
      labels.every(([k, v]) => k !== undefined && (v === undefined ? k in c.labels : c.labels[k] === v)),
  );
  if (selected.length === 0) {
    const given = [
      ...names.map((n) => `name=${n}`),
      ...(filter.type ? [`type=${filter.type}`] : []),
      ...(filter.labels ?? []).map((l) => `label=${l}`),
    ];
    return {
      error: {
        kind: 'not_found',
        message: given.length ? `no check matches ${given.join(', ')}` : 'no checks are configured',
      },
    };
  }
  return { selected };
}

/**
 * One row per check; under it the check's facts (certificate days left, restarts...), with their tone in the
 * STATUS column (blank when neutral) and their text in the REASON column.
 */
export function formatTable(report: CheckReport): string {
  const rows = report.checks.map((c) => [c.name, c.status.toUpperCase(), c.reason, formatDuration(c.duration_ms)]);
  const header = ['NAME', 'STATUS', 'REASON', 'DURATION'];
  const widths = header.map((h, i) =>
    Math.min(i === 2 ? 90 : 40, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1
          ? c
          : c.length > (widths[i] ?? 0)
            ? `${c.slice(0, (widths[i] ?? 1) - 1)}…`
            : c.padEnd(widths[i] ?? 0),
      )
      .join('  ');
  const factLines = (c: CheckReportEntry) =>
    summaryFacts(c.type, c.details).map((f) =>
      line(['', f.tone === 'neutral' ? '' : f.tone, f.text.replaceAll('\n', ' ')]).trimEnd(),
    );
  const hints = report.checks.filter((c) => c.status !== 'ok' && c.hint).map((c) => `  ${c.name}: ${c.hint}`);
  const failing = report.checks.filter((c) => c.status === 'fail').length;
  return [
    line(header),
    ...report.checks.flatMap((c, i) => [line(rows[i] ?? []), ...factLines(c)]),
    '',
    `${report.checks.length - failing} passed, ${failing} failed`,
    ...(hints.length ? ['', 'hints:', ...hints] : []),
  ].join('\n');
}
