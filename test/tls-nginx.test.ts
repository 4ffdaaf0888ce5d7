/** Certificates served through a real nginx as the TLS terminator, watched by a running forgewatch. */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../src/checks/report.js';
import { startNginx, tlsServerBlock, type RunningNginx } from './helpers/nginx.js';
import {
  chainPem,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  daysFromNow,
  writePem,
  type Issued,
} from './helpers/pki.js';
import { freePort } from './helpers/servers.js';
import { startForgewatch, tempDir, type RunningForgewatch } from './helpers/service.js';

const NAMES = ['forgetrace.test', 'www.forgetrace.test', 'api.forgetrace.test'];
const tmp = tempDir('forgewatch-tls-nginx-');
const live = path.join(tmp.dir, 'live', 'forgetrace.test');
let intermediate: Issued;
let first: Issued;
let nginx: RunningNginx;
let fw: RunningForgewatch;

function installCertificate(leaf: Issued): void {
  // What certbot does on renewal: new files in live/, the server keeps the old ones in memory until reloaded.
  writeFileSync(path.join(live, 'fullchain.pem'), chainPem(leaf, intermediate));
  writeFileSync(path.join(live, 'privkey.pem'), leaf.key);
}

async function check(name: string): Promise<CheckReport['checks'][number]> {
  const report = (await (await fetch(`${fw.url}/check?name=${name}`)).json()) as CheckReport;
  return report.checks[0] as CheckReport['checks'][number];
}

beforeAll(async () => {
  const root = await createRootCa('Nginx Test Root');
  intermediate = await createIntermediateCa(root, 'Nginx Test Intermediate');
  first = await createLeaf(intermediate, { sans: NAMES, notBefore: daysFromNow(-50), notAfter: daysFromNow(40) });
  const wwwOnly = await createLeaf(intermediate, { sans: ['www.forgetrace.test', 'api.forgetrace.test'] });
  mkdirSync(live, { recursive: true });
  installCertificate(first);
  const caFile = writePem(tmp.dir, 'ca.pem', root.cert);
  const leafOnly = writePem(tmp.dir, 'cert.pem', wwwOnly.cert);
  const leafOnlyKey = writePem(tmp.dir, 'cert-key.pem', wwwOnly.key);
  const [fullPort, leafOnlyPort] = [await freePort(), await freePort()];
  nginx = await startNginx({
    dir: tmp.dir,
    http: [
      tlsServerBlock({
        port: fullPort,
        certFile: path.join(live, 'fullchain.pem'),
        keyFile: path.join(live, 'privkey.pem'),
        serverName: NAMES.join(' '),
      }),
      tlsServerBlock({ port: leafOnlyPort, certFile: leafOnly, keyFile: leafOnlyKey, serverName: NAMES.join(' ') }),
    ].join('\n'),
  });
  const tlsCheck = (name: string, port: number, extra: string) =>
    `  - name: ${name}\n    type: tls\n    host: 127.0.0.1\n    port: ${port}\n    server_name: forgetrace.test\n    names: [${NAMES.join(', ')}]\n    ca_file: ${caFile}\n    interval: 1h\n${extra}`;
  fw = await startForgewatch(
    `defaults:\n  failure_threshold: 1\nchecks:\n${tlsCheck('cert-forgetrace', fullPort, `    cert_file: ${path.join(live, 'fullchain.pem')}\n`)}${tlsCheck('cert-leaf-only', leafOnlyPort, '')}` +
      `  - name: site\n    type: http\n    url: https://forgetrace.test:${fullPort}/\n    resolve: 127.0.0.1\n    interval: 1h\n    tls: { ca_file: ${caFile} }\n`,
  );
});

afterAll(async () => {
  await fw?.close();
  await nginx?.stop();
  await tmp.cleanup();
});

describe('nginx as the TLS terminator', () => {
  it('serves the certificate in the file: all names covered, full chain, served matches file', async () => {
    const result = await check('cert-forgetrace');
    expect(result.status).toBe('ok');
    expect(result.details).toMatchObject({ names_missing: [], served_matches_file: true, problems: [] });
    expect((result.details.chain as unknown[]).length).toBeGreaterThanOrEqual(2);
    const site = await check('site');
    expect(site.status).toBe('ok');
    expect(site.reason).toMatch(/^status 200/);
    expect(site.details.tls).toMatchObject({
      names_covered: ['forgetrace.test'],
      protocol: expect.stringMatching(/^TLSv1\.[23]$/),
    });
  });

  it('names the apex missing and the leaf-only chain of a cert.pem server block', async () => {
    const result = await check('cert-leaf-only');
    expect(result.status).toBe('fail');
    expect(result.reason).toBe(
      'forgetrace.test is not in the SANs [www.forgetrace.test, api.forgetrace.test] (also: incomplete_chain)',
    );
    expect(result.details.problems).toEqual(['name_not_covered', 'incomplete_chain']);
  });

  it('sees a renewal on disk that nginx does not serve, and recovers after nginx -s reload', async () => {
    const renewed = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(90) });
    installCertificate(renewed);
    const stale = await check('cert-forgetrace');
    expect(stale.status).toBe('fail');
    expect(stale.details.problems).toEqual(['served_differs_from_file']);
    expect(stale.hint).toMatch(/nginx -s reload/);
    expect((stale.details.leaf as { serial: string }).serial).toBe(
      new X509Certificate(first.cert).serialNumber.toUpperCase(),
    );
    const before = await (await fetch(`${fw.url}/metrics`)).text();
    expect(before).toContain('forgewatch_tls_served_matches_file{check="cert-forgetrace"} 0');

    await nginx.reload();
    const fresh = await check('cert-forgetrace');
    expect(fresh.status).toBe('ok');
    expect(fresh.details.served_matches_file).toBe(true);
    expect((fresh.details.leaf as { serial: string }).serial).toBe(
      new X509Certificate(renewed.cert).serialNumber.toUpperCase(),
    );
    const after = await (await fetch(`${fw.url}/metrics`)).text();
    expect(after).toContain('forgewatch_tls_served_matches_file{check="cert-forgetrace"} 1');
    const status = (await (await fetch(`${fw.url}/api/status`)).json()) as {
      checks: Array<{ name: string; state: string }>;
    };
    expect(status.checks.find((c) => c.name === 'cert-forgetrace')?.state).toBe('ok');
  });
});
