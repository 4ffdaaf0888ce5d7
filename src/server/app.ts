/** The HTTP API: /metrics, /check, /api/status, /api/cluster, /healthz, /-/reload. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Monitor } from '../checks/monitor.js';
import type { ClusterView } from '../cluster/fleet.js';
import { buildReport, selectChecks, type CheckReport } from '../checks/report.js';
import type { Scheduler } from '../checks/scheduler.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import { probeKinds } from '../probes/index.js';
import { bearerToken, sameSecret } from './auth.js';
import { apiErrorHandler, refuseBody } from './errors.js';
import { fleetCheckView, type FleetCheckView, type FleetStatusSource } from './fleet-status.js';
import { metricsRoute } from './metrics-route.js';

/** The heartbeat ticks every second; this long without one means the event loop is stuck. */
const STALE_TICK_MS = 10_000;

export interface AppDeps {
  monitor: Monitor;
  metrics: Metrics;
  scheduler: Scheduler;
  /** The fleet as this node sees it; undefined when it runs alone (no `cluster:`). */
  cluster?: () => Promise<ClusterView> | undefined;
  /** This node's fleet for the fleet-wide check list; undefined when it runs alone (or has not joined yet). */
  fleet?: () => FleetStatusSource | undefined;
  /** Returns an error message when the new config was rejected. */
  reload: () => Promise<string | undefined>;
  startedAt: Date;
  /** Where errors the API cannot explain to the client are written. */
  logger?: Logger;
  /** Further routes (status page, alert silences), installed after the core ones. */
  routes?: RouteInstaller[];
}

export type RouteInstaller = (app: express.Express, deps: AppDeps & { requireToken: express.RequestHandler }) => void;

function queryList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

const CHECK_FILTERS = ['name', 'type', 'label'];

/** A deploy pipeline's typo must fail loudly, not run some other set of checks and pass. */
function checkQueryProblem(query: Request['query']): string | undefined {
  const unknown = Object.keys(query).filter((k) => !CHECK_FILTERS.includes(k));
  if (unknown.length > 0)
    return `unknown query parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')}; /check takes name, type and label`;
  if (query.type !== undefined && typeof query.type !== 'string')
    return 'give type once: one check type per call, e.g. ?type=http';
  for (const key of ['name', 'label']) {
    const value = query[key];
    if (value !== undefined && !(Array.isArray(value) ? value : [value]).every((v) => typeof v === 'string'))
      return `${key} must be plain text, e.g. ?${key === 'name' ? 'name=api' : 'label=team:web'}`;
  }
  return undefined;
}

export function createApp(deps: AppDeps): express.Express {
  const { monitor, metrics, scheduler } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');

  const requireToken = (req: Request, res: Response, next: NextFunction) => {
    const token = monitor.config.server.token;
    if (!token || sameSecret(bearerToken(req), token)) return next();
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="forgewatch"')
      .json({ error: 'missing or wrong bearer token' });
  };

  app.get('/healthz', (_req, res) => {
    const age = Date.now() - scheduler.lastTick;
    const healthy = age < STALE_TICK_MS;
    res.status(healthy ? 200 : 503).json({
      status: healthy ? 'ok' : 'stalled',
      scheduler_tick_age_ms: age,
      checks: monitor.checks.length,
      uptime_s: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
    });
  });

  app.get('/metrics', metricsRoute(metrics));

  app.get('/check', requireToken, async (req, res, next) => {
    try {
      const problem = checkQueryProblem(req.query);
      if (problem) {
        res.status(400).json({ error: problem });
        return;
      }
      const selection = selectChecks(
        monitor.checks,
        {
          names: queryList(req.query.name),
          ...(typeof req.query.type === 'string' ? { type: req.query.type } : {}),
          labels: queryList(req.query.label),
        },
        Object.keys(probeKinds),
      );
      if (selection.error) {
        res.status(selection.error.kind === 'usage' ? 400 : 404).json({ error: selection.error.message });
        return;
      }
      const { selected } = selection;
      const records = await Promise.all(selected.map((c) => monitor.run(c.name)));
      const report = buildReport(records);
      const fleet = deps.fleet?.();
      if (fleet) for (const entry of report.checks) withLocations(entry, fleet, monitor, report.checked_at);
      res.status(report.ok ? 200 : 503).json(report);
    } catch (err) {
      next(err);
    }
  });

  // In a fleet: every check of the fleet, each with the node that ran it, and this node's name; alone: as before.
  // Written check by check in batches: one array of ten thousand entries and its JSON as one string were megabytes
  // of short-lived objects that outlived a young-generation collection and bloated the heap.
  app.get('/api/status', requireToken, async (_req, res, next) => {
    try {
      const fleet = deps.fleet?.();
      res.type('application/json');
      const head = JSON.stringify(fleet ? { node: fleet.node } : {});
      await pipeline(Readable.from(statusJson(head, monitor, fleet), { highWaterMark: 1 }), res);
    } catch (err) {
      if (res.headersSent) res.destroy(err as Error);
      else next(err);
    }
  });

  app.get('/api/cluster', requireToken, async (_req, res, next) => {
    try {
      const view = await deps.cluster?.();
      if (view) res.json(view);
      else res.status(404).json({ error: 'this node runs alone: add a cluster: block to the config to form a fleet' });
    } catch (err) {
      next(err);
    }
  });

  app.post('/-/reload', requireToken, refuseBody, async (_req, res) => {
    const error = await deps.reload();
    if (error) res.status(400).json({ reloaded: false, error });
    else res.json({ reloaded: true, checks: monitor.checks.length });
  });

  for (const install of deps.routes ?? []) install(app, { ...deps, requireToken });

  app.use(apiErrorHandler(deps.logger));
  return app;
}

/** A /check entry of a check run from several locations: this run where this node stands, the fleet's elsewhere. */
function withLocations(
  entry: CheckReport['checks'][number],
  fleet: FleetStatusSource,
  monitor: Monitor,
  at: string,
): void {
  const check = monitor.view(entry.name)?.check;
  const located = check?.locations ? fleet.locations(check) : undefined;
  if (!located) return;
  entry.locations = {
    ...located.locations,
    [fleet.location]: { status: entry.status, reason: entry.reason, node: fleet.node, at },
  };
}

/**
 * How long one piece of the /api/status body grows (in characters) before it is sent. V8 puts a string of more than
 * 128 KiB straight into its large-object space, which only a full collection frees: pieces that size, one every few
 * hundred checks on every call, grew the heap by megabytes per call. Pieces this small stay in the young generation.
 */
const STATUS_PIECE_CHARS = 32 * 1024;

/**
 * `{...head, "checks": [...]}` in pieces of about STATUS_PIECE_CHARS characters. Each check's view is made as its turn
 * comes, not all up front: a body of thousands takes a while to send, and views held that long outlive the young
 * generation, to be freed only by a full collection.
 */
function* statusJson(head: string, monitor: Monitor, fleet: FleetStatusSource | undefined): Generator<string> {
  const inFleet = fleet !== undefined;
  let piece = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"checks":[`;
  let first = true;
  for (const check of monitor.checks) {
    const local = monitor.view(check.name);
    // Gone in a reload while the body was being sent.
    if (!local) continue;
    const v: FleetCheckView = fleet ? fleetCheckView(local, fleet) : local;
    if (!first) piece += ',';
    first = false;
    piece += JSON.stringify({
      name: v.check.name,
      ...(inFleet ? { node: v.node ?? null } : {}),
      type: v.check.type,
      state: v.state.status,
      since: v.state.since,
      running: v.running,
      labels: v.check.labels,
      depends_on: v.check.depends_on,
      last: v.last
        ? {
            at: v.last.at,
            status: v.last.result.status,
            reason: v.last.result.reason,
            hint: v.last.result.hint ?? null,
            duration_ms: v.recorded ? null : Math.round((v.last.result.timings.total ?? 0) * 1000),
            details: v.last.result.details,
          }
        : null,
      ...(v.locations ? { locations: v.locations } : {}),
    });
    if (piece.length >= STATUS_PIECE_CHARS) {
      yield piece;
      piece = '';
    }
  }
  yield `${piece}]}`;
}
