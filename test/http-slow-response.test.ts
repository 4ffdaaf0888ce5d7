/**
 * Which part of a slow response a timeout names, over plain HTTP and over TLS: nothing at all ("waiting for the
 * first byte"), a status line and headers that never complete ("receiving the response headers", with the bytes
 * that came), or a body that stalls ("reading the body"). The hint fits each.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from './helpers/checks.js';
import { createSelfSignedLeaf } from './helpers/pki.js';
import { listen, type Started } from './helpers/servers.js';

/** Answers by request path: /silent never, /trickle a status line then a header line every 100 ms, /cut half a status line then a close. */
function respond(socket: net.Socket): void {
  socket.on('error', () => undefined);
  let request = '';
  socket.on('data', (d: Buffer) => {
    if (request.includes('\r\n\r\n')) return;
    request += d.toString('latin1');
    if (!request.includes('\r\n\r\n')) return;
    const path = request.split(' ')[1];
    if (path === '/trickle') {
      socket.write('HTTP/1.1 200 OK\r\n');
      let n = 0;
      const timer = setInterval(() => socket.write(`x-line-${n++}: y\r\n`), 100);
      socket.on('close', () => clearInterval(timer));
    } else if (path === '/cut') {
      socket.end('HTTP/1.1 20');
    } else if (path === '/stall-body') {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
    }
  });
}

let plain: Started<net.Server>;
let secure: Started<tls.Server>;
beforeAll(async () => {
  const leaf = await createSelfSignedLeaf({ sans: ['127.0.0.1'] });
  plain = await listen(net.createServer(respond));
  secure = await listen(tls.createServer({ cert: leaf.cert, key: leaf.key }, respond));
});
afterAll(async () => {
  await plain.close();
  await secure.close();
});

const probe = async (url: string, timeout = '1s') =>
  (
    await runCheck(
      JSON.stringify({
        name: 'slow',
        type: 'http',
        url,
        timeout,
        ...(url.startsWith('https') ? { tls: { insecure: true } } : {}),
      }),
    )
  ).result;

describe.each([
  ['http', () => plain.url],
  ['https', () => `https://127.0.0.1:${secure.port}`],
])('a slow response over %s', (_scheme, base) => {
  it('names the first byte when nothing came (TLS session tickets are not response bytes)', async () => {
    const r = await probe(`${base()}/silent`);
    expect(r.reason).toBe('timeout after 1s waiting for the first byte');
    expect(r.hint).toMatch(/never answered/);
    expect(r.details.phase).toBe('first byte');
  });

  it('names the headers, with the bytes that came, when the status line came but the headers never ended', async () => {
    const r = await probe(`${base()}/trickle`);
    expect(r.status).toBe('fail');
    const bytes = Number(
      /^timeout after 1s receiving the response headers \((\d+) bytes arrived\)$/.exec(r.reason)?.[1],
    );
    // The status line (17 bytes) at least, and never more than the server can have sent in the time.
    expect(bytes).toBeGreaterThanOrEqual('HTTP/1.1 200 OK\r\n'.length);
    expect(bytes).toBeLessThan(17 + 40 * 14);
    expect(r.hint).toMatch(/never finished its status line and headers/);
    expect(r.hint).not.toMatch(/never answered/);
    expect(r.details.phase).toBe('headers');
  });

  it('names the headers when the connection closed in the middle of the status line', async () => {
    const r = await probe(`${base()}/cut`);
    expect(r.reason).toMatch(/^connection reset by 127\.0\.0\.1:\d+ receiving the response headers$/);
  });

  it('names the body when the headers came and the body stalled', async () => {
    const r = await probe(`${base()}/stall-body`);
    expect(r.reason).toBe('timeout after 1s reading the body');
    expect(r.hint).toMatch(/sent headers and then stalled/);
  });
});
