/** Each probe kind's failure class: the same failure with other numbers keeps its class, another failure does not. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DialError } from '../src/net/dial.js';
import { failureClassOf } from '../src/probes/index.js';
import { networkFailureClass, UNCLASSED } from '../src/probes/failure-classes.js';
import type { JsonObject, ProbeResult } from '../src/probes/types.js';
import { freePort } from './helpers/servers.js';

function result(reason: string, details: JsonObject = {}, code?: string): ProbeResult {
  return {
    status: 'fail',
    reason,
    timings: { total: 0 },
    details,
    observations: [],
    ...(code ? { code } : {}),
  };
}

/** A real refused connection's error, as the probes see it. */
async function refusedError(): Promise<NodeJS.ErrnoException> {
  const port = await freePort();
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', (err) => resolve(err));
  });
}

describe('failure classes', () => {
  it('http: the code the probe set where the failure was decided, whatever the numbers', () => {
    const c = (reason: string, code?: string) => failureClassOf('http', result(reason, {}, code));
    expect(c('status 502, expected 200', 'http_status')).toBe(c('status 503, expected 200', 'http_status'));
    expect(c('connect ECONNREFUSED 127.0.0.1:1', 'connect_refused')).toBe('connect_refused');
    expect(c('a result from before classes')).toBe(UNCLASSED);
  });

  it('network errors: refused, timeouts by phase, TLS and DNS failures are each their own class', async () => {
    const refused = await refusedError();
    expect(networkFailureClass(refused, 'connecting', false)).toBe('connect_refused');
    expect(networkFailureClass(new DialError('connecting', refused), 'first byte', false)).toBe('connect_refused');
    expect(networkFailureClass(new Error('x'), 'connecting', true)).toBe('timeout_connecting');
    expect(networkFailureClass(new Error('x'), 'first byte', true)).toBe('timeout_first_byte');
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' });
    expect(networkFailureClass(new DialError('resolving', dns), 'resolving', false)).toBe('dns');
    const tls = Object.assign(new Error('wrong version'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    expect(networkFailureClass(tls, 'tls handshake', false)).toBe('tls_handshake_ERR_SSL_WRONG_VERSION_NUMBER');
    const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(networkFailureClass(reset, 'first byte', false)).toBe('connection_reset');
  });

  it('tls and cert_file: the worst certificate problem, not its serial numbers or days', () => {
    for (const type of ['tls', 'cert_file']) {
      expect(failureClassOf(type, result('a is not in the SANs [b]', { problems: ['name_not_covered'] }))).toBe(
        'name_not_covered',
      );
      expect(
        failureClassOf(
          type,
          result('the server serves serial 01 …', { problems: ['served_differs_from_file', 'name_not_covered'] }),
        ),
      ).toBe('served_differs_from_file');
      expect(failureClassOf(type, result('expired 3 days ago', { problems: ['expired'] }))).toBe(
        failureClassOf(type, result('expired 9 days ago', { problems: ['expired'] })),
      );
    }
  });

  it('dns: the code the probe set (NXDOMAIN, SERVFAIL, timeout, an unexpected answer)', () => {
    expect(failureClassOf('dns', result('x: NXDOMAIN', {}, 'enotfound'))).toBe('enotfound');
    expect(failureClassOf('dns', result('x resolves to 10.0.0.2, expected 10.0.0.1', {}, 'unexpected_answer'))).toBe(
      'unexpected_answer',
    );
  });

  it('port: which rule of the verdict failed, from the details the probe writes', () => {
    const port = (reason: string, details: JsonObject) => failureClassOf('port', result(reason, details));
    expect(
      port('nothing listens on 127.0.0.1:8000: the service is down', { expect: 'listening', listening: false }),
    ).toBe('not_listening');
    expect(
      port('127.0.0.1:8000 is held by python3 (pid 1), expected container web', {
        expect: 'listening',
        listening: true,
        owner_ok: false,
      }),
    ).toBe('wrong_owner');
    expect(port('127.0.0.1:6379 answers but should be closed', { expect: 'closed', listening: true })).toBe(
      'should_be_closed',
    );
    expect(
      port('127.0.0.1:5432 is bound to all interfaces (0.0.0.0:5432), expected loopback only', {
        expect: 'listening',
        listening: true,
      }),
    ).toBe('bound_to_all_interfaces');
    expect(
      port('127.0.0.1:80 is listening, but its owner could not be determined (expected unit nginx)', {
        expect: 'listening',
        listening: true,
      }),
    ).toBe('owner_unknown');
    expect(port('dns: cannot resolve db (no such host)', { listening: false, owner: null })).toBe('connect_error');
  });

  it('container: the worst container verdict, with or without its name first, never a quoted log line', () => {
    const container = (reason: string, containers: JsonObject[] = [{ name: 'web' }]) =>
      failureClassOf('container', result(reason, { containers }));
    expect(container('restarting (RestartCount 3 in 10m), exited 3: ModuleNotFoundError')).toBe('restarting');
    expect(container('restarting (RestartCount 60 in 10m), exited 3 every time')).toBe('restarting');
    expect(container('web-1: not running (exited, exited 1: killed for running out of memory)')).toBe('not_running');
    expect(container('killed for running out of memory (OOMKilled, exited 137)')).toBe('oom_killed');
    expect(container('web-1: paused (and 1 more not ok)')).toBe('paused');
    expect(container('unhealthy (3 failed checks in a row): curl: (7)')).toBe('unhealthy');
    expect(container('container web not found', [])).toBe('missing');
    expect(container('cannot reach the Docker engine at /var/run/docker.sock', [])).toBe('engine_error');
  });
});
