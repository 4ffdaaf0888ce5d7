/** One JSON POST with a deadline and a capped response read; only a 2xx counts as accepted. */
import { request } from 'undici';
import { abortedMessage, DeliveryError, parseRetryAfter, permanentHttpStatus } from './errors.js';

const MAX_ERROR_BODY = 512;

/**
 * `what` names the receiver in errors; the URL itself is never put in a message (it may hold a token), and the
 * caller scrubs the URL's parts from the response body it quotes.
 */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  what: string,
): Promise<void> {
  let res;
  try {
    res = await request(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
      signal,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    if (signal.aborted) throw new DeliveryError(abortedMessage(signal, what));
    throw new DeliveryError(`${what} unreachable${code ? ` (${code})` : ''}`);
  }
  let text = '';
  try {
    for await (const chunk of res.body) {
      if (text.length < MAX_ERROR_BODY) text += String(chunk);
      else break;
    }
  } catch {
    // The status line already came: a body cut short (or our deadline during it) does not change the verdict.
  }
  const status = res.statusCode;
  if (status >= 200 && status <= 299) return;
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
  throw new DeliveryError(
    `${what} answered HTTP ${status}${text.trim() ? `: ${text.trim().slice(0, MAX_ERROR_BODY)}` : ''}`,
    {
      permanent: permanentHttpStatus(status),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  );
}
