/**
 * Restart history across runs, kept in the check's memo: a crash loop is RestartCount growing, or
 * StartedAt moving (a `docker restart` does not bump RestartCount), more than allowed within the window.
 */
import type { ProbeMemo } from '../probes/types.js';

interface Sample {
  at: number;
  restartCount: number;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
}

const MEMO_KEY = 'container.restarts';

/** What the restart history keeps in a check's memo: samples per container id. */
export type RestartMemo = { [MEMO_KEY]: Map<string, Sample[]> };

/** Enough samples for any window at any interval while keeping the memo bounded. */
const MAX_SAMPLES = 512;

function history(memo: ProbeMemo<RestartMemo>): Map<string, Sample[]> {
  let h = memo.get(MEMO_KEY);
  if (!h) {
    h = new Map();
    memo.set(MEMO_KEY, h);
  }
  return h;
}

interface RestartObservation {
  id: string;
  restartCount: number;
  startedAt: string;
  /** When the container last stopped; with StartedAt it dates the latest restart on a first sample. */
  finishedAt?: string;
  exitCode: number;
  /** When the container was created; restarts since then count in full when that is inside the window. */
  created?: string;
  now: number;
}

interface RestartHistory {
  restarts: number;
  /** The latest non-zero exit code seen within the window: a looping container caught while running reports 0. */
  lastFailedExit?: number;
}

/** Records this run's sample and returns how many restarts happened within the window. */
export function restartsInWindow(
  memo: ProbeMemo<RestartMemo>,
  obs: RestartObservation,
  windowMs: number,
): RestartHistory {
  const h = history(memo);
  const since = obs.now - windowMs;
  const kept = (h.get(obs.id) ?? []).filter((s) => s.at >= since);
  const samples = [
    ...kept,
    {
      at: obs.now,
      restartCount: obs.restartCount,
      startedAt: obs.startedAt,
      finishedAt: obs.finishedAt ?? '',
      exitCode: obs.exitCode,
    },
  ];
  h.set(obs.id, samples.slice(-MAX_SAMPLES));

  // Restarts before the oldest sample kept: all of them when the container was created within the
  // window; else at least the latest one when it falls within the window (a one-shot `forgewatch check`
  // or a service's first run must not miss a loop in a container created long ago).
  const first = samples[0] as Sample;
  const inWindow = (iso: string | undefined) => {
    const t = iso ? Date.parse(iso) : NaN;
    return Number.isFinite(t) && t >= since;
  };
  let restarts = inWindow(obs.created) ? first.restartCount : 0;
  if (restarts === 0 && first.restartCount > 0 && (inWindow(first.startedAt) || inWindow(first.finishedAt)))
    restarts = 1;
  for (let i = 1; i < samples.length; i++) {
    const prev = samples[i - 1] as Sample;
    const cur = samples[i] as Sample;
    const grown = Math.max(0, cur.restartCount - prev.restartCount);
    restarts += Math.max(grown, cur.startedAt !== prev.startedAt ? 1 : 0);
  }
  const failedExit = samples.findLast((s) => s.exitCode !== 0)?.exitCode;
  return { restarts, ...(failedExit !== undefined ? { lastFailedExit: failedExit } : {}) };
}

/** Forgets containers not seen in this run (removed, or recreated under a new id). */
export function forgetOthers(memo: ProbeMemo<RestartMemo>, seen: ReadonlySet<string>): void {
  const h = history(memo);
  for (const id of [...h.keys()]) if (!seen.has(id)) h.delete(id);
}
