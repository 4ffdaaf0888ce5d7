/** Opens one fresh TCP (and optionally TLS) connection, timing each phase, abortable at any point. */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';

export type DialPhase = 'resolving' | 'connecting' | 'tls handshake';

export interface DialTimings {
  dns: number;
  connect: number;
  tls?: number;
}

export interface DialOptions {
  host: string;
  port: number;
  /** Connect to this address instead of resolving `host` (curl --resolve); SNI still comes from `host`. */
  resolve?: string;
  tls?: tls.ConnectionOptions;
  signal: AbortSignal;
  onPhase?: (phase: DialPhase) => void;
}

export interface Dialed {
  socket: net.Socket | tls.TLSSocket;
  address: string;
  timings: DialTimings;
}

/** Raised when a phase fails; `phase` tells the caller where. */
export class DialError extends Error {
  constructor(readonly phase: DialPhase, override readonly cause: NodeJS.ErrnoException) {
    super(cause.message);
    this.name = 'DialError';
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
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** Resolves, connects and (when asked) handshakes. The caller owns and must destroy the socket. */
export async function dial(opts: DialOptions): Promise<Dialed> {
  const { signal } = opts;
  const bareHost = opts.host.replace(/^\[|\]$/g, '');
  let t = performance.now();
  opts.onPhase?.('resolving');
  let address = opts.resolve ?? bareHost;
  if (!opts.resolve && net.isIP(bareHost) === 0) {
    try {
      address = (await abortable(lookup(bareHost), signal)).address;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new DialError('resolving', err as NodeJS.ErrnoException);
    }
  }
  const dns = (performance.now() - t) / 1000;

  t = performance.now();
  opts.onPhase?.('connecting');
  const tcp = await waitFor(net.connect({ host: address, port: opts.port, noDelay: true }), 'connect', 'connecting', signal);
  const connect = (performance.now() - t) / 1000;
  if (!opts.tls) return { socket: tcp, address, timings: { dns, connect } };

  t = performance.now();
  opts.onPhase?.('tls handshake');
  const servername = opts.tls.servername ?? (net.isIP(bareHost) === 0 ? bareHost : undefined);
  const secure = await waitFor(tls.connect({ ...opts.tls, socket: tcp, ...(servername ? { servername } : {}) }), 'secureConnect', 'tls handshake', signal, tcp);
  return { socket: secure, address, timings: { dns, connect, tls: (performance.now() - t) / 1000 } };
}

function waitFor<S extends net.Socket>(socket: S, event: string, phase: DialPhase, signal: AbortSignal, underlying?: net.Socket): Promise<S> {
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
    const onReady = () => { cleanup(); resolve(socket); };
    const onError = (err: NodeJS.ErrnoException) => { cleanup(); destroy(); reject(new DialError(phase, err)); };
    const onClose = () => onError(Object.assign(new Error('the server closed the connection'), { code: 'ECONNRESET' }));
    const onAbort = () => { cleanup(); destroy(); reject(signal.reason); };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(event, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}
