/**
 * For alerting tests: a target whose HTTP status the test flips, a receiver that records POSTs, a logger
 * whose lines the test can read, and notifications to put straight into an outbox.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type http from 'node:http';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { AlertEvent, Notification } from '../../src/alerts/types.js';
import { httpServer, type Started } from './servers.js';
import { tempDir } from './service.js';

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
  /** Date.now() when the request had arrived, before it was answered. */
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver extends Started<http.Server> {
  received: Received[];
  /** Status answered to the next POSTs (the request is still recorded as seen, not as accepted). */
  answer: number;
  /** When set, decides the answer per request instead of `answer`. */
  respond?: (req: Received) => Answer;
  /** Only the requests answered 2xx. */
  accepted: Received[];
}

export async function receiver(host = '127.0.0.1'): Promise<Receiver> {
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
      const rec = { path: req.url ?? '/', headers: req.headers, raw, json, at: Date.now() };
      r.received.push(rec);
      const a = r.respond ? r.respond(rec) : { status: r.answer };
      if (a.status >= 200 && a.status < 300) r.accepted.push(rec);
      res
        .writeHead(a.status, { 'content-type': 'text/plain', ...a.headers })
        .end(a.body ?? (a.status < 300 ? 'ok' : 'unavailable'));
    });
  }, host);
  box.self = Object.assign(started, { received: [], accepted: [], answer: 200 });
  return box.self;
}

export interface CapturedLog {
  logger: Logger;
  /** Every line logged so far, raw JSON text. */
  text(): string;
  /** The parsed lines whose `event` field is `name`. */
  events(name: string): Record<string, unknown>[];
}

/** A real pino logger writing into memory. */
export function captureLogger(): CapturedLog {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  return {
    logger,
    text: () => lines.join('\n'),
    events: (name) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === name),
  };
}

let counter = 0;

/** A notification as the alerter makes them: one firing (or other kind) event per check. */
export function notification(
  channel: string,
  checks: string[],
  opts: { kind?: AlertEvent['kind']; id?: string } = {},
): Notification {
  const now = new Date().toISOString();
  counter += 1;
  return {
    id: opts.id ?? `test-${process.pid}-${counter}`,
    channel,
    created_at: now,
    events: checks.map((check) => ({
      kind: opts.kind ?? 'firing',
      check,
      type: 'http',
      labels: {},
      status: opts.kind === 'resolved' ? 'ok' : 'fail',
      previous: opts.kind === 'resolved' ? 'fail' : 'ok',
      reason: 'status 502, expected 200',
      since: now,
      at: now,
      details: {},
      dependents: [],
    })),
  };
}

/** The `kind:check` of every event a webhook receiver accepted, in order. */
export function acceptedEvents(r: Receiver): string[] {
  return r.accepted.flatMap((x) =>
    (x.json as { events: { kind: string; check: string }[] }).events.map((e) => `${e.kind}:${e.check}`),
  );
}

/** A temp dir, a target whose status the test sets and a webhook receiver, all removed by `cleanups`. */
export async function alertScene(cleanups: (() => Promise<void>)[]): Promise<{
  dir: string;
  target: FlipTarget;
  hook: Receiver;
}> {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const target = await flipTarget();
  const hook = await receiver();
  cleanups.push(
    () => target.close(),
    () => hook.close(),
  );
  return { dir: tmp.dir, target, hook };
}
