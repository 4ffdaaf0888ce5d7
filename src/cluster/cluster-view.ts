/** What GET /api/cluster answers, and the members' last lease renewals as etcd tells them. */
import type { Etcd3 } from 'etcd3';
import type { ConfigMatch } from './config-drift.js';
import type { CoordinationState } from './membership.js';

export interface ClusterMemberView {
  name: string;
  location: string;
  address: string;
  checks_owned: number | null;
  /** ISO time the member's lease was last renewed, as etcd tells (to the second); null when unknown. */
  last_renewal: string | null;
  /** The hash of the checks the member runs (configHash); differs from the leader's when its config does. */
  config_hash: string;
}

/** What GET /api/cluster answers. */
export interface ClusterView {
  node: { name: string; location: string; address: string; checks_owned: number; is_leader: boolean };
  leader: string | null;
  coordination: CoordinationState;
  members: ClusterMemberView[];
  handovers: number;
  /** This node's config against the leader's. */
  config: ConfigMatch;
}

/** How long /api/cluster waits for etcd to tell the members' last renewals. */
const RENEWALS_DEADLINE_MS = 1_000;

/**
 * Each member's last lease renewal: now minus the part of its lease's TTL that has run out. Asked with a short
 * deadline: /api/cluster must answer (without renewals) while etcd is slow or has lost its quorum.
 */
export async function lastRenewals(client: Etcd3, prefix: string): Promise<Map<string, string>> {
  const members = `${prefix}members/`;
  const options = () => ({ deadline: Date.now() + RENEWALS_DEADLINE_MS });
  const { kvs } = await client.getAll().prefix(members).options(options()).exec();
  const out = new Map<string, string>();
  await Promise.all(
    kvs.map(async (kv) => {
      if (kv.lease === '0') return;
      const ttl = await client.leaseClient.leaseTimeToLive({ ID: kv.lease }, options());
      if (Number(ttl.TTL) < 0) return;
      const elapsedS = Number(ttl.grantedTTL) - Number(ttl.TTL);
      out.set(kv.key.toString().slice(members.length), new Date(Date.now() - elapsedS * 1000).toISOString());
    }),
  );
  return out;
}
