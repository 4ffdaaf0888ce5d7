/** Certificate edge cases: SAN entries of other kinds, IPv6 SANs, SNI rules, chains too long, and the closed set of problems. */
import type https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { connectTls } from '../src/tls/handshake.js';
import { HINTS, PROBLEM_CODES } from '../src/tls/findings.js';
import { runCheck } from './helpers/checks.js';
import {
  chainPem,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  serveHttps,
  writePem,
  type CertOptions,
  type Issued,
} from './helpers/pki.js';
import type { Started } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

const tmp = tempDir('forgewatch-tls-edge-');
const servers: Started<https.Server>[] = [];
let root: Issued;
let intermediate: Issued;
let caFile: string;

async function serveLeaf(opts: CertOptions): Promise<Started<https.Server>> {
  const leaf = await createLeaf(intermediate, opts);
  const server = await serveHttps(chainPem(leaf, intermediate), leaf.key);
  servers.push(server);
  return server;
}

beforeAll(async () => {
  root = await createRootCa('Edge Test Root');
  intermediate = await createIntermediateCa(root, 'Edge Test Intermediate');
  caFile = writePem(tmp.dir, 'ca.pem', root.cert);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await tmp.cleanup();
});

describe('subject alternative names', () => {
  it('never reads a DNS name out of a URI or email entry', async () => {
    const server = await serveLeaf({
      sans: ['URI:http://x/a DNS:evil.test', 'email:a@b.test, DNS:evil2.test', 'forgetrace.test'],
    });
    const result = (
      await runCheck(
        `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test\nnames: [forgetrace.test, evil.test, evil2.test]\nca_file: ${caFile}`,
      )
    ).result;
    expect(result.details).toMatchObject({
      sans: ['forgetrace.test'],
      names_covered: ['forgetrace.test'],
      names_missing: ['evil.test', 'evil2.test'],
    });
    expect(result.reason).toBe('evil.test, evil2.test are not in the SANs [forgetrace.test]');
  });

  it('prints IPv6 SANs the short way, IPv4-mapped ones dotted, and matches them by value', async () => {
    const server = await serveLeaf({ sans: ['forgetrace.test', '::1', '2001:db8:0:0:1:0:0:7', '::ffff:192.0.2.1'] });
    const result = (
      await runCheck(
        `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test\nnames: ['0:0:0:0:0:0:0:1', '[2001:db8::1:0:0:7]', '::ffff:c000:201']\nca_file: ${caFile}`,
      )
    ).result;
    expect(result.details.sans).toEqual(['forgetrace.test', '::1', '2001:db8::1:0:0:7', '::ffff:192.0.2.1']);
    expect(result.details.names_missing).toEqual([]);
    expect(result.status).toBe('ok');
  });
});

describe('SNI', () => {
  it('sends no SNI (and no DEP0123 warning) when the name given is an IP address', async () => {
    const server = await serveLeaf({ sans: ['127.0.0.1'] });
    const names: Array<string | false> = [];
    server.server.removeAllListeners('request');
    server.server.on(
      'request',
      (req: { socket: { servername?: string | false } }, res: { end(body: string): void }) => {
        names.push(req.socket.servername ?? false);
        res.end('ok');
      },
    );
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
    process.on('warning', onWarning);
    try {
      const connection = await connectTls({
        host: '127.0.0.1',
        port: server.port,
        servername: '127.0.0.1',
        signal: AbortSignal.timeout(3_000),
      });
      const answered = new Promise((resolve) => connection.socket.once('data', resolve));
      connection.socket.write('GET / HTTP/1.0\r\n\r\n');
      await answered;
      connection.socket.destroy();
      const viaHttp = await runCheck(
        `name: site\ntype: http\nurl: https://127.0.0.1:${server.port}/\ntls: { ca_file: ${caFile} }`,
      );
      expect(viaHttp.result.status, viaHttp.result.reason).toBe('ok');
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(names).toEqual([false, false]);
    expect(warnings).not.toContain('DEP0123');
  });

  it('refuses an IP address as server_name in the config, in tls and http checks', () => {
    const tlsYaml = 'checks:\n  - name: c\n    type: tls\n    host: 127.0.0.1\n    server_name: 127.0.0.1\n';
    expect(() => parseConfig(tlsYaml, '/etc/forgewatch.yaml')).toThrow(
      /forgewatch\.yaml:5:18 checks\[0\] \([a-z0-9_.-]+\)\.server_name: SNI must be a DNS name, not an IP address, got "127\.0\.0\.1": leave server_name out/,
    );
    const httpYaml = 'checks:\n  - name: c\n    type: http\n    url: https://[::1]/\n    tls: { server_name: "::1" }\n';
    expect(() => parseConfig(httpYaml, '/etc/forgewatch.yaml')).toThrow(
      /checks\[0\] \([a-z0-9_.-]+\)\.tls\.server_name: SNI must be a DNS name/,
    );
    expect(() =>
      parseConfig('checks:\n  - name: c\n    type: tls\n    host: a.test\n    server_name: "bad name"\n', 'f.yaml'),
    ).toThrow(/server_name: expected a DNS name/);
  });
});

describe('config: empty lists', () => {
  it.each([
    [
      'tls',
      '    host: a.test\n    names: []\n',
      /checks\[0\] \([a-z0-9_.-]+\)\.names: names is an empty list: list at least one name/,
    ],
    ['cert_file', '    path: /x.pem\n    names: []\n', /checks\[0\] \([a-z0-9_.-]+\)\.names: names is an empty list/],
    [
      'http',
      '    url: https://a.test/\n    tls: { names: [] }\n',
      /checks\[0\] \([a-z0-9_.-]+\)\.tls\.names: names is an empty list/,
    ],
    [
      'dns',
      '    host: a.test\n    expect: []\n',
      /checks\[0\] \([a-z0-9_.-]+\)\.expect: expect is an empty list: list the answers/,
    ],
  ])('%s: says what an empty list means', (type, body, message) => {
    const run = () => parseConfig(`checks:\n  - name: c\n    type: ${type}\n${body}`, 'f.yaml');
    expect(run).toThrow(message);
    expect(run).not.toThrow(/got a list/);
  });
});

describe('chains', () => {
  it('says a chain longer than forgewatch follows was truncated, instead of untrusted "ends at"', async () => {
    let issuer = await createIntermediateCa(root, 'Deep 1', { pathLength: 20 });
    const intermediates = [issuer];
    for (let i = 2; i <= 12; i++) {
      issuer = await createIntermediateCa(issuer, `Deep ${i}`, { pathLength: 20 });
      intermediates.push(issuer);
    }
    const leaf = await createLeaf(issuer, { sans: ['forgetrace.test'] });
    const server = await serveHttps(chainPem(leaf, ...intermediates.reverse()), leaf.key);
    servers.push(server);
    const result = (
      await runCheck(
        `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test\nca_file: ${caFile}`,
      )
    ).result;
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['untrusted']);
    expect(result.reason).toBe(
      'the chain was truncated at 10 certificates without reaching a trusted root (it goes on above CN=Deep 4)',
    );
    expect(result.hint).toMatch(/CA bundle/);
  });

  async function checkServing(...certs: Issued[]) {
    const server = await serveHttps(chainPem(...certs), (certs[0] as Issued).key);
    servers.push(server);
    const config = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test\nca_file: ${caFile}`;
    return (await runCheck(config)).result;
  }

  it("fails with OpenSSL's verdict when the chain links but OpenSSL rejects it (an intermediate that is no CA)", async () => {
    const notCa = await createIntermediateCa(root, 'Not A CA', { ca: false });
    const result = await checkServing(await createLeaf(notCa, { sans: ['forgetrace.test'] }), notCa);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['untrusted']);
    expect(result.reason).toBe('OpenSSL rejects the chain: INVALID_PURPOSE');
  });

  it('lists the chain as linked up to the root, leaving out a certificate sent that plays no part', async () => {
    const stray = await createRootCa('Stray Root');
    const leaf = await createLeaf(intermediate, { sans: ['forgetrace.test'] });
    const result = await checkServing(leaf, stray, intermediate);
    expect(result.status, result.reason).toBe('ok');
    const chain = result.details.chain as { subject: string; trusted: boolean }[];
    expect(chain.map((c) => [c.subject, c.trusted])).toEqual([
      ['CN=forgetrace.test', true],
      ['CN=Edge Test Intermediate', true],
      ['CN=Edge Test Root', true],
    ]);
  });
});

describe('the closed set of problems', () => {
  it.each(PROBLEM_CODES.map((code) => [code]))('%s has a hint that names the fix', (code) => {
    expect(HINTS[code].trim().length).toBeGreaterThan(20);
  });

  it('lists every code that has a hint', () => {
    expect([...PROBLEM_CODES].sort()).toEqual(Object.keys(HINTS).sort());
  });
});
