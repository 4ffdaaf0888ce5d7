/** The status page's small rows of a check run from several locations: one per location, what it saw. */
import { escapeHtml } from '../util/html.js';
import type { LocationEntry } from './fleet-status.js';

const STATUS_CLASS: Record<LocationEntry['status'], string> = { ok: 'ok', warn: 'warn', fail: 'bad', unknown: '' };

export function locationRows(locations: Record<string, LocationEntry> | undefined): string {
  if (!locations) return '';
  const rows = Object.entries(locations).map(
    ([name, l]) =>
      `<li class="${STATUS_CLASS[l.status]}" data-location="${escapeHtml(name)}" data-status="${l.status}"><b>${escapeHtml(name)}</b> ${l.status} · ${escapeHtml(l.reason)}${l.node ? ` <span class="node">(${escapeHtml(l.node)})</span>` : ''}</li>`,
  );
  return `<ul class="locations facts">${rows.join('')}</ul>`;
}
