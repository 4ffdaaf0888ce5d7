/** Before and at joining a fleet: the etcd start-up probe, the config hash nodes compare, the joined marker. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../util/fs.js';
import type { ClusterConfig } from './config.js';
import { probeEtcd } from './etcd.js';

/** A hash of the checks as configured: nodes of one fleet should all run the same config. */
export function configHash(config: Config): string {
  const hash = createHash('sha256');
  for (const name of [...config.fingerprints.keys()].sort()) hash.update(`${name}\0${config.fingerprints.get(name)}\0`);
  return hash.digest('hex').slice(0, 16);
}

/** Fails with EtcdUnavailableError (naming each endpoint and why) when no etcd endpoint answers. */
export async function checkEtcd(cluster: ClusterConfig, logger: Logger): Promise<void> {
  const probe = await probeEtcd(cluster);
  for (const f of probe.failures)
    logger.warn(
      { event: 'etcd_endpoint_unavailable', endpoint: f.endpoint, reason: f.reason },
      `etcd endpoint ${f.endpoint} does not answer (${f.reason}); using the others`,
    );
}

/** In state_dir once this node joined a fleet: it may start failing open when etcd is away at its next start. */
const JOINED_FILE = 'fleet.json';

interface JoinedMarker {
  prefix: string;
  node: string;
  joined_at: string;
}

/** Whether this state_dir's node was in this fleet (same prefix and node name) before. */
export function joinedBefore(stateDir: string, cluster: ClusterConfig): boolean {
  try {
    const marker = JSON.parse(readFileSync(path.join(stateDir, JOINED_FILE), 'utf8')) as Partial<JoinedMarker>;
    return marker.prefix === cluster.etcd.prefix && marker.node === cluster.node;
  } catch {
    return false;
  }
}

/** Notes in state_dir that this node joined the fleet (see joinedBefore). */
export async function writeJoinedMarker(stateDir: string, cluster: ClusterConfig): Promise<void> {
  const marker: JoinedMarker = { prefix: cluster.etcd.prefix, node: cluster.node, joined_at: new Date().toISOString() };
  await writeFileAtomic(path.join(stateDir, JOINED_FILE), JSON.stringify(marker));
}
