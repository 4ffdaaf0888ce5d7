/**
 * TCP listeners from the kernel's /proc/net/tcp and tcp6. Addresses are hex: IPv4 one little-endian
 * 32-bit word, IPv6 four of them; ports are big-endian hex. State 0A is LISTEN.
 */
import { closeSync, openSync, readSync } from 'node:fs';
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

/** One row of /proc/net/tcp or tcp6: its state and, for a listener, the socket. */
function parseRow(line: string, family: 4 | 6): { state: string; listener?: Listener } | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10) return undefined;
  const state = f[3] as string;
  if (state !== LISTEN) return { state };
  const [addrHex, portHex] = (f[1] as string).split(':');
  if (!addrHex || !portHex || addrHex.length !== (family === 4 ? 8 : 32)) return { state };
  return {
    state,
    listener: {
      family,
      address: family === 4 ? decodeIPv4(addrHex) : decodeIPv6(addrHex),
      port: parseInt(portHex, 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
    },
  };
}

/** Parses the text of /proc/net/tcp or tcp6 into its listening sockets. */
export function parseProcNetTcp(text: string, family: 4 | 6): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const listener = parseRow(line, family)?.listener;
    if (listener) out.push(listener);
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

/**
 * States the kernel prints while it walks its listening table: listeners, and on old kernels the
 * half-open connections (SYN_RECV) under each. Every other state comes after the last listener.
 */
const LISTENING_SECTION = new Set([LISTEN, '03']);
const CHUNK_BYTES = 16 * 1024;

/**
 * The listeners of one family, reading the table only as far as its listening section: the kernel
 * formats a row per socket as it is read, and a busy host has thousands of TIME_WAIT rows after the
 * listeners (milliseconds of kernel time for a whole read, for nothing a port check uses).
 * Synchronous: /proc is generated in memory, and a read this short costs less than a trip to the
 * thread pool. A missing file (no IPv6, not Linux) has none.
 */
export function readFamilyListenersSync(procRoot: string, family: 4 | 6): Listener[] {
  const out: Listener[] = [];
  let fd: number;
  try {
    fd = openSync(path.join(procRoot, family === 4 ? 'net/tcp' : 'net/tcp6'), 'r');
  } catch {
    return out;
  }
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let pending = '';
    let header = true;
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      const lines = (pending + chunk.toString('latin1', 0, n)).split('\n');
      // The last piece is a partial row until the next read (or the end) completes it.
      pending = n === 0 ? '' : (lines.pop() as string);
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        const row = parseRow(line, family);
        if (!row) continue;
        if (!LISTENING_SECTION.has(row.state)) return out;
        if (row.listener) out.push(row.listener);
      }
      if (n === 0) return out;
    }
  } catch {
    return out;
  } finally {
    closeSync(fd);
  }
}

interface TableRead {
  /** When the read began (performance.now()). */
  at: number;
  listeners: Listener[];
}

/** The latest read of each table: checks running together share it instead of each reading its own. */
const latestReads = new Map<string, TableRead>();

/**
 * The listeners of `family` as read at or after `since` (a performance.now() time): a read made since
 * then is as current as one made now, so it is shared; an older one is never used.
 */
export function listenersReadSince(procRoot: string, family: 4 | 6, since: number): Listener[] {
  const key = `${family}\0${procRoot}`;
  const known = latestReads.get(key);
  if (known && known.at >= since) return known.listeners;
  const at = performance.now();
  const listeners = readFamilyListenersSync(procRoot, family);
  if (latestReads.size >= 64) latestReads.clear();
  latestReads.set(key, { at, listeners });
  return listeners;
}

/** The same, synchronously, for the steady-listener scans of the discovered default. */
export function readListenersSync(procRoot = '/proc'): Listener[] {
  return [...readFamilyListenersSync(procRoot, 4), ...readFamilyListenersSync(procRoot, 6)];
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
