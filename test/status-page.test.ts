import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { chromium, type Browser } from 'playwright-core';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForgewatch, tempDir, waitFor, type RunningForgewatch } from './helpers/service.js';
import { startPodman } from './helpers/podman.js';
import { freePort, httpServer, listen, type Started } from './helpers/servers.js';
import type http from 'node:http';

const OUTPUT = path.resolve('test-output');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

let healthy: Started<http.Server>;
let broken: Started<http.Server>;
let browser: Browser;

function config(backendUrl: string, apiUrl: string, extra = ''): string {
  return `${extra}
defaults: { interval: 1s, timeout: 2s, failure_threshold: 1 }
checks:
  - name: backend-local
    type: http
    url: ${backendUrl}/health
  - name: api-public
    type: http
    url: ${apiUrl}/health
    depends_on: [backend-local]
`;
}

async function settled(fw: RunningForgewatch): Promise<void> {
  await waitFor(() => fw.service.monitor.views().every((v) => v.state.status !== 'unknown' && v.last), 15_000);
}

beforeAll(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  healthy = await httpServer((_req, res) => res.end('ok'));
  broken = await httpServer((_req, res) => {
    res.statusCode = 502;
    res.end('<html><body>502 Bad Gateway</body></html>');
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await healthy?.close();
  await broken?.close();
});

describe('status page in a real browser', () => {
  it('lists the failing check first with its reason, and reads on desktop and phone widths', async () => {
    const fw = await startForgewatch(config(healthy.url, broken.url));
    try {
      await settled(fw);
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      const response = await page.goto(`${fw.url}/`);
      expect(response?.status()).toBe(200);
      const rows = page.locator('li.check');
      await expect.poll(() => rows.count()).toBe(2);
      expect(await rows.nth(0).getAttribute('data-check')).toBe('api-public');
      expect(await rows.nth(0).getAttribute('data-status')).toBe('fail');
      expect(await rows.nth(0).locator('.reason').innerText()).toContain('status 502');
      expect(await rows.nth(1).getAttribute('data-status')).toBe('ok');
      expect(await rows.nth(1).locator('.reason').innerText()).toMatch(/^status 200/);
      expect(await page.title()).toContain('1 failing');
      expect(await rows.nth(0).locator('.deps').innerText()).toContain('backend-local');
      expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toMatch(/^\d+$/);
      // The sparkline is drawn from real runs: it has a line once two runs are in.
      await waitFor(
        async () =>
          (await fw.service.monitor.run('backend-local')) &&
          (await page.reload()) &&
          (await rows.nth(1).locator('svg.sparkline polyline').count()) === 1,
      );
      await page.screenshot({ path: path.join(OUTPUT, 'status-page-desktop.png'), fullPage: true });

      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      // On a phone nothing may force sideways scrolling.
      const overflow = await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: path.join(OUTPUT, 'status-page-phone.png'), fullPage: true });
      await page.close();
    } finally {
      await fw.close();
    }
  });

  it('puts a failing root cause first with the checks it takes down under it, as the alert folds them', async () => {
    const fw = await startForgewatch(`
defaults: { interval: 1s, timeout: 2s, failure_threshold: 1 }
checks:
  - { name: alpha-ok, type: http, url: "${healthy.url}/health" }
  - { name: api-public, type: http, url: "${broken.url}/api", depends_on: [zeta-backend] }
  - { name: beta-other, type: http, url: "${broken.url}/other" }
  - { name: checkout, type: http, url: "${broken.url}/checkout", depends_on: [api-public] }
  - { name: zeta-backend, type: http, url: "${broken.url}/health" }
`);
    try {
      await settled(fw);
      const html = await (await fetch(`${fw.url}/`)).text();
      const items = [...html.matchAll(/<li class="check [^>]*>/g)].map(([tag]) => ({
        check: /data-check="([^"]+)"/.exec(tag)?.[1],
        root: /data-root="([^"]+)"/.exec(tag)?.[1],
        dependent: /class="[^"]*\bdependent\b/.test(tag),
      }));
      // Alphabetical within a status would list api-public and checkout above the backend they fail because of.
      expect(items.map((m) => `${m.check}${m.root ? ` under ${m.root}` : ''}`)).toEqual([
        'beta-other',
        'zeta-backend',
        'api-public under zeta-backend',
        'checkout under zeta-backend',
        'alpha-ok',
      ]);
      expect(items.filter((m) => m.dependent).map((m) => m.check)).toEqual(['api-public', 'checkout']);
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(`${fw.url}/`);
      const dependent = page.locator('li.check.dependent[data-check="checkout"]');
      const root = page.locator('li.check[data-check="zeta-backend"]');
      // Indented under its root cause, and still no sideways scrolling on a phone.
      expect((await dependent.boundingBox())?.x ?? 0).toBeGreaterThan(((await root.boundingBox())?.x ?? 0) + 16);
      expect(
        await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
      ).toBeLessThanOrEqual(0);
      await page.screenshot({ path: path.join(OUTPUT, 'status-page-folded.png'), fullPage: true });
      await page.close();
    } finally {
      await fw.close();
    }
  });

  it('with server.token shows names and states only until the token is given', async () => {
    const fw = await startForgewatch(config(healthy.url, broken.url, 'server: { token: s3cret-token }'));
    try {
      await settled(fw);
      const page = await browser.newPage();
      await page.goto(`${fw.url}/`);
      const first = page.locator('li.check').first();
      expect(await first.getAttribute('data-status')).toBe('fail');
      expect(await first.innerText()).toContain('api-public');
      expect(await page.content()).not.toContain('502');
      expect(await page.locator('.reason').count()).toBe(0);

      await page.goto(`${fw.url}/?token=wrong`);
      expect(await page.locator('.reason').count()).toBe(0);

      await page.goto(`${fw.url}/?token=s3cret-token`);
      expect(await page.locator('li.check').first().locator('.reason').innerText()).toContain('status 502');
      await page.close();

      const header = await fetch(`${fw.url}/`, { headers: { authorization: 'Bearer s3cret-token' } });
      expect(await header.text()).toContain('status 502');
    } finally {
      await fw.close();
    }
  });
});

describe('status page and a hostile target', () => {
  it('shows markup from a target as text, never as markup', async () => {
    const payload = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;
    const hostile = await httpServer((_req, res) => {
      res.setHeader('x-app', payload);
      res.end('ok');
    });
    const fw = await startForgewatch(`
defaults: { interval: 1s, timeout: 2s, failure_threshold: 1 }
checks:
  - { name: hostile, type: http, url: '${hostile.url}/', expect: { header: { x-app: '^ok$' } } }
`);
    try {
      await settled(fw);
      const page = await browser.newPage();
      await page.goto(`${fw.url}/`);
      expect(await page.locator('li.check .reason').innerText()).toContain(payload.replaceAll('"', '\\"'));
      expect(await page.locator('img, script').count()).toBe(0);
      expect(await page.title()).not.toContain('pwned');
      await page.close();
    } finally {
      await fw.close();
      await hostile.close();
    }
  });
});

describe('status page detail facts', () => {
  it('shows certificate days left and uncovered names (per file for cert_file), and where a port is bound', async () => {
    const { dir, cleanup } = tempDir();
    const notAfter = new Date(Date.now() + 10 * 86_400_000 + 3_600_000);
    const pems = await generate([{ name: 'commonName', value: 'www.forgewatch.test' }], {
      keyType: 'ec',
      notAfterDate: notAfter,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'www.forgewatch.test' }] }],
    });
    writeFileSync(path.join(dir, 'cert.pem'), pems.cert);
    // certbot's layout: one file misses the apex, the other covers both names.
    const both = await generate([{ name: 'commonName', value: 'forgewatch.test' }], {
      keyType: 'ec',
      notAfterDate: new Date(Date.now() + 60 * 86_400_000 + 3_600_000),
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'forgewatch.test' },
            { type: 2, value: 'www.forgewatch.test' },
          ],
        },
      ],
    });
    for (const [name, pem] of [
      ['www.forgewatch.test', pems.cert],
      ['forgewatch.test', both.cert],
    ] as const) {
      mkdirSync(path.join(dir, 'live', name), { recursive: true });
      writeFileSync(path.join(dir, 'live', name, 'fullchain.pem'), pem);
    }
    const served = await listen(tls.createServer({ key: pems.private, cert: pems.cert }));
    const fw = await startForgewatch(`
defaults: { interval: 1s, timeout: 3s, failure_threshold: 1 }
checks:
  - name: cert-www
    type: tls
    host: 127.0.0.1
    port: ${served.port}
    server_name: www.forgewatch.test
    names: [forgewatch.test, www.forgewatch.test]
    ca_file: ${path.join(dir, 'cert.pem')}
  - name: app-port
    type: port
    host: 127.0.0.1
    port: ${healthy.port}
  - { name: certbot-files, type: cert_file, path: '${dir}/live/*/fullchain.pem', names: [forgewatch.test, www.forgewatch.test] }
`);
    try {
      await settled(fw);
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`${fw.url}/`);
      const cert = page.locator('li.check[data-check="cert-www"]');
      expect(await cert.getAttribute('data-status')).toBe('fail');
      const certFacts = await cert.locator('.facts').innerText();
      expect(certFacts).toMatch(/certificate: 10 days left/);
      expect(certFacts).toContain('not covered: forgewatch.test');
      expect(certFacts).toContain('covers www.forgewatch.test');
      expect(await cert.locator('.facts .bad').first().innerText()).toContain('not covered');
      // Ten days left is inside the default warn_before (21d) but not fail_before (7d).
      expect(await cert.locator('.facts li[data-tone="warn"]').innerText()).toBe('certificate: 10 days left');
      // A cert_file check: each file's days left, and the names it misses.
      const files = await page.locator('li.check[data-check="certbot-files"] .facts li').allInnerTexts();
      expect(files.sort()).toEqual([
        'forgewatch.test/fullchain.pem: 60 days left',
        'www.forgewatch.test/fullchain.pem: 10 days left, does not cover forgewatch.test',
      ]);
      expect(await page.locator('li.check[data-check="certbot-files"] .facts .bad').innerText()).toContain(
        'does not cover',
      );
      // The full path on hover.
      expect(await page.locator('li.check[data-check="certbot-files"] .facts .bad').getAttribute('title')).toBe(
        path.join(dir, 'live', 'www.forgewatch.test', 'fullchain.pem'),
      );
      const port = page.locator('li.check[data-check="app-port"]');
      expect(await port.locator('.facts').innerText()).toContain(`bound to 127.0.0.1:${healthy.port}`);
      await page.screenshot({ path: path.join(OUTPUT, 'status-page-details.png'), fullPage: true });
      await page.close();
    } finally {
      await fw.close();
      await served.close();
      await cleanup();
    }
  });
});

describe('status page with a crash-looping container', () => {
  it("shows the container's restart count and exit code beside the checks that depend on it", async () => {
    const podman = await startPodman();
    const down = await freePort();
    const fw = await startForgewatch(`
defaults: { interval: 1s, timeout: 3s, failure_threshold: 1 }
checks:
  - { name: backend-container, type: container, container: fw-backend, socket: '${podman.socket}', window: 10m }
  - { name: backend-local, type: http, url: 'http://127.0.0.1:${down}/health', depends_on: [backend-container] }
  - { name: frontend-local, type: http, url: '${healthy.url}/' }
`);
    try {
      await podman.runContainer(
        'fw-backend',
        ['--restart=always'],
        ['/bin/sh', '-c', 'echo "ModuleNotFoundError: No module named aiosqlite" >&2; exit 1'],
      );
      await waitFor(
        async () => {
          const details = (await fw.service.monitor.run('backend-container')).result.details.containers;
          return (
            Array.isArray(details) &&
            details.some(
              (c) =>
                typeof c === 'object' &&
                c !== null &&
                !Array.isArray(c) &&
                typeof c.restart_count === 'number' &&
                c.restart_count >= 2,
            )
          );
        },
        30_000,
        500,
      );
      await settled(fw);
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`${fw.url}/`);
      const container = page.locator('li.check[data-check="backend-container"]');
      expect(await container.getAttribute('data-status')).toBe('fail');
      const facts = await container.locator('.facts').innerText();
      // Between restarts the exit code shows too; the restart count always does.
      expect(facts).toMatch(/^fw-backend: \w+, ([2-9]|\d{2,}) restarts/);
      expect(facts).not.toContain('none');
      expect(await page.locator('li.check').last().getAttribute('data-check')).toBe('frontend-local');
      expect(await page.locator('li.check[data-check="backend-local"] .deps .cause').innerText()).toBe(
        'backend-container (failing)',
      );
      await page.screenshot({ path: path.join(OUTPUT, 'status-page-container.png'), fullPage: true });
      await page.close();
    } finally {
      await fw.close();
      await podman.close();
    }
  }, 90_000);
});

describe('GET /api/history', () => {
  it('returns the check runs as JSON, behind the bearer token', async () => {
    const fw = await startForgewatch(config(healthy.url, broken.url, 'server: { token: tok }'));
    try {
      await waitFor(() => fw.service.monitor.view('api-public')?.last);
      const auth = { authorization: 'Bearer tok' };
      expect((await fetch(`${fw.url}/api/history?check=api-public`)).status).toBe(401);
      expect((await fetch(`${fw.url}/api/history?check=nope`, { headers: auth })).status).toBe(404);
      const missing = await fetch(`${fw.url}/api/history`, { headers: auth });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { error: string }).error).toContain('check=NAME');
      const res = await fetch(`${fw.url}/api/history?check=api-public`, { headers: auth });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        check: string;
        window_seconds: number;
        points: { at: string; duration_ms: number; status: string; runs: number }[];
      };
      expect(body.check).toBe('api-public');
      expect(body.window_seconds).toBe(86400);
      expect(body.points.length).toBeGreaterThan(0);
      expect(body.points[0]).toMatchObject({ status: 'fail', runs: 1 });
      expect(Date.parse(body.points[0]?.at ?? '')).not.toBeNaN();
      expect(body.points[0]?.duration_ms).toBeGreaterThan(0);
    } finally {
      await fw.close();
    }
  });
});
