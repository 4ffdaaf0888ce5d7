/**
 * Turns notifications into what a person reads at night: a title that says what is wrong, and a body with
 * the reason, the likely cause and fix, since when, the check's details and the checks folded into it.
 */
import { formatDuration } from '../util/format.js';
import { factsFor } from '../probes/index.js';
import type { JsonObject } from '../probes/types.js';
import { escapeHtml } from '../util/html.js';
import type { AlertEvent, Notification } from './types.js';

function tag(e: AlertEvent): string {
  if (e.kind === 'resolved') return '[RECOVERED]';
  return e.status === 'warn' ? '[WARN]' : '[FAIL]';
}

export function eventTitle(e: AlertEvent): string {
  // A fleet node is not a check: "[FAIL] forgewatch node web-1 (fra) stopped reporting".
  if (e.type === 'node' && e.kind !== 'resolved') return `${tag(e)} ${e.check} ${e.reason}`;
  if (e.kind === 'resolved') return `[RECOVERED] ${e.check} after ${formatDuration(e.duration_ms ?? 0)}`;
  const folded =
    e.dependents.length > 0 ? ` (+${e.dependents.length} dependent${e.dependents.length === 1 ? '' : 's'})` : '';
  if (e.kind === 'changed') return `[STILL FAILING] ${e.check}: now ${e.reason}${folded}`;
  const still =
    e.kind === 'reminder' ? ` (still failing after ${formatDuration(Date.parse(e.at) - Date.parse(e.since))})` : '';
  return `${tag(e)} ${e.check}: ${e.reason}${folded}${still}`;
}

/** The line a failing-open fleet node adds to what it sends on its own. */
export function uncoordinatedNote(n: Notification): string | undefined {
  const u = n.uncoordinated;
  if (!u) return undefined;
  return `Sent by ${u.node} without fleet coordination (${u.reason}): another forgewatch node may send this alert too.`;
}

export function notificationTitle(n: Notification): string {
  const title = plainTitle(n);
  return n.uncoordinated ? `${title} [uncoordinated: ${n.uncoordinated.node}]` : title;
}

function plainTitle(n: Notification): string {
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

/**
 * Detail lines as plain text: every fact the check's kind states about its details, the ones the status page
 * shows first, then those only an alert has room for (SANs, problem codes, the last log lines, raw fields).
 */
export function detailLines(type: string, details: JsonObject): string[] {
  return factsFor(type, details).flatMap((f) => f.text.split('\n'));
}

function dependentLine(e: AlertEvent, d: AlertEvent['dependents'][number]): string {
  return `${d.check}: ${d.reason} — probably because ${e.check} is ${e.status === 'warn' ? 'degraded' : 'failing'}`;
}

function eventText(e: AlertEvent, publicUrl?: string): string {
  const out = [eventTitle(e), ''];
  out.push(`Check:  ${e.check} (${e.type})${e.description ? ` — ${e.description}` : ''}`);
  if (e.kind === 'resolved') {
    out.push(`Status: ok again at ${e.at}; it was failing since ${e.since} (${formatDuration(e.duration_ms ?? 0)})`);
    out.push(`Now:    ${e.reason}`);
  } else {
    out.push(`Status: ${e.status} since ${e.since} (${ago(e.since, e.at)} ago, was ${e.previous})`);
    out.push(`Reason: ${e.reason}`);
    if (e.previous_reason !== undefined) out.push(`Before: ${e.previous_reason}`);
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
  const note = uncoordinatedNote(n);
  if (note) head.push(note, '');
  return [
    ...head,
    n.events.map((e) => eventText(e, n.public_url)).join('\n\n----------------------------------------\n\n'),
  ].join('\n');
}

const COLOURS = { fail: '#cf222e', warn: '#9a6700', ok: '#1a7f37' } as const;

function eventHtml(e: AlertEvent, publicUrl?: string): string {
  const colour = e.kind === 'resolved' ? COLOURS.ok : e.status === 'warn' ? COLOURS.warn : COLOURS.fail;
  const rows: [string, string][] = [
    [
      'Check',
      `${escapeHtml(e.check)} (${escapeHtml(e.type)})${e.description ? ` — ${escapeHtml(e.description)}` : ''}`,
    ],
  ];
  if (e.kind === 'resolved') {
    rows.push(
      [
        'Status',
        `ok again at ${escapeHtml(e.at)}; failing since ${escapeHtml(e.since)} (${formatDuration(e.duration_ms ?? 0)})`,
      ],
      ['Now', escapeHtml(e.reason)],
    );
  } else {
    rows.push(
      ['Status', `${escapeHtml(e.status)} since ${escapeHtml(e.since)} (${ago(e.since, e.at)} ago)`],
      ['Reason', escapeHtml(e.reason)],
    );
    if (e.previous_reason !== undefined) rows.push(['Before', escapeHtml(e.previous_reason)]);
    if (e.hint) rows.push(['Hint', escapeHtml(e.hint)]);
  }
  const table = rows
    .map(([k, v]) => `<tr><th align="left" style="padding-right:12px">${k}</th><td>${v}</td></tr>`)
    .join('');
  const deps =
    e.dependents.length > 0
      ? `<p><b>Also failing, folded into this alert:</b></p><ul>${e.dependents.map((d) => `<li>${escapeHtml(dependentLine(e, d))}</li>`).join('')}</ul>`
      : '';
  const facts = e.kind === 'resolved' ? [] : detailLines(e.type, e.details);
  const factHtml =
    facts.length > 0 ? `<pre style="background:#f6f8fa;padding:8px">${escapeHtml(facts.join('\n'))}</pre>` : '';
  const link = publicUrl ? `<p><a href="${escapeHtml(publicUrl)}">Status page</a></p>` : '';
  return `<h2 style="color:${colour}">${escapeHtml(eventTitle(e))}</h2><table>${table}</table>${deps}${factHtml}${link}`;
}

export function notificationHtml(n: Notification): string {
  const head = n.rate_limited
    ? `<p><b>Alert limit reached:</b> further alerts are held back until ${escapeHtml(n.rate_limited.quiet_until)}.</p>`
    : '';
  const note = uncoordinatedNote(n);
  const noteHtml = note ? `<p><i>${escapeHtml(note)}</i></p>` : '';
  return `<!doctype html><html><body style="font-family:sans-serif">${head}${noteHtml}${n.events.map((e) => eventHtml(e, n.public_url)).join('<hr>')}</body></html>`;
}
