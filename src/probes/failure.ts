/** A probe run that stopped with a reason already worded for a person, thrown from deep inside it. */
import type { Explained } from '../net/explain.js';
import type { ServedAnalysis } from '../tls/report.js';

export class ProbeFailure extends Error {
  constructor(
    readonly explained: Explained,
    /** What the TLS server presented before the failure, if it got that far: still reported. */
    readonly tls?: ServedAnalysis,
    /** The failure's class (ProbeResult.code), when the thrower knows it. */
    readonly code?: string,
  ) {
    super(explained.reason);
  }
}
