/** Wires the long-running service: config -> scheduler -> monitor (probes, state) -> metrics + alerts + API. */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAlerting } from './alerts/index.js';
import { acquireStateDirLock } from './checks/lock.js';
import { Monitor } from './checks/monitor.js';
import { Scheduler } from './checks/scheduler.js';
import { StateStore } from './checks/store.js';
import { createEtcdClient, EtcdUnavailableError } from './cluster/etcd.js';
import { Fleet } from './cluster/fleet.js';
import { checkEtcd, joinedBefore } from './cluster/joining.js';
import { FleetAlerting } from './cluster/fleet-alerting.js';
import { ConfigError, type Config } from './config/load.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics/registry.js';
import { createApp } from './server/app.js';
import { History } from './server/history.js';
import { silenceRoutes } from './server/silences-routes.js';
import { statusPage } from './server/status-page.js';
import { hostPort } from './util/address.js';

export interface ServiceOptions {
  config: Config;
  /** Loads the config again for SIGHUP and POST /-/reload; throws (or rejects with) ConfigError when it is bad. */
  loadConfig: () => Config | Promise<Config>;
  logger: Logger;
  /** Listen here instead of the config's server.listen (e.g. port 0 in tests). */
  listen?: { host: string; port: number };
  /**
   * Called once bound, with the real address (port 0 resolved), before any check runs; may return the
   * config to run instead (the discovered default's self-check must dial the port actually bound).
   */
  onListening?: (address: { host: string; port: number }) => Config | undefined;
}

/** The listen address cannot be bound: the service cannot start. */
export class ListenError extends Error {
  readonly event = 'listen_failed';
  readonly hint: string;
  constructor(
    readonly address: string,
    cause: NodeJS.ErrnoException,
  ) {
    const code = cause.code ?? cause.message;
    const what =
      code === 'EADDRINUSE'
        ? 'the address is already in use'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EADDRNOTAVAIL'
            ? 'no such address on this machine'
            : code;
    super(`cannot listen on ${address}: ${what}`);
    this.name = 'ListenError';
    const elsewhere = 'listen elsewhere with --listen HOST:PORT or server.listen in the config';
    this.hint =
      code === 'EADDRINUSE'
        ? `another forgewatch or another process holds this port (ss -tlnp shows which): stop it, or ${elsewhere}`
        : code === 'EACCES'
          ? `ports below 1024 need privileges: ${elsewhere} on a port above 1023`
          : code === 'EADDRNOTAVAIL'
            ? `the host part is not an address of this machine: ${elsewhere}, e.g. 127.0.0.1 or 0.0.0.0`
            : elsewhere;
  }
}

export interface Service {
  monitor: Monitor;
  /** This node's part in a fleet, when the config has `cluster:`. */
  fleet: Fleet | undefined;
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
  const store = new StateStore(config.state_dir, {
    onWriteFailed: (err, file) =>
      logger.error(
        { event: 'state_write_failed', file, error: err.message },
        `cannot write check state to ${file}; states stay in memory and are written again with the next change`,
      ),
    onWriteRecovered: (file) =>
      logger.info({ event: 'state_write_recovered', file }, `check state written to ${file} again`),
  });
  // Before anything reads or writes the state: a second process on this directory must stop here.
  const lock = acquireStateDirLock(config.state_dir);
  // A node that was in this fleet before starts failing open when etcd is away; a new one stops here.
  let etcdAway: string | undefined;
  if (config.cluster) {
    try {
      await checkEtcd(config.cluster, logger);
    } catch (err) {
      if (!(err instanceof EtcdUnavailableError) || !joinedBefore(config.state_dir, config.cluster)) {
        lock.release();
        throw err;
      }
      etcdAway = err.message;
      logger.warn(
        { event: 'cluster_start_uncoordinated', reason: err.message, hint: err.hint },
        `${err.message}; this node was in the fleet before, so it starts anyway: it runs every check and alerts on its own until etcd answers`,
      );
    }
  }
  const monitor = new Monitor(config, store);
  const scheduler = new Scheduler(monitor);
  const metrics = new Metrics(monitor, scheduler, config.cluster?.location);

  monitor.onTransition(({ transition: t, check }) => {
    logger.info(
      {
        event: 'transition',
        check: t.check,
        type: check.type,
        from: t.from,
        to: t.to,
        reason: t.result.reason,
        hint: t.result.hint,
        since: t.since,
      },
      `${t.check}: ${t.from} -> ${t.to}: ${t.result.reason}`,
    );
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
    if (
      next.server.listen.host !== current.server.listen.host ||
      next.server.listen.port !== current.server.listen.port ||
      next.state_dir !== current.state_dir ||
      JSON.stringify(next.cluster) !== JSON.stringify(current.cluster)
    ) {
      logger.warn(
        { event: 'reload_partial' },
        'server.listen, state_dir and cluster changes take effect after a restart',
      );
    }
    monitor.apply({
      ...next,
      server: { ...next.server, listen: current.server.listen },
      state_dir: current.state_dir,
      ...(current.cluster ? { cluster: current.cluster } : {}),
    });
    scheduler.sync();
    metrics.reloaded(true);
    logger.info({ event: 'reloaded', checks: next.checks.length, source: next.source }, 'config reloaded');
    return undefined;
  };

  const history = new History().attach(monitor);
  // In a fleet, the fleet decides which alerter runs (the leader's, or this node's own while failing open).
  const alerting = createAlerting({ monitor, registry: metrics.registry, logger, solo: !config.cluster });
  let fleetAlerting: FleetAlerting | undefined;
  // Set once joined; the API and metrics read it through these closures.
  let fleet: Fleet | undefined;
  const app = createApp({
    monitor,
    metrics,
    scheduler,
    cluster: () => fleet?.view(),
    fleet: () => fleet,
    reload,
    startedAt: new Date(),
    logger,
    routes: [statusPage(history), silenceRoutes(alerting.silences, () => alerting.silencesChanged())],
  });
  const listen = opts.listen ?? config.server.listen;
  let server: Server | undefined;
  try {
    server = app.listen(listen.port, listen.host);
    await once(server, 'listening');
  } catch (err) {
    await monitor.close();
    await alerting.close();
    lock.release();
    throw new ListenError(hostPort(listen.host, listen.port), err as NodeJS.ErrnoException);
  }
  const address = server.address() as AddressInfo;
  const url = `http://${hostPort(address.address, address.port)}`;
  const bound = opts.onListening?.({ host: listen.host, port: address.port });
  if (bound) monitor.apply(bound);
  const cluster = monitor.config.cluster;
  if (cluster) {
    const joining = new Fleet({
      cluster,
      client: await createEtcdClient(cluster),
      monitor,
      scheduler,
      logger,
      address: config.server.public_url ?? url,
    });
    // Only the checks this node owns run on schedule (none before it has its share); /check still runs any check.
    scheduler.setFilter(joining.owns);
    try {
      await joining.start(etcdAway === undefined ? {} : { down: etcdAway });
    } catch (err) {
      await joining.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => (server as Server).close(() => resolve()));
      await monitor.close();
      await alerting.close();
      lock.release();
      throw err;
    }
    fleet = joining;
    metrics.addCluster(joining);
    fleetAlerting = new FleetAlerting(alerting.core, joining, monitor, logger);
    fleetAlerting.start();
  }
  scheduler.start();
  logger.info(
    { event: 'started', url, checks: monitor.checks.length, source: monitor.config.source },
    `forgewatch listening on ${url}`,
  );

  return {
    monitor,
    fleet,
    metrics,
    scheduler,
    server,
    url,
    reload,
    async close() {
      scheduler.stop();
      await fleetAlerting?.close();
      await fleet?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await monitor.close();
      await alerting.close();
      lock.release();
    },
  };
}
