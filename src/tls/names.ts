/** Which host names and IP addresses a certificate covers (RFC 6125 rules, as browsers apply them). */
import net from 'node:net';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

/** Parses Node's `subjectAltName` text ("DNS:a.test, IP Address:127.0.0.1"); quoted entries are JSON strings. */
export function parseSubjectAltNames(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], ip: [] };
  if (!text) return out;
  for (const m of text.matchAll(/(DNS|IP Address):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.trim();
    if (m[1] === 'DNS') out.dns.push(value);
    else out.ip.push(normalizeIp(value));
  }
  return out;
}

/** One spelling per address, so "::1" and "0:0:0:0:0:0:0:1" compare equal. */
export function normalizeIp(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, '');
  if (net.isIPv6(bare)) {
    const [head = '', tail] = bare.split('::');
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
    return [...left, ...fill, ...right].map((g) => parseInt(g, 16).toString(16)).join(':');
  }
  return bare;
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * RFC 6125 §6.4.3: a wildcard is only the whole left-most label and matches exactly one label,
 * so `*.a.test` covers `x.a.test` but neither `a.test` nor `y.x.a.test`. A wildcard directly under
 * a top-level label (`*.test`) covers nothing.
 */
export function dnsNameMatches(pattern: string, name: string): boolean {
  const p = canonicalName(pattern);
  const n = canonicalName(name);
  if (!p.startsWith('*.')) return p === n;
  const suffix = p.slice(2);
  if (!suffix.includes('.') || suffix.includes('*')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot + 1) === suffix;
}

/** Whether `name` (a host name or an IP address) is covered by the SANs. */
export function nameCovered(name: string, sans: SubjectAltNames): boolean {
  const bare = name.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) return sans.ip.includes(normalizeIp(bare));
  return sans.dns.some((pattern) => dnsNameMatches(pattern, bare));
}

export function allSans(sans: SubjectAltNames): string[] {
  return [...sans.dns, ...sans.ip];
}
