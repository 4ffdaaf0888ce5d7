/**
 * Port checks run after run on a port whose holder or binding changes: what one run learnt (who holds
 * the socket, the listener table) never hides what changed before the next.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from './helpers/checks.js';
import { listen, type Started } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

let scratch: ReturnType<typeof tempDir>;
const children: ChildProcess[] = [];
const servers: Started<net.Server>[] = [];

beforeAll(() => {
  scratch = tempDir('forgewatch-port-changes-');
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.close()));
  await scratch.cleanup();
});

function portCheck(body: string) {
  return runCheck(`name: p\ntype: port\ntimeout: 5s\n${body.trim()}`);
}

/** Lines a child prints, one promise per line in order. */
function lines(child: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let buffered = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const next = waiting.shift();
      if (next) next(line);
      else queue.push(line);
    }
  });
  return () => {
    const line = queue.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
  };
}

describe('port checks over changes between runs', () => {
  it('names the new holder when the listening socket passes to another process', async () => {
    // One socket, two holders in turn: the parent listens, then forks and exits, leaving it to the child.
    const script = path.join(scratch.dir, 'handover.py');
    writeFileSync(
      script,
      [
        'import os, socket, sys, time',
        's = socket.socket()',
        's.bind(("127.0.0.1", 0))',
        's.listen()',
        'print(s.getsockname()[1], flush=True)',
        'sys.stdin.readline()',
        'if os.fork() == 0:',
        '    print(os.getpid(), flush=True)',
        '    time.sleep(600)',
        'else:',
        '    os._exit(0)',
      ].join('\n'),
    );
    const parent = spawn('/usr/bin/python3', ['-u', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(parent);
    const next = lines(parent);
    const port = Number(await next());

    const first = await portCheck(`port: ${port}\nowner: { process: python3 }`);
    expect(first.result.status).toBe('ok');
    expect(first.result.details.owner).toMatchObject({ pid: parent.pid, process: 'python3' });

    const exited = new Promise((resolve) => parent.once('exit', resolve));
    parent.stdin?.write('\n');
    const childPid = Number(await next());
    await exited;
    const second = await portCheck(`port: ${port}\nowner: { process: python3 }`);
    expect(second.result.status).toBe('ok');
    expect(second.result.details.owner).toMatchObject({ pid: childPid, process: 'python3' });
    expect(second.result.reason).toBe(`127.0.0.1:${port} listening, held by python3 handover.py (pid ${childPid})`);
    process.kill(childPid, 'SIGKILL');
  });

  it('names the program a holder became when it ran exec, keeping the socket', async () => {
    const renamed = path.join(scratch.dir, 'renamed-server');
    symlinkSync('/usr/bin/python3', renamed);
    const script = path.join(scratch.dir, 'reexec.py');
    writeFileSync(
      script,
      [
        'import os, socket, sys',
        's = socket.socket()',
        's.bind(("127.0.0.1", 0))',
        's.listen()',
        's.set_inheritable(True)',
        'print(s.getsockname()[1], flush=True)',
        'sys.stdin.readline()',
        `os.execv(${JSON.stringify(renamed)}, ["renamed-server", "-c", "import time; print('ready', flush=True); time.sleep(600)"])`,
      ].join('\n'),
    );
    const child = spawn('/usr/bin/python3', ['-u', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    const next = lines(child);
    const port = Number(await next());

    const before = await portCheck(`port: ${port}`);
    expect(before.result.details.owner).toMatchObject({ pid: child.pid, process: 'python3' });

    child.stdin?.write('\n');
    expect(await next()).toBe('ready');
    const after = await portCheck(`port: ${port}\nowner: { process: renamed-server }`);
    expect(after.result.status).toBe('ok');
    expect(after.result.details.owner).toMatchObject({ pid: child.pid, process: 'renamed-server' });
  });

  it('names the new holder when another process takes the port over', async () => {
    const first = await listen(
      net.createServer((c) => c.destroy()),
      '127.0.0.1',
    );
    const held = await portCheck(`port: ${first.port}\nowner: { process: node }`);
    expect(held.result.details.owner).toMatchObject({ pid: process.pid, process: 'node' });
    await first.close();

    const exe = path.join(scratch.dir, 'takeover');
    const script = `require('net').createServer((c) => c.destroy()).listen(${first.port}, '127.0.0.1', () => console.log('up'))`;
    writeFileSync(`${exe}.js`, script);
    const child = spawn(process.execPath, [`${exe}.js`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    expect(await lines(child)()).toBe('up');
    const taken = await portCheck(`port: ${first.port}\nowner: { process: node }`);
    expect(taken.result.details.owner).toMatchObject({
      pid: child.pid,
      process: 'node',
      cmdline: expect.stringContaining('takeover.js'),
    });
    expect(taken.result.reason).toBe(`127.0.0.1:${first.port} listening, held by node takeover.js (pid ${child.pid})`);
  });

  it('sees a wildcard listener added beside a loopback one between two runs', async () => {
    const local = await listen(
      net.createServer((c) => c.destroy()),
      '127.0.0.1',
    );
    servers.push(local);
    const before = await portCheck(`port: ${local.port}\nbind: loopback`);
    expect(before.result.status).toBe('ok');

    const v6 = await new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer((c) => c.destroy());
      s.once('error', reject).listen({ port: local.port, host: '::', ipv6Only: true }, () => resolve(s));
    });
    servers.push({
      server: v6,
      port: local.port,
      url: '',
      close: () => new Promise<void>((resolve) => v6.close(() => resolve())),
    });
    const after = await portCheck(`port: ${local.port}\nbind: loopback`);
    expect(after.result.status).toBe('warn');
    expect(after.result.reason).toBe(
      `127.0.0.1:${local.port} is bound to all interfaces ([::]:${local.port}), expected loopback only`,
    );
  });
});
