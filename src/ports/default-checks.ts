/** Port checks for the embedded default config: every TCP port this machine listens on at start-up should stay up. */
import { distinctPorts, reachableHost, readListenersSync } from './proc-net.js';

/** Enough for a typical host; a machine with hundreds of listeners gets the lowest ports only. */
const MAX_DEFAULT_PORT_CHECKS = 50;

/** YAML list items (indented for `checks:`), one `port-<port>` check per listening port, skipping `exclude`. */
export function listenerChecksYaml(exclude: readonly number[], procRoot = '/proc'): string {
  const ports = distinctPorts(readListenersSync(procRoot))
    .filter((l) => !exclude.includes(l.port))
    .slice(0, MAX_DEFAULT_PORT_CHECKS);
  return ports
    .map(
      (l) =>
        `  - name: port-${l.port}\n    type: port\n    host: ${JSON.stringify(reachableHost(l))}\n    port: ${l.port}\n    expect: listening\n`,
    )
    .join('');
}
