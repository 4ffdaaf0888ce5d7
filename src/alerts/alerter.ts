/**
 * Turns state transitions into grouped notifications. It never judges health itself: it keeps one incident per
 * alerted check, collects changes for `group_wait`, then decides folding (a failing check whose dependency is
 * failing goes into the root cause's message), silences, routing and reminders, and hands each channel its
 * events. Incidents live in state_dir so a restart neither forgets an open failure nor repeats it.
 */
import path from 'node:path';
import type { CheckConfig } from '../config/load.js';
import type { Monitor } from '../checks/monitor.js';
import { isRecovery, isRegression, type Transition } from '../checks/state.js';
import type { Logger } from '../log.js';
import type { ProbeResult } from '../probes/types.js';
import type { AlertsConfig } from './config.js';
import { IncidentFile, loadIncidents, notificationKey, type Incident, type KeyPart } from './incidents.js';
import { matches, type MatchSubject } from './match.js';
import type { Silences } from './silences.js';
import type { AlertEvent, FoldedDependent } from './types.js';

/** `key` is the notification's idempotency key, the same whenever the same message is re-created. Never rejects. */
export type Dispatch = (channel: string, events: AlertEvent[], key: string) => Promise<void>;

const TICK_MS = 250;

function failingStatus(status: string | undefined): boolean {
  return status === 'fail' || status === 'warn';
}

export class Alerter {
  private readonly incidents = new Map<string, Incident>();
  private readonly file: IncidentFile;
  private groupTimer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    public config: AlertsConfig,
    private readonly monitor: Monitor,
    private readonly silences: Silences,
    private readonly dispatch: Dispatch,
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.file = new IncidentFile(path.join(stateDir, 'incidents.json'), logger);
    for (const inc of loadIncidents(this.file.file, logger)) this.incidents.set(inc.check, inc);
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  onTransition(t: Transition, check: CheckConfig): void {
    const inc = this.incidents.get(t.check);
    if (isRegression(t)) {
      const event = this.eventFrom(check, t.result, 'firing', t.from, t.since, t.at);
      if (!inc) {
        this.incidents.set(t.check, {
          check: t.check,
          event,
          opened_at: t.since,
          notified: false,
          channels: [],
          due: 'firing',
        });
      } else {
        const escalated = inc.event.status !== event.status;
        inc.event = { ...event, since: inc.opened_at };
        inc.resolved = undefined;
        if (!inc.notified || escalated) inc.due = 'firing';
        else if (inc.due === 'resolved') inc.due = undefined;
      }
    } else if (isRecovery(t)) {
      if (!inc) return;
      inc.resolved = {
        ...this.eventFrom(check, t.result, 'resolved', t.from, inc.opened_at, t.at),
        duration_ms: Date.parse(t.since) - Date.parse(inc.opened_at),
      };
      inc.due = 'resolved';
    } else if (inc) {
      inc.event = { ...this.eventFrom(check, t.result, 'firing', t.from, inc.opened_at, t.at) };
    } else {
      return;
    }
    this.save();
    this.schedule();
  }

  /** Everything firing that a channel was told about and is not folded or silenced (for Alertmanager resends). */
  openFiring(channel: string): AlertEvent[] {
    return [...this.incidents.values()]
      .filter(
        (i) =>
          i.notified &&
          !i.folded_under &&
          !i.resolved &&
          this.channelsOf(i).includes(channel) &&
          !this.silenced(i.event),
      )
      .map((i) => ({ ...i.event, dependents: this.dependentsOf(i.check) }));
  }

  /**
   * Queues at once what was still due when the process stopped (waiting for group_wait, or queued in the outbox
   * just before a crash kept incidents.json from being saved). The outbox should start sending only after
   * this: a message re-created here then meets its still-pending copy and is recognised by its key.
   */
  start(): Promise<void> {
    if ([...this.incidents.values()].some((i) => i.due)) this.queueFlush();
    return this.flushing;
  }

  /** Sends what is waiting now, without waiting for group_wait (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.ticker);
    if (this.groupTimer) {
      clearTimeout(this.groupTimer);
      this.groupTimer = undefined;
      this.queueFlush();
    }
    await this.flushing;
    await this.file.saved();
  }

  /** Re-evaluates held incidents after a silence was added or a config reload. */
  poke(): void {
    this.tick();
  }

  private schedule(): void {
    if (this.groupTimer) return;
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

  private eventFrom(
    check: CheckConfig,
    r: ProbeResult,
    kind: AlertEvent['kind'],
    previous: AlertEvent['previous'],
    since: string,
    at: string,
  ): AlertEvent {
    return {
      kind,
      check: check.name,
      type: check.type,
      labels: check.labels,
      ...(check.description ? { description: check.description } : {}),
      status: r.status,
      previous,
      reason: r.reason,
      ...(r.hint ? { hint: r.hint } : {}),
      since,
      at,
      details: r.details,
      dependents: [],
    };
  }

  private subject(e: AlertEvent): MatchSubject {
    return { check: e.check, type: e.type, status: e.status, labels: e.labels };
  }

  private silenced(e: AlertEvent): boolean {
    return this.silences.active(this.subject(e)) !== undefined;
  }

  private route(e: AlertEvent): string[] {
    const all = this.config.channels.map((c) => c.name);
    const hit = this.config.routes.find((r) => matches(r.match, this.subject(e)));
    return hit ? hit.channels : all;
  }

  /**
   * Where follow-ups (reminders, recoveries) of an incident go: the channels its failure went to that still
   * exist, or, when a reload removed or renamed all of them, wherever the routes send it now.
   */
  private channelsOf(inc: Incident): string[] {
    const live = this.live(inc.channels);
    return live.length > 0 ? live : this.route(inc.event);
  }

  private live(channels: string[]): string[] {
    const known = new Set(this.config.channels.map((c) => c.name));
    return channels.filter((c) => known.has(c));
  }

  private followUpChannels(inc: Incident): string[] {
    const live = this.live(inc.channels);
    if (live.length > 0) return live;
    const channels = this.route(inc.event);
    if (inc.channels.length > 0) {
      this.logger.warn(
        { event: 'alert_rerouted', check: inc.check, from: inc.channels, to: channels },
        `the channels ${inc.check} was alerted on (${inc.channels.join(', ')}) are no longer configured; its follow-ups go to ${channels.join(', ') || 'no channel'}`,
      );
    }
    return channels;
  }

  /** Ends an incident. Its folded dependents that still fail now stand on their own, as after a recovery. */
  private closeIncident(inc: Incident): void {
    this.incidents.delete(inc.check);
    for (const d of this.incidents.values()) {
      // One that is ok again keeps its fold, so its own recovery stays as quiet as its failure was.
      if (d.folded_under !== inc.check || !failingStatus(this.monitor.view(d.check)?.state.status)) continue;
      d.folded_under = undefined;
      d.notified = false;
      d.due = 'firing';
    }
  }

  private nextSeq(inc: Incident): number {
    inc.sent = (inc.sent ?? 0) + 1;
    return inc.sent;
  }

  /** The deepest failing check this one depends on, directly or transitively. */
  private failingRoot(name: string, seen = new Set<string>()): string | undefined {
    for (const dep of this.monitor.view(name)?.check.depends_on ?? []) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const deeper = this.failingRoot(dep, seen);
      if (deeper) return deeper;
      if (failingStatus(this.monitor.view(dep)?.state.status)) return dep;
    }
    return undefined;
  }

  private dependentsOf(root: string): FoldedDependent[] {
    return [...this.incidents.values()]
      .filter((i) => i.folded_under === root && !i.resolved)
      .map((i) => ({ check: i.check, status: i.event.status, reason: i.event.reason, since: i.opened_at }));
  }

  private async flush(): Promise<void> {
    const now = new Date().toISOString();
    const out = new Map<string, { events: AlertEvent[]; parts: KeyPart[] }>();
    const push = (channels: string[], inc: Incident, e: AlertEvent) => {
      const part = { check: inc.check, kind: e.kind, opened_at: inc.opened_at, seq: this.nextSeq(inc) };
      for (const ch of channels) {
        const m = out.get(ch) ?? { events: [], parts: [] };
        m.events.push(e);
        m.parts.push(part);
        out.set(ch, m);
      }
    };

    for (const inc of [...this.incidents.values()].filter((i) => i.due === 'resolved')) {
      this.closeIncident(inc);
      if (inc.notified && !inc.folded_under && this.config.send_resolved && inc.resolved)
        push(this.followUpChannels(inc), inc, inc.resolved);
    }
    const firing = [...this.incidents.values()].filter((i) => i.due === 'firing');
    for (const inc of firing) {
      if (this.silenced(inc.event)) {
        inc.due = undefined;
        continue;
      }
      const root = this.failingRoot(inc.check);
      if (root) {
        inc.folded_under = root;
        inc.notified = true;
        inc.due = undefined;
      }
    }
    for (const inc of this.incidents.values()) {
      const kind = inc.due;
      if (kind !== 'firing' && kind !== 'reminder') continue;
      inc.due = undefined;
      if (kind === 'reminder' && (inc.folded_under || this.silenced(inc.event))) continue;
      const event: AlertEvent = {
        ...inc.event,
        kind,
        at: now,
        since: inc.opened_at,
        dependents: this.dependentsOf(inc.check),
      };
      const channels = kind === 'reminder' ? this.followUpChannels(inc) : this.route(event);
      push(channels, inc, event);
      inc.notified = true;
      inc.channels = kind === 'reminder' ? channels : [...new Set([...this.live(inc.channels), ...channels])];
      inc.last_notified_at = now;
    }
    // Saved only once the messages are in the outbox: a crash in between re-creates them, with the same keys
    // (the outbox then knows them), rather than losing them.
    for (const [channel, m] of out)
      await this.dispatch(
        channel,
        m.events.sort((a, b) => a.check.localeCompare(b.check)),
        notificationKey(channel, m.parts),
      );
    this.save();
  }

  private tick(): void {
    const now = Date.now();
    let changed = false;
    for (const inc of [...this.incidents.values()]) {
      const view = this.monitor.view(inc.check);
      // Removed by a reload: closed without a message (a pending recovery still goes out).
      if (!view && inc.due !== 'resolved') {
        this.closeIncident(inc);
        changed = true;
        continue;
      }
      if (inc.due || !view) continue;
      const status = view.state.status;
      if (!inc.notified) {
        // Held back by a silence (or lost in a restart before it went out): send once it may go out.
        if (status === 'ok') this.incidents.delete(inc.check);
        else if (failingStatus(status) && !this.silenced(inc.event)) inc.due = 'firing';
        else continue;
        changed = true;
      } else if (status === 'ok') {
        // The recovery happened while forgewatch was down.
        const at = view.last?.at ?? view.state.since;
        inc.resolved = {
          ...inc.event,
          kind: 'resolved',
          status: 'ok',
          previous: inc.event.status,
          reason: view.last?.result.reason ?? 'ok',
          at,
          duration_ms: Date.parse(view.state.since) - Date.parse(inc.opened_at),
          dependents: [],
        };
        inc.due = 'resolved';
        changed = true;
      } else if (
        failingStatus(status) &&
        !inc.folded_under &&
        this.config.repeat_every > 0 &&
        now - Date.parse(inc.last_notified_at ?? inc.opened_at) >= this.config.repeat_every
      ) {
        const last = view.last?.result;
        if (last && last.status !== 'ok')
          inc.event = {
            ...inc.event,
            status: last.status,
            reason: last.reason,
            ...(last.hint ? { hint: last.hint } : {}),
            details: last.details,
          };
        inc.last_notified_at = new Date(now).toISOString();
        inc.due = 'reminder';
        changed = true;
      }
    }
    if (changed) {
      this.save();
      if ([...this.incidents.values()].some((i) => i.due)) this.schedule();
    }
  }

  private save(): void {
    this.file.save(this.incidents.values());
  }
}
