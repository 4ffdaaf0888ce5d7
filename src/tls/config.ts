/** Config fields shared by the certificate checks (tls, cert_file, and the tls: block of http). */
import net from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../config/units.js';
import { bareHost } from '../util/address.js';

export type ExpiryWindow = { kind: 'duration'; ms: number } | { kind: 'share'; fraction: number };

/** "21d" (time before not_after) or "33%" (a share of the certificate's lifetime). */
const expiryWindow = z.union([z.string(), z.number()]).transform((v, ctx): ExpiryWindow => {
  const text = String(v).trim();
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (percent) {
    const share = Number(percent[1]);
    if (share > 0 && share < 100) return { kind: 'share', fraction: share / 100 };
  } else {
    const ms = typeof v === 'number' ? v * 1000 : parseDuration(text);
    if (ms !== undefined && Number.isFinite(ms) && ms >= 0) return { kind: 'duration', ms };
  }
  ctx.issues.push({
    code: 'custom',
    input: v,
    message: `expected a time before expiry such as 21d, or a share of the lifetime between 0% and 100% such as 33%, got ${JSON.stringify(v)}`,
  });
  return z.NEVER;
});

const DNS_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/** A DNS name such as api.example.org (no wildcards). */
export const dnsName = z.string().regex(DNS_NAME, { message: 'expected a DNS name such as api.example.org' });

/** A host name (wildcards not allowed: these are names the certificate must cover) or an IP address. */
const certName = z.string().refine((v) => net.isIP(bareHost(v)) !== 0 || DNS_NAME.test(v), {
  message: 'expected a host name such as www.example.org or an IP address',
});

/**
 * The TLS server name (SNI). RFC 6066 forbids an IP address there (Node warns DEP0123 and sends it
 * anyway), so an IP is refused here: leave server_name out and no SNI is sent.
 */
export const sniName = z.string().superRefine((v, ctx) => {
  if (net.isIP(bareHost(v)) !== 0) {
    ctx.addIssue({
      code: 'custom',
      message: `SNI must be a DNS name, not an IP address, got ${JSON.stringify(v)}: leave server_name out to connect without SNI (names: can still list the IP to check it against the certificate)`,
    });
  } else if (!DNS_NAME.test(v)) {
    ctx.addIssue({ code: 'custom', message: `expected a DNS name such as api.example.org, got ${JSON.stringify(v)}` });
  }
});

/** A non-empty list; refine (a custom issue) so the message reaches the user as written. */
export function nonEmptyList<T extends z.ZodType>(item: T, message: string) {
  return z.array(item).refine((list) => list.length > 0, { message });
}

export const certPolicyFields = {
  names: nonEmptyList(
    certName,
    'names is an empty list: list at least one name the certificate must cover, or leave names out to check the server name',
  ).optional(),
  warn_before: expiryWindow.prefault('21d'),
  fail_before: expiryWindow.prefault('7d'),
};

/** fail_before must come closer to expiry than warn_before when both are the same kind. */
export function checkWindows(
  value: { warn_before: ExpiryWindow; fail_before: ExpiryWindow },
  ctx: z.RefinementCtx,
  path: (string | number)[] = [],
): void {
  const { warn_before: warn, fail_before: fail } = value;
  const longer =
    warn.kind === 'duration' && fail.kind === 'duration'
      ? fail.ms > warn.ms
      : warn.kind === 'share' && fail.kind === 'share'
        ? fail.fraction > warn.fraction
        : false;
  if (longer)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'fail_before'],
      message: 'fail_before must be shorter than warn_before (the check warns first, then fails)',
    });
}
