/** Relative file paths in a config resolve against that config's folder, whatever else is parsed at the same time. */
import { executionAsyncId } from 'node:async_hooks';
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

  it('keep their own folder when one validation runs inside another, and the working directory outside', () => {
    const inner = withBaseDir('/etc/one', () => [
      filePath.parse('ca.pem'),
      withBaseDir('/etc/two', () => filePath.parse('ca.pem')),
      filePath.parse('ca.pem'),
    ]);
    expect(inner).toEqual(['/etc/one/ca.pem', '/etc/two/ca.pem', '/etc/one/ca.pem']);
    expect(() =>
      withBaseDir('/etc/three', () => {
        throw new Error('invalid');
      }),
    ).toThrow('invalid');
    expect(filePath.parse('ca.pem')).toBe(path.join(process.cwd(), 'ca.pem'));
  });

  it("leave Node's async hooks off: a promise made after loading a config runs no hook", async () => {
    const file = path.join(dir, 'hooks.yaml');
    writeFileSync(file, 'checks:\n  - { name: cert, type: cert_file, path: certs/x.pem }\n');
    loadConfigFile(file, {});
    // With async hooks on (an AsyncLocalStorage once run), a promise gets an async id of its own at creation.
    let idInside = -1;
    await Promise.resolve().then(() => (idInside = executionAsyncId()));
    expect(idInside).toBe(0);
  });
});
