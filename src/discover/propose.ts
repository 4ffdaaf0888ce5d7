/**
 * From what discovery found to the checks it proposes, wired from the outside in: each https name gets an `http`
 * check at the origin (`resolve:` to its listen address) and a `tls` check expecting the names its block serves;
 * its certificate file a `cert_file` check; a redirecting port-80 block a redirect check; each upstream an `http`
 * check and a `port` check expecting its owner. Public checks depend on their upstreams, upstreams on their ports,
 * tls checks on their certificate files. Every proposal says where it came from.
 */
import path from 'node:path';
import { dnsNameMatches } from '../tls/names.js';
import type { CertbotFindings } from './certbot.js';
import type { DockerFindings } from './docker.js';
import type { HealthPath } from './health-path.js';
import type { DiscoveredPort } from './ports.js';
import { containerTargets, proposeLocal, upstreamKey, type UpstreamTarget } from './propose-local.js';
import type { NginxConfig, NginxListen, NginxServer } from './nginx.js';

export interface Proposal {
  /** Where it came from, for the comment above it (`nginx: /etc/nginx/sites-enabled/forgetrace:14 …`). */
  source: string;
  /** Further comment lines: what is already wrong with it, what was assumed. */
  notes: string[];
  /** The check as the config takes it. */
  check: Record<string, unknown> & { name: string; type: string };
}

export interface Findings {
  nginx?: NginxConfig;
  certbot?: CertbotFindings;
  docker?: DockerFindings;
  ports?: DiscoveredPort[];
  /** Upstreams' health paths found by asking, by `host:port`. */
  health?: ReadonlyMap<string, HealthPath>;
  /** The DNS names each certificate file nginx names covers, or why it could not be read. */
  certificates?: ReadonlyMap<string, CertificateNames>;
}

export type CertificateNames = { names: string[] } | { error: string };

/** A check name from free text: lower case letters, digits, `.`, `_` and `-`. */
export function checkNameOf(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return name || 'check';
}

/** Where a check reaches a listen entry: loopback for every-address listens. */
function reachable(l: NginxListen): string {
  if (!l.address || l.address === '*' || l.address === '0.0.0.0') return '127.0.0.1';
  if (l.address === '::' || l.address === '[::]') return '::1';
  return l.address.replace(/^\[|\]$/g, '');
}

const place = (p: { file: string; line: number }) => `${p.file}:${p.line}`;

function checkableNames(s: NginxServer): string[] {
  return s.serverNames.filter((n) => n.checkable).map((n) => n.name);
}

/** The upstreams a server's locations proxy to. */
function upstreamsOf(s: NginxServer): UpstreamTarget[] {
  const out: UpstreamTarget[] = [];
  for (const loc of s.locations) {
    const p = loc.proxyPass;
    if (!p) continue;
    const targets = p.upstream ? p.upstream.servers : p.direct ? [p.direct] : [];
    for (const t of targets) out.push({ host: t.host, port: t.port, source: `nginx: ${place(p)} proxy_pass ${p.url}` });
  }
  return out;
}

/** Every place reached over plain HTTP on the way in: nginx's upstreams, then the ports containers publish. */
export function upstreamTargets(found: Findings): UpstreamTarget[] {
  return [...(found.nginx?.servers ?? []).flatMap(upstreamsOf), ...containerTargets(found.docker?.containers ?? [])];
}

/** Why the block's certificate fails names it serves (every tls check of the block expects them all). */
function uncovered(names: string[], certPath: string | undefined, certs: Findings['certificates']): string | undefined {
  const cert = certPath ? certs?.get(certPath) : undefined;
  if (!cert || 'error' in cert) return undefined;
  const missing = names.filter((n) => !cert.names.some((pattern) => dnsNameMatches(pattern, n)));
  if (missing.length === 0) return undefined;
  return `already failing: the certificate in ${certPath} covers ${cert.names.join(', ') || 'no DNS name'} but not ${missing.join(', ')}`;
}

export function propose(found: Findings): Proposal[] {
  const out = new Map<string, Proposal>();
  const add = (p: Proposal) => {
    const known = out.get(p.check.name);
    if (known) known.notes.push(...p.notes.filter((n) => !known.notes.includes(n)));
    else out.set(p.check.name, p);
  };
  const servers = found.nginx?.servers ?? [];
  const upstreamCheckOf = proposeLocal(found, upstreamTargets(found), add, {
    ports: new Set(servers.flatMap((s) => s.listens.map((l) => l.port))),
    certificates: new Set(servers.flatMap((s) => (s.sslCertificate ? [s.sslCertificate.path] : []))),
  });

  for (const server of servers) {
    const names = checkableNames(server);
    const upstreamChecks = [
      ...new Set(upstreamsOf(server).flatMap((u) => upstreamCheckOf.get(upstreamKey(u.host, u.port)) ?? [])),
    ];
    const tlsListen = server.listens.find((l) => l.ssl);
    const certFile = server.sslCertificate;
    const certRead = certFile ? found.certificates?.get(certFile.path) : undefined;
    let certCheck: string | undefined;
    if (tlsListen && certFile) {
      certCheck = checkNameOf(`cert-${path.basename(path.dirname(certFile.path))}`);
      add({
        source: `nginx: ${place(certFile)} ssl_certificate ${certFile.path}`,
        notes: certRead && 'error' in certRead ? [`already failing: ${certRead.error}`] : [],
        check: { name: certCheck, type: 'cert_file', path: certFile.path, ...(names.length ? { names } : {}) },
      });
    }
    // Served-versus-disk drift (renewed but not reloaded) is judged by the tls check, when the file can be read.
    const blockMissing = uncovered(names, certFile?.path, found.certificates);
    const driftFile = certFile && certRead && !('error' in certRead) ? { cert_file: certFile.path } : {};
    for (const n of server.serverNames.filter((x) => x.checkable)) {
      const source = `nginx: ${place(n)} server_name ${n.name}`;
      if (tlsListen) {
        const portPart = tlsListen.port === 443 ? '' : `:${tlsListen.port}`;
        const missing = uncovered([n.name], certFile?.path, found.certificates);
        add({
          source,
          notes: missing ? [missing] : [],
          check: {
            name: checkNameOf(`https-${n.name}`),
            type: 'http',
            url: `https://${n.name}${portPart}/`,
            resolve: reachable(tlsListen),
            ...(upstreamChecks.length ? { depends_on: upstreamChecks } : {}),
          },
        });
        add({
          source,
          notes: blockMissing ? [blockMissing] : [],
          check: {
            name: checkNameOf(`tls-${n.name}`),
            type: 'tls',
            host: reachable(tlsListen),
            port: tlsListen.port,
            server_name: n.name,
            names,
            ...driftFile,
            ...(certCheck ? { depends_on: [certCheck] } : {}),
          },
        });
      }
      const redirect = server.redirect ?? server.locations.find((l) => l.path === '/' && l.redirect)?.redirect;
      const plain = server.listens.find((l) => !l.ssl);
      if (plain && redirect && /^https:/.test(redirect.target)) {
        const portPart = plain.port === 80 ? '' : `:${plain.port}`;
        add({
          source: `nginx: ${place(redirect)} return ${redirect.status} ${redirect.target} (server_name ${n.name})`,
          notes: [],
          check: {
            name: checkNameOf(`redirect-${n.name}`),
            type: 'http',
            url: `http://${n.name}${portPart}/`,
            resolve: reachable(plain),
            follow_redirects: false,
            expect: { status: [redirect.status], header: { location: '^https://' } },
          },
        });
      }
    }
  }
  return [...out.values()];
}

/** Server names nginx serves that no check can request (wildcards, regexes), said as comments. */
export function uncheckableNames(found: Findings): string[] {
  return (found.nginx?.servers ?? []).flatMap((s) =>
    s.serverNames
      .filter((n) => !n.checkable && n.kind !== 'catch-all')
      .map((n) => `nginx: ${place(n)} server_name ${n.name} is a ${n.kind}: add a check for each real name it serves`),
  );
}

/** The proposals as a commented `checks:` list, ready for `forgewatch validate`. */
export function proposalsYaml(proposals: readonly Proposal[], stringify: (v: unknown) => string): string {
  const items = proposals.map((p) => {
    const body = stringify([p.check]).trimEnd().split('\n');
    return [`  # ${p.source}`, ...p.notes.map((n) => `  # ${n}`), ...body.map((l) => `  ${l}`)].join('\n');
  });
  return `checks:\n${items.join('\n')}\n`;
}
