/** One JSON POST with a deadline and a capped response read; only a 2xx counts as accepted. */
import { request } from 'undici';

const MAX_ERROR_BODY = 512;

/** `what` names the receiver in errors; the URL itself is never put in a message (it may hold a token). */
export async function postJson(url: string, body: string, headers: Record<string, string>, signal: AbortSignal, what: string): Promise<void> {
  let res;
  try {
    res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    if (signal.aborted) throw new Error(`${what} did not answer in time`);
    throw new Error(`${what} unreachable${code ? ` (${code})` : ''}`);
  }
  let text = '';
  for await (const chunk of res.body) {
    if (text.length < MAX_ERROR_BODY) text += String(chunk);
    else break;
  }
  if (res.statusCode < 200 || res.statusCode > 299) {
    throw new Error(`${what} answered HTTP ${res.statusCode}${text.trim() ? `: ${text.trim().slice(0, MAX_ERROR_BODY)}` : ''}`);
  }
}
