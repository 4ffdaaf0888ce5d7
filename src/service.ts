/** Wires the long-running service: config -> scheduler -> monitor (probes, state) -> metrics + alerts + API. */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAlerting } from './alerts/index.js';
import { Monitor } from './checks/monitor.js';
import { Scheduler } from './checks/scheduler.js';
import { StateStore } from './checks/store.js';
import { ConfigError, type Config } from './config/load.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics/registry.js';
import { createApp } from './server/app.js';
import { History } from './server/history.js';
import { statusPage } from './server/status-page.js';

export interface ServiceOptions {
  config: Config;
  /** Loads the config again for SIGHUP and POST /-/reload; throws (or rejects with) ConfigError when it is bad. */
  loadConfig: () => Config | Promise<Config>;
  logger: Logger;
  /** Listen here instead of the config's server.listen (e.g. port 0 in tests). */
  listen?: { host: string; port: number };
}

export interface Service {
  monitor: Monitor;
  metrics: Metrics;
  scheduler: Scheduler;
  server: Server;
  url: string;
  reload(): Promise<string | undefined>;
  close(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const { logger } = opts;
  const config = opts.config;
  const monitor = new Monitor(config, new StateStore(config.state_dir));
  const scheduler = new Scheduler(monitor);
  const metrics = new Metrics(monitor, scheduler);

  monitor.onTransition(({ transition: t, check }) => {
    logger.info({ event: 'transition', check: t.check, type: check.type, from: t.from, to: t.to, reason: t.result.reason, hint: t.result.hint, since: t.since }, `${t.check}: ${t.from} -> ${t.to}: ${t.result.reason}`);
  });

  const reload = async (): Promise<string | undefined> => {
    let next: Config;
    try {
      next = await opts.loadConfig();
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : (err as Error).message;
      metrics.reloaded(false);
      logger.error({ event: 'reload_failed', error: message }, 'config rejected; keeping the running config');
      return message;
    }
    const current = monitor.config;
    if (next.server.listen.host !== current.server.listen.host || next.server.listen.port !== current.server.listen.port || next.state_dir !== current.state_dir) {
      logger.warn({ event: 'reload_partial' }, 'server.listen and state_dir changes take effect after a restart');
    }
    monitor.apply({ ...next, server: { ...next.server, listen: current.server.listen }, state_dir: current.state_dir });
    scheduler.sync();
    metrics.reloaded(true);
    logger.info({ event: 'reloaded', checks: next.checks.length, source: next.source }, 'config reloaded');
    return undefined;
  };

  const history = new History().attach(monitor);
  const alerting = createAlerting({ monitor, registry: metrics.registry, logger });
  const app = createApp({ monitor, metrics, scheduler, reload, startedAt: new Date(), routes: [statusPage(history), alerting.routes] });
  const listen = opts.listen ?? config.server.listen;
  const server = app.listen(listen.port, listen.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  scheduler.start();
  logger.info({ event: 'started', url, checks: config.checks.length, source: config.source }, `forgewatch listening on ${url}`);

  return {
    monitor,
    metrics,
    scheduler,
    server,
    url,
    reload,
    async close() {
      scheduler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await monitor.close();
      await alerting.close();
    },
  };
}
