/** Failed TLS handshakes in plain words: what the port speaks instead, which alert the server raised, a hang-up. */
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import { startNginx, tlsServerBlock, type RunningNginx } from './helpers/nginx.js';
import { chainPem, createIntermediateCa, createLeaf, createRootCa, writePem, type Issued } from './helpers/pki.js';
import { freePort, httpServer, listen } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

const tmp = tempDir('forgewatch-tls-errors-');
const closers: Array<() => Promise<void>> = [];
let intermediate: Issued;
let leaf: Issued;
let caFile: string;

/** Anything OpenSSL's raw error text would leave in a reason. */
const OPENSSL_NOISE = /error:0A|SSL routines|\.c:\d|deps\/openssl/;

function tlsCheck(port: number, extra = ''): Promise<ProbeResult> {
  return runCheck(
    `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${port}\nserver_name: forgetrace.test\nca_file: ${caFile}\ntimeout: 3s\n${extra}`,
  ).then((r) => r.result);
}

function httpsCheck(port: number): Promise<ProbeResult> {
  return runCheck(
    `name: site\ntype: http\nurl: https://127.0.0.1:${port}/\ntimeout: 3s\ntls: { ca_file: ${caFile}, server_name: forgetrace.test }`,
  ).then((r) => r.result);
}

async function serveTcp(onConnection: (s: net.Socket) => void): Promise<number> {
  const server = await listen(
    net.createServer((s) => {
      s.on('error', () => undefined);
      onConnection(s);
    }),
  );
  closers.push(() => server.close());
  return server.port;
}

async function serveTls(
  options: tls.TlsOptions,
  chain = chainPem(leaf, intermediate),
  key = leaf.key,
): Promise<number> {
  const server = await listen(
    tls.createServer({ cert: chain, key, ...options }, (s) =>
      s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'),
    ),
  );
  server.server.on('tlsClientError', () => undefined);
  closers.push(() => server.close());
  return server.port;
}

beforeAll(async () => {
  const root = await createRootCa('Errors Test Root');
  intermediate = await createIntermediateCa(root, 'Errors Test Intermediate');
  leaf = await createLeaf(intermediate, { sans: ['forgetrace.test'] });
  caFile = writePem(tmp.dir, 'ca.pem', root.cert);
});

afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await tmp.cleanup();
});

describe('a port that does not speak TLS', () => {
  it('tells an SSH banner from plain HTTP, and quotes it', async () => {
    const port = await serveTcp((s) => s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    const result = await tlsCheck(port);
    expect(result.status).toBe('fail');
    expect(result.details.problems).toEqual(['handshake_failed']);
    expect(result.reason).toBe(
      `TLS handshake failed on 127.0.0.1:${port}: the port does not speak TLS (plain text or another protocol; it sent "SSH-2.0-OpenSSH_9.2p1 Debian-2")`,
    );
    expect(result.hint).toMatch(/ss -tlnp/);
    expect(result.hint).not.toMatch(/plain-HTTP/);
  });

  it('shows the first bytes of a binary answer', async () => {
    const port = await serveTcp((s) =>
      s.once('data', () => s.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42, 0x01, 0x02, 0x03, 0x04, 0x05]))),
    );
    const result = await tlsCheck(port);
    expect(result.reason).toBe(
      `TLS handshake failed on 127.0.0.1:${port}: the port does not speak TLS (plain text or another protocol; its first bytes: 00 ff 13 37 42 01 02 03)`,
    );
    expect(result.details.problems).toEqual(['handshake_failed']);
  });

  it('still names plain HTTP, in an https:// http check too', async () => {
    const plain = await httpServer((_req, res) => res.end('hello'));
    closers.push(() => plain.close());
    const result = await httpsCheck(plain.port);
    expect(result.status).toBe('fail');
    expect(result.reason).toBe(`TLS handshake failed on 127.0.0.1:${plain.port}: the port answers plain HTTP, not TLS`);
    expect(result.hint).toMatch(/listen 443 ssl/);
  });
});

describe('alerts from the server, in plain words', () => {
  let nginx: RunningNginx;
  let nginxPort: number;

  beforeAll(async () => {
    nginxPort = await freePort();
    const certFile = writePem(tmp.dir, 'fullchain.pem', chainPem(leaf, intermediate));
    const keyFile = writePem(tmp.dir, 'privkey.pem', leaf.key);
    nginx = await startNginx({
      dir: path.join(tmp.dir),
      http: [
        `  server {\n    listen 127.0.0.1:${nginxPort} ssl default_server;\n    ssl_reject_handshake on;\n  }`,
        tlsServerBlock({ port: nginxPort, certFile, keyFile, serverName: 'forgetrace.test' }),
      ].join('\n'),
    });
    closers.push(() => nginx.stop());
  });

  it('names an SNI name nginx has no certificate for (ssl_reject_handshake)', async () => {
    const good = await tlsCheck(nginxPort);
    expect(good.status, good.reason).toBe('ok');
    const other = await runCheck(
      `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${nginxPort}\nserver_name: other.test\nca_file: ${caFile}\ntimeout: 3s`,
    ).then((r) => r.result);
    expect(other.status).toBe('fail');
    expect(other.details.problems).toEqual(['handshake_failed']);
    expect(other.reason).toBe(
      `TLS handshake failed on 127.0.0.1:${nginxPort}: the server has no certificate for the name other.test and refused the handshake (unrecognized_name alert)`,
    );
    expect(other.hint).toMatch(/ssl_reject_handshake/);
    const noSni = await runCheck(
      `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${nginxPort}\nnames: [forgetrace.test]\nca_file: ${caFile}\ntimeout: 3s`,
    ).then((r) => r.result);
    expect(noSni.reason).toMatch(/refused a handshake without a server name \(unrecognized_name alert\)$/);
    expect(noSni.hint).toMatch(/set server_name/);
  });

  it('names a handshake_failure alert (no cipher in common)', async () => {
    // An ECDSA certificate with RSA-only cipher suites: the server can choose none of them.
    const port = await serveTls({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA' });
    const result = await tlsCheck(port);
    expect(result.details.problems).toEqual(['handshake_failed']);
    expect(result.reason).toMatch(/: the server refused the handshake \(handshake_failure alert 40\)/);
    expect(result.reason).not.toMatch(OPENSSL_NOISE);
    expect(result.hint).toMatch(/ssl_ciphers/);
  });

  it('names a server that only speaks an old TLS version', async () => {
    const port = await serveTls({ minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    const result = await tlsCheck(port);
    expect(result.reason).toMatch(/: no TLS version in common \(protocol_version\)/);
    expect(result.reason).not.toMatch(OPENSSL_NOISE);
    expect(result.hint).toMatch(/TLSv1\.2 TLSv1\.3/);
  });

  it('names a server that wants a client certificate', async () => {
    const port = await serveTls({ requestCert: true, rejectUnauthorized: true, ca: [intermediate.cert] });
    const result = await httpsCheck(port);
    expect(result.status).toBe('fail');
    expect(result.reason).toMatch(/: the server requires a client certificate \(certificate_required alert\)$/);
    expect(result.hint).toMatch(/ssl_verify_client/);
  });

  it('names a handshake message too large to accept', async () => {
    const huge = await createLeaf(intermediate, {
      sans: [
        'forgetrace.test',
        ...Array.from({ length: 4000 }, (_, i) => `host-${i}.a-rather-long-subdomain-label.forgetrace.test`),
      ],
    });
    const port = await serveTls({}, chainPem(huge, intermediate), huge.key);
    const result = await tlsCheck(port);
    expect(result.reason).toMatch(
      /: the server sent a handshake message larger than clients accept \(excessive message size\)$/,
    );
    expect(result.hint).toMatch(/CA bundle/);
  });

  it('strips OpenSSL boilerplate from any other alert', async () => {
    // A fatal internal_error alert (TLS 1.2 record: type 21, version 3.3, length 2, level 2, description 80).
    const port = await serveTcp((s) =>
      s.once('data', () => s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50]))),
    );
    const result = await tlsCheck(port);
    expect(result.details.problems).toEqual(['handshake_failed']);
    expect(result.reason).toBe(
      `TLS handshake failed on 127.0.0.1:${port}: tlsv1 alert internal error (ssl alert number 80)`,
    );
    expect(result.hint).toBe(
      'The TLS handshake did not complete: the server may have no certificate for this name (SNI) or supports no common protocol version.',
    );
  });
});

describe('a server that hangs up', () => {
  it.each([
    ['resets right after accepting', (s: net.Socket) => s.resetAndDestroy()],
    ['closes right after accepting', (s: net.Socket) => s.end()],
    ['closes on the ClientHello', (s: net.Socket) => s.once('data', () => s.destroy())],
  ])('%s: always handshake_failed, with a TLS hint', async (_label, behave) => {
    const port = await serveTcp(behave);
    for (let i = 0; i < 5; i++) {
      const result = await tlsCheck(port);
      expect(result.details.problems).toEqual(['handshake_failed']);
      expect(result.details.phase).toBe('tls handshake');
      expect(result.reason).toBe(
        `TLS handshake failed on 127.0.0.1:${port}: connection closed during the TLS handshake`,
      );
      expect(result.hint).toMatch(/before the TLS handshake finished/);
      expect(result.hint).toContain(`openssl s_client -connect HOST:${port} -servername NAME`);
    }
    const viaHttp = await httpsCheck(port);
    expect(viaHttp.reason).toBe(
      `TLS handshake failed on 127.0.0.1:${port}: connection closed during the TLS handshake`,
    );
    expect(viaHttp.hint).not.toMatch(/mid-request/);
  });
});

describe('a certificate problem, with the fix in the hint', () => {
  /** The same server through a tls check and an https:// http check: both must name the problem and its fix. */
  async function both(port: number, serverName: string): Promise<ProbeResult[]> {
    const viaTls = await runCheck(
      `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${port}\nserver_name: ${serverName}\nca_file: ${caFile}\ntimeout: 3s`,
    );
    const viaHttp = await runCheck(
      `name: site\ntype: http\nurl: https://127.0.0.1:${port}/\ntimeout: 3s\ntls: { ca_file: ${caFile}, server_name: ${serverName} }`,
    );
    return [viaTls.result, viaHttp.result];
  }

  it('names the host missing from the SANs, and says to reissue with every name and reload', async () => {
    const port = await serveTls({});
    for (const result of await both(port, 'www.forgetrace.test')) {
      expect(result.status).toBe('fail');
      expect(result.reason).toBe('www.forgetrace.test is not in the SANs [forgetrace.test]');
      expect(result.hint).toMatch(
        /^Reissue the certificate with every name the server answers for \(certbot --expand /,
      );
      expect(result.hint).toMatch(/then reload the server\.$/);
    }
  });

  it('names the missing intermediate, and says to serve fullchain.pem and reload', async () => {
    const port = await serveTls({}, leaf.cert);
    for (const result of await both(port, 'forgetrace.test')) {
      expect(result.status).toBe('fail');
      expect(result.reason).toBe(
        "incomplete chain: the certificates sent do not include the leaf's issuer CN=Errors Test Intermediate",
      );
      expect(result.hint).toMatch(/^The intermediate certificate is missing: /);
      expect(result.hint).toContain('point the server at fullchain.pem instead of cert.pem (nginx ssl_certificate)');
    }
  });

  it('says nothing listens when the TLS port refuses, naming the port to look at', async () => {
    const port = await freePort();
    const result = await tlsCheck(port);
    expect(result.reason).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(result.hint).toContain(`Nothing is listening on 127.0.0.1:${port}.`);
    expect(result.hint).toContain(`ss -tlnp | grep :${port}`);
  });
});
