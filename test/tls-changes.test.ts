/**
 * The tls check run after run against a server whose certificate or chain changes, and a cert_file
 * rewritten between runs: what was parsed and judged before never stands in for what changed.
 */
import { X509Certificate } from 'node:crypto';
import type https from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, ProbeResult } from '../src/probes/types.js';
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
import type { Started } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

const NAMES = ['forgetrace.test', 'www.forgetrace.test'];
const servers: Started<https.Server>[] = [];
const tmp = tempDir('forgewatch-tls-changes-');
let root: Issued;
let intermediate: Issued;
let caFile: string;

async function tlsCheck(port: number, extra = '', anchors = caFile): Promise<ProbeResult> {
  const yaml = `name: cert\ntype: tls\nhost: 127.0.0.1\nport: ${port}\nserver_name: forgetrace.test\nca_file: ${anchors}\nnames: [${NAMES.join(', ')}]\ntimeout: 3s\n${extra}`;
  return (await runCheck(yaml)).result;
}

async function serve(certPem: string, keyPem: string): Promise<Started<https.Server>> {
  const server = await serveHttps(certPem, keyPem);
  servers.push(server);
  return server;
}

function fingerprintOf(leaf: Issued): string {
  return new X509Certificate(leaf.cert).fingerprint256;
}

beforeAll(async () => {
  root = await createRootCa('Forgewatch Changes Root');
  intermediate = await createIntermediateCa(root, 'Forgewatch Changes Intermediate');
  caFile = writePem(tmp.dir, 'ca.pem', root.cert);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await tmp.cleanup();
});

describe('a served certificate that changes between runs', () => {
  it('judges the new certificate when the server starts serving another one', async () => {
    const good = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(60.5) });
    const server = await serve(chainPem(good, intermediate), good.key);
    const before = await tlsCheck(server.port);
    expect(before.status).toBe('ok');
    expect(before.details.days_left).toBe(60);
    expect((before.details.leaf as JsonObject).fingerprint_sha256).toBe(fingerprintOf(good));

    // Renewed badly: expiring in three days and without the www name.
    const bad = await createLeaf(intermediate, { sans: [NAMES[0] as string], notAfter: daysFromNow(3.5) });
    server.server.setSecureContext({ cert: chainPem(bad, intermediate), key: bad.key, ciphers: 'DEFAULT:@SECLEVEL=0' });
    const after = await tlsCheck(server.port);
    expect(after.status).toBe('fail');
    expect((after.details.leaf as JsonObject).fingerprint_sha256).toBe(fingerprintOf(bad));
    expect(after.details.days_left).toBe(3);
    expect(after.details.names_missing).toEqual(['www.forgetrace.test']);
    expect(after.details.problems).toEqual(expect.arrayContaining(['name_not_covered', 'expires_soon']));
  });

  it('judges the chain afresh when the same leaf is served with its intermediate added', async () => {
    const leaf = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(60.5) });
    const server = await serve(chainPem(leaf), leaf.key);
    const alone = await tlsCheck(server.port);
    expect(alone.status).toBe('fail');
    expect(alone.details.problems).toEqual(['incomplete_chain']);

    server.server.setSecureContext({
      cert: chainPem(leaf, intermediate),
      key: leaf.key,
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    const fixed = await tlsCheck(server.port);
    expect(fixed.status).toBe('ok');
    expect(fixed.details.problems).toEqual([]);
    expect((fixed.details.chain as JsonObject[]).map((c) => c.subject)).toEqual([
      'CN=forgetrace.test',
      'CN=Forgewatch Changes Intermediate',
      'CN=Forgewatch Changes Root',
    ]);
  });

  it('judges the chain afresh when ca_file changes to trust another root', async () => {
    const leaf = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(60.5) });
    const server = await serve(chainPem(leaf, intermediate), leaf.key);
    const otherRoot = await createRootCa('Some Other Root');
    const anchors = writePem(tmp.dir, 'anchors.pem', otherRoot.cert);
    const untrusted = await tlsCheck(server.port, '', anchors);
    expect(untrusted.status).toBe('fail');
    expect(untrusted.details.problems).toEqual(['untrusted']);

    writeFileSync(anchors, otherRoot.cert + root.cert);
    const trusted = await tlsCheck(server.port, '', anchors);
    expect(trusted.status).toBe('ok');
  });
});

describe('a cert_file rewritten between runs', () => {
  it('compares the served certificate with what the file holds now', async () => {
    const served = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(60.5) });
    const renewed = await createLeaf(intermediate, { sans: NAMES, notAfter: daysFromNow(90.5) });
    const server = await serve(chainPem(served, intermediate), served.key);
    const certFile = path.join(tmp.dir, 'fullchain.pem');

    writeFileSync(certFile, chainPem(served, intermediate));
    const same = await tlsCheck(server.port, `cert_file: ${certFile}`);
    expect(same.status).toBe('ok');
    expect(same.details.served_matches_file).toBe(true);

    // Renewed on disk, not yet reloaded by the server.
    writeFileSync(certFile, chainPem(renewed, intermediate));
    const stale = await tlsCheck(server.port, `cert_file: ${certFile}`);
    expect(stale.status).toBe('fail');
    expect(stale.details.served_matches_file).toBe(false);
    expect(stale.details.problems).toEqual(['served_differs_from_file']);
    expect((stale.details.file_leaf as JsonObject).fingerprint_sha256).toBe(fingerprintOf(renewed));

    writeFileSync(certFile, 'not a certificate\n');
    const broken = await tlsCheck(server.port, `cert_file: ${certFile}`);
    expect(broken.details.problems).toEqual(['file_unreadable']);
    expect(broken.reason).toBe(`cannot read cert_file ${certFile}: no PEM certificate in it`);
  });
});
