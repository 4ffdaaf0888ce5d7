/** Container checks against a real podman engine through its Docker-compatible API. */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { demultiplex } from '../src/docker/frames.js';
import type { JsonObject } from '../src/probes/types.js';
import { monitorFor } from './helpers/checks.js';
import { startPodman, type Podman } from './helpers/podman.js';
import { freePort } from './helpers/servers.js';
import { runProbeAsNobody } from './helpers/probe-as-nobody.js';
import { startForgewatch, tempDir, waitFor } from './helpers/service.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let podman: Podman;
let scratch: ReturnType<typeof tempDir>;

beforeAll(async () => {
  podman = await startPodman();
  scratch = tempDir('forgewatch-container-');
});

afterAll(async () => {
  await podman?.close();
  await scratch?.cleanup();
});

function containerCheck(name: string, body: string, socket = podman.socket): string {
  return `checks:\n  - name: ${name}\n    type: container\n    socket: ${socket}\n    timeout: 10s\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`;
}

/** Runs a one-check config through the real loader and monitor; `runs` > 1 keeps the check's memory between runs. */
async function runContainerCheck(yaml: string, before?: () => Promise<void>) {
  const monitor = monitorFor(yaml);
  try {
    const name = (monitor.checks[0] as { name: string }).name;
    const first = await monitor.run(name);
    if (!before) return first;
    await before();
    return await monitor.run(name);
  } finally {
    await monitor.close();
  }
}

function containers(details: JsonObject): JsonObject[] {
  return details.containers as JsonObject[];
}

async function restartCount(name: string): Promise<number> {
  return Number(await podman.cli(['inspect', '--format', '{{.RestartCount}}', name]));
}

describe('container check against podman', () => {
  it('passes for a running, healthy container and reports its state', async () => {
    await podman.runContainer('fw-web', ['--health-cmd', 'echo all good', '--label', 'fw.role=web'], ['/bin/sh', '-c', 'sleep 600']);
    await podman.cli(['healthcheck', 'run', 'fw-web']);
    const rec = await runContainerCheck(containerCheck('web', 'container: fw-web'));
    expect(rec.result.status).toBe('ok');
    expect(rec.result.reason).toMatch(/^running \(healthy\), up .*, RestartCount 0$/);
    const [c] = containers(rec.result.details);
    expect(c).toMatchObject({ name: 'fw-web', state: 'running', running: true, restart_count: 0, oom_killed: false, health: 'healthy', health_output: 'all good' });
    expect(rec.result.observations).toContainEqual({ metric: 'forgewatch_container_running', labels: { container: 'fw-web' }, value: 1 });
    expect(rec.result.observations).toContainEqual({ metric: 'forgewatch_container_health', labels: { container: 'fw-web', status: 'healthy' }, value: 1 });

    // Named as `docker inspect` shows it, with the leading slash.
    const slashed = await runContainerCheck(containerCheck('web-slash', 'container: /fw-web'));
    expect(slashed.result.status).toBe('ok');
    expect(containers(slashed.result.details)[0]).toMatchObject({ name: 'fw-web', running: true });
    expect(() => parseConfig('checks:\n  - name: c\n    type: container\n    container: /\n', 'forgewatch.yaml')).toThrow(/checks\[0\]\.container: expected a container name or id, got "\/"/);
  });

  it('fails a crash loop and quotes the log line that explains it', async () => {
    await podman.runContainer('fw-loop', ['--restart=always'], ['/bin/sh', '-c', 'echo "starting worker"; echo "ModuleNotFoundError: No module named aiosqlite" >&2; exit 1']);
    const monitor = monitorFor(containerCheck('loop', 'container: fw-loop\nmax_restarts: 0\nwindow: 10m'));
    let rec;
    try {
      const seen = await restartCount('fw-loop');
      await monitor.run('loop');
      await waitFor(async () => (await restartCount('fw-loop')) > seen + 1, 20_000, 200);
      // A run that catches the container in its short running phase sees exit code 0; the check keeps
      // the last failed exit it saw within the window, so runs on the schedule name it.
      for (let i = 0; i < 20; i++) {
        rec = await monitor.run('loop');
        expect(rec.result.status).toBe('fail');
        expect(rec.result.reason).toMatch(/^restarting \(RestartCount \d+ in 10m\)/);
        if (rec.result.reason.includes('exited 1')) break;
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } finally {
      await monitor.close();
    }
    if (!rec) throw new Error('the check never ran');
    expect(rec.result.reason).toMatch(/^restarting \(RestartCount \d+ in 10m\), exited 1: ModuleNotFoundError: No module named aiosqlite$/);
    expect(rec.result.hint).toMatch(/missing from the image/);
    const [c] = containers(rec.result.details);
    expect(c?.restart_count).toBeGreaterThan(1);
    expect(String(c?.logs)).toContain('ModuleNotFoundError: No module named aiosqlite');
    expect(String(c?.logs)).toContain('starting worker');
  });

  it('catches on its first run a restart within the window of a container created before it', async () => {
    // Runs 3.5 s, exits 1 once, is restarted by its policy and then stays up: created outside a 3 s
    // window, restarted inside it, caught running (exit 0) by one-shot runs with no history.
    await podman.runContainer('fw-once', ['--restart=always'], ['/bin/sh', '-c', 'if [ -e /restarted ]; then exec sleep 600; fi; echo > /restarted; echo "worker: cannot connect to redis" >&2; sleep 3.5; exit 1']);
    const strictYaml = containerCheck('once', 'container: fw-once\nmax_restarts: 0\nwindow: 3s');
    // Each poll is a first run; the one that first sees the restart judges it.
    const strict = await waitFor(async () => {
      const rec = await runContainerCheck(strictYaml);
      const c = containers(rec.result.details)[0];
      return c?.restart_count === 1 && c.running === true ? rec : undefined;
    }, 20_000, 100);
    expect(strict.result.status).toBe('fail');
    expect(strict.result.reason).toBe('restarting (RestartCount 1 in 3s), exit code not seen yet: worker: cannot connect to redis');
    expect(containers(strict.result.details)[0]).toMatchObject({ restart_count: 1, restarts_in_window: 1, exit_code: 0 });
    const tolerant = await runContainerCheck(containerCheck('once-tolerant', 'container: fw-once\nmax_restarts: 1\nwindow: 3s'));
    expect(tolerant.result.status).toBe('ok');

    // Once the restart is older than the window, the same container is a healthy long-runner with an old RestartCount.
    const startedAt = Date.parse(String(containers(strict.result.details)[0]?.started_at));
    expect(Number.isFinite(startedAt)).toBe(true);
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 3100 - Date.now())));
    const later = await runContainerCheck(strictYaml);
    expect(later.result.status).toBe('ok');
    expect(later.result.reason).toMatch(/^running, up .*, RestartCount 1$/);
  });

  it('quotes a huge log line only in part', async () => {
    // 4 KiB of x after "fatal: ", on one line (podman splits longer lines in its log files).
    await podman.runContainer('fw-verbose', [], ['/bin/sh', '-c', 's=x; i=0; while [ $i -lt 12 ]; do s=$s$s; i=$((i+1)); done; echo "fatal: $s" >&2; exit 1']);
    await waitFor(async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-verbose'])) !== 'running', 10_000, 100);
    const rec = await runContainerCheck(containerCheck('verbose', 'container: fw-verbose'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^not running \(exited, exited 1: fatal: x+…\)$/);
    expect(rec.result.reason.length).toBeLessThan(350);
  });

  it('tolerates restarts up to max_restarts but still reports a stopped container with its exit', async () => {
    await podman.runContainer('fw-stopped', [], ['/bin/sh', '-c', 'echo "fatal: DATABASE_URL is not set" >&2; exit 3']);
    await waitFor(async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-stopped'])) !== 'running', 10_000, 100);
    const rec = await runContainerCheck(containerCheck('stopped', 'container: fw-stopped\nmax_restarts: 5'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toBe('not running (exited, exited 3: fatal: DATABASE_URL is not set)');
    expect(containers(rec.result.details)[0]).toMatchObject({ running: false, exit_code: 3 });
    expect(rec.result.observations).toContainEqual({ metric: 'forgewatch_container_state', labels: { container: 'fw-stopped', state: 'exited' }, value: 1 });
  });

  it('fails an unhealthy container with the health check output', async () => {
    await podman.runContainer('fw-sick', ['--health-cmd', 'echo database unreachable; exit 1', '--health-retries', '1'], ['/bin/sh', '-c', 'sleep 600']);
    await podman.cli(['healthcheck', 'run', 'fw-sick']).catch(() => undefined);
    const rec = await runContainerCheck(containerCheck('sick', 'container: fw-sick'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^unhealthy.*: database unreachable$/);
    const relaxed = await runContainerCheck(containerCheck('sick-relaxed', 'container: fw-sick\nrequire_healthy: false'));
    expect(relaxed.result.status).toBe('ok');
  });

  it('reports every container a label selector matches and names the bad one', async () => {
    await podman.runContainer('fw-api-1', ['--label', 'fw.service=api'], ['/bin/sh', '-c', 'sleep 600']);
    await podman.runContainer('fw-api-2', ['--label', 'fw.service=api'], ['/bin/sh', '-c', 'exit 2']);
    await waitFor(async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-api-2'])) !== 'running', 10_000, 100);
    const rec = await runContainerCheck(containerCheck('api', 'labels: { fw.service: api }'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^fw-api-2: not running \(exited, exited 2/);
    expect(containers(rec.result.details).map((c) => c.name).sort()).toEqual(['fw-api-1', 'fw-api-2']);
    const running = rec.result.observations.filter((o) => o.metric === 'forgewatch_container_running');
    expect(running).toEqual(expect.arrayContaining([
      { metric: 'forgewatch_container_running', labels: { container: 'fw-api-1' }, value: 1 },
      { metric: 'forgewatch_container_running', labels: { container: 'fw-api-2' }, value: 0 },
    ]));
  });

  it('counts a restart that moved StartedAt without bumping RestartCount, and honours DOCKER_HOST', async () => {
    await podman.runContainer('fw-restarted', [], ['/bin/sh', '-c', 'sleep 600']);
    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${podman.socket}`;
    try {
      // No socket key: the check finds the engine through DOCKER_HOST.
      const yaml = 'checks:\n  - name: restarted\n    type: container\n    container: fw-restarted\n';
      const rec = await runContainerCheck(yaml, async () => {
        await podman.cli(['restart', '-t', '0', 'fw-restarted']);
      });
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe('restarting (restarted 1 time in 10m, RestartCount 0)');
      expect(rec.result.details.socket).toBe(podman.socket);
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
    }
  });

  it('warns when the health check is still starting after the window', async () => {
    await podman.runContainer('fw-slow', ['--health-cmd', 'true'], ['/bin/sh', '-c', 'sleep 600']);
    await new Promise((r) => setTimeout(r, 1200));
    const rec = await runContainerCheck(containerCheck('slow', 'container: fw-slow\nwindow: 1s'));
    expect(rec.result.status).toBe('warn');
    expect(rec.result.reason).toMatch(/^health check still starting after \d+(\.\d)?s$/);
  });

  it('fails for a name the engine does not know', async () => {
    const rec = await runContainerCheck(containerCheck('ghost', 'container: fw-does-not-exist'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toBe('container fw-does-not-exist not found');
    expect(rec.result.observations).toContainEqual({ metric: 'forgewatch_container_running', labels: { container: 'fw-does-not-exist' }, value: 0 });
  });

  it('finds the container that holds a port through its cgroup', async () => {
    const port = await freePort();
    await podman.runContainer('fw-httpd', [], ['/bin/busybox', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/']);
    const yaml = `checks:\n  - name: port-by-container\n    type: port\n    port: ${port}\n    socket: ${podman.socket}\n    owner: { container: fw-httpd }\n`;
    const settled = await waitFor(async () => {
      const r = await runContainerCheck(yaml);
      return r.result.status === 'ok' ? r : undefined;
    }, 10_000, 100);
    expect(settled.result.details.owner).toMatchObject({ process: 'busybox', container: 'fw-httpd' });
    expect(String((settled.result.details.owner as JsonObject).cmdline)).toContain('httpd -f -p');
    expect(settled.result.reason).toMatch(/held by busybox \(pid \d+, container fw-httpd\)/);
    const slashed = await runContainerCheck(yaml.replace('container: fw-httpd', 'container: /fw-httpd'));
    expect(slashed.result.status).toBe('ok');
    expect(slashed.result.details.owner_ok).toBe(true);
  });
});

describe('container check when the engine is unreachable or odd', () => {
  it('fails with a reason when the socket is missing', async () => {
    const rec = await runContainerCheck(containerCheck('nosock', 'container: anything', path.join(scratch.dir, 'missing.sock')));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^docker socket .*missing\.sock not found$/);
    expect(rec.result.hint).toMatch(/DOCKER_HOST/);
  });

  it('fails with a reason when the socket refuses connections (stale socket)', async () => {
    const socket = path.join(scratch.dir, 'stale.sock');
    // A process that dies without closing leaves its socket file behind, as a crashed engine does.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
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
      const result = await runProbeAsNobody('container', 'probeContainer', { container: 'x', socket, max_restarts: 0, window: 60_000, require_healthy: true });
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
    const logs = Buffer.concat([frame(1, '2026-11-25T03:17:50Z loading embeddings\n'), frame(2, '2026-11-25T03:17:52Z Killed\n')]);
    expect(demultiplex(logs)).toBe('2026-11-25T03:17:50Z loading embeddings\n2026-11-25T03:17:52Z Killed\n');
    const socket = path.join(scratch.dir, 'recorded.sock');
    const seen: string[] = [];
    const engine = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.47', MinAPIVersion: '1.24' }));
      if (req.url === '/v1.43/containers/forgetrace-worker/json') return res.end(inspect);
      if (req.url?.startsWith('/v1.43/containers/5f1c9a3e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a/logs?')) return res.end(logs);
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'not recorded' }));
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      const rec = await runContainerCheck(containerCheck('worker', 'container: forgetrace-worker', socket));
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe('killed for running out of memory (OOMKilled, exited 137 (killed: SIGKILL or out of memory)): Killed');
      expect(containers(rec.result.details)[0]).toMatchObject({ oom_killed: true, image: 'forgetrace/worker:1.4.2', logs: '2026-11-25T03:17:50Z loading embeddings\n2026-11-25T03:17:52Z Killed' });
      expect(rec.result.observations).toContainEqual({ metric: 'forgewatch_container_oom_killed', labels: { container: 'forgetrace-worker' }, value: 1 });
      // The engine speaks 1.47; this client caps at 1.43 and asks for the log tail with timestamps.
      expect(seen.some((u) => /\/logs\?stdout=1&stderr=1&timestamps=1&tail=20$/.test(u))).toBe(true);
    } finally {
      engine.close();
    }
  });

  it('turns engine errors and answers that are not JSON into failed checks', async () => {
    const socket = path.join(scratch.dir, 'broken.sock');
    const engine = http.createServer((req, res) => {
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      if (req.url?.startsWith('/v1.41/containers/json')) return res.end('<html>proxy error</html>');
      res.statusCode = 500;
      res.end(JSON.stringify({ message: 'layer does not exist' }));
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      const byName = await runContainerCheck(containerCheck('broken', 'container: web', socket));
      expect(byName.result.status).toBe('fail');
      expect(byName.result.reason).toBe('docker engine error 500: layer does not exist');
      const byLabel = await runContainerCheck(containerCheck('broken-list', 'labels: { app: web }', socket));
      expect(byLabel.result.reason).toBe('docker engine answered /v1.41/containers/json with status 200 and a body that is not JSON');
    } finally {
      engine.close();
    }
  });

  it('turns a connection dropped in the middle of an answer into a failed check', async () => {
    const socket = path.join(scratch.dir, 'dropping.sock');
    const engine = http.createServer((req, res) => {
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.41' }));
      // Headers and the start of the body, then the engine goes away (or stalls, for the slow one).
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"Id":"');
      if (req.url?.startsWith('/v1.41/containers/web/')) res.socket?.destroy();
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      const dropped = await runContainerCheck(containerCheck('dropped', 'container: web', socket));
      expect(dropped.result.status).toBe('fail');
      expect(dropped.result.reason).toBe(`docker engine: UND_ERR_SOCKET: other side closed (${socket})`);
      expect(dropped.result.hint).toMatch(/dropped the connection/);
      // A body that stalls is still the run's timeout, not an engine error.
      const stalled = await runContainerCheck(containerCheck('stalled', 'container: slow', socket).replace('timeout: 10s', 'timeout: 500ms'));
      expect(stalled.result.reason).toBe('timeout after 500ms');
    } finally {
      engine.closeAllConnections();
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
    const engine = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.43' }));
      if (req.url?.startsWith('/v1.43/containers/json?')) return res.end(JSON.stringify(ids.map((Id, i) => ({ Id, Names: [`/worker-${i}`] }))));
      const id = /^\/v1\.43\/containers\/([0-9a-f]{64})\/json$/.exec(req.url ?? '')?.[1];
      if (id) {
        return res.end(JSON.stringify({ Id: id, Name: `/worker-${ids.indexOf(id)}`, Created: '2026-01-01T00:00:00Z', RestartCount: 0, State: { Status: 'running', Running: true, StartedAt: '2026-01-01T00:00:01Z' } }));
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'not recorded' }));
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      // Two runs of one check (its memory kept between them), as on a schedule.
      const rec = await runContainerCheck(containerCheck('crowd', 'labels: { app: worker }', socket), async () => undefined);
      expect(rec.result.status).toBe('ok');
      expect(rec.result.reason).toBe('50 containers running (only the first 50 of 60 matching containers were checked)');
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
      const rec = await runContainerCheck(containerCheck('hung', 'container: web', socket).replace('timeout: 10s', 'timeout: 500ms'));
      expect(rec.result.status).toBe('fail');
      expect(rec.result.reason).toBe('timeout after 500ms');
    } finally {
      engine.close();
    }
  });

  it('rejects a container check that names no container, with the place in the file', () => {
    expect(() => parseConfig('checks:\n  - name: c\n    type: container\n    window: 5m\n', 'forgewatch.yaml')).toThrow(/forgewatch\.yaml:\d+:\d+ checks\[0\]\.container: set container \(a name or id\) or labels/);
    expect(() => parseConfig('checks:\n  - name: c\n    type: container\n    container: web\n    window: soon\n', 'forgewatch.yaml')).toThrow(/checks\[0\]\.window: expected a duration/);
  });

  it('exports the container gauges through /metrics of the running service', async () => {
    const fw = await startForgewatch(containerCheck('web-metrics', 'container: fw-web'));
    try {
      await fw.service.monitor.run('web-metrics');
      const text = await (await fetch(`${fw.url}/metrics`)).text();
      expect(text).toContain('forgewatch_container_running{check="web-metrics",container="fw-web"} 1');
      expect(text).toMatch(/forgewatch_container_started_timestamp_seconds\{check="web-metrics",container="fw-web"\} \d+/);
      expect(text).toContain('forgewatch_container_state{check="web-metrics",container="fw-web",state="running"} 1');
    } finally {
      await fw.close();
    }
  });
});
