/**
 * What the API answers when a request goes wrong: a plain message for the client's own mistakes, and for
 * anything else `{ "error": "internal error" }` with the details in the log only, because an error's
 * message and stack can name files of the installation.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../log.js';

/** The fields body-parser and http-errors put on the errors they raise. */
interface HttpError extends Error {
  status?: number;
  statusCode?: number;
  type?: string;
  limit?: number;
}

/** The client-side status (4xx) an error carries, if any. */
export function clientErrorStatus(err: unknown): number | undefined {
  const status = (err as HttpError | undefined)?.status ?? (err as HttpError | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/** Says what was wrong with the request in words of our own, never the parser's internals. */
export function clientErrorMessage(err: HttpError, status: number): string {
  switch (err.type) {
    case 'entity.too.large':
      return `request body is larger than ${err.limit ?? 'the limit'} bytes`;
    case 'entity.parse.failed':
      return 'request body is not valid JSON';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'request body must be JSON in UTF-8, without a content encoding';
    case 'request.aborted':
    case 'request.size.invalid':
      return 'request body ended before its announced length';
    default:
      break;
  }
  if (err instanceof URIError) return 'the request path is not valid percent-encoding';
  return status === 413 ? 'request body too large' : 'bad request';
}

/** The last middleware: nothing after it may leak an error's message or stack to the client. */
export function apiErrorHandler(logger: Logger | undefined) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const status = clientErrorStatus(err);
    if (status !== undefined) {
      if (!res.headersSent) res.status(status).json({ error: clientErrorMessage(err as HttpError, status) });
      return;
    }
    const error = err instanceof Error ? err : new Error(String(err));
    logger?.error(
      { event: 'api_error', method: req.method, path: req.path, error: error.message, stack: error.stack },
      `${req.method} ${req.path} failed: ${error.message}`,
    );
    // Half an answer was sent already: cut the connection so the client sees it as broken, not complete.
    if (res.headersSent) req.socket.destroy();
    else res.status(500).json({ error: 'internal error' });
  };
}

/**
 * For routes that take no body: an empty POST passes; any body is refused before a byte of it is read, and
 * the connection closes after the answer so the rest of the body is never waited for.
 */
export const refuseBody: RequestHandler = (req, res, next) => {
  const length = Number(req.get('content-length') ?? 0);
  const chunked = req.get('transfer-encoding') !== undefined;
  if (!chunked && length === 0) return next();
  res
    .status(413)
    .set('Connection', 'close')
    .json({
      error: `${req.path} takes no request body (${chunked ? 'a chunked body' : `${length} bytes`} sent); send an empty POST, e.g. curl -X POST`,
    });
};
