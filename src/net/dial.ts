/** Opens one fresh TCP connection, timing each phase, abortable at any point. TLS goes on top in src/tls/handshake.ts. */
import { lookup as systemLookup } from 'node:dns/promises';
import net from 'node:net';
import { bareHost } from '../util/address.js';

/** Where opening a connection stands (or stopped): the name, the TCP connect, the TLS handshake on top. */
export type ConnectPhase = 'resolving' | 'connecting' | 'tls handshake';

export interface DialTimings {
  dns: number;
  connect: number;
  tls?: number;
}

/** Every address a name resolves to, in the order to try them (dns.lookup with all: true). */
export type LookupAll = (host: string) => Promise<ReadonlyArray<{ address: string }>>;

export interface DialOptions {
  host: string;
  port: number;
  /** Connect to this address instead of resolving `host` (curl --resolve). */
  resolve?: string;
  /** Resolver to use instead of the system's (getaddrinfo). */
  lookup?: LookupAll;
  signal: AbortSignal;
  onPhase?: (phase: ConnectPhase) => void;
}

export interface Dialed {
  socket: net.Socket;
  /** The address that accepted the connection. */
  address: string;
  timings: DialTimings;
}

export interface DialErrorContext {
  /** Addresses tried, in order (for a connect failure: every one refused or unreachable). */
  addresses?: readonly string[];
  /** The first bytes the server sent before a TLS handshake failed, to tell what it speaks instead. */
  received?: Buffer;
}

/** Raised when a phase fails; `phase` tells the caller where. */
export class DialError extends Error {
  readonly addresses: readonly string[];
  readonly received: Buffer | undefined;
  constructor(
    readonly phase: ConnectPhase,
    override readonly cause: NodeJS.ErrnoException,
    context: DialErrorContext = {},
  ) {
    super(cause.message);
    this.name = 'DialError';
    this.addresses = context.addresses ?? [];
    this.received = context.received;
  }
  get code(): string | undefined {
    return this.cause.code;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const defaultLookup: LookupAll = (host) => systemLookup(host, { all: true });

async function addressesOf(opts: DialOptions, host: string): Promise<string[]> {
  if (opts.resolve) return [opts.resolve];
  if (net.isIP(host) !== 0) return [host];
  let found: ReadonlyArray<{ address: string }>;
  try {
    found = await abortable((opts.lookup ?? defaultLookup)(host), opts.signal);
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    throw new DialError('resolving', err as NodeJS.ErrnoException);
  }
  const unique = [...new Set(found.map((a) => a.address))];
  if (unique.length === 0)
    throw new DialError('resolving', Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' }));
  return unique;
}

/**
 * Resolves, then tries each address in turn (a name resolving to ::1 and 127.0.0.1 with a server on
 * 127.0.0.1 only must still connect) within the one deadline. The caller owns and must destroy the socket.
 */
export async function dial(opts: DialOptions): Promise<Dialed> {
  const { signal } = opts;
  const host = bareHost(opts.host);
  let t = performance.now();
  opts.onPhase?.('resolving');
  const addresses = await addressesOf(opts, host);
  const dns = (performance.now() - t) / 1000;

  t = performance.now();
  opts.onPhase?.('connecting');
  let last: DialError | undefined;
  for (const [i, address] of addresses.entries()) {
    try {
      const socket = await waitFor(
        net.connect({ host: address, port: opts.port, noDelay: true }),
        'connect',
        'connecting',
        signal,
      );
      return { socket, address, timings: { dns, connect: (performance.now() - t) / 1000 } };
    } catch (err) {
      if (!(err instanceof DialError)) throw err;
      last = new DialError('connecting', err.cause, { addresses: addresses.slice(0, i + 1) });
    }
  }
  throw last as DialError;
}

/**
 * Whether any of `addresses` accepts a TCP connection on `port` before `signal` ends: a cheap look at
 * another port of a host, for choosing a hint. Never throws; the connections are closed at once.
 */
export async function acceptsConnections(
  addresses: readonly string[],
  port: number,
  signal: AbortSignal,
): Promise<boolean> {
  const attempts = addresses.map((host) =>
    waitFor(net.connect({ host, port }), 'connect', 'connecting', signal).then(
      (socket) => {
        socket.destroy();
        return true;
      },
      () => false,
    ),
  );
  return (await Promise.all(attempts)).some(Boolean);
}

/** Resolves when `socket` emits `event`; rejects (and destroys it) on error, close or abort. */
export function waitFor<S extends net.Socket>(
  socket: S,
  event: string,
  phase: ConnectPhase,
  signal: AbortSignal,
  underlying?: net.Socket,
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    const cleanup = () => {
      signal.removeEventListener('abort', onAbort);
      socket.off(event, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const destroy = () => {
      socket.destroy();
      underlying?.destroy();
    };
    const onReady = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      cleanup();
      destroy();
      reject(new DialError(phase, err));
    };
    const onClose = () => onError(Object.assign(new Error('the server closed the connection'), { code: 'ECONNRESET' }));
    const onAbort = () => {
      cleanup();
      destroy();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(event, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}
