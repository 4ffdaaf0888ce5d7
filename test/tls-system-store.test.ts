/** The system CA bundle ($SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt) is trusted like Node's own roots. */
import type https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, ProbeResult } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import { chainPem, createIntermediateCa, createLeaf, createRootCa, serveHttps, writePem } from './helpers/pki.js';
import type { Started } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

const tmp = tempDir('forgewatch-system-store-');
const previous = process.env.SSL_CERT_FILE;
let server: Started<https.Server>;
let withLocalCa: string;
let withoutLocalCa: string;

function checks(): Promise<ProbeResult[]> {
  return Promise.all([
    runCheck(`name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${server.port}\nserver_name: forgetrace.test`).then(
      (r) => r.result,
    ),
    runCheck(
      `name: site\ntype: http\nurl: https://127.0.0.1:${server.port}/\ntls: { server_name: forgetrace.test }`,
    ).then((r) => r.result),
  ]);
}

beforeAll(async () => {
  // What update-ca-certificates does with a company CA: append it to the system bundle.
  const localRoot = await createRootCa('Local Company Root');
  const otherRoot = await createRootCa('Some Other Root');
  const intermediate = await createIntermediateCa(localRoot, 'Local Company Intermediate');
  const leaf = await createLeaf(intermediate, { sans: ['forgetrace.test'] });
  server = await serveHttps(chainPem(leaf, intermediate), leaf.key);
  withLocalCa = writePem(tmp.dir, 'ca-certificates.crt', chainPem(otherRoot, localRoot));
  withoutLocalCa = writePem(tmp.dir, 'other.crt', otherRoot.cert);
});

afterAll(async () => {
  if (previous === undefined) delete process.env.SSL_CERT_FILE;
  else process.env.SSL_CERT_FILE = previous;
  await server.close();
  await tmp.cleanup();
});

describe('system trust store', () => {
  it("trusts a CA from the system bundle, in forgewatch's verdict and in OpenSSL's", async () => {
    process.env.SSL_CERT_FILE = withLocalCa;
    const [tls, http] = await checks();
    expect(tls?.status, tls?.reason).toBe('ok');
    expect(tls?.details.problems).toEqual([]);
    expect((tls?.details.chain as JsonObject[]).at(-1)).toMatchObject({
      subject: 'CN=Local Company Root',
      trusted: true,
    });
    expect(http?.status, http?.reason).toBe('ok');
  });

  it('does not trust it when the bundle lacks it', async () => {
    process.env.SSL_CERT_FILE = withoutLocalCa;
    const [tls, http] = await checks();
    expect(tls?.details.problems).toEqual(['untrusted']);
    expect(http?.status).toBe('fail');
    expect(http?.reason).toMatch(
      /Local Company Intermediate, issued by CN=Local Company Root, which is not a trusted root/,
    );
  });
});
