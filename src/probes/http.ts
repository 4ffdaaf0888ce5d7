/** HTTP(S) probe: one fresh connection per hop, per-phase timings, bounded body, redirects with loop detection. */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { Client } from 'undici';
import { z } from 'zod';
import { checkSchema, duration, filePath, regex, size, statusMatcher, type CheckOf } from '../config/fields.js';
import { formatDuration, formatSize } from '../config/units.js';
import { dial, type Dialed } from '../net/dial.js';
import { explainNetworkError, explainTimeout, isTimeout, type Explained, type Phase } from '../net/explain.js';
import { fileErrorText } from '../tls/certificate.js';
import { checkWindows } from '../tls/config.js';
import { HINTS } from '../tls/findings.js';
import { certificateWarning, dialHttps, httpTlsPolicyFields, type HttpsHop } from '../tls/https.js';
import { tlsCertMetrics } from '../tls/report.js';
import { readAnchors } from '../tls/trust.js';
import { failed, type JsonObject, type MetricSpec, type Observation, type Probe, type ProbeResult } from './types.js';
import { evaluateExpectations } from './http-expect.js';

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

export const httpCheckSchema = checkSchema('http', {
  url: z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { message: 'expected an http:// or https:// URL' }),
  method: z.string().regex(/^[A-Za-z]+$/).transform((m) => m.toUpperCase()).default('GET'),
  headers: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).default({}),
  body: z.string().optional(),
  follow_redirects: z.boolean().default(true),
  resolve: z.string().refine((v) => net.isIP(v) !== 0, { message: 'expected an IP address' }).optional(),
  tls: z
    .strictObject({
      ca_file: filePath.optional(),
      insecure: z.boolean().default(false),
      server_name: z.string().optional(),
      ...httpTlsPolicyFields,
    })
    .superRefine((v, ctx) => checkWindows(v, ctx))
    .prefault({}),
  expect: z
    .strictObject({
      status: z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(statusMatcher).min(1)).prefault(['200-299']),
      body_contains: z.string().optional(),
      body_regex: regex.optional(),
      json: z.record(z.string(), z.unknown()).optional(),
      header: z.record(z.string(), regex).optional(),
      max_response_time: duration.optional(),
    })
    .prefault({}),
  max_body: size.prefault('1MiB'),
});

export type HttpCheck = CheckOf<typeof httpCheckSchema>;

export const httpMetrics: MetricSpec[] = [
  { name: 'forgewatch_http_status_code', help: 'HTTP status code of the last response (after redirects).', labelNames: [] },
  { name: 'forgewatch_http_phase_seconds', help: 'Duration of each phase of the last HTTP probe, summed over redirects.', labelNames: ['phase'] },
  ...tlsCertMetrics,
];

interface Hop {
  url: URL;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  address: string;
  tls?: HttpsHop['analysis'];
}

class ProbeFailure extends Error {
  constructor(readonly explained: Explained, readonly tls?: HttpsHop['analysis']) {
    super(explained.reason);
  }
}

export const probeHttp: Probe<HttpCheck> = async (check, { signal }) => {
  const started = performance.now();
  const timings = { dns: 0, connect: 0, tls: 0, ttfb: 0, transfer: 0 };
  const state = { phase: 'resolving' as Phase };
  const visited: URL[] = [];
  let anchors: X509Certificate[] = [];
  if (check.tls.ca_file) {
    try {
      anchors = await readAnchors(check.tls.ca_file);
    } catch (err) {
      return failed(`cannot read tls.ca_file ${check.tls.ca_file}: ${fileErrorText(err)}`, HINTS.file_unreadable, started, { details: { url: check.url } });
    }
  }
  const original = new URL(check.url);
  let url = original;
  let method = check.method;
  let hop: Hop;
  try {
    for (;;) {
      visited.push(url);
      hop = await fetchOnce(check, url, method, { anchors, ownHost: url.hostname === original.hostname, resolve: url.hostname === original.hostname ? check.resolve : undefined, signal, timings, state });
      const location = hop.headers.location;
      if (!check.follow_redirects || !REDIRECT_CODES.has(hop.status) || typeof location !== 'string') break;
      const next = new URL(location, url);
      if (visited.some((u) => u.href === next.href)) {
        throw new ProbeFailure({
          reason: `redirect loop: ${[...visited, next].map((u) => (u.origin === original.origin ? u.pathname + u.search : u.href)).join(' -> ')}`,
          hint: 'The redirects go round in a circle. A common cause: the proxy redirects HTTP to HTTPS while the application, not told the original scheme, redirects back (set X-Forwarded-Proto and make the app trust the proxy).',
        });
      }
      if (visited.length > MAX_REDIRECTS) throw new ProbeFailure({ reason: `more than ${MAX_REDIRECTS} redirects, last to ${next.href}`, hint: 'Too many redirects in a row: check the redirect rules of the proxy and the application.' });
      if (hop.status === 303 || ((hop.status === 301 || hop.status === 302) && method === 'POST')) method = 'GET';
      url = next;
    }
  } catch (err) {
    const explained = err instanceof ProbeFailure
      ? err.explained
      : signal.aborted && isTimeout(signal.reason)
        ? explainTimeout(check.timeout, state.phase, { host: url.hostname, port: portOf(url) })
        : explainNetworkError(err, { host: url.hostname, port: portOf(url) }, state.phase);
    const served = err instanceof ProbeFailure ? err.tls : undefined;
    return failed(explained.reason, explained.hint, started, { timings, details: { url: check.url, phase: state.phase, ...(served ? { tls: served.details } : {}) }, observations: served?.observations ?? [] });
  }

  const total = (performance.now() - started) / 1000;
  const verdict = evaluateExpectations(check, hop, total * 1000);
  const observations: Observation[] = [
    { metric: 'forgewatch_http_status_code', value: hop.status },
    ...Object.entries(timings).map(([phase, value]) => ({ metric: 'forgewatch_http_phase_seconds', labels: { phase }, value })),
    ...(hop.tls?.observations ?? []),
  ];
  const certWarning = !verdict && hop.tls ? certificateWarning(hop.tls, check.tls) : undefined;
  const details: JsonObject = {
    url: check.url,
    final_url: hop.url.href,
    status_code: hop.status,
    redirects: visited.length - 1,
    address: hop.address,
    body_bytes: hop.body.length,
    ...(hop.tls ? { tls: hop.tls.details } : {}),
  };
  const passed = `status ${hop.status} in ${formatDuration(total * 1000)}`;
  const hint = verdict?.hint ?? certWarning?.hint;
  return {
    status: verdict ? 'fail' : (certWarning?.status ?? 'ok'),
    reason: verdict?.reason ?? (certWarning ? `${passed}, but ${certWarning.reason}` : passed),
    ...(hint ? { hint } : {}),
    timings: { ...timings, total },
    details,
    observations,
  } satisfies ProbeResult;
};

function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

interface FetchContext {
  anchors: X509Certificate[];
  ownHost: boolean;
  resolve?: string;
  signal: AbortSignal;
  timings: Record<'dns' | 'connect' | 'tls' | 'ttfb' | 'transfer', number>;
  state: { phase: Phase };
}

async function fetchOnce(check: HttpCheck, url: URL, method: string, ctx: FetchContext): Promise<Hop> {
  const { signal, timings, state } = ctx;
  const https = url.protocol === 'https:';
  let address = '';
  let served: HttpsHop['analysis'] | undefined;
  let tlsError: Explained | undefined;
  let readyAt = 0;
  const client = new Client(url.origin, {
    headersTimeout: 0,
    bodyTimeout: 0,
    pipelining: 1,
    connect: (opts, callback) => {
      const onPhase = (p: Phase) => (state.phase = p);
      const resolve = ctx.resolve ? { resolve: ctx.resolve } : {};
      (https
        ? dialHttps(url, check.tls, { ...resolve, anchors: ctx.anchors, ownHost: ctx.ownHost, signal, onPhase })
        : dial({ host: url.hostname, port: portOf(url), ...resolve, signal, onPhase })
      ).then(
        (d: Dialed | HttpsHop) => {
          address = d.address;
          timings.dns += d.timings.dns;
          timings.connect += d.timings.connect;
          timings.tls += d.timings.tls ?? 0;
          if ('analysis' in d) {
            served = d.analysis;
            if (d.error) {
              tlsError = d.error;
              d.socket.destroy();
              callback(new ProbeFailure(tlsError, served), null);
              return;
            }
          }
          state.phase = 'first byte';
          readyAt = performance.now();
          callback(null, d.socket);
        },
        (err: Error) => callback(err, null),
      );
      void opts;
    },
  });
  try {
    const res = await client.request({ path: url.pathname + url.search, method, headers: check.headers, body: check.body ?? null, signal });
    const headersAt = performance.now();
    timings.ttfb += (headersAt - readyAt) / 1000;
    state.phase = 'body';
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      if (received > check.max_body) {
        res.body.destroy();
        throw new ProbeFailure({ reason: `body exceeds ${formatSize(check.max_body)}`, hint: 'The response is larger than max_body: point the check at a lighter health endpoint or raise max_body.' });
      }
      chunks.push(chunk as Buffer);
    }
    timings.transfer += (performance.now() - headersAt) / 1000;
    // A graceful close: destroy() would build an error (and its stack) on every successful probe.
    client.close().catch(() => undefined);
    return { url, status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), address, ...(served ? { tls: served } : {}) };
  } catch (err) {
    client.destroy().catch(() => undefined);
    if (tlsError) throw new ProbeFailure(tlsError, served);
    throw err;
  }
}
