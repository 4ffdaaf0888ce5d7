/**
 * From what discovery found to the checks it proposes, wired from the outside in: each https name gets an `http`
 * check at the origin (`resolve:` to its listen address) and a `tls` check expecting the names its block serves;
 * its certificate file a `cert_file` check; a redirecting port-80 block a redirect check; each upstream an `http`
 * check and a `port` check expecting its owner. Public checks depend on their upstreams, upstreams on their ports,
 * tls checks on their certificate files. Every proposal says where it came from.
 */
import path from 'node:path';
import type { DiscoveredPort } from './ports.js';
import type { NginxConfig, NginxListen, NginxServer } from './nginx.js';

export interface Proposal {
  /** Where it came from, for the comment above it (`nginx: /etc/nginx/sites-enabled/forgetrace:14 …`). */
  source: string;
  /** The check as the config takes it. */
  check: Record<string, unknown> & { name: string; type: string };
}

export interface Findings {
  nginx?: NginxConfig;
  ports?: DiscoveredPort[];
}

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

/** The upstreams a server's locations proxy to, as host:port. */
function upstreamsOf(s: NginxServer): { host: string; port: number; line: string }[] {
  const out: { host: string; port: number; line: string }[] = [];
  for (const loc of s.locations) {
    const p = loc.proxyPass;
    if (!p) continue;
    const targets = p.upstream ? p.upstream.servers : p.direct ? [p.direct] : [];
    for (const t of targets) out.push({ host: t.host, port: t.port, line: `${place(p)} proxy_pass ${p.url}` });
  }
  return out;
}

export function propose(found: Findings): Proposal[] {
  const out = new Map<string, Proposal>();
  const add = (p: Proposal) => {
    if (!out.has(p.check.name)) out.set(p.check.name, p);
  };
  const owners = new Map((found.ports ?? []).map((p) => [p.port, p.owner]));

  for (const server of found.nginx?.servers ?? []) {
    const names = checkableNames(server);
    // Upstreams first: the public checks below depend on them.
    const upstreamChecks: string[] = [];
    for (const u of upstreamsOf(server)) {
      const portName = `port-${u.port}`;
      const owner = owners.get(u.port);
      add({
        source: `nginx: ${u.line}`,
        check: {
          name: portName,
          type: 'port',
          host: u.host,
          port: u.port,
          ...(owner
            ? {
                owner: owner.container_id
                  ? { container: owner.container_id.slice(0, 12) }
                  : owner.unit
                    ? { unit: owner.unit }
                    : { process: owner.process },
              }
            : {}),
        },
      });
      const upstreamName = `upstream-${u.port}`;
      add({
        source: `nginx: ${u.line}`,
        check: {
          name: upstreamName,
          type: 'http',
          url: `http://${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}/`,
          depends_on: [portName],
        },
      });
      upstreamChecks.push(upstreamName);
    }
    const tlsListen = server.listens.find((l) => l.ssl);
    const certFile = server.sslCertificate;
    let certCheck: string | undefined;
    if (tlsListen && certFile) {
      certCheck = checkNameOf(`cert-${path.basename(path.dirname(certFile.path))}`);
      add({
        source: `nginx: ${place(certFile)} ssl_certificate ${certFile.path}`,
        check: { name: certCheck, type: 'cert_file', path: certFile.path, ...(names.length ? { names } : {}) },
      });
    }
    for (const n of server.serverNames.filter((x) => x.checkable)) {
      const source = `nginx: ${place(n)} server_name ${n.name}`;
      if (tlsListen) {
        const portPart = tlsListen.port === 443 ? '' : `:${tlsListen.port}`;
        add({
          source,
          check: {
            name: checkNameOf(`https-${n.name}`),
            type: 'http',
            url: `https://${n.name}${portPart}/`,
            resolve: reachable(tlsListen),
            ...(upstreamChecks.length ? { depends_on: [...new Set(upstreamChecks)] } : {}),
          },
        });
        add({
          source,
          check: {
            name: checkNameOf(`tls-${n.name}`),
            type: 'tls',
            host: reachable(tlsListen),
            port: tlsListen.port,
            server_name: n.name,
            names,
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

/** The proposals as a commented config (checks list), ready for `forgewatch validate`. */
export function proposalsYaml(proposals: readonly Proposal[], stringify: (v: unknown) => string): string {
  const items = proposals.map((p) => {
    const body = stringify([p.check]).trimEnd().split('\n');
    return [`  # ${p.source}`, ...body.map((l) => `  ${l}`)].join('\n');
  });
  return `checks:\n${items.join('\n')}\n`;
}
