/** Which host names and IP addresses a certificate covers (RFC 6125 rules, as browsers apply them). */
import net from 'node:net';
import { bareHost, formatIPv6 } from '../util/address.js';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

/**
 * Splits Node's `subjectAltName` text ("DNS:a.test, IP Address:127.0.0.1, URI:http://x/") into its
 * entries. Node quotes (as a JSON string) every value holding a comma, quote or control character,
 * so an unquoted value runs to the next ", "; a value is never searched for "DNS:" inside it.
 */
function parseSubjectAltNameEntries(text: string | undefined): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  let at = 0;
  while (text && at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) break;
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      const quoted = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(colon + 1));
      if (!quoted) break;
      end = colon + 1 + quoted[0].length;
      try {
        value = JSON.parse(quoted[0]) as string;
      } catch {
        break;
      }
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    out.push({ type, value });
    at = text.startsWith(', ', end) ? end + 2 : text.length;
  }
  return out;
}

export function parseSubjectAltNames(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], ip: [] };
  for (const { type, value } of parseSubjectAltNameEntries(text)) {
    if (type === 'DNS') out.dns.push(value);
    else if (type === 'IP Address') out.ip.push(normalizeIp(value));
  }
  return out;
}

function ipv6Groups(ip: string): number[] | undefined {
  let text = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = (dotted[1] as string).split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  const groups = [...left, ...fill, ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * One spelling per address (RFC 5952: lower case, the longest run of zero groups as "::", an
 * IPv4-mapped address in dotted form), so "::1" and "0:0:0:0:0:0:0:1" compare and print the same.
 */
export function normalizeIp(ip: string): string {
  const bare = bareHost(ip);
  if (!net.isIPv6(bare)) return bare;
  const groups = ipv6Groups(bare);
  if (!groups) return bare.toLowerCase();
  return formatIPv6(groups);
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
  const bare = bareHost(name);
  if (net.isIP(bare)) return sans.ip.includes(normalizeIp(bare));
  return sans.dns.some((pattern) => dnsNameMatches(pattern, bare));
}

export function allSans(sans: SubjectAltNames): string[] {
  return [...sans.dns, ...sans.ip];
}
