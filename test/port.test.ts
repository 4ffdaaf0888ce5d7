/** Port checks with real sockets: listening or closed, who holds the port, how widely it is bound. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { defaultConfigText } from '../src/config/default.js';
import { SteadyListeners } from '../src/ports/default-checks.js';
import { describeListeners } from '../src/discover/ports.js';
import { propose } from '../src/discover/propose.js';
import { decodeIPv6, parseProcNetTcp, readListenersSync } from '../src/ports/proc-net.js';
import type { JsonObject } from '../src/probes/types.js';
import { runCheck } from './helpers/checks.js';
import { fakeEngine } from './helpers/container-check.js';
import { runProbeAsNobody, runProbeUnderSetpriv } from './helpers/probe-as-nobody.js';
import { freePort, listen, lowestFreePort, type Started } from './helpers/servers.js';
import { tempDir } from './helpers/service.js';

let scratch: ReturnType<typeof tempDir>;
/** The script this test process runs (the test runner's worker), as a port owner's reason names it. */
const selfScript = path.basename(process.argv[1] as string);
const children: ChildProcess[] = [];
const servers: Started<net.Server>[] = [];

beforeAll(() => {
  scratch = tempDir('forgewatch-port-');
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.close()));
  await scratch.cleanup();
});

async function serve(host: string): Promise<number> {
  const s = await listen(
    net.createServer((c) => c.destroy()),
    host,
  );
  servers.push(s);
  return s.port;
}

/** Starts node under another name (comm comes from the executable's file name) listening on host; resolves with its pid and port. */
async function childListener(processName: string, host: string): Promise<{ pid: number; port: number }> {
  const exe = path.join(scratch.dir, processName);
  symlinkSync(process.execPath, exe);
  const child = spawn(
    exe,
    [
      '-e',
      `const s = require('net').createServer((c) => c.destroy()).listen(0, ${JSON.stringify(host)}, () => console.log(s.address().port))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
  });
  return { pid: child.pid as number, port };
}

function portCheck(body: string) {
  return runCheck(`name: p\ntype: port\ntimeout: 5s\n${body.trim()}`);
}

describe('kernel socket tables', () => {
  it('decodes IPv4 and IPv6 listeners from /proc/net hex', () => {
    const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:AA14 0100007F:923B 01 00000000:00000000 03:00000E4E 00000000     0        0 0 3 0000000000000000`;
    expect(parseProcNetTcp(tcp, 4)).toEqual([{ family: 4, address: '127.0.0.1', port: 8000, uid: 999, inode: 4242 }]);
    const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 78 1 0000000000000000 100 0 0 10 0`;
    expect(parseProcNetTcp(tcp6, 6).map((l) => [l.address, l.port, l.inode])).toEqual([
      ['::1', 80, 77],
      ['::ffff:127.0.0.1', 443, 78],
    ]);
    expect(decodeIPv6('B80D0120000000000000000001000000')).toBe('2001:db8::1');
    expect(decodeIPv6('00000000000000000000000000000000')).toBe('::');
    expect(decodeIPv6('000080FE0000000078563412F0DEBC9A')).toBe('fe80::1234:5678:9abc:def0');
  });
});

describe('port check with real sockets', () => {
  it('passes when something listens and fails with a reason when nothing does', async () => {
    const port = await serve('127.0.0.1');
    const up = await portCheck(`port: ${port}`);
    expect(up.result.status).toBe('ok');
    expect(up.result.details).toMatchObject({ listening: true, bound: `127.0.0.1:${port}` });
    expect(up.result.observations).toContainEqual({
      metric: 'forgewatch_port_listening',
      labels: { port: String(port) },
      value: 1,
    });

    const closed = await freePort();
    const down = await portCheck(`port: ${closed}\nowner: { container: forgetrace-backend }`);
    expect(down.result.status).toBe('fail');
    expect(down.result.reason).toBe(`nothing listens on 127.0.0.1:${closed}: the container is down or could not bind`);
    expect(down.result.details).toMatchObject({ listening: false, owner: null, bound: null });
    expect(down.result.observations).toContainEqual({
      metric: 'forgewatch_port_listening',
      labels: { port: String(closed) },
      value: 0,
    });
  });

  it('checks that a port stays closed', async () => {
    const closed = await freePort();
    expect((await portCheck(`port: ${closed}\nexpect: closed`)).result.status).toBe('ok');
    const open = await serve('127.0.0.1');
    const rec = await portCheck(`port: ${open}\nexpect: closed`);
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toBe(
      `127.0.0.1:${open} answers but should be closed: held by node ${selfScript} (pid ${process.pid})`,
    );
  });

  it('finds the owner of a listener in another process by pid and name, and names the wrong owner', async () => {
    const { pid, port } = await childListener('uvicorn', '127.0.0.1');
    const right = await portCheck(`port: ${port}\nowner: { process: uvicorn }`);
    expect(right.result.status).toBe('ok');
    expect(right.result.details.owner).toMatchObject({ pid, process: 'uvicorn' });
    expect(right.result.observations).toContainEqual({
      metric: 'forgewatch_port_owner_ok',
      labels: { port: String(port) },
      value: 1,
    });
    expect(right.result.observations).toContainEqual({
      metric: 'forgewatch_port_owner_info',
      labels: { port: String(port), process: 'uvicorn', unit: '', container: '' },
      value: 1,
    });

    const wrong = await portCheck(`port: ${port}\nowner: { container: forgetrace-backend }`);
    expect(wrong.result.status).toBe('fail');
    expect(wrong.result.reason).toBe(
      `127.0.0.1:${port} is held by uvicorn (pid ${pid}), expected container forgetrace-backend`,
    );
    expect(wrong.result.hint).toContain(`— stop that process (kill ${pid})`);
    expect(wrong.result.observations).toContainEqual({
      metric: 'forgewatch_port_owner_ok',
      labels: { port: String(port) },
      value: 0,
    });
  });

  it('warns when a port that should stay local is bound to all interfaces', async () => {
    const wide = await serve('0.0.0.0');
    const rec = await portCheck(`port: ${wide}\nbind: loopback`);
    expect(rec.result.status).toBe('warn');
    expect(rec.result.reason).toBe(
      `127.0.0.1:${wide} is bound to all interfaces (0.0.0.0:${wide}), expected loopback only`,
    );
    expect(rec.result.details.bound).toBe(`0.0.0.0:${wide}`);

    const local = await serve('127.0.0.1');
    const ok = await portCheck(`port: ${local}\nbind: loopback`);
    expect(ok.result.status).toBe('ok');
    expect(ok.result.details.bound).toBe(`127.0.0.1:${local}`);

    // Loopback for IPv4, but every interface for IPv6: still reachable from the network.
    const both = await serve('127.0.0.1');
    const v6 = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve, reject) =>
      v6.once('error', reject).listen({ port: both, host: '::', ipv6Only: true }, resolve),
    );
    servers.push({
      server: v6,
      port: both,
      url: '',
      close: () => new Promise<void>((resolve) => v6.close(() => resolve())),
    });
    const mixed = await portCheck(`port: ${both}\nbind: loopback`);
    expect(mixed.result.status).toBe('warn');
    expect(mixed.result.reason).toBe(
      `127.0.0.1:${both} is bound to all interfaces ([::]:${both}), expected loopback only`,
    );
    expect(mixed.result.details.bound).toBe(`127.0.0.1:${both}`);
  });

  it('finds an IPv6 loopback listener', async () => {
    const port = await serve('::1');
    const rec = await portCheck(`host: "::1"\nport: ${port}\nowner: { process: node }`);
    expect(rec.result.status).toBe('ok');
    expect(rec.result.details).toMatchObject({ bound: `[::1]:${port}`, owner: { pid: process.pid } });
    expect(rec.result.reason).toBe(`[::1]:${port} listening, held by node ${selfScript} (pid ${process.pid})`);
  });

  it('says the owner is unreadable instead of guessing when it runs unprivileged', async () => {
    const port = await serve('127.0.0.1');
    const result = await runProbeAsNobody('port', 'probePort', {
      host: '127.0.0.1',
      port,
      expect: 'listening',
      owner: { process: 'node' },
      bind: 'any',
      proc_root: '/proc',
      timeout: 5000,
    });
    expect(result.status).toBe('warn');
    expect(result.reason).toBe(
      `127.0.0.1:${port} is listening, but its owner could not be determined (expected process node)`,
    );
    expect(String(result.details.owner_note)).toMatch(/file descriptors are unreadable/);
    expect(result.details.owner).toBeNull();
  });
});

/** Starts a program that prints the port it listens on first; resolves with its pid and that port. */
async function listenerProcess(command: string, args: string[]): Promise<{ pid: number; port: number }> {
  const child = spawn(command, args, { cwd: scratch.dir, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out) ?? /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}`)));
  });
  return { pid: child.pid as number, port };
}

describe('the owner named by its script or module', () => {
  it('names the script a python3 or node process runs, and the module of python3 -m', async () => {
    const script = path.join(scratch.dir, 'legacy_backend.py');
    writeFileSync(
      script,
      'import socket, time\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\ns.listen()\nprint(s.getsockname()[1], flush=True)\ntime.sleep(600)\n',
    );
    const py = await listenerProcess('/usr/bin/python3', ['-u', script]);
    const byScript = await portCheck(`port: ${py.port}`);
    expect(byScript.result.reason).toBe(
      `127.0.0.1:${py.port} listening, held by python3 legacy_backend.py (pid ${py.pid})`,
    );

    // http.server prints "Serving HTTP on 127.0.0.1 port N (...)".
    const mod = await listenerProcess('/usr/bin/python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '0']);
    const byModule = await portCheck(`port: ${mod.port}\nowner: { process: python3 }`);
    expect(byModule.result.status).toBe('ok');
    expect(byModule.result.reason).toBe(
      `127.0.0.1:${mod.port} listening, held by python3 -m http.server (pid ${mod.pid})`,
    );

    // A long file name is cut: the reason goes into alert subjects.
    const long = path.join(scratch.dir, `${'frontend_server_'.repeat(4)}main.js`);
    writeFileSync(
      long,
      "const s = require('net').createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => console.log(s.address().port));\n",
    );
    const node = await listenerProcess(process.execPath, ['--max-old-space-size=64', long]);
    const cut = await portCheck(`port: ${node.port}\nexpect: closed`);
    expect(cut.result.reason).toBe(
      `127.0.0.1:${node.port} answers but should be closed: held by node ${'frontend_server_'.repeat(2)}fronten… (pid ${node.pid})`,
    );
  });
});

describe('root without CAP_SYS_PTRACE', () => {
  it('says the owner is unreadable when it may list the fds of a process but not read them', async () => {
    const { port } = await childListener('gunicorn', '127.0.0.1');
    // As a container's root with every capability dropped: same uid as the listener, fewer capabilities.
    const caps = ['--reuid=0', '--regid=0', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
    const result = await runProbeUnderSetpriv(caps, 'port', 'probePort', {
      host: '127.0.0.1',
      port,
      expect: 'listening',
      owner: { process: 'gunicorn' },
      bind: 'any',
      proc_root: '/proc',
      timeout: 5000,
    });
    expect(result.status).toBe('warn');
    expect(result.reason).toBe(
      `127.0.0.1:${port} is listening, but its owner could not be determined (expected process gunicorn)`,
    );
    expect(String(result.details.owner_note)).toMatch(/file descriptors are unreadable/);
    // It is root already: only the missing capability is advised.
    expect(String(result.details.owner_note)).toMatch(/give it CAP_SYS_PTRACE \(root without it/);
    expect(String(result.details.owner_note)).not.toMatch(/run forgewatch as root/);
  });
});

describe('root with every capability that still cannot read the owner', () => {
  it('says a user namespace stopped it, without telling root to become root', async () => {
    const { port } = await childListener('gunicorn-host', '127.0.0.1');
    // uid 0 with every capability, but in a user namespace of its own (as a rootless container's root):
    // the listener belongs to the host's root, outside it. setpriv's --reuid=0 is a no-op here.
    const result = await runProbeUnderSetpriv(
      ['--reuid=0', 'unshare', '--user', '--map-root-user'],
      'port',
      'probePort',
      {
        host: '127.0.0.1',
        port,
        expect: 'listening',
        owner: { process: 'gunicorn-host' },
        bind: 'any',
        proc_root: '/proc',
        timeout: 5000,
      },
    );
    expect(result.status).toBe('warn');
    const note = String(result.details.owner_note);
    expect(note).toMatch(
      /^owner unknown: \d+ processes' file descriptors are unreadable although forgewatch runs as uid 0 with CAP_SYS_PTRACE: it runs in a user namespace/,
    );
    expect(note).toMatch(/Run forgewatch on the host/);
    expect(result.hint).toBe(note);
    expect(note).not.toMatch(/run forgewatch as root|give it CAP_SYS_PTRACE/);
  });

  it('says the holder is hidden in another PID namespace when the socket is still listed', async () => {
    const port = await serve('127.0.0.1');
    const root = path.join(scratch.dir, 'proc-hidden-holder');
    mkdirSync(path.join(root, 'net'), { recursive: true });
    mkdirSync(path.join(root, '77/fd'), { recursive: true });
    symlinkSync('/dev/null', path.join(root, '77/fd/0'));
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    writeFileSync(
      path.join(root, 'net/tcp'),
      `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:${hexPort} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5150 1 0000000000000000 100 0 0 10 0\n`,
    );
    const rec = await portCheck(`port: ${port}\nproc_root: ${root}\nowner: { process: nginx }`);
    expect(rec.result.status).toBe('warn');
    expect(rec.result.details.owner_note).toBe(
      `owner unknown: no process visible in ${root} holds socket inode 5150: its holder runs in another PID namespace (forgewatch in a container without pid: host; with the host's /proc mounted elsewhere, point proc_root at it), or the kernel holds it (nfsd, a socket in flight between processes)`,
    );
  });
});

describe('listeners held for a container by docker-proxy', () => {
  it('names the container from the engine port map', async () => {
    const { pid, port } = await childListener('docker-proxy', '0.0.0.0');
    const socket = path.join(scratch.dir, 'engine.sock');
    // The answer Docker gives for GET /containers/json when a container publishes 0.0.0.0:port->8000/tcp.
    const engine = await fakeEngine(socket, (req, res) => {
      if (req.url === '/version') return res.end(JSON.stringify({ ApiVersion: '1.45' }));
      if (req.url?.startsWith('/v1.43/containers/json?')) {
        return res.end(
          JSON.stringify([
            { Id: 'c'.repeat(64), Names: ['/forgetrace-db'], Ports: [{ PrivatePort: 5432, Type: 'tcp' }] },
            {
              Id: 'd'.repeat(64),
              Names: ['/forgetrace-backend'],
              Ports: [{ IP: '0.0.0.0', PrivatePort: 8000, PublicPort: port, Type: 'tcp' }],
            },
          ]),
        );
      }
      res.statusCode = 404;
      res.end('{}');
    });
    try {
      const rec = await portCheck(
        `port: ${port}\nsocket: ${socket}\nowner: { container: forgetrace-backend }\nbind: loopback`,
      );
      expect(rec.result.details.owner).toMatchObject({ pid, process: 'docker-proxy', container: 'forgetrace-backend' });
      expect(rec.result.status).toBe('warn');
      expect(rec.result.reason).toBe(
        `127.0.0.1:${port} is bound to all interfaces (0.0.0.0:${port}), expected loopback only`,
      );
      expect(rec.result.observations).toContainEqual({
        metric: 'forgewatch_port_owner_info',
        labels: { port: String(port), process: 'docker-proxy', unit: '', container: 'forgetrace-backend' },
        value: 1,
      });

      // The name as Docker shows it, with its leading slash, is the same container.
      const slashed = await portCheck(`port: ${port}\nsocket: ${socket}\nowner: { container: /forgetrace-backend }`);
      expect(slashed.result.status).toBe('ok');
      expect(slashed.result.observations).toContainEqual({
        metric: 'forgewatch_port_owner_ok',
        labels: { port: String(port) },
        value: 1,
      });
    } finally {
      engine.close();
    }

    // With the engine out of reach the proxy's container is unknown: not a wrong owner to stop.
    const missing = path.join(scratch.dir, 'no-engine-for-proxy.sock');
    const blind = await portCheck(`port: ${port}\nsocket: ${missing}\nowner: { container: forgetrace-backend }`);
    expect(blind.result.status).toBe('warn');
    expect(blind.result.reason).toBe(
      `127.0.0.1:${port} is listening, but its owner could not be determined (expected container forgetrace-backend)`,
    );
    expect(blind.result.details.owner_note).toBe(
      `docker-proxy (pid ${pid}) holds the port for a container, but the engine could not say which (docker socket ${missing} not found)`,
    );
    expect(blind.result.observations.map((o) => o.metric)).not.toContain('forgewatch_port_owner_ok');
  });
});

describe('owner details from a prepared /proc tree', () => {
  /** A /proc with one process holding a listening socket on 127.0.0.1:port, placed in the given cgroup. */
  function procTree(
    name: string,
    port: number,
    cgroup: string,
    proc = {
      comm: 'uvicorn',
      argv: [
        '/opt/forgetrace/venv/bin/python3',
        '/opt/forgetrace/venv/bin/uvicorn',
        'app.main:app',
        '--port',
        String(port),
      ],
    },
  ): string {
    const root = path.join(scratch.dir, name);
    mkdirSync(path.join(root, 'net'), { recursive: true });
    mkdirSync(path.join(root, '812/fd'), { recursive: true });
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    writeFileSync(
      path.join(root, 'net/tcp'),
      `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:${hexPort} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 90812 1 0000000000000000 100 0 0 10 0\n`,
    );
    writeFileSync(path.join(root, 'net/tcp6'), '  sl  local_address remote_address st\n');
    symlinkSync('socket:[90812]', path.join(root, '812/fd/7'));
    symlinkSync('/dev/null', path.join(root, '812/fd/0'));
    writeFileSync(path.join(root, '812/comm'), `${proc.comm}\n`);
    writeFileSync(path.join(root, '812/cmdline'), proc.argv.map((a) => `${a}\0`).join(''));
    writeFileSync(path.join(root, '812/cgroup'), cgroup);
    return root;
  }

  it('names the systemd unit that holds the port the container needs', async () => {
    const port = await serve('127.0.0.1');
    const root = procTree(
      'proc-unit',
      port,
      '12:pids:/system.slice/forgetrace-backend.service\n1:name=systemd:/system.slice/forgetrace-backend.service\n0::/system.slice/forgetrace-backend.service\n',
    );
    const rec = await portCheck(`port: ${port}\nproc_root: ${root}\nowner: { container: forgetrace-backend }`);
    expect(rec.result.status).toBe('fail');
    expect(rec.result.reason).toBe(
      `127.0.0.1:${port} is held by uvicorn (pid 812, unit forgetrace-backend.service), expected container forgetrace-backend`,
    );
    expect(rec.result.hint).toBe(
      `127.0.0.1:${port} is held by uvicorn (pid 812, unit forgetrace-backend.service), expected container forgetrace-backend — stop and disable that unit (systemctl disable --now forgetrace-backend.service), then restart container forgetrace-backend so it can bind the port.`,
    );
    expect(rec.result.details.owner).toEqual({
      pid: 812,
      process: 'uvicorn',
      cmdline: `/opt/forgetrace/venv/bin/python3 /opt/forgetrace/venv/bin/uvicorn app.main:app --port ${port}`,
      unit: 'forgetrace-backend.service',
      container: null,
    });

    const byUnit = await portCheck(`port: ${port}\nproc_root: ${root}\nowner: { unit: forgetrace-backend }`);
    expect(byUnit.result.status).toBe('ok');
  });

  it('reads a container id from a Docker cgroup path', async () => {
    const port = await serve('127.0.0.1');
    const id = 'ab'.repeat(32);
    const root = procTree('proc-docker', port, `0::/system.slice/docker-${id}.scope\n`);
    const rec = await portCheck(
      `port: ${port}\nproc_root: ${root}\nsocket: ${path.join(scratch.dir, 'no-engine.sock')}\nowner: { container: ${id.slice(0, 12)} }`,
    );
    expect(rec.result.status).toBe('ok');
    // With no engine to ask for the name, the short id stands in.
    expect((rec.result.details.owner as JsonObject).container).toBe(id.slice(0, 12));
    expect((rec.result.details.owner as JsonObject).unit).toBeNull();
  });

  it('does not call the right container the wrong owner when the engine cannot name it', async () => {
    const port = await serve('127.0.0.1');
    const id = 'cd'.repeat(32);
    const missing = path.join(scratch.dir, 'no-engine-by-name.sock');
    const root = procTree('proc-docker-unnamed', port, `0::/system.slice/docker-${id}.scope\n`);
    const rec = await portCheck(
      `port: ${port}\nproc_root: ${root}\nsocket: ${missing}\nowner: { container: forgetrace-backend }`,
    );
    expect(rec.result.status).toBe('warn');
    expect(rec.result.reason).toBe(
      `127.0.0.1:${port} is listening, but its owner could not be determined (expected container forgetrace-backend)`,
    );
    expect(rec.result.details.owner_note).toBe(
      `uvicorn (pid 812) runs in container ${id.slice(0, 12)}, but the engine could not name it (docker socket ${missing} not found)`,
    );
    expect(rec.result.hint).toMatch(/Point `socket:` at the engine/);
    expect(rec.result.details).not.toHaveProperty('owner_ok');
    expect(rec.result.observations.map((o) => o.metric)).not.toContain('forgewatch_port_owner_ok');

    // What can be read without the engine still counts: the process is not the one expected.
    const wrongProcess = await portCheck(
      `port: ${port}\nproc_root: ${root}\nsocket: ${missing}\nowner: { container: forgetrace-backend, process: gunicorn }`,
    );
    expect(wrongProcess.result.status).toBe('fail');
    expect(wrongProcess.result.details.owner_ok).toBe(false);
  });

  it('matches a process started through its interpreter by the name of its script or module', async () => {
    const port = await serve('127.0.0.1');
    const root = procTree('proc-python-m', port, '0::/user.slice\n', {
      comm: 'python3',
      argv: ['python3', '-m', 'uvicorn', 'app.main:app', '--log-config=/etc/forgetrace/log.ini'],
    });
    const asModule = await portCheck(`port: ${port}\nproc_root: ${root}\nowner: { process: uvicorn }`);
    expect(asModule.result.status).toBe('ok');
    expect(asModule.result.reason).toBe(`127.0.0.1:${port} listening, held by python3 -m uvicorn (pid 812)`);
    // Exact names only: not a part of an argument, not the file an option points at.
    for (const other of ['app', 'log.ini', 'uvicor']) {
      const rec = await portCheck(`port: ${port}\nproc_root: ${root}\nowner: { process: ${other} }`);
      expect(rec.result.status, other).toBe('fail');
    }
  });
});

describe('the discovered default config', () => {
  it('adds one port check per listening port, once across addresses', async () => {
    // The default keeps the lowest ports: the test's port must be low, or a busy machine would crowd it out.
    const port = await lowestFreePort();
    await listen(net.createServer(), '127.0.0.1', port).then((s) => servers.push(s));
    await listen(net.createServer(), '::1', port).then((s) => servers.push(s));
    const ports = await describeListeners(readListenersSync());
    const discovery = { sources: [], proposals: propose({ ports }), remarks: [] };
    const config = parseConfig(defaultConfigText({ host: '127.0.0.1', port: 9464 }, discovery), '(discovered)');
    const mine = config.checks.filter((c) => c.name === `port-${port}`);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ type: 'port', port, expect: 'listening' });
    expect(config.checks.filter((c) => c.type === 'port').length).toBeLessThanOrEqual(50);
  });
});

describe('steady listeners', () => {
  it('proposes a listener only once two scans saw it, so one that came and went is left out', async () => {
    const steady = new SteadyListeners();
    const kept = await listen(net.createServer(), '127.0.0.1', 0);
    const brief = await listen(net.createServer(), '127.0.0.1', 0);
    servers.push(kept);
    expect(steady.scan()).toEqual([]);
    await brief.close();
    const seen = steady.scan().map((l) => l.port);
    expect(seen).toContain(kept.port);
    expect(seen).not.toContain(brief.port);
  });
});

describe('the default port checks on a machine with hundreds of listeners', () => {
  it('keeps the 50 lowest distinct listening ports, without its own or ports that only connect', async () => {
    const scratch = tempDir('forgewatch-default-ports-');
    try {
      mkdirSync(path.join(scratch.dir, 'net'));
      const row = (i: number, local: string, state: string) =>
        `  ${i}: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 ${1000 + i} 1 0000000000000000 100 0 0 10 0`;
      const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
      const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
      // 300 listeners from port 40300 down to 40001, in no particular order; every tenth also on ::1.
      const ports = Array.from({ length: 300 }, (_, i) => 40001 + ((i * 7) % 300));
      const v4 = ports.map((p, i) => row(i, `0100007F:${hex(p)}`, '0A'));
      // An established connection from a low port is no listener.
      v4.push(row(300, `0100007F:${hex(1500)}`, '01'));
      const v6 = ports
        .filter((p) => p % 10 === 0)
        .map((p, i) => row(i, `00000000000000000000000001000000:${hex(p)}`, '0A'));
      writeFileSync(path.join(scratch.dir, 'net', 'tcp'), `${header}\n${v4.join('\n')}\n`);
      writeFileSync(path.join(scratch.dir, 'net', 'tcp6'), `${header}\n${v6.join('\n')}\n`);
      const found = await describeListeners(readListenersSync(scratch.dir), scratch.dir);
      // As serve asks discovery: its own port left out.
      const discovery = {
        sources: [],
        proposals: propose({ ports: found.filter((p) => p.port !== 40002) }),
        remarks: [],
      };
      const checks = parseConfig(
        defaultConfigText({ host: '127.0.0.1', port: 40002 }, discovery),
        'default.yaml',
      ).checks.filter((c) => c.type === 'port');
      expect(checks.map((c) => c.name)).toEqual([
        'port-40001',
        ...Array.from({ length: 49 }, (_, i) => `port-${40003 + i}`),
      ]);
      expect(checks[0]).toMatchObject({ type: 'port', port: 40001, expect: 'listening' });
    } finally {
      void scratch.cleanup();
    }
  });
});
