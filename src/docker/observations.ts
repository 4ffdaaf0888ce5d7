/** The gauges a container's state becomes: one series per known state and health status, so dashboards can stack them. */
import type { ContainerMetricName } from '../probes/container.js';
import type { Observation } from '../probes/types.js';

const CONTAINER_STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;
export const HEALTH_STATUSES = ['none', 'starting', 'healthy', 'unhealthy'] as const;

export function containerObservations(
  container: string,
  s: { running: boolean; restartCount: number; state: string; health: string; oom: boolean; startedMs: number },
): Observation<ContainerMetricName>[] {
  const states = (CONTAINER_STATES as readonly string[]).includes(s.state)
    ? CONTAINER_STATES
    : [...CONTAINER_STATES, s.state];
  return [
    { metric: 'forgewatch_container_running', labels: { container }, value: s.running ? 1 : 0 },
    { metric: 'forgewatch_container_restarts', labels: { container }, value: s.restartCount },
    ...states.map((state) => ({
      metric: 'forgewatch_container_state' as const,
      labels: { container, state },
      value: s.state === state ? 1 : 0,
    })),
    ...HEALTH_STATUSES.map((status) => ({
      metric: 'forgewatch_container_health' as const,
      labels: { container, status },
      value: s.health === status ? 1 : 0,
    })),
    { metric: 'forgewatch_container_oom_killed', labels: { container }, value: s.oom ? 1 : 0 },
    ...(Number.isFinite(s.startedMs) && s.startedMs > 0
      ? [
          {
            metric: 'forgewatch_container_started_timestamp_seconds' as const,
            labels: { container },
            value: s.startedMs / 1000,
          },
        ]
      : []),
  ];
}
