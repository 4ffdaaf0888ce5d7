/** Certificate files on disk (certbot's live/ folder): expiry, names, key and chain of each file matched. */
import type { X509Certificate } from 'node:crypto';
import { checkSchema, filePath, type CheckOf } from '../config/fields.js';
import { fileErrorText, readPemFile } from '../tls/certificate.js';
import { certPolicyFields, checkWindows } from '../tls/config.js';
import { finding, sortFindings, summarize, type Finding } from '../tls/findings.js';
import { expandGlob, hasWildcard } from '../tls/glob.js';
import { analyzeCertificate, chainJson, problemCodes, type AnalysisOptions } from '../tls/report.js';
import { readAnchors, trustStore, type TrustStore } from '../tls/trust.js';
import { daysLeftText, expiryTone, fieldFacts, jsonObject, jsonStrings } from './facts.js';
import { problemClass, UNCLASSED } from './failure-classes.js';
import {
  failed,
  worstStatus,
  type Fact,
  type FactsOf,
  type JsonObject,
  type MetricNames,
  type MetricSpec,
  type Observation,
  type Probe,
  type ProbeResult,
  type Status,
} from './types.js';
import { defineKind } from './kind.js';

export const certFileCheckSchema = checkSchema('cert_file', {
  path: filePath,
  ...certPolicyFields,
  ca_file: filePath.optional(),
}).superRefine((check, ctx) => checkWindows(check, ctx));

export type CertFileCheck = CheckOf<typeof certFileCheckSchema>;

export const certFileMetrics = [
  {
    name: 'forgewatch_cert_file_not_after_timestamp_seconds',
    help: 'Unix time the leaf certificate in each matched file expires.',
    labelNames: ['path'],
  },
] as const satisfies readonly MetricSpec[];

type CertFileMetricName = MetricNames<typeof certFileMetrics>;

const MAX_FILES = 500;

interface FileResult {
  status: Status;
  findings: Finding[];
  json: JsonObject;
  notAfter?: number;
  daysLeft?: number;
}

async function inspectFile(file: string, opts: AnalysisOptions): Promise<FileResult> {
  let certs: X509Certificate[];
  try {
    certs = await readPemFile(file);
  } catch (err) {
    const f = finding('file_unreadable', 'fail', `cannot read ${file}: ${fileErrorText(err)}`);
    return {
      status: 'fail',
      findings: [f],
      json: { path: file, status: 'fail', reason: f.reason, hint: f.hint, problems: [f.code] },
    };
  }
  const [leaf] = certs;
  if (!leaf) {
    const f = finding('file_unreadable', 'fail', `${file} holds no PEM certificate`);
    return {
      status: 'fail',
      findings: [f],
      json: { path: file, status: 'fail', reason: f.reason, hint: f.hint, problems: [f.code] },
    };
  }
  const cert = analyzeCertificate(leaf, certs, opts, 'file');
  const until = new Date(Date.parse(leaf.validTo)).toISOString().slice(0, 10);
  const verdict = summarize(cert.findings, `valid for ${cert.details.days_left as number} days (until ${until})`);
  return {
    status: verdict.status,
    findings: cert.findings,
    notAfter: Date.parse(leaf.validTo),
    daysLeft: cert.details.days_left as number,
    json: {
      path: file,
      status: verdict.status,
      reason: verdict.reason,
      ...(verdict.hint ? { hint: verdict.hint } : {}),
      ...cert.details,
      chain: chainJson(certs, opts.store, 'file'),
      problems: problemCodes(cert.findings),
    },
  };
}

export const probeCertFile: Probe<CertFileCheck, CertFileMetricName> = async (check) => {
  const started = performance.now();
  let store: TrustStore;
  try {
    store = trustStore(check.ca_file ? await readAnchors(check.ca_file) : []);
  } catch (err) {
    const f = finding('file_unreadable', 'fail', `cannot read ca_file ${check.ca_file ?? ''}: ${fileErrorText(err)}`);
    return failed(f.reason, f.hint, started, { details: { path: check.path, problems: [f.code] } });
  }
  const files = await expandGlob(check.path, MAX_FILES);
  if (files.length === 0) {
    const f = finding(
      'file_unreadable',
      'fail',
      `no file matches ${check.path}`,
      'No certificate file matches the path: check the pattern, that the certificates were issued (certbot certificates), and that forgewatch may list the folders (live/ is readable by root only).',
    );
    return failed(f.reason, f.hint, started, { details: { path: check.path, files: [], problems: [f.code] } });
  }
  const opts: AnalysisOptions = { names: check.names ?? [], store, policy: check, now: Date.now() };
  const results = await Promise.all(files.map((file) => inspectFile(file, opts)));
  const status = worstStatus(results.map((r) => r.status));
  const observations: Observation<CertFileMetricName>[] = results.flatMap((r) =>
    r.notAfter === undefined
      ? []
      : [
          {
            metric: 'forgewatch_cert_file_not_after_timestamp_seconds' as const,
            labels: { path: r.json.path as string },
            value: r.notAfter / 1000,
          },
        ],
  );
  const allFindings = results.flatMap((r) => r.findings);
  const daysLeft = results.flatMap((r) => (r.daysLeft === undefined ? [] : [r.daysLeft]));
  let reason: string;
  let hint: string | undefined;
  if (status === 'ok') {
    const soonest = results.reduce((a, b) => ((b.notAfter ?? Infinity) < (a.notAfter ?? Infinity) ? b : a));
    reason =
      files.length === 1
        ? `${soonest.json.reason as string}`
        : `${files.length} files ok, the first to expire: ${soonest.json.path as string} in ${soonest.daysLeft ?? 0} days`;
  } else {
    const worst = sortFindings(allFindings)[0] as Finding;
    const owner = results.find((r) => r.findings.includes(worst)) as FileResult;
    const others = results.filter((r) => r !== owner && r.status !== 'ok').length;
    const prefix = hasWildcard(check.path) || files.length > 1 ? `${owner.json.path as string}: ` : '';
    reason = `${prefix}${owner.json.reason as string}${others > 0 ? ` (${others} more ${others === 1 ? 'file' : 'files'} with problems)` : ''}`;
    hint = owner.json.hint as string | undefined;
  }
  return {
    status,
    reason,
    ...(hint ? { hint } : {}),
    timings: { total: (performance.now() - started) / 1000 },
    details: {
      path: check.path,
      files: results.map((r) => r.json),
      ...(daysLeft.length > 0 ? { days_left: Math.min(...daysLeft) } : {}),
      problems: problemCodes(allFindings),
    },
    observations,
  };
};

/**
 * One fact per certificate file: days left and the names it misses, named by its last two path segments
 * (certbot's live/<name>/fullchain.pem differ in the folder; the label keeps the full path).
 */
function certificateFileFact(file: JsonObject): Fact {
  const full = typeof file.path === 'string' ? file.path : '?';
  if (typeof file.days_left !== 'number')
    return { label: full, text: typeof file.reason === 'string' ? file.reason : `${full}: unreadable`, tone: 'fail' };
  const days = Math.floor(file.days_left);
  const missing = jsonStrings(file.names_missing);
  const uncovered = missing.length > 0 ? `, does not cover ${missing.join(', ')}` : '';
  return {
    label: full,
    text: `${full.split('/').slice(-2).join('/')}: ${daysLeftText(days)}${uncovered}`,
    tone: missing.length > 0 ? 'fail' : expiryTone(days),
  };
}

/** Each matched file's expiry and missing names; in alerts also the details as they are. */
export const certFileFacts: FactsOf = (details) => [
  ...(Array.isArray(details.files) ? details.files : []).flatMap((f) => {
    const file = jsonObject(f);
    return file ? [certificateFileFact(file)] : [];
  }),
  ...fieldFacts(details, { nested: true }),
];

/** The worst certificate problem over the files (details.problems lists them worst first). */
export const certFileFailureClass = (result: ProbeResult): string => problemClass(result.details) ?? UNCLASSED;

/** The cert_file probe kind, as src/probes/index.ts registers it. */
export const certFileKind = defineKind({
  schema: certFileCheckSchema,
  probe: probeCertFile,
  metrics: certFileMetrics,
  facts: certFileFacts,
  failureClass: certFileFailureClass,
});
