/** Container checks when the engine is missing, refuses, misbehaves or answers what podman will not (real sockets, stand-in engines). */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { demultiplex } from '../src/docker/frames.js';
import { containerCheck, containers, fakeEngine, runContainerCheck } from './helpers/container-check.js';
import { runProbeAsNobody } from './helpers/probe-as-nobody.js';
import { tempDir } from './helpers/service.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let scratch: ReturnType<typeof tempDir>;

beforeAll(() => {
  scratch = tempDir('forgewatch-container-');
});

afterAll(async () => {
  await scratch?.cleanup();
});

describe('container check when the engine is unreachable or odd', () => {
  it('fails with a reason when the socket is missing', async () => {
    const rec = await runContainerCheck(
      containerCheck('nosock', 'container: anything', path.join(scratch.dir, 'missing.sock')),
    );
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^docker socket .*missing\.sock not found$/);
    expect(rec.result.hint).toMatch(/DOCKER_HOST/);
  });

  it('fails with a reason when the socket refuses connections (stale socket)', async () => {
    const socket = path.join(scratch.dir, 'stale.sock');
    // A process that dies without closing leaves its socket file behind, as a crashed engine does.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await new Promise((resolve) => child.once('exit', resolve));
    const rec = await runContainerCheck(containerCheck('stale', 'container: anything', socket));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/refuses connections$/);
  });

  it('fails with a permission hint when the socket is not ours to open', async () => {
    const dir = path.join(scratch.dir, 'shared');
    mkdirSync(dir);
    chmodSync(scratch.dir, 0o755);
    chmodSync(dir, 0o755);
    const socket = path.join(dir, 'docker.sock');
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    chmodSync(socket, 0o600);
    try {
      // Run as an unprivileged user: root would bypass the socket's permissions.
      const result = await runProbeAsNobody('container', 'probeContainer', {
        container: 'x',
        socket,
        max_restarts: 0,
        window: 60_000,
        require_healthy: true,
      });
      expect(result.status).toBe('fail');
      expect(result.reason).toBe(`permission denied on docker socket ${socket}`);
      expect(result.hint).toMatch(/docker group/);
    } finally {
      server.close();
    }
  });

  it('reports OOMKilled from a recorded Docker inspect answer, with demultiplexed logs', async () => {
    const inspect = readFileSync(path.join(here, 'fixtures/docker-inspect-oomkilled.json'), 'utf8');
    const frame = (stream: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    const logs = Buffer.concat([
      frame(1, '2026-11-25T03:17:50Z loading embeddings\n'),
      frame(2, '2026-11-25T03:17:52Z Killed\n'),
    ]);
    expect(demultiplex(logs)).toBe('2026-11-25T03:17:50Z loading embeddings\n2026-11-25T03:17:52Z Killed\n');
    const socket = path.join(scratch.dir, 'recorded.sock');
    const seen: string[] = [];
    const engine = await fakeEngine(socket, (req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.47', MinAPIVersion: '1.24' }));
      if (req.url === '/v1.43/containers/forgetrace-worker/json') return res.end(inspect);
      if (
        req.url?.startsWith('/v1.43/containers/5f1c9a3e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a/logs?')
      )
        return res.end(logs);
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'not recorded' }));
    });
    try {
      const rec = await runContainerCheck(containerCheck('worker', 'container: forgetrace-worker', socket));
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe(
        'killed for running out of memory (OOMKilled, exited 137 (killed: SIGKILL or out of memory)): Killed',
      );
      expect(containers(rec.result.details)[0]).toMatchObject({
        oom_killed: true,
        image: 'forgetrace/worker:1.4.2',
        logs: '2026-11-25T03:17:50Z loading embeddings\n2026-11-25T03:17:52Z Killed',
      });
      expect(rec.result.observations).toContainEqual({
        metric: 'forgewatch_container_oom_killed',
        labels: { container: 'forgetrace-worker' },
        value: 1,
      });
      // The engine speaks 1.47; this client caps at 1.43 and asks for the log tail with timestamps.
      expect(seen.some((u) => /\/logs\?stdout=1&stderr=1&timestamps=1&tail=20$/.test(u))).toBe(true);
    } finally {
      engine.close();
    }
  });

  it('counts each exit code and the OOM kills of a crash loop from a recorded events answer, and survives a hung one', async () => {
    const id = 'e'.repeat(64);
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    // Caught running between two crashes: exit code 0 in the inspect answer, as Docker reports it.
    const inspect = {
      Id: id,
      Name: '/forgetrace-backend',
      Created: iso(now - 9 * 60_000),
      RestartCount: 43,
      State: { Status: 'running', Running: true, ExitCode: 0, StartedAt: iso(now - 1000), FinishedAt: iso(now - 1100) },
    };
    // Docker's events for the window: 41 deaths with 3, then two OOM kills (an `oom`, then a `die` with 137).
    const die = (code: number, at: number) => ({
      status: 'die',
      id,
      Type: 'container',
      Action: 'die',
      Actor: { ID: id, Attributes: { exitCode: String(code), name: 'forgetrace-backend' } },
      time: Math.floor(at / 1000),
    });
    const oom = (at: number) => ({ ...die(0, at), status: 'oom', Action: 'oom', Actor: { ID: id, Attributes: {} } });
    const recorded = [
      ...Array.from({ length: 41 }, (_, i) => die(3, now - 500_000 + i * 10_000)),
      oom(now - 60_000),
      die(137, now - 60_000),
      oom(now - 2000),
      die(137, now - 2000),
    ];
    const socket = path.join(scratch.dir, 'events.sock');
    const seen: URL[] = [];
    let hang = false;
    const engine = await fakeEngine(socket, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://engine');
      if (url.pathname === '/version') return res.end(JSON.stringify({ ApiVersion: '1.45' }));
      if (url.pathname === '/v1.43/containers/forgetrace-backend/json') return res.end(JSON.stringify(inspect));
      if (url.pathname === `/v1.43/containers/${id}/logs`)
        return res.end('2026-11-25T03:17:52Z ModuleNotFoundError: No module named aiosqlite\n');
      if (url.pathname === '/v1.43/events') {
        seen.push(url);
        if (hang) return; // never answers
        return res.end(recorded.map((e) => `${JSON.stringify(e)}\n`).join(''));
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'not recorded' }));
    });
    try {
      const yaml = containerCheck('backend', 'container: forgetrace-backend', socket);
      const rec = await runContainerCheck(yaml);
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe(
        'restarting (RestartCount 43 in 10m), exited 137 (2 times, the last), 3 (41 times), killed for running out of memory (OOM) 2 times: ModuleNotFoundError: No module named aiosqlite',
      );
      expect(rec.result.hint).toMatch(/exceeding its memory limit/);
      expect(containers(rec.result.details)[0]).toMatchObject({
        exit_codes_in_window: { '3': 41, '137': 2 },
        oom_kills_in_window: 2,
      });
      // The window's events only, for this container, up to now (so the engine closes the answer).
      const asked = seen[0] as URL;
      expect(JSON.parse(asked.searchParams.get('filters') ?? '')).toEqual({
        container: [id],
        type: ['container'],
        event: ['die', 'died', 'oom'],
      });
      const since = Number(asked.searchParams.get('since'));
      const until = Number(asked.searchParams.get('until'));
      expect(until - since).toBeGreaterThanOrEqual(599);
      expect(until - since).toBeLessThanOrEqual(601);
      expect(asked.searchParams.get('until')).toMatch(/^\d+\.\d{9}$/);

      // An events call that never answers costs a slice of the run, not the check: today's wording.
      hang = true;
      const started = Date.now();
      const blind = await runContainerCheck(yaml.replace('timeout: 10s', 'timeout: 2s'));
      expect(blind.result.status).toBe('fail');
      expect(blind.result.reason).toBe(
        'restarting (RestartCount 43 in 10m), exit code not seen yet: ModuleNotFoundError: No module named aiosqlite',
      );
      expect(containers(blind.result.details)[0]).not.toHaveProperty('exit_codes_in_window');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      engine.close();
    }
  });

  it('turns engine errors and answers that are not JSON into failed checks', async () => {
    const socket = path.join(scratch.dir, 'broken.sock');
    const engine = await fakeEngine(socket, (req, res) => {
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      if (req.url?.startsWith('/v1.41/containers/json')) return res.end('<html>proxy error</html>');
      res.statusCode = 500;
      res.end(JSON.stringify({ message: 'layer does not exist' }));
    });
    try {
      const byName = await runContainerCheck(containerCheck('broken', 'container: web', socket));
      expect(byName.result.status).toBe('fail');
      expect(byName.result.reason).toBe('docker engine error 500: layer does not exist');
      const byLabel = await runContainerCheck(containerCheck('broken-list', 'labels: { app: web }', socket));
      expect(byLabel.result.reason).toBe(
        'docker engine answered /v1.41/containers/json with status 200 and a body that is not JSON',
      );
    } finally {
      engine.close();
    }
  });

  it('turns a connection dropped in the middle of an answer into a failed check', async () => {
    const socket = path.join(scratch.dir, 'dropping.sock');
    const engine = await fakeEngine(socket, (req, res) => {
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      // Headers and the start of the body, then the engine goes away (or stalls, for the slow one).
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"Id":"');
      if (req.url?.startsWith('/v1.41/containers/web/')) res.socket?.destroy();
    });
    try {
      const dropped = await runContainerCheck(containerCheck('dropped', 'container: web', socket));
      expect(dropped.result.status).toBe('fail');
      expect(dropped.result.reason).toBe(`docker engine: UND_ERR_SOCKET: other side closed (${socket})`);
      expect(dropped.result.hint).toMatch(/dropped the connection/);
      // A body that stalls is still the run's timeout, not an engine error.
      const stalled = await runContainerCheck(
        containerCheck('stalled', 'container: slow', socket).replace('timeout: 10s', 'timeout: 500ms'),
      );
      expect(stalled.result.reason).toBe('timeout after 500ms');
    } finally {
      engine.close();
    }
  });

  it('says only unix:// sockets are supported when DOCKER_HOST is tcp://', async () => {
    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:2375';
    try {
      const rec = await runContainerCheck('checks:\n  - name: tcp-host\n    type: container\n    container: web\n');
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe('DOCKER_HOST=tcp://127.0.0.1:2375 is not supported: only unix:// sockets are');
      expect(rec.result.hint).toMatch(/socket:/);
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
    }
  });

  it('says when a label selector matches more containers than it checks, and asks the engine its version once', async () => {
    const socket = path.join(scratch.dir, 'crowded.sock');
    const ids = Array.from({ length: 60 }, (_, i) => i.toString(16).padStart(64, '0'));
    const seen: string[] = [];
    const engine = await fakeEngine(socket, (req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.43' }));
      if (req.url?.startsWith('/v1.43/containers/json?'))
        return res.end(JSON.stringify(ids.map((Id, i) => ({ Id, Names: [`/worker-${i}`] }))));
      const id = /^\/v1\.43\/containers\/([0-9a-f]{64})\/json$/.exec(req.url ?? '')?.[1];
      if (id) {
        return res.end(
          JSON.stringify({
            Id: id,
            Name: `/worker-${ids.indexOf(id)}`,
            Created: '2026-01-01T00:00:00Z',
            RestartCount: 0,
            State: { Status: 'running', Running: true, StartedAt: '2026-01-01T00:00:01Z' },
          }),
        );
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'not recorded' }));
    });
    try {
      // Two runs of one check (its memory kept between them), as on a schedule.
      const rec = await runContainerCheck(
        containerCheck('crowd', 'labels: { app: worker }', socket),
        async () => undefined,
      );
      expect(rec.result.status).toBe('ok');
      expect(rec.result.reason).toBe(
        '50 containers running (only the first 50 of 60 matching containers were checked)',
      );
      expect(containers(rec.result.details)).toHaveLength(50);
      expect(seen.filter((u) => u === '/version')).toHaveLength(1);
      expect(seen.filter((u) => u.startsWith('/v1.43/containers/json?'))).toHaveLength(2);
    } finally {
      engine.close();
    }
  });

  it('fails with a timeout, not a hang, when the engine never answers', async () => {
    const socket = path.join(scratch.dir, 'hung.sock');
    const engine = net.createServer(() => undefined);
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      const rec = await runContainerCheck(
        containerCheck('hung', 'container: web', socket).replace('timeout: 10s', 'timeout: 500ms'),
      );
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe('timeout after 500ms');
    } finally {
      engine.close();
    }
  });

  it('rejects a container check that names no container, with the place in the file', () => {
    expect(() => parseConfig('checks:\n  - name: c\n    type: container\n    window: 5m\n', 'forgewatch.yaml')).toThrow(
      /forgewatch\.yaml:\d+:\d+ checks\[0\] \([a-z0-9_.-]+\)\.container: set container \(a name or id\) or labels/,
    );
    expect(() =>
      parseConfig(
        'checks:\n  - name: c\n    type: container\n    container: web\n    window: soon\n',
        'forgewatch.yaml',
      ),
    ).toThrow(/checks\[0\] \([a-z0-9_.-]+\)\.window: expected a duration/);
    expect(() =>
      parseConfig('checks:\n  - name: c\n    type: container\n    container: /\n', 'forgewatch.yaml'),
    ).toThrow(/checks\[0\] \([a-z0-9_.-]+\)\.container: expected a container name or id, got "\/"/);
  });
});
