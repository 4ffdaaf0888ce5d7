/** `forgewatch cluster status`: reads GET /api/cluster of a running node and prints the fleet as a table. */
import type { ClusterView } from './fleet.js';

/** The node's API cannot be read: not running there, wrong token, or a node without `cluster:`. */
export class ClusterStatusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterStatusError';
  }
}

export async function fetchClusterView(baseUrl: string, token: string | undefined): Promise<ClusterView> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/cluster`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new ClusterStatusError(
      `cannot reach ${url}: ${why}; is forgewatch serve running there? Give its address with --url`,
    );
  }
  if (res.status === 401)
    throw new ClusterStatusError(`${url} wants a token: set FORGEWATCH_TOKEN to the node's server.token`);
  const body = (await res.json().catch(() => ({}))) as ClusterView & { error?: string };
  if (!res.ok) throw new ClusterStatusError(`${url} answered ${res.status}: ${body.error ?? 'no reason given'}`);
  return body;
}

function ago(iso: string | null, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return `${s}s ago`;
}

export function formatClusterTable(view: ClusterView, now = Date.now()): string {
  const coordination = view.coordination.up
    ? `up (${view.coordination.reason})`
    : `DOWN (${view.coordination.reason}): this node runs every check on its own`;
  const lines = [
    `fleet of ${view.members.length} member${view.members.length === 1 ? '' : 's'}, leader ${view.leader ?? 'none'}`,
    `asked node ${view.node.name}: coordination ${coordination}; ${view.node.checks_owned} checks run there, ${view.handovers} taken over`,
    '',
  ];
  const leaderHash = view.members.find((m) => m.name === view.leader)?.config_hash;
  // Each member's config against the leader's: a node that differs runs its share of the checks otherwise.
  const config = (hash: string) => (leaderHash === undefined ? '-' : hash === leaderHash ? 'same' : 'DIFFERS');
  const rows = [
    ['NODE', 'LOCATION', 'ADDRESS', 'CHECKS', 'LAST RENEWAL', 'CONFIG'],
    ...view.members.map((m) => [
      `${m.name}${m.name === view.leader ? ' (leader)' : ''}`,
      m.location,
      m.address,
      m.checks_owned === null ? '-' : String(m.checks_owned),
      ago(m.last_renewal, now),
      config(m.config_hash),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows)
    lines.push(
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  if (view.config.matches === false)
    lines.push(
      '',
      `the config of ${view.node.name} differs from the leader ${view.leader ?? ''}'s (hash ${view.config.hash}, leader ${view.config.leader_hash ?? '-'}): reload or deploy the same file on every node`,
    );
  if (view.members.length === 1) lines.push('', 'a fleet of one: no other node watches this one');
  return lines.join('\n');
}
