/**
 * Chain verification done by forgewatch itself after a handshake that accepted anything, so an
 * untrusted, self-signed or incomplete chain is named precisely instead of ending the connection.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';
import { formatName, pemBlocks, readPemFileIfChanged } from './certificate.js';

export interface TrustStore {
  anchors: Map<string, X509Certificate[]>;
  fingerprints: Set<string>;
}

type ChainProblemCode = 'self_signed' | 'untrusted' | 'incomplete_chain';

interface ChainVerdict {
  trusted: boolean;
  /** Leaf first, then each issuer found, ending with the trust anchor when there is one. */
  path: X509Certificate[];
  problem?: { code: ChainProblemCode; reason: string; hint?: string };
}

/** Debian's and Ubuntu's bundle, which update-ca-certificates rebuilds with the CAs installed locally. */
const DEFAULT_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

/** The system bundle as OpenSSL finds it: $SSL_CERT_FILE when set, else the distribution's file. */
export function systemBundlePath(): string {
  return process.env.SSL_CERT_FILE || DEFAULT_BUNDLE;
}

interface SystemRoots {
  certs: X509Certificate[];
  pems: string[];
  store: TrustStore;
}

/** Read once per process (per bundle path): a few hundred certificates to parse. */
const systemRoots = new Map<string, SystemRoots>();

function readBundle(file: string): string[] {
  try {
    if (statSync(file).size > MAX_BUNDLE_BYTES) return [];
    return pemBlocks(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}

/** Node's bundled roots plus the system bundle, each certificate once. */
function system(): SystemRoots {
  const file = systemBundlePath();
  let roots = systemRoots.get(file);
  if (roots) return roots;
  const certs: X509Certificate[] = [];
  const pems: string[] = [];
  const seen = new Set<string>();
  for (const pem of [...tls.rootCertificates, ...readBundle(file)]) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    certs.push(cert);
    pems.push(pem);
  }
  roots = { certs, pems, store: buildStore(certs) };
  systemRoots.set(file, roots);
  return roots;
}

function buildStore(certs: readonly X509Certificate[], base?: TrustStore): TrustStore {
  const anchors = new Map(base?.anchors);
  const fingerprints = new Set(base?.fingerprints);
  for (const cert of certs) {
    anchors.set(cert.subject, [...(anchors.get(cert.subject) ?? []), cert]);
    fingerprints.add(cert.fingerprint256);
  }
  return { anchors, fingerprints };
}

/**
 * Stores built on the system roots per set of extra anchors, by their fingerprints: the same anchors
 * read again (a ca_file rewritten with the same content, or listed by several checks) give the same
 * store, and so the verdicts remembered for it.
 */
const extended = new Map<string, { base: TrustStore; store: TrustStore }>();
const MAX_EXTENDED = 64;

/** The system roots (Node's and the system bundle) plus `extra` (a check's ca_file). */
export function trustStore(extra: readonly X509Certificate[] = []): TrustStore {
  const base = system().store;
  if (extra.length === 0) return base;
  const key = extra.map((c) => c.fingerprint256).join(' ');
  const known = extended.get(key);
  if (known?.base === base) return known.store;
  const store = buildStore(extra, base);
  if (extended.size >= MAX_EXTENDED) extended.clear();
  extended.set(key, { base, store });
  return store;
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.issuer === parent.subject && child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function isSelfSigned(cert: X509Certificate): boolean {
  return issuedBy(cert, cert);
}

const MAX_DEPTH = 10;

export interface VerifyOptions {
  source?: 'server' | 'file';
  /** The supplied chain was cut at this many certificates (it went on beyond). */
  truncatedAt?: number;
}

/**
 * Verdicts by trust store and chain: a verdict depends on nothing else (no clock), and checking each
 * link's signature again on every run of an unchanged chain is most of a check's own CPU.
 */
const verdicts = new WeakMap<TrustStore, Map<string, ChainVerdict>>();
const MAX_VERDICTS = 1024;

/**
 * Builds the path from `leaf` upwards, preferring a trust anchor as soon as one signed the current
 * certificate (as OpenSSL's trusted-first does), else a certificate from `supplied`. The verdict is
 * shared by every caller asking about the same chain and store: it is not to be changed.
 */
export function verifyChain(
  leaf: X509Certificate,
  supplied: readonly X509Certificate[],
  store: TrustStore,
  opts: VerifyOptions = {},
): ChainVerdict {
  const key = [opts.source ?? 'server', opts.truncatedAt ?? '', leaf.fingerprint256]
    .concat(supplied.map((c) => c.fingerprint256))
    .join(' ');
  let known = verdicts.get(store);
  if (!known) {
    known = new Map();
    verdicts.set(store, known);
  }
  let verdict = known.get(key);
  if (!verdict) {
    verdict = buildChain(leaf, supplied, store, opts);
    if (known.size >= MAX_VERDICTS) known.clear();
    known.set(key, verdict);
  }
  return verdict;
}

function buildChain(
  leaf: X509Certificate,
  supplied: readonly X509Certificate[],
  store: TrustStore,
  opts: VerifyOptions,
): ChainVerdict {
  const path = [leaf];
  const pool = supplied.filter((c) => c.fingerprint256 !== leaf.fingerprint256);
  for (let current = leaf; ;) {
    if (store.fingerprints.has(current.fingerprint256)) return { trusted: true, path };
    const anchor = store.anchors.get(current.issuer)?.find((a) => issuedBy(current, a));
    if (anchor) return { trusted: true, path: [...path, anchor] };
    if (isSelfSigned(current)) break;
    const index = pool.findIndex((c) => issuedBy(current, c));
    if (index < 0) break;
    if (path.length >= MAX_DEPTH) return { trusted: false, path, problem: truncated(path.length, current) };
    current = pool.splice(index, 1)[0] as X509Certificate;
    path.push(current);
  }
  const end = path[path.length - 1] as X509Certificate;
  if (opts.truncatedAt !== undefined && !isSelfSigned(end))
    return { trusted: false, path, problem: truncated(opts.truncatedAt, end) };
  return { trusted: false, path, problem: describeBreak(path, opts.source ?? 'server') };
}

function truncated(count: number, last: X509Certificate): NonNullable<ChainVerdict['problem']> {
  return {
    code: 'untrusted',
    reason: `the chain was truncated at ${count} certificates without reaching a trusted root (it goes on above ${formatName(last.subject)})`,
    hint: 'The chain is far longer than a real one (leaf, one or two intermediates): serve only the leaf and its intermediates (fullchain.pem), not a whole CA bundle, and reload the server.',
  };
}

function describeBreak(path: X509Certificate[], source: 'server' | 'file'): NonNullable<ChainVerdict['problem']> {
  const end = path[path.length - 1] as X509Certificate;
  if (path.length === 1 && isSelfSigned(end)) {
    return {
      code: 'self_signed',
      reason: `the certificate ${formatName(end.subject)} is self-signed and not in the trusted roots`,
    };
  }
  if (path.length === 1) {
    const sent = source === 'server' ? 'the certificates sent' : 'the certificates in the file';
    return {
      code: 'incomplete_chain',
      reason: `incomplete chain: ${sent} do not include the leaf's issuer ${formatName(end.issuer)}`,
    };
  }
  if (isSelfSigned(end)) {
    return {
      code: 'untrusted',
      reason: `the chain ends at the root ${formatName(end.subject)}, which is not a trusted root`,
    };
  }
  return {
    code: 'untrusted',
    reason: `the chain ends at ${formatName(end.subject)}, issued by ${formatName(end.issuer)}, which is not a trusted root`,
  };
}

/** The `ca` option for tls.createSecureContext: Node's roots, the system bundle, then the extra anchors. */
export function opensslCa(extra: readonly X509Certificate[]): string[] {
  return [...system().pems, ...extra.map((c) => c.toString())];
}

/**
 * Reads a PEM bundle of trust anchors (ca_file); an error names the problem in a few words. While the
 * file is unchanged (same inode, size and times) the same array comes back, so its trust store and
 * OpenSSL context are reused too. `since`: see readPemFileIfChanged.
 */
export async function readAnchors(file: string, since?: number): Promise<readonly X509Certificate[]> {
  const certs = await readPemFileIfChanged(file, since);
  if (certs.length === 0) throw new Error('no PEM certificate in it');
  return certs;
}
