/**
 * A signal that aborts at a deadline or when a long-lived parent aborts, unhooked from the parent
 * by done(). Node 20's AbortSignal.any() keeps every combined signal alive as long as its longest-
 * lived source, a leak of about 2 KB per call in a service that runs forever.
 */
import { formatDuration } from './format.js';

interface Deadline {
  signal: AbortSignal;
  /** True once the deadline (not the parent) aborted the signal. */
  readonly timedOut: boolean;
  done(): void;
}

export function deadline(parent: AbortSignal, ms: number): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`timeout after ${formatDuration(ms)}`, 'TimeoutError'));
  }, ms);
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    done() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}
