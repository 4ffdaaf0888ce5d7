import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.js';
import type { ProbeResult } from '../src/probes/types.js';
import { readCompose, setprivArgs, type ComposeService } from './helpers/compose.js';
import { httpServer } from './helpers/servers.js';
import { BUILT_CLI, runCli, tempDir } from './helpers/service.js';

const EXAMPLE = path.resolve('examples/forgetrace.yaml');
const COMPOSE = path.resolve('examples/docker-compose.yml');
const PROXY_COMPOSE = path.resolve('examples/docker-compose.socket-proxy.yml');
/** The secrets the example reads from the environment. */
const SECRETS = {
  SMTP_PASSWORD: 'example-password',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXX',
  FORGEWATCH_TOKEN: 'example-token',
};

/** Every check `name` reaches through depends_on, transitively. */
function reaches(deps: Map<string, string[]>, name: string, seen = new Set<string>()): Set<string> {
  for (const d of deps.get(name) ?? []) if (!seen.has(d)) reaches(deps, d, seen.add(d));
  return seen;
}

describe('examples/forgetrace.yaml', () => {
  it('passes forgewatch validate', async () => {
    const r = await runCli(['validate', EXAMPLE], { env: SECRETS });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/: ok \(\d+ checks\)/);
    expect(r.code).toBe(0);
  });

  it('names the missing secret when one is not set', async () => {
    const r = await runCli(['validate', EXAMPLE], { env: { ...SECRETS, SLACK_WEBHOOK_URL: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SLACK_WEBHOOK_URL');
  });

  it("covers the deployment's validation checklist and folds an nginx 502 under the backend container", () => {
    const config = loadConfigFile(EXAMPLE, { ...process.env, ...SECRETS });
    const byName = new Map(config.checks.map((c) => [c.name, c]));
    const urls = config.checks.filter((c) => c.type === 'http').map((c) => String(c.url));
    for (const url of [
      'http://127.0.0.1:8000/health',
      'http://127.0.0.1:3001/',
      'https://api.forgetrace.pro/health',
      'https://www.forgetrace.pro/',
    ])
      expect(urls).toContain(url);
    // HTTP -> HTTPS redirect for every host nginx serves.
    for (const host of ['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro']) {
      expect(
        config.checks.some(
          (c) =>
            c.type === 'http' &&
            new URL(String(c.url)).host === host &&
            new URL(String(c.url)).protocol === 'http:' &&
            c.follow_redirects === false,
        ),
      ).toBe(true);
    }
    // Certificates: served SANs per host, compared with certbot's file; the files themselves.
    const certNames = config.checks
      .filter((c) => c.type === 'tls')
      .flatMap((c) => (c.names as string[] | undefined) ?? []);
    expect(new Set(certNames)).toEqual(new Set(['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro']));
    expect(config.checks.filter((c) => c.type === 'tls').every((c) => typeof c.cert_file === 'string')).toBe(true);
    expect(config.checks.some((c) => c.type === 'cert_file')).toBe(true);
    // Both containers, and port 8000 held by the backend container (not a systemd unit); 80 and 443 listening.
    expect(
      config.checks
        .filter((c) => c.type === 'container')
        .map((c) => c.container)
        .sort(),
    ).toEqual(['forgetrace-backend', 'forgetrace-frontend']);
    expect(byName.get('backend-port')).toMatchObject({
      type: 'port',
      port: 8000,
      owner: { container: 'forgetrace-backend' },
    });
    const ports = config.checks.filter((c) => c.type === 'port' && c.expect === 'listening').map((c) => c.port);
    expect(ports).toEqual(expect.arrayContaining([80, 443, 3001, 8000]));
    // The public API check reaches the backend container through depends_on.
    const deps = new Map(config.checks.map((c) => [c.name, c.depends_on]));
    expect(reaches(deps, 'api-public')).toContain('backend-container');
    // A host name missing from the certificate folds the public check under its cert check, and that
    // under the certbot file check: one alert for one missing name.
    for (const host of ['apex', 'www', 'api'])
      expect([...reaches(deps, `${host}-public`)]).toEqual(expect.arrayContaining([`cert-${host}`, 'certbot-files']));
    // No socket: in the container checks, so DOCKER_HOST (the socket-proxy variant) decides.
    expect(config.checks.filter((c) => c.type === 'container').map((c) => c.socket)).toEqual([undefined, undefined]);
    // Email and Slack channels.
    expect(config.alerts?.channels.map((c) => c.type).sort()).toEqual(['email', 'slack']);
  });
});

const scratch = tempDir('forgewatch-examples-');
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await scratch.cleanup();
});

/** Runs `node -e script` with a compose service's privileges; resolves with its exit code and output. */
function runAs(service: ComposeService, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      [...setprivArgs(service), process.execPath, ...args],
      { cwd: '/', timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Starts `node -e script` with a service's privileges and waits for its first line of output. */
async function startAs(service: ComposeService, script: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn('setpriv', [...setprivArgs(service), process.execPath, '-e', script], {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const [data] = (await Promise.race([
    new Promise((resolve) => child.stdout?.once('data', (d: Buffer) => resolve([d]))),
    new Promise((_r, reject) => child.once('exit', () => reject(new Error(`exited: ${err}`)))),
  ])) as [Buffer];
  return { child, line: data.toString().trim() };
}

const ENV = { ...SECRETS, SECRET_KEY: 'example-secret', DOCKER_GID: '4242' };
const compose = readCompose(COMPOSE, ENV);
const proxyCompose = readCompose(PROXY_COMPOSE, ENV);
const forgewatch = compose.services.forgewatch as ComposeService;

describe('examples/docker-compose.yml', () => {
  it('runs forgewatch beside the stack with the config, the state volume and the socket read-only', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['forgetrace-backend', 'forgetrace-frontend', 'forgewatch']),
    );
    const volumes = forgewatch.volumes ?? [];
    expect(volumes).toContain('./forgetrace.yaml:/etc/forgewatch/forgewatch.yaml:ro');
    expect(volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:ro');
    expect(volumes.find((v) => v.endsWith(':/var/lib/forgewatch'))).toBeDefined();
    // The example's state_dir is the image's volume, so state survives a re-created container.
    expect(loadConfigFile(EXAMPLE, { ...process.env, ...SECRETS }).state_dir).toBe('/var/lib/forgewatch');
    expect(readFileSync(path.resolve('Dockerfile'), 'utf8')).toContain('VOLUME ["/var/lib/forgewatch"]');
  });

  it('gives forgewatch what reading port owners takes, and nothing more', () => {
    expect(forgewatch).toMatchObject({
      user: '0:0',
      cap_drop: ['ALL'],
      pid: 'host',
      network_mode: 'host',
      read_only: true,
    });
    expect([...(forgewatch.cap_add ?? [])].sort()).toEqual(['DAC_READ_SEARCH', 'SYS_PTRACE']);
    expect(forgewatch.security_opt).toContain('no-new-privileges:true');
    expect(forgewatch.security_opt).toContain('apparmor=unconfined');
  });

  it("with the service's privileges names who holds a port, root's or another user's; as uid 1000 with no capabilities it could not", async () => {
    // A listener held by another user, and one held by root with every capability (this test process).
    const { child: other, line } = await startAs(
      { user: '65534:65534', cap_drop: ['ALL'] },
      "require('net').createServer().listen(0, '127.0.0.1', function () { console.log(this.address().port); })",
    );
    const root = await httpServer((_req, res) => res.end());
    try {
      const dir = path.join(scratch.dir, 'owners');
      mkdirSync(dir, { recursive: true });
      chmodSync(scratch.dir, 0o755);
      const config = path.join(dir, 'forgewatch.yaml');
      writeFileSync(
        config,
        `checks:\n  - { name: other-user, type: port, host: 127.0.0.1, port: ${line}, owner: { process: node } }\n  - { name: root-owned, type: port, host: 127.0.0.1, port: ${root.port}, owner: { process: node } }\n`,
      );
      const check = async (service: ComposeService) => {
        const r = await runAs(service, [BUILT_CLI, 'check', '--json', '-c', config]);
        expect(r.stderr).toBe('');
        return Object.fromEntries(
          (JSON.parse(r.stdout) as { checks: (ProbeResult & { name: string })[] }).checks.map((c) => [c.name, c]),
        );
      };
      const asComposed = await check(forgewatch);
      expect(asComposed['other-user']).toMatchObject({
        status: 'ok',
        details: { owner_ok: true, owner: { pid: other.pid } },
      });
      expect(asComposed['root-owned']).toMatchObject({
        status: 'ok',
        details: { owner_ok: true, owner: { pid: process.pid } },
      });
      // The setup the example used to have: every owner check stuck at warn, so PortOwnerMismatch could never fire.
      const before = await check({ user: '1000:1000', cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'] });
      for (const name of ['other-user', 'root-owned']) {
        expect(before[name]?.status).toBe('warn');
        expect(String(before[name]?.details.owner_note)).toMatch(/unreadable/);
      }
    } finally {
      other.kill();
      await root.close();
    }
  }, 60_000);
});

describe('examples/docker-compose.socket-proxy.yml', () => {
  const proxy = proxyCompose.services['docker-socket-proxy'] as ComposeService;
  const overlay = proxyCompose.services.forgewatch as ComposeService;
  /** forgewatch as Compose merges the two files: group_add adds up, volumes are replaced (!override). */
  const merged: ComposeService = {
    ...forgewatch,
    ...overlay,
    group_add: [...(forgewatch.group_add ?? []), ...(overlay.group_add ?? [])],
    environment: { ...forgewatch.environment, ...overlay.environment },
  };
  const endpoint = proxy.command?.find((a) => a.startsWith('-proxysocketendpoint='))?.split('=')[1] ?? '';
  const fileMode = parseInt(
    proxy.command?.find((a) => a.startsWith('-proxysocketendpointfilemode='))?.split('=')[1] ?? '',
    8,
  );

  it('takes the engine socket away from forgewatch and points it at the proxy, keeping the other mounts', () => {
    expect(merged.volumes).not.toContain('/var/run/docker.sock:/var/run/docker.sock:ro');
    const otherMounts = (forgewatch.volumes ?? []).filter((v) => !v.includes('docker.sock'));
    // The config, the state volume and certbot's files: an empty list here would make the loop below prove nothing.
    expect(otherMounts).toEqual([
      './forgetrace.yaml:/etc/forgewatch/forgewatch.yaml:ro',
      'forgewatch-state:/var/lib/forgewatch',
      '/etc/letsencrypt:/etc/letsencrypt:ro',
    ]);
    for (const v of otherMounts) expect(merged.volumes).toContain(v);
    expect(merged.volumes).toContain(`docker-proxy-socket:${path.dirname(endpoint)}`);
    expect(proxy.volumes).toContain(`docker-proxy-socket:${path.dirname(endpoint)}`);
    expect(merged.environment?.DOCKER_HOST).toBe(`unix://${endpoint}`);
    // Only GET (and HEAD /_ping) on the five endpoints forgewatch asks for.
    expect(
      proxy.command
        ?.filter((a) => /^-allow[A-Z]+=/.test(a))
        .map((a) => a.split('=')[0])
        .sort(),
    ).toEqual(['-allowGET', '-allowHEAD']);
    const get = new RegExp(
      `^${proxy.command?.find((a) => a.startsWith('-allowGET='))?.slice('-allowGET='.length) ?? ''}$`,
    );
    for (const ok of ['/version', '/v1.43/containers/json', '/v1.43/containers/abc/json', '/v1.43/containers/abc/logs'])
      expect(get.test(ok)).toBe(true);
    for (const no of [
      '/v1.43/containers/create',
      '/v1.43/containers/abc/exec',
      '/v1.43/images/json',
      '/v1.43/containers/abc/json/../start',
    ])
      expect(get.test(no)).toBe(false);
  });

  it('gives the proxy a socket folder it can create its socket in, which only forgewatch may use', async () => {
    const opts = Object.fromEntries(
      (proxyCompose.volumes?.['docker-proxy-socket']?.driver_opts?.o ?? '')
        .split(',')
        .map((kv) => kv.split('=') as [string, string]),
    );
    expect(proxyCompose.volumes?.['docker-proxy-socket']?.driver_opts).toMatchObject({
      type: 'tmpfs',
      device: 'tmpfs',
    });
    chmodSync(scratch.dir, 0o755);
    // The folder as the tmpfs volume is mounted: owner, group and mode from its options.
    const folder = path.join(scratch.dir, 'proxy');
    mkdirSync(folder);
    chownSync(folder, Number(opts.uid), Number(opts.gid));
    chmodSync(folder, parseInt(opts.mode ?? '', 8));
    const socket = path.join(folder, path.basename(endpoint));
    const serve = `const s = require('net').createServer((c) => c.end('engine')); s.on('error', (e) => { console.log(e.code); process.exit(1); }); s.listen(${JSON.stringify(socket)}, () => { require('fs').chmodSync(${JSON.stringify(socket)}, ${fileMode}); console.log('listening'); });`;
    const { child, line } = await startAs(proxy, serve);
    expect(line).toBe('listening');
    try {
      const connect = `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(1); });`;
      expect((await runAs(merged, ['-e', connect])).stdout.trim()).toBe('connected');
      // Without the docker group (group_add) the socket's mode keeps forgewatch out, as it keeps out everyone else.
      expect((await runAs({ ...merged, group_add: [] }, ['-e', connect])).stdout.trim()).toBe('EACCES');
      expect((await runAs({ user: '1000:1000', cap_drop: ['ALL'] }, ['-e', connect])).stdout.trim()).toBe('EACCES');
    } finally {
      child.kill();
    }
    // What a plain named volume gives a FROM scratch image: a root-owned 0755 folder, where the proxy cannot listen.
    const plain = path.join(scratch.dir, 'plain');
    mkdirSync(plain, { mode: 0o755 });
    const refused = await runAs(proxy, [
      '-e',
      serve.replaceAll(JSON.stringify(socket), JSON.stringify(path.join(plain, 'docker.sock'))),
    ]);
    expect(refused.stdout.trim()).toBe('EACCES');
  });
});
