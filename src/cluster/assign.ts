/**
 * Which live node runs which check: rendezvous (highest random weight) hashing. Every node computes the same
 * answer from the same member list, with no coordination; when a node leaves, only its checks move (each to the
 * node with its next-highest weight), and a node that joins takes only the checks it now wins.
 */
import { createHash } from 'node:crypto';

export interface AssignableMember {
  name: string;
  location: string;
}

/** A stable 64-bit weight of (member, check): the first 8 bytes of sha1 over both names. */
function weight(member: string, check: string): bigint {
  return createHash('sha1').update(member).update('\0').update(check).digest().readBigUInt64BE(0);
}

/** The member that runs `check`, or undefined without members (of `location`, when given). */
export function ownerOf(check: string, members: readonly AssignableMember[], location?: string): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const m of members) {
    if (location !== undefined && m.location !== location) continue;
    const w = weight(m.name, check);
    // Ties (never seen with sha1, but possible) go to the smaller name, so every node agrees.
    if (w > bestWeight || (w === bestWeight && best !== undefined && m.name < best)) {
      best = m.name;
      bestWeight = w;
    }
  }
  return best;
}

/** Every check's owner: a map from member name to the checks it runs (members without checks included). */
export function assignChecks(
  checks: readonly string[],
  members: readonly AssignableMember[],
  location?: string,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of members) if (location === undefined || m.location === location) out.set(m.name, []);
  for (const check of checks) {
    const owner = ownerOf(check, members, location);
    if (owner !== undefined) out.get(owner)?.push(check);
  }
  return out;
}
