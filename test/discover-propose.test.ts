/** The checks discovery proposes for a stack shaped like the seed's: nginx in front of two upstreams. */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { readNginx } from '../src/discover/nginx.js';
import type { DiscoveredContainer } from '../src/discover/docker.js';
import { propose, proposalsYaml, uncheckableNames, type Findings } from '../src/discover/propose.js';

const SITE = `upstream backend {
    server 127.0.0.1:8000;
}
server {
    listen 80;
    server_name forgetrace.pro www.forgetrace.pro;
    return 301 https://$host$request_uri;
}
server {
    listen 443 ssl http2;
    server_name forgetrace.pro www.forgetrace.pro;
    ssl_certificate /etc/letsencrypt/live/forgetrace.pro/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/forgetrace.pro/privkey.pem;
    location / {
        proxy_pass http://127.0.0.1:3001;
    }
    location /api/ {
        proxy_pass http://backend;
    }
}
`;

describe('proposing checks from nginx and the port table', () => {
  const nginx = readNginx(SITE, '/etc/nginx/sites-enabled/forgetrace');
  const proposals = propose({
    nginx,
    ports: [
      {
        port: 8000,
        host: '127.0.0.1',
        owner: { process: 'uvicorn', pid: 10, unit: 'backend.service', container_id: null },
      },
      { port: 3001, host: '127.0.0.1', owner: { process: 'node', pid: 11, unit: null, container_id: 'a'.repeat(64) } },
    ],
  });
  const byName = new Map(proposals.map((p) => [p.check.name, p]));

  it('writes a config that validates as it is, each check saying where it came from', () => {
    const yaml = proposalsYaml(proposals, stringify);
    const config = parseConfig(yaml, 'discovered.yaml');
    expect(config.checks.map((c) => c.name).sort()).toEqual(
      [
        'cert-forgetrace.pro',
        'https-forgetrace.pro',
        'https-www.forgetrace.pro',
        'port-3001',
        'port-8000',
        'redirect-forgetrace.pro',
        'redirect-www.forgetrace.pro',
        'tls-forgetrace.pro',
        'tls-www.forgetrace.pro',
        'upstream-3001',
        'upstream-8000',
      ].sort(),
    );
    expect(yaml).toContain('  # nginx: /etc/nginx/sites-enabled/forgetrace:11 server_name www.forgetrace.pro\n');
    expect(yaml).toContain('  # nginx: /etc/nginx/sites-enabled/forgetrace:18 proxy_pass http://backend\n');
  });

  it('checks each https name at the origin, and wires it from the outside in', () => {
    expect(byName.get('https-www.forgetrace.pro')?.check).toMatchObject({
      url: 'https://www.forgetrace.pro/',
      resolve: '127.0.0.1',
      depends_on: ['upstream-3001', 'upstream-8000'],
    });
    expect(byName.get('upstream-8000')?.check).toMatchObject({
      url: 'http://127.0.0.1:8000/',
      depends_on: ['port-8000'],
    });
    expect(byName.get('tls-forgetrace.pro')?.check).toMatchObject({
      host: '127.0.0.1',
      port: 443,
      server_name: 'forgetrace.pro',
      names: ['forgetrace.pro', 'www.forgetrace.pro'],
      depends_on: ['cert-forgetrace.pro'],
    });
    expect(byName.get('cert-forgetrace.pro')?.check).toMatchObject({
      type: 'cert_file',
      path: '/etc/letsencrypt/live/forgetrace.pro/fullchain.pem',
      names: ['forgetrace.pro', 'www.forgetrace.pro'],
    });
  });

  it('expects each port held by its owner: the systemd unit, else the container', () => {
    expect(byName.get('port-8000')?.check.owner).toEqual({ unit: 'backend.service' });
    expect(byName.get('port-3001')?.check.owner).toEqual({ container: 'aaaaaaaaaaaa' });
  });

  it('checks the port-80 redirect without following it', () => {
    expect(byName.get('redirect-forgetrace.pro')?.check).toMatchObject({
      url: 'http://forgetrace.pro/',
      follow_redirects: false,
      expect: { status: [301], header: { location: '^https://' } },
    });
  });
});

describe('proposing checks from certbot, containers and what discovery asked', () => {
  const nginx = readNginx(
    `server {
    listen 443 ssl;
    server_name shop.example *.example ~^(?<sub>.+)\\.example$;
    server_name pay.example;
    ssl_certificate /etc/letsencrypt/live/shop.example/fullchain.pem;
    location / { proxy_pass http://127.0.0.1:8080; }
}
`,
    '/etc/nginx/sites-enabled/shop',
  );
  const container = (over: Partial<DiscoveredContainer>): DiscoveredContainer => ({
    id: 'c'.repeat(64),
    name: 'shop-web',
    image: 'shop:1',
    restart_policy: 'always',
    published: [],
    has_health_check: false,
    labels: {},
    ...over,
  });
  const found: Findings = {
    nginx,
    certificates: new Map([['/etc/letsencrypt/live/shop.example/fullchain.pem', { names: ['shop.example'] }]]),
    certbot: {
      lineages: [
        {
          name: 'shop.example',
          renewal: '/etc/letsencrypt/renewal/shop.example.conf',
          fullchain: '/etc/letsencrypt/live/shop.example/fullchain.pem',
          names: ['shop.example'],
          not_after: '2027-01-01T00:00:00.000Z',
        },
        {
          name: 'old.example',
          renewal: '/etc/letsencrypt/renewal/old.example.conf',
          fullchain: '/etc/letsencrypt/live/old.example/fullchain.pem',
          names: ['old.example'],
          not_after: '2027-01-01T00:00:00.000Z',
        },
      ],
      problems: [],
    },
    docker: {
      socket: '/run/podman/podman.sock',
      disabled: [],
      containers: [
        container({
          published: [
            { host_ip: '127.0.0.1', host_port: 8080, container_port: 8000, protocol: 'tcp' },
            { host_ip: '0.0.0.0', host_port: 9090, container_port: 9090, protocol: 'tcp' },
          ],
          labels: { 'http.path': 'ready', 'http.port': '8000', 'check.interval': '15s' },
        }),
        container({ id: 'd'.repeat(64), name: 'worker', labels: { 'check.interval': 'often' } }),
      ],
    },
    ports: [
      {
        port: 5432,
        host: '127.0.0.1',
        owner: { process: 'postgres', pid: 9, unit: 'postgresql.service', container_id: null },
      },
    ],
    health: new Map([['127.0.0.1:9090', { path: '/', tried: ['/health 404', '/healthz 404', '/ 404'], found: false }]]),
  };
  const proposals = propose(found);
  const byName = new Map(proposals.map((p) => [p.check.name, p]));

  it('flags a name the certificate does not cover as already failing, and still proposes it', () => {
    expect(byName.get('https-pay.example')?.notes).toEqual([
      'already failing: the certificate in /etc/letsencrypt/live/shop.example/fullchain.pem covers shop.example but not pay.example',
    ]);
    expect(byName.get('tls-pay.example')?.check).toMatchObject({
      names: ['shop.example', 'pay.example'],
      cert_file: '/etc/letsencrypt/live/shop.example/fullchain.pem',
    });
    expect(byName.get('https-shop.example')?.notes).toEqual([]);
    // Each tls check of the block expects all its names, so the shop's fails too.
    expect(byName.get('tls-shop.example')?.notes).toEqual(byName.get('https-pay.example')?.notes);
  });

  it('keeps wildcard and regex names as comments, not checks', () => {
    expect([...byName.keys()].some((n) => n.includes('*') || n.includes('~'))).toBe(false);
    expect(uncheckableNames(found)).toEqual([
      'nginx: /etc/nginx/sites-enabled/shop:3 server_name *.example is a wildcard: add a check for each real name it serves',
      'nginx: /etc/nginx/sites-enabled/shop:3 server_name ~^(?<sub>.+)\\.example$ is a regex: add a check for each real name it serves',
    ]);
  });

  it('lets container labels choose the health path, the HTTP port and the interval', () => {
    expect(byName.get('upstream-8080')?.check).toMatchObject({
      url: 'http://127.0.0.1:8080/ready',
      interval: '15s',
      depends_on: ['port-8080', 'container-shop-web'],
    });
    expect(byName.get('port-8080')?.check).toMatchObject({
      owner: { container: 'shop-web' },
      socket: '/run/podman/podman.sock',
      interval: '15s',
    });
    // http.port names container port 8000: the other published port gets a port check, not an HTTP check.
    expect(byName.has('upstream-9090')).toBe(false);
    expect(byName.get('port-9090')?.check).toMatchObject({ owner: { container: 'shop-web' } });
    expect(byName.get('container-shop-web')?.check).toMatchObject({
      container: 'shop-web',
      socket: '/run/podman/podman.sock',
      interval: '15s',
    });
  });

  it('says when a label is not usable, and leaves it out', () => {
    expect(byName.get('container-worker')?.check).not.toHaveProperty('interval');
    expect(byName.get('container-worker')?.notes).toEqual([
      'label forgewatch.check.interval=often is not a duration such as 15s: left out',
    ]);
  });

  it('checks certbot lineages nginx does not name, and other steady listeners with their owner', () => {
    expect(byName.get('cert-old.example')?.check).toMatchObject({
      type: 'cert_file',
      path: '/etc/letsencrypt/live/old.example/fullchain.pem',
      names: ['old.example'],
    });
    expect(byName.get('cert-shop.example')?.source).toBe(
      'nginx: /etc/nginx/sites-enabled/shop:5 ssl_certificate /etc/letsencrypt/live/shop.example/fullchain.pem',
    );
    expect(byName.get('port-5432')?.check).toMatchObject({ owner: { unit: 'postgresql.service' } });
    expect(byName.get('port-5432')?.source).toBe('ports: postgres (postgresql.service) listening on 127.0.0.1:5432');
  });

  it('still validates as a config', () => {
    const config = parseConfig(proposalsYaml(proposals, stringify), 'discovered.yaml');
    expect(config.checks.length).toBe(proposals.length);
  });
});

describe('an upstream with no health path', () => {
  it('counts any answer below 500 as up when none of /health, /healthz, / answered 2xx, and says so', () => {
    const found: Findings = {
      docker: {
        socket: '/var/run/docker.sock',
        disabled: [],
        containers: [
          {
            id: 'e'.repeat(64),
            name: 'api',
            image: 'api:1',
            restart_policy: '',
            published: [{ host_ip: '127.0.0.1', host_port: 7000, container_port: 7000, protocol: 'tcp' }],
            has_health_check: false,
            labels: {},
          },
        ],
      },
      health: new Map([
        ['127.0.0.1:7000', { path: '/', tried: ['/health 404', '/healthz 404', '/ 401'], found: false }],
      ]),
    };
    const up = propose(found).find((p) => p.check.name === 'upstream-7000');
    expect(up?.check).toMatchObject({ url: 'http://127.0.0.1:7000/', expect: { status: ['200-499'] } });
    expect(up?.notes[0]).toContain('no 2xx from /health 404, /healthz 404, / 401');
    // The default socket is not written out.
    expect(propose(found).find((p) => p.check.name === 'container-api')?.check).not.toHaveProperty('socket');
  });
});
