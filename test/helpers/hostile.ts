/**
 * One server of hostile targets, on 127.0.0.1 and a random port: each path misbehaves in one way a monitored
 * service (or an attacker controlling one) can. Checks against it must fail with a plain reason within their
 * timeout, never stall the service, crash it or grow its memory without bound.
 */
import http from 'node:http';
import { httpServer, type Started } from './servers.js';

/** 34 a's and a '!': ^(a+)+$ takes minutes on it with a backtracking engine. */
export const BACKTRACKING_BODY = `${'a'.repeat(34)}!`;
export const DEEP_JSON_LEVELS = 100_000;

export function hostileServer(): Promise<Started<http.Server>> {
  const deepJson = `${'['.repeat(DEEP_JSON_LEVELS)}${']'.repeat(DEEP_JSON_LEVELS)}`;
  return httpServer((req, res) => {
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/backtrack':
        res.writeHead(200, { 'content-type': 'text/plain', 'x-token': BACKTRACKING_BODY }).end(BACKTRACKING_BODY);
        return;
      case '/deep-json':
        res.writeHead(200, { 'content-type': 'application/json' }).end(deepJson);
        return;
      case '/ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      default:
        res.writeHead(404).end('not found');
    }
  });
}
