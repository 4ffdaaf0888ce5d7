/**
 * The listen address: one parser for `server.listen` and `serve --listen`, where an empty host means
 * loopback. Checked on real sockets: the address `serve` reports, the kernel's listening socket in
 * /proc/net/tcp, and a connection to another address of this machine.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readListeners } from '../src/ports/proc-net.js';
import { parseListenAddress } from '../src/util/listen.js';
import { BUILT_CLI, tempDir, waitFor } from './helpers/service.js';

describe('parseListenAddress', () => {
  it.each([
    [':9464', { host: '127.0.0.1', port: 9464 }],
    ['9464', { host: '127.0.0.1', port: 9464 }],
    [' :0 ', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464 }],
    ['[::1]:9464', { host: '::1', port: 9464 }],
    ['[::]:80', { host: '::', port: 80 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
  ])('reads %j as %j', (text, address) => {
    expect(parseListenAddress(text)).toEqual({ ok: true, address });
  });

  it.each([
    [
      'nine',
      'expected host:port such as 127.0.0.1:9464, [::1]:9464 or :9464 (an empty host means 127.0.0.1), got "nine"',
    ],
    [
      '127.0.0.1:',
      'expected host:port such as 127.0.0.1:9464, [::1]:9464 or :9464 (an empty host means 127.0.0.1), got "127.0.0.1:"',
    ],
    [
      '::1:9464',
      'expected host:port such as 127.0.0.1:9464, [::1]:9464 or :9464 (an empty host means 127.0.0.1), got "::1:9464"',
    ],
    [
      '[example.test]:80',
      'expected host:port such as 127.0.0.1:9464, [::1]:9464 or :9464 (an empty host means 127.0.0.1), got "[example.test]:80"',
    ],
    [':70000', 'port 70000 is out of range (0-65535), got ":70000"'],
    ['0.0.0.0:99999', 'port 99999 is out of range (0-65535), got "0.0.0.0:99999"'],
  ])('rejects %j, saying what it expects', (text, problem) => {
    expect(parseListenAddress(text)).toEqual({ ok: false, problem });
  });
});

const { dir, cleanup } = tempDir('forgewatch-listen-');
afterAll(cleanup);

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(async () => {
  await Promise.all(
    children.splice(0).map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
});

function writeConfig(name: string, yaml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** Environment without the variables that would point serve at another config or state folder. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.FORGEWATCH_CONFIG;
  delete env.FORGEWATCH_STATE_DIR;
  return env;
}

/** Starts `forgewatch serve`; resolves with the address its `started` line names. */
async function serve(args: string[]): Promise<{ host: string; port: number }> {
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', ...args], { cwd: dir, env: cleanEnv() });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const started = await waitFor(
    () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.event === 'started'),
    15_000,
  );
  const url = new URL(started.url as string);
  return { host: url.hostname, port: Number(url.port) };
}

/** Runs `forgewatch serve` that must refuse to start; resolves with its exit code and output. */
function serveRefused(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [BUILT_CLI, 'serve', ...args], { cwd: dir, env: cleanEnv() });
  children.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

/** The address the kernel's listening socket on this port is bound to. */
async function boundAddress(port: number): Promise<string | undefined> {
  return (await readListeners()).find((l) => l.port === port)?.address;
}

/** Connects and reports how it went: "connected", or the error code (ECONNREFUSED when nothing listens there). */
function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** An IPv4 address of this machine other than loopback, to connect to from "the network". */
const outsideAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

async function expectLoopbackOnly(address: { host: string; port: number }): Promise<void> {
  expect(address.host).toBe('127.0.0.1');
  expect(await boundAddress(address.port)).toBe('127.0.0.1');
  expect(await connectOutcome('127.0.0.1', address.port)).toBe('connected');
  if (outsideAddress) expect(await connectOutcome(outsideAddress, address.port)).toBe('ECONNREFUSED');
}

describe('serve binds where the listen address says', () => {
  it('binds loopback for server.listen ":0" in the config (an empty host)', async () => {
    const file = writeConfig('empty-host.yaml', 'server:\n  listen: ":0"\nchecks: []\n');
    await expectLoopbackOnly(await serve(['-c', file]));
  });

  it('binds loopback for --listen :0 (an empty host)', async () => {
    const file = writeConfig('no-listen.yaml', 'checks: []\n');
    await expectLoopbackOnly(await serve(['-c', file, '--listen', ':0']));
  });

  it('binds every interface only when asked by name: --listen 0.0.0.0:0', async () => {
    const file = writeConfig('all.yaml', 'checks: []\n');
    const address = await serve(['-c', file, '--listen', '0.0.0.0:0']);
    expect(await boundAddress(address.port)).toBe('0.0.0.0');
    expect(await connectOutcome(outsideAddress ?? '127.0.0.1', address.port)).toBe('connected');
  });

  it('refuses an out-of-range port from the flag and from the config, naming the range', async () => {
    const flag = await serveRefused(['-c', writeConfig('flag.yaml', 'checks: []\n'), '--listen', ':70000']);
    expect(flag.code).toBe(2);
    expect(flag.output).toContain('forgewatch: --listen: port 70000 is out of range (0-65535), got ":70000"');

    const file = writeConfig('bad-port.yaml', 'server:\n  listen: ":70000"\nchecks: []\n');
    const config = await serveRefused(['-c', file]);
    expect(config.code).toBe(2);
    expect(config.output).toContain(`${file}:2:11 server.listen: port 70000 is out of range (0-65535), got ":70000"`);
  });
});
