/**
 * Replaces secret values (tokens, passwords, secret URLs, resolved ${...} references) in text forgewatch writes
 * or shows. A value is replaced whole: a short one only where it stands as a word of its own, so a channel named
 * "hook" whose URL path is "/hook" does not turn "webhook" into "web[redacted]"; a long one (12 characters or
 * more) wherever it occurs, since no ordinary word contains it by chance.
 */
const REDACTED = '[redacted]';

/** Values shorter than this are not secrets worth the damage of replacing them everywhere (e.g. "1", "on"). */
const MIN_SECRET = 4;
const ANYWHERE = 12;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  private readonly pattern: RegExp | undefined;
  readonly values: readonly string[];

  constructor(secrets: Iterable<string>) {
    // Longest first, so a whole URL is replaced before the path inside it.
    this.values = [...new Set([...secrets].filter((s) => s.length >= MIN_SECRET))].sort((a, b) => b.length - a.length);
    const alternatives = this.values.map((s) =>
      s.length >= ANYWHERE ? escapeRegExp(s) : `(?<![A-Za-z0-9])${escapeRegExp(s)}(?![A-Za-z0-9])`,
    );
    this.pattern = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'g') : undefined;
  }

  text(text: string): string {
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }

  /** A copy of a JSON-like value with every string redacted (keys too: a header name can be a token). */
  value<T>(v: T): T {
    if (!this.pattern) return v;
    return this.walk(v) as T;
  }

  private walk(v: unknown): unknown {
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.walk(x));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.text(k)] = this.walk(x);
      return out;
    }
    return v;
  }
}

export function redact(text: string, secrets: readonly string[]): string {
  return new Redactor(secrets).text(text);
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The parts of a URL that may carry a token: the whole URL, its user info, its path (Slack's token is the
 * path), its query and token-like path segments. A receiver that echoes the request in its error body would
 * otherwise put them in our logs and outbox files.
 */
export function urlSecrets(url: string, opts: { wholePath?: boolean } = {}): string[] {
  if (!URL.canParse(url)) return [url];
  const u = new URL(url);
  const out = [url, u.href];
  for (const part of [u.username, u.password]) if (part) out.push(part, decoded(part));
  if (u.pathname.length > 1) {
    // The path with its slash: "/hook" is a secret, the word "hook" (or "webhook") is not. Left out where the
    // text redacted is a check's own result, whose URLs may share a short path with a channel's.
    if (opts.wholePath !== false) out.push(u.pathname, decoded(u.pathname));
    for (const seg of u.pathname.split('/'))
      if (seg.length >= 20 || (seg.length >= 6 && /\d/.test(seg))) out.push(seg, decoded(seg));
  }
  if (u.search.length > 1) {
    out.push(u.search, u.search.slice(1), decoded(u.search.slice(1)));
    for (const v of u.searchParams.values()) out.push(v);
  }
  return out;
}
