/**
 * The listeners discovery proposes: every TCP port this machine keeps listening on should stay up. A
 * listener becomes a check only once two scans a few seconds apart both saw it, so a short-lived listener caught
 * at start-up (a build, a test, an installer) never becomes a check that fails seconds later.
 */
import { readListenersSync, type Listener } from './proc-net.js';

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
