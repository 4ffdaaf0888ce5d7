/** The probe kinds forgewatch knows: config `type` -> schema, probe function, the gauges it may observe and its facts. */
import type { z } from 'zod';
import type { CheckConfig } from '../config/load.js';
import { certFileCheckSchema, certFileFacts, certFileMetrics, probeCertFile } from './cert-file.js';
import { containerCheckSchema, containerFacts, containerMetrics, probeContainer } from './container.js';
import { dnsCheckSchema, dnsFacts, dnsMetrics, probeDns } from './dns.js';
import { fieldFacts } from './facts.js';
import { httpCheckSchema, httpFacts, httpMetrics, probeHttp } from './http.js';
import { portFacts } from './port-facts.js';
import { portCheckSchema, portMetrics, probePort } from './port.js';
import { probeTls, tlsCheckSchema, tlsFacts, tlsMetrics } from './tls.js';
import type { Fact, FactsOf, JsonObject, MetricNames, MetricSpec, Probe } from './types.js';

export interface ProbeKind {
  schema: z.ZodType;
  /** Receives the check's memo as the monitor keeps it (a Map); the kind's own probe reads it typed. */
  probe: Probe<CheckConfig, string, Record<string, unknown>>;
  metrics: readonly MetricSpec[];
  facts: FactsOf;
}

interface KindDefinition<C, Specs extends readonly MetricSpec[], Memo extends object> {
  schema: z.ZodType;
  /** Observes only metrics in `metrics`: another name does not compile. */
  probe: Probe<C, MetricNames<Specs>, Memo>;
  metrics: Specs;
  facts: FactsOf;
}

function kind<C, Specs extends readonly MetricSpec[], Memo extends object>(
  def: KindDefinition<C, Specs, Memo>,
): ProbeKind {
  // The loader validated the check with this same schema, so the probe receives the shape it declares; the
  // memo is the check's own, which only this kind's probe ever writes.
  return { ...def, probe: def.probe as unknown as ProbeKind['probe'] };
}

export const probeKinds: Record<string, ProbeKind> = {
  http: kind({ schema: httpCheckSchema, probe: probeHttp, metrics: httpMetrics, facts: httpFacts }),
  container: kind({
    schema: containerCheckSchema,
    probe: probeContainer,
    metrics: containerMetrics,
    facts: containerFacts,
  }),
  port: kind({ schema: portCheckSchema, probe: probePort, metrics: portMetrics, facts: portFacts }),
  tls: kind({ schema: tlsCheckSchema, probe: probeTls, metrics: tlsMetrics, facts: tlsFacts }),
  cert_file: kind({
    schema: certFileCheckSchema,
    probe: probeCertFile,
    metrics: certFileMetrics,
    facts: certFileFacts,
  }),
  dns: kind({ schema: dnsCheckSchema, probe: probeDns, metrics: dnsMetrics, facts: dnsFacts }),
};

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
