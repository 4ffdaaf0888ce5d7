import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { clusterSchema } from '../src/cluster/config.js';
import { parseConfig } from '../src/config/load.js';

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown> & {
    replicas?: number;
    template?: { spec: { containers: Array<Record<string, unknown>> } };
  };
  data?: Record<string, string>;
}

const manifests = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Manifest);

describe('examples/kubernetes', () => {
  it('runs three forgewatch nodes named by pod beside a three-member etcd they point at', () => {
    const etcd = manifests('examples/kubernetes/etcd.yaml');
    const fw = manifests('examples/kubernetes/forgewatch.yaml');
    const etcdSet = etcd.find((m) => m.kind === 'StatefulSet');
    expect(etcdSet?.spec?.replicas).toBe(3);
    expect(etcd.find((m) => m.kind === 'Service')?.metadata.name).toBe(etcdSet?.metadata.name);
    const fwSet = fw.find((m) => m.kind === 'StatefulSet');
    expect(fwSet?.spec?.replicas).toBe(3);
    expect(fwSet?.spec?.volumeClaimTemplates).toBeDefined();
    const container = fwSet?.spec?.template?.spec.containers[0];
    expect(JSON.stringify(container?.env)).toContain('metadata.name');
    const config = parse(fw.find((m) => m.kind === 'ConfigMap')?.data?.['forgewatch.yaml'] as string) as {
      cluster: unknown;
    };
    const cluster = clusterSchema.parse({ ...(config.cluster as object), node: 'forgewatch-0' });
    expect(cluster.etcd.endpoints).toEqual([0, 1, 2].map((i) => `http://etcd-${i}.etcd:2379`));
  });
});

describe('examples/compose', () => {
  it('has three forgewatch nodes with their own names and state volumes, and a three-member etcd', () => {
    const compose = parse(readFileSync('examples/compose/docker-compose.yml', 'utf8')) as {
      services: Record<string, { command: string[]; environment?: Record<string, string>; volumes: string[] }>;
    };
    const names = Object.keys(compose.services);
    expect(names.filter((n) => n.startsWith('etcd-'))).toHaveLength(3);
    const nodes = names.filter((n) => n.startsWith('forgewatch-'));
    expect(nodes).toHaveLength(3);
    expect(new Set(nodes.map((n) => compose.services[n]?.environment?.FORGEWATCH_NODE)).size).toBe(3);
    expect(new Set(nodes.map((n) => compose.services[n]?.volumes[1])).size).toBe(3);
    const initial = compose.services['etcd-0']?.command.find((a) => a.startsWith('--initial-cluster='));
    expect(initial?.split(',')).toHaveLength(3);
    const config = parse(readFileSync('examples/compose/forgewatch.yaml', 'utf8')) as { cluster: object };
    expect(clusterSchema.parse({ ...config.cluster, node: 'forgewatch-0' }).etcd.endpoints).toHaveLength(3);
  });
});

describe('examples/vantage', () => {
  it('is one config for the VPS and the node at home, whose checks run from both places', () => {
    const text = readFileSync('examples/vantage/forgewatch.yaml', 'utf8');
    const env = { FORGEWATCH_NODE: 'home-1', FORGEWATCH_LOCATION: 'home', ETCD_PASSWORD: 'secret' };
    const config = parseConfig(text, 'forgewatch.yaml', env, '/etc/forgewatch');
    expect(config.cluster?.location).toBe('home');
    const located = Object.fromEntries(config.checks.map((c) => [c.name, [c.locations, c.quorum]]));
    expect(located).toEqual({
      'api-origin': [['fra'], 1],
      'api-public': [['fra', 'home'], 2],
      'api-cert': [['fra', 'home'], 2],
    });
    const compose = parse(readFileSync('examples/vantage/compose.yaml', 'utf8')) as {
      services: { forgewatch: { environment: Record<string, string>; volumes: string[] } };
    };
    expect(compose.services.forgewatch.environment).toMatchObject({
      FORGEWATCH_NODE: 'home-1',
      FORGEWATCH_LOCATION: 'home',
    });
    expect(compose.services.forgewatch.volumes).toContain('./forgewatch.yaml:/etc/forgewatch/forgewatch.yaml:ro');
  });
});
