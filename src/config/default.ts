/**
 * The config used when no file is given: forgewatch's own self-check plus what discovery proposes for this
 * machine (nginx's names and upstreams, certbot lineages, containers, steady listeners), so a first run watches
 * what is really there without editing anything.
 */
import type { Discovery } from '../discover/index.js';
import { proposalsYaml } from '../discover/propose.js';
import { hostPort } from '../util/address.js';
import type { ListenAddress } from '../util/listen.js';
import { stringify } from 'yaml';

/** The config's `file` when it was discovered rather than read (the status page says so). */
export const DISCOVERED_CONFIG = '(discovered on this machine)';

/** The command that writes the discovered config to a file, as the status page and the log show it. */
export const WRITE_DISCOVERED = 'forgewatch discover --write forgewatch.yaml';

export function defaultConfigText(listen: ListenAddress, discovery: Discovery): string {
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const selfAddress = hostPort(host, listen.port);
  // forgewatch's own listener is watched by the self-check, not as a port.
  const proposals = discovery.proposals.filter((p) => !(p.check.type === 'port' && p.check.port === listen.port));
  const checks = proposalsYaml(proposals, (v) => stringify(v)).replace(/^checks:\n/, '');
  return `# forgewatch's default (no config file found): discovered on this machine; ${WRITE_DISCOVERED} keeps it
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
${checks}`;
}
