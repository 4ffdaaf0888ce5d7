/**
 * Alerting in a fleet: one alerter for the whole fleet, run by the elected leader on the fleet's check states
 * (every owner writes its transitions to etcd), with its incidents and its outbox in etcd. A leader that dies
 * leaves both behind: the next leader loads them, re-creates what was due with the same idempotency keys and
 * delivers what is still pending. Exactly once per transition comes from there being one alerter at a time,
 * fenced by its election key, not from each node deciding on its own.
 *
 * A node that cannot coordinate (fail open) alerts on its own from state_dir, marking each message as sent
 * without coordination; once back, the failures it announced are handed to the fleet with its check states,
 * so the leader tells their recoveries and does not announce them again.
 */
import path from 'node:path';
import type { Alerter } from '../alerts/alerter.js';
import type { AlertedCheck, CheckStates, SavedFailure } from '../alerts/check-states.js';
import type { AlertingCore } from '../alerts/core.js';
import { monitorCheckStates } from '../alerts/index.js';
import { incidentFile } from '../alerts/incidents.js';
import type { Outbox } from '../alerts/outbox.js';
import type { Monitor } from '../checks/monitor.js';
import type { Transition } from '../checks/state.js';
import type { Logger } from '../log.js';
import type { ProbeResult } from '../probes/types.js';
import { EtcdIncidentStore, EtcdOutboxStore, type Fence } from './alert-store.js';
import type { Fleet } from './fleet.js';
import type { FleetStateChange } from './fleet-states.js';
import type { HandedOverState } from './handover.js';
import type { CoordinationState } from './membership.js';
import { FleetSilences } from './fleet-silences.js';
import { NodeWatch } from './node-watch.js';
import { RecordLog } from './record-log.js';

/** The result a fleet record stands for (what the owner's transition carried). */
export function recordResult(r: HandedOverState): ProbeResult {
  return {
    status: r.status,
    reason: r.reason,
    ...(r.hint ? { hint: r.hint } : {}),
    ...(r.code !== undefined ? { code: r.code } : {}),
    timings: { total: 0 },
    details: r.details ?? {},
    observations: [],
  };
}

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

/** What the leader's alerter alerts on, for one alerter's life. */
interface LeaderRun {
  alerter: Alerter;
  outbox: Outbox;
  nodes: NodeWatch;
  store: EtcdIncidentStore;
  records: { cancel(): Promise<void> } | undefined;
}

export class FleetAlerting {
  private readonly localOutbox: Outbox;
  private leader: LeaderRun | undefined;
  /** Leadership changes and fail-open periods are handled one after another. */
  private queue: Promise<void> = Promise.resolve();
  private local: Alerter | undefined;
  /** What this node announced on its own during its last fail-open stretch, handed over with its check states. */
  private handed = new Map<string, { opened_at: string; channels: string[] }>();
  private closed = false;
  private silences: FleetSilences | undefined;
  /** Transitions seen since coordination was lost, before this node's own alerter took over. */
  private waiting: { transition: Transition; check: AlertedCheck }[] | undefined;

  constructor(
    private readonly core: AlertingCore,
    private readonly fleet: Fleet,
    private readonly monitor: Monitor,
    private readonly logger: Logger,
  ) {
    // Kept for the process's life: what it queued while failing open is delivered even after coordination is back.
    this.localOutbox = core.outbox(path.join(monitor.config.state_dir, 'outbox'));
    this.localOutbox.release();
    fleet.setAlertedSource((check) => this.handed.get(check));
  }

  /** Silences added through any node's API, shared through etcd once this node can reach it. */
  private shareSilences(): void {
    if (this.silences || this.closed) return;
    const shared = new FleetSilences(this.fleet.client, this.fleet.prefix, this.core.silences, () => this.core.poke());
    this.silences = shared;
    shared.start().catch((err: Error) => {
      this.silences = undefined;
      this.logger.warn(
        { event: 'fleet_silences_unavailable', error: err.message },
        `cannot read the fleet's silences: ${err.message}`,
      );
    });
  }

  start(): void {
    this.fleet.onLeader((isLeader) => this.enqueue(() => (isLeader ? this.lead() : this.stepDown())));
    this.fleet.onCoordination((state) => {
      // Known at once, before this node's check states are written again: they carry it to the leader.
      if (state.up && this.local) this.handed = this.local.announced();
      if (state.up) this.shareSilences();
      // Until this node's own alerter runs, what changes is kept for it: nothing goes untold meanwhile.
      this.waiting = state.up ? undefined : (this.waiting ?? []);
      this.enqueue(() => (state.up ? this.endFailOpen() : this.failOpen(state)));
    });
    this.monitor.onTransition(({ transition, check }) => {
      if (this.local) this.local.onTransition(transition, check);
      else this.waiting?.push({ transition, check });
    });
    if (this.fleet.coordinationUp) this.shareSilences();
    if (this.fleet.isLeader) this.enqueue(() => this.lead());
    // Started while etcd is away: alone from the start.
    if (!this.fleet.coordinationUp) {
      this.waiting = [];
      this.enqueue(() => this.failOpen(this.fleet.coordination));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.silences?.close();
    await this.queue;
    await this.stepDown({ flush: true });
    if (this.local) await this.core.closeAlerter(this.local, { flush: true });
    this.local = undefined;
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue
      .then(work)
      .catch((err: Error) =>
        this.logger.error({ event: 'fleet_alerting_failed', error: err.message }, `fleet alerting: ${err.message}`),
      );
  }

  private configured(name: string): AlertedCheck | undefined {
    return this.monitor.config.checks.find((c) => c.name === name);
  }

  /** This node was elected: loads the fleet's incidents and outbox from etcd and alerts on the fleet's states. */
  private async lead(): Promise<void> {
    if (this.leader || this.closed || !this.fleet.isLeader) return;
    const { fleet, core, logger } = this;
    const fence: Fence = { key: () => fleet.fenceKey };
    const [persistence, store] = await Promise.all([
      EtcdIncidentStore.open(fleet.client, fleet.prefix, fence, logger),
      EtcdOutboxStore.open(fleet.client, fleet.prefix, fence, logger),
    ]);
    const nodes = new NodeWatch(fleet, () => this.monitor.config.checks.map((c) => c.name));
    await nodes.start();
    if (!fleet.isLeader || this.closed) return void (await nodes.close());
    const outbox = core.outbox(store);
    const alerter = core.alerter(this.fleetCheckStates(nodes), persistence, outbox, {
      extraNames: () => nodes.names(),
    });
    const run: LeaderRun = { alerter, outbox, nodes, store: persistence.store, records: undefined };
    this.leader = run;
    nodes.on('transition', (t, check) => alerter.onTransition(t, check));
    nodes.on('names', () => core.namesChanged(alerter));
    alerter.reconcile(
      nodes.failing().map((n) => ({ check: n.check, status: 'fail', since: n.since, reason: n.result.reason })),
    );
    await this.followRecords(run, persistence.cursor);
    await alerter.start();
    outbox.release();
    logger.info(
      { event: 'fleet_alerting_leader', incidents: persistence.loaded.length, pending: store.load().length },
      `alerting for the fleet: ${persistence.loaded.length} open incidents and ${store.load().length} pending notifications taken on`,
    );
  }

  /** Leadership lost: what waits for group_wait is left to the next leader, which finds it in etcd. */
  private async stepDown({ flush }: { flush: boolean } = { flush: false }): Promise<void> {
    const run = this.leader;
    if (!run) return;
    this.leader = undefined;
    run.store.stop();
    await run.records?.cancel().catch(() => undefined);
    await run.nodes.close();
    await this.core.closeAlerter(run.alerter, { flush: flush && this.fleet.isLeader });
    await this.core.closeOutbox(run.outbox);
  }

  /** The fleet's states as the leader's alerter reads them: owners' records and the nodes themselves. */
  private fleetCheckStates(nodes: NodeWatch): CheckStates {
    const { states } = this.fleet;
    return {
      state: (name) => {
        const node = nodes.state(name);
        if (node) return { status: node.status, since: node.since };
        const r = this.configured(name) ? states.get(name) : undefined;
        return r && { status: r.status, since: r.since };
      },
      lastResult: (name) => {
        const node = nodes.state(name);
        if (node) return { at: node.at, result: node.result };
        const r = states.get(name);
        return r && { at: r.at ?? r.since, result: recordResult(r) };
      },
      dependsOn: (name) => this.monitor.config.checks.find((c) => c.name === name)?.depends_on ?? [],
    };
  }

  /**
   * Takes in the owners' record changes from where the former leader's alerter stopped (its cursor), each once
   * and in order. A fleet with no cursor yet (or whose history etcd compacted away) starts from the records as
   * they are: failures with no incident open one, with the failure's start time so a message already queued
   * keeps its key; a failure a node announced on its own is taken on as told.
   */
  private async followRecords(run: LeaderRun, cursor: string | undefined): Promise<void> {
    const log = new RecordLog(this.fleet.client, this.fleet.prefix);
    let from = cursor;
    if (from === undefined) {
      const snapshot = await log.snapshot();
      if (this.leader !== run) return;
      this.reconcileRecords(run.alerter, snapshot.records);
      from = snapshot.revision;
      await run.store.startAt(from);
    }
    const records = await log.follow(
      from,
      (change, revision) => {
        if (this.leader !== run) return;
        this.takeIn(run.alerter, change);
        run.store.advance(revision);
      },
      (err) => {
        if (this.leader !== run) return;
        this.logger.warn(
          { event: 'fleet_records_history_lost', error: err.message },
          `cannot follow the fleet's check records from the saved cursor (${err.message}); going on from their current states`,
        );
        void run.records?.cancel().catch(() => undefined);
        this.enqueue(() => this.followRecords(run, undefined));
      },
    );
    // Leadership may have gone while the watch was being set up.
    if (this.leader !== run) return void (await records.cancel());
    run.records = records;
  }

  private takeIn(alerter: Alerter, change: FleetStateChange): void {
    const t = recordTransition(change);
    const check = this.configured(change.check);
    if (!t || !check || !change.after) return;
    const told = change.after.alerted;
    if (told && told.opened_at === change.after.since && t.kind !== 'changed' && t.to !== 'ok')
      alerter.adoptAnnounced(check, t.result, t.at, told);
    else alerter.onTransition(t, check);
  }

  private reconcileRecords(alerter: Alerter, records: ReadonlyMap<string, HandedOverState>): void {
    const failures: SavedFailure[] = [];
    for (const [name, r] of records) {
      const check = this.configured(name);
      if (!check || r.status === 'ok') continue;
      if (r.alerted && r.alerted.opened_at === r.since)
        alerter.adoptAnnounced(check, recordResult(r), r.since, r.alerted);
      else failures.push({ check, status: r.status, since: r.since, reason: r.reason });
    }
    alerter.reconcile(failures);
  }

  /** etcd out of reach: this node alerts on its own, on every check it runs now, each message marked. */
  private async failOpen(state: CoordinationState): Promise<void> {
    // A leader's last writes wait for etcd at most a few seconds; alerting alone must not wait longer.
    await Promise.race([this.stepDown(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    if (this.local || this.closed) return;
    const { core, monitor, logger, fleet } = this;
    const persistence = incidentFile(monitor.config.state_dir, logger);
    const alerter = core.alerter(monitorCheckStates(monitor), persistence, this.localOutbox, {
      mark: { uncoordinated: { node: fleet.node, reason: state.reason } },
    });
    // What fails now was the fleet's to tell, and was told: only what changes from here on is this node's. The
    // states are the fleet's last word on them (adopted when this node took every check on).
    await fleet.settled();
    const changed = new Set((this.waiting ?? []).map((w) => w.transition.check));
    for (const v of monitor.views()) {
      if ((v.state.status !== 'fail' && v.state.status !== 'warn') || changed.has(v.check.name)) continue;
      const r = fleet.states.get(v.check.name);
      const result = r && r.status !== 'ok' && r.since === v.state.since ? recordResult(r) : v.last?.result;
      if (result && result.status !== 'ok')
        alerter.adoptAnnounced(v.check, result, v.last?.at ?? v.state.since, { opened_at: v.state.since });
    }
    this.local = alerter;
    for (const w of this.waiting ?? []) alerter.onTransition(w.transition, w.check);
    this.waiting = undefined;
    await alerter.start();
    logger.warn(
      { event: 'alerting_uncoordinated', reason: state.reason },
      'alerting on this node alone until etcd is reachable again; messages say they were sent without coordination',
    );
  }

  /** Back in the fleet: hands what it announced to the leader (through its check states) and stops alerting alone. */
  private async endFailOpen(): Promise<void> {
    const alerter = this.local;
    if (!alerter) return;
    this.local = undefined;
    this.handed = alerter.announced();
    await this.core.closeAlerter(alerter, { flush: false });
    // The fleet holds these now; a later stretch of failing open starts from a clean slate.
    incidentFile(this.monitor.config.state_dir, this.logger).store.save([]);
    this.logger.info(
      { event: 'alerting_coordinated', handed_over: this.handed.size },
      `alerting through the fleet again; ${this.handed.size} failures told meanwhile are handed to the leader`,
    );
  }
}
