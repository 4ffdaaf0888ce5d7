/** Container checks as the tests run them: one-check YAML through the real loader and monitor, and stand-in engines. */
import http from 'node:http';
import type { JsonObject } from '../../src/probes/types.js';
import { monitorFor } from './checks.js';

/** YAML for one container check on `socket`; `body` holds its own keys, one per line. */
export function containerCheck(name: string, body: string, socket: string): string {
  return `checks:\n  - name: ${name}\n    type: container\n    socket: ${socket}\n    timeout: 10s\n${body
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n`;
}

/** Runs the config's first check; with `before`, runs it again after that (the check's memory kept between runs). */
export async function runContainerCheck(yaml: string, before?: () => Promise<void>) {
  const monitor = monitorFor(yaml);
  try {
    const name = (monitor.checks[0] as { name: string }).name;
    const first = await monitor.run(name);
    if (!before) return first;
    await before();
    return await monitor.run(name);
  } finally {
    await monitor.close();
  }
}

export function containers(details: JsonObject): JsonObject[] {
  return details.containers as JsonObject[];
}

/** A real HTTP server on a unix socket playing the engine, for answers podman will not give (errors, OOM kills, crowds). */
export async function fakeEngine(socket: string, handler: http.RequestListener): Promise<{ close(): void }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
