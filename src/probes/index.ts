/** The probe kinds forgewatch knows, by config `type`. Adding one is its file (with its defineKind) plus one line here. */
import { certFileKind } from './cert-file.js';
import { containerKind } from './container.js';
import { dnsKind } from './dns.js';
import { fieldFacts } from './facts.js';
import { UNCLASSED } from './failure-classes.js';
import { httpKind } from './http.js';
import type { ProbeKind } from './kind.js';
import { portKind } from './port.js';
import { tlsKind } from './tls.js';
import type { Fact, JsonObject, ProbeResult } from './types.js';

export type { ProbeKind } from './kind.js';

export const probeKinds: Record<string, ProbeKind> = {
  http: httpKind,
  container: containerKind,
  port: portKind,
  tls: tlsKind,
  cert_file: certFileKind,
  dns: dnsKind,
};

/** The class of a failing result of this check type (a type no longer known has one class). */
export function failureClassOf(type: string, result: ProbeResult): string {
  return probeKinds[type]?.failureClass(result) ?? UNCLASSED;
}

/**
 * The facts of a result of this check type. A type no longer known (an alert queued before an upgrade)
 * still lists its details.
 */
export function factsFor(type: string, details: JsonObject): Fact[] {
  const facts = probeKinds[type]?.facts;
  return facts ? facts(details) : fieldFacts(details, { nested: true });
}

/** The facts short enough for the status page and the CLI table. */
export function summaryFacts(type: string, details: JsonObject): Fact[] {
  return factsFor(type, details).filter((f) => !f.alertOnly);
}
