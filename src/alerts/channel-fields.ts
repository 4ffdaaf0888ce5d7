/** Config fields every channel kind uses: its name, its per-attempt timeout, and values that are secrets. */
import { z } from 'zod';
import { positiveDuration } from '../config/fields.js';

/**
 * Secret values are never echoed back in config errors (those reach logs and POST /-/reload answers). An absent
 * one is reported as missing like any other key, so the loader can add that its ${VAR} came out empty.
 */
function secretError(expected: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? 'required key is missing' : `expected ${expected} (not shown: it is a secret)`;
}

export const secretText = z
  .custom<string | number>((v) => typeof v === 'string' || typeof v === 'number', {
    error: secretError('a text value'),
  })
  .transform(String);

export const secretUrl = z.custom<string>(
  (v) => typeof v === 'string' && URL.canParse(v) && /^https?:$/.test(new URL(v).protocol),
  { error: secretError('an http:// or https:// URL') },
);

export const channelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'must match [A-Za-z0-9][A-Za-z0-9_.-]*' });

/** Per delivery attempt. */
export const timeout = positiveDuration.prefault('30s');

/** The whole entry of a channel that posts to one secret webhook URL (Slack, Teams). */
export function webhookUrlChannelSchema<T extends string>(type: T) {
  return z.strictObject({ name: channelName, type: z.literal(type), webhook_url: secretUrl, timeout });
}
