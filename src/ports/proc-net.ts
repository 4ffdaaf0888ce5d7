/**
 * TCP listeners from the kernel's /proc/net/tcp and tcp6. Addresses are hex: IPv4 one little-endian
 * 32-bit word, IPv6 four of them; ports are big-endian hex. State 0A is LISTEN.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatIPv6 } from '../util/address.js';

export interface Listener {
  family: 4 | 6;
  address: string;
  port: number;
  inode: number;
  uid: number;
}

const LISTEN = '0A';

function wordBytes(hex8: string): number[] {
  // The kernel prints each 32-bit word in host (little-endian) order: reverse its bytes.
  return [6, 4, 2, 0].map((i) => parseInt(hex8.slice(i, i + 2), 16));
}

function decodeIPv4(hex: string): string {
  return wordBytes(hex).join('.');
}

export function decodeIPv6(hex: string): string {
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => ((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  return formatIPv6(groups);
}

/** Parses the text of /proc/net/tcp or tcp6 into its listening sockets. */
export function parseProcNetTcp(text: string, family: 4 | 6): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [addrHex, portHex] = (f[1] as string).split(':');
    if (!addrHex || !portHex || addrHex.length !== (family === 4 ? 8 : 32)) continue;
    out.push({
      family,
      address: family === 4 ? decodeIPv4(addrHex) : decodeIPv6(addrHex),
      port: parseInt(portHex, 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

function files(procRoot: string): Array<[string, 4 | 6]> {
  return [
    [path.join(procRoot, 'net/tcp'), 4],
    [path.join(procRoot, 'net/tcp6'), 6],
  ];
}

/** Every TCP listener; a missing file (no IPv6, not Linux) contributes none. */
export async function readListeners(procRoot = '/proc'): Promise<Listener[]> {
  const lists = await Promise.all(
    files(procRoot).map(([file, family]) =>
      readFile(file, 'utf8').then(
        (t) => parseProcNetTcp(t, family),
        () => [],
      ),
    ),
  );
  return lists.flat();
}

/** The same, synchronously, for the steady-listener scans of the discovered default. */
export function readListenersSync(procRoot = '/proc'): Listener[] {
  return files(procRoot).flatMap(([file, family]) => {
    try {
      return parseProcNetTcp(readFileSync(file, 'utf8'), family);
    } catch {
      return [];
    }
  });
}

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

/**
 * Listeners that accept connections to host:port, best match first: the exact address, then the
 * wildcard of the same family, then `::` for IPv4 (dual-stack sockets take IPv4 too).
 */
export function listenersFor(all: readonly Listener[], host: string, port: number): Listener[] {
  const v4mapped = `::ffff:${host}`;
  const rank = (l: Listener): number => {
    if (l.address === host || l.address === v4mapped) return 0;
    if (l.address === (host.includes(':') ? '::' : '0.0.0.0')) return 1;
    if (!host.includes(':') && l.address === '::') return 2;
    return -1;
  };
  return all.filter((l) => l.port === port && rank(l) >= 0).sort((a, b) => rank(a) - rank(b));
}

/** How to reach a listener from this machine: its own address, or loopback for a wildcard. */
export function reachableHost(l: Listener): string {
  if (l.address === '0.0.0.0') return '127.0.0.1';
  if (l.address === '::') return '::1';
  return l.address;
}

/** One listener per port, preferring those reachable on loopback; sorted by port. */
export function distinctPorts(listeners: readonly Listener[]): Listener[] {
  const score = (l: Listener) =>
    (isWildcard(l.address) ? 0 : isLoopback(l.address) ? 1 : 2) + (l.family === 6 ? 0.5 : 0);
  const byPort = new Map<number, Listener>();
  for (const l of listeners) {
    const seen = byPort.get(l.port);
    if (!seen || score(l) < score(seen)) byPort.set(l.port, l);
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}
