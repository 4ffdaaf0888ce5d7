import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.js';
import { runCli } from './helpers/service.js';

const EXAMPLE = path.resolve('examples/forgetrace.yaml');
const COMPOSE = path.resolve('examples/docker-compose.yml');
/** The secrets the example reads from the environment. */
const SECRETS = { SMTP_PASSWORD: 'example-password', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXX', FORGEWATCH_TOKEN: 'example-token' };

/** Every check `name` reaches through depends_on, transitively. */
function reaches(deps: Map<string, string[]>, name: string, seen = new Set<string>()): Set<string> {
  for (const d of deps.get(name) ?? []) if (!seen.has(d)) reaches(deps, d, seen.add(d));
  return seen;
}

describe('examples/forgetrace.yaml', () => {
  it('passes forgewatch validate', async () => {
    const r = await runCli(['validate', EXAMPLE], { env: SECRETS });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/: ok \(\d+ checks\)/);
    expect(r.code).toBe(0);
  });

  it('names the missing secret when one is not set', async () => {
    const r = await runCli(['validate', EXAMPLE], { env: { ...SECRETS, SLACK_WEBHOOK_URL: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SLACK_WEBHOOK_URL');
  });

  it("covers the deployment's validation checklist and folds an nginx 502 under the backend container", () => {
    const config = loadConfigFile(EXAMPLE, { ...process.env, ...SECRETS });
    const byName = new Map(config.checks.map((c) => [c.name, c]));
    const urls = config.checks.filter((c) => c.type === 'http').map((c) => String(c.url));
    for (const url of ['http://127.0.0.1:8000/health', 'http://127.0.0.1:3001/', 'https://api.forgetrace.pro/health', 'https://www.forgetrace.pro/']) expect(urls).toContain(url);
    // HTTP -> HTTPS redirect for every host nginx serves.
    for (const host of ['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro']) {
      expect(config.checks.some((c) => c.type === 'http' && new URL(String(c.url)).host === host && new URL(String(c.url)).protocol === 'http:' && c.follow_redirects === false)).toBe(true);
    }
    // Certificates: served SANs per host, compared with certbot's file; the files themselves.
    const certNames = config.checks.filter((c) => c.type === 'tls').flatMap((c) => (c.names as string[] | undefined) ?? []);
    expect(new Set(certNames)).toEqual(new Set(['forgetrace.pro', 'www.forgetrace.pro', 'api.forgetrace.pro']));
    expect(config.checks.filter((c) => c.type === 'tls').every((c) => typeof c.cert_file === 'string')).toBe(true);
    expect(config.checks.some((c) => c.type === 'cert_file')).toBe(true);
    // Both containers, and port 8000 held by the backend container (not a systemd unit); 80 and 443 listening.
    expect(config.checks.filter((c) => c.type === 'container').map((c) => c.container).sort()).toEqual(['forgetrace-backend', 'forgetrace-frontend']);
    expect(byName.get('backend-port')).toMatchObject({ type: 'port', port: 8000, owner: { container: 'forgetrace-backend' } });
    const ports = config.checks.filter((c) => c.type === 'port' && c.expect === 'listening').map((c) => c.port);
    expect(ports).toEqual(expect.arrayContaining([80, 443, 3001, 8000]));
    // The public API check reaches the backend container through depends_on.
    const deps = new Map(config.checks.map((c) => [c.name, c.depends_on]));
    expect(reaches(deps, 'api-public')).toContain('backend-container');
    // Email and Slack channels.
    expect(config.alerts?.channels.map((c) => c.type).sort()).toEqual(['email', 'slack']);
  });
});

describe('examples/docker-compose.yml', () => {
  const compose = parse(readFileSync(COMPOSE, 'utf8')) as { services: Record<string, { volumes?: string[]; command?: string[]; profiles?: string[] }> };
  const forgewatch = compose.services.forgewatch;

  it('runs forgewatch beside the stack with the config, the state volume and the socket read-only', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['forgetrace-backend', 'forgetrace-frontend', 'forgewatch']));
    const volumes = forgewatch?.volumes ?? [];
    expect(volumes).toContain('./forgetrace.yaml:/etc/forgewatch/forgewatch.yaml:ro');
    expect(volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:ro');
    const state = volumes.find((v) => v.endsWith(':/var/lib/forgewatch'));
    expect(state).toBeDefined();
    // The example's state_dir is the image's volume, so state survives a re-created container.
    expect(loadConfigFile(EXAMPLE, { ...process.env, ...SECRETS }).state_dir).toBe('/var/lib/forgewatch');
    expect(readFileSync(path.resolve('Dockerfile'), 'utf8')).toContain('VOLUME ["/var/lib/forgewatch"]');
  });
});
