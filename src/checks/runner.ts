/** Runs one probe under a concurrency limit and a hard deadline; a probe can never hold a slot past it. */
import { formatDuration } from '../util/format.js';
import type { CheckConfig } from '../config/load.js';
import type { ProbeKind } from '../probes/index.js';
import { failed, type ProbeResult } from '../probes/types.js';
import { deadline } from '../util/deadline.js';

export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(public limit: number) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}

/** Extra time a probe gets to notice its abort before the runner stops waiting for it. */
const GRACE_MS = 250;

export async function runProbe(
  kind: ProbeKind,
  check: CheckConfig,
  memo: Map<string, unknown>,
  limiter: Limiter,
  shutdown: AbortSignal,
): Promise<ProbeResult> {
  const release = await limiter.acquire();
  const started = performance.now();
  /** Settles the run's result early when the probe ignores its abort past the grace period. */
  let settle: ((result: ProbeResult) => void) | undefined;
  const run = deadline(shutdown, check.timeout, {
    graceMs: GRACE_MS,
    onOverdue: () =>
      settle?.(
        failed(`timeout after ${formatDuration(check.timeout)} (the probe did not stop in time)`, undefined, started),
      ),
  });
  const { signal } = run;
  try {
    return await new Promise<ProbeResult>((resolve, reject) => {
      settle = resolve;
      kind.probe(check, { signal, memo }).then(resolve, reject);
    });
  } catch (err) {
    if (run.timedOut) return failed(`timeout after ${formatDuration(check.timeout)}`, undefined, started);
    if (shutdown.aborted) return failed('cancelled: forgewatch is shutting down', undefined, started);
    return failed(
      `probe error: ${(err as Error).message ?? String(err)}`,
      'This looks like a bug in forgewatch rather than in the target; please report it with the check config.',
      started,
    );
  } finally {
    run.done();
    release();
  }
}
