/** The contract every probe in this folder follows (one file per probe kind, one signature). */

export type Status = 'ok' | 'warn' | 'fail';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * One sample the metrics layer turns into a series; it adds the `check` label itself. A probe narrows
 * `Name` to the metrics its kind declares, so a misspelt name is a type error rather than a lost series.
 */
export interface Observation<Name extends string = string> {
  metric: Name;
  labels?: Record<string, string>;
  value: number;
}

/** Declares a gauge a probe may observe. Plain data: probes never import the metrics library. */
export interface MetricSpec<Name extends string = string> {
  name: Name;
  help: string;
  /** Label names besides `check`. */
  labelNames: readonly string[];
}

/** The metric names a list of specs declares (declare the list `as const` to keep the literal names). */
export type MetricNames<Specs extends readonly MetricSpec[]> = Specs[number]['name'];

export interface ProbeResult<Name extends string = string> {
  status: Status;
  /** One line: what was seen ("status 502, expected 200"); for a passing check a short summary. */
  reason: string;
  /** Plain-language likely cause and fix, for known failure modes. */
  hint?: string;
  /** Seconds per phase (dns, connect, tls, ttfb, transfer, ...); `total` is always present. */
  timings: Record<string, number>;
  details: JsonObject;
  observations: Observation<Name>[];
  /**
   * For a failing result, the class of its failure ("http_status", "connect_refused", "name_not_covered"): what
   * went wrong, without the numbers, so 502 and 503 share one and a refused connection has another. A probe
   * kind's failureClass decides it; set here by probes that know it where the failure is decided.
   */
  code?: string;
}

/**
 * A check's memory between runs, typed by the probe kind that uses it: `Shape` maps each key to the type
 * of its value (template-literal keys such as `docker.version:${string}` included). At run time a plain Map.
 */
export interface ProbeMemo<Shape extends object> {
  get<K extends keyof Shape & string>(key: K): Shape[K] | undefined;
  set<K extends keyof Shape & string>(key: K, value: Shape[K]): unknown;
  delete(key: keyof Shape & string): boolean;
}

/** The memory shape of a probe kind that keeps nothing between runs. */
type NoMemo = Record<never, never>;

export interface ProbeContext<Memo extends object = NoMemo> {
  /** Aborts when the run's timeout elapses or the service shuts down. */
  signal: AbortSignal;
  /** Per-check memory that outlives one run (e.g. restart counts over a window); reset when the check's config changes. */
  memo: ProbeMemo<Memo>;
}

export type Probe<C, Name extends string = string, Memo extends object = NoMemo> = (
  check: C,
  ctx: ProbeContext<Memo>,
) => Promise<ProbeResult<Name>>;

/** How a fact reads at a glance: the status page colours it, the CLI table marks it. */
export type FactTone = 'ok' | 'warn' | 'fail' | 'neutral';

/** One thing a person scans a result for (days left on a certificate, a container's restarts), as plain text. */
export interface Fact {
  /** What the fact is about ("certificate", a file's full path, "container web"). */
  label: string;
  /** The whole fact as shown everywhere, e.g. "certificate: 5 days left"; may span lines (log excerpts). */
  text: string;
  tone: FactTone;
  /** Too long or too raw for the status page and the CLI table: only alert messages, which carry everything, show it. */
  alertOnly?: true;
}

/** Turns a result's details into facts; each probe kind has one, so every view shows a new kind without changes. */
export type FactsOf = (details: JsonObject) => Fact[];

/**
 * The class of a failing result (see ProbeResult.code); each probe kind has one. A failing check whose class
 * changes is announced again ("now …"); one whose numbers change (502 then 503) is not.
 */
export type FailureClassOf = (result: ProbeResult) => string;

export const STATUS_RANK: Record<Status, number> = { ok: 0, warn: 1, fail: 2 };

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = 'ok';
  for (const s of statuses) if (STATUS_RANK[s] > STATUS_RANK[worst]) worst = s;
  return worst;
}

/** Builds a failed result; probes use it for every early exit so the shape stays uniform. */
export function failed<Name extends string = never>(
  reason: string,
  hint: string | undefined,
  startedAt: number,
  extra: Partial<ProbeResult<Name>> = {},
): ProbeResult<Name> {
  return {
    status: 'fail',
    reason,
    ...(hint ? { hint } : {}),
    timings: { total: (performance.now() - startedAt) / 1000, ...extra.timings },
    details: extra.details ?? {},
    observations: extra.observations ?? [],
    ...(extra.code ? { code: extra.code } : {}),
  };
}
