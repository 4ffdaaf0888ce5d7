/** Containers discovered through a real engine's API (podman's Docker-compatible socket). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDocker } from '../src/discover/docker.js';
import { startPodman, type Podman } from './helpers/podman.js';

let podman: Podman;
beforeAll(async () => {
  podman = await startPodman();
}, 120_000);
afterAll(async () => {
  await podman?.close();
});

describe('discovering containers', () => {
  it('finds those with a restart policy, their health check and forgewatch labels, and leaves out the rest', async () => {
    const sleep = ['/bin/sh', '-c', 'sleep 600'];
    await podman.runContainer(
      'disc-api',
      [
        '--restart',
        'always',
        '--health-cmd',
        'true',
        '--label',
        'forgewatch.http.path=/health',
        '--label',
        'forgewatch.http.port=8000',
      ],
      sleep,
    );
    await podman.runContainer('disc-oneoff', [], sleep);
    await podman.runContainer(
      'disc-muted',
      ['--restart', 'unless-stopped', '--label', 'forgewatch.enable=false'],
      sleep,
    );
    const found = await readDocker(podman.socket);
    expect(found.skipped).toBeUndefined();
    const api = found.containers.find((c) => c.name === 'disc-api');
    expect(api).toMatchObject({
      restart_policy: 'always',
      has_health_check: true,
      labels: { 'http.path': '/health', 'http.port': '8000' },
    });
    expect(found.containers.map((c) => c.name)).not.toContain('disc-oneoff');
    expect(found.containers.map((c) => c.name)).not.toContain('disc-muted');
    expect(found.disabled).toContain('disc-muted');
  }, 120_000);

  it('says why when there is no engine, instead of failing', async () => {
    const found = await readDocker('/nonexistent/docker.sock');
    expect(found.containers).toEqual([]);
    expect(found.skipped).toBe(
      'cannot read containers from /nonexistent/docker.sock: docker socket /nonexistent/docker.sock not found',
    );
  });
});
