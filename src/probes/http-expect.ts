/** Checks an HTTP response against the `expect:` block; returns the first failure, or undefined. */
import { formatDuration } from '../util/format.js';
import type { Explained } from '../net/explain.js';
import { MatchTimeout, testPattern } from '../util/regex-worker.js';
import type { HttpCheck } from './http.js';
import { redactUrl } from './http-redirect.js';

interface Response {
  /** Where the response came from: the check's URL, or where its redirects led. */
  url: URL;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const STATUS_HINTS: Record<number, string> = {
  502: "The proxy (e.g. nginx) is up but its upstream is not answering: the backend container is down or restarting, or the proxy points at the wrong port. Check docker ps and the backend's local health URL.",
  503: 'The service is unavailable: the upstream is down, overloaded, or in maintenance. If a proxy answered, check the backend behind it.',
  504: "The proxy gave up waiting for the upstream: the backend is hung or too slow. Check its logs and the proxy's upstream timeouts.",
  404: 'The path does not exist: check the health URL, and whether the proxy strips or adds a path prefix (location /api/ with proxy_pass http://backend/).',
  401: 'Authentication is required: add the needed header to the check.',
  403: 'Access is forbidden: an allow-list, WAF or auth rule blocks the checker.',
  500: 'The application failed while answering: look at its logs for the exception.',
};

/** Deeper JSON is refused unparsed: comparing it would exhaust the stack, and no health document nests so deep. */
const MAX_JSON_DEPTH = 1000;

/** A failed expectation; `code` is its failure class (which expectation failed, not by how much). */
export interface Verdict extends Explained {
  code: string;
}

const SLOW_PATTERN_HINT =
  'The pattern backtracks too much on this response (nested quantifiers such as (a+)+ or (.*)* take exponential time on text that almost matches): rewrite it without nested repetition, or use body_contains.';

/**
 * Runs the checks in order; patterns are matched off the main thread under `signal` (the run's deadline), so a
 * hostile body cannot stall anything but its own check.
 */
export async function evaluateExpectations(
  check: HttpCheck,
  res: Response,
  totalMs: number,
  signal: AbortSignal,
): Promise<Verdict | undefined> {
  const matches = async (pattern: RegExp, text: string, what: string): Promise<boolean | Verdict> => {
    try {
      return await testPattern(pattern, text, signal);
    } catch (err) {
      if (!(err instanceof MatchTimeout)) throw err;
      return {
        reason: `${what} /${pattern.source}/ was still matching when the check's timeout ran out (${formatDuration(err.elapsedMs)})`,
        hint: SLOW_PATTERN_HINT,
        code: 'pattern_too_slow',
      };
    }
  };
  const { expect } = check;
  // A redirect to another origin may lead to a service the check does not own (an internal one, say): its
  // answer is named but never quoted, so a target cannot get another service's body into reasons and alerts.
  const foreign = res.url.origin !== new URL(check.url).origin ? redactUrl(res.url) : undefined;
  const excerpt = (text: string) => (foreign ? ` (from ${foreign}, not quoted)` : quote(text));
  if (!expect.status.some(([from, to]) => res.status >= from && res.status <= to)) {
    const wanted = expect.status.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(' or ');
    const location = typeof res.headers.location === 'string' ? ` to ${redactUrl(res.headers.location)}` : '';
    const redirectHint =
      res.status >= 300 && res.status < 400
        ? `The server redirects${location}; set follow_redirects: true to follow it, or expect ${res.status} to assert the redirect itself.`
        : undefined;
    const hint =
      STATUS_HINTS[res.status] ??
      redirectHint ??
      (res.status >= 500 ? 'The server reports an internal error: check the application logs.' : undefined);
    const status = foreign ? `redirected to ${foreign}, which answered ${res.status}` : `status ${res.status}`;
    return { reason: `${status}, expected ${wanted}`, ...(hint ? { hint } : {}), code: 'http_status' };
  }
  const text = expect.body_contains !== undefined || expect.body_regex || expect.json ? res.body.toString('utf8') : '';
  if (expect.body_contains !== undefined && !text.includes(expect.body_contains)) {
    return {
      reason: `body does not contain ${JSON.stringify(expect.body_contains)}${excerpt(text)}`,
      hint: 'The endpoint answered but not with the expected content: a default page, an error page from a proxy, or a changed health format.',
      code: 'body_mismatch',
    };
  }
  if (expect.body_regex) {
    const matched = await matches(expect.body_regex, text, 'body_regex');
    if (typeof matched === 'object') return matched;
    if (!matched)
      return { reason: `body does not match /${expect.body_regex.source}/${excerpt(text)}`, code: 'body_mismatch' };
  }
  if (expect.json) {
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      return {
        reason: `body is JSON nested deeper than ${MAX_JSON_DEPTH} levels; not parsed`,
        hint: 'A health document is a few levels deep: this endpoint answers with something else (a generated or hostile body). Check what it serves.',
        code: 'body_not_json',
      };
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return {
        reason: `body is not JSON${excerpt(text)}`,
        hint: 'Expected a JSON health document; got something else (an HTML error page from a proxy?).',
        code: 'body_not_json',
      };
    }
    for (const [path, wanted] of Object.entries(expect.json)) {
      const actual = dig(doc, path);
      if (!sameValue(actual, wanted)) {
        return {
          reason: `json ${path} is ${actual === undefined ? 'missing' : JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`,
          code: 'json_mismatch',
        };
      }
    }
  }
  for (const [name, pattern] of Object.entries(expect.header ?? {})) {
    const raw = res.headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (value === undefined)
      return { reason: `header ${name} is missing, expected /${pattern.source}/`, code: 'header_mismatch' };
    const matched = await matches(pattern, value, `header ${name}`);
    if (typeof matched === 'object') return matched;
    if (!matched)
      return {
        reason: `header ${name} is ${JSON.stringify(value)}, expected /${pattern.source}/`,
        code: 'header_mismatch',
      };
  }
  if (expect.max_response_time !== undefined && totalMs > expect.max_response_time) {
    return {
      reason: `response took ${formatDuration(totalMs)}, more than ${formatDuration(expect.max_response_time)}`,
      hint: 'The service answers but slowly: look at its load, its database, and the phase timings (dns, connect, tls, ttfb) to see where the time goes.',
      code: 'slow_response',
    };
  }
  return undefined;
}

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine
    ? ` (got: ${JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 80)}…` : oneLine)})`
    : ' (empty body)';
}

/** True when brackets outside strings nest deeper than `max`; a linear scan, before any parsing. */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function dig(doc: unknown, path: string): unknown {
  let node = doc;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function sameValue(actual: unknown, wanted: unknown): boolean {
  if (actual === wanted) return true;
  if (typeof wanted === 'object' || typeof actual === 'object')
    return JSON.stringify(actual) === JSON.stringify(wanted);
  return false;
}
