/**
 * How a channel says why a notification was not accepted, so the outbox can tell "try again later" from
 * "this message will never be accepted", and keeps secrets out of the error text it logs and stores.
 */
import { redact } from '../util/redact.js';

export interface DeliveryErrorOptions {
  /** The receiver refused this message for good (a 4xx, an SMTP 5xx for the whole message, an unbuildable message). */
  permanent?: boolean;
  /** The receiver asked for the next attempt no sooner than this (Retry-After). */
  retryAfterMs?: number;
}

export class DeliveryError extends Error {
  readonly permanent: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, opts: DeliveryErrorOptions = {}) {
    super(message);
    this.name = 'DeliveryError';
    this.permanent = opts.permanent ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * Rendering happens inside send(), but a message that cannot be rendered now will not render on the next
 * attempt either: give it up at once instead of retrying it for a day.
 */
export function buildOrGiveUp<T>(what: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new DeliveryError(`cannot build the message for ${what}: ${(err as Error).message}`, { permanent: true });
  }
}

/** 408, 425 and 429 say "not now"; any other 4xx says the request itself is wrong and resending it cannot help. */
export function permanentHttpStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429;
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Secrets replaced whole (see util/redact.ts): a channel's name or a word never loses a part to them. */
export function scrub(text: string, secrets: readonly string[]): string {
  return redact(text, secrets);
}

/** The signal's reason tells a deadline (TimeoutError from util/deadline) from a shutdown. */
export function abortedMessage(signal: AbortSignal, what: string): string {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === 'TimeoutError'
    ? `${what} did not answer in time`
    : `sending to ${what} was stopped (shutting down)`;
}
