/**
 * Plain words for a failed TLS handshake: what the server speaks instead of TLS (from the first bytes
 * it sent), which alert it raised, or that it hung up; never OpenSSL's "80EC…:error:0A000458:…" text.
 */
import type { Explained } from './explain.js';

export interface TlsFailureContext {
  /** "127.0.0.1:443" or "127.0.0.1:443 (api.example.org)", as the reason names the peer. */
  hp: string;
  port: number;
  /** The SNI name sent, if any. */
  serverName?: string;
  /** The first bytes the server sent before the handshake failed. */
  received?: Buffer;
}

const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** A TLS record starts with a content type 20-24 and a major version of 3. */
function looksLikeTls(bytes: Buffer): boolean {
  const type = bytes[0] ?? 0;
  return type >= 0x14 && type <= 0x18 && bytes[1] === 0x03;
}

function excerpt(bytes: Buffer): string {
  const line = bytes.toString('latin1').split(/\r?\n/)[0] ?? '';
  if (line.length >= 3 && /^[\x20-\x7e]+$/.test(line))
    return `it sent ${JSON.stringify(line.length > 40 ? `${line.slice(0, 40)}…` : line)}`;
  return `its first bytes: ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

/** OpenSSL's reason text without the "80EC…:error:0A000458:SSL routines:func:" prefix and the source file and line. */
function opensslReason(err: NodeJS.ErrnoException & { reason?: unknown }): string {
  const message = (err.message ?? '').split('\n')[0] ?? '';
  const m = /error:[0-9a-f]+:[^:]*:[^:]*:([^:]+)(?::[^:]*\.[ch]:\d+)?(?::(.*))?$/i.exec(message);
  if (!m) return message;
  const reason = typeof err.reason === 'string' && err.reason ? err.reason : (m[1] ?? '').trim();
  const extra = (m[2] ?? '').trim();
  return extra ? `${reason} (${extra.toLowerCase()})` : reason;
}

interface Rule {
  test: RegExp;
  explain(ctx: TlsFailureContext): Explained;
}

const failedOn = (ctx: TlsFailureContext, what: string) => `TLS handshake failed on ${ctx.hp}: ${what}`;

const RULES: Rule[] = [
  {
    test: /unrecognized name/i,
    explain: (ctx) => ({
      reason: failedOn(
        ctx,
        ctx.serverName
          ? `the server has no certificate for the name ${ctx.serverName} and refused the handshake (unrecognized_name alert)`
          : 'the server refused a handshake without a server name (unrecognized_name alert)',
      ),
      hint: ctx.serverName
        ? `No server block serves ${ctx.serverName} with a certificate, and the default one refuses unknown names (nginx ssl_reject_handshake on): add the name to the server_name of a TLS server block (with a certificate covering it) and reload, or set server_name in the check to a name the server serves.`
        : "The check connects by IP address and so sends no server name (SNI), and the server refuses that (nginx ssl_reject_handshake on in its default server): set server_name in the check to the site's name.",
    }),
  },
  {
    test: /certificate required|peer did not return a certificate/i,
    explain: (ctx) => ({
      reason: failedOn(ctx, 'the server requires a client certificate (certificate_required alert)'),
      hint: 'The server demands a client certificate (mutual TLS, nginx ssl_verify_client on) and forgewatch presents none: point the check at an endpoint without client-certificate authentication, or make it optional there (ssl_verify_client optional).',
    }),
  },
  {
    test: /alert handshake failure|no shared cipher|no suitable signature algorithm|no cipher/i,
    explain: (ctx) => ({
      reason: failedOn(
        ctx,
        'the server refused the handshake (handshake_failure alert 40): no cipher or protocol in common, or it wants a client certificate',
      ),
      hint: `The server and forgewatch could not agree on how to talk TLS: its ssl_ciphers or ssl_protocols are restricted to something modern clients no longer offer, or do not fit its certificate's key type, or it demands a client certificate (ssl_verify_client on). Compare with openssl s_client -connect HOST:${ctx.port}.`,
    }),
  },
  {
    test: /protocol version|unsupported protocol|no protocols available|version too low/i,
    explain: (ctx) => ({
      reason: failedOn(
        ctx,
        'no TLS version in common (protocol_version): the server only offers versions clients refuse',
      ),
      hint: 'The server speaks only an old protocol (SSLv3, TLS 1.0 or 1.1) that current clients reject: enable TLS 1.2 and 1.3 (nginx ssl_protocols TLSv1.2 TLSv1.3) and reload.',
    }),
  },
  {
    test: /excessive message size/i,
    explain: (ctx) => ({
      reason: failedOn(ctx, 'the server sent a handshake message larger than clients accept (excessive message size)'),
      hint: 'Usually the certificate file holds far too many certificates (a whole CA bundle appended to fullchain.pem) or certificates with huge extensions: serve only the leaf and its intermediates, and reload the server.',
    }),
  },
];

const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i;

/** Errors after which the peer's own bytes say more: it answered in something other than TLS, or hung up. */
export function mayNotSpeakTls(err: NodeJS.ErrnoException): boolean {
  return NOT_TLS.test(err.message ?? '') || CLOSED.has(err.code ?? '');
}

function notTls(ctx: TlsFailureContext, received: Buffer | undefined): Explained {
  if (received && /^HTTP\/\d/.test(received.toString('latin1'))) {
    return {
      reason: failedOn(ctx, 'the port answers plain HTTP, not TLS'),
      hint: 'A plain-HTTP server is listening on the TLS port: the HTTPS server block (listen 443 ssl) is missing or the check points at the wrong port.',
    };
  }
  return {
    reason: failedOn(
      ctx,
      `the port does not speak TLS (plain text or another protocol${received?.length ? `; ${excerpt(received)}` : ''})`,
    ),
    hint: `Something other than a TLS server answers on this port (an SSH or mail server, a database, the wrong service): check the port in the check, and which process holds it (ss -tlnp | grep :${ctx.port}).`,
  };
}

export function explainTlsFailure(err: NodeJS.ErrnoException, ctx: TlsFailureContext): Explained {
  const { received } = ctx;
  if (received && received.length > 0 && !looksLikeTls(received)) return notTls(ctx, received);
  const text = opensslReason(err);
  const rule = RULES.find((r) => r.test.test(text));
  if (rule) return rule.explain(ctx);
  if (NOT_TLS.test(text)) return notTls(ctx, received);
  if (CLOSED.has(err.code ?? '')) {
    return {
      reason: failedOn(ctx, 'connection closed during the TLS handshake'),
      hint: `The server accepted the connection, then closed it before the TLS handshake finished: it may have no certificate for this name (SNI) and drop such handshakes, it may be restarting or overloaded, or a proxy in front of it cannot reach its TLS backend. Try openssl s_client -connect HOST:${ctx.port} -servername NAME.`,
    };
  }
  return {
    reason: failedOn(ctx, text),
    hint: 'The TLS handshake did not complete: the server may have no certificate for this name (SNI) or supports no common protocol version.',
  };
}
