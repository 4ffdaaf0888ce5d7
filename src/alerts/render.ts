/**
 * Turns notifications into what a person reads at night: a title that says what is wrong, and a body with
 * the reason, the likely cause and fix, since when, the check's details and the checks folded into it.
 */
import { formatDuration } from '../util/format.js';
import type { JsonObject, JsonValue } from '../probes/types.js';
import { detailFacts, esc } from '../server/status-page.js';
import type { AlertEvent, Notification } from './types.js';

const LOG_LINES = 10;
const MAX_DETAILS_JSON = 1500;
/** TLS fields already said in words above. */
const TLS_SHOWN = { days_left: 1, names_covered: 1, names_missing: 1, sans: 1, problems: 1 };

function tag(e: AlertEvent): string {
  if (e.kind === 'resolved') return '[RECOVERED]';
  return e.status === 'warn' ? '[WARN]' : '[FAIL]';
}

export function eventTitle(e: AlertEvent): string {
  if (e.kind === 'resolved') return `[RECOVERED] ${e.check} after ${formatDuration(e.duration_ms ?? 0)}`;
  const folded =
    e.dependents.length > 0 ? ` (+${e.dependents.length} dependent${e.dependents.length === 1 ? '' : 's'})` : '';
  const still =
    e.kind === 'reminder' ? ` (still failing after ${formatDuration(Date.parse(e.at) - Date.parse(e.since))})` : '';
  return `${tag(e)} ${e.check}: ${e.reason}${folded}${still}`;
}

export function notificationTitle(n: Notification): string {
  const limited = n.rate_limited
    ? `[LIMIT] alert limit of ${n.rate_limited.limit}/h reached, quiet until ${n.rate_limited.quiet_until}: `
    : '';
  const [first] = n.events;
  if (n.events.length === 1 && first) return limited + eventTitle(first);
  const firing = n.events.filter((e) => e.kind !== 'resolved');
  const resolved = n.events.length - firing.length;
  const worst = firing.some((e) => e.status === 'fail') ? '[FAIL]' : firing.length > 0 ? '[WARN]' : '[RECOVERED]';
  const counts = [firing.length > 0 ? `${firing.length} failing` : '', resolved > 0 ? `${resolved} recovered` : '']
    .filter(Boolean)
    .join(', ');
  const names = n.events.map((e) => e.check);
  return `${limited}${worst} ${counts}: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
}

function ago(fromIso: string, toIso: string): string {
  return formatDuration(Math.max(0, Date.parse(toIso) - Date.parse(fromIso)));
}

function obj(v: JsonValue | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

function strings(v: JsonValue | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function unescapeHtml(html: string): string {
  return html.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_m, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name] as string,
  );
}

/** Detail lines as plain text: the facts the status page shows, plus SANs, problems and the last log lines. */
export function detailLines(type: string, details: JsonObject): string[] {
  const lines = detailFacts(type, details).map((f) => unescapeHtml(f.html));
  const tls = type === 'tls' ? details : obj(details.tls);
  if (tls) {
    const sans = strings(tls.sans);
    if (sans.length > 0) lines.push(`SANs: ${sans.join(', ')}`);
    const problems = strings(tls.problems);
    if (problems.length > 0) lines.push(`TLS problems: ${problems.join(', ')}`);
  }
  for (const c of Array.isArray(details.containers) ? details.containers : []) {
    const ctr = obj(c);
    if (!ctr) continue;
    const name = String(ctr.name ?? ctr.id ?? 'container');
    const facts = [`restart count ${typeof ctr.restart_count === 'number' ? ctr.restart_count : 0}`];
    if (typeof ctr.exit_code === 'number') facts.push(`exit code ${ctr.exit_code}`);
    facts.push(ctr.oom_killed === true ? 'OOM killed' : 'not OOM killed');
    if (typeof ctr.error === 'string' && ctr.error) facts.push(`error: ${ctr.error}`);
    lines.push(`${name}: ${facts.join(', ')}`);
    const logs = typeof ctr.logs === 'string' ? ctr.logs.trimEnd().split('\n').slice(-LOG_LINES) : [];
    if (logs.length > 0 && logs[0] !== '') lines.push(`last log lines of ${name}:`, ...logs.map((l) => `  | ${l}`));
  }
  // Other fields: scalars as "key: value", anything nested as capped JSON.
  for (const [key, value] of Object.entries(details)) {
    if (key === 'tls' || key === 'containers' || (type === 'tls' && key in TLS_SHOWN) || value === null) continue;
    if (typeof value !== 'object') lines.push(`${key}: ${String(value)}`);
    else if (type !== 'tls' && type !== 'port') {
      const json = JSON.stringify(value);
      lines.push(`${key}: ${json.length > MAX_DETAILS_JSON ? `${json.slice(0, MAX_DETAILS_JSON)}…` : json}`);
    }
  }
  return lines;
}

function dependentLine(e: AlertEvent, d: AlertEvent['dependents'][number]): string {
  return `${d.check}: ${d.reason} — probably because ${e.check} is ${e.status === 'warn' ? 'degraded' : 'failing'}`;
}

export function eventText(e: AlertEvent, publicUrl?: string): string {
  const out = [eventTitle(e), ''];
  out.push(`Check:  ${e.check} (${e.type})${e.description ? ` — ${e.description}` : ''}`);
  if (e.kind === 'resolved') {
    out.push(`Status: ok again at ${e.at}; it was failing since ${e.since} (${formatDuration(e.duration_ms ?? 0)})`);
    out.push(`Now:    ${e.reason}`);
  } else {
    out.push(`Status: ${e.status} since ${e.since} (${ago(e.since, e.at)} ago, was ${e.previous})`);
    out.push(`Reason: ${e.reason}`);
    if (e.hint) out.push(`Hint:   ${e.hint}`);
  }
  if (e.dependents.length > 0) {
    out.push('', 'Also failing, folded into this alert:');
    for (const d of e.dependents) out.push(`  - ${dependentLine(e, d)}`);
  }
  const facts = e.kind === 'resolved' ? [] : detailLines(e.type, e.details);
  if (facts.length > 0) out.push('', ...facts);
  if (Object.keys(e.labels).length > 0)
    out.push(
      '',
      `Labels: ${Object.entries(e.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  if (publicUrl) out.push('', `Status page: ${publicUrl}`);
  return out.join('\n');
}

export function notificationText(n: Notification): string {
  const head = n.rate_limited
    ? [
        `forgewatch sent ${n.rate_limited.limit} messages on this channel within the hour; further alerts are held back until ${n.rate_limited.quiet_until}. Check the status page for the current state.`,
        '',
      ]
    : [];
  return [
    ...head,
    n.events.map((e) => eventText(e, n.public_url)).join('\n\n----------------------------------------\n\n'),
  ].join('\n');
}

const COLOURS = { fail: '#cf222e', warn: '#9a6700', ok: '#1a7f37' } as const;

export function eventHtml(e: AlertEvent, publicUrl?: string): string {
  const colour = e.kind === 'resolved' ? COLOURS.ok : e.status === 'warn' ? COLOURS.warn : COLOURS.fail;
  const rows: [string, string][] = [
    ['Check', `${esc(e.check)} (${esc(e.type)})${e.description ? ` — ${esc(e.description)}` : ''}`],
  ];
  if (e.kind === 'resolved') {
    rows.push(
      ['Status', `ok again at ${esc(e.at)}; failing since ${esc(e.since)} (${formatDuration(e.duration_ms ?? 0)})`],
      ['Now', esc(e.reason)],
    );
  } else {
    rows.push(
      ['Status', `${esc(e.status)} since ${esc(e.since)} (${ago(e.since, e.at)} ago)`],
      ['Reason', esc(e.reason)],
    );
    if (e.hint) rows.push(['Hint', esc(e.hint)]);
  }
  const table = rows
    .map(([k, v]) => `<tr><th align="left" style="padding-right:12px">${k}</th><td>${v}</td></tr>`)
    .join('');
  const deps =
    e.dependents.length > 0
      ? `<p><b>Also failing, folded into this alert:</b></p><ul>${e.dependents.map((d) => `<li>${esc(dependentLine(e, d))}</li>`).join('')}</ul>`
      : '';
  const facts = e.kind === 'resolved' ? [] : detailLines(e.type, e.details);
  const factHtml = facts.length > 0 ? `<pre style="background:#f6f8fa;padding:8px">${esc(facts.join('\n'))}</pre>` : '';
  const link = publicUrl ? `<p><a href="${esc(publicUrl)}">Status page</a></p>` : '';
  return `<h2 style="color:${colour}">${esc(eventTitle(e))}</h2><table>${table}</table>${deps}${factHtml}${link}`;
}

export function notificationHtml(n: Notification): string {
  const head = n.rate_limited
    ? `<p><b>Alert limit reached:</b> further alerts are held back until ${esc(n.rate_limited.quiet_until)}.</p>`
    : '';
  return `<!doctype html><html><body style="font-family:sans-serif">${head}${n.events.map((e) => eventHtml(e, n.public_url)).join('<hr>')}</body></html>`;
}
