/** The Debian prometheus-alertmanager binary on a free port, with its own storage dir and no cluster listener. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './servers.js';
import { tempDir, waitFor } from './service.js';

export interface AmAlertView {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

export interface RunningAlertmanager {
  url: string;
  /** GET /api/v2/alerts (active, silenced and inhibited ones). */
  alerts(): Promise<AmAlertView[]>;
  stop(): Promise<void>;
}

export async function startAlertmanager(): Promise<RunningAlertmanager> {
  const tmp = tempDir('forgewatch-am-');
  const port = await freePort();
  const configFile = path.join(tmp.dir, 'alertmanager.yml');
  writeFileSync(configFile, JSON.stringify({ route: { receiver: 'null' }, receivers: [{ name: 'null' }] }));
  const child: ChildProcess = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(tmp.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () =>
        child.exitCode === null &&
        (await fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        )),
      15_000,
      100,
    );
  } catch (err) {
    child.kill('SIGKILL');
    await tmp.cleanup();
    throw new Error(`alertmanager did not become ready: ${(err as Error).message}\n${log}`);
  }
  return {
    url,
    alerts: async () =>
      (await (
        await fetch(`${url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`)
      ).json()) as AmAlertView[],
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await tmp.cleanup();
    },
  };
}
