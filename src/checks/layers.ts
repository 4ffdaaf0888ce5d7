/**
 * Edge or origin: a public check that fails while a check of the same service's origin passes (one it depends
 * on, or one that reaches the same host name at the origin's address with `resolve:`) fails somewhere between
 * the users and the origin. What the two saw tells which layer: the address the name resolves to from outside,
 * whether a connection got through at all, the certificate served. The decision table is in
 * docs/vantage-points.md.
 */
import type { JsonObject, ProbeResult } from '../probes/types.js';

/** The origin check as the public check is compared with: its name, what it saw, and where it connected. */
export interface OriginView {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  /** The address it connected to (its `resolve:` or its last run's). */
  address?: string;
  /** The certificate it was served. */
  fingerprint?: string;
}

export interface LayerVerdict {
  layer: 'dns' | 'network' | 'tls' | 'edge' | 'origin';
  reason: string;
  hint: string;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** Where the public check connected (or tried to) and the certificate it saw. */
function seenFrom(details: JsonObject): { address?: string; fingerprint?: string; phase?: string } {
  const tls = details.tls;
  const fingerprint =
    tls && typeof tls === 'object' && !Array.isArray(tls) ? str((tls as JsonObject).fingerprint_sha256) : undefined;
  const address = str(details.address);
  const phase = str(details.phase);
  return { ...(address ? { address } : {}), ...(fingerprint ? { fingerprint } : {}), ...(phase ? { phase } : {}) };
}

/** Which layer a failing public result points at, given its origin's check; undefined when nothing can be said. */
export function whichLayer(pub: ProbeResult, origin: OriginView): LayerVerdict | undefined {
  if (pub.status === 'ok') return undefined;
  if (origin.status === 'fail')
    return {
      layer: 'origin',
      reason: `origin down: ${origin.name} fails too`,
      hint: `the origin itself fails (${origin.name}): fix it first; the public check fails because of it`,
    };
  const seen = seenFrom(pub.details);
  if (seen.address && origin.address && seen.address !== origin.address)
    return {
      layer: 'dns',
      reason: `fails from outside, origin answers locally; from outside the name leads to ${seen.address}, not the origin's ${origin.address}`,
      hint: `look at DNS: the public record points at ${seen.address} (another load balancer, an old server, a stale record) while the origin is ${origin.address}; check it with dig from outside`,
    };
  if (seen.fingerprint && origin.fingerprint && seen.fingerprint !== origin.fingerprint)
    return {
      layer: 'tls',
      reason:
        'fails from outside, origin answers locally; from outside another certificate is served than the origin’s',
      hint: 'something in front of the origin terminates TLS with its own certificate (a CDN or load balancer): look at the certificate it serves, not at the origin’s',
    };
  if (seen.phase === 'connect' || seen.phase === 'dns' || /connect|unreachable|refused|timeout/.test(pub.code ?? ''))
    return {
      layer: 'network',
      reason: 'fails from outside, origin answers locally; from outside no connection gets through',
      hint: 'the port is dropped or refused on the way in: look at the firewall, the security group or the load balancer’s listener',
    };
  return {
    layer: 'edge',
    reason: 'fails from outside, origin answers locally',
    hint: 'look at DNS, the firewall or the load balancer: the layer in front of the origin answers differently',
  };
}

/** The public result told with its layer: the reason gains it, the hint becomes it. */
export function withLayer(pub: ProbeResult, verdict: LayerVerdict | undefined): ProbeResult {
  if (!verdict) return pub;
  return {
    ...pub,
    reason: `${pub.reason} — ${verdict.reason}`,
    hint: verdict.hint,
    details: { ...pub.details, layer: verdict.layer },
  };
}
