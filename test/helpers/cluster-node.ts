/**
 * A fleet member in a process of its own, so a test can kill -9 it for real (closing a client in the test process
 * leaves its gRPC streams, and so its lease renewals, running). Run as the built file:
 * node dist/test/helpers/cluster-node.js '{"etcd":{...},"node":"web-1",...}' ADDRESS
 * It prints one JSON line per event: registered, members, leader, coordination, error.
 */
import { clusterSchema } from '../../src/cluster/config.js';
import { createEtcdClient } from '../../src/cluster/etcd.js';
import { Membership } from '../../src/cluster/membership.js';

const config = clusterSchema.parse(JSON.parse(process.argv[2] as string));
const client = await createEtcdClient(config);
const membership = new Membership({ client, config, address: process.argv[3] as string, configHash: 'h' });
const say = (event: string, data: unknown) => process.stdout.write(JSON.stringify({ event, data }) + '\n');
membership.on('members', (list) =>
  say(
    'members',
    list.map((m) => m.name),
  ),
);
membership.on('leader', (l) => say('leader', l));
membership.on('coordination', (c) => say('coordination', c));
membership.start().then(
  () => say('registered', config.node),
  (err: Error) => (say('error', err.message), process.exit(2)),
);
