/** The probe kinds forgewatch knows: config `type` -> schema, probe function and the gauges it may observe. */
import type { z } from 'zod';
import type { CheckConfig } from '../config/load.js';
import { certFileCheckSchema, certFileMetrics, probeCertFile } from './cert-file.js';
import { containerCheckSchema, containerMetrics, probeContainer } from './container.js';
import { dnsCheckSchema, dnsMetrics, probeDns } from './dns.js';
import { httpCheckSchema, httpMetrics, probeHttp } from './http.js';
import { portCheckSchema, portMetrics, probePort } from './port.js';
import { probeTls, tlsCheckSchema, tlsMetrics } from './tls.js';
import type { MetricSpec, Probe } from './types.js';

export interface ProbeKind {
  schema: z.ZodType;
  probe: Probe<CheckConfig>;
  metrics: readonly MetricSpec[];
}

function kind<S extends z.ZodType, C>(schema: S, probe: Probe<C>, metrics: readonly MetricSpec[]): ProbeKind {
  // The loader validated the check with this same schema, so the probe receives the shape it declares.
  return { schema, probe: probe as unknown as Probe<CheckConfig>, metrics };
}

export const probeKinds: Record<string, ProbeKind> = {
  http: kind(httpCheckSchema, probeHttp, httpMetrics),
  container: kind(containerCheckSchema, probeContainer, containerMetrics),
  port: kind(portCheckSchema, probePort, portMetrics),
  tls: kind(tlsCheckSchema, probeTls, tlsMetrics),
  cert_file: kind(certFileCheckSchema, probeCertFile, certFileMetrics),
  dns: kind(dnsCheckSchema, probeDns, dnsMetrics),
};
