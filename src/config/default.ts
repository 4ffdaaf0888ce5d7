/** The config used when no file is given: useful on any machine without editing anything. */
import { listenerChecksYaml } from '../ports/default-checks.js';
import type { Listener } from '../ports/proc-net.js';
import { hostPort } from '../util/address.js';
import type { ListenAddress } from '../util/listen.js';

/** `listeners`: the TCP listeners to watch (those seen steadily, see SteadyListeners). */
export function defaultConfigText(listen: ListenAddress, listeners: readonly Listener[]): string {
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const selfAddress = hostPort(host, listen.port);
  return `# forgewatch embedded default (no config file found)
server:
  listen: "${selfAddress}"
defaults:
  interval: 30s
  timeout: 10s
checks:
  - name: forgewatch-self
    type: http
    url: http://${selfAddress}/healthz
    interval: 15s
    timeout: 5s
    expect:
      status: [200]
      json: { status: ok }
${listenerChecksYaml([listen.port], listeners)}`;
}
