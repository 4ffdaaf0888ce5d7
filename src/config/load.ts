/**
 * Reads forgewatch.yaml: YAML with positions, ${VAR} / ${file:...} interpolation, validation per check
 * type, and semantic checks (unique names, dependencies). Every problem names file:line:col and key path.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { probeKinds } from '../probes/index.js';
import type { ResolvedCommon } from './fields.js';
import { withBaseDir } from './fields.js';
import { topLevelSchema, type TopLevel } from './schema.js';

export type PathSegment = string | number;
export type CheckConfig = ResolvedCommon & { readonly [key: string]: unknown };

export interface Config extends Omit<TopLevel, 'checks'> {
  /** The file it came from, or "(embedded default)". */
  source: string;
  checks: CheckConfig[];
  /** A stable text per check; a changed one means the check's run memory is reset on reload. */
  fingerprints: Map<string, string>;
}

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

export function formatPath(segments: readonly PathSegment[]): string {
  return segments.reduce<string>((out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg), '');
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, line: 1, col: 1, path: '', message: `cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, baseDir = path.dirname(path.resolve(file))): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number, p: readonly PathSegment[], message: string): ConfigProblem => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col, path: formatPath(p), message };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => at(e.pos[0], [], `YAML syntax: ${e.message.split('\n')[0]}`)));
  }
  const problems: ConfigProblem[] = [];
  interpolate(doc, env, (node, p, message) => problems.push(at(node.range?.[0] ?? 0, p, message)));
  if (problems.length > 0) throw new ConfigError(problems);

  const raw: unknown = doc.toJS() ?? {};
  const report = (p: readonly PathSegment[], message: string, pointAtKey = false) =>
    problems.push(at(offsetOf(doc, p, pointAtKey), p, message));

  const top = withBaseDir(baseDir, () => validate(topLevelSchema, raw, [], report));
  if (!top) throw new ConfigError(problems);
  // A container image sets FORGEWATCH_STATE_DIR to its volume: the config's own folder is often read-only there.
  if ((raw as { state_dir?: unknown }).state_dir === undefined && env.FORGEWATCH_STATE_DIR) top.state_dir = path.resolve(env.FORGEWATCH_STATE_DIR);

  const checks: CheckConfig[] = [];
  const fingerprints = new Map<string, string>();
  const rawChecks = (raw as { checks?: unknown[] }).checks ?? [];
  top.checks.forEach((entry, i) => {
    const type = entry.type;
    const kind = typeof type === 'string' ? probeKinds[type as keyof typeof probeKinds] : undefined;
    if (!kind) {
      const known = Object.keys(probeKinds).join(', ');
      report(['checks', i, 'type'], type === undefined ? `required key is missing (one of ${known})` : `unknown check type ${JSON.stringify(type)}, expected one of ${known}`);
      return;
    }
    const parsed = withBaseDir(baseDir, () => validate(kind.schema, entry, ['checks', i], report)) as Record<string, unknown> | undefined;
    if (!parsed) return;
    if (parsed.interval !== undefined && parsed.schedule !== undefined) {
      report(['checks', i, 'schedule'], 'set either interval or schedule, not both');
    }
    const check = resolveCommon(parsed, top.defaults);
    if (fingerprints.has(check.name)) {
      report(['checks', i, 'name'], `duplicate check name ${JSON.stringify(check.name)}`);
      return;
    }
    fingerprints.set(check.name, JSON.stringify(rawChecks[i]));
    checks.push(check);
  });
  checkDependencies(checks, (checkIndex, depIndex, message) => report(['checks', checkIndex, 'depends_on', depIndex], message));
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...top, source: file, checks, fingerprints };
}

function resolveCommon(parsed: Record<string, unknown>, defaults: TopLevel['defaults']): CheckConfig {
  return {
    ...parsed,
    name: parsed.name as string,
    type: parsed.type as string,
    interval: (parsed.interval as number | undefined) ?? defaults.interval,
    timeout: (parsed.timeout as number | undefined) ?? defaults.timeout,
    failure_threshold: (parsed.failure_threshold as number | undefined) ?? defaults.failure_threshold,
    success_threshold: (parsed.success_threshold as number | undefined) ?? defaults.success_threshold,
    depends_on: (parsed.depends_on as string[] | undefined) ?? [],
    labels: (parsed.labels as Record<string, string> | undefined) ?? {},
  };
}

/** Every depends_on names a configured check, and the graph has no cycle. */
function checkDependencies(checks: CheckConfig[], report: (checkIndex: number, depIndex: number, message: string) => void): void {
  const index = new Map(checks.map((c, i) => [c.name, i]));
  checks.forEach((c, i) =>
    c.depends_on.forEach((dep, j) => {
      if (!index.has(dep)) report(i, j, `depends on ${JSON.stringify(dep)}, which is not a configured check`);
      else if (dep === c.name) report(i, j, 'a check cannot depend on itself');
    }),
  );
  const state = new Map<string, 'visiting' | 'done'>();
  const visitCheck = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const i = index.get(name) as number;
      const cycle = [...trail.slice(trail.indexOf(name)), name].join(' -> ');
      const next = trail[trail.indexOf(name) + 1];
      report(i, Math.max(0, checks[i]?.depends_on.indexOf(next ?? '') ?? 0), `dependency cycle: ${cycle}`);
      return;
    }
    state.set(name, 'visiting');
    const i = index.get(name);
    for (const dep of i === undefined ? [] : (checks[i]?.depends_on ?? [])) if (index.has(dep) && dep !== name) visitCheck(dep, [...trail, name]);
    state.set(name, 'done');
  };
  for (const c of checks) visitCheck(c.name, []);
}

function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: PathSegment[],
  report: (p: PathSegment[], message: string, pointAtKey?: boolean) => void,
): z.output<S> | undefined {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const p = [...prefix, ...(issue.path as PathSegment[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) report([...p, key], `unknown key ${JSON.stringify(key)}`, true);
    } else {
      report(p, describeIssue(issue));
    }
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  const got = input === undefined ? '' : `, got ${typeof input === 'string' ? JSON.stringify(input) : Array.isArray(input) ? 'a list' : typeof input === 'object' && input !== null ? 'a map' : String(input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return input === undefined ? 'required key is missing' : `expected ${issue.expected === 'object' ? 'a map' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}${got}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}${got}`;
    case 'invalid_union':
      return `invalid value${got}`;
    case 'too_small':
      return `must be at least ${String(issue.minimum)}${issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : ''}${got}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}${got}`;
    case 'invalid_format':
      return issue.format === 'regex' ? `${issue.message}${got}` : `expected a ${issue.format}${got}`;
    default:
      return issue.message;
  }
}

/** Replaces ${VAR} and ${file:/path} in string scalars; "$${" keeps a literal "${". */
function interpolate(doc: Document, env: NodeJS.ProcessEnv, report: (node: Node, p: PathSegment[], message: string) => void): void {
  visit(doc, {
    Scalar(_key, node, ancestry) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const p = pathOf(ancestry, node);
      node.value = node.value.replace(/\$?\$\{([^}]*)\}/g, (match, ref: string) => {
        if (match.startsWith('$$')) return match.slice(1);
        if (ref.startsWith('file:')) {
          const secretPath = ref.slice(5);
          try {
            return readFileSync(secretPath, 'utf8').replace(/\r?\n$/, '');
          } catch (err) {
            report(node, p, `cannot read ${secretPath} for \${${ref}}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
            return '';
          }
        }
        const value = env[ref];
        if (value === undefined) report(node, p, `environment variable ${ref} is not set`);
        return value ?? '';
      });
    },
  });
}

function pathOf(ancestry: readonly unknown[], leaf: unknown): PathSegment[] {
  const segments: PathSegment[] = [];
  const chain = [...ancestry, leaf];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) segments.push(parent.items.indexOf(child as never));
    else if (isMap(parent) && child && typeof child === 'object' && 'key' in child) {
      const key = (child as { key: unknown }).key;
      segments.push(isScalar(key) ? String(key.value) : String(key));
    }
  }
  return segments;
}

/** The source offset of the node at a path; the deepest existing ancestor when the key is missing. */
function offsetOf(doc: Document, p: readonly PathSegment[], pointAtKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  for (const [i, seg] of p.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      const last = i === p.length - 1;
      const target = last && pointAtKey ? pair.key : (pair.value ?? pair.key);
      offset = (target as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (!item) break;
      offset = (item as Node).range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}
