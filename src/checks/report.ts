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
  /** A check run from several locations (in a fleet): this run for this node's location, the fleet's for the rest. */
  locations?: Record<string, { status: string; reason: string; node?: string; at?: string }>;
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

/** The narrowest the REASON column gets, however long the names: narrower, a reason is unreadable. */
const MIN_REASON_WIDTH = 30;

/**
 * One row per check; under it the check's facts (certificate days left, restarts...), with their tone in the
 * STATUS column (blank when neutral) and their text in the REASON column. With `width` (a terminal, a CI log)
 * the table fits it: reasons and facts are cut, the hints under the table wrap; without, all is shown in full (--wide).
 */
export function formatTable(report: CheckReport, width?: number): string {
  const rows = report.checks.map((c) => [c.name, c.status.toUpperCase(), c.reason, formatDuration(c.duration_ms)]);
  const header = ['NAME', 'STATUS', 'REASON', 'DURATION'];
  const natural = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const nameWidth = Math.min(40, natural[0] ?? 0);
  const statusWidth = natural[1] ?? 0;
  const durationWidth = natural[3] ?? 0;
  const reasonWidth =
    width === undefined
      ? (natural[2] ?? 0)
      : Math.max(MIN_REASON_WIDTH, width - nameWidth - statusWidth - durationWidth - 3 * COLUMN_GAP.length);
  const fit = (text: string, cells: number) => (text.length > cells ? `${text.slice(0, cells - 1)}…` : text);
  /** One line: a reason longer than its column is cut (…), so the facts under it stay in line; --wide shows it all. */
  const line = (name: string, status: string, reason: string, duration: string) =>
    [
      fit(name, nameWidth).padEnd(nameWidth),
      status.padEnd(statusWidth),
      (width === undefined ? reason : fit(reason, reasonWidth)).padEnd(reasonWidth),
      duration,
    ]
      .join(COLUMN_GAP)
      .trimEnd();
  const factLines = (c: CheckReportEntry) =>
    summaryFacts(c.type, c.details).map((f) =>
      line('', f.tone === 'neutral' ? '' : f.tone, f.text.replaceAll('\n', ' '), ''),
    );
  const hints = report.checks
    .filter((c) => c.status !== 'ok' && c.hint)
    .flatMap((c) => {
      const text = `${c.name}: ${c.hint ?? ''}`;
      return width === undefined
        ? [`  ${text}`]
        : wrap(text, width - 4).map((part, i) => `${i ? '    ' : '  '}${part}`);
    });
  const failing = report.checks.filter((c) => c.status === 'fail').length;
  return [
    line('NAME', 'STATUS', 'REASON', 'DURATION'),
    ...report.checks.flatMap((c, i) => {
      const [name = '', status = '', reason = '', duration = ''] = rows[i] ?? [];
      return [line(name, status, reason, duration), ...factLines(c)];
    }),
    '',
    `${report.checks.length - failing} passed, ${failing} failed`,
    ...(hints.length ? ['', 'hints:', ...hints] : []),
  ].join('\n');
}

const COLUMN_GAP = '  ';

/** Splits text into lines of at most `width` characters, at spaces where it can; a longer word is cut. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = word;
    while (rest.length > width) {
      if (current) lines.push(current);
      current = '';
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    if (!current) current = rest;
    else if (current.length + 1 + rest.length <= width) current += ` ${rest}`;
    else {
      lines.push(current);
      current = rest;
    }
  }
  if (current || lines.length === 0) lines.push(current);
  return lines;
}
