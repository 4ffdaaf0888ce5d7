/**
 * What the alerting layer hands to a channel, the one interface every channel implements, and what a channel
 * kind registers (src/alerts/channels.ts) so the config and the service know it.
 */
import type { z } from 'zod';
import type { CheckStatus } from '../checks/state.js';
import type { JsonObject } from '../probes/types.js';

/** `changed`: a check already alerted on still fails, but differently (another class of failure). */
export type EventKind = 'firing' | 'reminder' | 'changed' | 'resolved';

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
  /** Changed events: the reason of the failure it changed from. */
  previous_reason?: string;
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
  /**
   * Set when a fleet node sent this on its own because it could not coordinate through etcd: another node may
   * send the same alert too.
   */
  uncoordinated?: { node: string; reason: string };
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
  /** Work the channel does on its own between notifications, for receivers that forget what they are not told again. */
  periodic?: PeriodicWork;
  close?(): void;
}

export interface PeriodicWork {
  everyMs: number;
  /** Names the work in the warning logged when a run fails: "resending firing alerts". */
  what: string;
  /** Not queued nor retried: the next run replaces a failed one. Must stop its work when `ctx.signal` aborts. */
  run(ctx: PeriodicContext): Promise<void>;
}

export interface PeriodicContext {
  /** The channel's open firing events: alerted on, not resolved, folded or silenced. */
  firing: AlertEvent[];
  publicUrl: string | undefined;
  /** Aborts at the channel's timeout. */
  signal: AbortSignal;
}

/** A channel kind: the schema of its config entry (with a literal `type`) and how to build the channel from it. */
export interface ChannelKind<S extends z.ZodType> {
  readonly schema: S;
  create(config: z.output<S>): Channel;
}
