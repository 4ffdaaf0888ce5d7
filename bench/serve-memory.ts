/**
 * A real `forgewatch serve` with many HTTP checks, every one run: five scrapes of /metrics asked as Prometheus asks
 * (Accept-Encoding: gzip), their median time and sizes, then the process's resident memory.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startFleetNode } from '../test/helpers/fleet.js';
import { tempDir, waitFor } from '../test/helpers/service.js';
import { row, rssMiB } from './proc.js';

const SCRAPES = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Fetches /metrics the way Prometheus does; undici's fetch would decompress on its own, so the size is read raw. */
async function scrape(url: string): Promise<{ ms: number; wireBytes: number; textBytes: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/metrics`, {
    headers: { 'accept-encoding': 'gzip' },
    signal: AbortSignal.timeout(60_000),
  });
  const wire = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  // fetch decompresses a gzip body itself: the wire size is then the Content-Length the server sent.
  const sent = Number(res.headers.get('content-length') ?? wire.length);
  const gzipped = wire[0] === 0x1f && wire[1] === 0x8b;
  const text = gzipped ? gunzipSync(wire) : wire;
  return { ms, wireBytes: res.headers.get('content-encoding') === 'gzip' ? sent : wire.length, textBytes: text.length };
}

export async function serveMemory(port: number, checks: number): Promise<void> {
  const temp = tempDir('forgewatch-bench-serve-');
  const file = path.join(temp.dir, 'forgewatch.yaml');
  const lines = Array.from(
    { length: checks },
    (_, i) =>
      `  - { name: c${i}, type: http, url: "http://127.0.0.1:${port}/health?i=${i}", expect: { status: [200] } }`,
  );
  writeFileSync(
    file,
    `state_dir: \${FW_STATE}\nmax_concurrency: 64\ndefaults: { interval: 24h, timeout: 10s }\nchecks:\n${lines.join('\n')}\n`,
  );
  const node = await startFleetNode(file, 'bench', temp.dir);
  for (const stream of [node.process.stdout, node.process.stderr]) stream?.removeAllListeners('data').resume();
  node.logs.length = 0;
  try {
    // Every check runs once soon after start (the first runs are spread over a few seconds).
    await waitFor(
      async () => {
        const status = (await (await fetch(`${node.url}/api/status`)).json()) as { checks: Array<{ last: unknown }> };
        return status.checks.every((c) => c.last !== null);
      },
      120_000,
      500,
    );
    const scrapes = [];
    for (let i = 0; i < SCRAPES; i++) scrapes.push(await scrape(node.url));
    const last = scrapes.at(-1);
    row(`serve ${checks} checks, all run, ${SCRAPES} scrapes`, {
      metrics_median_ms: median(scrapes.map((s) => s.ms)),
      metrics_first_ms: scrapes[0]?.ms ?? NaN,
      metrics_KiB: Math.round((last?.textBytes ?? 0) / 1024),
      metrics_sent_KiB: Math.round((last?.wireBytes ?? 0) / 1024),
      rss_MiB: rssMiB(node.process.pid as number),
    });
  } finally {
    await node.kill();
    await temp.cleanup();
  }
}
