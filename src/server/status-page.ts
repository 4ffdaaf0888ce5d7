/**
 * The status page (`GET /`) and its data (`GET /api/history?check=NAME`): server-rendered HTML,
 * inline CSS and SVG, no scripts and nothing fetched from elsewhere, so it works offline and on a phone.
 */
import type { Request } from 'express';
import { failingRoot, failingStatus, type CheckStates } from '../alerts/check-states.js';
import type { CheckView } from '../checks/monitor.js';
import { DISCOVERED_CONFIG, WRITE_DISCOVERED } from '../config/default.js';
import { formatDuration } from '../util/format.js';
import { summaryFacts } from '../probes/index.js';
import { locationRows } from './location-rows.js';
import type { Fact, FactTone } from '../probes/types.js';
import { sparkline } from './sparkline.js';
import { escapeHtml } from '../util/html.js';
import type { RouteInstaller } from './app.js';
import { bearerToken, sameSecret } from './auth.js';
import { checkViews, type FleetCheckView, type FleetGlance } from './fleet-status.js';
import { HISTORY_WINDOW_MS, type History, type HistoryPoint } from './history.js';

/** How often the page reloads itself. */
const REFRESH_SECONDS = 15;

const ORDER: Record<string, number> = { fail: 0, warn: 1, unknown: 2, ok: 3 };

export function statusPage(history: History): RouteInstaller {
  return (app, { monitor, requireToken, fleet: fleetOf }) => {
    app.get('/', (req, res) => {
      const token = monitor.config.server.token;
      const full = !token || tokenGiven(req, token);
      const fleet = fleetOf?.();
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(
          renderPage(checkViews(monitor, fleet), history, {
            full,
            now: Date.now(),
            ...(fleet ? { fleet: { node: fleet.node, ...fleet.glance() } } : {}),
            discovered: monitor.config.source === DISCOVERED_CONFIG,
          }),
        );
    });

    app.get('/api/history', requireToken, (req, res) => {
      const name = req.query.check;
      if (typeof name !== 'string' || name === '') {
        res.status(400).json({ error: 'pass the check name: /api/history?check=NAME' });
        return;
      }
      if (!monitor.view(name)) {
        res.status(404).json({ error: `no configured check named ${name}` });
        return;
      }
      res.json({
        check: name,
        window_seconds: HISTORY_WINDOW_MS / 1000,
        points: history.points(name).map((p) => ({
          at: new Date(p.t).toISOString(),
          duration_ms: Math.round(p.durationMs * 10) / 10,
          status: p.status,
          runs: p.runs,
        })),
      });
    });
  };
}

/** The token as `Authorization: Bearer …` (API clients, a proxy) or `?token=…` (a bookmark; the refresh keeps it). */
function tokenGiven(req: Request, token: string): boolean {
  return sameSecret(bearerToken(req) ?? (typeof req.query.token === 'string' ? req.query.token : undefined), token);
}

interface RenderOptions {
  full: boolean;
  now: number;
  /** The fleet this node is part of: a banner, and the node that ran each check. */
  fleet?: FleetGlance & { node: string };
  /** No config file: the checks are what discovery found, and the page says how to keep them. */
  discovered?: boolean;
}

const byStatusThenName = (a: CheckView, b: CheckView) =>
  (ORDER[a.state.status] ?? 9) - (ORDER[b.state.status] ?? 9) || a.check.name.localeCompare(b.check.name);

interface Group {
  view: CheckView;
  /** Failing checks whose failing dependency is this one: the alert folds them into its message. */
  dependents: CheckView[];
}

/**
 * The checks in the order a person reads an outage: each failing root cause with the checks it takes down under
 * it (the fold the alerts make), worst group first, then by name.
 */
function grouped(views: CheckView[]): Group[] {
  const byName = new Map(views.map((v) => [v.check.name, v]));
  const checks: CheckStates = {
    state: (name) => byName.get(name)?.state,
    lastResult: () => undefined,
    dependsOn: (name) => byName.get(name)?.check.depends_on ?? [],
  };
  const rootOf = (v: CheckView) => {
    const root = failingStatus(v.state.status) ? failingRoot(checks, v.check.name) : undefined;
    return root !== undefined && root !== v.check.name ? root : undefined;
  };
  const roots = new Map(views.map((v) => [v.check.name, rootOf(v)]));
  const groups = new Map<string, Group>();
  // A root that itself has a root is only possible in a dependency cycle: such a check stands on its own.
  const under = (v: CheckView) => {
    const root = roots.get(v.check.name);
    return root !== undefined && roots.get(root) === undefined ? root : undefined;
  };
  for (const v of views) if (under(v) === undefined) groups.set(v.check.name, { view: v, dependents: [] });
  for (const v of views) {
    const root = under(v);
    if (root !== undefined) groups.get(root)?.dependents.push(v);
  }
  const worst = (g: Group) => Math.min(...[g.view, ...g.dependents].map((v) => ORDER[v.state.status] ?? 9));
  for (const g of groups.values()) g.dependents.sort(byStatusThenName);
  return [...groups.values()].sort((a, b) => worst(a) - worst(b) || byStatusThenName(a.view, b.view));
}

export function renderPage(views: FleetCheckView[], history: History, opts: RenderOptions): string {
  const counts = { fail: 0, warn: 0, unknown: 0, ok: 0 };
  for (const v of views) counts[v.state.status]++;
  const headline =
    counts.fail > 0
      ? `${counts.fail} failing`
      : counts.warn > 0
        ? `${counts.warn} warning`
        : views.length === 0
          ? 'no checks'
          : counts.unknown > 0
            ? 'starting'
            : 'all ok';
  const states = new Map(views.map((v) => [v.check.name, v.state.status]));
  const row = (v: FleetCheckView, root?: string) =>
    opts.full ? fullRow(v, v.recorded ? [] : history.points(v.check.name), opts.now, states, root) : briefRow(v, root);
  const rows = grouped(views)
    .flatMap((g) => [row(g.view), ...g.dependents.map((d) => row(d, g.view.check.name))])
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<title>${escapeHtml(headline)} · forgewatch</title>
<style>${CSS}</style></head>
<body><header><h1>forgewatch</h1><p class="summary summary-${counts.fail ? 'fail' : counts.warn ? 'warn' : 'ok'}">${escapeHtml(headline)}</p>
<p class="counts">${(['fail', 'warn', 'unknown', 'ok'] as const).map((s) => `<span class="pill ${s}">${counts[s]} ${s}</span>`).join(' ')}</p>
${opts.full && opts.fleet ? fleetBanner(opts.fleet) : ''}${opts.discovered ? DISCOVERED_NOTE : ''}<p class="meta">Updated ${escapeHtml(new Date(opts.now).toISOString().replace('T', ' ').slice(0, 19))} UTC · refreshes every ${REFRESH_SECONDS}s${opts.full ? '' : ' · names and states only: open with ?token=… for details'}</p></header>
<main><ul class="checks">
${rows || '<li class="empty">No checks configured.</li>'}
</ul></main></body></html>`;
}

/** The list item's opening tag; a dependent is marked and indented under its root cause. */
function itemTag(v: CheckView, root: string | undefined): string {
  const s = v.state.status;
  return root === undefined
    ? `<li class="check ${s}" data-check="${escapeHtml(v.check.name)}" data-status="${s}">`
    : `<li class="check ${s} dependent" data-check="${escapeHtml(v.check.name)}" data-status="${s}" data-root="${escapeHtml(root)}" title="probably failing because ${escapeHtml(root)} is">`;
}

function briefRow(v: CheckView, root?: string): string {
  const s = v.state.status;
  return `${itemTag(v, root)}<div class="head"><span class="badge ${s}">${s}</span><span class="name">${escapeHtml(v.check.name)}</span></div></li>`;
}

/**
 * Who else watches: the members and the leader, a node left alone, a config that differs from the leader's, and
 * while etcd cannot be reached, why this node runs (and alerts on) every check by itself.
 */
const DISCOVERED_NOTE = `<p class="discovered">No config file: these checks were discovered on this machine (nginx, certbot, containers, listening ports). To keep and edit them: <code>${escapeHtml(WRITE_DISCOVERED)}</code>, then <code>forgewatch serve -c forgewatch.yaml</code></p>`;

function fleetBanner(fleet: FleetGlance & { node: string }): string {
  if (!fleet.coordination.up)
    return `<p class="fleet down">cannot coordinate through etcd (${escapeHtml(fleet.coordination.reason)}): this node runs every check and alerts on its own</p>`;
  const others = fleet.members.filter((m) => m !== fleet.node);
  const who =
    others.length === 0
      ? `fleet of one remaining node: ${escapeHtml(fleet.node)} runs every check, no other node watches it`
      : `fleet of ${fleet.members.length} members: ${fleet.members.map((m) => `<span class="member">${escapeHtml(m)}</span>`).join(', ')}`;
  const leader = fleet.leader === null ? 'no leader yet' : `leader ${escapeHtml(fleet.leader)}`;
  const drift =
    fleet.config.matches === false
      ? `<p class="fleet drift">this node's config differs from the leader ${escapeHtml(fleet.leader ?? '')}'s: reload or deploy the same file on every node</p>`
      : '';
  return `<p class="fleet${others.length === 0 ? ' alone' : ''}">${who} · ${leader} · this page from ${escapeHtml(fleet.node)}</p>${drift}`;
}

function fullRow(
  v: FleetCheckView,
  points: HistoryPoint[],
  now: number,
  states: Map<string, string>,
  root?: string,
): string {
  const s = v.state.status;
  const last = v.last;
  const lastStatus = last?.result.status;
  const pending =
    last && lastStatus !== s
      ? ` <span class="pending" title="the last run disagrees; the status moves after the check's threshold">last run: ${lastStatus}</span>`
      : '';
  const facts = last ? summaryFacts(v.check.type, last.result.details) : [];
  // A failing dependency is the likely cause, as in the alert that folds this check under it.
  const dep = (d: string) =>
    states.get(d) === 'fail' && s !== 'ok'
      ? `<strong class="cause">${escapeHtml(d)} (failing)</strong>`
      : escapeHtml(d);
  const deps =
    v.check.depends_on.length > 0
      ? `<span class="deps">depends on ${v.check.depends_on.map(dep).join(', ')}</span>`
      : '';
  return `${itemTag(v, root)}
<div class="head"><span class="badge ${s}">${s}</span><span class="name">${escapeHtml(v.check.name)}</span><span class="type">${escapeHtml(v.check.type)}</span>${v.node === undefined ? '' : `<span class="node" title="the node that ran it">on ${escapeHtml(v.node)}</span>`}${pending}</div>
<div class="body">
<p class="reason">${last ? escapeHtml(last.result.reason) : v.running ? 'first run under way…' : 'not run yet'}</p>
${last?.result.hint && lastStatus !== 'ok' ? `<p class="hint">${escapeHtml(last.result.hint)}</p>` : ''}
${facts.length > 0 ? `<ul class="facts">${facts.map(factItem).join('')}</ul>` : ''}${locationRows(v.locations)}
<p class="when"><span title="${escapeHtml(v.state.since)}">${s} for ${elapsed(now, v.state.since)}</span>${last ? ` · <span title="${escapeHtml(last.at)}">${v.recorded ? 'last change seen' : 'last run'} ${now - Date.parse(last.at) < 1000 ? 'just now' : `${elapsed(now, last.at)} ago`}</span>` : ''}${deps ? ` · ${deps}` : ''}</p>
</div>
<div class="spark">${sparkline(points)}</div>
</li>`;
}

/** The status page's class per tone; `bad` for fail, as the stylesheet names it. */
const TONE_CLASS: Record<FactTone, string> = { fail: 'bad', warn: 'warn', ok: 'ok', neutral: '' };

function factItem(f: Fact): string {
  return `<li class="${TONE_CLASS[f.tone]}" data-tone="${f.tone}" title="${escapeHtml(f.label)}">${escapeHtml(f.text)}</li>`;
}

function elapsed(now: number, iso: string): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '?';
  return ms < 1000 ? 'under 1s' : formatDuration(Math.round(ms / 1000) * 1000);
}

const CSS = `
:root{--ok:#1a7f37;--warn:#9a6700;--fail:#cf222e;--unknown:#6e7781;--bg:#f6f8fa;--card:#fff;--text:#1f2328;--muted:#59636e}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;--muted:#9198a1;--ok:#3fb950;--warn:#d29922;--fail:#f85149}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--text)}
header,main{max-width:1100px;margin:0 auto;padding:12px 16px}header h1{font-size:1.1rem;margin:0;color:var(--muted);font-weight:600}
.summary{font-size:1.6rem;font-weight:700;margin:2px 0}.summary-fail{color:var(--fail)}.summary-warn{color:var(--warn)}.summary-ok{color:var(--ok)}
.counts,.meta{margin:4px 0;color:var(--muted);font-size:.85rem}.pill{display:inline-block;padding:0 8px;border-radius:10px;background:var(--card);border:1px solid currentColor}
.pill.fail{color:var(--fail)}.pill.warn{color:var(--warn)}.pill.ok{color:var(--ok)}.pill.unknown{color:var(--unknown)}
.checks{list-style:none;margin:0;padding:0;display:grid;gap:10px}
.check{background:var(--card);border-radius:8px;border-left:6px solid var(--unknown);padding:10px 14px;display:grid;grid-template-columns:1fr auto;gap:2px 16px;box-shadow:0 1px 2px #0002}
.check.fail{border-left-color:var(--fail)}.check.warn{border-left-color:var(--warn)}.check.ok{border-left-color:var(--ok)}
.head{grid-column:1/-1;display:flex;flex-wrap:wrap;align-items:baseline;gap:8px}.name{font-weight:650;font-size:1.05rem;overflow-wrap:anywhere}
.type{color:var(--muted);font-size:.8rem;border:1px solid var(--muted);border-radius:4px;padding:0 5px}
.badge{color:#fff;font-size:.75rem;font-weight:700;text-transform:uppercase;border-radius:4px;padding:1px 6px;background:var(--unknown)}
.badge.fail{background:var(--fail)}.badge.warn{background:var(--warn)}.badge.ok{background:var(--ok)}.pending{font-size:.8rem;color:var(--warn)}
.body p{margin:3px 0}.reason{overflow-wrap:anywhere}.check.fail .reason{font-weight:600}.hint{color:var(--muted);font-size:.9rem}
.facts{margin:4px 0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.88rem}.facts .bad{color:var(--fail);font-weight:600}.facts .warn{color:var(--warn);font-weight:600}
.when{color:var(--muted);font-size:.8rem}.cause{color:var(--fail)}.spark{align-self:center;display:flex;align-items:center;gap:6px;color:var(--muted);font-size:.8rem}
.sparkline{display:block}.sparkline polyline{fill:none;stroke:var(--muted);stroke-width:1.5}.sparkline circle.ok{fill:var(--muted)}.sparkline circle.fail{fill:var(--fail)}.sparkline circle.warn{fill:var(--warn)}
.empty{color:var(--muted)}.node{color:var(--muted);font-size:.8rem}.fleet,.discovered{margin:4px 0;font-size:.85rem;color:var(--muted)}
.fleet.down,.fleet.drift{color:var(--fail);font-weight:600}.fleet.alone{color:var(--warn)}.check.dependent{margin-left:32px;position:relative}
.check.dependent::before{content:"↳";position:absolute;left:-22px;top:8px;color:var(--muted);font-size:1.1rem}
@media (max-width:640px){.check{grid-template-columns:1fr}.summary{font-size:1.3rem}header,main{padding:8px 10px}}
`;
