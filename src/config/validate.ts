/** Runs a zod schema over a piece of the config and turns its issues into plain-language problems. */
import type { z } from 'zod';
import { formatPath, type PathSegment } from './interpolate.js';

export type Report = (p: PathSegment[], message: string, pointAtKey?: boolean) => void;

const MAP_SHAPE = 'a map of key: value pairs (one "key: value" per indented line, or { key: value })';

/**
 * Validates `value` (found at `prefix`) and reports every issue. `typed` holds values that came from a
 * lone ${...} and were read as a number or boolean: where the schema wants text there, the text is used.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: PathSegment[],
  report: Report,
  typed: ReadonlyMap<string, string>,
): z.output<S> | undefined {
  const retried = new Set<string>();
  for (;;) {
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) return result.data;
    let again = false;
    for (const issue of result.error.issues) {
      const rel = issue.path as PathSegment[];
      const key = formatPath([...prefix, ...rel]);
      const text = typed.get(key);
      if (
        (issue.code !== 'invalid_type' && issue.code !== 'invalid_union') ||
        text === undefined ||
        retried.has(key) ||
        rel.length === 0
      )
        continue;
      setAt(value, rel, text);
      retried.add(key);
      again = true;
    }
    if (again) continue;
    for (const issue of result.error.issues) {
      const p = [...prefix, ...(issue.path as PathSegment[])];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) report([...p, key], `unknown key ${JSON.stringify(key)}`, true);
      } else {
        report(p, describeIssue(issue), issue.code === 'invalid_key');
      }
    }
    return undefined;
  }
}

function setAt(root: unknown, rel: readonly PathSegment[], value: unknown): void {
  let node = root as Record<PathSegment, unknown>;
  for (const seg of rel.slice(0, -1)) node = node[seg] as Record<PathSegment, unknown>;
  node[rel[rel.length - 1] as PathSegment] = value;
}

function shown(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input);
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object' && input !== null) return 'a map';
  return String(input);
}

function expectedName(expected: string): string {
  if (expected === 'object' || expected === 'record') return MAP_SHAPE;
  if (expected === 'array') return 'a list';
  return `a ${expected}`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  const got = input === undefined ? '' : `, got ${shown(input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return input === undefined ? 'required key is missing' : `expected ${expectedName(issue.expected)}${got}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}${got}`;
    case 'invalid_union': {
      const kinds = [
        ...new Set(
          issue.errors.flat().flatMap((e) => (e.code === 'invalid_type' && e.path.length === 0 ? [e.expected] : [])),
        ),
      ];
      return kinds.length === issue.errors.length
        ? `expected ${kinds.map(expectedName).join(' or ')}${got}`
        : `invalid value${got}`;
    }
    case 'invalid_key': {
      // A schema may say itself what a valid key looks like (see labelMap); zod's own text says nothing.
      if (issue.message !== 'Invalid key in record') return issue.message;
      const inner = issue.issues[0];
      return `invalid key ${shown(input)}${inner ? `: ${describeIssue({ ...inner, input: undefined } as z.core.$ZodIssue)}` : ''}`;
    }
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
