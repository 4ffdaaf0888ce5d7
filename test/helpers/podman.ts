/**
 * A private podman engine per test file: its own storage and run dirs in a temp dir, runc, a busybox
 * image imported from a tarball (no pulls), and the Docker-compatible API on a unix socket.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir, waitFor } from './service.js';

const run = promisify(execFile);
export const BUSYBOX_IMAGE = 'localhost/forgewatch-busybox';

export interface Podman {
  dir: string;
  socket: string;
  /** Runs the podman CLI against this engine; returns stdout trimmed. */
  cli(args: string[]): Promise<string>;
  /** `podman run -d` with host networking and host ulimits; returns the container id. */
  runContainer(name: string, args: string[], command: string[]): Promise<string>;
  close(): Promise<void>;
}

const CONTAINERS_CONF = `[containers]
default_ulimits = []
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

export async function startPodman(): Promise<Podman> {
  const { dir, cleanup } = tempDir('forgewatch-podman-');
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, CONTAINERS_CONF);
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const globals = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--tmpdir', path.join(dir, 'tmp'), '--storage-driver', 'vfs', '--runtime', 'runc'];
  const cli = async (args: string[]) => (await run('podman', [...globals, ...args], { env, timeout: 30_000 })).stdout.trim();

  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  symlinkSync('busybox', path.join(rootfs, 'bin/sh'));
  await run('tar', ['-C', rootfs, '-cf', path.join(dir, 'busybox.tar'), '.']);
  await cli(['import', '--change', 'CMD ["/bin/sh"]', path.join(dir, 'busybox.tar'), BUSYBOX_IMAGE]);

  const socket = path.join(dir, 'podman.sock');
  const service: ChildProcess = spawn('podman', [...globals, 'system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore' });
  await waitFor(() => existsSync(socket), 15_000);

  const names = new Set<string>();
  return {
    dir,
    socket,
    cli,
    async runContainer(name, args, command) {
      names.add(name);
      return cli(['run', '-d', '--name', name, '--network', 'host', '--ulimit', 'host', ...args, BUSYBOX_IMAGE, ...command]);
    },
    async close() {
      if (names.size > 0) await cli(['rm', '-f', '-t', '0', ...names]).catch(() => undefined);
      await new Promise<void>((resolve) => {
        if (service.exitCode !== null) return resolve();
        service.once('exit', () => resolve());
        service.kill('SIGTERM');
      });
      await cleanup().catch(() => undefined);
    },
  };
}
