/**
 * How a crash-looping container died within the window, from the engine's `die` and `oom` events:
 * a run that catches the container between two crashes sees exit code 0, but the engine records every death.
 */
import type { DockerClient, EngineEvent } from './client.js';

export interface ExitTally {
  /** Deaths seen, and how many times each exit code occurred. */
  deaths: number;
  codes: Map<number, number>;
  /** The exit code of the latest death. */
  last: number | undefined;
  /** Kills by the kernel's OOM killer. */
  oomKills: number;
  /** Fewer events were read than the engine holds (the answer was capped): counts are a lower bound. */
  truncated: boolean;
}

function exitCodeOf(event: EngineEvent): number | undefined {
  const attrs = event.Actor?.Attributes ?? {};
  const code = Number(attrs.exitCode ?? attrs.containerExitCode);
  return attrs.exitCode === undefined && attrs.containerExitCode === undefined ? undefined : code;
}

export function tallyExits(events: readonly EngineEvent[], truncated: boolean): ExitTally {
  const tally: ExitTally = { deaths: 0, codes: new Map(), last: undefined, oomKills: 0, truncated };
  for (const event of events) {
    const action = event.Action ?? event.status;
    if (action === 'oom') tally.oomKills++;
    if (action !== 'die' && action !== 'died') continue;
    const code = exitCodeOf(event);
    tally.deaths++;
    if (code === undefined || !Number.isInteger(code)) continue;
    tally.codes.set(code, (tally.codes.get(code) ?? 0) + 1);
    tally.last = code;
  }
  return tally;
}

const times = (n: number, atLeast: boolean) => `${atLeast ? 'at least ' : ''}${n} time${n === 1 ? '' : 's'}`;

/**
 * The deaths in words: `exited 3 every time`, or the latest code first and then the others by count
 * (`exited 137 (2 times, the last), 3 (41 times)`), then the OOM kills. `exitWords` words a single code.
 */
export function describeExits(tally: ExitTally, exitWords: (code: number) => string): string {
  const parts: string[] = [];
  const counted = [...tally.codes.entries()].sort((a, b) => b[1] - a[1]);
  if (tally.last !== undefined) {
    const last = tally.last;
    if (counted.length === 1 && tally.deaths === 1) parts.push(exitWords(last));
    else if (counted.length === 1 && !tally.truncated) parts.push(`${exitWords(last)} every time`);
    else if (tally.truncated) {
      // A capped read lost some deaths: counts are lower bounds, and which came last is not certain.
      parts.push(`exited ${counted.map(([c, n]) => `${c} (${times(n, true)})`).join(', ')}`);
    } else {
      const others = counted.filter(([code]) => code !== last).map(([c, n]) => `${c} (${times(n, false)})`);
      parts.push(`exited ${last} (${times(tally.codes.get(last) ?? 0, false)}, the last), ${others.join(', ')}`);
    }
  }
  if (tally.oomKills > 0)
    parts.push(`killed for running out of memory (OOM) ${times(tally.oomKills, tally.truncated)}`);
  return parts.join(', ');
}

/**
 * Reads and tallies the container's deaths in the window; undefined when the engine cannot say
 * (an error, no answer within `timeoutMs`): the check then words the reason without them.
 */
export async function readExitTally(
  client: DockerClient,
  id: string,
  window: { sinceMs: number; untilMs: number },
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ExitTally | undefined> {
  try {
    const { events, truncated } = await client.events(
      id,
      window,
      AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    );
    return tallyExits(events, truncated);
  } catch (err) {
    // The run's own deadline still ends the check; only this call's shorter limit is forgiven.
    if (signal.aborted) throw err;
    return undefined;
  }
}
