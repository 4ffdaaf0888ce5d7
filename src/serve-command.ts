/**
 * `forgewatch serve`: the long-running service, with its config file or, without one, what discovery finds on
 * this machine (discovered again on each reload; listeners become checks once two scans saw them).
 */
import { StateDirLockedError } from './checks/lock.js';
import { StateDirError } from './checks/store.js';
import { EtcdUnavailableError } from './cluster/etcd.js';
import { DuplicateNodeError } from './cluster/membership.js';
import { DISCOVERED_CONFIG, defaultConfigText, WRITE_DISCOVERED } from './config/default.js';
import { parseConfig, type Config } from './config/load.js';
import { loadConfigFileIsolated } from './config/load-isolated.js';
import { discover, type DiscoverOptions, type Discovery } from './discover/index.js';
import { describeListeners } from './discover/ports.js';
import { sourceLines } from './discover/render.js';
import type { Logger } from './log.js';
import { STEADY_SCAN_MS, SteadyListeners } from './ports/default-checks.js';
import { ListenError, startService, type Service } from './service.js';
import { LOOPBACK_HOST, type ListenAddress } from './util/listen.js';

export const DEFAULT_LISTEN: ListenAddress = { host: LOOPBACK_HOST, port: 9464 };

function discoveredDefault(listen: ListenAddress, discovery: Discovery): Config {
  return parseConfig(defaultConfigText(listen, discovery), DISCOVERED_CONFIG, process.env, process.cwd());
}

export interface ServeOptions extends Pick<DiscoverOptions, 'nginx' | 'letsencrypt' | 'docker'> {
  /** The config file; without one, what discovery finds here runs. */
  file: string | undefined;
  listen?: ListenAddress;
  logger: Logger;
  /** The file name the logs suggest for a config (./forgewatch.yaml). */
  defaultFile: string;
}

/** Runs until SIGTERM or SIGINT; answers the exit code. */
export async function serve(opts: ServeOptions): Promise<number> {
  const { file, listen, logger, defaultFile: DEFAULT_FILE } = opts;
  const sources = {
    ...(opts.nginx !== undefined ? { nginx: opts.nginx } : {}),
    ...(opts.letsencrypt !== undefined ? { letsencrypt: opts.letsencrypt } : {}),
    ...(opts.docker !== undefined ? { docker: opts.docker } : {}),
  };
  // The discovered default's self-check dials this; once bound it is the real port (--listen HOST:0 included).
  let self: ListenAddress = listen ?? DEFAULT_LISTEN;
  // The long-running service parses files off its main heap, so a large config costs no lasting memory.
  // Without a file, each load discovers this machine again; listeners the scan before saw too become checks.
  const steady = new SteadyListeners();
  let discovery: Discovery | undefined;
  const load = file
    ? () => loadConfigFileIsolated(file)
    : async () => {
        discovery = await discover({
          ...sources,
          ports: () => describeListeners(steady.scan()),
          excludePorts: [self.port],
        });
        logger.info(
          { event: 'discovered', checks: discovery.proposals.length, sources: sourceLines(discovery) },
          `discovered ${discovery.proposals.length} checks on this machine`,
        );
        return discoveredDefault(self, discovery);
      };
  const config = await load();
  if (!file)
    logger.info(
      { event: 'default_config' },
      `no config file (-c, FORGEWATCH_CONFIG or ./${DEFAULT_FILE}): watching what discovery found here; ${WRITE_DISCOVERED} keeps it as a file to edit`,
    );
  let service: Service;
  try {
    service = await startService({
      config,
      loadConfig: load,
      logger,
      ...(listen ? { listen } : {}),
      onListening: (bound) => {
        if (file || !discovery || bound.port === self.port) return undefined;
        self = { host: self.host, port: bound.port };
        return discoveredDefault(self, discovery);
      },
    });
  } catch (err) {
    if (!(
      err instanceof StateDirError ||
      err instanceof StateDirLockedError ||
      err instanceof ListenError ||
      err instanceof EtcdUnavailableError ||
      err instanceof DuplicateNodeError
    ))
      throw err;
    logger.error({ event: err.event, error: err.message, hint: err.hint }, err.message);
    return 2;
  }
  process.on('SIGHUP', () => void service.reload());
  // The second scan, a few seconds after the first: the listeners still there become the default's port checks.
  const steadyScan = file ? undefined : setTimeout(() => void service.reload(), STEADY_SCAN_MS);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  clearTimeout(steadyScan);
  logger.info({ event: 'stopping' }, 'shutting down');
  await service.close();
  return 0;
}
