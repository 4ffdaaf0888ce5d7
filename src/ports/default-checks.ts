/**
 * Port checks for the embedded default config: every TCP port this machine keeps listening on should stay up. A
 * listener becomes a check only once two scans a few seconds apart both saw it, so a short-lived listener caught
 * at start-up (a build, a test, an installer) never becomes a check that fails seconds later.
 */
import { distinctPorts, readListenersSync, reachableHost, type Listener } from './proc-net.js';

/** Enough for a typical host; a machine with hundreds of listeners gets the lowest ports only. */
const MAX_DEFAULT_PORT_CHECKS = 50;

/** The time between the two scans that make a listener steady. */
export const STEADY_SCAN_MS = 3_000;

const key = (l: Listener) => `${l.family}/${l.address}/${l.port}`;

/** Remembers the previous scan; each scan answers the listeners present in both. */
export class SteadyListeners {
  private previous: Set<string> | undefined;

  constructor(private readonly procRoot = '/proc') {}

  /** The listeners this scan and the one before both saw; none at the first scan. */
  scan(): Listener[] {
    const now = readListenersSync(this.procRoot);
    const before = this.previous;
    this.previous = new Set(now.map(key));
    return before ? now.filter((l) => before.has(key(l))) : [];
  }
}

/** YAML list items (indented for `checks:`), one `port-<port>` check per listening port, skipping `exclude`. */
export function listenerChecksYaml(exclude: readonly number[], listeners: readonly Listener[]): string {
  const ports = distinctPorts(listeners)
    .filter((l) => !exclude.includes(l.port))
    .slice(0, MAX_DEFAULT_PORT_CHECKS);
  return ports
    .map(
      (l) =>
        `  - name: port-${l.port}\n    type: port\n    host: ${JSON.stringify(reachableHost(l))}\n    port: ${l.port}\n    expect: listening\n`,
    )
    .join('');
}
