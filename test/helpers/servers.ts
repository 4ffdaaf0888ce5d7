/** Real servers on 127.0.0.1 with random ports, closed by the test. */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Started<S> {
  server: S;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function listen<S extends net.Server>(server: S, host = '127.0.0.1', port = 0): Promise<Started<S>> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    port: actual,
    url: `http://${hostPart}:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function httpServer(handler: http.RequestListener, host = '127.0.0.1'): Promise<Started<http.Server>> {
  return listen(http.createServer(handler), host);
}

/** A port nothing listens on: bound, read, released. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = await listen(net.createServer(), host);
  await s.close();
  return s.port;
}

/** The lowest unprivileged port free on both 127.0.0.1 and ::1 (below the ephemeral range other tests draw from). */
export async function lowestFreePort(): Promise<number> {
  for (let port = 1024; port < 65536; port++) {
    const taken = await Promise.all(
      ['127.0.0.1', '::1'].map(
        (host) =>
          new Promise<boolean>((resolve) => {
            const probe = net.createServer();
            probe.once('error', () => resolve(true));
            probe.listen(port, host, () => probe.close(() => resolve(false)));
          }),
      ),
    );
    if (!taken.includes(true)) return port;
  }
  throw new Error('no free port');
}
