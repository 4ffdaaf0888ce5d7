/**
 * ${VAR}, ${VAR:-default} and ${file:path} in forgewatch.yaml. Runs on the parsed document, so every
 * problem keeps its position, and a failed reference does not stop the rest of the file being checked.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
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
  /** Keys whose value came from references, with the text as written ("${FW_MC}"): errors name that, never the value. */
  sources: Map<string, { written: string; value: string }>;
  /** Resolved values that are secrets (see isSecretReference): redacted from everything forgewatch writes or shows. */
  secrets: Set<string>;
}

/** A ${file:} reference holds a token or a password, a few bytes: a larger file is a mistake (or an attack). */
export const MAX_FILE_REFERENCE_BYTES = 64 * 1024;
/** Kernel views: never configuration, and /proc/self/environ would put the environment into errors and logs. */
const FORBIDDEN_ROOTS = ['/proc/', '/sys/', '/dev/'];
const SECRET_NAME = /pass|secret|token|key|auth|cookie|credential|webhook|dsn|signature|private|session/i;

/**
 * Which resolved references are secrets: every ${file:} (files hold tokens and keys), and an environment variable
 * whose name, or the key it fills, says secret (SMTP_PASSWORD, headers.Authorization, webhook_url, token, ...).
 */
function isSecretReference(ref: string, p: readonly PathSegment[]): boolean {
  if (ref.startsWith('file:')) return true;
  const name = ref.split(':-')[0] ?? '';
  return (
    SECRET_NAME.test(name) || p.some((seg) => typeof seg === 'string' && (SECRET_NAME.test(seg) || seg === 'headers'))
  );
}

const REFERENCE = /\$?\$\{([^}]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([^}]*)\}$/;

/** Replaces references in place; "$${" keeps a literal "${". Relative ${file:...} paths resolve against baseDir. */
export function interpolate(doc: Document, env: NodeJS.ProcessEnv, baseDir: string): Interpolation {
  const out: Interpolation = {
    problems: [],
    typed: new Map(),
    emptied: new Map(),
    failed: new Set(),
    sources: new Map(),
    secrets: new Set(),
  };
  visit(doc, {
    Scalar(_key, node, ancestry) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const p = pathOf(ancestry, node);
      let ok = true;
      const resolve = (ref: string): string => {
        const value = resolveReference(ref, env, baseDir);
        if (typeof value === 'string') {
          if (isSecretReference(ref, p) && value.trim() !== '') out.secrets.add(value);
          return value;
        }
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
      else if (value !== text) out.sources.set(key, { written: text, value });
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
    const text = readReferencedFile(file, `\${${ref}}`);
    return typeof text === 'string' ? text.replace(/\r?\n$/, '') : text;
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
 * Reads a regular file of at most MAX_FILE_REFERENCE_BYTES. Opened non-blocking and checked on the open descriptor,
 * so a FIFO (or a file swapped for one) cannot hang a reload, and /dev/zero cannot grow the process without bound.
 */
function readReferencedFile(file: string, written: string): string | { error: string } {
  let real: string;
  let fd: number | undefined;
  try {
    real = realpathSync(file);
    if (FORBIDDEN_ROOTS.some((root) => real.startsWith(root)))
      return { error: `${written}: ${file} is under /${real.split('/')[1]}: only regular files are read` };
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { error: `${written}: ${file} is not a regular file` };
    if (stat.size > MAX_FILE_REFERENCE_BYTES)
      return {
        error: `${written}: ${file} is ${stat.size} bytes, over the ${MAX_FILE_REFERENCE_BYTES / 1024} KiB limit`,
      };
    const buffer = Buffer.alloc(MAX_FILE_REFERENCE_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_FILE_REFERENCE_BYTES)
      return { error: `${written}: ${file} grew past the ${MAX_FILE_REFERENCE_BYTES / 1024} KiB limit while read` };
    return buffer.subarray(0, length).toString('utf8');
  } catch (err) {
    return {
      error: `cannot read ${file} for ${written}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
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
