/**
 * A TLS handshake that accepts any certificate, so an expired or untrusted one can still be read and
 * judged afterwards ("expired" must never look like "down"). TCP comes from dial(); the handshake is
 * done here because the stapled OCSP response arrives during it.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { bareHost } from '../util/address.js';
import { dial, DialError, waitFor, type ConnectPhase, type DialTimings, type LookupAll } from '../net/dial.js';
import { mayNotSpeakTls } from '../net/tls-errors.js';
import { sniff } from './sniff.js';
import { opensslCa, systemBundlePath } from './trust.js';

export interface TlsConnectOptions {
  host: string;
  port: number;
  /** Connect to this address instead of resolving `host`. */
  resolve?: string;
  lookup?: LookupAll;
  /** SNI; defaults to `host` when it is a name. An IP address is never sent as SNI (RFC 6066). */
  servername?: string;
  /** Extra trust anchors (ca_file) for OpenSSL's own verdict, which is cross-checked against forgewatch's. */
  anchors?: readonly X509Certificate[];
  alpn?: string[];
  signal: AbortSignal;
  onPhase?: (phase: ConnectPhase) => void;
}

export interface TlsConnection {
  socket: tls.TLSSocket;
  address: string;
  timings: Required<DialTimings>;
  ocspStapled: boolean;
}

/** What the server presented, read right after the handshake. */
export interface ServedTls {
  /**
   * Leaf first, then what OpenSSL could link from the certificates the server sent, by issuer; it may
   * append the root it found in the trust store and drops certificates that link to nothing.
   */
  chain: X509Certificate[];
  /** True when that chain went on beyond MAX_CHAIN certificates and was cut there. */
  truncated: boolean;
  protocol: string | null;
  cipher: string | null;
  alpn: string | null;
  ocspStapled: boolean;
  /** OpenSSL's own verification error, if any (host name checks excluded). */
  opensslError: string | null;
}

// Inspect anything a server may present, including RSA-1024 and SHA-1, and judge it afterwards.
const PERMISSIVE_CIPHERS = 'DEFAULT:@SECLEVEL=0';
const contexts = new Map<string, tls.SecureContext>();

/** One secure context per set of trust anchors: building one parses a few hundred root certificates. */
function contextFor(anchors: readonly X509Certificate[]): tls.SecureContext {
  const key = [systemBundlePath(), ...anchors.map((c) => c.fingerprint256)].join('\n');
  let context = contexts.get(key);
  if (!context) {
    if (contexts.size >= 32) contexts.clear();
    context = tls.createSecureContext({ ca: opensslCa(anchors), ciphers: PERMISSIVE_CIPHERS });
    contexts.set(key, context);
  }
  return context;
}

const CLOSED = new Set(['ECONNRESET', 'EPIPE']);

/** The full peer chain Node read during the handshake, by socket (see checkServerIdentity below). */
const peerChains = new WeakMap<tls.TLSSocket, tls.DetailedPeerCertificate>();

async function dialTcp(opts: TlsConnectOptions) {
  try {
    return await dial({
      host: opts.host,
      port: opts.port,
      ...(opts.resolve ? { resolve: opts.resolve } : {}),
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
      signal: opts.signal,
      ...(opts.onPhase ? { onPhase: opts.onPhase } : {}),
    });
  } catch (err) {
    // A reset while connecting means the server accepted and dropped the connection: for a TLS
    // server that is a failed handshake, not a refusal (which answer comes first is a race).
    if (err instanceof DialError && err.phase === 'connecting' && CLOSED.has(err.code ?? '')) {
      opts.onPhase?.('tls handshake');
      throw new DialError('tls handshake', err.cause, { addresses: err.addresses });
    }
    throw err;
  }
}

/** The SNI sent for `host`: the configured name, else the host when it is a name (never an IP, RFC 6066). */
export function serverNameFor(host: string, configured?: string): string | undefined {
  const named = configured ?? bareHost(host);
  return net.isIP(named) === 0 ? named : undefined;
}

export async function connectTls(opts: TlsConnectOptions): Promise<TlsConnection> {
  const tcp = await dialTcp(opts);
  const started = performance.now();
  opts.onPhase?.('tls handshake');
  const servername = serverNameFor(opts.host, opts.servername);
  let ocspStapled = false;
  // tls.connect hands requestOCSP on to the TLSSocket, though its option type does not list it.
  const options: tls.ConnectionOptions & { requestOCSP: boolean } = {
    socket: tcp.socket,
    secureContext: contextFor(opts.anchors ?? []),
    rejectUnauthorized: false,
    // Node reads the full chain (getPeerCertificate(true)) to call this when OpenSSL verified it: keep
    // it rather than read it twice, each read copying every certificate. getPeerX509Certificate() would
    // cost a third of that, but on Node 20 it leaks every intermediate it hands over (about 4 KiB a run).
    checkServerIdentity: (_host, peer) => {
      peerChains.set(socket, peer as tls.DetailedPeerCertificate);
      return undefined;
    },
    requestOCSP: true,
    ...(servername ? { servername } : {}),
    ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
  };
  const socket = tls.connect(options);
  socket.once('close', () => tcp.socket.destroy());
  socket.on('OCSPResponse', (response: unknown) => {
    ocspStapled = Buffer.isBuffer(response) && response.length > 0;
  });
  try {
    await waitFor(socket, 'secureConnect', 'tls handshake', opts.signal, tcp.socket);
  } catch (err) {
    if (err instanceof DialError) {
      const received = mayNotSpeakTls(err.cause) ? await sniff(tcp.address, opts.port, opts.signal) : undefined;
      throw new DialError('tls handshake', err.cause, {
        addresses: [tcp.address],
        ...(received?.length ? { received } : {}),
      });
    }
    throw err;
  }
  return {
    socket,
    address: tcp.address,
    timings: { dns: tcp.timings.dns, connect: tcp.timings.connect, tls: (performance.now() - started) / 1000 },
    ocspStapled,
  };
}

const MAX_CHAIN = 10;

/**
 * Parsed certificates by SHA-256 fingerprint (a hash of the DER, so the same fingerprint is the same
 * certificate): a server serves the same chain run after run, and parsing one costs more than the
 * rest of its analysis. Emptied when full; a certificate seen again is parsed again.
 */
const parsed = new Map<string, X509Certificate>();
const MAX_PARSED = 2048;

function certificateOf(peer: tls.PeerCertificate): X509Certificate {
  let cert = parsed.get(peer.fingerprint256);
  if (!cert) {
    cert = new X509Certificate(peer.raw);
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(peer.fingerprint256, cert);
  }
  return cert;
}

export function inspectServed(socket: tls.TLSSocket, ocspStapled: boolean): ServedTls {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = peerChains.get(socket) ?? socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256) && chain.length < MAX_CHAIN) {
    seen.add(cert.fingerprint256);
    chain.push(certificateOf(cert));
    cert = cert.issuerCertificate;
  }
  const error = socket.authorizationError as unknown;
  return {
    chain,
    truncated: Boolean(cert?.raw && !seen.has(cert.fingerprint256)),
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    ocspStapled,
    opensslError: error
      ? String(error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : error)
      : null,
  };
}
