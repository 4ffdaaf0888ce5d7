/** Container checks against a real podman engine through its Docker-compatible API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../src/probes/types.js';
import { monitorFor } from './helpers/checks.js';
import { containerCheck as checkOn, containers, runContainerCheck } from './helpers/container-check.js';
import { startPodman, type Podman } from './helpers/podman.js';
import { freePort } from './helpers/servers.js';
import { startForgewatch, waitFor } from './helpers/service.js';

let podman: Podman;

beforeAll(async () => {
  podman = await startPodman();
});

afterAll(async () => {
  await podman?.close();
});

function containerCheck(name: string, body: string): string {
  return checkOn(name, body, podman.socket);
}

async function restartCount(name: string): Promise<number> {
  return Number(await podman.cli(['inspect', '--format', '{{.RestartCount}}', name]));
}

describe('container check against podman', () => {
  it('passes for a running, healthy container and reports its state', async () => {
    await podman.runContainer(
      'fw-web',
      ['--health-cmd', 'echo all good', '--label', 'fw.role=web'],
      ['/bin/sh', '-c', 'sleep 600'],
    );
    await podman.cli(['healthcheck', 'run', 'fw-web']);
    const rec = await runContainerCheck(containerCheck('web', 'container: fw-web'));
    expect(rec.result.status).toBe('ok');
    expect(rec.result.reason).toMatch(/^running \(healthy\), up .*, RestartCount 0$/);
    const [c] = containers(rec.result.details);
    expect(c).toMatchObject({
      name: 'fw-web',
      state: 'running',
      running: true,
      restart_count: 0,
      oom_killed: false,
      health: 'healthy',
      health_output: 'all good',
    });
    expect(rec.result.observations).toContainEqual({
      metric: 'forgewatch_container_running',
      labels: { container: 'fw-web' },
      value: 1,
    });
    expect(rec.result.observations).toContainEqual({
      metric: 'forgewatch_container_health',
      labels: { container: 'fw-web', status: 'healthy' },
      value: 1,
    });

    // Named as `docker inspect` shows it, with the leading slash.
    const slashed = await runContainerCheck(containerCheck('web-slash', 'container: /fw-web'));
    expect(slashed.result.status).toBe('ok');
    expect(containers(slashed.result.details)[0]).toMatchObject({ name: 'fw-web', running: true });
  });

  it('fails a crash loop and quotes the log line that explains it', async () => {
    await podman.runContainer(
      'fw-loop',
      ['--restart=always'],
      ['/bin/sh', '-c', 'echo "starting worker"; echo "ModuleNotFoundError: No module named aiosqlite" >&2; exit 1'],
    );
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
    expect(rec.result.reason).toMatch(
      /^restarting \(RestartCount \d+ in 10m\), exited 1 every time: ModuleNotFoundError: No module named aiosqlite$/,
    );
    expect(rec.result.hint).toMatch(/missing from the image/);
    const [c] = containers(rec.result.details);
    expect(c?.restart_count).toBeGreaterThan(1);
    expect(String(c?.logs)).toContain('ModuleNotFoundError: No module named aiosqlite');
    expect(String(c?.logs)).toContain('starting worker');
  });

  it('names the exit code of every death in a fast crash loop from the engine events', async () => {
    await podman.runContainer(
      'fw-legacy',
      ['--restart=always'],
      ['/bin/sh', '-c', 'echo "ModuleNotFoundError: No module named \'legacy_backend\'" >&2; exit 3'],
    );
    await waitFor(async () => (await restartCount('fw-legacy')) >= 5, 20_000, 100);
    // One-shot runs with no history, as `forgewatch check` is: most catch it between two crashes.
    const rec = await runContainerCheck(containerCheck('legacy', 'container: fw-legacy'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(
      /^restarting \(RestartCount \d+ in 10m\), exited 3 every time: ModuleNotFoundError: No module named 'legacy_backend'$/,
    );
    const [c] = containers(rec.result.details);
    const deaths = (c?.exit_codes_in_window as JsonObject)['3'] as number;
    // Each restart follows a death; one more death may have come since, or the next restart may be under way.
    expect(deaths).toBeGreaterThanOrEqual(5);
    expect(Math.abs(deaths - Number(c?.restart_count))).toBeLessThanOrEqual(2);
    expect(c?.oom_kills_in_window).toBe(0);
    expect(rec.result.hint).toMatch(/missing from the image/);
  });

  it('catches on its first run a restart within the window of a container created before it', async () => {
    // Runs 3.5 s, exits 1 once, is restarted by its policy and then stays up: created outside a 3 s
    // window, restarted inside it, caught running (exit 0) by one-shot runs with no history.
    await podman.runContainer(
      'fw-once',
      ['--restart=always'],
      [
        '/bin/sh',
        '-c',
        'if [ -e /restarted ]; then exec sleep 600; fi; echo > /restarted; echo "worker: cannot connect to redis" >&2; sleep 3.5; exit 1',
      ],
    );
    const strictYaml = containerCheck('once', 'container: fw-once\nmax_restarts: 0\nwindow: 3s');
    // Each poll is a first run; the one that first sees the restart judges it.
    const strict = await waitFor(
      async () => {
        const rec = await runContainerCheck(strictYaml);
        const c = containers(rec.result.details)[0];
        return c?.restart_count === 1 && c.running === true ? rec : undefined;
      },
      20_000,
      100,
    );
    expect(strict.result.status).toBe('fail');
    // Caught running (exit code 0), the check still names the exit: the engine's `die` event recorded it.
    expect(strict.result.reason).toBe('restarting (RestartCount 1 in 3s), exited 1: worker: cannot connect to redis');
    expect(containers(strict.result.details)[0]).toMatchObject({
      restart_count: 1,
      restarts_in_window: 1,
      exit_code: 0,
    });
    const tolerant = await runContainerCheck(
      containerCheck('once-tolerant', 'container: fw-once\nmax_restarts: 1\nwindow: 3s'),
    );
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
    await podman.runContainer(
      'fw-verbose',
      [],
      ['/bin/sh', '-c', 's=x; i=0; while [ $i -lt 12 ]; do s=$s$s; i=$((i+1)); done; echo "fatal: $s" >&2; exit 1'],
    );
    await waitFor(
      async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-verbose'])) !== 'running',
      10_000,
      100,
    );
    const rec = await runContainerCheck(containerCheck('verbose', 'container: fw-verbose'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^not running \(exited, exited 1: fatal: x+…\)$/);
    expect(rec.result.reason.length).toBeLessThan(350);
  });

  it('tolerates restarts up to max_restarts but still reports a stopped container with its exit', async () => {
    await podman.runContainer('fw-stopped', [], ['/bin/sh', '-c', 'echo "fatal: DATABASE_URL is not set" >&2; exit 3']);
    await waitFor(
      async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-stopped'])) !== 'running',
      10_000,
      100,
    );
    const rec = await runContainerCheck(containerCheck('stopped', 'container: fw-stopped\nmax_restarts: 5'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toBe('not running (exited, exited 3: fatal: DATABASE_URL is not set)');
    expect(containers(rec.result.details)[0]).toMatchObject({ running: false, exit_code: 3 });
    expect(rec.result.observations).toContainEqual({
      metric: 'forgewatch_container_state',
      labels: { container: 'fw-stopped', state: 'exited' },
      value: 1,
    });
  });

  it('fails an unhealthy container with the health check output', async () => {
    await podman.runContainer(
      'fw-sick',
      ['--health-cmd', 'echo database unreachable; exit 1', '--health-retries', '1'],
      ['/bin/sh', '-c', 'sleep 600'],
    );
    await podman.cli(['healthcheck', 'run', 'fw-sick']).catch(() => undefined);
    const rec = await runContainerCheck(containerCheck('sick', 'container: fw-sick'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^unhealthy.*: database unreachable$/);
    const relaxed = await runContainerCheck(
      containerCheck('sick-relaxed', 'container: fw-sick\nrequire_healthy: false'),
    );
    expect(relaxed.result.status).toBe('ok');
  });

  it('reports every container a label selector matches and names the bad one', async () => {
    await podman.runContainer('fw-api-1', ['--label', 'fw.service=api'], ['/bin/sh', '-c', 'sleep 600']);
    await podman.runContainer('fw-api-2', ['--label', 'fw.service=api'], ['/bin/sh', '-c', 'exit 2']);
    await waitFor(
      async () => (await podman.cli(['inspect', '--format', '{{.State.Status}}', 'fw-api-2'])) !== 'running',
      10_000,
      100,
    );
    const rec = await runContainerCheck(containerCheck('api', 'labels: { fw.service: api }'));
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toMatch(/^fw-api-2: not running \(exited, exited 2/);
    expect(
      containers(rec.result.details)
        .map((c) => c.name)
        .sort(),
    ).toEqual(['fw-api-1', 'fw-api-2']);
    const running = rec.result.observations.filter((o) => o.metric === 'forgewatch_container_running');
    expect(running).toEqual(
      expect.arrayContaining([
        { metric: 'forgewatch_container_running', labels: { container: 'fw-api-1' }, value: 1 },
        { metric: 'forgewatch_container_running', labels: { container: 'fw-api-2' }, value: 0 },
      ]),
    );
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
    expect(rec.result.observations).toContainEqual({
      metric: 'forgewatch_container_running',
      labels: { container: 'fw-does-not-exist' },
      value: 0,
    });
  });

  it('finds the container that holds a port through its cgroup', async () => {
    const port = await freePort();
    await podman.runContainer('fw-httpd', [], ['/bin/busybox', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/']);
    const yaml = `checks:\n  - name: port-by-container\n    type: port\n    port: ${port}\n    socket: ${podman.socket}\n    owner: { container: fw-httpd }\n`;
    const settled = await waitFor(
      async () => {
        const r = await runContainerCheck(yaml);
        return r.result.status === 'ok' ? r : undefined;
      },
      10_000,
      100,
    );
    expect(settled.result.details.owner).toMatchObject({ process: 'busybox', container: 'fw-httpd' });
    expect(String((settled.result.details.owner as JsonObject).cmdline)).toContain('httpd -f -p');
    expect(settled.result.reason).toMatch(/held by busybox \(pid \d+, container fw-httpd\)/);
    const slashed = await runContainerCheck(yaml.replace('container: fw-httpd', 'container: /fw-httpd'));
    expect(slashed.result.status).toBe('ok');
    expect(slashed.result.details.owner_ok).toBe(true);
  });

  it('exports the container gauges through /metrics of the running service', async () => {
    const fw = await startForgewatch(containerCheck('web-metrics', 'container: fw-web'));
    try {
      await fw.service.monitor.run('web-metrics');
      const text = await (await fetch(`${fw.url}/metrics`)).text();
      expect(text).toContain('forgewatch_container_running{check="web-metrics",container="fw-web"} 1');
      expect(text).toMatch(
        /forgewatch_container_started_timestamp_seconds\{check="web-metrics",container="fw-web"\} \d+/,
      );
      expect(text).toContain('forgewatch_container_state{check="web-metrics",container="fw-web",state="running"} 1');
    } finally {
      await fw.close();
    }
  });
});
