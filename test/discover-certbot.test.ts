/** certbot's lineages laid out as certbot lays them out: live/ symlinks into archive/, renewal/*.conf. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCertbot } from '../src/discover/certbot.js';
import { certbotLineage } from './helpers/certbot.js';
import { createRootCa } from './helpers/pki.js';
import { tempDir } from './helpers/service.js';

const temp = tempDir('forgewatch-certbot-');
afterAll(() => temp.cleanup());

/** One lineage with its own CA, laid out as certbot does. */
async function lineage(root: string, name: string, sans: string[], days: number): Promise<void> {
  await certbotLineage(root, name, await createRootCa(`CA for ${name}`), sans, days);
}

describe('reading certbot lineages', () => {
  it('finds each lineage, the names its certificate covers, its fullchain and its expiry', async () => {
    const root = path.join(temp.dir, 'letsencrypt');
    await lineage(root, 'forgetrace.pro', ['forgetrace.pro', 'www.forgetrace.pro'], 80);
    await lineage(root, 'api.forgetrace.pro', ['api.forgetrace.pro'], 20);
    const found = await readCertbot(root);
    expect(found.skipped).toBeUndefined();
    expect(found.problems).toEqual([]);
    expect(found.lineages.map((l) => [l.name, l.names, l.fullchain])).toEqual([
      ['api.forgetrace.pro', ['api.forgetrace.pro'], path.join(root, 'live', 'api.forgetrace.pro', 'fullchain.pem')],
      [
        'forgetrace.pro',
        ['forgetrace.pro', 'www.forgetrace.pro'],
        path.join(root, 'live', 'forgetrace.pro', 'fullchain.pem'),
      ],
    ]);
    const days = (Date.parse(found.lineages[0]!.not_after) - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(20);
  });

  it('reports a lineage whose files are gone and still reads the others', async () => {
    const root = path.join(temp.dir, 'broken');
    await lineage(root, 'ok.test', ['ok.test'], 60);
    mkdirSync(path.join(root, 'renewal'), { recursive: true });
    writeFileSync(
      path.join(root, 'renewal', 'gone.test.conf'),
      `cert = ${root}/live/gone.test/cert.pem\nfullchain = ${root}/live/gone.test/fullchain.pem\n`,
    );
    const found = await readCertbot(root);
    expect(found.lineages.map((l) => l.name)).toEqual(['ok.test']);
    expect(found.problems).toEqual([
      { name: 'gone.test', file: path.join(root, 'renewal', 'gone.test.conf'), reason: 'ENOENT' },
    ]);
  });

  it('says why when the directory cannot be read, instead of failing', async () => {
    const missing = await readCertbot(path.join(temp.dir, 'no-such-dir'));
    expect(missing).toEqual({
      lineages: [],
      problems: [],
      skipped: `${path.join(temp.dir, 'no-such-dir', 'renewal')} does not exist: no certbot lineages here`,
    });
  });
});
