/** The contract every probe in this folder follows (one file per probe kind, one signature). */

export type Status = 'ok' | 'warn' | 'fail';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One sample the metrics layer turns into a series; it adds the `check` label itself. */
export interface Observation {
  metric: string;
  labels?: Record<string, string>;
  value: number;
}

/** Declares a gauge a probe may observe. Plain data: probes never import the metrics library. */
export interface MetricSpec {
  name: string;
  help: string;
  /** Label names besides `check`. */
  labelNames: readonly string[];
}

export interface ProbeResult {
  status: Status;
  /** One line: what was seen ("status 502, expected 200"); for a passing check a short summary. */
  reason: string;
  /** Plain-language likely cause and fix, for known failure modes. */
  hint?: string;
  /** Seconds per phase (dns, connect, tls, ttfb, transfer, ...); `total` is always present. */
  timings: Record<string, number>;
  details: JsonObject;
  observations: Observation[];
}

export interface ProbeContext {
  /** Aborts when the run's timeout elapses or the service shuts down. */
  signal: AbortSignal;
  /** Per-check memory that outlives one run (e.g. restart counts over a window); reset when the check's config changes. */
  memo: Map<string, unknown>;
}

export type Probe<C> = (check: C, ctx: ProbeContext) => Promise<ProbeResult>;

export const STATUS_RANK: Record<Status, number> = { ok: 0, warn: 1, fail: 2 };

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = 'ok';
  for (const s of statuses) if (STATUS_RANK[s] > STATUS_RANK[worst]) worst = s;
  return worst;
}

/** Builds a failed result; probes use it for every early exit so the shape stays uniform. */
export function failed(
  reason: string,
  hint: string | undefined,
  startedAt: number,
  extra: Partial<ProbeResult> = {},
): ProbeResult {
  return {
    status: 'fail',
    reason,
    ...(hint ? { hint } : {}),
    timings: { total: (performance.now() - startedAt) / 1000, ...extra.timings },
    details: extra.details ?? {},
    observations: extra.observations ?? [],
  };
}
