/**
 * Failure classes (ProbeResult.code) that are read off a result rather than set where the failure is decided:
 * network errors as every kind words them, certificate problem codes, and the port and container kinds, whose
 * verdicts are classed from their details and reason. A class names what went wrong, never by how much.
 */
import { DialError } from '../net/dial.js';
import { isTimeout } from '../net/explain.js';
import { jsonObject, jsonStrings } from './facts.js';
import type { JsonObject, ProbeResult } from './types.js';

/** The class of a result no rule below recognises: a check whose failures are all unclassed never "changes". */
export const UNCLASSED = 'failing';

const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connect_refused',
  ENOTFOUND: 'dns',
  EAI_NONAME: 'dns',
  EAI_AGAIN: 'dns',
  ENODATA: 'dns',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  UND_ERR_HEADERS_OVERFLOW: 'headers_too_large',
};

/** "timeout_connecting", "connect_refused", "tls_ERR_SSL_…": the class of a failed connection or request. */
export function networkFailureClass(err: unknown, phase: string, timedOut: boolean): string {
  if (timedOut || isTimeout(err)) return `timeout_${phase.replace(/ /g, '_')}`;
  const at = err instanceof DialError ? err.phase : phase;
  const e = (err instanceof DialError ? err.cause : err) as NodeJS.ErrnoException | undefined;
  const code = e?.code ?? '';
  if (code === 'ETIMEDOUT') return `timeout_${at.replace(/ /g, '_')}`;
  if (at === 'tls handshake' || code.startsWith('ERR_SSL_')) return `tls_handshake${code ? `_${code}` : ''}`;
  if (WORDS[code]) return WORDS[code];
  if (code.startsWith('HPE_') || e?.name === 'HTTPParserError') return 'not_http';
  return code ? `error_${code}` : `error_${at.replace(/ /g, '_')}`;
}

/** The worst certificate problem of a result (details.problems lists them worst first), if it has any. */
export function problemClass(details: JsonObject): string | undefined {
  return jsonStrings(details.problems)[0];
}

/** A port check: which rule of its verdict failed, read from the details it always writes. */
export function portFailureClass(result: ProbeResult): string {
  const d = result.details;
  if (d.expect === undefined) return 'connect_error';
  if (d.expect === 'closed') return d.listening === true ? 'should_be_closed' : UNCLASSED;
  if (d.listening === false) return 'not_listening';
  if (d.owner_ok === false) return 'wrong_owner';
  // Both remaining warnings leave owner_ok unset; only the reason tells them apart.
  if (/bound to all interfaces/.test(result.reason)) return 'bound_to_all_interfaces';
  if (d.owner_ok === undefined && /owner could not be determined/.test(result.reason)) return 'owner_unknown';
  return UNCLASSED;
}

/**
 * A container's verdict as the start of its reason states it (rules in src/docker/assess.ts); a check that selects
 * by labels puts the worst container's name first ("web-1: paused"). Log lines quoted later in it are not read.
 */
const CONTAINER_REASONS: [string, string][] = [
  ['killed for running out of memory', 'oom_killed'],
  ['restarting (', 'restarting'],
  ['paused', 'paused'],
  ['created but never started', 'never_started'],
  ['not running (', 'not_running'],
  ['unhealthy', 'unhealthy'],
  ['health check still starting', 'health_starting'],
  ['no container matches', 'missing'],
];
const CONTAINER_NAME_PREFIX = /^[\w.-]+: /;

/** A container check: the verdict of its worst container, or that none could be looked at (the engine's error). */
export function containerFailureClass(result: ProbeResult): string {
  if (/^container .* not found$/.test(result.reason)) return 'missing';
  const verdict = result.reason.replace(CONTAINER_NAME_PREFIX, '');
  for (const text of [result.reason, verdict])
    for (const [start, cls] of CONTAINER_REASONS) if (text.startsWith(start)) return cls;
  const containers = Array.isArray(result.details.containers) ? result.details.containers : [];
  return containers.some((c) => jsonObject(c) !== undefined) ? UNCLASSED : 'engine_error';
}
