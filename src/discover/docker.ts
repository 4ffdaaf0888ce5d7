/**
 * Containers as discovery reads them from the Docker Engine API (the socket the container check uses): those
 * meant to stay up (a restart policy) or serving (published ports), with their ports, whether they have a
 * health check, and the `forgewatch.*` labels that override what is discovered. An engine that cannot be reached
 * is reported as skipped with the reason.
 */
import { DockerClient } from '../docker/client.js';
import { containerName, type ContainerInspect } from '../docker/types.js';

export interface PublishedPort {
  host_ip: string;
  host_port: number;
  container_port: number;
  protocol: string;
}

export interface DiscoveredContainer {
  /** The full container id (the port table names a listener's container by it). */
  id: string;
  name: string;
  image: string;
  /** `always`, `unless-stopped`, `on-failure`; empty for none. */
  restart_policy: string;
  published: PublishedPort[];
  /** The image or the container defines a health check (the container check reports it). */
  has_health_check: boolean;
  /** Its `forgewatch.*` labels, without the prefix (`http.path`, `enable`, `check.interval`). */
  labels: Record<string, string>;
}

export interface DockerFindings {
  socket: string;
  containers: DiscoveredContainer[];
  /** Containers left out by their `forgewatch.enable=false` label. */
  disabled: string[];
  skipped?: string;
}

/** What inspect says beyond what the container check reads. */
type Inspected = ContainerInspect & {
  HostConfig?: { RestartPolicy?: { Name?: string } | null } | null;
  Config?: (ContainerInspect['Config'] & { Healthcheck?: { Test?: string[] } | null }) | null;
};

const LABEL_PREFIX = 'forgewatch.';
const DEADLINE_MS = 5_000;

function published(c: Inspected): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [spec, bindings] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
    const [port, protocol = 'tcp'] = spec.split('/');
    for (const b of bindings ?? [])
      if (b.HostPort)
        out.push({
          host_ip: b.HostIp || '0.0.0.0',
          host_port: Number(b.HostPort),
          container_port: Number(port),
          protocol,
        });
  }
  return out.sort((a, b) => a.host_port - b.host_port);
}

function forgewatchLabels(labels: Record<string, string> | null | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels ?? {})
      .filter(([k]) => k.startsWith(LABEL_PREFIX))
      .map(([k, v]) => [k.slice(LABEL_PREFIX.length), v]),
  );
}

/** Reads the containers from the engine at `socket`. */
export async function readDocker(socket: string): Promise<DockerFindings> {
  const client = new DockerClient(socket);
  const findings: DockerFindings = { socket, containers: [], disabled: [] };
  try {
    const signal = AbortSignal.timeout(DEADLINE_MS);
    for (const summary of await client.list({}, signal)) {
      const c = (await client.inspect(summary.Id, signal)) as Inspected | undefined;
      if (!c) continue;
      const name = containerName(c);
      const labels = forgewatchLabels(c.Config?.Labels);
      const restart = c.HostConfig?.RestartPolicy?.Name ?? '';
      const ports = published(c);
      if (labels.enable === 'false') {
        findings.disabled.push(name);
        continue;
      }
      if ((restart === '' || restart === 'no') && ports.length === 0 && labels.enable !== 'true') continue;
      findings.containers.push({
        id: c.Id,
        name,
        image: c.Config?.Image ?? c.Image ?? '',
        restart_policy: restart === 'no' ? '' : restart,
        published: ports,
        has_health_check: Boolean(c.Config?.Healthcheck?.Test?.length) || Boolean(c.State?.Health),
        labels,
      });
    }
  } catch (err) {
    return {
      socket,
      containers: [],
      disabled: [],
      skipped: `cannot read containers from ${socket}: ${(err as Error).message}`,
    };
  } finally {
    await client.close();
  }
  findings.containers.sort((a, b) => a.name.localeCompare(b.name));
  return findings;
}
