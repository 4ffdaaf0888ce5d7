/**
 * The origin of a public check, as the fleet knows it: the check it is compared with to tell edge from origin
 * (src/checks/layers.ts), and that comparison made from the fleet's records.
 */
import { whichLayer, withLayer } from '../checks/layers.js';
import type { CheckConfig } from '../config/load.js';
import type { ProbeResult } from '../probes/types.js';
import type { HandedOverState } from './handover.js';
import { locationKey } from './location-quorum.js';

/** The host of an http(s) check's URL. */
function hostOf(check: CheckConfig): string | undefined {
  try {
    return typeof check.url === 'string' ? new URL(check.url).hostname : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The check of `check`'s origin: another check of the same host name pinned to the origin's address
 * (`resolve:`), else the first check it depends on.
 */
export function originOf(check: CheckConfig, checks: readonly CheckConfig[]): CheckConfig | undefined {
  const host = hostOf(check);
  const pinned = checks.find((c) => c !== check && typeof c.resolve === 'string' && host && hostOf(c) === host);
  if (pinned || typeof check.resolve === 'string') return pinned;
  const dep = check.depends_on[0];
  return dep === undefined ? undefined : checks.find((c) => c.name === dep);
}

/** A failing public check whose origin check passes (or fails too): which layer fails, added to its reason. */
export function explainLayer(
  check: CheckConfig,
  result: ProbeResult,
  checks: readonly CheckConfig[],
  record: (key: string) => HandedOverState | undefined,
): ProbeResult {
  if (result.status === 'ok') return result;
  const origin = originOf(check, checks);
  // An origin check run from one location (the origin's own) is read from that location's record.
  const key = origin && (origin.locations ? locationKey(origin.name, origin.locations[0] as string) : origin.name);
  const found = key ? record(key) : undefined;
  if (!origin || !found) return result;
  const tls = found.details?.tls;
  const fingerprint = tls && typeof tls === 'object' && !Array.isArray(tls) ? tls.fingerprint_sha256 : undefined;
  const resolved = typeof origin.resolve === 'string' ? origin.resolve : found.details?.address;
  return withLayer(
    result,
    whichLayer(result, {
      name: origin.name,
      status: found.status,
      ...(typeof resolved === 'string' ? { address: resolved } : {}),
      ...(typeof fingerprint === 'string' ? { fingerprint } : {}),
    }),
  );
}
