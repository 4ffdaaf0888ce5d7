/** Host and address spelling shared by the probes, the reasons they write and the listen address. */

/** A host without the URL brackets around an IPv6 address ("[::1]" -> "::1"). */
export function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '');
}

/** "127.0.0.1:80", "[::1]:80", "example.test:80": an IPv6 address is bracketed so the port stays readable. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The one spelling of an IPv6 address given as its eight 16-bit groups (RFC 5952): lower-case hex,
 * the longest run of two or more zero groups (the first of equals) as "::", an IPv4-mapped address
 * in dotted form.
 */
export function formatIPv6(groups: readonly number[]): string {
  const [g0, g1, g2, g3, g4, g5, hi = 0, lo = 0] = groups;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff)
    return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  let best = { start: -1, length: 1 };
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
