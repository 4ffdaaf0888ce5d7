/** Every run of an HTTP check opens its own connection, whatever the probe reuses between runs. */
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitorFor } from './helpers/checks.js';
import { httpServer, type Started } from './helpers/servers.js';
import { waitFor } from './helpers/service.js';

let target: Started<http.Server>;
/** Each request with the remote port of the connection it came on. */
const requests: Array<{ path: string; remotePort: number }> = [];
const connections: Socket[] = [];
const closed = new Set<Socket>();

beforeAll(async () => {
  target = await httpServer((req, res) => {
    requests.push({ path: req.url ?? '', remotePort: req.socket.remotePort ?? 0 });
    // Keep-alive offered: the probe must still not come back on this connection.
    res.writeHead(200, { connection: 'keep-alive', 'keep-alive': 'timeout=60' }).end('ok');
  });
  target.server.on('connection', (socket: Socket) => {
    connections.push(socket);
    socket.on('close', () => closed.add(socket));
  });
});
afterAll(() => target.close());

describe('HTTP connections', () => {
  it('opens a new TCP connection for every run and closes it after the response', async () => {
    const monitor = monitorFor(`checks:\n  - { name: web, type: http, url: "${target.url}/health", interval: 1h }\n`);
    for (let i = 0; i < 3; i++) {
      const record = await monitor.run('web');
      expect(record.result.status).toBe('ok');
    }
    await monitor.close();
    expect(requests.map((r) => r.path)).toEqual(['/health', '/health', '/health']);
    expect(connections).toHaveLength(3);
    expect(new Set(requests.map((r) => r.remotePort)).size).toBe(3);
    // The probe closed each connection itself: the server kept them alive.
    await waitFor(() => connections.every((c) => closed.has(c)));
  });
});
