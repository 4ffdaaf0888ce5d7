/** How the tls check fails when there is no certificate to judge, https:// in http checks, metrics and config errors. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { ProbeResult } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import {
  chainPem,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  daysFromNow,
  serveHttps,
  writePem,
  type Issued,
} from './helpers/pki.js';
import { freePort, httpServer, listen } from './helpers/servers.js';
import { startForgewatch, tempDir } from './helpers/service.js';

const tmp = tempDir('forgewatch-tls-connect-');
const closers: Array<() => Promise<void>> = [];
let intermediate: Issued;
let caFile: string;
let goodPort: number;
let expiredPort: number;
let soonPort: number;

async function serve(leafOpts: Parameters<typeof createLeaf>[1]): Promise<number> {
  const leaf = await createLeaf(intermediate, leafOpts);
  const server = await serveHttps(chainPem(leaf, intermediate), leaf.key);
  closers.push(() => server.close());
  return server.port;
}

function tlsCheck(host: string, port: number, extra = ''): Promise<ProbeResult> {
  return runCheck(
    `name: cert\ntype: tls\nhost: ${host}\nport: ${port}\nca_file: ${caFile}\ntimeout: 500ms\n${extra}`,
  ).then((r) => r.result);
}

function httpsCheck(port: number, tlsBlock = ''): Promise<ProbeResult> {
  return runCheck(
    `name: site\ntype: http\nurl: https://127.0.0.1:${port}/\ntimeout: 3s\ntls: { ca_file: ${caFile}, server_name: forgetrace.test${tlsBlock} }`,
  ).then((r) => r.result);
}

beforeAll(async () => {
  const root = await createRootCa('Connect Test Root');
  intermediate = await createIntermediateCa(root, 'Connect Test Intermediate');
  caFile = writePem(tmp.dir, 'ca.pem', root.cert);
  goodPort = await serve({ sans: ['forgetrace.test', 'www.forgetrace.test'], notAfter: daysFromNow(60) });
  expiredPort = await serve({ sans: ['forgetrace.test'], notBefore: daysFromNow(-90), notAfter: daysFromNow(-2.5) });
  soonPort = await serve({ sans: ['forgetrace.test'], notBefore: daysFromNow(-1), notAfter: daysFromNow(15) });
});

afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await tmp.cleanup();
});

describe('no certificate to judge', () => {
  it('names plain HTTP on the TLS port', async () => {
    const plain = await httpServer((_req, res) => res.end('hello'));
    closers.push(() => plain.close());
    const result = await tlsCheck('127.0.0.1', plain.port);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['handshake_failed']);
    expect(result.reason).toMatch(/TLS handshake failed on 127\.0\.0\.1:\d+: the port answers plain HTTP/);
    expect(result.hint).toMatch(/listen 443 ssl/);
  });

  it('times out on a server that accepts and never speaks, naming the phase', async () => {
    const silent = await listen(net.createServer(() => undefined));
    closers.push(() => silent.close());
    const result = await tlsCheck('127.0.0.1', silent.port);
    expect(result.status).toBe('fail');
    expect(result.details).toMatchObject({ problems: ['timeout'], phase: 'tls handshake' });
    expect(result.reason).toBe('timeout after 500ms in the TLS handshake');
    expect(result.hint).toMatch(/never completed a TLS handshake/);
  });

  it('names a refused connection', async () => {
    const result = await tlsCheck('127.0.0.1', await freePort());
    expect(result.details.problems).toEqual(['refused']);
    expect(result.reason).toMatch(/ECONNREFUSED/);
    expect(result.hint).toMatch(/Nothing is listening/);
  });

  it('names a host that does not resolve', async () => {
    const result = await tlsCheck('no-such-host.invalid', 443);
    expect(result.details.problems).toEqual(['dns']);
    expect(result.reason).toMatch(/^dns: cannot resolve no-such-host\.invalid/);
    expect(result.hint).toMatch(/DNS record/);
  });

  it('names an unreadable ca_file', async () => {
    const result = await runCheck(
      `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${goodPort}\nca_file: ${tmp.dir}/missing.pem`,
    ).then((r) => r.result);
    expect(result.details.problems).toEqual(['file_unreadable']);
    expect(result.reason).toMatch(/cannot read ca_file .*missing\.pem: ENOENT/);
    expect(result.hint).toMatch(/path/);
  });
});

describe('https:// in an http check', () => {
  it('reports the same certificate details as the tls check', async () => {
    const result = await httpsCheck(goodPort, ', names: [forgetrace.test, www.forgetrace.test]');
    expect(result.status).toBe('ok');
    expect(result.details.tls).toMatchObject({
      days_left: 59,
      names_covered: ['forgetrace.test', 'www.forgetrace.test'],
      protocol: 'TLSv1.3',
      alpn: 'http/1.1',
      problems: [],
    });
    expect(result.observations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          metric: 'forgewatch_tls_cert_not_after_timestamp_seconds',
          labels: { cert: 'leaf' },
        }),
      ]),
    );
  });

  it('fails with the certificate reason and hint, and still reports the details', async () => {
    const result = await httpsCheck(expiredPort);
    expect(result.status).toBe('fail');
    expect(result.reason).toMatch(/^certificate expired 2d1[12]h ago/);
    expect(result.hint).toMatch(/certbot renew/);
    expect(result.details.tls).toMatchObject({ days_left: -3, problems: ['expired'] });
  });

  it('fails on a name the certificate does not cover', async () => {
    const result = await httpsCheck(goodPort, ', names: [api.forgetrace.test]');
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('api.forgetrace.test is not in the SANs [forgetrace.test, www.forgetrace.test]');
  });

  it('passes a bad certificate with insecure: true', async () => {
    const result = await httpsCheck(expiredPort, ', insecure: true');
    expect(result.status).toBe('ok');
    expect(result.details.status_code).toBe(200);
    expect(result.details.tls).toMatchObject({ problems: ['expired'] });
  });

  it('warns when the certificate expires within warn_before', async () => {
    const result = await httpsCheck(soonPort, ', warn_before: 21d, fail_before: 7d');
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(
      /^status 200 in \S+, but certificate expires in 1[45]d\S* \(.*\), within warn_before 21d$/,
    );
  });
});

describe('metrics', () => {
  it('exports the certificate as absolute timestamps and 0/1 gauges', async () => {
    const fw = await startForgewatch(
      `checks:\n  - name: cert-site\n    type: tls\n    host: 127.0.0.1\n    port: ${goodPort}\n    server_name: forgetrace.test\n    names: [forgetrace.test, api.forgetrace.test]\n    ca_file: ${caFile}\n    interval: 1h\n`,
    );
    closers.push(() => fw.close());
    const check = (await (await fetch(`${fw.url}/check?name=cert-site`)).json()) as {
      checks: Array<{ details: { leaf: { not_after: string; not_before: string; serial: string } } }>;
    };
    const leaf = check.checks[0]?.details.leaf;
    expect(leaf).toBeDefined();
    const text = await (await fetch(`${fw.url}/metrics`)).text();
    const notAfter = Date.parse(leaf?.not_after ?? '') / 1000;
    expect(text).toContain(
      `forgewatch_tls_cert_not_after_timestamp_seconds{check="cert-site",cert="leaf"} ${notAfter}`,
    );
    expect(text).toContain(
      `forgewatch_tls_cert_not_after_timestamp_seconds{check="cert-site",cert="chain_min"} ${notAfter}`,
    );
    expect(text).toContain(
      `forgewatch_tls_cert_not_before_timestamp_seconds{check="cert-site"} ${Date.parse(leaf?.not_before ?? '') / 1000}`,
    );
    expect(text).toContain('forgewatch_tls_name_covered{check="cert-site",name="forgetrace.test"} 1');
    expect(text).toContain('forgewatch_tls_name_covered{check="cert-site",name="api.forgetrace.test"} 0');
    expect(text).toContain('forgewatch_tls_version_info{check="cert-site",version="TLSv1.3"} 1');
    expect(text).toMatch(
      new RegExp(
        `forgewatch_tls_cert_info\\{check="cert-site",subject="CN=forgetrace.test",issuer="CN=Connect Test Intermediate",serial="${leaf?.serial}",fingerprint_sha256="[0-9A-F:]+"\\} 1`,
      ),
    );
  });
});

describe('config', () => {
  const parse = (body: string) => () =>
    parseConfig(`checks:\n  - name: c\n    type: tls\n    host: a.test\n${body}`, '/etc/forgewatch.yaml');

  it('takes durations and lifetime shares, and rejects anything else with its position', () => {
    expect(parse('    warn_before: 33%\n    fail_before: 10%\n')).not.toThrow();
    expect(parse('    warn_before: 3 weeks\n')).toThrow(
      /forgewatch\.yaml:5:18 checks\[0\] \([a-z0-9_.-]+\)\.warn_before: expected a time before expiry such as 21d, or a share of the lifetime/,
    );
    expect(parse('    warn_before: 150%\n')).toThrow(/checks\[0\] \([a-z0-9_.-]+\)\.warn_before/);
    expect(parse('    warn_before: 7d\n    fail_before: 21d\n')).toThrow(
      /checks\[0\] \([a-z0-9_.-]+\)\.fail_before: fail_before must be shorter than warn_before/,
    );
    expect(parse('    names: ["bad name"]\n')).toThrow(
      /checks\[0\] \([a-z0-9_.-]+\)\.names\[0\]: expected a host name/,
    );
    expect(parse('    port: 70000\n')).toThrow(/checks\[0\] \([a-z0-9_.-]+\)\.port/);
  });
});
