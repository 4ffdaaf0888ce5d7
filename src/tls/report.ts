/** Turns a served (or stored) certificate chain into findings, the details JSON and metric samples. */
import type { X509Certificate } from 'node:crypto';
import type { JsonObject, MetricNames, MetricSpec, Observation } from '../probes/types.js';
import { describeCertificate, formatName, notAfterMs, notBeforeMs, sanList, sansOf } from './certificate.js';
import {
  expiryFindings,
  finding,
  sortFindings,
  strengthFindings,
  type ExpiryPolicy,
  type Finding,
} from './findings.js';
import type { ServedTls } from './handshake.js';
import { nameCovered } from './names.js';
import { verifyChain, type TrustStore } from './trust.js';

/** Gauges of a served certificate: declared by the tls probe and by http for https:// URLs. */
export const tlsCertMetrics = [
  {
    name: 'forgewatch_tls_cert_not_after_timestamp_seconds',
    help: 'Unix time the served certificate expires: cert="leaf", or cert="chain_min" for the earliest in its chain.',
    labelNames: ['cert'],
  },
  {
    name: 'forgewatch_tls_cert_not_before_timestamp_seconds',
    help: 'Unix time the served leaf certificate became valid.',
    labelNames: [],
  },
  {
    name: 'forgewatch_tls_cert_info',
    help: 'The served leaf certificate (always 1).',
    labelNames: ['subject', 'issuer', 'serial', 'fingerprint_sha256'],
  },
  {
    name: 'forgewatch_tls_name_covered',
    help: 'Whether the served certificate covers each expected name (1) or not (0).',
    labelNames: ['name'],
  },
  { name: 'forgewatch_tls_version_info', help: 'TLS protocol version negotiated (always 1).', labelNames: ['version'] },
] as const satisfies readonly MetricSpec[];

export const servedMatchesFileMetric = {
  name: 'forgewatch_tls_served_matches_file',
  help: 'Whether the served leaf certificate is the one in cert_file (1) or not (0).',
  labelNames: [],
} as const satisfies MetricSpec;

/** The gauges of a served certificate; compared with a cert_file, also whether the two match. */
type TlsCertMetricName = MetricNames<typeof tlsCertMetrics>;
type ServedMetricName = TlsCertMetricName | typeof servedMatchesFileMetric.name;

const DAY_MS = 86_400_000;

interface CertAnalysis {
  findings: Finding[];
  /** days_left, names_covered, names_missing, sans, leaf. */
  details: JsonObject;
  /** Earliest not_after over the leaf and its issuers. */
  chainMinNotAfter: number;
  trusted: boolean;
  /** The leaf, then each issuer found among the certificates supplied, ending with the trust anchor when there is one. */
  path: readonly X509Certificate[];
  okReason: string;
}

export interface AnalysisOptions {
  names: string[];
  store: TrustStore;
  policy: ExpiryPolicy;
  now: number;
}

/** Everything that can be judged from the certificates alone, wherever they came from. */
export function analyzeCertificate(
  leaf: X509Certificate,
  supplied: readonly X509Certificate[],
  opts: AnalysisOptions,
  source: 'server' | 'file',
  truncatedAt?: number,
): CertAnalysis {
  const sans = sansOf(leaf);
  const covered = opts.names.filter((n) => nameCovered(n, sans));
  const missing = opts.names.filter((n) => !nameCovered(n, sans));
  const verdict = verifyChain(leaf, supplied, opts.store, {
    source,
    ...(truncatedAt !== undefined ? { truncatedAt } : {}),
  });
  const findings: Finding[] = [];
  if (missing.length > 0) {
    findings.push(
      finding(
        'name_not_covered',
        'fail',
        `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the SANs [${sanList(leaf).join(', ')}]`,
      ),
    );
  }
  if (verdict.problem)
    findings.push(finding(verdict.problem.code, 'fail', verdict.problem.reason, verdict.problem.hint));
  findings.push(...expiryFindings(leaf, verdict.path.slice(1), opts.policy, opts.now));
  findings.push(...strengthFindings(verdict.path, opts.store.fingerprints));
  const notAfter = notAfterMs(leaf);
  const daysLeft = Math.floor((notAfter - opts.now) / DAY_MS);
  return {
    findings,
    details: {
      days_left: daysLeft,
      names_covered: covered,
      names_missing: missing,
      sans: sanList(leaf),
      leaf: { ...describeCertificate(leaf) },
    },
    chainMinNotAfter: Math.min(...verdict.path.map(notAfterMs)),
    trusted: verdict.trusted,
    path: verdict.path,
    okReason: `certificate valid for ${daysLeft} days (until ${new Date(notAfter).toISOString().slice(0, 10)}), covers ${covered.join(', ') || 'no names checked'}`,
  };
}

/** The `problems` detail: each code found, worst first. */
export function problemCodes(findings: Finding[]): string[] {
  return [...new Set(sortFindings(findings).map((f) => f.code))];
}

/** Each certificate as listed, and whether it verifies to a trusted root. */
export function chainJson(
  certs: readonly X509Certificate[],
  store: TrustStore,
  source: 'server' | 'file',
): JsonObject[] {
  return certs.map((cert) => ({
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    not_after: new Date(notAfterMs(cert)).toISOString(),
    trusted: verifyChain(cert, certs, store, { source }).trusted,
  }));
}

/** Time and name problems OpenSSL may report that forgewatch already judged itself. */
const JUDGED_HERE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export interface ServedAnalysis<Name extends string = TlsCertMetricName> {
  findings: Finding[];
  details: JsonObject;
  observations: Observation<Name>[];
  okReason: string;
}

export interface ExpectedFile {
  path: string;
  leaf?: X509Certificate;
  error?: string;
}

export function analyzeServed(served: ServedTls, opts: AnalysisOptions & { file?: undefined }): ServedAnalysis;
export function analyzeServed(
  served: ServedTls,
  opts: AnalysisOptions & { file?: ExpectedFile },
): ServedAnalysis<ServedMetricName>;
export function analyzeServed(
  served: ServedTls,
  opts: AnalysisOptions & { file?: ExpectedFile },
): ServedAnalysis<ServedMetricName> {
  const base = {
    protocol: served.protocol,
    cipher: served.cipher,
    alpn: served.alpn,
    ocsp_stapled: served.ocspStapled,
  };
  const observations: Observation<ServedMetricName>[] = served.protocol
    ? [{ metric: 'forgewatch_tls_version_info', labels: { version: served.protocol }, value: 1 }]
    : [];
  const leaf = served.chain[0];
  if (!leaf) {
    const none = finding('handshake_failed', 'fail', 'the server presented no certificate');
    return { findings: [none], details: { ...base, problems: problemCodes([none]) }, observations, okReason: '' };
  }
  const cert = analyzeCertificate(
    leaf,
    served.chain,
    opts,
    'server',
    served.truncated ? served.chain.length : undefined,
  );
  const findings = [...cert.findings];
  if (cert.trusted && served.opensslError && !JUDGED_HERE.has(served.opensslError)) {
    findings.push(finding('untrusted', 'fail', `OpenSSL rejects the chain: ${served.opensslError}`));
  }
  const fileDetails: JsonObject = {};
  if (opts.file) {
    const { path, leaf: fileLeaf, error } = opts.file;
    const matches = fileLeaf !== undefined && fileLeaf.fingerprint256 === leaf.fingerprint256;
    fileDetails.cert_file = path;
    fileDetails.served_matches_file = error ? null : matches;
    if (fileLeaf) fileDetails.file_leaf = { ...describeCertificate(fileLeaf) };
    if (error) {
      findings.push(finding('file_unreadable', 'fail', `cannot read cert_file ${path}: ${error}`));
    } else if (fileLeaf && !matches) {
      findings.push(
        finding(
          'served_differs_from_file',
          'fail',
          `the server serves serial ${leaf.serialNumber.toUpperCase()} (not_after ${new Date(notAfterMs(leaf)).toISOString()}) but ${path} holds serial ${fileLeaf.serialNumber.toUpperCase()} (not_after ${new Date(notAfterMs(fileLeaf)).toISOString()})`,
        ),
      );
    }
    if (!error) observations.push({ metric: servedMatchesFileMetric.name, value: matches ? 1 : 0 });
  }
  const info = describeCertificate(leaf);
  observations.push(
    {
      metric: 'forgewatch_tls_cert_not_after_timestamp_seconds',
      labels: { cert: 'leaf' },
      value: notAfterMs(leaf) / 1000,
    },
    {
      metric: 'forgewatch_tls_cert_not_after_timestamp_seconds',
      labels: { cert: 'chain_min' },
      value: cert.chainMinNotAfter / 1000,
    },
    { metric: 'forgewatch_tls_cert_not_before_timestamp_seconds', value: notBeforeMs(leaf) / 1000 },
    {
      metric: 'forgewatch_tls_cert_info',
      labels: {
        subject: info.subject,
        issuer: info.issuer,
        serial: info.serial,
        fingerprint_sha256: info.fingerprint_sha256,
      },
      value: 1,
    },
    ...opts.names.map((name) => ({
      metric: 'forgewatch_tls_name_covered' as const,
      labels: { name },
      value: nameCovered(name, sansOf(leaf)) ? 1 : 0,
    })),
  );
  return {
    findings,
    details: {
      ...cert.details,
      // As linked by issuer, ending at the trust anchor: what the server sent in its order can include
      // certificates that play no part.
      chain: chainJson(cert.path, opts.store, 'server'),
      ...base,
      ...fileDetails,
      problems: problemCodes(findings),
    },
    observations,
    okReason: `${cert.okReason}, ${served.protocol ?? 'TLS'}`,
  };
}
