/** Reading nginx configurations: the seed's production layout, syntax edge cases, errors, and a real `nginx -T`. */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFile } from '../src/discover/nginx-tokens.js';
import { NginxSyntaxError, readNginx, type NginxServer } from '../src/discover/nginx.js';
import { createSelfSignedLeaf } from './helpers/pki.js';
import { tempDir } from './helpers/service.js';

/** The main nginx.conf, with every path nginx writes kept under `dir`; line 11 includes the sites. */
function mainConfig(dir: string): string {
  return `# nginx.conf of the forgetrace box
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/client_body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
    include sites-enabled/*;
}
`;
}

/** The seed's production template: three names over two TLS blocks, a redirect on 80, two upstreams. */
function siteConfig(letsencrypt: string): string {
  const live = `${letsencrypt}/live/www.forgetrace.pro`;
  return `upstream frontend { server 127.0.0.1:3001; keepalive 32; }
upstream backend  { server 127.0.0.1:8000; keepalive 32; }

server {
    listen 80;
    server_name forgetrace.pro www.forgetrace.pro api.forgetrace.pro;
    return 301 https://$host$request_uri;
}

server {
    listen 443 ssl http2;
    server_name forgetrace.pro www.forgetrace.pro;
    ssl_certificate ${live}/fullchain.pem;
    ssl_certificate_key ${live}/privkey.pem;

    location / { proxy_pass http://frontend; proxy_set_header Host $host; }
    location /api/ { proxy_pass http://backend/; proxy_set_header Host $host; }
}

server {
    listen 443 ssl http2;
    server_name api.forgetrace.pro;
    ssl_certificate ${live}/fullchain.pem;
    ssl_certificate_key ${live}/privkey.pem;

    location / { proxy_pass http://backend/; }
}
`;
}

/** What `nginx -T` prints for that layout: each file after its marker line, then an empty line. */
function dump(dir: string, letsencrypt: string): string {
  return `# configuration file ${dir}/nginx.conf:
${mainConfig(dir)}
# configuration file ${dir}/sites-enabled/forgetrace:
${siteConfig(letsencrypt)}
`;
}

function syntaxError(text: string, sourceName = '/etc/nginx/nginx.conf'): NginxSyntaxError {
  try {
    readNginx(text, sourceName);
  } catch (err) {
    if (err instanceof NginxSyntaxError) return err;
    throw err;
  }
  throw new Error('no syntax error was reported');
}

const SITE = '/etc/nginx/sites-enabled/forgetrace';
const at = (line: number) => ({ file: SITE, line });
const listen = (line: number, port: number, ssl: boolean) => ({
  ...at(line),
  port,
  ipv6: false,
  ssl,
  http2: ssl,
  defaultServer: false,
});
const exact = (line: number, name: string) => ({ ...at(line), name, kind: 'exact', checkable: true });
const CERT = '/etc/letsencrypt/live/www.forgetrace.pro';
const FRONTEND = { ...at(1), name: 'frontend', servers: [{ ...at(1), host: '127.0.0.1', port: 3001 }] };
const BACKEND = { ...at(2), name: 'backend', servers: [{ ...at(2), host: '127.0.0.1', port: 8000 }] };

describe('the seed production layout as nginx -T prints it', () => {
  const config = readNginx(dump('/etc/nginx', '/etc/letsencrypt'), 'nginx -T');

  it('gives the three server blocks with names, ports, certificates, redirect and upstreams, each at its file:line', () => {
    expect(config.unresolvedIncludes).toEqual([]);
    expect(config.upstreams).toEqual([FRONTEND, BACKEND]);
    expect(config.servers).toEqual([
      {
        ...at(4),
        listens: [listen(5, 80, false)],
        serverNames: [exact(6, 'forgetrace.pro'), exact(6, 'www.forgetrace.pro'), exact(6, 'api.forgetrace.pro')],
        redirect: { ...at(7), status: 301, target: 'https://$host$request_uri' },
        locations: [],
      },
      {
        ...at(10),
        listens: [listen(11, 443, true)],
        serverNames: [exact(12, 'forgetrace.pro'), exact(12, 'www.forgetrace.pro')],
        sslCertificate: { ...at(13), path: `${CERT}/fullchain.pem` },
        sslCertificateKey: { ...at(14), path: `${CERT}/privkey.pem` },
        locations: [
          { ...at(16), path: '/', proxyPass: { ...at(16), url: 'http://frontend', upstream: FRONTEND } },
          { ...at(17), path: '/api/', proxyPass: { ...at(17), url: 'http://backend/', upstream: BACKEND } },
        ],
      },
      {
        ...at(20),
        listens: [listen(21, 443, true)],
        serverNames: [exact(22, 'api.forgetrace.pro')],
        sslCertificate: { ...at(23), path: `${CERT}/fullchain.pem` },
        sslCertificateKey: { ...at(24), path: `${CERT}/privkey.pem` },
        locations: [{ ...at(26), path: '/', proxyPass: { ...at(26), url: 'http://backend/', upstream: BACKEND } }],
      },
    ]);
  });

  it('reads the sites file alone as a plain file, reporting the include of the main file as unresolved', () => {
    const alone = readNginx(siteConfig('/etc/letsencrypt'), SITE);
    expect(alone.servers).toEqual(config.servers);
    const main = readNginx(mainConfig('/etc/nginx'), '/etc/nginx/nginx.conf');
    expect(main.servers).toEqual([]);
    expect(main.unresolvedIncludes).toEqual([{ file: '/etc/nginx/nginx.conf', line: 11, glob: 'sites-enabled/*' }]);
  });
});

describe('syntax edge cases', () => {
  const EDGE = '/etc/nginx/conf.d/edge.conf';
  const text = `# leading comment; with { braces } that are not syntax
server {
    listen [::]:443 ssl http2 default_server;
    listen 127.0.0.1:8080;
    listen 80;
    server_name a.example b.example *.example.org ~^(www\\.)?(?<d>.+)$ _;
    add_header X-Note "quoted; with {braces} and \\"escaped\\" quotes # not a comment"; # a real comment
    ssl_certificate '/etc/ssl/my certs/site.pem';
    location ~ ^/api/(.*)$ { proxy_pass http://127.0.0.1:9000; }
    location = /old { return 308 https://new.example/; }
    include /etc/nginx/snippets/*.conf;
}
`;

  it('keeps quoted strings whole (spaces, ;, braces, escaped quotes) and drops comments', () => {
    const [server] = parseFile(EDGE, text);
    expect(server?.line).toBe(2);
    expect(server?.block?.find((d) => d.name === 'add_header')).toEqual({
      name: 'add_header',
      args: ['X-Note', 'quoted; with {braces} and "escaped" quotes # not a comment'],
      file: EDGE,
      line: 7,
    });
    expect(server?.block?.map((d) => d.name)).toEqual([
      'listen',
      'listen',
      'listen',
      'server_name',
      'add_header',
      'ssl_certificate',
      'location',
      'location',
      'include',
    ]);
  });

  it('reads IPv6, address and bare-port listens, every name on the line, regex locations and the include glob', () => {
    const config = readNginx(text, EDGE);
    const server = config.servers[0] as NginxServer;
    const here = (line: number) => ({ file: EDGE, line });
    expect(server.listens).toEqual([
      { ...here(3), address: '::', port: 443, ipv6: true, ssl: true, http2: true, defaultServer: true },
      { ...here(4), address: '127.0.0.1', port: 8080, ipv6: false, ssl: false, http2: false, defaultServer: false },
      { ...here(5), port: 80, ipv6: false, ssl: false, http2: false, defaultServer: false },
    ]);
    expect(server.serverNames.map((n) => [n.name, n.kind, n.checkable, n.line])).toEqual([
      ['a.example', 'exact', true, 6],
      ['b.example', 'exact', true, 6],
      ['*.example.org', 'wildcard', false, 6],
      ['~^(www\\.)?(?<d>.+)$', 'regex', false, 6],
      ['_', 'catch-all', false, 6],
    ]);
    expect(server.sslCertificate).toEqual({ ...here(8), path: '/etc/ssl/my certs/site.pem' });
    expect(server.locations).toEqual([
      {
        ...here(9),
        modifier: '~',
        path: '^/api/(.*)$',
        proxyPass: { ...here(9), url: 'http://127.0.0.1:9000', direct: { host: '127.0.0.1', port: 9000 } },
      },
      {
        ...here(10),
        modifier: '=',
        path: '/old',
        redirect: { ...here(10), status: 308, target: 'https://new.example/' },
      },
    ]);
    expect(config.unresolvedIncludes).toEqual([{ ...here(11), glob: '/etc/nginx/snippets/*.conf' }]);
  });

  it('keeps ${var} as one word and backslashes of regexes, and splits a ")" off a quoted string', () => {
    const [ret, cond] = parseFile('x.conf', 'return 302 https://${host}/a\\.b;\nif ($host = "a b") { return 404; }');
    expect(ret?.args).toEqual(['302', 'https://${host}/a\\.b']);
    expect(cond?.args).toEqual(['($host', '=', 'a b', ')']);
  });

  it('expands a globbed include with the sections nginx -T printed, leaving out stream servers', () => {
    const config = readNginx(
      `# configuration file /etc/nginx/nginx.conf:
http {
    include /etc/nginx/conf.d/*.conf;
}
stream {
    server { listen 5432; proxy_pass 127.0.0.1:15432; }
}

# configuration file /etc/nginx/conf.d/a.conf:
server { listen 81; server_name a.example; }

# configuration file /etc/nginx/conf.d/b.conf:
# a comment line first
server { listen 82; server_name b.example; }
`,
      'nginx -T',
    );
    expect(config.unresolvedIncludes).toEqual([]);
    expect(config.servers.map((s) => [s.file, s.line, s.listens[0]?.port, s.serverNames[0]?.name])).toEqual([
      ['/etc/nginx/conf.d/a.conf', 1, 81, 'a.example'],
      ['/etc/nginx/conf.d/b.conf', 2, 82, 'b.example'],
    ]);
  });
});

describe('syntax errors name the file and line', () => {
  it.each([
    ['an extra "}"', 'server {\n    listen 80;\n}\n}\n', 4, /unexpected "}"/],
    ['a "{" never closed', 'http {\n  server {\n    listen 80;\n  }\n', 1, /"http" is never closed/],
    ['an unterminated quote', 'server {\n    add_header X "oops;\n}\n', 2, /unterminated double-quoted string/],
    ['a ";" missing at the end of a line', 'server {\n    listen 80\n    server_name a;\n}\n', 2, /missing ";"/],
    ['a ";" missing before "}"', 'server {\n    listen 80 }\n', 2, /"listen" is missing its ";"/],
    ['a ";" missing at the end of the file', 'worker_processes 1', 1, /missing its ";" at the end of the file/],
    ['text glued to a closing quote', 'add_header X "a"b;\n', 1, /right after a quoted string/],
    ['a "}" glued to a closing quote', 'server {\n    return 200 "ok"}\n', 2, /unexpected "}" right after/],
    [
      'a ";" missing inside one line',
      'server {\n    listen 443 ssl server_name a.example;\n}\n',
      2,
      /"server_name" is not a listen parameter/,
    ],
  ])('%s', (_what, text, line, problem) => {
    const err = syntaxError(text);
    expect([err.file, err.line]).toEqual(['/etc/nginx/nginx.conf', line]);
    expect(err.message).toMatch(problem);
    expect(err.message.startsWith(`/etc/nginx/nginx.conf:${line}: `)).toBe(true);
  });

  it('in nginx -T output, the error names the included file and its own line', () => {
    const err = syntaxError(
      '# configuration file /etc/nginx/nginx.conf:\nhttp { include sites/*; }\n\n' +
        '# configuration file /etc/nginx/sites/x:\nserver {\n    listen 80;\n',
      'nginx -T',
    );
    expect([err.file, err.line]).toEqual(['/etc/nginx/sites/x', 1]);
  });

  it('a malformed listen or upstream server is an error, not a silent gap', () => {
    expect(syntaxError('server { listen a:b:c; }', 'x.conf').message).toMatch(/x\.conf:1: "listen a:b:c"/);
    expect(syntaxError('upstream u { server; }', 'x.conf').message).toMatch(/no address/);
  });
});

describe('real nginx -T output', () => {
  const tmp = tempDir('forgewatch-discover-nginx-');
  afterAll(() => tmp.cleanup());

  it('reads the same servers from what the real nginx prints as from the hand-written dump', async () => {
    const dir = tmp.dir;
    const letsencrypt = path.join(dir, 'letsencrypt');
    const live = path.join(letsencrypt, 'live', 'www.forgetrace.pro');
    mkdirSync(live, { recursive: true });
    mkdirSync(path.join(dir, 'sites-enabled'));
    mkdirSync(path.join(dir, 'tmp'));
    const leaf = await createSelfSignedLeaf({ sans: ['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro'] });
    writeFileSync(path.join(live, 'fullchain.pem'), leaf.cert);
    writeFileSync(path.join(live, 'privkey.pem'), leaf.key);
    const confFile = path.join(dir, 'nginx.conf');
    writeFileSync(confFile, mainConfig(dir));
    writeFileSync(path.join(dir, 'sites-enabled', 'forgetrace'), siteConfig(letsencrypt));

    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        '/usr/sbin/nginx',
        ['-T', '-p', dir, '-c', confFile, '-e', path.join(dir, 'error.log')],
        { timeout: 20_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`nginx -T failed: ${stderr}`)) : resolve(stdout)),
      ),
    );
    expect(output).toContain(`# configuration file ${dir}/sites-enabled/forgetrace:`);
    const real = readNginx(output, confFile);
    const handWritten = readNginx(dump(dir, letsencrypt), confFile);
    expect(real.servers).toEqual(handWritten.servers);
    expect(real.servers.map((s) => [s.file, s.line, s.serverNames.map((n) => n.name)])).toEqual([
      [`${dir}/sites-enabled/forgetrace`, 4, ['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro']],
      [`${dir}/sites-enabled/forgetrace`, 10, ['forgetrace.pro', 'www.forgetrace.pro']],
      [`${dir}/sites-enabled/forgetrace`, 20, ['api.forgetrace.pro']],
    ]);
    expect(real.servers[1]?.sslCertificate?.path).toBe(`${live}/fullchain.pem`);
  });
});
