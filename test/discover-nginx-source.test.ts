/** Where discovery reads nginx from: a config file (its includes followed here), saved `nginx -T` output, or nothing. */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNginxSource } from '../src/discover/nginx-source.js';
import { tempDir } from './helpers/service.js';

const temp = tempDir('forgewatch-nginx-source-');
afterAll(() => temp.cleanup());

const root = path.join(temp.dir, 'etc-nginx');
mkdirSync(path.join(root, 'conf.d'), { recursive: true });
mkdirSync(path.join(root, 'sites enabled'), { recursive: true });
const main = path.join(root, 'nginx.conf');
writeFileSync(
  main,
  `events {}
http {
    include conf.d/*.conf;
    include "sites enabled/*";
}
`,
);
writeFileSync(path.join(root, 'conf.d', 'upstreams.conf'), 'upstream app {\n    server 127.0.0.1:9000;\n}\n');
writeFileSync(
  path.join(root, 'sites enabled', 'shop'),
  `server {
    listen 8081;
    server_name shop.test;
    location / { proxy_pass http://app; }
}
`,
);

describe('reading nginx from a path', () => {
  it('follows the includes of a config file, globs and quoted paths, relative to its directory', async () => {
    const read = await readNginxSource(main);
    expect(read.skipped).toBeUndefined();
    const server = read.config?.servers[0];
    expect(server?.serverNames.map((n) => [n.name, n.file, n.line])).toEqual([
      ['shop.test', path.join(root, 'sites enabled', 'shop'), 3],
    ]);
    expect(server?.locations[0]?.proxyPass?.upstream?.servers).toMatchObject([{ host: '127.0.0.1', port: 9000 }]);
    expect(read.config?.unresolvedIncludes).toEqual([]);
  });

  it('reads saved nginx -T output the same way', async () => {
    const dump = await new Promise<string>((resolve, reject) =>
      execFile('/usr/sbin/nginx', ['-T', '-p', root, '-c', main, '-e', path.join(temp.dir, 'error.log')], (err, out) =>
        err ? reject(err) : resolve(out),
      ),
    );
    const saved = path.join(temp.dir, 'nginx-T.txt');
    writeFileSync(saved, dump);
    const fromDump = await readNginxSource(saved);
    const fromFile = await readNginxSource(main);
    expect(fromDump.config?.servers).toEqual(fromFile.config?.servers);
  });

  it('reports a missing file or a syntax error as skipped, with where', async () => {
    const missing = path.join(temp.dir, 'nope.conf');
    expect(await readNginxSource(missing)).toEqual({ from: missing, skipped: `cannot read ${missing}: ENOENT` });
    const broken = path.join(temp.dir, 'broken.conf');
    writeFileSync(broken, 'http {\n    server {\n        listen 80;\n');
    const read = await readNginxSource(broken);
    expect(read.config).toBeUndefined();
    expect(read.skipped).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: `));
    expect(await readNginxSource('off')).toEqual({ from: 'off', skipped: 'turned off (--nginx off)' });
  });
});
