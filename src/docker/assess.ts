/** Judges one inspected container: state, restarts over the window, OOM, health; quotes its logs when it failed. */
import { formatDuration } from '../util/format.js';
import type { ContainerMetricName } from '../probes/container.js';
import type { JsonObject, Observation, ProbeMemo, Status } from '../probes/types.js';
import type { DockerClient } from './client.js';
import { describeExits, readExitTally, type ExitTally } from './exits.js';
import { crashHint, exitWords, oomHint } from './hints.js';
import { clipLine, meaningfulLine } from './frames.js';
import { restartsInWindow, type RestartMemo } from './restarts.js';
import { containerObservations, HEALTH_STATUSES } from './observations.js';
import { containerName, type ContainerInspect } from './types.js';

const LOG_LINES = 20;
const MAX_LOG_TEXT = 4096;
const MAX_HEALTH_OUTPUT = 1024;

export interface AssessOptions {
  client: DockerClient;
  memo: ProbeMemo<RestartMemo>;
  signal: AbortSignal;
  windowMs: number;
  maxRestarts: number;
  requireHealthy: boolean;
  now: number;
  /** How long the engine's events may take to answer: a slow answer must not cost the whole run. */
  eventsTimeoutMs: number;
}

export interface ContainerVerdict {
  name: string;
  status: Status;
  reason: string;
  hint?: string;
  details: JsonObject;
  observations: Observation<ContainerMetricName>[];
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

function portList(info: ContainerInspect): string[] {
  const out: string[] = [];
  for (const [inner, bindings] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    if (!bindings || bindings.length === 0) out.push(inner);
    else for (const b of bindings) out.push(`${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort ?? ''}->${inner}`);
  }
  return out;
}

/** What the inspection and the logs say about one container, before any judgement. */
interface ContainerFacts {
  name: string;
  /** The state in Docker's words (podman's "stopped" reads "exited"). */
  state: string;
  running: boolean;
  restarting: boolean;
  restartCount: number;
  exitCode: number;
  oom: boolean;
  health: string;
  healthOutput: string;
  failingStreak: number | undefined;
  startedAt: string;
  startedMs: number;
  upMs: number;
  /** Restarts seen within the window, and whether they exceed max_restarts. */
  restarts: number;
  crashLoop: boolean;
  /** The window, as reasons word it ("10m"). */
  window: string;
  logs: string[];
  logError: string | undefined;
  /** The log line that most likely tells why it failed, clipped. */
  line: string | undefined;
  /** Restarted (StartedAt moved) without a failed exit: by hand, a deploy or a watchdog. */
  byHand: boolean;
  /** The failed exit and the quoted log line, as a restart reason words them. */
  cause: string;
  /** The deaths the engine recorded within the window, for a crash loop (undefined when not asked or no answer). */
  exits: ExitTally | undefined;
}

async function gatherContainerFacts(info: ContainerInspect, opts: AssessOptions): Promise<ContainerFacts> {
  const name = containerName(info);
  const st = info.State ?? {};
  const rawState = (st.Status ?? (st.Running ? 'running' : 'unknown')).toLowerCase();
  // podman calls a container between restarts "stopped"; Docker says "exited".
  const state = rawState === 'stopped' ? 'exited' : rawState;
  const running = st.Running === true && state === 'running';
  const restarting = st.Restarting === true || state === 'restarting';
  const restartCount = info.RestartCount ?? 0;
  const exitCode = st.ExitCode ?? 0;
  const oom = st.OOMKilled === true;
  const healthLog = st.Health?.Log ?? [];
  const health = (HEALTH_STATUSES as readonly string[]).includes(st.Health?.Status ?? '')
    ? (st.Health?.Status as string)
    : 'none';
  const healthOutput = tail((healthLog.at(-1)?.Output ?? '').trim(), MAX_HEALTH_OUTPUT);
  const startedAt = st.StartedAt ?? '';
  const startedMs = Date.parse(startedAt);
  const upMs = Number.isFinite(startedMs) && startedMs > 0 ? opts.now - startedMs : 0;
  const { restarts, lastFailedExit } = restartsInWindow(
    opts.memo,
    {
      id: info.Id,
      restartCount,
      startedAt,
      exitCode,
      ...(st.FinishedAt ? { finishedAt: st.FinishedAt } : {}),
      ...(info.Created ? { created: info.Created } : {}),
      now: opts.now,
    },
    opts.windowMs,
  );
  const crashLoop = restarts > opts.maxRestarts;

  let logs: string[] = [];
  let logError: string | undefined;
  if (crashLoop || restarting || oom || (!running && exitCode !== 0) || health === 'unhealthy') {
    try {
      logs = await opts.client.logs(info.Id, { tail: LOG_LINES, tty: info.Config?.Tty === true }, opts.signal);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      logError = (err as Error).message;
    }
  }
  // Clipped before anything reads it: the reason goes into alerts, and the hint's patterns need only the start.
  const quoted = meaningfulLine(logs);
  const line = quoted === undefined ? undefined : clipLine(quoted);
  const lastExit = exitCode !== 0 ? exitCode : lastFailedExit;
  // A `docker restart` moves StartedAt without bumping RestartCount: then say restarted, not RestartCount.
  const byHand = lastExit === undefined && restartCount < restarts;
  // Caught while running, a looping container reports exit 0: the engine's events say how it died.
  const exits =
    (crashLoop || restarting) && !byHand
      ? await readExitTally(
          opts.client,
          info.Id,
          { sinceMs: opts.now - opts.windowMs, untilMs: opts.now },
          opts.eventsTimeoutMs,
          opts.signal,
        )
      : undefined;
  const exitText =
    exits && exits.deaths + exits.oomKills > 0
      ? describeExits(exits, exitWords)
      : lastExit !== undefined
        ? exitWords(lastExit)
        : crashLoop && !byHand
          ? 'exit code not seen yet'
          : '';
  return {
    name,
    state,
    running,
    restarting,
    restartCount,
    exitCode,
    oom,
    health,
    healthOutput,
    failingStreak: st.Health?.FailingStreak,
    startedAt,
    startedMs,
    upMs,
    restarts,
    crashLoop,
    window: formatDuration(opts.windowMs),
    logs,
    logError,
    line,
    byHand,
    cause: [exitText, line ?? ''].filter(Boolean).join(': '),
    exits,
  };
}

interface Verdict {
  status: Status;
  reason: string;
  hint?: string;
}

type Policy = Pick<AssessOptions, 'windowMs' | 'requireHealthy'>;

interface ContainerRule {
  when: (facts: ContainerFacts, policy: Policy) => boolean;
  verdict: (facts: ContainerFacts) => Verdict;
}

/** The judgement, top to bottom: the first rule that applies gives the verdict. */
const CONTAINER_RULES: readonly ContainerRule[] = [
  {
    when: (f) => f.oom,
    verdict: ({ exitCode, line, name }) => ({
      status: 'fail',
      reason: `killed for running out of memory (OOMKilled, ${exitWords(exitCode)})${line ? `: ${line}` : ''}`,
      hint: oomHint(name),
    }),
  },
  {
    when: (f) => f.crashLoop || f.restarting,
    verdict: ({ crashLoop, restartCount, restarts, window, cause, byHand, line, name, exits }) => {
      const counted = !crashLoop
        ? `RestartCount ${restartCount}`
        : restartCount >= restarts
          ? `RestartCount ${restarts} in ${window}`
          : `restarted ${restarts} time${restarts === 1 ? '' : 's'} in ${window}, RestartCount ${restartCount}`;
      return {
        status: 'fail',
        reason: `restarting (${counted})${cause ? `, ${cause}` : ''}`,
        hint: byHand
          ? `The container was restarted within ${window} (StartedAt moved) without a failed exit: by hand (docker restart), by a deploy, or by a watchdog. If that was planned it clears after the window; raise max_restarts to tolerate it.`
          : exits && exits.oomKills > 0
            ? oomHint(name)
            : crashHint(line, name),
      };
    },
  },
  {
    when: (f) => !f.running && f.state === 'paused',
    verdict: ({ name }) => ({
      status: 'fail',
      reason: 'paused',
      hint: `Someone paused the container: \`docker unpause ${name}\`.`,
    }),
  },
  {
    when: (f) => !f.running && f.state === 'created',
    verdict: ({ name }) => ({
      status: 'fail',
      reason: 'created but never started',
      hint: `The container exists but was never started: \`docker start ${name}\`, or check why \`docker compose up\` stopped before it.`,
    }),
  },
  {
    when: (f) => !f.running,
    verdict: ({ state, exitCode, line, name }) => ({
      status: 'fail',
      reason: `not running (${state}, ${exitWords(exitCode)}${line ? `: ${line}` : ''})`,
      hint:
        exitCode === 0
          ? `The main process finished normally: was it stopped on purpose? Start it with \`docker start ${name}\`, and give it a restart policy (restart: unless-stopped).`
          : crashHint(line, name),
    }),
  },
  {
    when: (f, policy) => f.health === 'unhealthy' && policy.requireHealthy,
    verdict: ({ failingStreak, healthOutput, name }) => ({
      status: 'fail',
      reason: `unhealthy${failingStreak ? ` (${failingStreak} failed checks in a row)` : ''}${healthOutput ? `: ${clipLine(healthOutput.split('\n').at(-1) ?? '')}` : ''}`,
      hint: `The container runs but its HEALTHCHECK fails: the output says why (a database it cannot reach, an app that stopped answering). \`docker inspect --format '{{json .State.Health}}' ${name}\` shows the recent results.`,
    }),
  },
  {
    when: (f, policy) => f.health === 'starting' && f.upMs > policy.windowMs,
    verdict: ({ upMs }) => ({
      status: 'warn',
      reason: `health check still starting after ${formatDuration(upMs)}`,
      hint: 'The HEALTHCHECK has not passed since the container started: its start period may be too short, or the check never succeeds. Run it by hand with docker exec.',
    }),
  },
  {
    when: () => true,
    verdict: ({ health, upMs, restartCount }) => ({
      status: 'ok',
      reason: `running${health !== 'none' ? ` (${health})` : ''}, up ${formatDuration(upMs)}, RestartCount ${restartCount}`,
    }),
  },
];

function judgeContainer(facts: ContainerFacts, policy: Policy): Verdict {
  const rule = CONTAINER_RULES.find((r) => r.when(facts, policy)) as ContainerRule;
  return rule.verdict(facts);
}

export async function assessContainer(info: ContainerInspect, opts: AssessOptions): Promise<ContainerVerdict> {
  const facts = await gatherContainerFacts(info, opts);
  const { status, reason, hint } = judgeContainer(facts, opts);
  const { name, state, running, restarting, restartCount, exitCode, oom, health, healthOutput, startedMs } = facts;
  const st = info.State ?? {};
  const details: JsonObject = {
    name,
    id: info.Id,
    image: info.Config?.Image ?? info.Image ?? null,
    state,
    running,
    restarting,
    restart_count: restartCount,
    restarts_in_window: facts.restarts,
    ...(facts.exits
      ? {
          exit_codes_in_window: Object.fromEntries([...facts.exits.codes].map(([code, n]) => [String(code), n])),
          oom_kills_in_window: facts.exits.oomKills,
        }
      : {}),
    exit_code: exitCode,
    error: st.Error ?? '',
    oom_killed: oom,
    health,
    health_output: healthOutput,
    started_at: facts.startedAt || null,
    finished_at: st.FinishedAt ?? null,
    ports: portList(info),
    logs: tail(facts.logs.join('\n'), MAX_LOG_TEXT),
    ...(facts.logError ? { logs_error: facts.logError } : {}),
  };
  return {
    name,
    status,
    reason,
    ...(hint ? { hint } : {}),
    details,
    observations: containerObservations(name, { running, restartCount, state, health, oom, startedMs }),
  };
}
