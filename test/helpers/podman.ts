/**
 * A private podman engine per test file: its own storage and run dirs in a temp dir, runc, a busybox
 * image imported from a tarball (no pulls), and the Docker-compatible API on a unix socket.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir, waitFor } from './service.js';

const run = promisify(execFile);
export const BUSYBOX_IMAGE = 'localhost/forgewatch-busybox';

export interface Podman {
  dir: string;
  socket: string;
  /** Runs the podman CLI against this engine's API service; returns stdout trimmed. */
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

/**
 * Runs its arguments as a child and reaps every orphan below it until that child and its descendants
 * are gone (at most 10 s after the child). conmon double-forks away from podman, so without a
 * subreaper each container start leaves a defunct conmon under a PID 1 that never reaps (as on CI).
 * Perl because Node cannot call prctl(PR_SET_CHILD_SUBREAPER) and perl-base is always on Debian.
 */
const REAPER = `
use POSIX ();
my %prctl = (x86_64 => 157, aarch64 => 167);
my $nr = $prctl{(POSIX::uname())[4]};
syscall($nr, 36, 1, 0, 0, 0) if defined $nr;
my $main = fork() // die "fork: $!";
if (!$main) { exec @ARGV or die "exec: $!" }
$SIG{TERM} = sub { kill 'TERM', $main };
my $until;
while (1) {
  my $w = waitpid(-1, defined $until ? POSIX::WNOHANG() : 0);
  if ($w < 0) { next if $!{EINTR}; last }
  $until = time + 10 if $w == $main;
  if (defined $until && $w == 0) { last if time > $until; select(undef, undef, undef, 0.1) }
}
`;

/** Removes a dir a just-stopped podman may still write into (a late `container cleanup`): retry until it stays gone. */
async function removeForGood(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(dir)) return;
  }
}

export async function startPodman(): Promise<Podman> {
  const { dir } = tempDir('forgewatch-podman-');
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, CONTAINERS_CONF);
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const globals = [
    '--root',
    path.join(dir, 'root'),
    '--runroot',
    path.join(dir, 'run'),
    '--tmpdir',
    path.join(dir, 'tmp'),
    '--storage-driver',
    'vfs',
    '--runtime',
    'runc',
  ];
  const local = async (args: string[]) =>
    (await run('podman', [...globals, ...args], { env, timeout: 30_000 })).stdout.trim();

  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  symlinkSync('busybox', path.join(rootfs, 'bin/sh'));
  await run('tar', ['-C', rootfs, '-cf', path.join(dir, 'busybox.tar'), '.']);
  await local(['import', '--change', 'CMD ["/bin/sh"]', path.join(dir, 'busybox.tar'), BUSYBOX_IMAGE]);

  const socket = path.join(dir, 'podman.sock');
  const service: ChildProcess = spawn(
    'perl',
    ['-e', REAPER, 'podman', ...globals, 'system', 'service', '--time=0', `unix://${socket}`],
    { env, stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => {
    if (service.exitCode !== null) resolve();
    else service.once('exit', () => resolve());
  });
  await waitFor(() => existsSync(socket), 15_000);
  // Through the service, so every conmon is started below the reaper rather than by a short-lived CLI.
  const cli = async (args: string[]) =>
    (await run('podman', ['--remote', '--url', `unix://${socket}`, ...args], { env, timeout: 30_000 })).stdout.trim();

  return {
    dir,
    socket,
    cli,
    async runContainer(name, args, command) {
      return cli([
        'run',
        '-d',
        '--name',
        name,
        '--network',
        'host',
        '--ulimit',
        'host',
        ...args,
        BUSYBOX_IMAGE,
        ...command,
      ]);
    },
    async close() {
      await cli(['rm', '--all', '--force', '-t', '0']).catch(() => undefined);
      if (service.exitCode === null) service.kill('SIGTERM');
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 20_000)),
      ]);
      if (!stopped) service.kill('SIGKILL');
      await removeForGood(dir);
    },
  };
}
