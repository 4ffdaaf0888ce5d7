/** TLS certificate probe: handshake accepting anything, then expiry, names, chain and served-vs-file judged here. */
import type { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { checkSchema, filePath, port, type CheckOf } from '../config/fields.js';
import { bareHost } from '../util/address.js';
import { plainHttpNextDoor } from '../net/surroundings.js';
import { explainNetworkError, explainTimeout, isTimeout, type RequestPhase } from '../net/explain.js';
import { fileErrorText, readPemFileIfChanged } from '../tls/certificate.js';
import { certPolicyFields, checkWindows, sniName } from '../tls/config.js';
import { connectionProblem, finding, HINTS, summarize } from '../tls/findings.js';
import { connectTls, inspectServed, serverNameFor } from '../tls/handshake.js';
import { analyzeServed, servedMatchesFileMetric, tlsCertMetrics, type ExpectedFile } from '../tls/report.js';
import { readAnchors, trustStore } from '../tls/trust.js';
import { certificateFacts, fieldFacts } from './facts.js';
import { problemClass, UNCLASSED } from './failure-classes.js';
import { failed, type FactsOf, type MetricNames, type MetricSpec, type Probe, type ProbeResult } from './types.js';
import { defineKind } from './kind.js';

export const tlsCheckSchema = checkSchema('tls', {
  host: z.string().min(1),
  port: port.default(443),
  server_name: sniName.optional(),
  ...certPolicyFields,
  ca_file: filePath.optional(),
  cert_file: filePath.optional(),
}).superRefine((check, ctx) => checkWindows(check, ctx));

export type TlsCheck = CheckOf<typeof tlsCheckSchema>;

export const tlsMetrics = [...tlsCertMetrics, servedMatchesFileMetric] as const satisfies readonly MetricSpec[];

async function readExpected(file: string, since: number): Promise<ExpectedFile> {
  try {
    const [leaf] = await readPemFileIfChanged(file, since);
    return leaf ? { path: file, leaf } : { path: file, error: 'no PEM certificate in it' };
  } catch (err) {
    return { path: file, error: fileErrorText(err) };
  }
}

export const probeTls: Probe<TlsCheck, MetricNames<typeof tlsMetrics>> = async (check, { signal }) => {
  const started = performance.now();
  const host = bareHost(check.host);
  const serverName = serverNameFor(host, check.server_name);
  const names = check.names ?? [serverName ?? host];
  const target = { host, port: check.port, ...(serverName ? { serverName } : {}) };
  const summary = { host, port: check.port, server_name: serverName ?? null };

  let anchors: readonly X509Certificate[] = [];
  if (check.ca_file) {
    try {
      anchors = await readAnchors(check.ca_file, started);
    } catch (err) {
      const f = finding('file_unreadable', 'fail', `cannot read ca_file ${check.ca_file}: ${fileErrorText(err)}`);
      return failed(f.reason, f.hint, started, { details: { ...summary, problems: [f.code] } });
    }
  }

  const state = { phase: 'resolving' as RequestPhase };
  let connection;
  try {
    connection = await connectTls({
      host,
      port: check.port,
      ...(serverName ? { servername: serverName } : {}),
      anchors,
      alpn: ['h2', 'http/1.1'],
      signal,
      onPhase: (p) => (state.phase = p),
    });
  } catch (err) {
    const timedOut = signal.aborted && isTimeout(signal.reason);
    const explained = timedOut
      ? explainTimeout(check.timeout, state.phase, target)
      : explainNetworkError(err, target, state.phase, await plainHttpNextDoor(err, check.port, signal));
    const code = connectionProblem(err, state.phase, timedOut);
    return failed(explained.reason, explained.hint ?? HINTS[code], started, {
      details: { ...summary, phase: state.phase, problems: [code] },
    });
  }
  let served;
  try {
    served = inspectServed(connection.socket, connection.ocspStapled);
  } finally {
    connection.socket.destroy();
  }

  const file = check.cert_file ? await readExpected(check.cert_file, started) : undefined;
  const analysis = analyzeServed(served, {
    names,
    store: trustStore(anchors),
    policy: check,
    now: Date.now(),
    ...(file ? { file } : {}),
  });
  const verdict = summarize(analysis.findings, analysis.okReason);
  return {
    ...verdict,
    timings: { ...connection.timings, total: (performance.now() - started) / 1000 },
    details: { ...summary, address: connection.address, ...analysis.details },
    observations: analysis.observations,
  };
};

/** Certificate fields the facts say in words; the rest of the details are listed as they are in alerts. */
const SAID_IN_WORDS = ['days_left', 'names_covered', 'names_missing', 'sans', 'problems'];

/** Days left and the names covered or not; in alerts also the SANs, problem codes and connection fields. */
export const tlsFacts: FactsOf = (details) => [
  ...certificateFacts(details),
  ...fieldFacts(details, { skip: SAID_IN_WORDS, nested: false }),
];

/** The worst certificate or connection problem (details.problems lists them worst first): expired, name_not_covered, refused… */
export const tlsFailureClass = (result: ProbeResult): string => problemClass(result.details) ?? UNCLASSED;

/** The tls probe kind, as src/probes/index.ts registers it. */
export const tlsKind = defineKind({
  schema: tlsCheckSchema,
  probe: probeTls,
  metrics: tlsMetrics,
  facts: tlsFacts,
  failureClass: tlsFailureClass,
});
