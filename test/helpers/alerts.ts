/** Servers for alerting tests: a target whose HTTP status the test flips, and a receiver that records POSTs. */
import type { IncomingHttpHeaders } from 'node:http';
import { httpServer, type Started } from './servers.js';
import type http from 'node:http';

export interface FlipTarget extends Started<http.Server> {
  /** Status answered per path ("/a"); 200 until set. */
  set(pathname: string, status: number): void;
}

export async function flipTarget(): Promise<FlipTarget> {
  const statuses = new Map<string, number>();
  const started = await httpServer((req, res) => {
    res.writeHead(statuses.get(new URL(req.url ?? '/', 'http://x').pathname) ?? 200).end('target\n');
  });
  return Object.assign(started, { set: (p: string, status: number) => void statuses.set(p, status) });
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  json: unknown;
}

export interface Receiver extends Started<http.Server> {
  received: Received[];
  /** Status answered to the next POSTs (the request is still recorded as seen, not as accepted). */
  answer: number;
  /** Only the requests answered 2xx. */
  accepted: Received[];
}

export async function receiver(): Promise<Receiver> {
  const box: { self?: Receiver } = {};
  const started = await httpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = box.self as Receiver;
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(raw);
      } catch {
        json = null;
      }
      const rec = { path: req.url ?? '/', headers: req.headers, raw, json };
      r.received.push(rec);
      if (r.answer >= 200 && r.answer < 300) r.accepted.push(rec);
      res.writeHead(r.answer, { 'content-type': 'text/plain' }).end(r.answer < 300 ? 'ok' : 'unavailable');
    });
  });
  box.self = Object.assign(started, { received: [], accepted: [], answer: 200 });
  return box.self;
}
