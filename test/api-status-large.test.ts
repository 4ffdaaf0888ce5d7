import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForgewatch, waitFor, type RunningForgewatch } from './helpers/service.js';
import { httpServer, type Started } from './helpers/servers.js';

/** More than two of the pieces /api/status is written in (500 checks each), and not a multiple of one. */
const CHECKS = 1234;
const isDown = (i: number) => i % 7 === 0;

let target: Started<http.Server>;
let fw: RunningForgewatch;

interface StatusEntry {
  name: string;
  type: string;
  state: string;
  since: string;
  running: boolean;
  labels: Record<string, string>;
  depends_on: string[];
  last: {
    at: string;
    status: string;
    reason: string;
    hint: string | null;
    duration_ms: number | null;
    details: Record<string, unknown>;
  } | null;
}

async function status(): Promise<{ checks: StatusEntry[] }> {
  const res = await fetch(`${fw.url}/api/status`);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  // Parsed from the text so a broken join between two pieces fails here, not as a vague fetch error.
  return JSON.parse(await res.text()) as { checks: StatusEntry[] };
}

beforeAll(async () => {
  target = await httpServer((req, res) => {
    if (req.url?.startsWith('/down')) res.writeHead(503).end('down');
    else res.writeHead(200).end('ok');
  });
  const checks = Array.from({ length: CHECKS }, (_, i) =>
    [
      `  - name: c${i}`,
      `    type: http`,
      `    url: ${target.url}/${isDown(i) ? 'down' : 'up'}?i=${i}`,
      ...(i % 3 === 0 ? [`    labels: { team: t${i % 5} }`] : []),
    ].join('\n'),
  );
  fw = await startForgewatch(
    `defaults: { interval: 1h, failure_threshold: 1 }\nmax_concurrency: 64\nchecks:\n${checks.join('\n')}\n`,
  );
}, 30_000);
afterAll(async () => {
  await fw.close();
  await target.close();
});

describe('/api/status with more checks than one piece of its body', () => {
  it('is one valid JSON document listing every check exactly once, in config order, with every field', async () => {
    const { checks } = await waitFor(
      async () => {
        const body = await status();
        return body.checks.every((c) => c.last !== null) ? body : undefined;
      },
      60_000,
      250,
    );
    expect(checks.map((c) => c.name)).toEqual(Array.from({ length: CHECKS }, (_, i) => `c${i}`));
    expect(new Set(checks.map((c) => c.name)).size).toBe(CHECKS);
    for (const [i, entry] of checks.entries()) {
      const view = fw.service.monitor.view(entry.name);
      expect(Object.keys(entry)).toEqual(['name', 'type', 'state', 'since', 'running', 'labels', 'depends_on', 'last']);
      expect(Object.keys(entry.last ?? {})).toEqual(['at', 'status', 'reason', 'hint', 'duration_ms', 'details']);
      expect(entry).toMatchObject({
        type: 'http',
        state: isDown(i) ? 'fail' : 'ok',
        since: view?.state.since,
        labels: i % 3 === 0 ? { team: `t${i % 5}` } : {},
        depends_on: view?.check.depends_on,
        last: {
          at: view?.last?.at,
          status: isDown(i) ? 'fail' : 'ok',
          reason: isDown(i) ? 'status 503, expected 200-299' : view?.last?.result.reason,
          details: { status_code: isDown(i) ? 503 : 200 },
        },
      });
      expect(typeof entry.last?.duration_ms).toBe('number');
    }
  });
});
