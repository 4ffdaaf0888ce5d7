/**
 * Turns state transitions into grouped notifications. It never judges health itself: it keeps one incident per
 * alerted check, collects changes for `group_wait`, then decides folding (a failing check whose dependency is
 * failing goes into the root cause's message), silences, routing and reminders, and hands each channel its
 * events. Incidents live in state_dir so a restart neither forgets an open failure nor repeats it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CheckConfig } from '../config/load.js';
import type { Monitor } from '../checks/monitor.js';
import { isRecovery, isRegression, type Transition } from '../checks/state.js';
import { writeFileAtomic } from '../checks/store.js';
import type { Logger } from '../log.js';
import type { ProbeResult } from '../probes/types.js';
import type { AlertsConfig } from './config.js';
import { matches, type MatchSubject } from './match.js';
import type { Silences } from './silences.js';
import type { AlertEvent, FoldedDependent } from './types.js';

interface Incident {
  check: string;
  /** The latest failing side of the check (kind firing). */
  event: AlertEvent;
  opened_at: string;
  /** A message went out for it (or it was folded into its root's). */
  notified: boolean;
  channels: string[];
  folded_under?: string;
  last_notified_at?: string;
  due?: 'firing' | 'reminder' | 'resolved';
  resolved?: AlertEvent;
}

export type Dispatch = (channel: string, events: AlertEvent[]) => Promise<void>;

const TICK_MS = 250;

function failingStatus(status: string | undefined): boolean {
  return status === 'fail' || status === 'warn';
}

export class Alerter {
  private readonly incidents = new Map<string, Incident>();
  private readonly file: string;
  private groupTimer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    public config: AlertsConfig,
    private readonly monitor: Monitor,
    private readonly silences: Silences,
    private readonly dispatch: Dispatch,
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.file = path.join(stateDir, 'incidents.json');
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as { incidents?: Incident[] };
      for (const inc of saved.incidents ?? []) this.incidents.set(inc.check, inc);
    } catch {
      // No incidents yet.
    }
    // Changes that were still waiting for group_wait when the process stopped.
    if ([...this.incidents.values()].some((i) => i.due)) this.schedule();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  onTransition(t: Transition, check: CheckConfig): void {
    const inc = this.incidents.get(t.check);
    if (isRegression(t)) {
      const event = this.eventFrom(check, t.result, 'firing', t.from, t.since, t.at);
      if (!inc) {
        this.incidents.set(t.check, { check: t.check, event, opened_at: t.since, notified: false, channels: [], due: 'firing' });
      } else {
        const escalated = inc.event.status !== event.status;
        inc.event = { ...event, since: inc.opened_at };
        inc.resolved = undefined;
        if (!inc.notified || escalated) inc.due = 'firing';
        else if (inc.due === 'resolved') inc.due = undefined;
      }
    } else if (isRecovery(t)) {
      if (!inc) return;
      inc.resolved = { ...this.eventFrom(check, t.result, 'resolved', t.from, inc.opened_at, t.at), duration_ms: Date.parse(t.since) - Date.parse(inc.opened_at) };
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
      .filter((i) => i.notified && !i.folded_under && !i.resolved && i.channels.includes(channel) && !this.silenced(i.event))
      .map((i) => ({ ...i.event, dependents: this.dependentsOf(i.check) }));
  }

  /** Sends what is waiting now, without waiting for group_wait (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.ticker);
    if (this.groupTimer) {
      clearTimeout(this.groupTimer);
      this.groupTimer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }
    await this.flushing;
    await this.saving;
  }

  /** Re-evaluates held incidents after a silence was added or a config reload. */
  poke(): void {
    this.tick();
  }

  private schedule(): void {
    if (this.groupTimer) return;
    this.groupTimer = setTimeout(() => {
      this.groupTimer = undefined;
      this.flushing = this.flushing.then(() => this.flush()).catch((err: Error) => this.logger.error({ event: 'alert_flush_failed', error: err.message }, 'could not queue alerts'));
    }, this.config.group_wait);
  }

  private eventFrom(check: CheckConfig, r: ProbeResult, kind: AlertEvent['kind'], previous: AlertEvent['previous'], since: string, at: string): AlertEvent {
    return {
      kind, check: check.name, type: check.type, labels: check.labels, ...(check.description ? { description: check.description } : {}),
      status: r.status, previous, reason: r.reason, ...(r.hint ? { hint: r.hint } : {}), since, at, details: r.details, dependents: [],
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
    const out = new Map<string, AlertEvent[]>();
    const push = (channel: string, e: AlertEvent) => out.set(channel, [...(out.get(channel) ?? []), e]);

    for (const inc of [...this.incidents.values()].filter((i) => i.due === 'resolved')) {
      this.incidents.delete(inc.check);
      if (inc.notified && !inc.folded_under && this.config.send_resolved && inc.resolved) for (const ch of inc.channels) push(ch, inc.resolved);
      // Its dependents that still fail now stand on their own.
      for (const d of this.incidents.values()) {
        if (d.folded_under !== inc.check) continue;
        d.folded_under = undefined;
        if (failingStatus(this.monitor.view(d.check)?.state.status)) {
          d.notified = false;
          d.due = 'firing';
        }
      }
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
      const event: AlertEvent = { ...inc.event, kind, at: now, since: inc.opened_at, dependents: this.dependentsOf(inc.check) };
      const channels = kind === 'reminder' ? inc.channels : this.route(event);
      for (const ch of channels) push(ch, event);
      inc.notified = true;
      inc.channels = [...new Set([...inc.channels, ...channels])];
      inc.last_notified_at = now;
    }
    // Saved only once the messages are in the outbox: a crash in between repeats them rather than losing them.
    for (const [channel, events] of out) await this.dispatch(channel, events.sort((a, b) => a.check.localeCompare(b.check)));
    this.save();
  }

  private tick(): void {
    const now = Date.now();
    let changed = false;
    for (const inc of [...this.incidents.values()]) {
      if (inc.due) continue;
      const view = this.monitor.view(inc.check);
      if (!view) {
        this.incidents.delete(inc.check);
        changed = true;
        continue;
      }
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
        inc.resolved = { ...inc.event, kind: 'resolved', status: 'ok', previous: inc.event.status, reason: view.last?.result.reason ?? 'ok', at, duration_ms: Date.parse(view.state.since) - Date.parse(inc.opened_at), dependents: [] };
        inc.due = 'resolved';
        changed = true;
      } else if (failingStatus(status) && !inc.folded_under && this.config.repeat_every > 0 && now - Date.parse(inc.last_notified_at ?? inc.opened_at) >= this.config.repeat_every) {
        const last = view.last?.result;
        if (last && last.status !== 'ok') inc.event = { ...inc.event, status: last.status, reason: last.reason, ...(last.hint ? { hint: last.hint } : {}), details: last.details };
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
    const snapshot = JSON.stringify({ incidents: [...this.incidents.values()] });
    this.saving = this.saving
      .then(() => writeFileAtomic(this.file, snapshot))
      .catch((err: Error) => this.logger.error({ event: 'incidents_write_failed', error: err.message }, 'cannot save alert incidents'));
  }
}
