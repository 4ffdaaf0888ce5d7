/** The probe kinds forgewatch knows: config `type` -> schema, probe function, the gauges it may observe and its facts. */
import type { z } from 'zod';
import type { CheckConfig } from '../config/load.js';
import {
  certFileCheckSchema,
  certFileFacts,
  certFileFailureClass,
  certFileMetrics,
  probeCertFile,
} from './cert-file.js';
import { containerCheckSchema, containerFacts, containerMetrics, probeContainer } from './container.js';
import { dnsCheckSchema, dnsFacts, dnsFailureClass, dnsMetrics, probeDns } from './dns.js';
import { fieldFacts } from './facts.js';
import { containerFailureClass, portFailureClass, UNCLASSED } from './failure-classes.js';
import { httpCheckSchema, httpFacts, httpFailureClass, httpMetrics, probeHttp } from './http.js';
import { portFacts } from './port-facts.js';
import { portCheckSchema, portMetrics, probePort } from './port.js';
import { probeTls, tlsCheckSchema, tlsFacts, tlsFailureClass, tlsMetrics } from './tls.js';
import type {
  Fact,
  FactsOf,
  FailureClassOf,
  JsonObject,
  MetricNames,
  MetricSpec,
  Probe,
  ProbeResult,
} from './types.js';

export interface ProbeKind {
  schema: z.ZodType;
  /** Receives the check's memo as the monitor keeps it (a Map); the kind's own probe reads it typed. */
  probe: Probe<CheckConfig, string, Record<string, unknown>>;
  metrics: readonly MetricSpec[];
  facts: FactsOf;
  /** The class of a failing result: a failing check whose class changes is announced again. */
  failureClass: FailureClassOf;
}

interface KindDefinition<C, Specs extends readonly MetricSpec[], Memo extends object> {
  schema: z.ZodType;
  /** Observes only metrics in `metrics`: another name does not compile. */
  probe: Probe<C, MetricNames<Specs>, Memo>;
  metrics: Specs;
  facts: FactsOf;
  failureClass: FailureClassOf;
}

function kind<C, Specs extends readonly MetricSpec[], Memo extends object>(
  def: KindDefinition<C, Specs, Memo>,
): ProbeKind {
  // The loader validated the check with this same schema, so the probe receives the shape it declares; the
  // memo is the check's own, which only this kind's probe ever writes.
  return { ...def, probe: def.probe as unknown as ProbeKind['probe'] };
}

export const probeKinds: Record<string, ProbeKind> = {
  http: kind({
    schema: httpCheckSchema,
    probe: probeHttp,
    metrics: httpMetrics,
    facts: httpFacts,
    failureClass: httpFailureClass,
  }),
  container: kind({
    schema: containerCheckSchema,
    probe: probeContainer,
    metrics: containerMetrics,
    facts: containerFacts,
    failureClass: containerFailureClass,
  }),
  port: kind({
    schema: portCheckSchema,
    probe: probePort,
    metrics: portMetrics,
    facts: portFacts,
    failureClass: portFailureClass,
  }),
  tls: kind({
    schema: tlsCheckSchema,
    probe: probeTls,
    metrics: tlsMetrics,
    facts: tlsFacts,
    failureClass: tlsFailureClass,
  }),
  cert_file: kind({
    schema: certFileCheckSchema,
    probe: probeCertFile,
    metrics: certFileMetrics,
    facts: certFileFacts,
    failureClass: certFileFailureClass,
  }),
  dns: kind({
    schema: dnsCheckSchema,
    probe: probeDns,
    metrics: dnsMetrics,
    facts: dnsFacts,
    failureClass: dnsFailureClass,
  }),
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
