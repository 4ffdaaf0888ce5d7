/**
 * A pass-through stream over a TCP socket that keeps the first bytes the server sends. TLS runs on
 * top of it, so when a handshake fails on a record OpenSSL cannot parse ("wrong version number"),
 * those bytes tell an HTTP server from an SSH banner or anything else.
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';

const KEEP = 64;

export interface Tapped {
  stream: Duplex;
  /** Up to the first 64 bytes received. */
  first(): Buffer;
}

export function tap(tcp: net.Socket): Tapped {
  let first = Buffer.alloc(0);
  const stream = new Duplex({
    read() {
      tcp.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      tcp.write(chunk, callback);
    },
    final(callback) {
      tcp.end();
      callback();
    },
    destroy(err, callback) {
      tcp.destroy();
      callback(err);
    },
  });
  tcp.on('data', (chunk: Buffer) => {
    if (first.length < KEEP) first = Buffer.concat([first, chunk.subarray(0, KEEP - first.length)]);
    if (!stream.push(chunk)) tcp.pause();
  });
  tcp.on('end', () => stream.push(null));
  // The TLS socket sees the close and reports it; an error event left unheard here would crash the process.
  tcp.on('error', () => undefined);
  tcp.on('close', () => stream.destroy());
  return { stream, first: () => first };
}
