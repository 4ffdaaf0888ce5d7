/**
 * Places that see the network differently, for real: network namespaces joined to the host by a bridge
 * (addresses from 198.18.0.0/15, the benchmarking range), and a target address that only the namespaces given a
 * route to it can reach. Cutting a place off is deleting its route: its connections fail as on a network with
 * no path there. Needs root (CI runs as root) and iproute2.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function ip(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('ip', args, { timeout: 10_000 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`ip ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    ),
  );
}

export interface Place {
  name: string;
  /** The namespace the place's processes run in. */
  netns: string;
  /** The place's address on the bridge (where its node's API answers). */
  address: string;
}

export interface NetLab {
  /** The host's address on the bridge: servers every place reaches (etcd, a webhook receiver). */
  hostAddress: string;
  /** The target's address: reached from the host and from the places with a route to it. */
  targetAddress: string;
  /** Another address every place reaches (a second server: another load balancer, an old host). */
  otherAddress: string;
  /** Writes the place's /etc/hosts (`ip netns exec` mounts /etc/netns/<ns>/hosts): before its processes start. */
  hosts(place: string, lines: string[]): void;
  /** Points the place's resolver at `nameserver` (/etc/netns/<ns>/resolv.conf): before its processes start. */
  resolver(place: string, nameserver: string): void;
  places: Place[];
  /** Takes the place's route to the target away, or gives it back. */
  cut(place: string): Promise<void>;
  restore(place: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** One namespace per name, each with a route to the target; unique per process so test runs never collide. */
export async function startNetLab(names: string[]): Promise<NetLab> {
  const id = 100 + (process.pid % 100);
  const bridge = `fwbr${id}`;
  const hostAddress = `198.18.${id}.1`;
  const targetAddress = `198.19.${id}.1`;
  const otherAddress = `198.19.${id}.2`;
  const places: Place[] = names.map((name, i) => ({
    name,
    netns: `fw${id}-${name}`,
    address: `198.18.${id}.${10 + i}`,
  }));
  const lab: NetLab = {
    hostAddress,
    targetAddress,
    otherAddress,
    places,
    hosts(name, lines) {
      const dir = path.join('/etc/netns', place(name).netns);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'hosts'), `127.0.0.1 localhost\n${lines.join('\n')}\n`);
    },
    resolver(name, nameserver) {
      const dir = path.join('/etc/netns', place(name).netns);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${nameserver}\noptions timeout:1 attempts:2\n`);
    },
    cut: (name) => ip(['netns', 'exec', place(name).netns, 'ip', 'route', 'del', `${targetAddress}/32`]),
    restore: (name) =>
      ip(['netns', 'exec', place(name).netns, 'ip', 'route', 'add', `${targetAddress}/32`, 'via', hostAddress]),
    async cleanup() {
      for (const p of places) {
        await ip(['netns', 'del', p.netns]).catch(() => undefined);
        rmSync(path.join('/etc/netns', p.netns), { recursive: true, force: true });
      }
      await ip(['link', 'del', bridge]).catch(() => undefined);
      await ip(['addr', 'del', `${targetAddress}/32`, 'dev', 'lo']).catch(() => undefined);
      await ip(['addr', 'del', `${otherAddress}/32`, 'dev', 'lo']).catch(() => undefined);
    },
  };
  const place = (name: string) => {
    const p = places.find((x) => x.name === name);
    if (!p) throw new Error(`no place ${name}`);
    return p;
  };
  await lab.cleanup(); // left over by a killed run with the same id
  try {
    await ip(['link', 'add', bridge, 'type', 'bridge']);
    await ip(['addr', 'add', `${hostAddress}/24`, 'dev', bridge]);
    await ip(['link', 'set', bridge, 'up']);
    await ip(['addr', 'add', `${targetAddress}/32`, 'dev', 'lo']);
    await ip(['addr', 'add', `${otherAddress}/32`, 'dev', 'lo']);
    for (const [i, p] of places.entries()) {
      const outside = `fw${id}v${i}`;
      const inside = `fw${id}p${i}`;
      await ip(['netns', 'add', p.netns]);
      await ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      await ip(['link', 'set', inside, 'netns', p.netns]);
      await ip(['link', 'set', outside, 'master', bridge, 'up']);
      const inNs = (args: string[]) => ip(['netns', 'exec', p.netns, 'ip', ...args]);
      await inNs(['addr', 'add', `${p.address}/24`, 'dev', inside]);
      await inNs(['link', 'set', inside, 'up']);
      await inNs(['link', 'set', 'lo', 'up']);
      await lab.restore(p.name);
      await inNs(['route', 'add', `${otherAddress}/32`, 'via', hostAddress]);
    }
  } catch (err) {
    await lab.cleanup();
    throw err;
  }
  return lab;
}
