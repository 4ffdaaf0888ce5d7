/** The dns check against a real DNS server on 127.0.0.1 that the test runs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { ProbeResult } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import { startDnsServer, type RunningDns } from './helpers/dns.js';
import { startForgewatch } from './helpers/service.js';

let dns: RunningDns;

function dnsCheck(body: string, timeout = '1s'): Promise<ProbeResult> {
  return runCheck(`name: dns-api\ntype: dns\nserver: ${dns.address}\ntimeout: ${timeout}\n${body}`).then(
    (r) => r.result,
  );
}

beforeAll(async () => {
  dns = await startDnsServer({
    'api.forgetrace.test': { A: ['203.0.113.7'], AAAA: ['2001:db8::7'] },
    'lb.forgetrace.test': { A: ['203.0.113.7', '203.0.113.8'] },
    'www.forgetrace.test': { CNAME: 'lb.forgetrace.test' },
    'moved.forgetrace.test': { A: ['198.51.100.2'] },
    'broken.forgetrace.test': { rcode: 'SERVFAIL' },
    'slow.forgetrace.test': { silent: true },
  });
});

afterAll(() => dns.close());

describe('dns', () => {
  it('passes when the name resolves to exactly the expected addresses, in any order', async () => {
    const result = await dnsCheck('host: lb.forgetrace.test\nrecord: A\nexpect: [203.0.113.8, 203.0.113.7]');
    expect(result.status).toBe('ok');
    expect(result.reason).toMatch(/^lb\.forgetrace\.test A 203\.0\.113\.7, 203\.0\.113\.8 in \d+ms$/);
    expect(result.details).toMatchObject({
      answers: ['203.0.113.7', '203.0.113.8'],
      ttls: [300, 300],
      server: dns.address,
    });
    expect(dns.queries).toContain('A lb.forgetrace.test');
  });

  it('compares AAAA and CNAME answers', async () => {
    expect((await dnsCheck('host: api.forgetrace.test\nrecord: AAAA\nexpect: ["2001:0db8:0:0:0:0:0:7"]')).status).toBe(
      'ok',
    );
    const cname = await dnsCheck('host: www.forgetrace.test\nrecord: CNAME\nexpect: [LB.forgetrace.test.]');
    expect(cname.status).toBe('ok');
    expect(cname.details.answers).toEqual(['lb.forgetrace.test']);
  });

  it('passes on any answer when expect is left out', async () => {
    expect((await dnsCheck('host: moved.forgetrace.test')).status).toBe('ok');
  });

  it('fails on a wrong answer, naming what it got and what was expected', async () => {
    const result = await dnsCheck('host: moved.forgetrace.test\nexpect: [203.0.113.7]');
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('moved.forgetrace.test resolves to 198.51.100.2, expected 203.0.113.7');
    expect(result.hint).toMatch(/DNS provider/);
    const extra = await dnsCheck('host: lb.forgetrace.test\nexpect: [203.0.113.7]');
    expect(extra.reason).toBe('lb.forgetrace.test resolves to 203.0.113.7, 203.0.113.8, expected 203.0.113.7');
  });

  it('fails on NXDOMAIN and on a missing record type', async () => {
    const nx = await dnsCheck('host: nope.forgetrace.test');
    expect(nx.status).toBe('fail');
    expect(nx.reason).toBe(`nope.forgetrace.test: NXDOMAIN (no such name) from ${dns.address}`);
    expect(nx.hint).toMatch(/does not exist/);
    const noAaaa = await dnsCheck('host: moved.forgetrace.test\nrecord: AAAA');
    expect(noAaaa.reason).toBe(`moved.forgetrace.test has no AAAA record (from ${dns.address})`);
  });

  it('fails on SERVFAIL', async () => {
    const result = await dnsCheck('host: broken.forgetrace.test');
    expect(result.reason).toBe(`broken.forgetrace.test: SERVFAIL from ${dns.address}`);
    expect(result.hint).toMatch(/dig \+trace/);
  });

  it('times out on a resolver that never answers', async () => {
    const result = await dnsCheck('host: slow.forgetrace.test', '400ms');
    expect(result.status).toBe('fail');
    expect(result.reason).toBe(`timeout after 400ms waiting for ${dns.address} to resolve slow.forgetrace.test`);
    expect(result.hint).toMatch(/resolver did not answer/);
    expect(result.observations).toEqual([]);
  });

  it('exports the lookup time', async () => {
    const fw = await startForgewatch(
      `checks:\n  - name: dns-api\n    type: dns\n    host: api.forgetrace.test\n    expect: [203.0.113.7]\n    server: ${dns.address}\n    interval: 1h\n`,
    );
    try {
      await fetch(`${fw.url}/check?name=dns-api`);
      expect(await (await fetch(`${fw.url}/metrics`)).text()).toMatch(
        /^forgewatch_dns_lookup_seconds\{check="dns-api"\} \d/m,
      );
    } finally {
      await fw.close();
    }
  });

  it('rejects malformed config with the key that is wrong', () => {
    const parse = (body: string) => () =>
      parseConfig(`checks:\n  - name: d\n    type: dns\n${body}`, '/etc/forgewatch.yaml');
    expect(parse('    host: a.test\n    record: MX\n')).toThrow(/checks\[0\] \([a-z0-9_.-]+\)\.record/);
    expect(parse('    host: a.test\n    expect: [not-an-ip]\n')).toThrow(
      /checks\[0\] \([a-z0-9_.-]+\)\.expect\[0\]: expected an IPv4 address for a A record, got "not-an-ip"/,
    );
    expect(parse('    host: a.test\n    server: 127.0.0.1:99999\n')).toThrow(
      /checks\[0\] \([a-z0-9_.-]+\)\.server: expected a resolver IP address/,
    );
    expect(parse('    host: "bad name"\n')).toThrow(/checks\[0\] \([a-z0-9_.-]+\)\.host: expected a DNS name/);
  });
});
