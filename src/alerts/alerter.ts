/**
 * Turns state transitions into grouped notifications. It never judges health itself: it keeps one incident per
 * alerted check, collects changes for `group_wait`, then decides folding (a failing check whose dependency is
 * failing goes into the root cause's message), silences, routing and reminders, and hands each channel its
 * events. Where an incident stands, and what each step sends, is up to incident-lifecycle.ts. Incidents live in
 * state_dir so a restart neither forgets an open failure nor repeats it.
 *
 * Its inputs are transitions, removed checks and a read-only view of check states; a timer reviews held-back
 * incidents (reminders after repeat_every, silences that ended) through that view (review.ts). What a flush sends
 * is built in flush.ts; this class owns the incidents, the timers and how closing one incident frees others.
 */
import { isChange, isRecovery, isRegression, type Transition } from '../checks/state.js';
import type { Logger } from '../log.js';
import type { ProbeResult } from '../probes/types.js';
import {
  alertEvent,
  failingStatus,
  type AlertedCheck,
  savedFailureEvent,
  type CheckStates,
  type SavedFailure,
} from './check-states.js';
import type { AlertsConfig } from './config.js';
import { flushMessages, foldedDependents, type FlushContext } from './flush.js';
import {
  announcedFiring,
  awaitsFlush,
  OPENING_STATE,
  step,
  type IncidentInput,
  type IncidentState,
} from './incident-lifecycle.js';
import type { Incident, IncidentPersistence, IncidentStore } from './incidents.js';
import { subjectOf } from './match.js';
import { reviewIncidents, type ReviewContext } from './review.js';
import { followUpChannels, route } from './routing.js';
import type { Silences } from './silences.js';
import type { AlertEvent, EventKind } from './types.js';

/** A failure told to channels: when it began and where it went. */
export interface AnnouncedIncident {
  opened_at: string;
  channels: string[];
}

/** `key` is the notification's idempotency key, the same whenever the same message is re-created. Never rejects. */
type Dispatch = (channel: string, events: AlertEvent[], key: string) => Promise<void>;

const REVIEW_MS = 250;

export class Alerter {
  private readonly incidents = new Map<string, Incident>();
  private readonly file: IncidentStore;
  private groupTimer: NodeJS.Timeout | undefined;
  private readonly reviewer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    public config: AlertsConfig,
    private readonly checks: CheckStates,
    private readonly silences: Silences,
    private readonly dispatch: Dispatch,
    persistence: IncidentPersistence,
    private readonly logger: Logger,
  ) {
    this.file = persistence.store;
    for (const inc of persistence.loaded) this.incidents.set(inc.check, inc);
    this.reviewer = setInterval(() => this.review(), REVIEW_MS);
    this.reviewer.unref();
  }

  onTransition(t: Transition, check: AlertedCheck): void {
    const inc = this.incidents.get(t.check);
    if (isChange(t)) {
      if (!inc) return;
      this.changed(inc, alertEvent(check, t.result, 'firing', inc.event.previous, inc.opened_at, t.at));
    } else if (isRegression(t)) {
      const event = alertEvent(check, t.result, 'firing', t.from, t.since, t.at);
      if (!inc) {
        this.incidents.set(t.check, { check: t.check, state: OPENING_STATE, event, opened_at: t.since, channels: [] });
      } else {
        const input = inc.event.status !== event.status ? 'escalated' : 'regressed';
        inc.event = { ...event, since: inc.opened_at };
        delete inc.resolved;
        this.advance(inc, input);
      }
    } else if (isRecovery(t)) {
      if (!inc) return;
      inc.resolved = {
        ...alertEvent(check, t.result, 'resolved', t.from, inc.opened_at, t.at),
        duration_ms: Date.parse(t.since) - Date.parse(inc.opened_at),
      };
      this.advance(inc, 'recovered');
    } else if (inc) {
      inc.event = { ...alertEvent(check, t.result, 'firing', t.from, inc.opened_at, t.at) };
    } else {
      return;
    }
    this.save();
    this.schedule();
  }

  /** Still failing, for another class of reason: told again (notify_on_change), with what it failed for before. */
  private changed(inc: Incident, event: AlertEvent): void {
    const before = inc.event.reason;
    inc.event = event;
    if (!this.config.notify_on_change) return;
    const was = inc.state;
    this.advance(inc, 'changed');
    // Several changes within group_wait make one update, from the reason last told.
    if (inc.state === 'changing' && was !== 'changing') inc.changed_from = before;
  }

  /** The checks configured now: incidents of the others end without a message (a pending recovery still goes out). */
  onChecksChanged(names: Iterable<string>): void {
    const live = new Set(names);
    let changed = false;
    for (const inc of [...this.incidents.values()]) {
      if (live.has(inc.check)) continue;
      this.advance(inc, 'removed');
      changed = true;
    }
    if (changed) this.saveAndSchedule();
  }

  /**
   * Start-up: a check saved as failing with no incident lost its alert to a crash between the two writes (state.json
   * landed, incidents.json did not) or to a damaged incidents.json. It opens one now, as its transition would have:
   * same start time, so a message that did reach the outbox is re-created with the same key and recognised.
   */
  reconcile(failing: readonly SavedFailure[]): void {
    let opened = 0;
    for (const f of failing) {
      if (this.incidents.has(f.check.name) || !failingStatus(f.status)) continue;
      const event = savedFailureEvent(f);
      this.incidents.set(f.check.name, {
        check: f.check.name,
        state: OPENING_STATE,
        event,
        opened_at: f.since,
        channels: [],
      });
      this.logger.warn(
        { event: 'incident_reconciled', check: f.check.name, since: f.since },
        `${f.check.name} was failing when forgewatch stopped but no alert about it was recorded; alerting now`,
      );
      opened += 1;
    }
    if (opened > 0) this.saveAndSchedule();
  }

  /**
   * Takes on a failure another alerter already announced (a fleet node that alerted on its own while it could
   * not coordinate): its recovery is told, its failure is not told again.
   */
  adoptAnnounced(
    check: AlertedCheck,
    result: ProbeResult,
    at: string,
    told: { opened_at: string; channels?: string[] },
  ): void {
    if (this.incidents.has(check.name) || !failingStatus(result.status)) return;
    const event = alertEvent(check, result, 'firing', 'ok', told.opened_at, at);
    this.incidents.set(check.name, {
      check: check.name,
      state: 'notified',
      event,
      opened_at: told.opened_at,
      // Unknown: where its route sends it now (its recovery goes there).
      channels: told.channels ?? route(this.config, event),
      last_notified_at: at,
    });
    this.save();
  }

  /** The failures this alerter has told (or queued) a channel about, by check. */
  announced(): Map<string, AnnouncedIncident> {
    const out = new Map<string, AnnouncedIncident>();
    for (const i of this.incidents.values())
      if (announcedFiring(i.state)) out.set(i.check, { opened_at: i.opened_at, channels: i.channels });
    return out;
  }

  /** Everything firing that a channel was told about and is not folded or silenced (for Alertmanager resends). */
  openFiring(channel: string): AlertEvent[] {
    return [...this.incidents.values()]
      .filter(
        (i) =>
          announcedFiring(i.state) && followUpChannels(this.config, i).includes(channel) && !this.silenced(i.event),
      )
      .map((i) => ({ ...i.event, dependents: foldedDependents(this.incidents.values(), i.check) }));
  }

  /**
   * Queues at once what was still due when the process stopped (waiting for group_wait, or queued in the outbox
   * just before a crash kept incidents.json from being saved). The outbox should start sending only after
   * this: a message re-created here then meets its still-pending copy and is recognised by its key.
   */
  start(): Promise<void> {
    if ([...this.incidents.values()].some((i) => awaitsFlush(i.state))) this.queueFlush();
    return this.flushing;
  }

  /** Sends what is waiting now, without waiting for group_wait (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.reviewer);
    if (this.groupTimer) {
      clearTimeout(this.groupTimer);
      this.groupTimer = undefined;
      this.queueFlush();
    }
    await this.flushing;
    await this.file.saved();
  }

  /**
   * Stops without sending what waits for group_wait: another alerter takes these incidents on (a new fleet
   * leader, or the fleet once a node failing open can coordinate again). What is saved so far stays saved.
   */
  async abandon(): Promise<void> {
    clearInterval(this.reviewer);
    clearTimeout(this.groupTimer);
    this.groupTimer = undefined;
    this.closed = true;
    await this.flushing;
    await this.file.saved();
  }

  /** Re-evaluates held incidents after a silence was added or a config reload. */
  poke(): void {
    this.review();
  }

  /** Moves the incident on; returns the message the step sends, if any. */
  private advance(inc: Incident, input: IncidentInput): EventKind | undefined {
    const { to, send } = step(inc.state, input);
    if (to === 'closed') this.closeIncident(inc);
    else this.enter(inc, to);
    return send;
  }

  private enter(inc: Incident, state: IncidentState): void {
    inc.state = state;
    if (state !== 'folded') delete inc.folded_under;
  }

  private schedule(): void {
    if (this.groupTimer || this.closed) return;
    this.groupTimer = setTimeout(() => {
      this.groupTimer = undefined;
      this.queueFlush();
    }, this.config.group_wait);
  }

  private queueFlush(): void {
    this.flushing = this.flushing
      .then(() => this.flush())
      .catch((err: Error) =>
        this.logger.error({ event: 'alert_flush_failed', error: err.message }, 'could not queue alerts'),
      );
  }

  private silenced(e: AlertEvent): boolean {
    return this.silences.active(subjectOf(e)) !== undefined;
  }

  /** Ends an incident. Its folded dependents that still fail now stand on their own, as after a recovery. */
  private closeIncident(inc: Incident): void {
    this.incidents.delete(inc.check);
    for (const d of this.incidents.values()) {
      // One that is ok again keeps its fold, so its own recovery stays as quiet as its failure was.
      if (d.folded_under !== inc.check || !failingStatus(this.checks.state(d.check)?.status)) continue;
      this.advance(d, 'root_closed');
    }
  }

  /** The view a flush or a review works through; read afresh each time since `config` is replaced on reload. */
  private context(): FlushContext & ReviewContext {
    return {
      config: this.config,
      checks: this.checks,
      logger: this.logger,
      silenced: (e) => this.silenced(e),
      advance: (inc, input) => this.advance(inc, input),
    };
  }

  private async flush(): Promise<void> {
    const messages = flushMessages(this.incidents, this.context(), new Date().toISOString());
    // Saved only once the messages are in the outbox: a crash in between re-creates them, with the same keys
    // (the outbox then knows them), rather than losing them.
    for (const m of messages) await this.dispatch(m.channel, m.events, m.key);
    this.save();
  }

  private review(): void {
    if (reviewIncidents(this.incidents, this.context(), Date.now())) this.saveAndSchedule();
  }

  private saveAndSchedule(): void {
    this.save();
    if ([...this.incidents.values()].some((i) => awaitsFlush(i.state))) this.schedule();
  }

  private save(): void {
    this.file.save(this.incidents.values());
  }
}
