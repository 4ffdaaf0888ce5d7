/** A throwaway PKI for tests: CAs, intermediates and leaves with chosen names, validity, key and signature hash. */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { listen, type Started } from './servers.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type KeyAlgorithm = webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DAY_MS = 86_400_000;

/** A moment `n` days from now (negative: in the past). */
export function daysFromNow(n: number): Date {
  return new Date(Date.now() + n * DAY_MS);
}

export type KeySpec = { kind: 'ec' } | { kind: 'rsa'; bits: number };

export interface Issued {
  /** PEM of this certificate alone, with a trailing newline. */
  cert: string;
  /** PKCS#8 PEM of its private key. */
  key: string;
  subject: string;
  signingKey: CryptoKey;
  keyAlgorithm: KeyAlgorithm;
}

export interface CertOptions {
  /** DNS names and IP addresses for the subjectAltName extension; "URI:..." and "email:..." for those kinds. */
  sans?: string[];
  /** Common name; default the first SAN, or "Test Certificate". */
  cn?: string;
  notBefore?: Date;
  notAfter?: Date;
  key?: KeySpec;
  /** Hash of the issuer's signature over this certificate. */
  hash?: 'SHA-256' | 'SHA-1';
}

const EC: KeySpec = { kind: 'ec' };

function keyAlgorithm(spec: KeySpec): KeyAlgorithm {
  return spec.kind === 'ec'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: spec.bits,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
}

async function newKeys(spec: KeySpec): Promise<{ keys: CryptoKeyPair; algorithm: KeyAlgorithm }> {
  const algorithm = keyAlgorithm(spec);
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { keys, algorithm };
}

function keyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function pem(cert: x509.X509Certificate): string {
  // @peculiar/x509 leaves off the final newline; concatenated chains need it.
  return `${cert.toString('pem')}\n`;
}

function signingAlgorithm(issuerAlgorithm: KeyAlgorithm, hash: string): webcrypto.EcdsaParams {
  return { name: issuerAlgorithm.name, hash };
}

function serial(): string {
  // A positive DER integer: clear the top bit.
  const bytes = randomBytes(12);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function sanEntry(v: string): { type: 'ip' | 'dns' | 'url' | 'email'; value: string } {
  if (v.startsWith('URI:')) return { type: 'url', value: v.slice(4) };
  if (v.startsWith('email:')) return { type: 'email', value: v.slice(6) };
  const mapped = net.isIPv6(v) ? /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(v) : null;
  if (mapped) {
    // @peculiar/x509 misreads a dotted IPv4 tail ("::ffff:192.0.2.1"): give it the hex groups.
    const [a, b, c, d] = mapped.slice(2).map(Number) as [number, number, number, number];
    return { type: 'ip', value: `${mapped[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}` };
  }
  return { type: net.isIP(v) ? 'ip' : 'dns', value: v };
}

function sanExtension(sans: string[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension(sans.map(sanEntry));
}

async function selfSigned(
  subject: string,
  defaultDays: number,
  opts: CertOptions,
  extensions: (keys: CryptoKeyPair) => Promise<x509.Extension[]>,
): Promise<Issued> {
  const { keys, algorithm } = await newKeys(opts.key ?? EC);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject,
    notBefore: opts.notBefore ?? daysFromNow(-1),
    notAfter: opts.notAfter ?? daysFromNow(defaultDays),
    keys,
    signingAlgorithm: signingAlgorithm(algorithm, opts.hash ?? 'SHA-256'),
    extensions: await extensions(keys),
  });
  return {
    cert: pem(cert),
    key: keyPem(keys.privateKey),
    subject,
    signingKey: keys.privateKey,
    keyAlgorithm: algorithm,
  };
}

/** A self-signed root CA. */
export function createRootCa(name: string, opts: Omit<CertOptions, 'sans' | 'cn'> = {}): Promise<Issued> {
  return selfSigned(`CN=${name}`, 3650, opts, async (keys) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ]);
}

async function issue(
  issuer: Issued,
  subject: string,
  extensions: x509.Extension[],
  opts: CertOptions,
): Promise<Issued> {
  const { keys, algorithm } = await newKeys(opts.key ?? EC);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: issuer.subject,
    notBefore: opts.notBefore ?? daysFromNow(-1),
    notAfter: opts.notAfter ?? daysFromNow(60),
    publicKey: keys.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: signingAlgorithm(issuer.keyAlgorithm, opts.hash ?? 'SHA-256'),
    extensions: [...extensions, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  return {
    cert: pem(cert),
    key: keyPem(keys.privateKey),
    subject,
    signingKey: keys.privateKey,
    keyAlgorithm: algorithm,
  };
}

/**
 * An intermediate CA signed by `issuer` (pathLength: how many CAs may follow it below; default 0).
 * `ca: false` marks it as no CA in its basic constraints while keeping its keyCertSign usage.
 */
export function createIntermediateCa(
  issuer: Issued,
  name: string,
  opts: Omit<CertOptions, 'sans' | 'cn'> & { pathLength?: number; ca?: boolean } = {},
): Promise<Issued> {
  return issue(
    issuer,
    `CN=${name}`,
    [
      opts.ca === false
        ? new x509.BasicConstraintsExtension(false, undefined, true)
        : new x509.BasicConstraintsExtension(true, opts.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
    opts,
  );
}

/** A server certificate signed by `issuer`. */
export function createLeaf(issuer: Issued, opts: CertOptions): Promise<Issued> {
  const sans = opts.sans ?? [];
  return issue(
    issuer,
    `CN=${opts.cn ?? sans[0] ?? 'Test Certificate'}`,
    [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      sanExtension(sans),
    ],
    opts,
  );
}

/** A self-signed server certificate (no CA behind it). */
export function createSelfSignedLeaf(opts: CertOptions): Promise<Issued> {
  const sans = opts.sans ?? [];
  return selfSigned(`CN=${opts.cn ?? sans[0] ?? 'Test Certificate'}`, 60, opts, async () => [
    new x509.BasicConstraintsExtension(false, undefined, true),
    sanExtension(sans),
  ]);
}

/** Concatenated PEM, leaf first: what a server's fullchain.pem holds. */
export function chainPem(...certs: Issued[]): string {
  return certs.map((c) => c.cert).join('');
}

/**
 * An HTTPS server on 127.0.0.1 presenting `certPem` (leaf first, then whatever chain the test wants sent)
 * and answering every request with 200 "ok". Weak keys and SHA-1 are allowed so tests can serve them.
 */
export function serveHttps(certPem: string, keyPem: string): Promise<Started<https.Server>> {
  return listen(
    https.createServer({ cert: certPem, key: keyPem, ciphers: 'DEFAULT:@SECLEVEL=0' }, (_req, res) => res.end('ok')),
  );
}

/** Writes PEM text to `dir/name` and returns the path. */
export function writePem(dir: string, name: string, pemText: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, pemText);
  return file;
}
