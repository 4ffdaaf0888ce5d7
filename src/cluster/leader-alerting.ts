/**
 * The leader's alerter: one for the whole fleet, on the fleet's check records (every owner writes its
 * transitions to etcd), with its incidents and outbox in etcd. It follows the records from the cursor its
 * predecessor saved with the incidents, so each transition is taken in once; it alerts on nodes that stop
 * reporting, and judges checks run from several locations on their locations together.
 */
import type { Alerter } from '../alerts/alerter.js';
import type { AlertedCheck, CheckStates, SavedFailure } from '../alerts/check-states.js';
import type { AlertingCore } from '../alerts/core.js';
import type { Outbox } from '../alerts/outbox.js';
import type { CheckConfig } from '../config/load.js';
import type { Transition } from '../checks/state.js';
import type { Logger } from '../log.js';
import type { ProbeResult } from '../probes/types.js';
import { EtcdIncidentStore, EtcdOutboxStore, type Fence } from './alert-store.js';
import type { Fleet } from './fleet.js';
import type { FleetStateChange } from './fleet-states.js';
import { recordResult, type HandedOverState } from './handover.js';
import { LocationQuorum, splitLocationKey } from './location-quorum.js';
import { explainLayer } from './origin.js';
import { NodeWatch } from './node-watch.js';
import { RecordLog } from './record-log.js';

/** The transition a change of a fleet record stands for, if any. */
export function recordTransition(change: FleetStateChange): Transition | undefined {
  const { check, before, after } = change;
  if (!after) return undefined;
  const from = before?.status ?? 'unknown';
  const statusMoved = from !== after.status;
  if (!statusMoved && !(after.kind === 'changed' && before?.code !== after.code)) return undefined;
  return {
    ...(statusMoved ? {} : { kind: 'changed' as const }),
    check,
    from,
    to: after.status,
    result: recordResult(after),
    since: after.since,
    previousDurationMs: before ? Math.max(0, Date.parse(after.since) - Date.parse(before.since)) : 0,
    at: after.at ?? after.since,
  };
}

/** Checks by name, built once per config (a burst of record changes looks each one up). */
function lookup(checks: () => readonly CheckConfig[]): (name: string) => CheckConfig | undefined {
  let list: readonly CheckConfig[] | undefined;
  let byName = new Map<string, CheckConfig>();
  return (name) => {
    const now = checks();
    if (now !== list) {
      list = now;
      byName = new Map(now.map((c) => [c.name, c]));
    }
    return byName.get(name);
  };
}

/** The later of two records of one key (a replayed change is older than what the mirror holds). */
function newer(a: HandedOverState | undefined, b: HandedOverState | undefined): HandedOverState | undefined {
  if (!a || !b) return a ?? b;
  return Date.parse(a.at ?? a.since) >= Date.parse(b.at ?? b.since) ? a : b;
}

export interface LeaderAlertingOptions {
  core: AlertingCore;
  fleet: Fleet;
  checks: () => readonly CheckConfig[];
  logger: Logger;
  /** Runs work after what is queued (leadership changes are handled one after another). */
  enqueue: (work: () => Promise<void>) => void;
}

export class LeaderAlerting {
  private records: { cancel(): Promise<void> } | undefined;
  private stopped = false;
  private unlisten: () => void = () => undefined;
  /** Record changes seen through the log that the mirror may not hold yet. */
  private readonly latest = new Map<string, HandedOverState>();
  private readonly quorum: LocationQuorum;

  private constructor(
    private readonly opts: LeaderAlertingOptions,
    private readonly alerter: Alerter,
    private readonly outbox: Outbox,
    private readonly nodes: NodeWatch,
    private readonly store: EtcdIncidentStore,
  ) {
    const { fleet } = opts;
    this.quorum = new LocationQuorum(
      (key) => newer(this.latest.get(key), fleet.states.get(key)),
      () => new Set(fleet.members.map((m) => m.location)),
      (check, result) => this.explainLayer(check, result),
    );
  }

  /** Loads the fleet's incidents and outbox from etcd and starts alerting; undefined when leadership went meanwhile. */
  static async start(opts: LeaderAlertingOptions): Promise<LeaderAlerting | undefined> {
    const { fleet, core, logger } = opts;
    const fence: Fence = { key: () => fleet.fenceKey };
    const [persistence, store] = await Promise.all([
      EtcdIncidentStore.open(fleet.client, fleet.prefix, fence, logger),
      EtcdOutboxStore.open(fleet.client, fleet.prefix, fence, logger),
    ]);
    const nodes = new NodeWatch(fleet, opts.checks);
    await nodes.start();
    if (!fleet.isLeader) return void (await nodes.close());
    const outbox = core.outbox(store);
    const holder: { run?: LeaderAlerting } = {};
    const alerter = core.alerter({ ...LeaderAlerting.viewOf(holder, opts, nodes) }, persistence, outbox, {
      extraNames: () => nodes.names(),
    });
    const run = new LeaderAlerting(opts, alerter, outbox, nodes, persistence.store);
    holder.run = run;
    nodes.on('transition', (t, check) => alerter.onTransition(t, check));
    nodes.on('names', () => core.namesChanged(alerter));
    run.unlisten = fleet.onMembers(() => run.locationsChanged());
    alerter.reconcile(
      nodes.failing().map((n) => ({ check: n.check, status: 'fail', since: n.since, reason: n.result.reason })),
    );
    run.seedLocations();
    await run.followRecords(persistence.cursor);
    await alerter.start();
    outbox.release();
    logger.info(
      { event: 'fleet_alerting_leader', incidents: persistence.loaded.length, pending: store.load().length },
      `alerting for the fleet: ${persistence.loaded.length} open incidents and ${store.load().length} pending notifications taken on`,
    );
    return run;
  }

  /** Leadership lost: what waits for group_wait is left to the next leader (flush only at a clean shutdown). */
  async stop({ flush }: { flush: boolean }): Promise<void> {
    this.stopped = true;
    this.unlisten();
    this.store.stop();
    await this.records?.cancel().catch(() => undefined);
    await this.nodes.close();
    await this.opts.core.closeAlerter(this.alerter, { flush });
    await this.opts.core.closeOutbox(this.outbox);
  }

  /** The fleet's states as the leader's alerter reads them: owners' records, location quorums, the nodes. */
  private static viewOf(holder: { run?: LeaderAlerting }, opts: LeaderAlertingOptions, nodes: NodeWatch): CheckStates {
    const { states } = opts.fleet;
    const configured = lookup(opts.checks);
    return {
      state: (name) => {
        const node = nodes.state(name);
        if (node) return { status: node.status, since: node.since };
        const check = configured(name);
        if (check?.locations) return holder.run?.quorum.state(name)?.state;
        const r = check ? states.get(name) : undefined;
        return r && { status: r.status, since: r.since };
      },
      lastResult: (name) => {
        const node = nodes.state(name);
        if (node) return { at: node.at, result: node.result };
        if (configured(name)?.locations) {
          const c = holder.run?.quorum.state(name);
          return c && { at: c.at, result: c.result };
        }
        const r = states.get(name);
        return r && { at: r.at ?? r.since, result: recordResult(r) };
      },
      dependsOn: (name) => configured(name)?.depends_on ?? [],
    };
  }

  private readonly configured = lookup(() => this.opts.checks());

  /**
   * Takes in the owners' record changes from where the former leader's alerter stopped (its cursor), each once
   * and in order. A fleet with no cursor yet (or whose history etcd compacted away) starts from the records as
   * they are: failures with no incident open one, with the failure's start time so a message already queued
   * keeps its key; a failure a node announced on its own is taken on as told.
   */
  private async followRecords(cursor: string | undefined): Promise<void> {
    const { fleet, logger, enqueue } = this.opts;
    const log = new RecordLog(fleet.client, fleet.prefix);
    let from = cursor;
    if (from === undefined) {
      const snapshot = await log.snapshot();
      if (this.stopped) return;
      this.reconcileRecords(snapshot.records);
      from = snapshot.revision;
      await this.store.startAt(from);
    }
    const records = await log.follow(
      from,
      (change, revision) => {
        if (this.stopped) return;
        this.takeIn(change);
        this.store.advance(revision);
      },
      (err) => {
        if (this.stopped) return;
        logger.warn(
          { event: 'fleet_records_history_lost', error: err.message },
          `cannot follow the fleet's check records from the saved cursor (${err.message}); going on from their current states`,
        );
        void this.records?.cancel().catch(() => undefined);
        enqueue(() => this.followRecords(undefined));
      },
    );
    // Leadership may have gone while the watch was being set up.
    if (this.stopped) return void (await records.cancel());
    this.records = records;
  }

  private takeIn(change: FleetStateChange): void {
    const located = splitLocationKey(change.check);
    if (located) {
      if (change.after) this.latest.set(change.check, change.after);
      else this.latest.delete(change.check);
      const check = this.configured(located.check);
      if (check?.locations) this.judgeLocations(check);
      return;
    }
    const found = recordTransition(change);
    const check = this.configured(change.check);
    if (!found || !check || !change.after) return;
    const t = found.to === 'ok' ? found : { ...found, result: this.explainLayer(check, found.result) };
    const told = change.after.alerted;
    if (told && told.opened_at === change.after.since && t.kind !== 'changed' && t.to !== 'ok')
      this.alerter.adoptAnnounced(check, t.result, t.at, told);
    else this.alerter.onTransition(t, check);
  }

  /** A failing public check whose origin check passes (or fails too): which layer fails, in its reason. */
  private explainLayer(check: CheckConfig, result: ProbeResult): ProbeResult {
    return explainLayer(check, result, this.opts.checks(), (key) =>
      newer(this.latest.get(key), this.opts.fleet.states.get(key)),
    );
  }

  private judgeLocations(check: CheckConfig): void {
    const t = this.quorum.update(check);
    if (t) this.alerter.onTransition(t, check as AlertedCheck);
  }

  /** A node came or went: a location may have become unknown, or known again. */
  private locationsChanged(): void {
    if (this.stopped) return;
    for (const check of this.opts.checks()) if (check.locations) this.judgeLocations(check);
  }

  /** At the start: each location-judged check from its records as they are; failures with no incident open one. */
  private seedLocations(): void {
    const told = this.alerter.announced();
    const failures: SavedFailure[] = [];
    for (const check of this.opts.checks()) {
      if (!check.locations) continue;
      const seeded = this.quorum.seed(check, told.get(check.name)?.opened_at);
      if (seeded && seeded.state.status !== 'ok' && !told.has(check.name))
        failures.push({
          check,
          status: seeded.result.status as 'warn' | 'fail',
          since: seeded.state.since,
          reason: seeded.result.reason,
        });
    }
    this.alerter.reconcile(failures);
  }

  private reconcileRecords(records: ReadonlyMap<string, HandedOverState>): void {
    const failures: SavedFailure[] = [];
    for (const [name, r] of records) {
      const check = this.configured(name);
      if (!check || check.locations || r.status === 'ok') continue;
      if (r.alerted && r.alerted.opened_at === r.since)
        this.alerter.adoptAnnounced(check, recordResult(r), r.since, r.alerted);
      else failures.push({ check, status: r.status, since: r.since, reason: r.reason });
    }
    this.alerter.reconcile(failures);
  }
}
