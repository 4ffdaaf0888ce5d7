/**
 * Reads forgewatch.yaml: YAML with positions, ${VAR} / ${file:...} interpolation, validation per check
 * type, and semantic checks (unique names, dependencies). Every problem names file:line:col and key path.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { probeKinds } from '../probes/index.js';
import type { ResolvedCommon } from './fields.js';
import { checkName, withBaseDir } from './fields.js';
import { formatPath, interpolate, type PathSegment } from './interpolate.js';
import { topLevelSchema, type TopLevel } from './schema.js';
import { Redactor } from '../util/redact.js';
import { configSecrets } from './secrets.js';
import { checkDependencies, type DependencyNode } from './dependencies.js';
import { validate, type Report } from './validate.js';
import { yamlSyntaxProblems } from './yaml-syntax.js';

export type CheckConfig = ResolvedCommon & { readonly [key: string]: unknown };

export interface Config extends Omit<TopLevel, 'checks'> {
  /** The file it came from, or "(discovered on this machine)" for the default. */
  source: string;
  checks: CheckConfig[];
  /** A stable text per check; a changed one means the check's run memory is reset on reload. */
  fingerprints: Map<string, string>;
  /** Secret values to redact from everything forgewatch writes or shows (see secrets.ts). */
  secrets?: readonly string[];
}

/** Aliases (*name) a config may expand; a few are normal (shared defaults), thousands are an attack. */
const MAX_ALIAS_COUNT = 100;

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  /** The name of the check the path points into (`checks[i]`), when it has a valid one. */
  check?: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    // In file order, so the list reads top to bottom like the file.
    const sorted = [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
    super(sorted.map(formatProblem).join('\n'));
    this.problems = sorted;
    this.name = 'ConfigError';
  }
}

function formatProblem(p: ConfigProblem): string {
  // People know their checks by name, not by position: checks[2] (api-public).expect.status[0].
  const where = p.check ? p.path.replace(/^checks\[\d+\]/, (index) => `${index} (${p.check})`) : p.path;
  return `${p.file}:${p.line}:${p.col} ${where ? `${where}: ` : ''}${p.message}`;
}

/** The name of the check a path points into, when the file gives it a valid one. */
function checkNameAt(doc: Document, p: readonly PathSegment[]): string | undefined {
  if (p[0] !== 'checks' || typeof p[1] !== 'number') return undefined;
  const name: unknown = doc.getIn(['checks', p[1], 'name']);
  return typeof name === 'string' && checkName.safeParse(name).success ? name : undefined;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      {
        file,
        line: 1,
        col: 1,
        path: '',
        message: `cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      },
    ]);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir = path.dirname(path.resolve(file)),
): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number, p: readonly PathSegment[], message: string): ConfigProblem => {
    const { line, col } = lineCounter.linePos(offset);
    const check = checkNameAt(doc, p);
    return { file, line, col, path: formatPath(p), message, ...(check ? { check } : {}) };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(yamlSyntaxProblems(text, doc.errors).map((e) => at(e.offset, [], e.message)));
  }
  // Every problem in the file is collected in one pass: fixing one should not reveal the next only then.
  const problems: ConfigProblem[] = [];
  const refs = interpolate(doc, env, baseDir);
  for (const p of refs.problems) problems.push(at(p.node.range?.[0] ?? 0, p.path, p.message));

  const referencedSecrets = new Redactor(refs.secrets);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // The yaml library refuses documents whose aliases expand exponentially ("billion laughs").
    throw new ConfigError([
      at(0, [], `YAML aliases expand too far (${(err as Error).message.split('\n')[0]}): refused`),
    ]);
  }
  for (const { path: p } of refs.emptied.values()) deleteAt(raw, p);
  const report: Report = (p, message, pointAtKey = false) => {
    const key = formatPath(p);
    // A value whose reference failed is reported once, for the reference.
    if ([...refs.failed].some((f) => key === f || key.startsWith(`${f}.`) || key.startsWith(`${f}[`))) return;
    const emptied = message === 'required key is missing' ? refs.emptied.get(key) : undefined;
    const shown = hideReferenced(message, refs.sources.get(key), referencedSecrets);
    problems.push(
      at(
        offsetOf(doc, p, pointAtKey || emptied !== undefined),
        p,
        emptied ? `${shown} (${emptied.ref} is empty)` : shown,
      ),
    );
  };

  const { top, entries } = withBaseDir(baseDir, () => gatherConfig(raw, env, report, refs.typed));
  for (const { path: p, message } of judgeChecks(entries)) report(p, message);
  if (problems.length > 0 || !top) throw new ConfigError(problems);
  const checks: CheckConfig[] = [];
  const fingerprints = new Map<string, string>();
  for (const { parsed, raw: entry } of entries) {
    if (!parsed) continue;
    // A digest rather than the JSON itself: ten thousand checks' JSON stayed in memory for the service's whole life.
    fingerprints.set(parsed.name as string, createHash('sha256').update(JSON.stringify(entry)).digest('base64'));
    checks.push(resolveCommon(parsed, top.defaults));
  }
  const secrets = configSecrets({ referenced: refs.secrets, token: top.server.token, checks, alerts: top.alerts });
  return { ...top, source: file, checks, fingerprints, secrets };
}

/**
 * A config error never shows a value that came from a reference (it may be a file's or a variable's content, such
 * as a password put in the wrong key): it names the reference as written instead, and secrets are redacted anyway.
 */
function hideReferenced(message: string, source: { written: string; value: string } | undefined, secrets: Redactor) {
  let out = message;
  if (source) {
    const named = `${source.written} (value not shown)`;
    out = out.split(JSON.stringify(source.value)).join(named);
    if (source.value.length >= 4) out = out.split(source.value).join(named);
  }
  return secrets.text(out);
}

/** One entry of the checks list as read: what validation made of it, and the name and dependencies it claims. */
interface CheckEntry {
  index: number;
  raw: Record<string, unknown>;
  /** Undefined when the entry has mistakes (already reported). */
  parsed: Record<string, unknown> | undefined;
  /** A check with mistakes still takes part in the name and dependency checks, so those are reported now too. */
  name: string | undefined;
  dependsOn: string[];
}

/** Validates the top level and each check by its type; every schema problem goes to `report`. */
function gatherConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  report: Report,
  typed: ReadonlyMap<string, string>,
): { top: TopLevel | undefined; entries: CheckEntry[] } {
  const top = validate(topLevelSchema, raw, [], report, typed);
  // A container image sets FORGEWATCH_STATE_DIR to its volume: the config's own folder is often read-only there.
  if (top && (raw as { state_dir?: unknown }).state_dir === undefined && env.FORGEWATCH_STATE_DIR)
    top.state_dir = path.resolve(env.FORGEWATCH_STATE_DIR);
  const rawChecks = isPlainMap(raw) && Array.isArray(raw.checks) ? (raw.checks as unknown[]) : [];
  const entries: CheckEntry[] = [];
  rawChecks.forEach((entry, i) => {
    if (!isPlainMap(entry)) return; // the top-level schema reported it
    const type = entry.type;
    const kind = typeof type === 'string' ? probeKinds[type] : undefined;
    const parsed = kind
      ? (validate(kind.schema, entry, ['checks', i], report, typed) as Record<string, unknown> | undefined)
      : undefined;
    if (!kind) {
      const known = Object.keys(probeKinds).join(', ');
      report(
        ['checks', i, 'type'],
        type === undefined
          ? `required key is missing (one of ${known})`
          : `unknown check type ${JSON.stringify(type)}, expected one of ${known}`,
      );
      validate(z.object({ name: checkName }), entry, ['checks', i], report, typed);
    }
    const name = parsed
      ? (parsed.name as string)
      : checkName.safeParse(entry.name).success
        ? (entry.name as string)
        : undefined;
    const dependsOn = parsed ? (parsed.depends_on as string[] | undefined) : entry.depends_on;
    entries.push({
      index: i,
      raw: entry,
      parsed,
      name,
      dependsOn: Array.isArray(dependsOn) ? dependsOn.map(String) : [],
    });
  });
  return { top, entries };
}

interface Problem {
  path: PathSegment[];
  message: string;
}

/** What is wrong with one check among the others, beyond its own schema: each row looks at one thing. */
const CHECK_RULES: ReadonlyArray<(entry: CheckEntry, namedBefore: ReadonlySet<string>) => Problem | undefined> = [
  (e, namedBefore) =>
    e.name !== undefined && namedBefore.has(e.name)
      ? { path: ['checks', e.index, 'name'], message: `duplicate check name ${JSON.stringify(e.name)}` }
      : undefined,
  (e) =>
    e.parsed?.interval !== undefined && e.parsed.schedule !== undefined
      ? { path: ['checks', e.index, 'schedule'], message: 'set either interval or schedule, not both' }
      : undefined,
];

/** The problems between checks: the rules above per check, then the dependency graph of the named ones. */
function judgeChecks(entries: readonly CheckEntry[]): Problem[] {
  const problems: Problem[] = [];
  const graph: DependencyNode[] = [];
  const named = new Set<string>();
  for (const entry of entries) {
    for (const rule of CHECK_RULES) {
      const problem = rule(entry, named);
      if (problem) problems.push(problem);
    }
    if (entry.name !== undefined && !named.has(entry.name)) {
      named.add(entry.name);
      graph.push({ index: entry.index, name: entry.name, dependsOn: entry.dependsOn });
    }
  }
  checkDependencies(graph, (checkIndex, depIndex, message) =>
    problems.push({ path: ['checks', checkIndex, 'depends_on', depIndex], message }),
  );
  return problems;
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deleteAt(root: unknown, p: readonly PathSegment[]): void {
  let node = root;
  for (const seg of p.slice(0, -1))
    node = isPlainMap(node) || Array.isArray(node) ? (node as Record<PathSegment, unknown>)[seg] : undefined;
  if (isPlainMap(node)) delete node[p[p.length - 1] as string];
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
    ...(Array.isArray(parsed.locations)
      ? { quorum: (parsed.quorum as number | undefined) ?? (parsed.locations as string[]).length }
      : {}),
  };
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
