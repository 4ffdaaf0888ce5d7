/**
 * The secret values a config holds, for redaction: whatever a secret reference resolved to (see interpolate.ts),
 * the API token, credentials in check URLs and secret-looking check headers, and the alert channels' passwords,
 * signing secrets and webhook URLs. A target that echoes a request, or redirects to a service that does, must not
 * get one of these into a reason, a log line, an API answer, a state file or an alert.
 */
import { urlSecrets } from '../util/redact.js';

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie)$|token|secret|key|auth|session|signature/i;
const SECRET_FIELD = /^(password|secret|token|webhook_url|url)$/;
/** Shorter values are left alone: redacting "on" or "80" everywhere would garble every message. */
const MIN_LENGTH = 4;

function collectFields(value: unknown, out: string[]): void {
  if (Array.isArray(value)) for (const v of value) collectFields(v, out);
  else if (value !== null && typeof value === 'object')
    for (const [key, v] of Object.entries(value)) {
      if (typeof v === 'string' && SECRET_FIELD.test(key))
        out.push(...(key.endsWith('url') ? urlSecrets(v, { wholePath: false }) : [v]));
      else if (key === 'headers' && v !== null && typeof v === 'object') out.push(...Object.values(v).map(String));
      else collectFields(v, out);
    }
}

export function configSecrets(input: {
  referenced: Iterable<string>;
  token?: string | undefined;
  checks: ReadonlyArray<{ readonly [key: string]: unknown }>;
  alerts?: unknown;
}): string[] {
  const out = [...input.referenced];
  if (input.token) out.push(input.token);
  for (const check of input.checks) {
    if (typeof check.url === 'string' && URL.canParse(check.url)) {
      const { password } = new URL(check.url);
      if (password) out.push(password, decodeURIComponent(password));
    }
    const headers = check.headers;
    if (headers !== null && typeof headers === 'object')
      for (const [name, v] of Object.entries(headers)) if (SECRET_HEADER.test(name)) out.push(String(v));
  }
  if (input.alerts !== undefined) collectFields((input.alerts as { channels?: unknown }).channels, out);
  return [...new Set(out.filter((s) => s.length >= MIN_LENGTH))];
}
