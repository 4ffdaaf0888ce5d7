/**
 * How the outbox paces and bounds its attempts: the retry policy with its backoff, and the limit on how long a
 * send that overran its deadline is waited for.
 */
import { abortedMessage, DeliveryError } from './errors.js';

export interface RetryPolicy {
  initial: number;
  max: number;
  give_up_after: number;
}

/** How long a send may take to wind down after its deadline before the outbox stops waiting for it. */
const ABANDON_GRACE_MS = 1000;

/** Full jitter over the upper half keeps retries spread out while never waiting less than half the step. */
export function backoffMs(
  attempts: number,
  policy: Pick<RetryPolicy, 'initial' | 'max'>,
  random = Math.random,
): number {
  const step = Math.min(policy.max, policy.initial * 2 ** Math.max(0, attempts - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Settles with `work`, or fails once `signal` aborted and the work did not wind down within the grace period. */
export function settleBy<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(
        () => reject(new DeliveryError(`${abortedMessage(signal, what)} (attempt abandoned)`)),
        ABANDON_GRACE_MS,
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}
