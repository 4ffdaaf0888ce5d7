/**
 * An https:// URL whose port refuses while port 80 of the same address answers: the hint names the missing TLS
 * listener (nginx's `listen 443 ssl`), not a container or a systemd unit. Each case owns a loopback address of
 * its own (all of 127/8 is loopback on Linux), so it can hold port 80 there and leave 443 refused.
 */
import http from 'node:http';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from './helpers/checks.js';
import { listen, type Started } from './helpers/servers.js';

/** A loopback address other than 127.0.0.1, random so parallel runs do not meet. */
const loopback = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

let plainOnly: Started<http.Server>;
const plainAddress = loopback();
beforeAll(async () => {
  plainOnly = await listen(
    http.createServer((_req, res) => res.end('plain http')),
    plainAddress,
    80,
  );
});
afterAll(() => plainOnly.close());

const probe = async (url: string) =>
  (await runCheck(JSON.stringify({ name: 'site', type: 'http', url, timeout: '2s' }))).result;

describe('connection refused on an https:// port', () => {
  it('names the missing TLS listener when port 80 of the same address answers', async () => {
    const r = await probe(`https://${plainAddress}/`);
    expect(r.reason).toBe(`connect ECONNREFUSED ${plainAddress}:443`);
    expect(r.hint).toMatch(/^Port 80 of the same address accepts connections but port 443 refuses them/);
    expect(r.hint).toContain(`the server block for ${plainAddress} most likely lacks \`listen 443 ssl;\``);
    expect(r.hint).toContain('nginx -t && nginx -s reload');
    expect(r.hint).not.toMatch(/container|systemd/);
  });

  it('names the port the URL uses when it is not 443', async () => {
    const r = await probe(`https://${plainAddress}:8443/health`);
    expect(r.reason).toBe(`connect ECONNREFUSED ${plainAddress}:8443`);
    expect(r.hint).toContain('`listen 8443 ssl;`');
  });

  it('gives a tls check refused on 443 the same hint', async () => {
    const r = (
      await runCheck(JSON.stringify({ name: 'cert', type: 'tls', host: plainAddress, port: 443, timeout: '2s' }))
    ).result;
    expect(r.reason).toBe(`connect ECONNREFUSED ${plainAddress}:443`);
    expect(r.hint).toContain('`listen 443 ssl;`');
    expect(r.hint).not.toMatch(/container|systemd/);
  });

  it('keeps the container hint when port 80 refuses too', async () => {
    const nothing = loopback();
    const r = await probe(`https://${nothing}/`);
    expect(r.reason).toBe(`connect ECONNREFUSED ${nothing}:443`);
    expect(r.hint).toMatch(/Is the container up and not restarting/);
    expect(r.hint).not.toMatch(/listen 443 ssl/);
  });

  it('keeps the container hint for an http:// URL refused next to a listening port 80', async () => {
    const r = await probe(`http://${plainAddress}:8080/`);
    expect(r.reason).toBe(`connect ECONNREFUSED ${plainAddress}:8080`);
    expect(r.hint).toMatch(/Is the container up and not restarting/);
  });
});
