/**
 * One server of hostile targets, on 127.0.0.1 and a random port: each path misbehaves in one way a monitored
 * service (or an attacker controlling one) can. It speaks raw TCP so it can break HTTP where a real server would
 * not (trickled status lines, garbage, resets). Checks against it must fail with a plain reason within their
 * timeout, never stall the service, crash it or grow its memory without bound.
 */
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { listen, type Started } from './servers.js';

/** 34 a's and a '!': ^(a+)+$ takes minutes on it with a backtracking engine. */
export const BACKTRACKING_BODY = `${'a'.repeat(34)}!`;
export const DEEP_JSON_LEVELS = 100_000;
export const MANY_HEADERS = 10_000;
export const REDIRECT_HOPS = 50;

/** The paths the server knows; each is one way of misbehaving. */
export const HOSTILE_PATHS = [
  '/silent', // accepts the request and never answers
  '/slow-status', // trickles the answer one byte every 250 ms (10 s in all)
  '/slow-headers', // status line at once, then one header line every 100 ms, forever
  '/slow-body', // headers at once, then one byte of a 1 MB body every 100 ms
  '/endless', // a chunked body that never ends
  '/many-headers', // 10,000 header lines
  '/gzip-bomb', // 20 KB on the wire, 20 MB once inflated
  '/garbage', // bytes that are not HTTP
  '/reset', // a TCP reset instead of an answer
  '/redirect/0', // 50 redirects in a row
  '/backtrack', // a body (and header) that makes ^(a+)+$ backtrack for minutes
  '/deep-json', // JSON nested 100,000 levels deep
] as const;

const head = (status: string, headers: Record<string, string | number> = {}) =>
  `HTTP/1.1 ${status}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

function drip(socket: net.Socket, chunk: () => string, everyMs: number): void {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write(chunk());
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

export function hostileServer(): Promise<Started<net.Server>> {
  const deepJson = `${'['.repeat(DEEP_JSON_LEVELS)}${']'.repeat(DEEP_JSON_LEVELS)}`;
  const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024));
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let request = '';
    socket.on('data', (d: Buffer) => {
      if (request.includes('\r\n\r\n')) return;
      request += d.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      const target = request.split(' ')[1] ?? '/';
      answer(socket, new URL(target, 'http://x').pathname);
    });
  });

  function answer(socket: net.Socket, path: string): void {
    const redirect = /^\/redirect\/(\d+)$/.exec(path);
    if (redirect) {
      socket.end(head('302 Found', { location: `/redirect/${Number(redirect[1]) + 1}`, 'content-length': 0 }));
      return;
    }
    switch (path) {
      case '/silent':
        return;
      case '/slow-status': {
        const line = head('200 OK', { 'content-length': 2 }) + 'ok';
        let i = 0;
        drip(socket, () => line[i++ % line.length] ?? '', 250);
        return;
      }
      case '/slow-headers': {
        socket.write('HTTP/1.1 200 OK\r\n');
        let n = 0;
        drip(socket, () => `x-drip-${n++}: y\r\n`, 100);
        return;
      }
      case '/slow-body':
        socket.write(head('200 OK', { 'content-type': 'text/plain', 'content-length': 1_000_000 }));
        drip(socket, () => 'a', 100);
        return;
      case '/endless': {
        socket.write(head('200 OK', { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }));
        const chunk = `10000\r\n${'x'.repeat(0x10000)}\r\n`;
        const pump = () => {
          while (!socket.destroyed && socket.write(chunk));
        };
        socket.on('drain', pump);
        pump();
        return;
      }
      case '/many-headers': {
        const lines = Array.from({ length: MANY_HEADERS }, (_, i) => `x-h-${i}: ${'v'.repeat(20)}\r\n`).join('');
        socket.end(`HTTP/1.1 200 OK\r\n${lines}content-length: 2\r\n\r\nok`);
        return;
      }
      case '/gzip-bomb':
        socket.write(head('200 OK', { 'content-encoding': 'gzip', 'content-length': bomb.length }));
        socket.end(bomb);
        return;
      case '/garbage':
        socket.end(Buffer.from('\x00\x01\x02SSH-2.0-not-http \xff\xfe garbage\r\n\r\n', 'latin1'));
        return;
      case '/reset':
        socket.resetAndDestroy();
        return;
      case '/backtrack':
        socket.end(
          head('200 OK', {
            'content-type': 'text/plain',
            'x-token': BACKTRACKING_BODY,
            'content-length': BACKTRACKING_BODY.length,
          }) + BACKTRACKING_BODY,
        );
        return;
      case '/deep-json':
        socket.end(
          head('200 OK', { 'content-type': 'application/json', 'content-length': deepJson.length }) + deepJson,
        );
        return;
      case '/ok':
        socket.end(head('200 OK', { 'content-type': 'application/json', 'content-length': 15 }) + '{"status":"ok"}');
        return;
      default:
        socket.end(head('404 Not Found', { 'content-length': 0 }));
    }
  }
  return listen(server);
}

/** A TLS port that reads the ClientHello and never answers: the handshake hangs. */
export function tlsHangServer(): Promise<Started<net.Server>> {
  return listen(
    net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.resume();
    }),
  );
}
