/** Relative file paths in a config resolve against that config's folder, whatever else is parsed at the same time. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filePath, withBaseDir } from '../src/config/fields.js';
import { loadConfigFile } from '../src/config/load.js';
import { tempDir } from './helpers/service.js';

const { dir, cleanup } = tempDir('forgewatch-paths-');
afterAll(cleanup);

describe('relative file paths', () => {
  it('resolve against the folder of their own config file', () => {
    const configs = ['one', 'two'].map((name) => {
      const folder = path.join(dir, name);
      mkdirSync(folder, { recursive: true });
      const file = path.join(folder, 'forgewatch.yaml');
      writeFileSync(
        file,
        `state_dir: ./state\nchecks:\n  - name: cert\n    type: cert_file\n    path: certs/${name}.pem\n`,
      );
      return loadConfigFile(file, {});
    });
    expect(configs.map((c) => [c.state_dir, c.checks[0]?.path])).toEqual([
      [path.join(dir, 'one/state'), path.join(dir, 'one/certs/one.pem')],
      [path.join(dir, 'two/state'), path.join(dir, 'two/certs/two.pem')],
    ]);
  });

  it('keep their own folder when two validations interleave', async () => {
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    const resolveLater = (folder: string, order: number) =>
      withBaseDir(folder, async () => {
        for (let i = 0; i < order; i++) await tick();
        return filePath.parse('ca.pem');
      });
    // The second starts after the first and finishes before it: a shared setting would be the other's by then.
    const [first, second] = await Promise.all([resolveLater('/etc/one', 3), resolveLater('/etc/two', 1)]);
    expect([first, second]).toEqual(['/etc/one/ca.pem', '/etc/two/ca.pem']);
    expect(filePath.parse('ca.pem')).toBe(path.join(process.cwd(), 'ca.pem'));
  });
});
