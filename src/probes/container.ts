/** Container probe: state, crash loops with their cause, OOM kills and health, through the Docker Engine API. */
import { z } from 'zod';
import { checkSchema, filePath, labelMap, positiveDuration, type CheckOf } from '../config/fields.js';
import { assessContainer, type ContainerVerdict } from '../docker/assess.js';
import { containerObservations } from '../docker/observations.js';
import { DockerClient, DockerError, resolveSocket, type EngineMemo } from '../docker/client.js';
import { forgetOthers, type RestartMemo } from '../docker/restarts.js';
import { containerRef, type ContainerInspect } from '../docker/types.js';
import { fieldFacts, jsonObject } from './facts.js';
import {
  failed,
  STATUS_RANK,
  worstStatus,
  type Fact,
  type FactsOf,
  type JsonObject,
  type MetricNames,
  type MetricSpec,
  type Probe,
  type ProbeResult,
} from './types.js';
import { defineKind } from './kind.js';
import { containerFailureClass } from './failure-classes.js';

/** A label selector may match many containers; beyond this the check reports the first ones only. */
const MAX_CONTAINERS = 50;
/** The engine's events only refine a crash loop's reason: they get a slice of the run's time, never all of it. */
const EVENTS_TIMEOUT_MS = 2000;

export const containerCheckSchema = checkSchema('container', {
  container: containerRef.optional(),
  // Without `container`, `labels` selects containers (Docker label keys contain dots); with it, they are the check's own labels.
  labels: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  socket: filePath.optional(),
  max_restarts: z.number().int().min(0).default(0),
  window: positiveDuration.prefault('10m'),
  require_healthy: z.boolean().default(true),
}).superRefine((c, ctx) => {
  if (c.container === undefined && (c.labels === undefined || Object.keys(c.labels).length === 0)) {
    ctx.addIssue({
      code: 'custom',
      path: ['container'],
      message:
        'set container (a name or id) or labels (a label selector such as { com.docker.compose.service: backend })',
    });
  }
  if (c.container !== undefined && c.labels !== undefined) {
    const check = labelMap.safeParse(c.labels);
    if (!check.success)
      for (const issue of check.error.issues)
        ctx.addIssue({ code: 'custom', path: ['labels', ...issue.path.map(String)], message: issue.message });
  }
});

export type ContainerCheck = CheckOf<typeof containerCheckSchema>;

export const containerMetrics = [
  {
    name: 'forgewatch_container_running',
    help: 'Whether the container is running (1) or not (0).',
    labelNames: ['container'],
  },
  {
    name: 'forgewatch_container_restarts',
    help: 'The container RestartCount as reported by the engine.',
    labelNames: ['container'],
  },
  {
    name: 'forgewatch_container_state',
    help: 'The container state: 1 on the current state.',
    labelNames: ['container', 'state'],
  },
  {
    name: 'forgewatch_container_health',
    help: 'The container health status: 1 on the current status (none without a HEALTHCHECK).',
    labelNames: ['container', 'status'],
  },
  {
    name: 'forgewatch_container_oom_killed',
    help: 'Whether the container was last killed for running out of memory.',
    labelNames: ['container'],
  },
  {
    name: 'forgewatch_container_started_timestamp_seconds',
    help: 'Unix time the container last started.',
    labelNames: ['container'],
  },
] as const satisfies readonly MetricSpec[];

export type ContainerMetricName = MetricNames<typeof containerMetrics>;

/** Across runs: the engine's API version and each container's restart samples. */
type ContainerMemo = EngineMemo & RestartMemo;

function selectorText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** The containers to judge, and how many the selector matched (more than were inspected beyond MAX_CONTAINERS). */
async function findContainers(
  client: DockerClient,
  check: ContainerCheck,
  signal: AbortSignal,
): Promise<{ infos: ContainerInspect[]; matched: number }> {
  if (check.container !== undefined) {
    const one = await client.inspect(check.container, signal);
    return { infos: one ? [one] : [], matched: one ? 1 : 0 };
  }
  const label = Object.entries(check.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  const listed = await client.list({ label }, signal);
  const found: ContainerInspect[] = [];
  for (const c of listed.slice(0, MAX_CONTAINERS)) {
    const info = await client.inspect(c.Id, signal);
    if (info) found.push(info);
  }
  return { infos: found, matched: listed.length };
}

export const probeContainer: Probe<ContainerCheck, ContainerMetricName, ContainerMemo> = async (
  check,
  { signal, memo },
) => {
  const started = performance.now();
  let socketPath: string;
  try {
    socketPath = resolveSocket(check.socket);
  } catch (err) {
    if (!(err instanceof DockerError)) throw err;
    return failed(err.reason, err.hint, started, { details: { socket: null, containers: [] } });
  }
  const client = new DockerClient(socketPath, memo);
  const bySelector = check.container === undefined;
  const wanted = check.container ?? selectorText(check.labels ?? {});
  try {
    const { infos, matched } = await findContainers(client, check, signal);
    if (infos.length === 0) {
      forgetOthers(memo, new Set());
      return failed(
        bySelector ? `no container matches labels ${wanted}` : `container ${wanted} not found`,
        bySelector
          ? 'No container carries those labels: is the stack up (docker compose up -d)? `docker ps -a --filter label=KEY=VALUE` lists what matches.'
          : `The engine knows no container with that name or id: was it removed, or renamed (compose names containers PROJECT-SERVICE-1)? \`docker ps -a\` lists them.`,
        started,
        {
          details: { socket: socketPath, containers: [] },
          observations: bySelector
            ? []
            : containerObservations(wanted, {
                running: false,
                restartCount: 0,
                state: 'missing',
                health: 'none',
                oom: false,
                startedMs: NaN,
              }),
        },
      );
    }
    const verdicts: ContainerVerdict[] = [];
    for (const info of infos) {
      verdicts.push(
        await assessContainer(info, {
          client,
          memo,
          signal,
          windowMs: check.window,
          maxRestarts: check.max_restarts,
          requireHealthy: check.require_healthy,
          now: Date.now(),
          eventsTimeoutMs: Math.min(EVENTS_TIMEOUT_MS, check.timeout / 4),
        }),
      );
    }
    forgetOthers(memo, new Set(infos.map((i) => i.Id)));
    return summarize(verdicts, bySelector, started, socketPath, matched);
  } catch (err) {
    if (signal.aborted || !(err instanceof DockerError)) throw err;
    return failed(err.reason, err.hint, started, { details: { socket: socketPath, containers: [] } });
  } finally {
    await client.close();
  }
};

function summarize(
  verdicts: ContainerVerdict[],
  bySelector: boolean,
  started: number,
  socketPath: string,
  matched: number,
): ProbeResult<ContainerMetricName> {
  const status = worstStatus(verdicts.map((v) => v.status));
  const worst = [...verdicts].sort((a, b) => STATUS_RANK[b.status] - STATUS_RANK[a.status])[0] as ContainerVerdict;
  const alsoBad = verdicts.filter((v) => v !== worst && v.status !== 'ok').length;
  let reason = worst.reason;
  if (bySelector) {
    reason =
      status === 'ok' && verdicts.length > 1
        ? `${verdicts.length} containers running`
        : `${worst.name}: ${worst.reason}`;
    if (alsoBad > 0) reason += ` (and ${alsoBad} more not ok)`;
    if (matched > MAX_CONTAINERS)
      reason += ` (only the first ${MAX_CONTAINERS} of ${matched} matching containers were checked)`;
  }
  return {
    status,
    reason,
    ...(worst.hint && status !== 'ok' ? { hint: worst.hint } : {}),
    timings: { total: (performance.now() - started) / 1000 },
    details: {
      socket: socketPath,
      containers: verdicts.map((v) => v.details),
      ...(matched > verdicts.length ? { matched } : {}),
    },
    observations: verdicts.flatMap((v) => v.observations),
  };
}

/** The last log lines an alert quotes per container. */
const ALERT_LOG_LINES = 10;

/** One line a person scans first: state, restarts, and the exit code, OOM kill or health when they matter. */
function containerSummary(ctr: JsonObject, name: string): Fact {
  const restarts = typeof ctr.restart_count === 'number' ? ctr.restart_count : 0;
  const exit = typeof ctr.exit_code === 'number' && ctr.exit_code !== 0 ? `, exit ${ctr.exit_code}` : '';
  const oom = ctr.oom_killed === true ? ', OOM-killed' : '';
  const health = typeof ctr.health === 'string' && ctr.health !== '' && ctr.health !== 'none' ? `, ${ctr.health}` : '';
  const state = String(ctr.state ?? '?');
  return {
    label: `container ${name}`,
    text: `${name}: ${state}, ${restarts} restart${restarts === 1 ? '' : 's'}${exit}${oom}${health}`,
    tone: restarts > 0 || oom || exit ? 'fail' : state === 'running' ? 'ok' : 'neutral',
  };
}

/** For alerts: the restart count, exit code, OOM kill and engine error spelt out, then the last log lines. */
function containerAlertFacts(ctr: JsonObject, name: string): Fact[] {
  const said = [`restart count ${typeof ctr.restart_count === 'number' ? ctr.restart_count : 0}`];
  if (typeof ctr.exit_code === 'number') said.push(`exit code ${ctr.exit_code}`);
  said.push(ctr.oom_killed === true ? 'OOM killed' : 'not OOM killed');
  if (typeof ctr.error === 'string' && ctr.error) said.push(`error: ${ctr.error}`);
  const facts: Fact[] = [
    { label: `container ${name}`, text: `${name}: ${said.join(', ')}`, tone: 'neutral', alertOnly: true },
  ];
  const logs = typeof ctr.logs === 'string' ? ctr.logs.trimEnd().split('\n').slice(-ALERT_LOG_LINES) : [];
  if (logs.length > 0 && logs[0] !== '')
    facts.push({
      label: `logs of ${name}`,
      text: [`last log lines of ${name}:`, ...logs.map((l) => `  | ${l}`)].join('\n'),
      tone: 'neutral',
      alertOnly: true,
    });
  return facts;
}

/** Every container's summary first, then (alerts only) each one in full with its logs, and the other fields. */
export const containerFacts: FactsOf = (details) => {
  const containers = (Array.isArray(details.containers) ? details.containers : []).flatMap((c) => {
    const ctr = jsonObject(c);
    return ctr ? [{ ctr, name: String(ctr.name ?? ctr.id ?? 'container') }] : [];
  });
  return [
    ...containers.map(({ ctr, name }) => containerSummary(ctr, name)),
    ...containers.flatMap(({ ctr, name }) => containerAlertFacts(ctr, name)),
    ...fieldFacts(details, { skip: ['containers'], nested: true }),
  ];
};

/** The container probe kind, as src/probes/index.ts registers it. */
export const containerKind = defineKind({
  schema: containerCheckSchema,
  probe: probeContainer,
  metrics: containerMetrics,
  facts: containerFacts,
  failureClass: containerFailureClass,
});
