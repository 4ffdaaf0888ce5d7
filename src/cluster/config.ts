/**
 * The `cluster:` block: several forgewatch nodes acting as one, coordinated through etcd. Without it forgewatch
 * runs alone. The password is a secret: it is never part of an error, a log line or describeCluster().
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { duration, filePath } from '../config/fields.js';

/** etcd leases count whole seconds, and etcd refuses TTLs shorter than about two election timeouts. */
const MIN_LEASE_TTL_MS = 2_000;

const endpoint = z.string().refine((v) => /^https?:\/\/[^/\s]+\/?$/.test(v), {
  message: 'expected an etcd client URL such as http://10.0.0.5:2379 or https://etcd-0.etcd:2379',
});

/** Names a node in etcd keys and in alerts: letters, digits, dot, dash and underscore. */
const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
  message: 'expected a node name of letters, digits, ".", "-" or "_" (at most 63), such as web-1',
});

const etcdSchema = z
  .object({
    endpoints: z.array(endpoint).min(1, { message: 'list at least one etcd endpoint' }),
    prefix: z
      .string()
      .regex(/^\/[^\s]*$/, { message: 'expected a key prefix starting with "/", such as /forgewatch/' })
      // A trailing slash keeps /forgewatch/ and /forgewatch2/ apart.
      .transform((p) => (p.endsWith('/') ? p : `${p}/`))
      .default('/forgewatch/'),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    tls: z
      .object({ ca_file: filePath.optional(), cert_file: filePath.optional(), key_file: filePath.optional() })
      .strict()
      .refine((t) => !!t.cert_file === !!t.key_file, {
        message: 'cert_file and key_file go together (a client certificate needs its key)',
      })
      .optional(),
  })
  .strict()
  .refine((e) => !!e.username === !!e.password, { message: 'username and password go together' });

export const clusterSchema = z
  .object({
    etcd: etcdSchema,
    node: nodeName.default(() => hostname().split('.')[0] || 'forgewatch'),
    location: nodeName.default('default'),
    lease_ttl: duration
      .refine((ms) => ms >= MIN_LEASE_TTL_MS, { message: 'must be at least 2s (etcd leases are whole seconds)' })
      .transform((ms) => Math.ceil(ms / 1000) * 1000)
      .default(10_000),
  })
  .strict();

export type ClusterConfig = z.output<typeof clusterSchema>;

/** The cluster settings as they may be shown or logged: every field but the password. */
export function describeCluster(c: ClusterConfig): Record<string, unknown> {
  return {
    endpoints: c.etcd.endpoints,
    prefix: c.etcd.prefix,
    ...(c.etcd.username ? { username: c.etcd.username, password: '[redacted]' } : {}),
    tls: !!c.etcd.tls,
    node: c.node,
    location: c.location,
    lease_ttl_ms: c.lease_ttl,
  };
}
