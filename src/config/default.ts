/** The config used when no file is given: useful on any machine without editing anything. */
import { listenerChecksYaml } from '../ports/default-checks.js';
import type { ListenAddress } from './schema.js';

export function defaultConfigText(listen: ListenAddress): string {
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const hostPort = host.includes(':') ? `[${host}]:${listen.port}` : `${host}:${listen.port}`;
  return `# forgewatch embedded default (no config file found)
server:
  listen: "${hostPort}"
defaults:
  interval: 30s
  timeout: 10s
checks:
  - name: forgewatch-self
    type: http
    url: http://${hostPort}/healthz
    interval: 15s
    timeout: 5s
    expect:
      status: [200]
      json: { status: ok }
${listenerChecksYaml([listen.port])}`;
}
