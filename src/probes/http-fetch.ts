/** One HTTP(S) request over one fresh connection, timing each phase and reading the body up to max_body. */
import type { X509Certificate } from 'node:crypto';
import { Client } from 'undici';
import { formatSize } from '../util/format.js';
import { setOwn } from '../util/object.js';
import { dial, type Dialed } from '../net/dial.js';
import type { Explained, RequestPhase } from '../net/explain.js';
import { dialHttps, type HttpsHop, type HttpTlsSettings } from '../tls/https.js';
import type { ServedAnalysis } from '../tls/report.js';
import { ProbeFailure } from './failure.js';
import type { HttpRequest } from './http-redirect.js';

/**
 * What a request's time is split into for metrics and reasons (seconds each): DNS, TCP connect and TLS
 * (the ConnectPhase steps, as measured), then time to first byte and the body transfer.
 */
export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer'] as const;
export type TimedPhase = (typeof PHASES)[number];

export interface Hop {
  url: URL;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  address: string;
  tls?: ServedAnalysis;
}

/** What a run has seen so far, kept across hops so a failure can still report it. */
export interface RunState {
  phase: RequestPhase;
  /** Seconds per phase, summed over hops. */
  timings: Record<TimedPhase, number>;
  /** Phases that completed at least once: only these are reported after a failure. */
  measured: Set<TimedPhase>;
  /** The address the current hop connected to. */
  address?: string;
  /** The status of the last response received. */
  status?: number;
  /** Bytes of a response whose headers never completed (phase 'headers'). */
  headerBytes?: number;
}

export interface FetchOptions {
  tls: HttpTlsSettings;
  maxBody: number;
  anchors: readonly X509Certificate[];
  /** Whether this hop goes to the check's own host (its tls.names apply). */
  ownHost: boolean;
  resolve?: string;
  signal: AbortSignal;
  state: RunState;
}

/**
 * What a finished request's connection is destroyed with. UND_ERR_INFO tells undici it is no failure; its stack is
 * read once here, as Node's stream destroy() reads the stack of the error it is given.
 */
const RESPONSE_COMPLETE = Object.assign(new Error('response complete'), { code: 'UND_ERR_INFO' });
void RESPONSE_COMPLETE.stack;

export function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

function add(state: RunState, phase: TimedPhase, seconds: number): void {
  state.timings[phase] += seconds;
  state.measured.add(phase);
}

export async function fetchOnce(req: HttpRequest, opts: FetchOptions): Promise<Hop> {
  const { signal, state } = opts;
  const { url } = req;
  const https = url.protocol === 'https:';
  let served: ServedAnalysis | undefined;
  let tlsError: Explained | undefined;
  let readyAt = 0;
  /** The socket handed to undici, and its byte count then: what arrived since tells a silent server from a slow one. */
  let handed: { socket: { bytesRead: number }; bytesBefore: number } | undefined;
  /** A TLS alert after the handshake (TLS 1.3 "certificate required"): undici reports only "other side closed". */
  let alert: NodeJS.ErrnoException | undefined;
  delete state.address;
  const client = new Client(url.origin, {
    headersTimeout: 0,
    bodyTimeout: 0,
    pipelining: 1,
    connect: (_opts, callback) => {
      const onPhase = (p: RequestPhase) => (state.phase = p);
      const resolve = opts.resolve ? { resolve: opts.resolve } : {};
      (https
        ? dialHttps(url, opts.tls, { ...resolve, anchors: opts.anchors, ownHost: opts.ownHost, signal, onPhase })
        : dial({ host: url.hostname, port: portOf(url), ...resolve, signal, onPhase })
      ).then(
        (d: Dialed | HttpsHop) => {
          state.address = d.address;
          add(state, 'dns', d.timings.dns);
          add(state, 'connect', d.timings.connect);
          if (https) add(state, 'tls', d.timings.tls ?? 0);
          if ('analysis' in d) {
            served = d.analysis;
            if (d.error) {
              tlsError = d.error;
              d.socket.destroy();
              callback(new ProbeFailure(tlsError, served), null);
              return;
            }
          }
          if (https)
            d.socket.on(
              'error',
              (err: NodeJS.ErrnoException) => (alert ??= err.code?.startsWith('ERR_SSL_') ? err : undefined),
            );
          state.phase = 'first byte';
          readyAt = performance.now();
          handed = { socket: d.socket, bytesBefore: d.socket.bytesRead };
          callback(null, d.socket);
        },
        (err: Error) => callback(err, null),
      );
    },
  });
  try {
    const res = await exchange(client, req, opts, (status) => {
      add(state, 'ttfb', (performance.now() - readyAt) / 1000);
      state.status = status;
      state.phase = 'body';
    });
    add(state, 'transfer', res.transferSeconds);
    // The response is complete: the connection goes. Both close() and a bare destroy() build an error with its
    // stack on every probe; one shared error, marked informational so undici fails nothing with it, costs nothing.
    client.destroy(RESPONSE_COMPLETE).catch(() => undefined);
    return {
      url,
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      address: state.address ?? '',
      ...(served ? { tls: served } : {}),
    };
  } catch (err) {
    // Counted by the socket itself: a 'data' listener would take the bytes from undici.
    const arrived = handed ? handed.socket.bytesRead - handed.bytesBefore : 0;
    if (state.phase === 'first byte' && arrived > 0) {
      state.phase = 'headers';
      state.headerBytes = arrived;
    }
    client.destroy().catch(() => undefined);
    if (err instanceof BodyTooLarge) throw new ProbeFailure(err.explained, served);
    if (tlsError) throw new ProbeFailure(tlsError, served);
    // The alert's error event may come just after undici gave up on the closed socket.
    if (https && !alert && (err as NodeJS.ErrnoException | undefined)?.code === 'UND_ERR_SOCKET')
      await new Promise((r) => setImmediate(r));
    throw alert ?? err;
  }
}

/** A response body over max_body, raised inside undici's handler to abort the request. */
class BodyTooLarge extends Error {
  constructor(readonly explained: Explained) {
    super(explained.reason);
  }
}

interface Exchanged {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  transferSeconds: number;
}

/**
 * One request through undici's dispatch handler: the status, headers and body bytes as they arrive, with no
 * response stream, async iterator or request wrapper built around them for a body read once and kept whole.
 * `onHeaders` is told when the final (non-1xx) response's headers are in.
 */
function exchange(
  client: Client,
  req: HttpRequest,
  opts: FetchOptions,
  onHeaders: (statusCode: number) => void,
): Promise<Exchanged> {
  const { signal, maxBody } = opts;
  return new Promise<Exchanged>((resolve, reject) => {
    let abort: ((err: Error) => void) | undefined;
    const onAbort = () => abort?.(signal.reason as Error);
    const settle = () => signal.removeEventListener('abort', onAbort);
    let statusCode = 0;
    let headers: Record<string, string | string[]> = {};
    let headersAt = 0;
    const chunks: Buffer[] = [];
    let received = 0;
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    client.dispatch(
      { path: req.url.pathname + req.url.search, method: req.method, headers: req.headers, body: req.body },
      {
        onConnect(abortRequest) {
          abort = abortRequest;
          if (signal.aborted) abortRequest(signal.reason as Error);
        },
        onHeaders(status, raw) {
          if (status < 200) return true; // informational (100 Continue, 103 Early Hints): the real answer follows
          statusCode = status;
          headers = parseRawHeaders(raw as unknown as Buffer[]);
          headersAt = performance.now();
          onHeaders(status);
          return true;
        },
        onData(chunk) {
          received += chunk.length;
          // Thrown here, undici aborts the request with it and calls onError.
          if (received > maxBody)
            throw new BodyTooLarge({
              reason: `body exceeds ${formatSize(maxBody)}`,
              hint: 'The response is larger than max_body: point the check at a lighter health endpoint or raise max_body.',
            });
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          settle();
          const transferSeconds = (performance.now() - headersAt) / 1000;
          resolve({
            statusCode,
            headers,
            body: Buffer.concat(chunks),
            transferSeconds,
          });
        },
        onError(err) {
          settle();
          reject(err);
        },
      },
    );
  });
}

/** Raw header pairs as one record: names lower-cased, repeated names (Set-Cookie) as a list, values as latin1. */
function parseRawHeaders(raw: readonly Buffer[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    const seen = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (seen === undefined) setOwn(headers, name, value);
    else if (typeof seen === 'string') setOwn(headers, name, [seen, value]);
    else seen.push(value);
  }
  return headers;
}
