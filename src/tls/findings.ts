/** The closed set of certificate problems, each with the hint that names the fix, and how they rank. */
import type { X509Certificate } from 'node:crypto';
import { formatDuration } from '../util/format.js';
import { DialError } from '../net/dial.js';
import { isTimeout } from '../net/explain.js';
import type { Status } from '../probes/types.js';
import {
  formatName,
  isWeakKey,
  isWeakSignature,
  keyOf,
  notAfterMs,
  notBeforeMs,
  signatureAlgorithm,
} from './certificate.js';
import type { ExpiryWindow } from './config.js';

type ProblemCode =
  | 'expired'
  | 'not_yet_valid'
  | 'name_not_covered'
  | 'untrusted'
  | 'self_signed'
  | 'incomplete_chain'
  | 'served_differs_from_file'
  | 'handshake_failed'
  | 'timeout'
  | 'refused'
  | 'dns'
  | 'expires_soon'
  | 'renewal_overdue'
  | 'weak_key'
  | 'weak_signature'
  | 'file_unreadable';

export interface Finding {
  code: ProblemCode;
  status: Exclude<Status, 'ok'>;
  reason: string;
  hint: string;
}

/** The closed set, in the order problems are named when several apply: the first one found becomes the check's reason. */
export const PROBLEM_CODES: readonly ProblemCode[] = [
  'dns',
  'refused',
  'timeout',
  'handshake_failed',
  'file_unreadable',
  'expired',
  'not_yet_valid',
  'served_differs_from_file',
  'name_not_covered',
  'self_signed',
  'untrusted',
  'incomplete_chain',
  'expires_soon',
  'renewal_overdue',
  'weak_key',
  'weak_signature',
];

export const HINTS: Record<ProblemCode, string> = {
  expired:
    'Renew the certificate (certbot renew) and reload the server, then find out why automatic renewal did not run: systemctl list-timers certbot, /var/log/letsencrypt/letsencrypt.log.',
  not_yet_valid:
    'The certificate only becomes valid in the future: a clock is wrong (check NTP with timedatectl on this host and the issuing host) or it was installed before its start date.',
  name_not_covered:
    'Reissue the certificate with every name the server answers for (certbot --expand -d example.org -d www.example.org ...) or remove the name from the server block, then reload the server.',
  untrusted:
    "The certificate is not signed by a trusted CA: for a private CA add its root to ca_file; otherwise reissue it from a public CA (Let's Encrypt) and serve fullchain.pem.",
  self_signed:
    'A self-signed certificate is trusted by no client: get one from a CA (certbot), or for an internal service pin it by adding it to ca_file.',
  incomplete_chain:
    'The intermediate certificate is missing: point the server at fullchain.pem instead of cert.pem (nginx ssl_certificate) and reload it. Browsers may cope, but curl, Node and mobile apps fail.',
  served_differs_from_file:
    'The certificate was renewed on disk but the server still serves the old one: reload it (nginx -s reload or systemctl reload nginx) and add a certbot deploy hook that reloads it after each renewal.',
  handshake_failed:
    'The TLS handshake did not complete: is a TLS server (listen 443 ssl) really on this port, with a certificate for this name (SNI)?',
  timeout:
    'The server did not complete the connection in time: the host is down, a firewall drops the packets, or the process is stuck.',
  refused:
    'Nothing accepts connections on that port: the server or proxy is not running or not listening there (a missing HTTPS server block?), or a firewall rejects it.',
  dns: 'The host name does not resolve: check its DNS record and that it has propagated (dig NAME).',
  expires_soon:
    "Renew the certificate now (certbot renew, or your CA's process) and reload the server: automatic renewal has most likely stopped working.",
  renewal_overdue:
    "Less than a third of the certificate's lifetime is left, and certbot renews at 30 of 90 days, so a working renewal never gets here: check the certbot timer (systemctl list-timers), its log and run certbot renew --dry-run.",
  weak_key:
    'Reissue the certificate with an RSA key of at least 2048 bits or an ECDSA P-256 key (certbot --key-type ecdsa).',
  weak_signature:
    'SHA-1 (and MD5) signatures are broken and rejected by browsers: reissue the certificate from a CA that signs with SHA-256.',
  file_unreadable:
    'The certificate file cannot be read: check the path and that forgewatch may read it (certbot keeps live/ readable by root only).',
};

export function finding(code: ProblemCode, status: Finding['status'], reason: string, hint = HINTS[code]): Finding {
  return { code, status, reason, hint };
}

export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      (a.status === b.status ? 0 : a.status === 'fail' ? -1 : 1) ||
      PROBLEM_CODES.indexOf(a.code) - PROBLEM_CODES.indexOf(b.code),
  );
}

/** The result's status, one-line reason and hint from its findings (worst first). */
export function summarize(findings: Finding[], okReason: string): { status: Status; reason: string; hint?: string } {
  const [first, ...rest] = sortFindings(findings);
  if (!first) return { status: 'ok', reason: okReason };
  const more = rest.length > 0 ? ` (also: ${[...new Set(rest.map((f) => f.code))].join(', ')})` : '';
  return { status: first.status, reason: `${first.reason}${more}`, hint: first.hint };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function windowMs(window: ExpiryWindow, lifetimeMs: number): number {
  return window.kind === 'duration' ? window.ms : lifetimeMs * window.fraction;
}

function describeWindow(window: ExpiryWindow): string {
  return window.kind === 'duration'
    ? formatDuration(window.ms)
    : `${Math.round(window.fraction * 100)}% of the lifetime`;
}

export interface ExpiryPolicy {
  warn_before: ExpiryWindow;
  fail_before: ExpiryWindow;
}

/** Validity of the leaf against the windows, and of the other certificates of its path. */
export function expiryFindings(
  leaf: X509Certificate,
  issuers: readonly X509Certificate[],
  policy: ExpiryPolicy,
  now: number,
): Finding[] {
  const out: Finding[] = [];
  const notBefore = notBeforeMs(leaf);
  const notAfter = notAfterMs(leaf);
  const lifetime = notAfter - notBefore;
  const left = notAfter - now;
  if (now < notBefore) {
    out.push(
      finding(
        'not_yet_valid',
        'fail',
        `certificate not valid until ${new Date(notBefore).toISOString()} (in ${formatDuration(notBefore - now)})`,
      ),
    );
  } else if (left <= 0) {
    out.push(
      finding(
        'expired',
        'fail',
        `certificate expired ${formatDuration(-left)} ago (not_after ${new Date(notAfter).toISOString()})`,
      ),
    );
  } else if (left <= windowMs(policy.fail_before, lifetime)) {
    out.push(
      finding(
        'expires_soon',
        'fail',
        `certificate expires in ${formatDuration(left)} (${day(notAfter)}), within fail_before ${describeWindow(policy.fail_before)}`,
      ),
    );
  } else if (left <= windowMs(policy.warn_before, lifetime)) {
    out.push(
      finding(
        'expires_soon',
        'warn',
        `certificate expires in ${formatDuration(left)} (${day(notAfter)}), within warn_before ${describeWindow(policy.warn_before)}`,
      ),
    );
  }
  if (left > 0 && now >= notBefore && left < lifetime / 3) {
    out.push(
      finding(
        'renewal_overdue',
        'warn',
        `renewal overdue: ${formatDuration(left)} of the certificate's ${formatDuration(lifetime)} lifetime left (less than a third)`,
      ),
    );
  }
  for (const cert of issuers) {
    const end = notAfterMs(cert);
    if (end <= now)
      out.push(
        finding(
          'expired',
          'fail',
          `issuer certificate ${formatName(cert.subject)} expired ${formatDuration(now - end)} ago`,
          'An intermediate in the served chain has expired: download the current chain from the CA (certbot does this on renewal), serve the new fullchain.pem and reload the server.',
        ),
      );
    else if (notBeforeMs(cert) > now)
      out.push(
        finding(
          'not_yet_valid',
          'fail',
          `issuer certificate ${formatName(cert.subject)} not valid until ${new Date(notBeforeMs(cert)).toISOString()}`,
        ),
      );
  }
  return out;
}

/** Weak keys and SHA-1/MD5 signatures on the leaf and the intermediates (a root's self-signature does not matter). */
export function strengthFindings(certs: readonly X509Certificate[], anchors: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  certs.forEach((cert, i) => {
    const what = i === 0 ? 'leaf' : `issuer ${formatName(cert.subject)}`;
    if (isWeakKey(cert)) {
      const key = keyOf(cert);
      out.push(finding('weak_key', 'warn', `${what} key is ${key.type.toUpperCase()} ${key.bits} bits (below 2048)`));
    }
    const algorithm = signatureAlgorithm(cert);
    if (isWeakSignature(algorithm) && !anchors.has(cert.fingerprint256)) {
      out.push(finding('weak_signature', 'warn', `${what} is signed with ${algorithm}`));
    }
  });
  return out;
}

/** The problem code of a failed connection, for the `problems` detail. */
export function connectionProblem(err: unknown, phase: string, timedOut: boolean): ProblemCode {
  if (timedOut || isTimeout(err)) return 'timeout';
  const at = err instanceof DialError ? err.phase : phase;
  const code = (err instanceof DialError ? err.code : (err as NodeJS.ErrnoException | undefined)?.code) ?? '';
  if (at === 'resolving' || ['ENOTFOUND', 'EAI_NONAME', 'EAI_AGAIN', 'ENODATA'].includes(code)) return 'dns';
  if (at === 'connecting') return 'refused';
  return 'handshake_failed';
}
