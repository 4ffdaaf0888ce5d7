/** The cert_file check over a certbot-like live/ folder the test writes. */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
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
  writePem,
  type Issued,
} from './helpers/pki.js';
import { startForgewatch, tempDir } from './helpers/service.js';

const HALF_HOUR = 1 / 48;
const tmp = tempDir('forgewatch-cert-file-');
const live = path.join(tmp.dir, 'live');
let intermediate: Issued;
let caFile: string;
let healthy: Issued;

function certFileCheck(pattern: string, extra = ''): Promise<ProbeResult> {
  return runCheck(`name: files\ntype: cert_file\npath: ${pattern}\nca_file: ${caFile}\n${extra}`).then((r) => r.result);
}

function files(result: ProbeResult): JsonObject[] {
  return result.details.files as JsonObject[];
}

beforeAll(async () => {
  const root = await createRootCa('File Test Root');
  intermediate = await createIntermediateCa(root, 'File Test Intermediate');
  caFile = writePem(tmp.dir, 'ca.pem', root.cert);
  healthy = await createLeaf(intermediate, {
    sans: ['forgetrace.test', 'www.forgetrace.test'],
    notAfter: daysFromNow(60.5),
  });
  const expiring = await createLeaf(intermediate, {
    sans: ['shop.test'],
    notBefore: daysFromNow(-84),
    notAfter: daysFromNow(5.5 + HALF_HOUR),
  });
  for (const [name, leaf] of [
    ['forgetrace.test', healthy],
    ['shop.test', expiring],
  ] as const) {
    mkdirSync(path.join(live, name), { recursive: true });
    writeFileSync(path.join(live, name, 'fullchain.pem'), chainPem(leaf, intermediate));
    writeFileSync(path.join(live, name, 'cert.pem'), leaf.cert);
  }
  mkdirSync(path.join(live, 'empty.test'));
  writeFileSync(path.join(live, 'README'), 'certbot readme');
  writeFileSync(path.join(tmp.dir, 'not-a-cert.pem'), 'hello');
});

afterAll(() => tmp.cleanup());

describe('cert_file', () => {
  it('passes a single good fullchain.pem and reports it like a served certificate', async () => {
    const result = await certFileCheck(
      path.join(live, 'forgetrace.test', 'fullchain.pem'),
      'names: [forgetrace.test, www.forgetrace.test]',
    );
    expect(result.status).toBe('ok');
    expect(result.reason).toMatch(/^valid for 60 days \(until \d{4}-\d\d-\d\d\)$/);
    const [file] = files(result);
    expect(file).toMatchObject({
      status: 'ok',
      days_left: 60,
      names_covered: ['forgetrace.test', 'www.forgetrace.test'],
      problems: [],
    });
    expect((file?.leaf as JsonObject).serial).toBe(new X509Certificate(healthy.cert).serialNumber.toUpperCase());
    expect(file?.chain).toEqual([
      expect.objectContaining({ trusted: true }),
      expect.objectContaining({ trusted: true }),
    ]);
  });

  it('reports each file a glob matches on its own and names the worst in the reason', async () => {
    const result = await certFileCheck(path.join(live, '*', 'fullchain.pem'));
    expect(result.status).toBe('fail');
    expect(files(result).map((f) => [path.basename(path.dirname(f.path as string)), f.status])).toEqual([
      ['forgetrace.test', 'ok'],
      ['shop.test', 'fail'],
    ]);
    expect(result.reason).toMatch(
      /shop\.test\/fullchain\.pem: certificate expires in 5d12h \(.*\), within fail_before 7d \(also: renewal_overdue\)$/,
    );
    expect(result.hint).toMatch(/certbot renew/);
    expect(result.details).toMatchObject({ days_left: 5, problems: ['expires_soon', 'renewal_overdue'] });
  });

  it('checks the names each file must cover', async () => {
    const result = await certFileCheck(
      path.join(live, 'forgetrace.test', 'fullchain.pem'),
      'names: [api.forgetrace.test]',
    );
    expect(result.status).toBe('fail');
    expect(result.reason).toBe('api.forgetrace.test is not in the SANs [forgetrace.test, www.forgetrace.test]');
  });

  it('names a file that holds the leaf without its intermediate', async () => {
    const result = await certFileCheck(path.join(live, 'forgetrace.test', 'cert.pem'));
    expect(result.details.problems).toEqual(['incomplete_chain']);
    expect(result.reason).toBe(
      "incomplete chain: the certificates in the file do not include the leaf's issuer CN=File Test Intermediate",
    );
  });

  it('fails clearly when nothing matches, the file is missing or is not a certificate', async () => {
    const none = await certFileCheck(path.join(live, '*', 'privkey.pem'));
    expect(none.reason).toBe(`no file matches ${path.join(live, '*', 'privkey.pem')}`);
    expect(none.hint).toMatch(/certbot certificates/);
    const missing = await certFileCheck(path.join(tmp.dir, 'missing.pem'));
    expect(missing.reason).toMatch(/cannot read .*missing\.pem: ENOENT/);
    expect(missing.details.problems).toEqual(['file_unreadable']);
    const junk = await certFileCheck(path.join(tmp.dir, 'not-a-cert.pem'));
    expect(junk.reason).toMatch(/not-a-cert\.pem holds no PEM certificate/);
  });

  it('counts the other files with problems after the worst one, and only those', async () => {
    const expired = await createLeaf(intermediate, {
      sans: ['old.test'],
      notBefore: daysFromNow(-100),
      notAfter: daysFromNow(-10),
    });
    const expiring = await createLeaf(intermediate, {
      sans: ['soon.test'],
      notBefore: daysFromNow(-85),
      notAfter: daysFromNow(3),
    });
    const mixed = path.join(tmp.dir, 'mixed');
    const write = (name: string, pem: string) => {
      mkdirSync(path.join(mixed, name), { recursive: true });
      writeFileSync(path.join(mixed, name, 'fullchain.pem'), pem);
    };
    write('a-good.test', chainPem(healthy, intermediate));
    write('b-expired.test', chainPem(expired, intermediate));
    write('c-leaf-only.test', healthy.cert);
    write('d-junk.test', 'not a certificate');
    write('e-expiring.test', chainPem(expiring, intermediate));
    write('f-good.test', chainPem(healthy, intermediate));
    const result = await certFileCheck(path.join(mixed, '*', 'fullchain.pem'));
    expect(files(result).map((f) => f.status)).toEqual(['ok', 'fail', 'fail', 'fail', 'fail', 'ok']);
    // An unreadable file ranks first; the three other failing files are counted, the two good ones are not.
    const junk = path.join(mixed, 'd-junk.test', 'fullchain.pem');
    expect(result.reason).toBe(`${junk}: ${junk} holds no PEM certificate (3 more files with problems)`);

    const fewer = await certFileCheck(path.join(mixed, '[abcf]*', 'fullchain.pem'));
    expect(files(fewer).map((f) => f.status)).toEqual(['ok', 'fail', 'fail', 'ok']);
    expect(fewer.reason).toMatch(
      /b-expired\.test\/fullchain\.pem: certificate expired .* \(1 more file with problems\)$/,
    );
  });

  it("exports each file's expiry as a timestamp", async () => {
    const fw = await startForgewatch(
      `checks:\n  - name: certbot-files\n    type: cert_file\n    path: ${path.join(live, '*', 'fullchain.pem')}\n    ca_file: ${caFile}\n    interval: 1h\n`,
    );
    try {
      await fetch(`${fw.url}/check?name=certbot-files`);
      const text = await (await fetch(`${fw.url}/metrics`)).text();
      const file = path.join(live, 'forgetrace.test', 'fullchain.pem');
      expect(text).toContain(
        `forgewatch_cert_file_not_after_timestamp_seconds{check="certbot-files",path="${file}"} ${Date.parse(new X509Certificate(healthy.cert).validTo) / 1000}`,
      );
      expect(text).toMatch(
        /forgewatch_cert_file_not_after_timestamp_seconds\{check="certbot-files",path="[^"]*shop\.test\/fullchain\.pem"\} \d+/,
      );
    } finally {
      await fw.close();
    }
  });
});
