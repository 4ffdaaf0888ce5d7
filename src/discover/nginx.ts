/**
 * What an nginx configuration serves over HTTP: its `server` blocks with their listen addresses, names,
 * certificates, redirects and proxied locations (upstreams resolved to host:port), each item with the file and
 * line it came from. Reads a plain config file or saved `nginx -T` output; in the latter, `include`s are
 * replaced by the sections nginx printed for the files they matched, as nginx itself nests them.
 */
import path from 'node:path';
import { NginxSyntaxError, parseFile, splitDump, type NginxDirective } from './nginx-tokens.js';

export { NginxSyntaxError } from './nginx-tokens.js';
export type { NginxDirective } from './nginx-tokens.js';

export interface NginxPlace {
  file: string;
  line: number;
}

export interface NginxListen extends NginxPlace {
  /** The address as written (`127.0.0.1`, `::`, `::1`); undefined when only a port is given (every address). */
  address?: string;
  port: number;
  ipv6: boolean;
  ssl: boolean;
  http2: boolean;
  defaultServer: boolean;
}

export interface NginxServerName extends NginxPlace {
  name: string;
  kind: 'exact' | 'wildcard' | 'regex' | 'catch-all';
  /** Only exact names can be requested (and so checked); wildcards, regexes and catch-alls cannot. */
  checkable: boolean;
}

export interface NginxPath extends NginxPlace {
  path: string;
}

export interface NginxRedirect extends NginxPlace {
  status: number;
  target: string;
}

export interface NginxUpstreamServer extends NginxPlace {
  host: string;
  port: number;
}

export interface NginxUpstream extends NginxPlace {
  name: string;
  servers: NginxUpstreamServer[];
}

export interface NginxProxyPass extends NginxPlace {
  url: string;
  /** The upstream block the URL names, with its servers. */
  upstream?: NginxUpstream;
  /** host:port when the URL names a host directly rather than an upstream (absent when it holds variables). */
  direct?: { host: string; port: number };
}

export interface NginxLocation extends NginxPlace {
  /** `=`, `~`, `~*`, `^~` when given. */
  modifier?: string;
  path: string;
  proxyPass?: NginxProxyPass;
  redirect?: NginxRedirect;
}

export interface NginxServer extends NginxPlace {
  /** Empty when the block has no `listen` (nginx then listens on *:80 when run as root, *:8000 otherwise). */
  listens: NginxListen[];
  serverNames: NginxServerName[];
  sslCertificate?: NginxPath;
  sslCertificateKey?: NginxPath;
  redirect?: NginxRedirect;
  locations: NginxLocation[];
}

export interface NginxInclude extends NginxPlace {
  glob: string;
}

export interface NginxConfig {
  servers: NginxServer[];
  upstreams: NginxUpstream[];
  /** `include`s of a plain config file, which this reader does not follow (`nginx -T` output has them expanded). */
  unresolvedIncludes: NginxInclude[];
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Reads a config file's text, or `nginx -T` output, named `sourceName` where it carries no file markers. */
export function readNginx(text: string, sourceName: string): NginxConfig {
  const files = splitDump(text, sourceName);
  const parsed = new Map(files.map((f) => [f.file, parseFile(f.file, f.text)]));
  const isDump = files.length > 1 || files[0]?.file !== sourceName;
  const unresolvedIncludes: NginxInclude[] = [];
  const mainFile = files[0]?.file ?? sourceName;
  const expand = (directives: NginxDirective[], including: string[]): NginxDirective[] =>
    directives.flatMap((d) => {
      if (d.name !== 'include') return [d.block ? { ...d, block: expand(d.block, including) } : d];
      const glob = d.args[0] ?? '';
      if (!isDump) {
        unresolvedIncludes.push({ glob, file: d.file, line: d.line });
        return [];
      }
      const pattern = globPattern(path.resolve(path.dirname(mainFile), glob));
      return [...parsed.keys()]
        .filter((file) => pattern.test(file) && !including.includes(file))
        .flatMap((file) => expand(parsed.get(file) as NginxDirective[], [...including, file]));
    });
  const root = expand(parsed.get(mainFile) ?? [], [mainFile]);
  // A server block sits in `http {}` in a full config, at the top in a lone sites-enabled file; never in stream/mail.
  const httpLevel = [
    ...root.filter((d) => d.name !== 'http'),
    ...root.flatMap((d) => (d.name === 'http' ? (d.block ?? []) : [])),
  ];
  const upstreams = httpLevel.filter((d) => d.name === 'upstream' && d.block).map(readUpstream);
  const servers = httpLevel.filter((d) => d.name === 'server' && d.block).map((d) => readServer(d, upstreams));
  return { servers, upstreams, unresolvedIncludes };
}

/** An nginx include glob (glob(3): `*`, `?`, `[...]`, none crossing `/`) as a regular expression. */
function globPattern(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[' || ch === ']') source += ch;
    else source += ch.replace(/[\\^$.|+(){}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function place(d: NginxDirective): NginxPlace {
  return { file: d.file, line: d.line };
}

function invalid(d: NginxDirective, problem: string): never {
  throw new NginxSyntaxError(d.file, d.line, `"${[d.name, ...d.args].join(' ')}": ${problem}`);
}

/** `host:port`, `[v6]:port`, `host`, `port` (nginx's own defaults: no host = every address, no port = 80). */
function hostAndPort(text: string, defaultPort: number): { host?: string; port: number; ipv6: boolean } | undefined {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : defaultPort, ipv6: true };
  if (/^\d+$/.test(text)) return { port: Number(text), ipv6: false };
  const m = /^([^:/\s]+)(?::(\d+))?$/.exec(text);
  if (!m) return undefined;
  return { host: m[1] === '*' ? undefined : m[1], port: m[2] ? Number(m[2]) : defaultPort, ipv6: false };
}

/** The parameters `listen` accepts (nginx 1.22 to 1.27); anything else is a typo or a lost `;`. */
const LISTEN_FLAGS = new Set([
  'ssl',
  'http2',
  'quic',
  'proxy_protocol',
  'default_server',
  'default',
  'deferred',
  'bind',
]);
const LISTEN_SETTINGS = /^(backlog|rcvbuf|sndbuf|accept_filter|fastopen|ipv6only|reuseport|so_keepalive|setfib)(=|$)/;

function readListen(d: NginxDirective, http2On: boolean): NginxListen | undefined {
  const [address, ...params] = d.args;
  if (address === undefined) return invalid(d, 'no address or port');
  const unknown = params.find((p) => !LISTEN_FLAGS.has(p) && !LISTEN_SETTINGS.test(p));
  if (unknown !== undefined) return invalid(d, `"${unknown}" is not a listen parameter (a missing ";"?)`);
  if (address.startsWith('unix:')) return undefined;
  const where = hostAndPort(address, 80);
  if (!where || where.port < 1 || where.port > 65535) return invalid(d, `"${address}" is not an address or port`);
  return {
    ...place(d),
    ...(where.host !== undefined ? { address: where.host } : {}),
    port: where.port,
    ipv6: where.ipv6,
    ssl: params.includes('ssl'),
    http2: http2On || params.includes('http2'),
    defaultServer: params.includes('default_server') || params.includes('default'),
  };
}

function readServerName(d: NginxDirective, name: string): NginxServerName {
  const kind: NginxServerName['kind'] =
    name === '' || name === '_'
      ? 'catch-all'
      : name.startsWith('~')
        ? 'regex'
        : name.includes('*') || name.startsWith('.')
          ? 'wildcard'
          : 'exact';
  return { ...place(d), name, kind, checkable: kind === 'exact' && !name.includes('$') };
}

function readRedirect(d: NginxDirective): NginxRedirect | undefined {
  const [first, second] = d.args;
  if (first === undefined) return invalid(d, 'nothing to return');
  if (second === undefined) return /^https?:\/\//.test(first) ? { ...place(d), status: 302, target: first } : undefined;
  const status = Number(first);
  return REDIRECT_STATUSES.has(status) ? { ...place(d), status, target: second } : undefined;
}

function single(d: NginxDirective): string {
  if (d.args.length !== 1) invalid(d, `takes one argument, not ${d.args.length}`);
  return d.args[0] as string;
}

function readUpstream(d: NginxDirective): NginxUpstream {
  const servers: NginxUpstreamServer[] = [];
  for (const entry of d.block ?? []) {
    if (entry.name !== 'server') continue;
    const target = entry.args[0];
    if (target === undefined) invalid(entry, 'no address');
    if (target.startsWith('unix:')) continue;
    const where = hostAndPort(target, 80);
    if (!where?.host) return invalid(entry, `"${target}" is not host:port`);
    servers.push({ ...place(entry), host: where.host, port: where.port });
  }
  return { ...place(d), name: d.args[0] ?? '', servers };
}

function readProxyPass(d: NginxDirective, upstreams: NginxUpstream[]): NginxProxyPass {
  const url = single(d);
  const m = /^(https?):\/\/([^/]+)/.exec(url);
  const proxy: NginxProxyPass = { ...place(d), url };
  if (!m || url.includes('$')) return proxy;
  const authority = m[2] as string;
  const upstream = upstreams.find((u) => u.name === authority);
  if (upstream) return { ...proxy, upstream };
  const where = hostAndPort(authority, m[1] === 'https' ? 443 : 80);
  return where?.host ? { ...proxy, direct: { host: where.host, port: where.port } } : proxy;
}

function readLocations(block: NginxDirective[], upstreams: NginxUpstream[]): NginxLocation[] {
  return block
    .filter((d) => d.name === 'location' && d.block)
    .flatMap((d) => {
      const [modifier, pathArg] = d.args.length > 1 ? d.args : [undefined, d.args[0]];
      const location: NginxLocation = { ...place(d), ...(modifier ? { modifier } : {}), path: pathArg ?? '' };
      for (const inner of d.block ?? []) {
        if (inner.name === 'proxy_pass') location.proxyPass = readProxyPass(inner, upstreams);
        if (inner.name === 'return') {
          const redirect = readRedirect(inner);
          if (redirect) location.redirect = redirect;
        }
      }
      return [location, ...readLocations(d.block ?? [], upstreams)];
    });
}

function readServer(d: NginxDirective, upstreams: NginxUpstream[]): NginxServer {
  const block = d.block ?? [];
  const http2On = block.some((x) => x.name === 'http2' && x.args[0] === 'on');
  const server: NginxServer = { ...place(d), listens: [], serverNames: [], locations: readLocations(block, upstreams) };
  for (const x of block) {
    if (x.name === 'listen') {
      const listen = readListen(x, http2On);
      if (listen) server.listens.push(listen);
    } else if (x.name === 'server_name') {
      server.serverNames.push(...x.args.map((name) => readServerName(x, name)));
    } else if (x.name === 'ssl_certificate') {
      server.sslCertificate = { ...place(x), path: single(x) };
    } else if (x.name === 'ssl_certificate_key') {
      server.sslCertificateKey = { ...place(x), path: single(x) };
    } else if (x.name === 'return') {
      const redirect = readRedirect(x);
      if (redirect) server.redirect = redirect;
    }
  }
  return server;
}
