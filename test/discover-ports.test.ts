/** The port table read for discovery, with real listeners of this process. */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { readPorts } from '../src/discover/ports.js';
import { listen, type Started } from './helpers/servers.js';

const servers: Started<net.Server>[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('discovering listeners', () => {
  it('proposes a listener two scans saw, with the process holding it, and not one that came and went', async () => {
    const kept = await listen(net.createServer(), '127.0.0.1', 0);
    servers.push(kept);
    const brief = await listen(net.createServer(), '127.0.0.1', 0);
    const reading = readPorts({ intervalMs: 500 });
    await brief.close();
    const ports = await reading;
    const mine = ports.find((p) => p.port === kept.port);
    expect(mine).toMatchObject({ host: '127.0.0.1', owner: { pid: process.pid } });
    expect(ports.map((p) => p.port)).not.toContain(brief.port);
  });
});
