/**
 * forgewatch against Prometheus' blackbox_exporter (Debian's prometheus-blackbox-exporter), in the same run, on the
 * same local nginx, both as real processes: CPU (utime + stime from /proc/<pid>/stat) of each over a phase, divided
 * by the probes it did in that phase.
 *   http: `GET /check?type=http` over 2,000 configured checks (max_concurrency 64) against blackbox's
 *         `/probe?module=http_2xx` with 64 requests at a time;
 *   tls:  tls checks (handshake, chain and names judged) against the tcp prober with `tls: true`;
 *   tcp:  port checks against the tcp prober's plain connect (tcp_connect).
 * Each side connects afresh for every probe. The bench process (the HTTP client driving both) is not counted.
 * Under tls, the floor: bare Node handshakes against the same nginx and CA, nothing judged (bench/tls-handshakes.ts).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRootCa, createLeaf } from '../test/helpers/pki.js';
import { startFleetNode, type FleetProcess } from '../test/helpers/fleet.js';
import { startNginx, type RunningNginx } from '../test/helpers/nginx.js';
import { freePort } from '../test/helpers/servers.js';
import { cliNodeFlags, tempDir, waitFor } from '../test/helpers/service.js';
import { cpuSeconds, row } from './proc.js';

export const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';
const CHECKS = 2_000;
const CONCURRENCY = 64;

type Kind = 'http' | 'tls' | 'tcp';
const KINDS: readonly Kind[] = ['http', 'tls', 'tcp'];
const MODULES: Record<Kind, string> = { http: 'http_2xx', tls: 'tls_connect', tcp: 'tcp_connect' };

interface Target {
  httpPort: number;
  tlsPort: number;
  caFile: string;
}

/** On a yearly cron line, which has no quick first run: only the bench's /check requests run anything. */
const YEARLY = 'schedule: "0 0 1 1 *"';

function forgewatchConfig(t: Target): string {
  const lines: string[] = [];
  for (let i = 0; i < CHECKS; i++) {
    lines.push(
      `  - { name: h${i}, type: http, url: "http://127.0.0.1:${t.httpPort}/health?i=${i}", expect: { status: [200] }, ${YEARLY} }`,
      `  - { name: t${i}, type: tls, host: 127.0.0.1, port: ${t.tlsPort}, server_name: localhost, ca_file: ${t.caFile}, ${YEARLY} }`,
      `  - { name: p${i}, type: port, host: 127.0.0.1, port: ${t.httpPort}, ${YEARLY} }`,
    );
  }
  return `state_dir: \${FW_STATE}\nmax_concurrency: ${CONCURRENCY}\ndefaults: { timeout: 10s }\nchecks:\n${lines.join('\n')}\n`;
}

function blackboxConfig(t: Target): string {
  return `modules:
  http_2xx:
    prober: http
    timeout: 10s
    http: { preferred_ip_protocol: ip4, valid_status_codes: [200] }
  tls_connect:
    prober: tcp
    timeout: 10s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: { ca_file: ${t.caFile}, server_name: localhost }
  tcp_connect:
    prober: tcp
    timeout: 10s
    tcp: { preferred_ip_protocol: ip4 }
`;
}

function probeTarget(kind: Kind, t: Target, i: number): string {
  if (kind === 'http') return `http://127.0.0.1:${t.httpPort}/health?i=${i}`;
  return `127.0.0.1:${kind === 'tls' ? t.tlsPort : t.httpPort}`;
}

async function startBlackbox(configFile: string): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(BLACKBOX, [`--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`blackbox_exporter exited at start:\n${stderr}`);
    return fetch(`${url}/-/healthy`).then(
      (r) => r.ok,
      () => false,
    );
  }, 20_000);
  return { url, process: child };
}

/** `count` requests, `CONCURRENCY` at a time; throws on the first that does not say the probe passed. */
async function drive(count: number, request: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await request(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function blackboxProbe(base: string, kind: Kind, t: Target, i: number): Promise<void> {
  const target = encodeURIComponent(probeTarget(kind, t, i));
  const text = await (await fetch(`${base}/probe?module=${MODULES[kind]}&target=${target}`)).text();
  if (!/^probe_success 1$/m.test(text)) throw new Error(`blackbox ${kind} probe failed:\n${text.slice(0, 2000)}`);
}

async function forgewatchRound(node: FleetProcess, kind: Kind): Promise<void> {
  const type = kind === 'tcp' ? 'port' : kind;
  const res = await fetch(`${node.url}/check?type=${type}`, { signal: AbortSignal.timeout(300_000) });
  const report = (await res.json()) as { ok: boolean; checks: Array<{ status: string; reason: string }> };
  if (report.checks.length !== CHECKS || !report.ok)
    throw new Error(`forgewatch ${kind}: ${report.checks.find((c) => c.status !== 'ok')?.reason ?? 'wrong count'}`);
}

/** CPU microseconds per handshake of bare Node TLS handshakes (bench/tls-handshakes.ts) in a process of their own. */
async function bareHandshakes(t: Target, count: number): Promise<number> {
  const script = fileURLToPath(new URL('./tls-handshakes.js', import.meta.url));
  const child = fork(script, [String(t.tlsPort), t.caFile, String(count), String(CONCURRENCY)], {
    execArgv: cliNodeFlags(),
  });
  const answer = new Promise<number>((resolve, reject) => {
    child.once('message', (m: { cpuMicrosPerHandshake: number }) => resolve(m.cpuMicrosPerHandshake));
    child.once('exit', (code) => reject(new Error(`the bare handshakes exited with ${code} before answering`)));
  });
  try {
    return await answer;
  } finally {
    child.kill();
  }
}

/** CPU microseconds per probe of `pid` over `rounds` rounds of `CHECKS` probes each. */
async function measure(pid: number, rounds: number, round: () => Promise<void>): Promise<number> {
  await round(); // warm-up
  const cpu0 = cpuSeconds(pid);
  for (let r = 0; r < rounds; r++) await round();
  return ((cpuSeconds(pid) - cpu0) * 1e6) / (rounds * CHECKS);
}

export async function blackboxScenario(quick: boolean): Promise<void> {
  if (!existsSync(BLACKBOX)) {
    console.log(
      `blackbox_exporter is not installed (${BLACKBOX}): apt-get install -y prometheus-blackbox-exporter, then npm run bench -- --vs-blackbox`,
    );
    return;
  }
  const temp = tempDir('forgewatch-bench-blackbox-');
  let nginx: RunningNginx | undefined;
  let node: FleetProcess | undefined;
  let blackbox: ChildProcess | undefined;
  try {
    const ca = await createRootCa('bench CA');
    const leaf = await createLeaf(ca, { sans: ['localhost'] });
    const t: Target = { httpPort: await freePort(), tlsPort: await freePort(), caFile: path.join(temp.dir, 'ca.pem') };
    writeFileSync(t.caFile, ca.cert);
    writeFileSync(path.join(temp.dir, 'leaf.pem'), leaf.cert + ca.cert);
    writeFileSync(path.join(temp.dir, 'leaf.key'), leaf.key);
    nginx = await startNginx({
      dir: path.join(temp.dir, 'nginx'),
      http: `  server {
    listen 127.0.0.1:${t.httpPort};
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
  server {
    listen 127.0.0.1:${t.tlsPort} ssl;
    server_name localhost;
    ssl_certificate ${path.join(temp.dir, 'leaf.pem')};
    ssl_certificate_key ${path.join(temp.dir, 'leaf.key')};
    location / { return 200 "ok\\n"; }
  }`,
    });
    const fwFile = path.join(temp.dir, 'forgewatch.yaml');
    writeFileSync(fwFile, forgewatchConfig(t));
    const bbFile = path.join(temp.dir, 'blackbox.yml');
    writeFileSync(bbFile, blackboxConfig(t));
    node = await startFleetNode(fwFile, 'bench', temp.dir);
    for (const stream of [node.process.stdout, node.process.stderr]) stream?.removeAllListeners('data').resume();
    const bb = await startBlackbox(bbFile);
    blackbox = bb.process;
    const rounds = quick ? 2 : 4;
    console.log(
      `\nforgewatch vs blackbox_exporter: ${CHECKS} probes per round, ${rounds} rounds, concurrency ${CONCURRENCY}, nginx target`,
    );
    const fwPid = node.process.pid as number;
    const bbPid = blackbox.pid as number;
    for (const kind of KINDS) {
      const fw = await measure(fwPid, rounds, () => forgewatchRound(node as FleetProcess, kind));
      const box = await measure(bbPid, rounds, () => drive(CHECKS, (i) => blackboxProbe(bb.url, kind, t, i)));
      row(`  ${kind} (${kind === 'tcp' ? 'port' : kind} check vs ${MODULES[kind]})`, {
        forgewatch_cpu_us: Math.round(fw),
        blackbox_cpu_us: Math.round(box),
        ratio: (fw / box).toFixed(2),
      });
      if (kind === 'tls') {
        const floor = await bareHandshakes(t, rounds * CHECKS);
        row('    floor: a bare Node handshake, nothing judged', {
          cpu_us: Math.round(floor),
          ratio_to_blackbox: (floor / box).toFixed(2),
        });
      }
    }
  } finally {
    await node?.kill();
    if (blackbox && blackbox.exitCode === null) {
      const gone = new Promise((r) => blackbox?.once('exit', r));
      blackbox.kill('SIGTERM');
      await gone;
    }
    await nginx?.stop();
    await temp.cleanup();
  }
}
