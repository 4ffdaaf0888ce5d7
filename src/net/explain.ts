/**
 * Turns network failures into the one-line reason and the plain-language hint a person reads at night.
 * The hints come from real deployments behind a TLS-terminating proxy with containers behind it.
 */
import { bareHost, hostPort } from '../util/address.js';
import { formatDuration } from '../util/format.js';
import { DialError, type ConnectPhase } from './dial.js';
import { explainTlsFailure } from './tls-errors.js';

/**
 * Where a request stands (or stopped): opening its connection, then waiting for the response, receiving its
 * status line and headers (some bytes came, not all), and reading its body.
 */
export type RequestPhase = ConnectPhase | 'first byte' | 'headers' | 'body';

export interface Explained {
  reason: string;
  hint?: string;
}

export interface Target {
  /** A name or an IP address; URL brackets around an IPv6 address are dropped. */
  host: string;
  port: number;
  /** The address actually dialled, when known (else taken from the error). */
  address?: string;
  /** The TLS server name (SNI) sent, if any. */
  serverName?: string;
}

const PHASE_WORDS: Record<RequestPhase, string> = {
  resolving: 'resolving the host name',
  connecting: 'connecting',
  'tls handshake': 'in the TLS handshake',
  'first byte': 'waiting for the first byte',
  headers: 'receiving the response headers',
  body: 'reading the body',
};

const LOOPBACK = /^(127\.|::1$|localhost$)/;

export function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || (err as NodeJS.ErrnoException).code === 'ETIMEDOUT');
}

/** `bytesArrived`: how much of the response came before the deadline, when stopped receiving its headers. */
export function explainTimeout(
  timeoutMs: number,
  phase: RequestPhase,
  target: Target,
  bytesArrived?: number,
): Explained {
  const where =
    phase === 'connecting'
      ? ` to ${hostPort(bareHost(target.address ?? target.host), target.port)}`
      : phase === 'headers' && bytesArrived !== undefined
        ? ` (${bytesArrived} ${bytesArrived === 1 ? 'byte' : 'bytes'} arrived)`
        : '';
  const hints: Record<RequestPhase, string> = {
    resolving: 'The DNS resolver did not answer in time: check /etc/resolv.conf or the resolver named in the check.',
    connecting:
      'No answer to the connection attempt: the host is down, or a firewall drops the packets (compare with a check from inside the network).',
    'tls handshake':
      'The port accepted the connection but never completed a TLS handshake: is a TLS server really listening there, or is the process stuck?',
    'first byte':
      'The server accepted the connection but the application never answered: it is hung, overloaded, or blocked on its database. Check its logs and CPU.',
    headers:
      'The server started answering but never finished its status line and headers: it sends them a few bytes at a time (a stuck or overloaded application, or a proxy trickling a slow upstream). Check the application and any proxy in front of it.',
    body: 'The server sent headers and then stalled while sending the body: the application is stuck mid-response or a proxy is buffering.',
  };
  return { reason: `timeout after ${formatDuration(timeoutMs)} ${PHASE_WORDS[phase]}${where}`, hint: hints[phase] };
}

/**
 * Who the reason names: the address(es) dialled, with the name they came from ("127.0.0.1:8000
 * (localhost)"), and whether that peer is this machine (which decides the container hint).
 */
function peer(err: unknown, target: Target): { hp: string; local: boolean } {
  const host = bareHost(target.host);
  const tried = target.address
    ? [bareHost(target.address)]
    : err instanceof DialError && err.addresses.length > 0
      ? [...err.addresses]
      : [host];
  const hp = tried.map((a) => hostPort(a, target.port)).join(', ');
  return { hp: tried.includes(host) ? hp : `${hp} (${host})`, local: [host, ...tried].some((a) => LOOPBACK.test(a)) };
}

/** What the probe saw around a failure that helps choose the hint. */
export interface Surroundings {
  /** An https:// URL's port refused the connection while port 80 of the same address accepted one. */
  plainHttpAccepts?: boolean;
}

/** Explains a dial (DNS / TCP / TLS) or stream error; a DialError's own phase wins over `phase`. */
export function explainNetworkError(
  err: unknown,
  target: Target,
  phase: RequestPhase,
  seen: Surroundings = {},
): Explained {
  const e = (err instanceof DialError ? err.cause : err) as NodeJS.ErrnoException;
  const at = err instanceof DialError ? err.phase : phase;
  const code = e?.code ?? '';
  const { hp, local } = peer(err, target);
  const host = bareHost(target.host);
  if (at === 'tls handshake' || code.startsWith('ERR_SSL_')) {
    return explainTlsFailure(e, {
      hp,
      port: target.port,
      ...(target.serverName ? { serverName: target.serverName } : {}),
      ...(err instanceof DialError && err.received ? { received: err.received } : {}),
    });
  }
  switch (code) {
    case 'ECONNREFUSED':
      return {
        reason: `connect ECONNREFUSED ${hp}`,
        hint: seen.plainHttpAccepts
          ? `Port 80 of the same address accepts connections but port ${target.port} refuses them: the web server serves plain HTTP only. If it is nginx, the server block for ${host} most likely lacks \`listen ${target.port} ssl;\` (with its ssl_certificate lines): add it, then run nginx -t && nginx -s reload.`
          : local
            ? `Nothing is listening on ${hp}. Is the container up and not restarting (docker ps)? Could another service, such as a leftover systemd unit, hold the port so the container could not bind it (ss -tlnp | grep :${target.port})?`
            : `The host answered but nothing listens on port ${target.port}: the service or proxy is not listening there (a missing HTTPS server block for a new host?), or a firewall rejects it.`,
      };
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_AGAIN':
    case 'ENODATA':
      return {
        reason: `dns: cannot resolve ${host} (${code === 'EAI_AGAIN' ? 'resolver failed' : 'no such host'})`,
        hint: `The name ${host} does not resolve: check that its DNS record exists and points at the right load balancer or IP, and that it has propagated (dig ${host}).`,
      };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return {
        reason: `connection reset by ${hp} ${PHASE_WORDS[at]}`,
        hint: 'The server closed the connection mid-request: the application crashed or restarted, or a proxy cut it. Check the application logs and whether its container is restarting.',
      };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return {
        reason: `connect ${code} ${hp}`,
        hint: 'No route to that address: the host is down or the network path (VPN, firewall, routing) is broken.',
      };
    case 'ETIMEDOUT':
      return explainTimeout(0, at, target);
    case 'UND_ERR_HEADERS_OVERFLOW':
      return {
        reason: `response headers from ${hp} are too large (over 16 KiB)`,
        hint: 'The server sent oversized headers: usually a cookie or redirect loop piling up headers, or a misbehaving proxy.',
      };
    default:
      break;
  }
  if (code.startsWith('HPE_') || e?.name === 'HTTPParserError') {
    return {
      reason: `${hp} did not answer HTTP: ${(e?.message ?? '').split('\n')[0]}`,
      hint: 'Something other than an HTTP server answers on this port (another protocol such as SSH or TLS, or the wrong service): check the URL scheme and port.',
    };
  }
  const message = (e?.message ?? String(err)).split('\n')[0] ?? '';
  return { reason: `${code ? `${code}: ` : ''}${message} (${PHASE_WORDS[at]}, ${hp})` };
}
