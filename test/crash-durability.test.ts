/**
 * A kill -9 moments after a transition: state.json and incidents.json are written separately, so any one of them
 * may have landed. Whatever did, every FAIL and every RECOVERED must still arrive, each under one idempotency key.
 */
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alertScene, captureLogger } from './helpers/alerts.js';
import { serveProcess } from './helpers/served.js';
import { startForgewatch, waitFor } from './helpers/service.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** The shared serve helper, plus a wait for its next `transition` log line to `to`. */
async function serve(configFile: string) {
  const served = await serveProcess(configFile, cleanups);
  const waiters: { to: string; resolve: () => void }[] = [];
  served.onLine((line) => {
    if (!line.includes('"event":"transition"')) return;
    const { to } = JSON.parse(line) as { to: string };
    // Only the waiters for this status: a transition elsewhere (a restart's first run) leaves the others waiting.
    for (const w of waiters.filter((x) => x.to === to)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    ...served,
    /** Rejects, with what the process printed, when the transition does not come within 30 s. */
    transitionTo: (to: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no transition to ${to} within 30s; output:\n${served.output().slice(-2000)}`)),
          30_000,
        );
        waiters.push({
          to,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
  };
}

async function statusOf(url: string): Promise<string | undefined> {
  const body = (await (await fetch(`${url}/api/status`)).json()) as { checks: { name: string; state: string }[] };
  return body.checks.find((c) => c.name === 'svc')?.state;
}

interface Payload {
  idempotency_key: string;
  events: { kind: string; check: string }[];
}

const KILL_DELAYS_MS = [0, 1, 2, 4, 8, 16];

describe('a kill -9 right after a transition', () => {
  it('loses no FAIL and no RECOVERED, and never sends one under two keys', async () => {
    const { dir, target, hook } = await alertScene(cleanups);
    const configFile = path.join(dir, 'forgewatch.yaml');
    writeFileSync(
      configFile,
      `state_dir: ${path.join(dir, 'state')}
defaults: { interval: 100ms, failure_threshold: 1 }
checks:
  - { name: svc, type: http, url: "${target.url}/svc", expect: { status: 200 } }
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/in" }
  group_wait: 20ms
  retry: { initial: 100ms, max: 200ms }
`,
    );
    const keysOf = (kind: string) =>
      new Set(
        hook.accepted
          .map((r) => r.json as Payload)
          .filter((p) => p.events.some((e) => e.kind === kind && e.check === 'svc'))
          .map((p) => p.idempotency_key),
      );

    let fails = 0;
    let recoveries = 0;
    let served = await serve(configFile);
    await waitFor(async () => (await statusOf(served.url)) === 'ok');
    for (const delay of [...KILL_DELAYS_MS, ...KILL_DELAYS_MS, ...KILL_DELAYS_MS]) {
      for (const [status, to] of [
        [502, 'fail'],
        [200, 'ok'],
      ] as const) {
        const seen = served.transitionTo(to);
        target.set('/svc', status);
        await seen;
        await new Promise((r) => setTimeout(r, delay));
        served.proc.kill('SIGKILL');
        await once(served.proc, 'exit');
        if (to === 'fail') fails += 1;
        else recoveries += 1;

        served = await serve(configFile);
        // The message this transition owes arrives after the restart, whichever file the kill left behind.
        await waitFor(() => keysOf('firing').size >= fails && keysOf('resolved').size >= recoveries, 15_000);
        await waitFor(async () => (await statusOf(served.url)) === to);
      }
    }
    // A last transition, seen through to its message, shows nothing else was still on its way.
    target.set('/svc', 502);
    await waitFor(() => keysOf('firing').size >= fails + 1, 15_000);

    expect(keysOf('firing').size).toBe(fails + 1);
    expect(keysOf('resolved').size).toBe(recoveries);
    served.proc.kill('SIGTERM');
    await once(served.proc, 'exit');
  }, 240_000);
});

describe('state files found at start-up', () => {
  it('alerts again for a check saved as failing when incidents.json is damaged, with the saved reason', async () => {
    const { dir, target, hook } = await alertScene(cleanups);
    target.set('/svc', 502);
    const since = new Date(Date.now() - 60_000).toISOString();
    const stateDir = path.join(dir, '.forgewatch');
    mkdirSync(stateDir);
    writeFileSync(
      path.join(stateDir, 'state.json'),
      JSON.stringify({ version: 1, checks: { svc: { status: 'fail', since, reason: 'status 502, expected 200' } } }),
    );
    writeFileSync(path.join(stateDir, 'incidents.json'), '{"incidents": [ this is not json');
    const log = captureLogger();
    const fw = await startForgewatch(
      `checks:
  - { name: svc, type: http, url: "${target.url}/svc", interval: 1h }
alerts:
  channels:
    - { name: hook, type: webhook, url: "${hook.url}/in" }
  group_wait: 20ms
`,
      { dir, logger: log.logger },
    );
    cleanups.push(() => fw.close());
    await waitFor(() => hook.accepted.length === 1);
    const sent = hook.accepted[0]?.json as Payload & { events: { reason: string; since: string }[] };
    expect(sent.events).toMatchObject([{ kind: 'firing', check: 'svc', reason: 'status 502, expected 200', since }]);
    expect(log.events('incident_reconciled')).toMatchObject([{ check: 'svc', since }]);
  });

  it('ignores a saved state that is not a known status, starting the check as unknown', async () => {
    const { dir, target } = await alertScene(cleanups);
    mkdirSync(path.join(dir, '.forgewatch'));
    writeFileSync(
      path.join(dir, '.forgewatch', 'state.json'),
      JSON.stringify({
        version: 1,
        checks: { svc: { status: 'exploded', since: 'yesterday' }, other: { status: 'ok', since: 'not a time' } },
      }),
    );
    const log = captureLogger();
    const fw = await startForgewatch(
      `checks:
  - { name: svc, type: http, url: "${target.url}/svc", interval: 1h }
`,
      { dir, logger: log.logger },
    );
    cleanups.push(() => fw.close());
    expect(fw.service.monitor.view('svc')?.state.status).toBe('unknown');
    await waitFor(() => log.events('transition').length === 1);
    expect(log.events('transition')[0]).toMatchObject({ check: 'svc', from: 'unknown', to: 'ok' });
  });
});
