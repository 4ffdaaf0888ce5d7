/** Expands a file glob (`*`, `?`, `[...]` within one path segment), as /etc/letsencrypt/live/STAR/fullchain.pem needs. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const WILDCARD = /[*?[]/;

export function hasWildcard(pattern: string): boolean {
  return WILDCARD.test(pattern);
}

function segmentRegex(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) source += '\\[';
      else {
        const body = segment
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  // Like a shell, a wildcard does not match a leading dot.
  return new RegExp(`^(?!\\.)${source}$`);
}

/** Matching paths, sorted; at most `limit`. A pattern without wildcards is returned as is, existing or not. */
export async function expandGlob(pattern: string, limit = 500): Promise<string[]> {
  if (!hasWildcard(pattern)) return [pattern];
  const absolute = path.resolve(pattern);
  const segments = absolute.split(path.sep).slice(1);
  let current = [path.parse(absolute).root];
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      if (!hasWildcard(segment)) {
        next.push(path.join(dir, segment));
        continue;
      }
      const re = segmentRegex(segment);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!re.test(e.name)) continue;
        if (!last && !e.isDirectory() && !e.isSymbolicLink()) continue;
        next.push(path.join(dir, e.name));
      }
    }
    current = next.sort().slice(0, limit);
    if (current.length === 0) break;
  }
  const exists = await Promise.all(
    current.map((p) =>
      stat(p).then(
        () => true,
        () => false,
      ),
    ),
  );
  return current.filter((_, i) => exists[i]);
}
