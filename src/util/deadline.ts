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
 * The signals following each long-lived parent, told by one listener per parent: adding and removing an event
 * listener on every run cost more than the rest of the deadline together.
 */
const followers = new WeakMap<AbortSignal, Set<AbortController>>();

function follow(parent: AbortSignal, controller: AbortController): void {
  let set = followers.get(parent);
  if (!set) {
    const following = (set = new Set());
    followers.set(parent, following);
    parent.addEventListener(
      'abort',
      () => {
        for (const child of following) child.abort(parent.reason);
        following.clear();
      },
      { once: true },
    );
  }
  set.add(controller);
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
  if (parent.aborted) controller.abort(parent.reason);
  else follow(parent, controller);
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    done() {
      clearTimeout(timer);
      followers.get(parent)?.delete(controller);
    },
  };
}
