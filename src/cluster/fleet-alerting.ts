/**
 * Alerting in a fleet: one alerter for the whole fleet, run by the elected leader (leader-alerting.ts) with its
 * incidents and its outbox in etcd. A leader that dies leaves both behind: the next leader loads them, re-creates
 * what was due with the same idempotency keys and delivers what is still pending. Exactly once per transition
 * comes from there being one alerter at a time, fenced by its election key, not from each node deciding alone.
 *
 * A node that cannot coordinate (fail open) alerts on its own from state_dir, marking each message as sent
 * without coordination; once back, the failures it announced are handed to the fleet with its check states,
 * so the leader tells their recoveries and does not announce them again.
 */
import path from 'node:path';
import type { Alerter } from '../alerts/alerter.js';
import type { AlertedCheck } from '../alerts/check-states.js';
import type { AlertingCore } from '../alerts/core.js';
import { monitorCheckStates } from '../alerts/index.js';
import { incidentFile } from '../alerts/incidents.js';
import type { Outbox } from '../alerts/outbox.js';
import type { Monitor } from '../checks/monitor.js';
import type { Transition } from '../checks/state.js';
import type { Logger } from '../log.js';
import type { Fleet } from './fleet.js';
import type { CoordinationState } from './membership.js';
import { FleetSilences } from './fleet-silences.js';
import { recordResult } from './handover.js';
import { LeaderAlerting } from './leader-alerting.js';

export class FleetAlerting {
  private readonly localOutbox: Outbox;
  private leader: LeaderAlerting | undefined;
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

  /** This node was elected: the fleet's alerter runs here until leadership goes. */
  private async lead(): Promise<void> {
    if (this.leader || this.closed || !this.fleet.isLeader) return;
    this.leader = await LeaderAlerting.start({
      core: this.core,
      fleet: this.fleet,
      checks: () => this.monitor.config.checks,
      logger: this.logger,
      enqueue: (work) => this.enqueue(work),
    });
  }

  /** Leadership lost: what waits for group_wait is left to the next leader, which finds it in etcd. */
  private async stepDown({ flush }: { flush: boolean } = { flush: false }): Promise<void> {
    const run = this.leader;
    if (!run) return;
    this.leader = undefined;
    await run.stop({ flush: flush && this.fleet.isLeader });
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
