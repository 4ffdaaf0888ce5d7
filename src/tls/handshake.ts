/**
 * A TLS handshake that accepts any certificate, so an expired or untrusted one can still be read and
 * judged afterwards ("expired" must never look like "down"). TCP comes from dial(); the handshake is
 * done here because the stapled OCSP response arrives during it.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { dial, DialError, type DialPhase, type DialTimings } from '../net/dial.js';

export interface TlsConnectOptions {
  host: string;
  port: number;
  /** Connect to this address instead of resolving `host`. */
  resolve?: string;
  /** SNI; defaults to `host` when it is a name. */
  servername?: string;
  /** Trust anchors handed to OpenSSL (its verdict is cross-checked against forgewatch's own). */
  ca?: string[];
  alpn?: string[];
  signal: AbortSignal;
  onPhase?: (phase: DialPhase) => void;
}

export interface TlsConnection {
  socket: tls.TLSSocket;
  address: string;
  timings: Required<DialTimings>;
  ocspStapled: boolean;
}

/** What the server presented, read right after the handshake. */
export interface ServedTls {
  /** As the server sent it, leaf first (OpenSSL may append the root it found in the trust store). */
  chain: X509Certificate[];
  protocol: string | null;
  cipher: string | null;
  alpn: string | null;
  ocspStapled: boolean;
  /** OpenSSL's own verification error, if any (host name checks excluded). */
  opensslError: string | null;
}

// Inspect anything a server may present, including RSA-1024 and SHA-1, and judge it afterwards.
const PERMISSIVE_CIPHERS = 'DEFAULT:@SECLEVEL=0';

export async function connectTls(opts: TlsConnectOptions): Promise<TlsConnection> {
  const tcp = await dial({ host: opts.host, port: opts.port, ...(opts.resolve ? { resolve: opts.resolve } : {}), signal: opts.signal, ...(opts.onPhase ? { onPhase: opts.onPhase } : {}) });
  const started = performance.now();
  opts.onPhase?.('tls handshake');
  const bare = opts.host.replace(/^\[|\]$/g, '');
  const servername = opts.servername ?? (net.isIP(bare) === 0 ? bare : undefined);
  let ocspStapled = false;
  // tls.connect hands requestOCSP on to the TLSSocket, though its option type does not list it.
  const options: tls.ConnectionOptions & { requestOCSP: boolean } = {
    socket: tcp.socket,
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    requestOCSP: true,
    ciphers: PERMISSIVE_CIPHERS,
    ...(servername ? { servername } : {}),
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
  };
  const socket = tls.connect(options);
  socket.on('OCSPResponse', (response: unknown) => {
    ocspStapled = Buffer.isBuffer(response) && response.length > 0;
  });
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      opts.signal.removeEventListener('abort', onAbort);
      socket.off('secureConnect', onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (err: unknown) => {
      cleanup();
      socket.destroy();
      tcp.socket.destroy();
      reject(err);
    };
    const onReady = () => { cleanup(); resolve(); };
    const onError = (err: NodeJS.ErrnoException) => fail(new DialError('tls handshake', err));
    const onClose = () => onError(Object.assign(new Error('the server closed the connection'), { code: 'ECONNRESET' }));
    const onAbort = () => fail(opts.signal.reason);
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
  return { socket, address: tcp.address, timings: { dns: tcp.timings.dns, connect: tcp.timings.connect, tls: (performance.now() - started) / 1000 }, ocspStapled };
}

const MAX_CHAIN = 10;

export function inspectServed(socket: tls.TLSSocket, ocspStapled: boolean): ServedTls {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256) && chain.length < MAX_CHAIN) {
    seen.add(cert.fingerprint256);
    chain.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate;
  }
  const error = socket.authorizationError as unknown;
  return {
    chain,
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    ocspStapled,
    opensslError: error ? String(error instanceof Error ? (error as NodeJS.ErrnoException).code ?? error.message : error) : null,
  };
}
