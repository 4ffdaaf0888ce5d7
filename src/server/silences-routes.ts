/** GET /api/silences and POST /api/silences, both behind the bearer token. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { SilenceInputError, type Silences } from '../alerts/silences.js';
import { duration } from '../config/fields.js';
import { formatDuration } from '../util/format.js';
import type { RouteInstaller } from './app.js';
import { clientErrorMessage, clientErrorStatus } from './errors.js';

const MIN_SILENCE_MS = 1000;
/** A silence longer than this is a forgotten silence (and past it, dates stop being representable). */
const MAX_SILENCE_MS = 365 * 86_400_000;
const RANGE = `${formatDuration(MIN_SILENCE_MS)} to ${formatDuration(MAX_SILENCE_MS)} (1 year)`;

/** Bounds the silence's length and end, which the body's own schema leaves open; the rest is checked on add. */
function spanProblem(body: unknown, now: number): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const fields = body as { from?: unknown; until?: unknown; duration?: unknown };
  const length = fields.duration === undefined ? undefined : duration.safeParse(fields.duration);
  if (length?.success && (length.data < MIN_SILENCE_MS || length.data > MAX_SILENCE_MS))
    return `duration: must be ${RANGE}, got ${JSON.stringify(fields.duration)}`;
  const at = (v: unknown) => (typeof v === 'string' && Number.isFinite(Date.parse(v)) ? Date.parse(v) : undefined);
  const until = at(fields.until);
  if (until !== undefined && until <= now) return `until: must be in the future, got ${String(fields.until)}`;
  const end = until ?? (length?.success ? (at(fields.from) ?? now) + length.data : undefined);
  if (end !== undefined && end > now + MAX_SILENCE_MS)
    return `${until !== undefined ? 'until' : 'from + duration'}: a silence must end within ${formatDuration(MAX_SILENCE_MS)} (1 year) from now`;
  return undefined;
}

/** `onChange` runs after a silence was added, so held-back alerts are looked at again. */
export function silenceRoutes(silences: Silences, onChange: () => void): RouteInstaller {
  return (app, { requireToken }) => {
    app.get('/api/silences', requireToken, (_req, res) => {
      res.json({ silences: silences.list() });
    });
    app.post(
      '/api/silences',
      requireToken,
      express.json({ limit: '16kb', type: () => true }),
      async (req: Request, res: Response, next: NextFunction) => {
        try {
          const problem = spanProblem(req.body, Date.now());
          if (problem) {
            res.status(400).json({ error: problem });
            return;
          }
          const silence = await silences.add(req.body);
          onChange();
          res.status(201).json(silence);
        } catch (err) {
          if (err instanceof SilenceInputError) res.status(400).json({ error: err.message });
          else next(err);
        }
      },
      (err: Error, _req: Request, res: Response, next: NextFunction) => {
        const status = clientErrorStatus(err);
        if (status !== undefined)
          res
            .status(status)
            .json({ error: `request body must be a JSON object of at most 16kb: ${clientErrorMessage(err, status)}` });
        else next(err);
      },
    );
  };
}
