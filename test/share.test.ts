/** Equal parts of a large read-only structure (a config of thousands of checks) are kept once. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { shareEqualParts } from '../src/util/share.js';
import { tempDir } from './helpers/service.js';

const { dir, cleanup } = tempDir('forgewatch-share-');
afterAll(cleanup);

describe('shareEqualParts', () => {
  it('keeps one frozen instance of each equal plain piece, and each item as its own object', () => {
    const items = [
      { name: 'a', tls: { insecure: false, ports: [443] }, labels: {}, n: 0 },
      { name: 'b', tls: { insecure: false, ports: [443] }, labels: {}, n: -0 },
      { name: 'c', tls: { insecure: true, ports: [443] }, labels: { team: 'web' }, n: 0 },
    ];
    const [a, b, c] = shareEqualParts(items);
    expect(a?.tls).toBe(b?.tls);
    expect(a?.labels).toBe(b?.labels);
    expect(c?.tls).not.toBe(a?.tls);
    expect(c?.tls.ports).toBe(a?.tls.ports);
    expect(Object.isFrozen(a?.tls)).toBe(true);
    expect(Object.isFrozen(a)).toBe(false);
    expect([a?.name, b?.name, c?.name, Object.is(b?.n, -0)]).toEqual(['a', 'b', 'c', true]);
    expect(() => {
      (a?.tls as { insecure: boolean }).insecure = true;
    }).toThrow(TypeError);
    expect(b?.tls.insecure).toBe(false);
  });

  it('leaves pieces holding something other than plain data (a RegExp, a Map, NaN against null) unshared', () => {
    const [a, b] = shareEqualParts([
      { expect: { header: { x: /^1/ } }, v: { n: NaN }, m: new Map([[1, 2]]) },
      { expect: { header: { x: /^2/ } }, v: { n: null }, m: new Map([[1, 2]]) },
    ]);
    expect(a?.expect).not.toBe(b?.expect);
    expect(a?.expect.header.x.source).toBe('^1');
    expect(b?.expect.header.x.source).toBe('^2');
    expect(a?.v).not.toBe(b?.v);
    expect(a?.m).not.toBe(b?.m);
  });

  it('keeps a key named __proto__ as a property of its own', () => {
    const [item] = shareEqualParts([{ headers: JSON.parse('{"__proto__": "x", "a": "b"}') as Record<string, string> }]);
    expect(Object.getPrototypeOf(item?.headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(item?.headers, '__proto__')?.value).toBe('x');
    expect(item?.headers.a).toBe('b');
  });
});

describe('a config read in a worker', () => {
  it('shares the pieces its checks have in common, and keeps what differs', async () => {
    const file = path.join(dir, 'forgewatch.yaml');
    writeFileSync(
      file,
      [
        'checks:',
        '  - { name: one, type: http, url: "http://127.0.0.1:1/a", expect: { status: [200] } }',
        '  - { name: two, type: http, url: "http://127.0.0.1:1/b", expect: { status: [200] } }',
        '  - { name: three, type: http, url: "http://127.0.0.1:1/c", expect: { status: [204] }, headers: { x-a: b } }',
      ].join('\n'),
    );
    // The worker loads the built loader, as `serve` does: the test runs against dist (npm test builds first).
    const built = pathToFileURL(path.resolve('dist/src/config/load-isolated.js')).href;
    const { loadConfigFileIsolated } = (await import(built)) as typeof import('../src/config/load-isolated.js');
    const config = await loadConfigFileIsolated(file);
    const [one, two, three] = config.checks as Array<Record<string, unknown>>;
    expect(one?.tls).toBe(two?.tls);
    expect(one?.expect).toBe(two?.expect);
    expect(three?.expect).not.toBe(one?.expect);
    expect(three?.headers).toEqual({ 'x-a': 'b' });
    expect([one?.url, two?.url, three?.url]).toEqual([
      'http://127.0.0.1:1/a',
      'http://127.0.0.1:1/b',
      'http://127.0.0.1:1/c',
    ]);
    expect([...config.fingerprints.keys()]).toEqual(['one', 'two', 'three']);
    expect(new Set(config.fingerprints.values()).size).toBe(3);
  });
});
