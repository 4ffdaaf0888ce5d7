/** What a request becomes hop by hop: credentials from the URL, and what a redirect keeps or drops. */
import { ProbeFailure } from './failure.js';

export const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

/** Headers that carry credentials: never sent on to another origin (as curl and fetch do). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
/** Headers that describe the request body: gone with the body when a redirect turns the method into GET. */
const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'transfer-encoding',
]);

export interface HttpRequest {
  /** As configured or redirected to, credentials included (print it with redactUrl). */
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

/** The URL with its password replaced by *** ("https://user:***@host/"), for anything shown or stored. */
export function redactUrl(url: URL | string): string {
  if (typeof url === 'string') {
    if (!URL.canParse(url)) return url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
    return redactUrl(new URL(url));
  }
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

function without(headers: Record<string, string>, names: ReadonlySet<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.has(k.toLowerCase())));
}

/** user:pass@ in a URL becomes Basic auth, unless the check sets its own Authorization header. */
function withUrlCredentials(url: URL, headers: Record<string, string>): Record<string, string> {
  if (!url.username && !url.password) return headers;
  if (hasHeader(headers, 'authorization')) return headers;
  const token = Buffer.from(`${decode(url.username)}:${decode(url.password)}`).toString('base64');
  return { ...headers, authorization: `Basic ${token}` };
}

export function firstRequest(check: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
}): HttpRequest {
  const url = new URL(check.url);
  return { url, method: check.method, headers: withUrlCredentials(url, check.headers), body: check.body ?? null };
}

const BAD_LOCATION_HINT =
  'The server redirects to a URL that cannot be followed: fix the Location header the application or proxy builds (often a wrong base URL or scheme setting), or set follow_redirects: false and assert the redirect itself.';

/** The request a redirect leads to; throws a ProbeFailure for a Location that cannot be followed. */
export function redirectRequest(current: HttpRequest, status: number, location: string): HttpRequest {
  if (!URL.canParse(location, current.url.href)) {
    throw new ProbeFailure({
      reason: `redirect to an invalid Location ${JSON.stringify(location)} from ${redactUrl(current.url)}`,
      hint: BAD_LOCATION_HINT,
    });
  }
  const url = new URL(location, current.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProbeFailure({
      reason: `redirect to unsupported scheme ${url.protocol} (${redactUrl(url)}) from ${redactUrl(current.url)}`,
      hint: `forgewatch follows only http:// and https:// redirects. ${BAD_LOCATION_HINT}`,
    });
  }
  let headers = url.origin === current.url.origin ? current.headers : without(current.headers, CREDENTIAL_HEADERS);
  let { method, body } = current;
  // RFC 9110 15.4: 303 turns anything but GET and HEAD into GET; 301 and 302 do so for POST (as browsers do).
  if (
    (status === 303 && method !== 'GET' && method !== 'HEAD') ||
    ((status === 301 || status === 302) && method === 'POST')
  ) {
    method = 'GET';
    body = null;
    headers = without(headers, BODY_HEADERS);
  }
  return { url, method, headers: withUrlCredentials(url, headers), body };
}
