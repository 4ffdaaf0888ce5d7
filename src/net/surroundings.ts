/**
 * A cheap look around a refused TLS port: when port 80 of the same address accepts a connection, the web server
 * is up but serves plain HTTP only (nginx with no `listen 443 ssl` for this name), which calls for another hint
 * than a service that is down. Bounded by the run's deadline and a few hundred milliseconds.
 */
import { acceptsConnections, DialError } from './dial.js';
import type { Surroundings } from './explain.js';

const PLAIN_HTTP_LOOK_MS = 300;

export async function plainHttpNextDoor(err: unknown, port: number, signal: AbortSignal): Promise<Surroundings> {
  if (port === 80 || !(err instanceof DialError) || err.code !== 'ECONNREFUSED' || err.addresses.length === 0)
    return {};
  const within = AbortSignal.any([signal, AbortSignal.timeout(PLAIN_HTTP_LOOK_MS)]);
  return (await acceptsConnections(err.addresses, 80, within)) ? { plainHttpAccepts: true } : {};
}
