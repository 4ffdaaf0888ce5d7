/**
 * What a port that failed the TLS handshake speaks instead, from a second plain connection. Only a
 * failed handshake pays for it: wrapping every TLS connection in a JS stream to keep its first bytes
 * cost about 10% CPU per https probe.
 */
import net from 'node:net';

const KEEP = 64;
/** Looks like the start of a TLS ClientHello record: HTTP servers answer it with a 400, others with their own error. */
const HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]);

/** The first bytes the server sends: a banner (SSH, SMTP) or its answer to a ClientHello; empty when it says nothing. */
export function sniff(address: string, port: number, signal: AbortSignal, waitMs = 1000): Promise<Buffer> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const socket = net.connect({ host: address, port });
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      socket.destroy();
      resolve(received.subarray(0, KEEP));
    };
    const timer = setTimeout(finish, waitMs);
    if (signal.aborted) return finish();
    signal.addEventListener('abort', finish, { once: true });
    // A server that speaks first has its banner out before it reads this.
    socket.once('connect', () => socket.write(HELLO_START));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= KEEP || received.includes(0x0a)) finish();
    });
    socket.once('error', finish);
    socket.once('close', finish);
  });
}
