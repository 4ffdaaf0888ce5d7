/**
 * forgewatch benchmark: HTTP probes against a local server.
 *   npm run bench            full run (about 5 minutes, the fleet scenario included)
 *   npm run bench -- --quick shorter scheduled phases (each measured after its warm-up: the first runs and the JIT)
 *   npm run bench -- --scenario=fleet   one scenario only (any name of SCENARIOS)
 *   npm run bench -- --vs-blackbox      also forgewatch against blackbox_exporter on the same target (bench/blackbox.ts)
 *   npm run bench -- --scenario=scheduled-1k --profile=DIR   CPU and allocation profiles of the scheduled phase
 * Prints probes/s, CPU microseconds per probe (this process only), peak RSS, scheduler lateness and /metrics render time.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { Monitor } from '../src/checks/monitor.js';
import { Scheduler, wakeStep } from '../src/checks/scheduler.js';
import { parseConfig } from '../src/config/load.js';
import { loadConfigFileIsolated } from '../src/config/load-isolated.js';
import { Metrics } from '../src/metrics/registry.js';
import { fleetScenario } from './fleet.js';
import { blackboxScenario } from './blackbox.js';
import { profilePhase } from './profile.js';
import { serveMemory } from './serve-memory.js';
import { cliNodeFlags } from '../test/helpers/service.js';
import { row } from './proc.js';

const quick = process.argv.includes('--quick');
/** Where the scheduled phases write their CPU and allocation profiles (bench/profile.ts), when asked. */
const profileDir = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);

function configFor(count: number, port: number, interval: string, concurrency: number, expect = ''): string {
  const checks: string[] = [];
  for (let i = 0; i < count; i++)
    checks.push(
      `  - { name: c${i}, type: http, url: "http://127.0.0.1:${port}/health?i=${i}", interval: ${interval}, expect: { status: [200]${expect} } }`,
    );
  return `max_concurrency: ${concurrency}\ndefaults: { timeout: 10s }\nchecks:\n${checks.join('\n')}\n`;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Collects garbage (the scenarios run with --expose-gc) so end-of-run memory is what is really held. */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function burst(count: number, port: number, concurrency: number, expect = ''): Promise<void> {
  const monitor = new Monitor(parseConfig(configFor(count, port, '1h', concurrency, expect), 'bench.yaml'));
  const metrics = new Metrics(monitor);
  const names = monitor.checks.map((c) => c.name);
  await Promise.all(names.slice(0, Math.min(200, count)).map((n) => monitor.run(n))); // warm-up
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  const records = await Promise.all(names.map((n) => monitor.run(n)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMicros() - cpu0;
  const failed = records.filter((r) => r.result.status !== 'ok').length;
  const m0 = performance.now();
  const text = await metrics.render();
  const renderMs = performance.now() - m0;
  row(`burst ${count} checks (max_concurrency ${concurrency})${expect ? ' + body_regex' : ''}`, {
    'probes/s': Math.round(count / seconds),
    'cpu_us/probe': Math.round(cpu / count),
    failed,
    metrics_render_ms: renderMs,
    metrics_KiB: Math.round(text.length / 1024),
    peak_rss_MiB: peakRssMiB(),
  });
  await monitor.close();
}

/**
 * Runs `count` checks on their schedule and measures the steady state: after `warmup` seconds (the first runs, spread
 * over the first seconds, one interval more for every check to reach its own phase, and the JIT's warm-up, all of which
 * a service pays once), for `seconds`.
 */
async function scheduled(
  count: number,
  port: number,
  interval: string,
  warmup: number,
  seconds: number,
): Promise<void> {
  // Loaded as `forgewatch serve` loads it: from a file, parsed in a worker thread.
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'forgewatch-bench-')), 'forgewatch.yaml');
  writeFileSync(file, configFor(count, port, interval, 64));
  const monitor = new Monitor(await loadConfigFileIsolated(file));
  settle();
  const metrics = new Metrics(monitor);
  let runs = 0;
  monitor.onResult(() => runs++);
  const scheduler = new Scheduler(monitor);
  scheduler.start();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  runs = 0;
  const profile = profileDir ? await profilePhase(profileDir, `scheduled-${count}`) : undefined;
  const cpu0 = cpuMicros();
  const sleeps0 = process.resourceUsage().voluntaryContextSwitches;
  const t0 = performance.now();
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 200);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  scheduler.stop();
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuMicros() - cpu0;
  const sleeps = process.resourceUsage().voluntaryContextSwitches - sleeps0;
  const profiles = await profile?.stop();
  const m0 = performance.now();
  await metrics.render();
  const renderMs = performance.now() - m0;
  settle();
  const late = scheduler.latencyPercentiles();
  row(`scheduled ${count} checks every ${interval}, ${seconds}s after ${warmup}s`, {
    runs,
    'cpu_us/probe': runs ? Math.round(cpu / runs) : 0,
    'cpu_%_of_one_core': (cpu / 1e6 / elapsed) * 100,
    'wakeups/probe': runs ? (sleeps / runs).toFixed(2) : 0,
    lateness_p50_ms: late.p50,
    lateness_p99_ms: late.p99,
    rss_peak_while_running_MiB: rssPeak / 1024 / 1024,
    rss_after_scrape_MiB: process.memoryUsage().rss / 1024 / 1024,
    heap_end_MiB: process.memoryUsage().heapUsed / 1024 / 1024,
    metrics_render_ms: renderMs,
  });
  if (profiles) console.log(`  profiles: ${profiles.join(' ')}`);
  await monitor.close();
}

/** A bare undici request on a fresh connection: what every probe is built on. */
async function bareRequest(port: number, i: number): Promise<void> {
  const client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1 });
  const res = await client.request({ path: `/health?i=${i}`, method: 'GET' });
  await res.body.text();
  await client.close();
}

/** Baseline: a bare undici request on a fresh connection, same target, same concurrency. */
async function bareClient(count: number, port: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await bareRequest(port, next++);
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  next = 0;
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  row(`baseline: bare undici, fresh connection x${count}`, {
    'requests/s': Math.round(count / seconds),
    'cpu_us/request': Math.round((cpuMicros() - cpu0) / count),
  });
}

/**
 * The floor under a scheduled phase: bare undici requests at the rate of `count` checks every `interval` ms, started
 * on the steps the scheduler would use for them. What a request costs depends on how long the CPU slept before it
 * (much more on a virtual machine), so this is what the machine charges today for the connections alone, at that rate.
 */
async function bareScheduled(count: number, interval: number, port: number, seconds: number): Promise<void> {
  const runsPerMs = count / interval;
  const step = wakeStep(interval, runsPerMs);
  let owed = 0;
  let done = 0;
  let failed = 0;
  const timer = setInterval(() => {
    owed += runsPerMs * step;
    for (; owed >= 1; owed--)
      bareRequest(port, done).then(
        () => done++,
        () => failed++,
      );
  }, step);
  await new Promise((r) => setTimeout(r, 5000)); // warm-up
  done = 0;
  const cpu0 = cpuMicros();
  const sleeps0 = process.resourceUsage().voluntaryContextSwitches;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = cpuMicros() - cpu0;
  const sleeps = process.resourceUsage().voluntaryContextSwitches - sleeps0;
  clearInterval(timer);
  row(`floor: bare undici at ${Math.round(runsPerMs * 1000)}/s on ${step} ms steps`, {
    requests: done,
    failed,
    'cpu_us/request': done ? Math.round(cpu / done) : 0,
    'wakeups/request': done ? (sleeps / done).toFixed(2) : 0,
  });
}

const SCENARIOS: Record<string, (port: number) => Promise<void>> = {
  baseline: (port) => bareClient(5000, port, 64),
  'burst-1k': (port) => burst(1000, port, 64),
  'burst-10k': (port) => burst(10_000, port, 64),
  // The same burst with a body pattern, matched in the worker thread (its CPU counts: cpuUsage is process-wide).
  'burst-1k-regex': (port) => burst(1000, port, 64, `, body_regex: '"status":\\s*"ok"'`),
  'scheduled-1k': (port) => scheduled(1000, port, '5s', 10, quick ? 11 : 21),
  'floor-1k': (port) => bareScheduled(1000, 5_000, port, quick ? 11 : 21),
  'scheduled-10k': (port) => scheduled(10_000, port, '60s', 80, quick ? 30 : 60),
  'floor-10k': (port) => bareScheduled(10_000, 60_000, port, quick ? 30 : 60),
  // A real `forgewatch serve`: /metrics with gzip (median of five scrapes), then its resident memory.
  'serve-1k': (port) => serveMemory(port, 1000),
  'serve-10k': (port) => serveMemory(port, 10_000),
  // Real `forgewatch serve` processes over a real etcd: CPU per node against one node alone, etcd writes, failover.
  fleet: (port) => fleetScenario(port, quick),
};
/** Only with --vs-blackbox (or asked by name): it needs Debian's prometheus-blackbox-exporter. */
const OPTIONAL: Record<string, (port: number) => Promise<void>> = {
  'vs-blackbox': () => blackboxScenario(quick),
};

/** Each scenario runs in a fresh process so its peak RSS and CPU are its own. */
async function main(): Promise<void> {
  const only = process.argv.find((a) => a.startsWith('--scenario='))?.slice('--scenario='.length);
  // With the target's port given, this process is the scenario's own (forked below).
  if (only && process.env.FORGEWATCH_BENCH_PORT) {
    const port = Number(process.env.FORGEWATCH_BENCH_PORT);
    await (SCENARIOS[only] ?? OPTIONAL[only])?.(port);
    return;
  }
  const target = fork(fileURLToPath(new URL('./target-server.js', import.meta.url)), { stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => target.once('message', (m: { port: number }) => resolve(m.port)));
  console.log(`forgewatch bench — node ${process.version}, target on 127.0.0.1:${port} (separate process)\n`);
  try {
    const names = only ? [only] : Object.keys(SCENARIOS);
    if (process.argv.includes('--vs-blackbox') && !names.includes('vs-blackbox')) names.push('vs-blackbox');
    for (const name of names) {
      const child = fork(
        fileURLToPath(import.meta.url),
        [`--scenario=${name}`, ...process.argv.filter((a) => a === '--quick' || a.startsWith('--profile='))],
        {
          env: { ...process.env, FORGEWATCH_BENCH_PORT: String(port) },
          stdio: 'inherit',
          // As `forgewatch serve` runs: with the CLI's node flags.
          execArgv: ['--expose-gc', ...cliNodeFlags()],
        },
      );
      await new Promise((resolve) => child.once('exit', resolve));
    }
  } finally {
    target.disconnect();
    target.kill();
  }
}

void main();
