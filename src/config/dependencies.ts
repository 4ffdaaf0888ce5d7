/** The checks' depends_on graph: every dependency names a configured check, and there is no cycle. */
export interface DependencyNode {
  /** Position in the file's checks list. */
  index: number;
  name: string;
  dependsOn: string[];
}

/** Every depends_on names a configured check, and the graph has no cycle. */
export function checkDependencies(
  nodes: DependencyNode[],
  report: (checkIndex: number, depIndex: number, message: string) => void,
): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const n of nodes) {
    n.dependsOn.forEach((dep, j) => {
      if (!byName.has(dep)) report(n.index, j, `depends on ${JSON.stringify(dep)}, which is not a configured check`);
      else if (dep === n.name) report(n.index, j, 'a check cannot depend on itself');
    });
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visitCheck = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    const node = byName.get(name);
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name].join(' -> ');
      const next = trail[trail.indexOf(name) + 1];
      if (node) report(node.index, Math.max(0, node.dependsOn.indexOf(next ?? '')), `dependency cycle: ${cycle}`);
      return;
    }
    state.set(name, 'visiting');
    for (const dep of node?.dependsOn ?? []) if (byName.has(dep) && dep !== name) visitCheck(dep, [...trail, name]);
    state.set(name, 'done');
  };
  for (const n of nodes) visitCheck(n.name, []);
}
