/**
 * What a probe kind is: its config schema, its probe, the gauges it may observe, how its details read as facts and
 * how its failures are classed. Each kind's file defines one with defineKind; index.ts lists them, one line each.
 */
import type { z } from 'zod';
import type { CheckConfig } from '../config/load.js';
import { UNCLASSED } from './failure-classes.js';
import type { FactsOf, FailureClassOf, MetricNames, MetricSpec, Probe } from './types.js';

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
  /** Default: the `code` the probe set where it decided the failure. */
  failureClass?: FailureClassOf;
}

export function defineKind<C, Specs extends readonly MetricSpec[], Memo extends object>(
  def: KindDefinition<C, Specs, Memo>,
): ProbeKind {
  // The loader validated the check with this same schema, so the probe receives the shape it declares; the
  // memo is the check's own, which only this kind's probe ever writes.
  return {
    ...def,
    probe: def.probe as unknown as ProbeKind['probe'],
    failureClass: def.failureClass ?? ((result) => result.code ?? UNCLASSED),
  };
}
