/**
 * Discovery on a stack shaped like the seed's: a real nginx (three names over two TLS server blocks, a redirect
 * block, `location /api/` proxying to an upstream, the site in an included sites-enabled file), certbot lineages
 * from the test's CA, a backend process on its upstream port and a podman container with forgewatch labels. The
 * discovered config validates and passes as it is; then each of the seed's failures is caught by a discovered check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiver, type Receiver } from './helpers/alerts.js';
import { certbotLineage } from './helpers/certbot.js';
import { startNginx, type RunningNginx } from './helpers/nginx.js';
import { createRootCa, type Issued } from './helpers/pki.js';
import { startPodman, type Podman } from './helpers/podman.js';
import { serveProcess, type Cleanups, type ServedProcess } from './helpers/served.js';
import { freePort } from './helpers/servers.js';
import { runCli, tempDir, waitFor } from './helpers/service.js';

const temp = tempDir('forgewatch-discover-stack-');
const cleanups: Cleanups = [];
const le = path.join(temp.dir, 'letsencrypt');
const bin = path.join(temp.dir, 'bin');
const sites = path.join(temp.dir, 'sites-enabled');
let ca: Issued;
let nginx: RunningNginx;
let podman: Podman;
let backend: ChildProcess | undefined;
const ports = { https: 0, http: 0, backend: 0, frontend: 0 };
/** Processes see the test's CA as the system's (SSL_CERT_FILE) and nginx -T as this nginx's (a PATH wrapper). */
let env: NodeJS.ProcessEnv;

/** A node process whose name (comm) is `name`: the port check's owner reads it so. */
async function upstreamProcess(name: string, port: number): Promise<ChildProcess> {
  const exe = path.join(bin, name);
  try {
    symlinkSync(process.execPath, exe);
  } catch {
    // already there
  }
  const script = `require('http').createServer((q, s) => {
    if (q.url === '/health') { s.writeHead(200, { 'content-type': 'application/json' }); s.end('{"status":"ok"}'); }
    else { s.writeHead(200); s.end('${name}\\n'); }
  }).listen(${port}, '127.0.0.1', () => console.log('ready'));`;
  const child = spawn(exe, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`${name} exited`);
    return out.includes('ready');
  });
  cleanups.push(() => stopProcess(child));
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

const site = () => `upstream backend {
    server 127.0.0.1:${ports.backend};
}
server {
    listen 127.0.0.1:${ports.http};
    server_name forgetrace.test www.forgetrace.test api.forgetrace.test;
    return 301 https://$host$request_uri;
}
server {
    listen 127.0.0.1:${ports.https} ssl;
    server_name forgetrace.test www.forgetrace.test;
    ssl_certificate ${le}/live/forgetrace.test/fullchain.pem;
    ssl_certificate_key ${le}/live/forgetrace.test/privkey.pem;
    location / {
        proxy_pass http://127.0.0.1:${ports.frontend};
    }
    location /api/ {
        proxy_pass http://backend;
    }
}
server {
    listen 127.0.0.1:${ports.https} ssl;
    server_name api.forgetrace.test;
    ssl_certificate ${le}/live/api.forgetrace.test/fullchain.pem;
    ssl_certificate_key ${le}/live/api.forgetrace.test/privkey.pem;
    location / {
        proxy_pass http://backend;
    }
}
`;

beforeAll(async () => {
  mkdirSync(bin, { recursive: true });
  mkdirSync(sites, { recursive: true });
  // Four distinct ports: a free port asked twice can come back twice, and nginx would merge the listens.
  const taken = new Set<number>();
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[k] = port;
  }
  ca = await createRootCa('Forgetrace Test CA');
  const caFile = path.join(temp.dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  await certbotLineage(le, 'forgetrace.test', ca, ['forgetrace.test', 'www.forgetrace.test']);
  await certbotLineage(le, 'api.forgetrace.test', ca, ['api.forgetrace.test']);
  writeFileSync(path.join(sites, 'forgetrace'), site());
  nginx = await startNginx({ http: `  include ${sites}/*;`, dir: path.join(temp.dir, 'nginx') });
  cleanups.push(() => nginx.stop());
  // `nginx -T` as this machine's nginx would answer it: the real binary, pointed at the test's config.
  writeFileSync(
    path.join(bin, 'nginx'),
    `#!/bin/sh\nexec /usr/sbin/nginx -p ${nginx.dir} -c ${nginx.dir}/nginx.conf "$@"\n`,
  );
  chmodSync(path.join(bin, 'nginx'), 0o755);
  env = { PATH: `${bin}:${process.env.PATH ?? ''}`, SSL_CERT_FILE: caFile };
  backend = await upstreamProcess('forgetrace-api', ports.backend);
  podman = await startPodman();
  cleanups.push(() => podman.close());
  await podman.runContainer(
    'forgetrace-frontend',
    ['--restart', 'always', '--label', 'forgewatch.http.path=/health', '--label', 'forgewatch.check.interval=1s'],
    [
      '/bin/sh',
      '-c',
      `/bin/busybox mkdir -p /www && echo ok > /www/health && echo frontend > /www/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:${ports.frontend} -h /www`,
    ],
  );
  await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.frontend}/health`).catch(() => null))?.ok, 15_000);
}, 180_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await temp.cleanup();
}, 60_000);

interface DiscoveredCheck {
  name: string;
  type: string;
  source: string;
  notes: string[];
  [key: string]: unknown;
}

async function discoverJson(): Promise<{ checks: DiscoveredCheck[]; sources: { source: string; skipped?: string }[] }> {
  const out = await runCli(['discover', '--letsencrypt', le, '--docker', podman.socket, '--json'], { env });
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as { checks: DiscoveredCheck[]; sources: { source: string; skipped?: string }[] };
}

const configFile = path.join(temp.dir, 'forgewatch.yaml');
/** The checks proposed for the stack (not for the machine's other listeners). */
let stackChecks: string[] = [];

describe('forgewatch discover on a stack like the seed', () => {
  it('writes a commented config wired from the outside in, that validates and passes as it is', async () => {
    const written = await runCli(['discover', '--letsencrypt', le, '--docker', podman.socket, '--write', configFile], {
      env,
    });
    expect(written.code, written.stderr).toBe(0);
    expect(written.stderr).toContain('nginx: nginx -T: 3 server blocks, 1 upstream');
    expect(written.stderr).toContain(`certbot: ${le}: 2 lineages`);
    expect(written.stderr).toMatch(/docker: .*podman\.sock: 1 container/);
    const text = readFileSync(configFile, 'utf8');
    expect(text).toContain(`  # nginx: ${path.join(sites, 'forgetrace')}:23 server_name api.forgetrace.test\n`);
    expect(text).toContain('# alerts:\n#   channels:');

    const validated = await runCli(['validate', configFile]);
    expect(validated.code, validated.stderr).toBe(0);

    const { checks } = await discoverJson();
    // Other listeners of this machine get a port check each; nginx's and the upstreams' ports are covered above.
    const others = checks.filter((c) => c.source.startsWith('ports:'));
    for (const p of Object.values(ports)) expect(others.map((c) => c.port)).not.toContain(p);
    const byName = new Map(checks.filter((c) => !others.includes(c)).map((c) => [c.name, c]));
    stackChecks = [...byName.keys()];
    expect([...byName.keys()].sort()).toEqual(
      [
        'cert-api.forgetrace.test',
        'cert-forgetrace.test',
        'container-forgetrace-frontend',
        `https-api.forgetrace.test`,
        'https-forgetrace.test',
        'https-www.forgetrace.test',
        `port-${ports.backend}`,
        `port-${ports.frontend}`,
        'redirect-api.forgetrace.test',
        'redirect-forgetrace.test',
        'redirect-www.forgetrace.test',
        'tls-api.forgetrace.test',
        'tls-forgetrace.test',
        'tls-www.forgetrace.test',
        `upstream-${ports.backend}`,
        `upstream-${ports.frontend}`,
      ].sort(),
    );
    expect(byName.get('https-api.forgetrace.test')).toMatchObject({
      url: `https://api.forgetrace.test:${ports.https}/`,
      resolve: '127.0.0.1',
      depends_on: [`upstream-${ports.backend}`],
    });
    // The backend's health path was found by asking; the container's came from its label.
    expect(byName.get(`upstream-${ports.backend}`)).toMatchObject({
      url: `http://127.0.0.1:${ports.backend}/health`,
      depends_on: [`port-${ports.backend}`],
    });
    expect(byName.get(`upstream-${ports.frontend}`)).toMatchObject({
      url: `http://127.0.0.1:${ports.frontend}/health`,
      interval: '1s',
      depends_on: [`port-${ports.frontend}`, 'container-forgetrace-frontend'],
    });
    expect(byName.get(`port-${ports.backend}`)).toMatchObject({ owner: { process: 'forgetrace-api' } });
    expect(byName.get(`port-${ports.frontend}`)).toMatchObject({
      owner: { container: 'forgetrace-frontend' },
      socket: podman.socket,
    });
    expect(byName.get('container-forgetrace-frontend')).toMatchObject({
      container: 'forgetrace-frontend',
      socket: podman.socket,
      interval: '1s',
    });
    expect(byName.get('tls-www.forgetrace.test')).toMatchObject({
      port: ports.https,
      server_name: 'www.forgetrace.test',
      names: ['forgetrace.test', 'www.forgetrace.test'],
      cert_file: path.join(le, 'live', 'forgetrace.test', 'fullchain.pem'),
      depends_on: ['cert-forgetrace.test'],
    });
    expect(byName.get('redirect-forgetrace.test')).toMatchObject({
      url: `http://forgetrace.test:${ports.http}/`,
      follow_redirects: false,
      expect: { status: [301], header: { location: '^https://' } },
    });

    // Only the stack's: this machine's other listeners (other tests') come and go.
    const only = stackChecks.flatMap((n) => ['--name', n]);
    const checked = await runCli(['check', '-c', configFile, ...only, '--wait', '60s', '--json'], {
      env,
      timeoutMs: 90_000,
    });
    expect(checked.code, checked.stderr).toBe(0);
    const report = JSON.parse(checked.stdout) as { checks: { name: string; status: string; reason: string }[] };
    expect(report.checks.map((c) => c.name).sort()).toEqual([...stackChecks].sort());
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
  }, 120_000);

  it('catches the seed failures with the discovered checks', async () => {
    const hook: Receiver = await receiver();
    cleanups.push(() => hook.close());
    writeFileSync(
      configFile,
      `${readFileSync(configFile, 'utf8')}
defaults: { interval: 500ms, timeout: 2s, failure_threshold: 1 }
alerts:
  group_wait: 3s
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/forgewatch" }
`,
    );
    const served: ServedProcess = await serveProcess(configFile, cleanups, env);
    /** Each check's state and last reason, from GET /api/status. */
    const states = async () =>
      new Map(
        (
          (await (await fetch(`${served.url}/api/status`)).json()) as {
            checks: { name: string; state: string; last?: { reason: string } }[];
          }
        ).checks.map((c) => [c.name, { status: c.state, reason: c.last?.reason ?? '' }]),
      );
    const until = (name: string, want: (c: { status: string; reason: string }) => boolean) =>
      waitFor(async () => {
        const c = (await states()).get(name);
        return c && want(c) ? c : undefined;
      }, 30_000);
    await waitFor(async () => {
      const now = await states();
      return stackChecks.every((n) => now.get(n)?.status === 'ok');
    }, 30_000);

    // The backend stops: the public name answers 502, and that is told folded under the backend's port.
    await stopProcess(backend as ChildProcess);
    const https = await until('https-api.forgetrace.test', (c) => c.status === 'fail');
    expect(https.reason).toContain('502');
    const firing = await waitFor(() =>
      hook.accepted
        .map((r) => r.json as { events: { check: string; kind: string; dependents: { check: string }[] }[] })
        .flatMap((p) => p.events)
        .find((e) => e.kind === 'firing'),
    );
    // Folded under the backend's own checks (its port, or its upstream when the port's run came later).
    expect([`port-${ports.backend}`, `upstream-${ports.backend}`]).toContain(firing.check);
    expect(firing.dependents.map((d) => d.check)).toContain('https-api.forgetrace.test');

    // Another process takes the backend's port (the seed's systemd service on port 8000).
    const squatter = await upstreamProcess('squatter', ports.backend);
    const stolen = await until(`port-${ports.backend}`, (c) => c.status === 'fail' && c.reason.includes('squatter'));
    expect(stolen.reason).toContain('forgetrace-api');
    await stopProcess(squatter);
    backend = await upstreamProcess('forgetrace-api', ports.backend);
    await until(`port-${ports.backend}`, (c) => c.status === 'ok');

    // certbot renews on disk, nginx is not reloaded: the served certificate is not the file's.
    await certbotLineage(le, 'forgetrace.test', ca, ['forgetrace.test', 'www.forgetrace.test']);
    const stale = await until('tls-forgetrace.test', (c) => c.status === 'fail');
    expect(stale.reason).toMatch(/the server serves serial \w+ .* but .*fullchain\.pem holds serial \w+/);
    await nginx.reload();
    await until('tls-forgetrace.test', (c) => c.status === 'ok');

    // A renewal that lost a name, reloaded: the name nginx still serves is not covered.
    await certbotLineage(le, 'forgetrace.test', ca, ['forgetrace.test']);
    await nginx.reload();
    const missing = await until('tls-www.forgetrace.test', (c) => c.status === 'fail');
    expect(missing.reason).toContain('www.forgetrace.test');
    // Discovering again flags the name as already failing.
    const again = await discoverJson();
    // Among everything told since, the public name was never an alert of its own.
    const told = hook.accepted.flatMap((r) => (r.json as { events: { check: string; kind: string }[] }).events);
    expect(told.filter((e) => e.check === 'https-api.forgetrace.test')).toEqual([]);
    expect(again.checks.find((c) => c.name === 'https-www.forgetrace.test')?.notes).toEqual([
      `already failing: the certificate in ${path.join(le, 'live', 'forgetrace.test', 'fullchain.pem')} covers forgetrace.test but not www.forgetrace.test`,
    ]);
  }, 180_000);
});

describe('serve without a config file', () => {
  it('watches what discovery finds, says so on the status page, and discovers again on reload', async () => {
    const cwd = path.join(temp.dir, 'zero-config');
    mkdirSync(cwd, { recursive: true });
    const served = await serveProcess(
      undefined,
      cleanups,
      { ...env, FORGEWATCH_CONFIG: '' },
      {
        cwd,
        args: ['--letsencrypt', le, '--docker', podman.socket],
      },
    );
    const names = async () =>
      ((await (await fetch(`${served.url}/api/status`)).json()) as { checks: { name: string; state: string }[] })
        .checks;
    // The public names, their upstreams and the container, with forgewatch's own self-check.
    await waitFor(async () => {
      const now = await names();
      const ok = (n: string) => now.some((c) => c.name === n && c.state === 'ok');
      return ok('forgewatch-self') && ok('https-api.forgetrace.test') && ok('container-forgetrace-frontend');
    }, 30_000);
    const page = await (await fetch(`${served.url}/`)).text();
    expect(page).toContain('these checks were discovered on this machine');
    expect(page).toContain('forgewatch discover --write forgewatch.yaml');
    const discovered = () =>
      served
        .output()
        .split('\n')
        .filter((l) => l.includes('"event":"discovered"')).length;
    const before = discovered();
    expect((await fetch(`${served.url}/-/reload`, { method: 'POST' })).ok).toBe(true);
    await waitFor(() => discovered() > before);
    // The pipeline command still refuses to pass on a guess.
    const checked = await runCli(['check'], { cwd, env: { ...env, FORGEWATCH_CONFIG: '' } });
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain('no config file to check');
  }, 90_000);
});

describe('sources that are absent or failing', () => {
  it('reports each as skipped with the reason, and the rest still works', async () => {
    const broken = path.join(temp.dir, 'broken-bin');
    mkdirSync(broken, { recursive: true });
    const badConf = path.join(temp.dir, 'bad-nginx.conf');
    writeFileSync(badConf, 'events {}\nhttp { server { listen 80 } }\n');
    writeFileSync(path.join(broken, 'nginx'), `#!/bin/sh\nexec /usr/sbin/nginx -c ${badConf} "$@"\n`);
    chmodSync(path.join(broken, 'nginx'), 0o755);
    const failing = await runCli(
      ['discover', '--letsencrypt', path.join(temp.dir, 'nothing'), '--docker', path.join(temp.dir, 'no.sock')],
      { env: { ...env, PATH: `${broken}:${process.env.PATH ?? ''}` } },
    );
    expect(failing.code, failing.stderr).toBe(0);
    expect(failing.stderr).toMatch(/^nginx: skipped \(nginx -T\): nginx -T failed: .*bad-nginx\.conf/m);
    expect(failing.stderr).toContain(
      `certbot: skipped (${path.join(temp.dir, 'nothing')}): ${path.join(temp.dir, 'nothing', 'renewal')} does not exist: no certbot lineages here`,
    );
    expect(failing.stderr).toContain(`docker: skipped (${path.join(temp.dir, 'no.sock')}): cannot read containers`);
    // The port table still gave the backend's port, and the output is a config.
    expect(failing.stdout).toContain(`name: port-${ports.backend}`);
    const file = path.join(temp.dir, 'partial.yaml');
    writeFileSync(file, failing.stdout);
    expect((await runCli(['validate', file])).code).toBe(0);

    const absent = await runCli(['discover', '--letsencrypt', 'off', '--docker', 'off'], {
      env: { ...env, PATH: path.dirname(process.execPath) },
    });
    expect(absent.code, absent.stderr).toBe(0);
    expect(absent.stderr).toContain('nginx: skipped (nginx -T): nginx is not installed here (no nginx in PATH)');

    // Never over a file without --force.
    const kept = await runCli(['discover', '--nginx', 'off', '--docker', 'off', '--write', file]);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toContain(`${file} exists; use --force to overwrite it`);
  }, 60_000);
});
