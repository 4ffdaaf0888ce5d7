/** The certificate side of an https:// hop in an http check: same handshake and judgement as the tls check. */
import type { X509Certificate } from 'node:crypto';
import type { ConnectPhase } from '../net/dial.js';
import { bareHost } from '../util/address.js';
import type { Explained } from '../net/explain.js';
import type { Status } from '../probes/types.js';
import { certPolicyFields, type ExpiryWindow } from './config.js';
import { summarize } from './findings.js';
import { connectTls, inspectServed, type TlsConnection } from './handshake.js';
import { analyzeServed, type ServedAnalysis } from './report.js';
import { trustStore } from './trust.js';

/** Keys the `tls:` block of an http check takes besides ca_file, insecure and server_name. */
export const httpTlsPolicyFields = certPolicyFields;

export interface HttpTlsSettings {
  names?: string[];
  warn_before: ExpiryWindow;
  fail_before: ExpiryWindow;
  insecure: boolean;
  server_name?: string;
}

export interface HttpsHop extends TlsConnection {
  analysis: ServedAnalysis;
  /** Set when a certificate problem fails the check (never with insecure: true). */
  error?: Explained;
}

export interface HttpsDialOptions {
  resolve?: string;
  anchors: readonly X509Certificate[];
  /** Whether this hop goes to the check's own host (its `names` apply) or a redirect target. */
  ownHost: boolean;
  signal: AbortSignal;
  onPhase: (phase: ConnectPhase) => void;
}

export async function dialHttps(url: URL, settings: HttpTlsSettings, opts: HttpsDialOptions): Promise<HttpsHop> {
  const host = bareHost(url.hostname);
  const connection = await connectTls({
    host,
    port: Number(url.port) || 443,
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
    ...(settings.server_name ? { servername: settings.server_name } : {}),
    anchors: opts.anchors,
    alpn: ['http/1.1'],
    signal: opts.signal,
    onPhase: opts.onPhase,
  });
  let analysis: ServedAnalysis;
  try {
    const names = (opts.ownHost ? settings.names : undefined) ?? [settings.server_name ?? host];
    analysis = analyzeServed(inspectServed(connection.socket, connection.ocspStapled), {
      names,
      store: trustStore(opts.anchors),
      policy: settings,
      now: Date.now(),
    });
  } catch (err) {
    connection.socket.destroy();
    throw err;
  }
  const failing = analysis.findings.filter((f) => f.status === 'fail');
  const error = failing.length > 0 && !settings.insecure ? summarize(failing, '') : undefined;
  return {
    ...connection,
    analysis,
    ...(error ? { error: { reason: error.reason, ...(error.hint ? { hint: error.hint } : {}) } } : {}),
  };
}

/** The certificate's warnings (expiry windows, renewal overdue, weak key) for an otherwise passing check. */
export function certificateWarning(
  analysis: ServedAnalysis,
  settings: HttpTlsSettings,
): { status: Status; reason: string; hint?: string } | undefined {
  if (settings.insecure) return undefined;
  const verdict = summarize(analysis.findings, '');
  return verdict.status === 'ok' ? undefined : verdict;
}
