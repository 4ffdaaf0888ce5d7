/**
 * A check run from several locations (vantage points) is judged on them together: it fails when at least
 * `quorum` locations see it fail; fewer failing locations make a warning that names them, since one place's
 * trouble points at the path from there rather than at the service. A location with no live node counts as
 * unknown, never as failing.
 */
import type { JsonObject, ProbeResult, Status } from '../probes/types.js';

/** What one location saw at its latest transition; undefined status: nothing known (no live node, no run yet). */
export interface LocationView {
  status: Status | 'unknown';
  reason: string;
  hint?: string;
  code?: string;
  node?: string;
  since?: string;
  details?: JsonObject;
}

const list = (names: string[]) =>
  names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;

/** The check's result over its locations, in the order they are listed. */
export function combineLocations(
  listed: readonly string[],
  quorum: number,
  seen: ReadonlyMap<string, LocationView>,
): ProbeResult {
  const view = (l: string): LocationView => seen.get(l) ?? { status: 'unknown', reason: 'no result yet' };
  const failing = listed.filter((l) => view(l).status === 'fail');
  const degraded = listed.filter((l) => view(l).status === 'warn');
  const passing = listed.filter((l) => view(l).status === 'ok');
  const unknown = listed.filter((l) => view(l).status === 'unknown');
  const locations: JsonObject = {};
  for (const l of listed) {
    const v = view(l);
    locations[l] = {
      status: v.status,
      reason: v.reason,
      ...(v.node ? { node: v.node } : {}),
      ...(v.since ? { since: v.since } : {}),
    };
  }
  const others = (except: string[]) => {
    const rest = listed.filter((l) => !except.includes(l));
    const ok = rest.filter((l) => passing.includes(l));
    const parts: string[] = [];
    if (ok.length > 0) parts.push(`${ok.join(', ')}: ${view(ok[0] as string).reason}`);
    const unk = rest.filter((l) => unknown.includes(l));
    if (unk.length > 0) parts.push(`${unk.join(', ')}: unknown`);
    return parts.length > 0 ? ` (${parts.join('; ')})` : '';
  };
  const first = view((failing[0] ?? degraded[0] ?? passing[0] ?? listed[0]) as string);
  const base = { timings: { total: 0 }, observations: [], details: { ...first.details, locations } };
  if (failing.length >= quorum) {
    const where = failing.length === listed.length ? 'every location' : list(failing);
    return {
      ...base,
      status: 'fail',
      reason: `fails from ${where}: ${first.reason}${others(failing)}`,
      ...(first.hint ? { hint: first.hint } : {}),
      ...(first.code !== undefined ? { code: first.code } : {}),
    };
  }
  const bad = [...failing, ...degraded];
  if (bad.length > 0) {
    return {
      ...base,
      status: 'warn',
      reason: `fails from ${list(bad)} only: ${first.reason}${others(bad)}`,
      hint: `only ${list(bad)} ${bad.length === 1 ? 'sees' : 'see'} this, fewer than the ${quorum} locations that make it a failure: it points at the network path from there (its provider, routes, firewall or DNS), not at the service`,
      code: `location_minority:${first.code ?? 'failure'}`,
    };
  }
  if (passing.length === 0)
    return { ...base, status: 'ok', reason: `no location has a result yet (${list(unknown)}: unknown)` };
  return { ...base, status: 'ok', reason: `${first.reason} from ${list(passing)}${others(passing)}` };
}
