/**
 * ${VAR}, ${VAR:-default} and ${file:path} in forgewatch.yaml. Runs on the parsed document, so every
 * problem keeps its position, and a failed reference does not stop the rest of the file being checked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, parseDocument, Scalar, visit, type Document, type Node } from 'yaml';

export type PathSegment = string | number;

export function formatPath(segments: readonly PathSegment[]): string {
  return segments.reduce<string>(
    (out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg),
    '',
  );
}

export interface Interpolation {
  problems: Array<{ node: Node; path: PathSegment[]; message: string }>;
  /** Values that were exactly one reference and read as a number or boolean, with their text, keyed by formatPath. */
  typed: Map<string, string>;
  /** Keys whose whole value was a reference that came out empty ("${X:-}"): treated as not set. */
  emptied: Map<string, { path: PathSegment[]; ref: string }>;
  /** Paths where a reference failed: other problems there would only repeat it. */
  failed: Set<string>;
}

const REFERENCE = /\$?\$\{([^}]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([^}]*)\}$/;

/** Replaces references in place; "$${" keeps a literal "${". Relative ${file:...} paths resolve against baseDir. */
export function interpolate(doc: Document, env: NodeJS.ProcessEnv, baseDir: string): Interpolation {
  const out: Interpolation = { problems: [], typed: new Map(), emptied: new Map(), failed: new Set() };
  visit(doc, {
    Scalar(_key, node, ancestry) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const p = pathOf(ancestry, node);
      let ok = true;
      const resolve = (ref: string): string => {
        const value = resolveReference(ref, env, baseDir);
        if (typeof value === 'string') return value;
        ok = false;
        out.problems.push({ node, path: p, message: value.error });
        return '';
      };
      const text = node.value;
      const whole = WHOLE_REFERENCE.exec(text);
      const value = text.replace(REFERENCE, (match, ref: string) =>
        match.startsWith('$$') ? match.slice(1) : resolve(ref),
      );
      node.value = value;
      const key = formatPath(p);
      if (!ok) out.failed.add(key);
      const parent = ancestry[ancestry.length - 1];
      const isValue = isPair(parent) ? parent.value === node : isSeq(parent);
      // Only an unquoted value that is one reference stands for a YAML value; quoted text stays text.
      if (!ok || !whole || node.type !== Scalar.PLAIN || !isValue) return;
      if (value.trim() === '') {
        if (isPair(parent)) out.emptied.set(key, { path: p, ref: text });
        return;
      }
      const typed = asTyped(value);
      if (typed !== undefined) {
        out.typed.set(key, value);
        node.value = typed;
      }
    },
  });
  return out;
}

function resolveReference(ref: string, env: NodeJS.ProcessEnv, baseDir: string): string | { error: string } {
  if (ref.startsWith('file:')) {
    const file = path.resolve(baseDir, ref.slice(5));
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      return {
        error: `cannot read ${file} for \${${ref}}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      };
    }
  }
  const sep = ref.indexOf(':-');
  const name = sep < 0 ? ref : ref.slice(0, sep);
  const value = env[name];
  // As in the shell, ":-" also covers a variable that is set but empty.
  if (sep >= 0) return value ? value : ref.slice(sep + 2);
  if (value === undefined)
    return { error: `environment variable ${name} is not set (use \${${name}:-} to make it optional)` };
  return value;
}

/**
 * A number or boolean as YAML would read the text, but only when it reads back the same: "8" and
 * "true" are typed, while "0123", "1e5" or "0x10" (a password, say) stay text rather than change.
 */
function asTyped(text: string): number | boolean | undefined {
  const node = parseDocument(text).contents;
  if (!isScalar(node)) return undefined;
  const v = node.value;
  return (typeof v === 'number' || typeof v === 'boolean') && String(v) === text ? v : undefined;
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
