/**
 * The alerting layer as the service sees it: built from `config.alerts`, fed only by the monitor's
 * transitions, the checks a reload leaves and a read-only view of check states, with channels behind one
 * durable outbox, rate-limited per channel, and its own metrics. In a fleet the service asks for the core
 * only (`solo: false`) and the fleet runs its alerters on it (src/cluster/fleet-alerting.ts).
 */
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { Monitor } from '../checks/monitor.js';
import type { Logger } from '../log.js';
import type { CheckStates } from './check-states.js';
import { AlertingCore } from './core.js';
import { incidentFile } from './incidents.js';
import type { Silences } from './silences.js';

export interface Alerting {
  core: AlertingCore;
  /** For the silence API, which calls `silencesChanged` after adding one. */
  silences: Silences;
  /** Looks again at alerts held back, now that a silence was added. */
  silencesChanged(): void;
  close(): Promise<void>;
}

export interface AlertingOptions {
  monitor: Monitor;
  registry: Registry;
  logger: Logger;
  /** False in a fleet: only the shared core is built; the fleet decides which alerters run. Default true. */
  solo?: boolean;
}

/** The checks as this process's monitor sees them. */
export function monitorCheckStates(monitor: Monitor): CheckStates {
  return {
    state: (name) => monitor.view(name)?.state,
    lastResult(name) {
      const last = monitor.view(name)?.last;
      return last && { at: last.at, result: last.result };
    },
    dependsOn: (name) => monitor.view(name)?.check.depends_on ?? [],
  };
}

export function createAlerting({ monitor, registry, logger, solo = true }: AlertingOptions): Alerting {
  const stateDir = monitor.config.state_dir;
  const core = new AlertingCore(monitor.config, registry, logger);
  monitor.onConfig((next) => core.apply(next));
  const alerting: Alerting = {
    core,
    silences: core.silences,
    silencesChanged: () => core.poke(),
    close: () => core.close(),
  };
  if (!solo) return alerting;

  const outbox = core.outbox(path.join(stateDir, 'outbox'));
  const alerter = core.alerter(monitorCheckStates(monitor), incidentFile(stateDir, logger), outbox);
  alerter.reconcile(
    monitor.views().flatMap((v) =>
      (v.state.status === 'fail' || v.state.status === 'warn') && !v.last
        ? [
            {
              check: v.check,
              status: v.state.status,
              since: v.state.since,
              reason: v.savedReason ?? `${v.state.status} when forgewatch stopped`,
            },
          ]
        : [],
    ),
  );
  void alerter.start().finally(() => outbox.release());
  monitor.onTransition(({ transition, check }) => alerter.onTransition(transition, check));
  return alerting;
}
