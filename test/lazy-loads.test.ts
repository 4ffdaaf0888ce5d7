/**
 * A lone node does not load the fleet's etcd client (with gRPC and protobuf under it) or the email library: they are
 * megabytes of code and heap a node without `cluster:` or an email channel never uses. Checked in a fresh process,
 * whose module cache shows what was loaded.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUILT_CLI } from './helpers/service.js';

const run = promisify(execFile);
const built = (file: string) => pathToFileURL(path.resolve(path.dirname(BUILT_CLI), file)).href;

/** Runs `body` in a fresh node after importing what `serve` imports; prints the heavy packages then in its module cache. */
async function loadedAfter(body: string): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(built('serve-command.js'))});
    ${body}
    const heavy = ['/node_modules/etcd3/', '/node_modules/@grpc/', '/node_modules/nodemailer/'];
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(heavy.filter((p) => loaded.some((m) => m.includes(p)))));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  return JSON.parse(stdout.trim()) as string[];
}

describe('lazy loads', () => {
  it('serve loads neither etcd3, gRPC nor nodemailer until a fleet or an email needs them', async () => {
    expect(await loadedAfter('')).toEqual([]);
  });

  it('loads etcd3 and gRPC once a fleet node makes its etcd client', async () => {
    const loaded = await loadedAfter(`
      const { clusterSchema } = await import(${JSON.stringify(built('cluster/config.js'))});
      const { createEtcdClient } = await import(${JSON.stringify(built('cluster/etcd.js'))});
      const config = clusterSchema.parse({ etcd: { endpoints: ['http://127.0.0.1:1'], prefix: '/fw/' }, node: 'a' });
      (await createEtcdClient(config)).close();
    `);
    expect(loaded).toEqual(['/node_modules/etcd3/', '/node_modules/@grpc/']);
  });
});
