/** dial(): every address a name resolves to is tried in order, within one deadline. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dial, DialError, type LookupAll } from '../src/net/dial.js';
import { explainNetworkError } from '../src/net/explain.js';
import { freePort, listen, type Started } from './helpers/servers.js';

let v4only: Started<net.Server>;

/** What a resolver answers for "localhost" on machines with both families: ::1 first, then 127.0.0.1. */
const bothFamilies: LookupAll = async () => [{ address: '::1' }, { address: '127.0.0.1' }];

beforeAll(async () => {
  v4only = await listen(
    net.createServer((s) => s.destroy()),
    '127.0.0.1',
  );
});

afterAll(() => v4only.close());

describe('dial', () => {
  it('falls back to the next address when the first refuses, and reports the one that answered', async () => {
    const d = await dial({
      host: 'app.internal',
      port: v4only.port,
      lookup: bothFamilies,
      signal: AbortSignal.timeout(5_000),
    });
    expect(d.address).toBe('127.0.0.1');
    expect(d.socket.remoteAddress).toBe('127.0.0.1');
    d.socket.destroy();
  });

  it('names every address tried when all of them refuse', async () => {
    const port = await freePort();
    const err = await dial({
      host: 'app.internal',
      port,
      lookup: bothFamilies,
      signal: AbortSignal.timeout(5_000),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect(err).toMatchObject({ phase: 'connecting', code: 'ECONNREFUSED', addresses: ['::1', '127.0.0.1'] });
    const explained = explainNetworkError(err, { host: 'app.internal', port }, 'connecting');
    expect(explained.reason).toBe(`connect ECONNREFUSED [::1]:${port}, 127.0.0.1:${port} (app.internal)`);
    expect(explained.hint).toMatch(/container/);
  });

  it('tries each address once even when the resolver repeats one', async () => {
    const port = await freePort();
    const repeated: LookupAll = async () => [{ address: '127.0.0.1' }, { address: '127.0.0.1' }];
    const err = await dial({
      host: 'twice.internal',
      port,
      lookup: repeated,
      signal: AbortSignal.timeout(5_000),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ addresses: ['127.0.0.1'] });
  });

  it('reports a resolver failure as a resolving error', async () => {
    const failing: LookupAll = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.internal'), { code: 'ENOTFOUND' });
    };
    const err = await dial({
      host: 'nowhere.internal',
      port: 1,
      lookup: failing,
      signal: AbortSignal.timeout(5_000),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ phase: 'resolving', code: 'ENOTFOUND' });
    expect(explainNetworkError(err, { host: 'nowhere.internal', port: 1 }, 'resolving').reason).toBe(
      'dns: cannot resolve nowhere.internal (no such host)',
    );
  });

  it('connects to an IPv6 literal in URL brackets and names it without doubled brackets', async () => {
    const v6 = await listen(
      net.createServer((s) => s.destroy()),
      '::1',
    );
    try {
      const d = await dial({ host: '[::1]', port: v6.port, signal: AbortSignal.timeout(5_000) });
      d.socket.destroy();
      expect(d.address).toBe('::1');
    } finally {
      await v6.close();
    }
    const err = await dial({ host: '[::1]', port: v6.port, signal: AbortSignal.timeout(5_000) }).catch(
      (e: unknown) => e,
    );
    expect(explainNetworkError(err, { host: '[::1]', port: v6.port }, 'connecting').reason).toBe(
      `connect ECONNREFUSED [::1]:${v6.port}`,
    );
  });
});
