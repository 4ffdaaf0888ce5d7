/** Reads what a person needs from an X.509 certificate: names, validity, key and signature algorithm. */
import { X509Certificate } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { allSans, parseSubjectAltNames, type SubjectAltNames } from './names.js';

interface CertificateInfo {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
  key_type: string;
  key_bits: number | null;
  signature_algorithm: string;
}

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp256k1: 256, secp384r1: 384, secp521r1: 521 };

/** Reads one DER tag-length header; returns where the content starts and how long it is. */
function derHeader(der: Buffer, at: number): { tag: number; start: number; length: number } {
  const tag = der[at] ?? 0;
  let length = der[at + 1] ?? 0;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start + i] ?? 0);
    start += bytes;
  }
  return { tag, start, length };
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  return [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40, ...parts].join('.');
}

/**
 * `read` computed once per certificate object: parsed certificates are reused while a server serves
 * the same chain (see handshake.ts), and their key details and names are asked for on every run.
 */
function perCertificate<T>(read: (cert: X509Certificate) => T): (cert: X509Certificate) => T {
  const known = new WeakMap<X509Certificate, T>();
  return (cert) => {
    if (known.has(cert)) return known.get(cert) as T;
    const value = read(cert);
    known.set(cert, value);
    return value;
  };
}

/** Node does not expose the outer signatureAlgorithm, so read it from the DER: Certificate ::= SEQUENCE { tbs, algorithm, signature }. */
export const signatureAlgorithm = perCertificate((cert: X509Certificate): string => {
  try {
    const der = cert.raw;
    const outer = derHeader(der, 0);
    const tbs = derHeader(der, outer.start);
    const algorithm = derHeader(der, tbs.start + tbs.length);
    const oid = derHeader(der, algorithm.start);
    if (oid.tag !== 0x06) return 'unknown';
    const dotted = decodeOid(der.subarray(oid.start, oid.start + oid.length));
    return SIGNATURE_ALGORITHMS[dotted] ?? dotted;
  } catch {
    return 'unknown';
  }
});

export function isWeakSignature(algorithm: string): boolean {
  return /sha1|md5/i.test(algorithm);
}

/** "CN=a.test\nO=Example" -> "CN=a.test, O=Example". */
export function formatName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/** The key's type and size (reading the public key is one of the dearer parts of an analysis). */
export const keyOf = perCertificate((cert: X509Certificate): { type: string; bits: number | null } => {
  const key = cert.publicKey;
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (details.modulusLength) return { type, bits: details.modulusLength };
  if (details.namedCurve) return { type, bits: CURVE_BITS[details.namedCurve] ?? null };
  if (type === 'ed25519') return { type, bits: 256 };
  if (type === 'ed448') return { type, bits: 456 };
  return { type, bits: null };
});

export function isWeakKey(cert: X509Certificate): boolean {
  const { type, bits } = keyOf(cert);
  return (type === 'rsa' || type === 'rsa-pss' || type === 'dsa') && bits !== null && bits < 2048;
}

export const sansOf = perCertificate((cert: X509Certificate): SubjectAltNames =>
  parseSubjectAltNames(cert.subjectAltName),
);

export function notAfterMs(cert: X509Certificate): number {
  return Date.parse(cert.validTo);
}

export function notBeforeMs(cert: X509Certificate): number {
  return Date.parse(cert.validFrom);
}

/** Shared by every caller for the same certificate object: copy it before changing it. */
export const describeCertificate = perCertificate((cert: X509Certificate): Readonly<CertificateInfo> => {
  const key = keyOf(cert);
  return {
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    serial: cert.serialNumber.toUpperCase(),
    fingerprint_sha256: cert.fingerprint256,
    not_before: new Date(notBeforeMs(cert)).toISOString(),
    not_after: new Date(notAfterMs(cert)).toISOString(),
    key_type: key.type,
    key_bits: key.bits,
    signature_algorithm: signatureAlgorithm(cert),
  };
});

export function sanList(cert: X509Certificate): string[] {
  return allSans(sansOf(cert));
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each PEM certificate block in a text, in file order, unparsed. */
export function pemBlocks(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

/** Every certificate in a PEM text, in file order. */
function parsePemBundle(text: string): X509Certificate[] {
  return pemBlocks(text).map((block) => new X509Certificate(block));
}

/** Certificate bundles are a few KiB; a path pointing at something huge must not be read into memory. */
const MAX_PEM_BYTES = 1024 * 1024;

export async function readPemFile(file: string): Promise<X509Certificate[]> {
  return readPemWithStats(file, await stat(file));
}

async function readPemWithStats(file: string, { size }: Stats): Promise<X509Certificate[]> {
  if (size > MAX_PEM_BYTES) throw new Error(`file is ${size} bytes, too large for a certificate bundle`);
  return parsePemBundle(await readFile(file, 'utf8'));
}

interface StatRead {
  /** When the stat began (performance.now()). */
  at: number;
  stats: Promise<Stats>;
}

/** The latest stat of each file: checks running together with the same file share it. */
const latestStats = new Map<string, StatRead>();

/** Stats of `file` taken at or after `since` (a performance.now() time): one taken since then is as current as a new one. */
function statSince(file: string, since: number | undefined): Promise<Stats> {
  const known = latestStats.get(file);
  if (since !== undefined && known && known.at >= since) return known.stats;
  const read = { at: performance.now(), stats: stat(file) };
  if (latestStats.size >= 256) latestStats.clear();
  latestStats.set(file, read);
  return read.stats;
}

function versionOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

interface PemFile {
  version: string;
  certs: Promise<readonly X509Certificate[]>;
}

/** Certificate files read on every run (ca_file, cert_file), parsed again only when they changed. */
const pemFiles = new Map<string, PemFile>();
const SETTLED_MS = 1000;

/**
 * The certificates in a PEM file, read and parsed only when the file changed (its inode, size or
 * times): while it is unchanged the same array comes back, so what was built from it (a trust store,
 * an OpenSSL context) is reused too. The file is checked with a stat taken at or after `since`
 * (a performance.now() time, such as the start of the run): runs in progress together share one.
 */
export async function readPemFileIfChanged(file: string, since?: number): Promise<readonly X509Certificate[]> {
  const stats = await statSince(file, since);
  const version = versionOf(stats);
  const known = pemFiles.get(file);
  if (known?.version === version) return known.certs;
  const certs = readPemWithStats(file, stats);
  // File times tick coarsely (a few ms): a file changed that recently may change again with the
  // same times and size, so it is remembered only once its last change is safely in the past.
  if (Date.now() - Math.max(stats.mtimeMs, stats.ctimeMs) < SETTLED_MS) return certs;
  if (pemFiles.size >= 64) pemFiles.clear();
  pemFiles.set(file, { version, certs });
  // A failed read is not remembered: the next run tries again.
  certs.catch(() => {
    if (pemFiles.get(file)?.certs === certs) pemFiles.delete(file);
  });
  return certs;
}

/** An fs error in a few words for a reason line: the errno code (ENOENT, EACCES) or the message. */
export function fileErrorText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
