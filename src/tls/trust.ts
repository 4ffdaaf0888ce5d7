/**
 * Chain verification done by forgewatch itself after a handshake that accepted anything, so an
 * untrusted, self-signed or incomplete chain is named precisely instead of ending the connection.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { formatName, readPemFile } from './certificate.js';

export interface TrustStore {
  anchors: Map<string, X509Certificate[]>;
  fingerprints: Set<string>;
}

export type ChainProblemCode = 'self_signed' | 'untrusted' | 'incomplete_chain';

export interface ChainVerdict {
  trusted: boolean;
  /** Leaf first, then each issuer found, ending with the trust anchor when there is one. */
  path: X509Certificate[];
  problem?: { code: ChainProblemCode; reason: string };
}

let systemAnchors: X509Certificate[] | undefined;

function system(): X509Certificate[] {
  systemAnchors ??= tls.rootCertificates.map((pem) => new X509Certificate(pem));
  return systemAnchors;
}

/** The system roots plus `extra` (a check's ca_file). */
export function trustStore(extra: readonly X509Certificate[] = []): TrustStore {
  const anchors = new Map<string, X509Certificate[]>();
  const fingerprints = new Set<string>();
  for (const cert of [...system(), ...extra]) {
    const list = anchors.get(cert.subject);
    if (list) list.push(cert);
    else anchors.set(cert.subject, [cert]);
    fingerprints.add(cert.fingerprint256);
  }
  return { anchors, fingerprints };
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

/**
 * Builds the path from `leaf` upwards, preferring a trust anchor as soon as one signed the current
 * certificate (as OpenSSL's trusted-first does), else a certificate from `supplied`.
 */
export function verifyChain(leaf: X509Certificate, supplied: readonly X509Certificate[], store: TrustStore, source: 'server' | 'file' = 'server'): ChainVerdict {
  const path = [leaf];
  const pool = supplied.filter((c) => c.fingerprint256 !== leaf.fingerprint256);
  for (let current = leaf; path.length <= MAX_DEPTH; ) {
    if (store.fingerprints.has(current.fingerprint256)) return { trusted: true, path };
    const anchor = store.anchors.get(current.issuer)?.find((a) => issuedBy(current, a));
    if (anchor) return { trusted: true, path: [...path, anchor] };
    if (isSelfSigned(current)) break;
    const index = pool.findIndex((c) => issuedBy(current, c));
    if (index < 0) break;
    current = pool.splice(index, 1)[0] as X509Certificate;
    path.push(current);
  }
  return { trusted: false, path, problem: describeBreak(path, source) };
}

function describeBreak(path: X509Certificate[], source: 'server' | 'file'): { code: ChainProblemCode; reason: string } {
  const end = path[path.length - 1] as X509Certificate;
  if (path.length === 1 && isSelfSigned(end)) {
    return { code: 'self_signed', reason: `the certificate ${formatName(end.subject)} is self-signed and not in the trusted roots` };
  }
  if (path.length === 1) {
    const who = source === 'server' ? 'the server sent the leaf without' : 'the file holds the leaf without';
    return { code: 'incomplete_chain', reason: `incomplete chain: ${who} its issuer ${formatName(end.issuer)}` };
  }
  if (isSelfSigned(end)) {
    return { code: 'untrusted', reason: `the chain ends at the root ${formatName(end.subject)}, which is not a trusted root` };
  }
  return { code: 'untrusted', reason: `the chain ends at ${formatName(end.subject)}, issued by ${formatName(end.issuer)}, which is not a trusted root` };
}

/** The `ca` option for tls.connect: the system roots plus the extra anchors (undefined: OpenSSL's default). */
export function opensslCa(extra: readonly X509Certificate[]): string[] | undefined {
  return extra.length > 0 ? [...tls.rootCertificates, ...extra.map((c) => c.toString())] : undefined;
}

/** Reads a PEM bundle of trust anchors (ca_file); an error names the problem in a few words. */
export async function readAnchors(file: string): Promise<X509Certificate[]> {
  const certs = await readPemFile(file);
  if (certs.length === 0) throw new Error('no PEM certificate in it');
  return certs;
}
