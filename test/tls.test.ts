/** The tls check against real TLS servers on 127.0.0.1 presenting certificates this file issues. */
import { X509Certificate } from 'node:crypto';
import type https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, ProbeResult } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import {
  chainPem,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  createSelfSignedLeaf,
  daysFromNow,
  serveHttps,
  writePem,
  type CertOptions,
  type Issued,
} from './helpers/pki.js';
import type { Started } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

// X.509 keeps whole seconds: an extra half hour keeps the durations in reasons away from unit boundaries.
const HALF_HOUR = 1 / 48;
const NAMES = ['forgetrace.test', 'www.forgetrace.test', 'api.forgetrace.test'];
const servers: Started<https.Server>[] = [];
const tmp = tempDir('forgewatch-tls-');
let root: Issued;
let intermediate: Issued;
let caFile: string;

async function serveLeaf(
  opts: CertOptions,
  chain: (leaf: Issued) => Issued[] = (leaf) => [leaf, intermediate],
): Promise<{ port: number; leaf: Issued }> {
  const leaf = await createLeaf(intermediate, opts);
  const server = await serveHttps(chainPem(...chain(leaf)), leaf.key);
  servers.push(server);
  return { port: server.port, leaf };
}

async function tlsCheck(port: number, extra = ''): Promise<ProbeResult> {
  const yaml = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${port}\nserver_name: forgetrace.test\nca_file: ${caFile}\ntimeout: 3s\n${extra}`;
  return (await runCheck(yaml)).result;
}

function leafOf(result: ProbeResult): JsonObject {
  return result.details.leaf as JsonObject;
}

beforeAll(async () => {
  root = await createRootCa('Forgewatch Test Root');
  intermediate = await createIntermediateCa(root, 'Forgewatch Test Intermediate');
  caFile = writePem(tmp.dir, 'ca.pem', root.cert);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await tmp.cleanup();
});

describe('a good certificate', () => {
  it('passes and reports the leaf, the chain and the connection', async () => {
    const { port, leaf } = await serveLeaf({ sans: NAMES, notAfter: daysFromNow(60.5) });
    const result = await tlsCheck(port, `names: [${NAMES.join(', ')}]`);
    expect(result.status).toBe('ok');
    expect(result.reason).toMatch(/valid for 60 days/);
    const d = result.details;
    expect(d.days_left).toBe(60);
    expect(d.names_covered).toEqual(NAMES);
    expect(d.names_missing).toEqual([]);
    expect(d.sans).toEqual(NAMES);
    expect(d.problems).toEqual([]);
    expect(leafOf(result)).toMatchObject({
      subject: 'CN=forgetrace.test',
      issuer: 'CN=Forgewatch Test Intermediate',
      key_type: 'ec',
      key_bits: 256,
      signature_algorithm: 'ecdsa-with-SHA256',
    });
    expect(leafOf(result).fingerprint_sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(leafOf(result).not_after).toBe(new Date(Date.parse(new X509Certificate(leaf.cert).validTo)).toISOString());
    expect(d.chain).toEqual([
      expect.objectContaining({
        subject: 'CN=forgetrace.test',
        issuer: 'CN=Forgewatch Test Intermediate',
        trusted: true,
      }),
      expect.objectContaining({
        subject: 'CN=Forgewatch Test Intermediate',
        issuer: 'CN=Forgewatch Test Root',
        trusted: true,
      }),
      expect.objectContaining({ subject: 'CN=Forgewatch Test Root', trusted: true }),
    ]);
    expect(d).toMatchObject({ protocol: 'TLSv1.3', alpn: 'http/1.1', ocsp_stapled: false });
    expect(typeof d.cipher).toBe('string');
    expect(result.timings).toEqual(
      expect.objectContaining({
        dns: expect.any(Number),
        connect: expect.any(Number),
        tls: expect.any(Number),
        total: expect.any(Number),
      }),
    );
  });

  it('says whether the server stapled an OCSP response', async () => {
    const leaf = await createLeaf(intermediate, { sans: NAMES });
    const server = await serveHttps(chainPem(leaf, intermediate), leaf.key);
    servers.push(server);
    server.server.on(
      'OCSPRequest',
      (_cert: Buffer, _issuer: Buffer, reply: (err: Error | null, response?: Buffer) => void) =>
        reply(null, Buffer.from('stapled response')),
    );
    const result = await tlsCheck(server.port);
    expect(result.details.ocsp_stapled).toBe(true);
  });

  it('is untrusted without the private root in ca_file, even though the handshake completes', async () => {
    const { port } = await serveLeaf({ sans: NAMES });
    const yaml = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${port}\nserver_name: forgetrace.test\ntimeout: 3s\n`;
    const result = (await runCheck(yaml)).result;
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['untrusted']);
    expect(result.reason).toBe(
      'the chain ends at CN=Forgewatch Test Intermediate, issued by CN=Forgewatch Test Root, which is not a trusted root',
    );
    expect(result.hint).toMatch(/ca_file/);
    expect(result.details.days_left).toBeGreaterThan(50);
  });
});

describe('names', () => {
  it('fails when the apex is missing from the SANs, naming it and the SANs', async () => {
    const { port } = await serveLeaf({ sans: ['www.forgetrace.test', 'api.forgetrace.test'] });
    const result = await tlsCheck(port, `names: [${NAMES.join(', ')}]`);
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('forgetrace.test is not in the SANs [www.forgetrace.test, api.forgetrace.test]');
    expect(result.hint).toMatch(/certbot --expand/);
    expect(result.details).toMatchObject({
      names_covered: ['www.forgetrace.test', 'api.forgetrace.test'],
      names_missing: ['forgetrace.test'],
      problems: ['name_not_covered'],
    });
  });

  it('defaults names to server_name', async () => {
    const { port } = await serveLeaf({ sans: ['www.forgetrace.test'] });
    const result = await tlsCheck(port);
    expect(result.details.names_missing).toEqual(['forgetrace.test']);
  });

  it('applies RFC 6125 wildcard rules: one label, never the bare domain', async () => {
    const { port } = await serveLeaf({ sans: ['*.forgetrace.test'] });
    const covered = await tlsCheck(port, 'names: [x.forgetrace.test, WWW.forgetrace.test.]');
    expect(covered.status).toBe('ok');
    const apex = await tlsCheck(port, 'names: [forgetrace.test, y.x.forgetrace.test]');
    expect(apex.status).toBe('fail');
    expect(apex.details.names_missing).toEqual(['forgetrace.test', 'y.x.forgetrace.test']);
    expect(apex.reason).toBe('forgetrace.test, y.x.forgetrace.test are not in the SANs [*.forgetrace.test]');
  });

  it('checks an IP address against the IP SANs when the host is an address', async () => {
    const { port } = await serveLeaf({ sans: ['127.0.0.1'], cn: 'ip-only' });
    const yaml = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${port}\nca_file: ${caFile}\n`;
    const result = (await runCheck(yaml)).result;
    expect(result.status).toBe('ok');
    expect(result.details).toMatchObject({ names_covered: ['127.0.0.1'], sans: ['127.0.0.1'], server_name: null });
    const dnsOnly = await tlsCheck(port, 'names: [127.0.0.2]');
    expect(dnsOnly.details.names_missing).toEqual(['127.0.0.2']);
  });
});

describe('validity', () => {
  it('fails an expired certificate with all its details (expired is not down)', async () => {
    const { port } = await serveLeaf({
      sans: NAMES,
      notBefore: daysFromNow(-93),
      notAfter: daysFromNow(-3.5 - HALF_HOUR),
    });
    const result = await tlsCheck(port);
    expect(result.status).toBe('fail');
    expect(result.reason).toMatch(/^certificate expired 3d12h ago \(not_after /);
    expect(result.hint).toMatch(/certbot renew/);
    expect(result.details.days_left).toBe(-4);
    expect(result.details.problems).toEqual(['expired']);
    expect(leafOf(result).subject).toBe('CN=forgetrace.test');
  });

  it('fails a certificate that is not valid yet', async () => {
    const { port } = await serveLeaf({
      sans: NAMES,
      notBefore: daysFromNow(2.5 + HALF_HOUR),
      notAfter: daysFromNow(92),
    });
    const result = await tlsCheck(port);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['not_yet_valid']);
    expect(result.reason).toMatch(/^certificate not valid until .* \(in 2d12h\)$/);
    expect(result.hint).toMatch(/clock|NTP/);
  });

  it('fails within fail_before and says renewal is overdue', async () => {
    const { port } = await serveLeaf({
      sans: NAMES,
      notBefore: daysFromNow(-85),
      notAfter: daysFromNow(5.5 + HALF_HOUR),
    });
    const result = await tlsCheck(port, 'warn_before: 21d\nfail_before: 7d');
    expect(result.status).toBe('fail');
    expect(result.reason).toMatch(
      /^certificate expires in 5d12h \(.*\), within fail_before 7d \(also: renewal_overdue\)$/,
    );
    expect(result.details.problems).toEqual(['expires_soon', 'renewal_overdue']);
    expect(result.details.days_left).toBe(5);
    expect(result.hint).toMatch(/^Renew the certificate now/);
  });

  it('warns within warn_before', async () => {
    const { port } = await serveLeaf({ sans: NAMES, notBefore: daysFromNow(-1), notAfter: daysFromNow(15) });
    const result = await tlsCheck(port, 'warn_before: 21d\nfail_before: 7d');
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(/within warn_before 21d$/);
    expect(result.details.problems).toEqual(['expires_soon']);
    expect(result.hint).toMatch(/Renew/);
  });

  it('warns renewal_overdue when less than a third of the lifetime is left, outside the windows', async () => {
    const { port } = await serveLeaf({
      sans: NAMES,
      notBefore: daysFromNow(-65),
      notAfter: daysFromNow(25.5 + HALF_HOUR),
    });
    const result = await tlsCheck(port, 'warn_before: 21d\nfail_before: 7d');
    expect(result.status).toBe('warn');
    expect(result.details.problems).toEqual(['renewal_overdue']);
    expect(result.reason).toMatch(/^renewal overdue: 25d12h of the certificate's 90d12h lifetime left/);
    expect(result.hint).toMatch(/systemctl list-timers/);
  });

  it('takes warn_before as a share of the lifetime', async () => {
    const { port } = await serveLeaf({ sans: NAMES, notBefore: daysFromNow(-50), notAfter: daysFromNow(40) });
    const share = await tlsCheck(port, 'warn_before: 50%\nfail_before: 10%');
    expect(share.status).toBe('warn');
    expect(share.reason).toMatch(/within warn_before 50% of the lifetime$/);
    expect((await tlsCheck(port, 'warn_before: 33%\nfail_before: 10%')).status).toBe('ok');
  });
});

describe('chains', () => {
  it('names the incomplete chain when the server sends the leaf without its intermediate', async () => {
    const { port } = await serveLeaf({ sans: NAMES }, (leaf) => [leaf]);
    const result = await tlsCheck(port);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['incomplete_chain']);
    expect(result.reason).toBe(
      "incomplete chain: the certificates sent do not include the leaf's issuer CN=Forgewatch Test Intermediate",
    );
    expect(result.hint).toMatch(/fullchain\.pem instead of cert\.pem/);
    expect(result.details.chain).toEqual([expect.objectContaining({ subject: 'CN=forgetrace.test', trusted: false })]);
  });

  it('names a self-signed certificate, and trusts it once pinned in ca_file', async () => {
    const self = await createSelfSignedLeaf({ sans: NAMES });
    const server = await serveHttps(self.cert, self.key);
    servers.push(server);
    const result = await tlsCheck(server.port);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['self_signed']);
    expect(result.reason).toBe('the certificate CN=forgetrace.test is self-signed and not in the trusted roots');
    expect(result.hint).toMatch(/self-signed/);
    const pinned = writePem(tmp.dir, 'pinned.pem', self.cert);
    const yaml = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test\nca_file: ${pinned}\n`;
    expect((await runCheck(yaml)).result.status).toBe('ok');
  });

  it('sees a ca_file rewritten between runs', async () => {
    const self = await createSelfSignedLeaf({ sans: NAMES });
    const server = await serveHttps(self.cert, self.key);
    servers.push(server);
    const anchors = writePem(tmp.dir, 'rewritten.pem', root.cert);
    const yaml = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test\nca_file: ${anchors}\n`;
    expect((await runCheck(yaml)).result.details.problems).toEqual(['self_signed']);
    writePem(tmp.dir, 'rewritten.pem', self.cert);
    expect((await runCheck(yaml)).result.status).toBe('ok');
    writePem(tmp.dir, 'rewritten.pem', root.cert);
    expect((await runCheck(yaml)).result.details.problems).toEqual(['self_signed']);
  });

  it('names a chain from a CA that is not trusted', async () => {
    const otherRoot = await createRootCa('Unknown Root');
    const otherIntermediate = await createIntermediateCa(otherRoot, 'Unknown Intermediate');
    const leaf = await createLeaf(otherIntermediate, { sans: NAMES });
    const server = await serveHttps(chainPem(leaf, otherIntermediate, otherRoot), leaf.key);
    servers.push(server);
    const result = await tlsCheck(server.port);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['untrusted']);
    expect(result.reason).toBe('the chain ends at the root CN=Unknown Root, which is not a trusted root');
    expect((result.details.chain as JsonObject[]).map((c) => c.trusted)).toEqual([false, false, false]);
  });
});

describe('issuer validity', () => {
  it('reports the earliest expiry in the chain and fails on an expired intermediate', async () => {
    const shortLived = await createIntermediateCa(root, 'Short-lived Intermediate', { notAfter: daysFromNow(40.5) });
    const leaf = await createLeaf(shortLived, { sans: NAMES, notAfter: daysFromNow(80) });
    const server = await serveHttps(chainPem(leaf, shortLived), leaf.key);
    servers.push(server);
    const result = await tlsCheck(server.port);
    expect(result.status).toBe('ok');
    const notAfter = (labels: string) =>
      result.observations.find(
        (o) => o.metric === 'forgewatch_tls_cert_not_after_timestamp_seconds' && o.labels?.cert === labels,
      )?.value;
    expect(notAfter('chain_min')).toBe(Date.parse(new X509Certificate(shortLived.cert).validTo) / 1000);
    expect(notAfter('leaf')).toBe(Date.parse(new X509Certificate(leaf.cert).validTo) / 1000);

    const expired = await createIntermediateCa(root, 'Expired Intermediate', {
      notBefore: daysFromNow(-400),
      notAfter: daysFromNow(-1.5),
    });
    const orphan = await createLeaf(expired, { sans: NAMES });
    const stale = await serveHttps(chainPem(orphan, expired), orphan.key);
    servers.push(stale);
    const failedResult = await tlsCheck(stale.port);
    expect(failedResult.status).toBe('fail');
    expect(failedResult.details.problems).toEqual(['expired']);
    expect(failedResult.reason).toMatch(/^issuer certificate CN=Expired Intermediate expired 1d1[12]h ago$/);
    expect(failedResult.hint).toMatch(/intermediate/);
  });
});

describe('weak certificates', () => {
  it('warns about an RSA key below 2048 bits', async () => {
    const { port } = await serveLeaf({ sans: NAMES, key: { kind: 'rsa', bits: 1024 } });
    const result = await tlsCheck(port);
    expect(result.status).toBe('warn');
    expect(result.details.problems).toEqual(['weak_key']);
    expect(result.reason).toBe('leaf key is RSA 1024 bits (below 2048)');
    expect(leafOf(result)).toMatchObject({ key_type: 'rsa', key_bits: 1024 });
    expect(result.hint).toMatch(/2048/);
  });

  it('warns about a SHA-1 signature', async () => {
    const { port } = await serveLeaf({ sans: NAMES, hash: 'SHA-1' });
    const result = await tlsCheck(port);
    expect(result.status).toBe('warn');
    expect(result.details.problems).toEqual(['weak_signature']);
    expect(leafOf(result).signature_algorithm).toBe('ecdsa-with-SHA1');
    expect(result.hint).toMatch(/SHA-1/);
  });
});

describe('served certificate versus the file on disk', () => {
  it('fails when the server still serves an older certificate than cert_file holds', async () => {
    const { port, leaf: served } = await serveLeaf({ sans: NAMES });
    const renewed = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(90) });
    const file = writePem(tmp.dir, 'fullchain.pem', chainPem(renewed, intermediate));
    const result = await tlsCheck(port, `cert_file: ${file}`);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['served_differs_from_file']);
    expect(result.reason).toMatch(
      new RegExp(`^the server serves serial ${new X509Certificate(served.cert).serialNumber.toUpperCase()}`),
    );
    expect(result.hint).toMatch(/nginx -s reload/);
    expect(result.details.served_matches_file).toBe(false);
    const same = writePem(tmp.dir, 'served.pem', chainPem(served, intermediate));
    expect((await tlsCheck(port, `cert_file: ${same}`)).details.served_matches_file).toBe(true);
    const missing = await tlsCheck(port, `cert_file: ${tmp.dir}/nope.pem`);
    expect(missing.details.problems).toEqual(['file_unreadable']);
    expect(missing.reason).toMatch(/ENOENT/);
    expect(missing.details.served_matches_file).toBeNull();
  });
});
