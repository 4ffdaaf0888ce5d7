/**
 * Discovery: reads this machine's nginx, certbot lineages, containers and port table, asks each upstream for its
 * health path, and proposes the checks (see propose.ts). Every source is optional: one that is off, absent or
 * unreadable is reported as skipped with the reason, and the others still count.
 */
import { readPemFile, fileErrorText, sansOf } from '../tls/certificate.js';
import { readCertbot, type CertbotFindings } from './certbot.js';
import { resolveSocket } from '../docker/client.js';
import { readDocker, type DockerFindings } from './docker.js';
import { findHealthPath, type HealthPath } from './health-path.js';
import { readNginxSource, type NginxMode } from './nginx-source.js';
import { readPorts, type DiscoveredPort } from './ports.js';
import {
  propose,
  uncheckableNames,
  upstreamTargets,
  type CertificateNames,
  type Findings,
  type Proposal,
} from './propose.js';
import { upstreamKey } from './propose-local.js';

export interface DiscoverOptions {
  nginx?: NginxMode;
  /** certbot's directory (default /etc/letsencrypt); `off` skips it. */
  letsencrypt?: string;
  /** The Docker Engine socket (default $DOCKER_HOST's unix path, else /var/run/docker.sock); `off` skips it. */
  docker?: string;
  /** The steady listeners, when the caller keeps scanning; else two scans a few seconds apart are made here. */
  ports?: () => Promise<DiscoveredPort[]>;
  /** Ports never proposed (forgewatch's own). */
  excludePorts?: readonly number[];
}

export interface SourceReport {
  source: 'nginx' | 'certbot' | 'docker' | 'ports';
  /** What was read: `nginx -T`, a path, a socket. */
  from: string;
  /** What it gave, in a few words, when read. */
  found?: string;
  /** Why nothing came from it. */
  skipped?: string;
}

export interface Discovery {
  sources: SourceReport[];
  proposals: Proposal[];
  /** Comment lines: names no check can request, lineages that could not be read. */
  remarks: string[];
}

/** The engine as the container check finds it (`--docker`, else DOCKER_HOST's unix path, else the default). */
function readEngine(flag: string | undefined): Promise<DockerFindings> {
  let socket: string;
  try {
    socket = resolveSocket(flag);
  } catch (err) {
    const where = process.env.DOCKER_HOST ?? '';
    return Promise.resolve({ socket: where, containers: [], disabled: [], skipped: (err as Error).message });
  }
  return readDocker(socket);
}

async function certificateNames(paths: readonly string[]): Promise<Map<string, CertificateNames>> {
  const out = new Map<string, CertificateNames>();
  for (const file of new Set(paths)) {
    try {
      const [leaf] = await readPemFile(file);
      out.set(file, leaf ? { names: sansOf(leaf).dns } : { error: `no PEM certificate in ${file}` });
    } catch (err) {
      out.set(file, { error: `cannot read ${file}: ${fileErrorText(err)}` });
    }
  }
  return out;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export async function discover(opts: DiscoverOptions = {}): Promise<Discovery> {
  const letsencrypt = opts.letsencrypt ?? '/etc/letsencrypt';
  const [nginx, certbot, docker, ports] = await Promise.all([
    readNginxSource(opts.nginx ?? 'auto'),
    letsencrypt === 'off' ? undefined : readCertbot(letsencrypt),
    opts.docker === 'off' ? undefined : readEngine(opts.docker),
    (opts.ports ?? (() => readPorts()))(),
  ]);
  const exclude = new Set(opts.excludePorts ?? []);
  const found: Findings = {
    ...(nginx.config ? { nginx: nginx.config } : {}),
    ...(certbot && !certbot.skipped ? { certbot } : {}),
    ...(docker && !docker.skipped ? { docker } : {}),
    ports: ports.filter((p) => !exclude.has(p.port)),
  };
  found.certificates = await certificateNames(
    (found.nginx?.servers ?? []).flatMap((s) => (s.sslCertificate ? [s.sslCertificate.path] : [])),
  );
  found.health = await healthPaths(found);
  const proposals = propose(found).filter((p) => !(p.check.type === 'port' && exclude.has(Number(p.check.port))));
  return { sources: reports(nginx, letsencrypt, certbot, docker, ports), proposals, remarks: remarks(found) };
}

/** Asks each upstream (once, whatever points at it) without a path from a label for its health path, all at once. */
async function healthPaths(found: Findings): Promise<Map<string, HealthPath>> {
  const labelled = new Set(
    (found.docker?.containers ?? [])
      .filter((c) => c.labels['http.path'])
      .flatMap((c) => c.published.map((p) => p.host_port)),
  );
  const targets = new Map(
    upstreamTargets(found)
      .filter((t) => !labelled.has(t.port))
      .map((t) => [upstreamKey(t.host, t.port), t]),
  );
  const out = new Map<string, HealthPath>();
  await Promise.all([...targets].map(async ([key, t]) => out.set(key, await findHealthPath(t.host, t.port))));
  return out;
}

function reports(
  nginx: Awaited<ReturnType<typeof readNginxSource>>,
  letsencrypt: string,
  certbot: CertbotFindings | undefined,
  docker: DockerFindings | undefined,
  ports: readonly DiscoveredPort[],
): SourceReport[] {
  const out: SourceReport[] = [];
  out.push(
    nginx.config
      ? {
          source: 'nginx',
          from: nginx.from,
          found: `${plural(nginx.config.servers.length, 'server block')}, ${plural(nginx.config.upstreams.length, 'upstream')}`,
        }
      : { source: 'nginx', from: nginx.from, skipped: nginx.skipped ?? 'nothing read' },
  );
  if (!certbot) out.push({ source: 'certbot', from: 'off', skipped: 'turned off (--letsencrypt off)' });
  else if (certbot.skipped) out.push({ source: 'certbot', from: letsencrypt, skipped: certbot.skipped });
  else out.push({ source: 'certbot', from: letsencrypt, found: plural(certbot.lineages.length, 'lineage') });
  if (!docker) out.push({ source: 'docker', from: 'off', skipped: 'turned off (--docker off)' });
  else if (docker.skipped) out.push({ source: 'docker', from: docker.socket, skipped: docker.skipped });
  else
    out.push({
      source: 'docker',
      from: docker.socket,
      found: `${plural(docker.containers.length, 'container')}${docker.disabled.length ? `, ${docker.disabled.length} left out by forgewatch.enable=false` : ''}`,
    });
  out.push({ source: 'ports', from: '/proc/net/tcp, /proc/net/tcp6', found: plural(ports.length, 'steady listener') });
  return out;
}

function remarks(found: Findings): string[] {
  const out = uncheckableNames(found);
  for (const p of found.certbot?.problems ?? []) out.push(`certbot: ${p.file}: ${p.reason}`);
  for (const i of found.nginx?.unresolvedIncludes ?? [])
    out.push(`nginx: ${i.file}:${i.line} include ${i.glob} matched no readable file`);
  return out;
}
