/**
 * The checks proposed for what runs on this machine: each upstream (a `proxy_pass` target or a container's
 * published port) gets an `http` check of its health path, a `port` check expecting its owner (the container that
 * publishes it, else the systemd unit, else the process) and, for a container, a `container` check; containers
 * meant to stay up get a `container` check; certbot lineages nginx does not name get a `cert_file` check; other
 * steady listeners get a `port` check. `forgewatch.*` container labels override what was found.
 */
import { parseDuration } from '../config/units.js';
import { DEFAULT_SOCKET } from '../docker/client.js';
import { isLoopback, isWildcard } from '../ports/proc-net.js';
import { hostPort } from '../util/address.js';
import type { DiscoveredContainer } from './docker.js';
import type { HealthPath } from './health-path.js';
import type { DiscoveredPort } from './ports.js';
import { checkNameOf, type Findings, type Proposal } from './propose.js';

/** A place some check reaches over plain HTTP on this machine, and why it is known. */
export interface UpstreamTarget {
  host: string;
  port: number;
  source: string;
}

/** Enough for a typical host; a machine with hundreds of listeners gets the lowest ports only. */
const MAX_LISTENER_CHECKS = 50;

export const upstreamKey = (host: string, port: number): string => hostPort(host, port);

function ownerOf(port: DiscoveredPort | undefined, container: DiscoveredContainer | undefined) {
  if (container) return { container: container.name };
  const o = port?.owner;
  if (!o) return undefined;
  return o.unit
    ? { unit: o.unit }
    : o.container_id
      ? { container: o.container_id.slice(0, 12) }
      : { process: o.process };
}

function containerOf(containers: readonly DiscoveredContainer[], port: number, found?: DiscoveredPort) {
  return containers.find(
    (c) =>
      c.published.some((p) => p.protocol === 'tcp' && p.host_port === port) ||
      (found?.owner?.container_id != null && c.id.startsWith(found.owner.container_id)),
  );
}

/** `forgewatch.check.interval`, when it reads as a duration. */
function intervalOf(c: DiscoveredContainer | undefined, notes: string[]): { interval?: string } {
  const v = c?.labels['check.interval'];
  if (v === undefined) return {};
  if (parseDuration(v) !== undefined) return { interval: v };
  notes.push(`label forgewatch.check.interval=${v} is not a duration such as 15s: left out`);
  return {};
}

/** Whether `forgewatch.http.port` leaves this port out of HTTP checks (it names another of the container's ports). */
function httpPortExcluded(c: DiscoveredContainer | undefined, port: number): boolean {
  const wanted = c?.labels['http.port'];
  if (wanted === undefined) return false;
  const n = Number(wanted);
  return !c?.published.some((p) => p.host_port === port && p.container_port === n) && n !== port;
}

function healthCheck(health: HealthPath | undefined, labelPath: string | undefined, notes: string[]) {
  if (labelPath) return { path: labelPath.startsWith('/') ? labelPath : `/${labelPath}`, expect: undefined };
  if (!health || health.found) return { path: health?.path ?? '/', expect: undefined };
  const answered = health.tried.some((t) => /^\/ \d{3}$/.test(t));
  if (answered) {
    notes.push(
      `no 2xx from ${health.tried.join(', ')}: any answer below 500 counts as up; set the health path (forgewatch.http.path on a container)`,
    );
    return { path: '/', expect: { status: ['200-499'] } };
  }
  notes.push(`already failing: it did not answer at discovery (${health.tried.join(', ')})`);
  return { path: '/', expect: undefined };
}

function containerCheck(c: DiscoveredContainer, socket: string | undefined, add: (p: Proposal) => void): string {
  const name = checkNameOf(`container-${c.name}`);
  const notes: string[] = [];
  add({
    source: `docker: container ${c.name} (${c.image}${c.restart_policy ? `, restart ${c.restart_policy}` : ''})`,
    notes,
    check: {
      name,
      type: 'container',
      container: c.name,
      ...(socket && socket !== DEFAULT_SOCKET ? { socket } : {}),
      ...intervalOf(c, notes),
    },
  });
  return name;
}

/** Each TCP port a container publishes, as a place reached over HTTP. */
export function containerTargets(containers: readonly DiscoveredContainer[]): UpstreamTarget[] {
  return containers.flatMap((c) =>
    c.published
      .filter((p) => p.protocol === 'tcp')
      .map((p) => ({
        host: isWildcard(p.host_ip) ? '127.0.0.1' : p.host_ip,
        port: p.host_port,
        source: `docker: container ${c.name} publishes ${hostPort(p.host_ip, p.host_port)}->${p.container_port}`,
      })),
  );
}

/**
 * Proposes the checks of `targets` (nginx's upstreams, then containers' ports: see upstreamTargets), of
 * containers, certbot lineages and other listeners; answers the check each public check should depend on,
 * by upstream key.
 */
export function proposeLocal(
  found: Findings,
  targets: readonly UpstreamTarget[],
  add: (p: Proposal) => void,
  exclude: { ports: ReadonlySet<number>; certificates: ReadonlySet<string> },
): Map<string, string> {
  const containers = found.docker?.containers ?? [];
  const socket = found.docker?.socket;
  const ports = new Map((found.ports ?? []).map((p) => [p.port, p]));

  const checkOf = new Map<string, string>();
  const containerChecks = new Map<string, string>();
  const containerCheckOf = (c: DiscoveredContainer) => {
    const known = containerChecks.get(c.name);
    if (known) return known;
    const name = containerCheck(c, socket, add);
    containerChecks.set(c.name, name);
    return name;
  };
  for (const t of targets) {
    const key = upstreamKey(t.host, t.port);
    if (checkOf.has(key)) continue;
    const listener = ports.get(t.port);
    const local = listener !== undefined || isLoopback(t.host) || t.host === 'localhost';
    const container = local ? containerOf(containers, t.port, listener) : undefined;
    const deps: string[] = [];
    if (local) {
      const portName = checkNameOf(`port-${t.port}`);
      const owner = ownerOf(listener, container);
      add({
        source: t.source,
        notes: listener ? [] : [`already failing: nothing listened on port ${t.port} at discovery`],
        check: {
          name: portName,
          type: 'port',
          host: t.host === 'localhost' ? '127.0.0.1' : t.host,
          port: t.port,
          ...(owner ? { owner } : {}),
          // The engine names the container holding the port.
          ...(container && socket && socket !== DEFAULT_SOCKET ? { socket } : {}),
          ...intervalOf(container, []),
        },
      });
      deps.push(portName);
      if (container) deps.push(containerCheckOf(container));
    }
    if (httpPortExcluded(container, t.port)) {
      checkOf.set(key, deps[0] as string);
      continue;
    }
    const notes: string[] = [];
    const health = healthCheck(found.health?.get(key), container?.labels['http.path'], notes);
    const name = checkNameOf(`upstream-${t.port}`);
    add({
      source: t.source,
      notes,
      check: {
        name,
        type: 'http',
        url: `http://${hostPort(t.host, t.port)}${health.path}`,
        ...(health.expect ? { expect: health.expect } : {}),
        ...intervalOf(container, []),
        ...(deps.length ? { depends_on: deps } : {}),
      },
    });
    checkOf.set(key, name);
  }

  for (const c of containers) if (!containerChecks.has(c.name)) containerCheckOf(c);

  for (const l of found.certbot?.lineages ?? []) {
    if (exclude.certificates.has(l.fullchain)) continue;
    add({
      source: `certbot: ${l.renewal} (${l.names.join(', ')}; expires ${l.not_after.slice(0, 10)})`,
      notes: [],
      check: { name: checkNameOf(`cert-${l.name}`), type: 'cert_file', path: l.fullchain, names: l.names },
    });
  }

  const used = new Set([...exclude.ports, ...targets.map((t) => t.port)]);
  for (const p of (found.ports ?? []).filter((x) => !used.has(x.port)).slice(0, MAX_LISTENER_CHECKS)) {
    const container = containerOf(containers, p.port, p);
    const owner = ownerOf(p, container);
    const who = p.owner
      ? `${p.owner.process}${p.owner.unit ? ` (${p.owner.unit})` : ''} listening`
      : 'listening (its owner is not visible to this user)';
    add({
      source: `ports: ${who} on ${hostPort(p.host, p.port)}`,
      notes: [],
      check: {
        name: checkNameOf(`port-${p.port}`),
        type: 'port',
        host: p.host,
        port: p.port,
        ...(owner ? { owner } : {}),
      },
    });
  }
  return checkOf;
}
