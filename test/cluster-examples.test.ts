import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { clusterSchema } from '../src/cluster/config.js';

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
