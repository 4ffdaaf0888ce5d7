/** GET /api/silences and POST /api/silences, both behind the bearer token. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { SilenceInputError, type Silences } from '../alerts/silences.js';
import type { RouteInstaller } from './app.js';

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
          const silence = await silences.add(req.body);
          onChange();
          res.status(201).json(silence);
        } catch (err) {
          if (err instanceof SilenceInputError) res.status(400).json({ error: err.message });
          else next(err);
        }
      },
      (err: Error & { status?: number }, _req: Request, res: Response, next: NextFunction) => {
        if (err.status !== undefined && err.status < 500)
          res.status(err.status).json({ error: `request body must be a JSON object of at most 16kb: ${err.message}` });
        else next(err);
      },
    );
  };
}
