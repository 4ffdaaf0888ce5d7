/** The checks discovery proposes for a stack shaped like the seed's: nginx in front of two upstreams. */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { readNginx } from '../src/discover/nginx.js';
import { propose, proposalsYaml } from '../src/discover/propose.js';

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
