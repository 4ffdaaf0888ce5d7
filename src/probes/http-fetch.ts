/** One HTTP(S) request over one fresh connection, timing each phase and reading the body up to max_body. */
import type { X509Certificate } from 'node:crypto';
import { Client } from 'undici';
import { formatSize } from '../util/format.js';
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
    const res = await client.request({
      path: url.pathname + url.search,
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
    });
    const headersAt = performance.now();
    add(state, 'ttfb', (headersAt - readyAt) / 1000);
    state.status = res.statusCode;
    state.phase = 'body';
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      if (received > opts.maxBody) {
        res.body.destroy();
        throw new ProbeFailure(
          {
            reason: `body exceeds ${formatSize(opts.maxBody)}`,
            hint: 'The response is larger than max_body: point the check at a lighter health endpoint or raise max_body.',
          },
          served,
        );
      }
      chunks.push(chunk as Buffer);
    }
    add(state, 'transfer', (performance.now() - headersAt) / 1000);
    // The response is complete: the connection goes. Both close() and a bare destroy() build an error with its
    // stack on every probe; one shared error, marked informational so undici fails nothing with it, costs nothing.
    client.destroy(RESPONSE_COMPLETE).catch(() => undefined);
    return {
      url,
      status: res.statusCode,
      headers: res.headers,
      body: Buffer.concat(chunks),
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
    if (tlsError) throw new ProbeFailure(tlsError, served);
    // The alert's error event may come just after undici gave up on the closed socket.
    if (https && !alert && (err as NodeJS.ErrnoException | undefined)?.code === 'UND_ERR_SOCKET')
      await new Promise((r) => setImmediate(r));
    throw alert ?? err;
  }
}
