/** DNS probe: resolves one name through the system's or a chosen resolver and compares the answer. */
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { z } from 'zod';
import { checkSchema, type CheckOf } from '../config/fields.js';
import { formatDuration } from '../util/format.js';
import { dnsName, nonEmptyList } from '../tls/config.js';
import { normalizeIp } from '../tls/names.js';
import { fieldFacts } from './facts.js';
import { failed, type FactsOf, type MetricNames, type MetricSpec, type Observation, type Probe } from './types.js';
import { defineKind } from './kind.js';

/** "127.0.0.53", "127.0.0.1:5353", "::1" or "[::1]:53", as Resolver.setServers takes them. */
const resolverAddress = z.string().refine(
  (v) => {
    const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(v) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(v);
    if (!m) return net.isIPv6(v);
    return net.isIP(m[1] ?? '') !== 0 && (m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535));
  },
  { message: 'expected a resolver IP address, optionally with a port: 127.0.0.53, 10.0.0.2:5353 or [::1]:53' },
);

export const dnsCheckSchema = checkSchema('dns', {
  host: dnsName,
  record: z.enum(['A', 'AAAA', 'CNAME']).default('A'),
  expect: nonEmptyList(
    z.string().min(1),
    'expect is an empty list: list the answers the name must resolve to, or leave expect out to accept any answer',
  ).optional(),
  server: resolverAddress.optional(),
}).superRefine((check, ctx) => {
  (check.expect ?? []).forEach((v, i) => {
    const ok =
      check.record === 'A' ? net.isIPv4(v) : check.record === 'AAAA' ? net.isIPv6(v) : dnsName.safeParse(v).success;
    if (!ok)
      ctx.addIssue({
        code: 'custom',
        path: ['expect', i],
        message: `expected ${check.record === 'CNAME' ? 'a DNS name' : `an ${check.record === 'A' ? 'IPv4' : 'IPv6'} address`} for a ${check.record} record, got ${JSON.stringify(v)}`,
      });
  });
});

export type DnsCheck = CheckOf<typeof dnsCheckSchema>;

export const dnsMetrics = [
  {
    name: 'forgewatch_dns_lookup_seconds',
    help: 'Duration of the last DNS lookup that got an answer (including NXDOMAIN).',
    labelNames: [],
  },
] as const satisfies readonly MetricSpec[];

type DnsMetricName = MetricNames<typeof dnsMetrics>;

function canonical(record: DnsCheck['record'], value: string): string {
  return record === 'CNAME' ? value.toLowerCase().replace(/\.$/, '') : normalizeIp(value);
}

async function lookup(
  resolver: Resolver,
  record: DnsCheck['record'],
  host: string,
): Promise<{ answers: string[]; ttls: number[] }> {
  if (record === 'CNAME') return { answers: await resolver.resolveCname(host), ttls: [] };
  const records =
    record === 'A' ? await resolver.resolve4(host, { ttl: true }) : await resolver.resolve6(host, { ttl: true });
  return { answers: records.map((r) => r.address), ttls: records.map((r) => r.ttl) };
}

interface Failure {
  reason: string;
  hint: string;
  answered: boolean;
  /** The failure's class: the resolver's answer code, or timeout. */
  code: string;
}

function explainDnsError(err: NodeJS.ErrnoException, check: DnsCheck, via: string, timedOut: boolean): Failure {
  const code = timedOut || err.code === 'ECANCELLED' ? 'timeout' : (err.code ?? 'error').toLowerCase();
  return { ...explainDnsCode(err, check, via, timedOut), code };
}

function explainDnsCode(
  err: NodeJS.ErrnoException,
  check: DnsCheck,
  via: string,
  timedOut: boolean,
): Omit<Failure, 'code'> {
  const name = check.host;
  switch (timedOut ? 'ETIMEOUT' : err.code) {
    case 'ENOTFOUND':
      return {
        answered: true,
        reason: `${name}: NXDOMAIN (no such name) from ${via}`,
        hint: `The name does not exist in DNS: create the record at the DNS provider (or fix the typo in the name), then check it from outside (dig ${name} @1.1.1.1).`,
      };
    case 'ENODATA':
      return {
        answered: true,
        reason: `${name} has no ${check.record} record (from ${via})`,
        hint: `The name exists but has no ${check.record} record: add it at the DNS provider, or check whether the service is published under another record type.`,
      };
    case 'ETIMEOUT':
    case 'ECANCELLED':
      return {
        answered: false,
        reason: `timeout after ${formatDuration(check.timeout)} waiting for ${via} to resolve ${name}`,
        hint: 'The resolver did not answer: is it running (systemctl status systemd-resolved) and reachable (a firewall dropping UDP/TCP 53)?',
      };
    case 'ESERVFAIL':
      return {
        answered: true,
        reason: `${name}: SERVFAIL from ${via}`,
        hint: `The resolver could not get an answer from the authoritative servers: a broken delegation or a DNSSEC failure (dig +trace ${name}).`,
      };
    case 'EREFUSED':
      return {
        answered: true,
        reason: `${via} refused to resolve ${name} (REFUSED)`,
        hint: 'The resolver does not answer this client or this name (recursion disabled or an ACL): use another resolver.',
      };
    case 'ECONNREFUSED':
      return {
        answered: false,
        reason: `cannot reach the resolver ${via}: connection refused`,
        hint: 'No DNS server listens at that address: start it or correct the server setting.',
      };
    default:
      return {
        answered: false,
        reason: `${err.code ?? 'error'}: ${err.message} (resolving ${name} via ${via})`,
        hint: 'The DNS lookup failed unexpectedly: run dig against the same resolver to see the raw answer.',
      };
  }
}

export const probeDns: Probe<DnsCheck, DnsMetricName> = async (check, { signal }) => {
  const started = performance.now();
  // Two tries so one lost UDP packet is not an outage; both fit within the check's timeout.
  const resolver = new Resolver({ timeout: Math.max(50, Math.floor(check.timeout / 2.5)), tries: 2 });
  if (check.server) resolver.setServers([check.server]);
  const via = check.server ?? 'the system resolver';
  const summary = {
    host: check.host,
    record: check.record,
    server: check.server ?? null,
    expected: check.expect ?? null,
  };
  const onAbort = () => resolver.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  let result: { answers: string[]; ttls: number[] };
  try {
    if (signal.aborted) throw Object.assign(new Error('aborted'), { code: 'ECANCELLED' });
    result = await lookup(resolver, check.record, check.host);
  } catch (err) {
    const seconds = (performance.now() - started) / 1000;
    const f = explainDnsError(err as NodeJS.ErrnoException, check, via, signal.aborted);
    const observations: Observation<DnsMetricName>[] = f.answered
      ? [{ metric: 'forgewatch_dns_lookup_seconds', value: seconds }]
      : [];
    return failed(f.reason, f.hint, started, {
      timings: { dns: seconds },
      details: { ...summary, answers: [], error: (err as NodeJS.ErrnoException).code ?? null },
      observations,
      code: f.code,
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  const seconds = (performance.now() - started) / 1000;
  const details = { ...summary, answers: result.answers, ...(result.ttls.length > 0 ? { ttls: result.ttls } : {}) };
  const observations: Observation<DnsMetricName>[] = [{ metric: 'forgewatch_dns_lookup_seconds', value: seconds }];
  const got = [...new Set(result.answers.map((a) => canonical(check.record, a)))].sort();
  const want = [...new Set((check.expect ?? []).map((a) => canonical(check.record, a)))].sort();
  if (check.expect && got.join() !== want.join()) {
    return failed(
      `${check.host} resolves to ${result.answers.join(', ') || 'nothing'}, expected ${check.expect.join(', ')}`,
      'The record points somewhere else: update it at the DNS provider so it names the right server (or wait for the old TTL to run out after a change).',
      started,
      { timings: { dns: seconds }, details, observations, code: 'unexpected_answer' },
    );
  }
  return {
    status: 'ok',
    reason: `${check.host} ${check.record} ${result.answers.join(', ')} in ${formatDuration(seconds * 1000)}`,
    timings: { dns: seconds, total: (performance.now() - started) / 1000 },
    details,
    observations,
  };
};

/** The reason already says what resolved to what: the details are listed as they are, for alerts only. */
export const dnsFacts: FactsOf = (details) => fieldFacts(details, { nested: true });

/** The dns probe kind, as src/probes/index.ts registers it. */
export const dnsKind = defineKind({
  schema: dnsCheckSchema,
  probe: probeDns,
  metrics: dnsMetrics,
  facts: dnsFacts,
});
