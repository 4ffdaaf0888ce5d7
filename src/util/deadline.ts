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

/** Called `graceMs` after the deadline aborted the signal, unless done() came first. */
export interface Overdue {
  graceMs: number;
  onOverdue: () => void;
}

/**
 * One timer serves both the deadline and, when given, the overdue call after it: a run that ends in time (nearly
 * every one) arms and clears a single timer.
 */
export function deadline(parent: AbortSignal, ms: number, overdue?: Overdue): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  let timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`timeout after ${formatDuration(ms)}`, 'TimeoutError'));
    if (overdue) timer = setTimeout(overdue.onOverdue, overdue.graceMs);
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
