/** What the alerting layer hands to a channel, and the one interface every channel implements. */
import type { CheckStatus } from '../checks/state.js';
import type { JsonObject } from '../probes/types.js';

export type EventKind = 'firing' | 'reminder' | 'resolved';

/** A check that fails too, folded into its root cause's message instead of alerting on its own. */
export interface FoldedDependent {
  check: string;
  status: CheckStatus;
  reason: string;
  since: string;
}

export interface AlertEvent {
  kind: EventKind;
  check: string;
  type: string;
  labels: Record<string, string>;
  description?: string;
  /** The status now (ok for a resolved event) and the one before. */
  status: CheckStatus;
  previous: CheckStatus;
  reason: string;
  hint?: string;
  /** When the failure began (for resolved events too). */
  since: string;
  at: string;
  /** Resolved events: how long the check was failing. */
  duration_ms?: number;
  details: JsonObject;
  dependents: FoldedDependent[];
}

export interface Notification {
  /** Idempotency key: stays the same across retries and restarts. */
  id: string;
  channel: string;
  created_at: string;
  events: AlertEvent[];
  /** Set on the one message sent when the channel reaches max_per_hour. */
  rate_limited?: { limit: number; quiet_until: string };
  public_url?: string;
}

/** What a channel may add to "accepted": recipients the receiver refused while it took the message for others. */
export interface SendOutcome {
  refused?: string[];
  /** The receiver's replies for the refused recipients. */
  detail?: string;
}

export interface Channel {
  readonly name: string;
  readonly type: string;
  /** Per attempt. */
  readonly timeoutMs: number;
  /** Values that must never be logged or shown (passwords, secret URLs); scrubbed from error messages. */
  readonly secrets: readonly string[];
  /**
   * Resolves once the receiver accepted the notification; throws otherwise, a DeliveryError (errors.ts) saying
   * whether a later attempt can succeed. Must stop its work when `signal` aborts.
   */
  send(notification: Notification, signal: AbortSignal): Promise<SendOutcome | void>;
  close?(): void;
}
