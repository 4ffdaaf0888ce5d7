/** HTTP(S) probe: one fresh connection per hop (http-fetch.ts), per-phase timings, bounded body, redirects with loop detection. */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { z } from 'zod';
import { checkSchema, duration, filePath, regex, size, statusMatcher, type CheckOf } from '../config/fields.js';
import { formatDuration } from '../util/format.js';
import { plainHttpNextDoor } from '../net/surroundings.js';
import { explainNetworkError, explainTimeout, isTimeout } from '../net/explain.js';
import { fileErrorText } from '../tls/certificate.js';
import { checkWindows, sniName } from '../tls/config.js';
import { HINTS } from '../tls/findings.js';
import { serverNameFor } from '../tls/handshake.js';
import { certificateWarning, httpTlsPolicyFields } from '../tls/https.js';
import { tlsCertMetrics } from '../tls/report.js';
import { readAnchors } from '../tls/trust.js';
import { certificateFacts, fieldFacts, jsonObject } from './facts.js';
import {
  failed,
  type FactsOf,
  type JsonObject,
  type MetricNames,
  type MetricSpec,
  type Observation,
  type Probe,
  type ProbeResult,
} from './types.js';
import { evaluateExpectations } from './http-expect.js';
import { fetchOnce, PHASES, portOf, type Hop, type RunState, type TimedPhase } from './http-fetch.js';
import { ProbeFailure } from './failure.js';
import { networkFailureClass, problemClass } from './failure-classes.js';
import { firstRequest, REDIRECT_CODES, redactUrl, redirectRequest } from './http-redirect.js';
import { defineKind } from './kind.js';

const MAX_REDIRECTS = 10;
/** How long a refused https:// URL's hint may wait to learn whether port 80 of the same address answers. */

export const httpCheckSchema = checkSchema('http', {
  url: z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
    message: 'expected an http:// or https:// URL',
  }),
  method: z
    .string()
    .regex(/^[A-Za-z]+$/)
    .transform((m) => m.toUpperCase())
    .default('GET'),
  headers: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).default({}),
  body: z.string().optional(),
  follow_redirects: z.boolean().default(true),
  resolve: z
    .string()
    .refine((v) => net.isIP(v) !== 0, { message: 'expected an IP address' })
    .optional(),
  tls: z
    .strictObject({
      ca_file: filePath.optional(),
      insecure: z.boolean().default(false),
      server_name: sniName.optional(),
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

export const httpMetrics = [
  {
    name: 'forgewatch_http_status_code',
    help: 'HTTP status code of the last response (after redirects).',
    labelNames: [],
  },
  {
    name: 'forgewatch_http_phase_seconds',
    help: 'Duration of each phase of the last HTTP probe, summed over redirects.',
    labelNames: ['phase'],
  },
  ...tlsCertMetrics,
] as const satisfies readonly MetricSpec[];

type HttpMetricName = MetricNames<typeof httpMetrics>;

/**
 * The check's URL as shown, written once per check config: every run's details hold it, so ten thousand checks keep
 * one string each instead of one per run and a URL parsed for it every time.
 */
const SHOWN_URLS = new WeakMap<HttpCheck, string>();

function shownUrlOf(check: HttpCheck): string {
  let shown = SHOWN_URLS.get(check);
  if (shown === undefined) SHOWN_URLS.set(check, (shown = redactUrl(check.url)));
  return shown;
}

export const probeHttp: Probe<HttpCheck, HttpMetricName> = async (check, { signal }) => {
  const started = performance.now();
  const state: RunState = {
    phase: 'resolving',
    timings: { dns: 0, connect: 0, tls: 0, ttfb: 0, transfer: 0 },
    measured: new Set(),
  };
  const shownUrl = shownUrlOf(check);
  let anchors: readonly X509Certificate[] = [];
  if (check.tls.ca_file) {
    try {
      anchors = await readAnchors(check.tls.ca_file);
    } catch (err) {
      return failed(
        `cannot read tls.ca_file ${check.tls.ca_file}: ${fileErrorText(err)}`,
        HINTS.file_unreadable,
        started,
        { details: { url: shownUrl }, code: 'file_unreadable' },
      );
    }
  }
  let req = firstRequest(check);
  const original = req.url;
  const visited: URL[] = [];
  let hop: Hop;
  try {
    for (;;) {
      visited.push(req.url);
      const own = req.url.hostname === original.hostname;
      hop = await fetchOnce(req, {
        tls: check.tls,
        maxBody: check.max_body,
        anchors,
        ownHost: own,
        ...(own && check.resolve ? { resolve: check.resolve } : {}),
        signal,
        state,
      });
      const location = hop.headers.location;
      if (!check.follow_redirects || !REDIRECT_CODES.has(hop.status) || typeof location !== 'string') break;
      const next = redirectRequest(req, hop.status, location);
      const shown = (u: URL) => (u.origin === original.origin ? u.pathname + u.search : redactUrl(u));
      if (visited.some((u) => u.href === next.url.href)) {
        throw new ProbeFailure(
          {
            reason: `redirect loop: ${[...visited, next.url].map(shown).join(' -> ')}`,
            hint: 'The redirects go round in a circle. A common cause: the proxy redirects HTTP to HTTPS while the application, not told the original scheme, redirects back (set X-Forwarded-Proto and make the app trust the proxy).',
          },
          undefined,
          'redirect_loop',
        );
      }
      if (visited.length > MAX_REDIRECTS)
        throw new ProbeFailure(
          {
            reason: `more than ${MAX_REDIRECTS} redirects, last to ${redactUrl(next.url)}`,
            hint: 'Too many redirects in a row: check the redirect rules of the proxy and the application.',
          },
          undefined,
          'too_many_redirects',
        );
      req = next;
    }
  } catch (err) {
    return await failedRun(check, err, {
      url: req.url,
      started,
      signal,
      state,
      shownUrl,
      redirects: visited.length - 1,
    });
  }

  const total = (performance.now() - started) / 1000;
  const verdict = await evaluateExpectations(check, hop, total * 1000, signal);
  const checked = (performance.now() - started) / 1000;
  const timings = { ...state.timings, total: checked };
  const certWarning = !verdict && hop.tls ? certificateWarning(hop.tls, check.tls) : undefined;
  const details: JsonObject = {
    url: shownUrl,
    final_url: visited.length === 1 ? shownUrl : redactUrl(hop.url),
    status_code: hop.status,
    redirects: visited.length - 1,
    address: hop.address,
    body_bytes: hop.body.length,
    timings_ms: inMs(timings),
    ...(hop.tls ? { tls: hop.tls.details } : {}),
  };
  const passed = `status ${hop.status} in ${formatDuration(total * 1000)}`;
  const hint = verdict?.hint ?? certWarning?.hint;
  const code = verdict?.code ?? (certWarning && hop.tls ? problemClass(hop.tls.details) : undefined);
  return {
    status: verdict ? 'fail' : (certWarning?.status ?? 'ok'),
    reason: verdict?.reason ?? (certWarning ? `${passed}, but ${certWarning.reason}` : passed),
    ...(hint ? { hint } : {}),
    ...(code ? { code } : {}),
    timings,
    details,
    observations: [...runObservations(state, phasesOfRun(state)), ...(hop.tls?.observations ?? [])],
  } satisfies ProbeResult<HttpMetricName>;
};

/**
 * The phases a successful run reports as series: all of them, but TLS only when some hop spoke it. The tls phase of a
 * plain http:// check is always 0, a series per check that no panel or rule learns anything from.
 */
function phasesOfRun(state: RunState): readonly TimedPhase[] {
  return state.measured.has('tls') ? PHASES : PLAIN_PHASES;
}
const PLAIN_PHASES = PHASES.filter((p) => p !== 'tls');

/** One labels object per phase, shared by every run's observations: a check keeps its last run's until the next. */
const PHASE_LABELS = Object.fromEntries(PHASES.map((phase) => [phase, Object.freeze({ phase })])) as Record<
  TimedPhase,
  Readonly<Record<'phase', string>>
>;

/** Status code (when one came) and phase durations: every phase after a success, the measured ones after a failure. */
function runObservations(state: RunState, phases: readonly TimedPhase[]): Observation<HttpMetricName>[] {
  const observations: Observation<HttpMetricName>[] = [];
  if (state.status !== undefined) observations.push({ metric: 'forgewatch_http_status_code', value: state.status });
  for (const phase of phases)
    observations.push({
      metric: 'forgewatch_http_phase_seconds',
      labels: PHASE_LABELS[phase],
      value: state.timings[phase],
    });
  return observations;
}

function inMs(timings: Record<string, number>): JsonObject {
  const out: JsonObject = {};
  for (const phase in timings) out[phase] = Math.round((timings[phase] as number) * 10_000) / 10;
  return out;
}

interface FailedRun {
  url: URL;
  started: number;
  signal: AbortSignal;
  state: RunState;
  shownUrl: string;
  redirects: number;
}

async function failedRun(check: HttpCheck, err: unknown, run: FailedRun): Promise<ProbeResult<HttpMetricName>> {
  const { url, state } = run;
  const serverName = url.protocol === 'https:' ? serverNameFor(url.hostname, check.tls.server_name) : undefined;
  const target = {
    host: url.hostname,
    port: portOf(url),
    ...(state.address ? { address: state.address } : {}),
    ...(serverName ? { serverName } : {}),
  };
  const timedOut = run.signal.aborted && isTimeout(run.signal.reason);
  const explained =
    err instanceof ProbeFailure
      ? err.explained
      : timedOut
        ? explainTimeout(check.timeout, state.phase, target, state.headerBytes)
        : explainNetworkError(
            err,
            target,
            state.phase,
            url.protocol === 'https:' ? await plainHttpNextDoor(err, portOf(url), run.signal) : {},
          );
  const served = err instanceof ProbeFailure ? err.tls : undefined;
  const code =
    err instanceof ProbeFailure
      ? (err.code ?? (served && problemClass(served.details)) ?? `failed_${state.phase.replace(/ /g, '_')}`)
      : networkFailureClass(err, state.phase, timedOut);
  const measured = PHASES.filter((p) => state.measured.has(p));
  const result = failed(explained.reason, explained.hint, run.started, {
    timings: Object.fromEntries(measured.map((p) => [p, state.timings[p]])),
    details: {
      url: run.shownUrl,
      phase: state.phase,
      redirects: Math.max(0, run.redirects),
      ...(state.status !== undefined ? { status_code: state.status } : {}),
      ...(state.address ? { address: state.address } : {}),
      ...(served ? { tls: served.details } : {}),
    },
    observations: [...runObservations(state, measured), ...(served?.observations ?? [])],
    code,
  });
  result.details.timings_ms = inMs(result.timings);
  return result;
}

/** For https:// URLs the served certificate's facts; in alerts also every other field of the details. */
export const httpFacts: FactsOf = (details) => {
  const tls = jsonObject(details.tls);
  return [...(tls ? certificateFacts(tls) : []), ...fieldFacts(details, { skip: ['tls'], nested: true })];
};

/** The http probe kind, as src/probes/index.ts registers it. */
export const httpKind = defineKind({
  schema: httpCheckSchema,
  probe: probeHttp,
  metrics: httpMetrics,
  facts: httpFacts,
});
