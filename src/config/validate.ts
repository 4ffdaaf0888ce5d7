/** Runs a zod schema over a piece of the config and turns its issues into plain-language problems. */
import type { z } from 'zod';
import { closestMatch } from '../util/closest.js';
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
        const known = knownKeysAt(schema, value, issue.path as PathSegment[]);
        for (const key of issue.keys) report([...p, key], unknownKeyMessage(key, known), true);
      } else {
        report(p, describeIssue(issue), issue.code === 'invalid_key');
      }
    }
    return undefined;
  }
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closestMatch(key, known);
  return `unknown key ${JSON.stringify(key)}${guess ? ` — did you mean ${JSON.stringify(guess)}?` : ''}`;
}

/** The parts of a zod schema's definition this walk reads; zod's own types for them are internal. */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  value?: unknown;
  values?: unknown[];
}

const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The object schemas `schema` may be for `value`: wrappers unwrapped; of a union, the options whose literals it matches. */
function objectSchemas(schema: z.ZodType, value: unknown): Array<Record<string, z.ZodType>> {
  const def = defOf(schema);
  if (def.type === 'object' && def.shape) return [def.shape];
  const inner = def.innerType ?? def.in;
  // A pipe is a check ahead of the real shape (its output side), or a transform of what came in.
  if (inner) {
    const shapes = def.out ? objectSchemas(def.out, value) : [];
    return shapes.length > 0 ? shapes : objectSchemas(inner, value);
  }
  if (def.type !== 'union' || !def.options) return [];
  const all = def.options.flatMap((o) => objectSchemas(o, value));
  const fitting = all.filter((shape) =>
    Object.entries(shape).every(([k, field]) => {
      const literal = defOf(field);
      if (literal.type !== 'literal') return true;
      const given = (value as Record<string, unknown> | undefined)?.[k];
      return (literal.values ?? [literal.value]).includes(given);
    }),
  );
  return fitting.length > 0 ? fitting : all;
}

/** The keys the schema knows for the map at `rel` inside `value`, for suggesting one in place of a typo. */
function knownKeysAt(schema: z.ZodType, value: unknown, rel: readonly PathSegment[]): string[] {
  let candidates: Array<{ schema: z.ZodType; value: unknown }> = [{ schema, value }];
  for (const seg of rel) {
    candidates = candidates.flatMap(({ schema: s, value: v }) => {
      const child = (v as Record<PathSegment, unknown> | undefined)?.[seg];
      const def = unwrap(s);
      if (def.type === 'array' && def.element) return [{ schema: def.element, value: child }];
      if (def.type === 'record' && def.valueType) return [{ schema: def.valueType, value: child }];
      return objectSchemas(s, v).flatMap((shape) => {
        const field = shape[String(seg)];
        return field ? [{ schema: field, value: child }] : [];
      });
    });
  }
  return [
    ...new Set(candidates.flatMap((c) => objectSchemas(c.schema, c.value).flatMap((shape) => Object.keys(shape)))),
  ];
}

/** The list or map a wrapped schema stands for (optional, default, pipe...), or the schema itself. */
function unwrap(schema: z.ZodType): SchemaDef {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  if (!inner || def.type === 'object') return def;
  const output = def.out ? unwrap(def.out) : undefined;
  return output && (output.type === 'array' || output.type === 'record') ? output : unwrap(inner);
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
