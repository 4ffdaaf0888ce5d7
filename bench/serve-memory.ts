/**
 * A real `forgewatch serve` with many HTTP checks, every one run: five scrapes of /metrics asked as Prometheus asks
 * (Accept-Encoding: gzip), their median time and sizes, then the process's resident memory.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
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

/**
 * Fetches /metrics the way Prometheus asks for it, timed to its last byte. Read with node:http, which leaves the body
 * as sent: fetch would also time its own decompression of ten megabytes, the scraper's work rather than the server's.
 */
function scrape(url: string): Promise<{ ms: number; wireBytes: number; textBytes: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/metrics`, { headers: { 'accept-encoding': 'gzip' }, timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const ms = performance.now() - t0;
          const wire = Buffer.concat(chunks);
          const text = res.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
          resolve({ ms, wireBytes: wire.length, textBytes: text.length });
        });
      })
      .on('error', reject);
  });
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
  // Waits on the service's own log (each check's first run logs its unknown -> ok transition) rather than polling
  // /api/status: ten thousand checks' status, asked every half second, would weigh on the memory measured here.
  let ran = 0;
  for (const stream of [node.process.stdout, node.process.stderr]) stream?.removeAllListeners('data');
  node.process.stderr?.resume();
  node.process.stdout?.on(
    'data',
    (chunk: Buffer) => (ran += chunk.toString('latin1').split('"event":"transition"').length - 1),
  );
  node.logs.length = 0;
  try {
    // Every check runs once soon after start (the first runs are spread over a few seconds).
    await waitFor(() => ran >= checks, 120_000, 250);
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
