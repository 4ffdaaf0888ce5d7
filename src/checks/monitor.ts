/**
 * Owns the checks at run time: runs them (one run per check at a time, shared by every caller),
 * feeds results through the state machine, persists transitions and tells subscribers.
 */
import { setMaxListeners } from 'node:events';
import type { CheckConfig, Config } from '../config/load.js';
import { probeKinds } from '../probes/index.js';
import type { ProbeResult } from '../probes/types.js';
import { Redactor } from '../util/redact.js';
import { Limiter, runProbe } from './runner.js';
import { advance, initialState, type CheckState, type CheckStatus, type Transition } from './state.js';
import type { StateStore } from './store.js';

export interface RunRecord {
  check: CheckConfig;
  result: ProbeResult;
  /** ISO time the run finished. */
  at: string;
  state: CheckState;
}

interface Runtime {
  check: CheckConfig;
  fingerprint: string;
  state: CheckState;
  memo: Map<string, unknown>;
  inflight?: Promise<RunRecord>;
  last?: RunRecord;
  /** The reason saved with the state before a restart, until the first run here. */
  savedReason?: string;
}

export interface CheckView {
  check: CheckConfig;
  state: CheckState;
  last?: RunRecord;
  /** Before the first run since start-up: the reason state.json kept for the saved state. */
  savedReason?: string;
  running: boolean;
}

type Listener<T> = (value: T) => void;

export class Monitor {
  private readonly limiter: Limiter;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly shutdown = new AbortController();
  private readonly resultListeners: Listener<RunRecord>[] = [];
  private readonly transitionListeners: Listener<{ transition: Transition; check: CheckConfig }>[] = [];
  private readonly configListeners: Listener<Config>[] = [];
  config: Config;
  private redactor: Redactor;

  constructor(
    config: Config,
    private readonly store?: StateStore,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.config = config;
    this.redactor = new Redactor(config.secrets ?? []);
    this.limiter = new Limiter(config.max_concurrency);
    // Every run in flight listens for shutdown; thousands at once are expected, not a leak.
    setMaxListeners(0, this.shutdown.signal);
    const persisted = store?.load() ?? {};
    const now = this.clock();
    for (const check of config.checks) {
      const saved = persisted[check.name];
      const state =
        saved && saved.status !== 'unknown' ? { status: saved.status, since: saved.since } : initialState(now);
      this.runtimes.set(check.name, {
        check,
        fingerprint: config.fingerprints.get(check.name) ?? '',
        state,
        memo: new Map(),
        ...(saved?.reason !== undefined ? { savedReason: saved.reason } : {}),
      });
    }
  }

  onResult(fn: Listener<RunRecord>): void {
    this.resultListeners.push(fn);
  }

  onTransition(fn: Listener<{ transition: Transition; check: CheckConfig }>): void {
    this.transitionListeners.push(fn);
  }

  onConfig(fn: Listener<Config>): void {
    this.configListeners.push(fn);
  }

  get checks(): CheckConfig[] {
    return [...this.runtimes.values()].map((r) => r.check);
  }

  view(name: string): CheckView | undefined {
    const r = this.runtimes.get(name);
    if (!r) return undefined;
    // One object per view, no spreads: /api/status and the status page ask for thousands at a time.
    const { check, state, last, savedReason } = r;
    const running = r.inflight !== undefined;
    if (last) return { check, state, last, running };
    return savedReason !== undefined ? { check, state, savedReason, running } : { check, state, running };
  }

  views(): CheckView[] {
    return [...this.runtimes.keys()].map((n) => this.view(n) as CheckView);
  }

  /** Runs under way and runs waiting for a slot (max_concurrency). */
  concurrency(): { inFlight: number; queued: number } {
    return { inFlight: this.limiter.inFlight, queued: this.limiter.queued };
  }

  isRunning(name: string): boolean {
    return this.runtimes.get(name)?.inflight !== undefined;
  }

  /** Runs a check now, or joins the run already under way. */
  run(name: string): Promise<RunRecord> {
    const rt = this.runtimes.get(name);
    if (!rt) return Promise.reject(new Error(`no check named ${name}`));
    rt.inflight ??= this.execute(rt).finally(() => (rt.inflight = undefined));
    return rt.inflight;
  }

  private async execute(rt: Runtime): Promise<RunRecord> {
    const { check } = rt;
    const kind = probeKinds[check.type];
    if (!kind) throw new Error(`unknown check type ${check.type}`);
    const probed = await runProbe(kind, check, rt.memo, this.limiter, this.shutdown.signal);
    // Every failing result carries its class, decided by its kind alone, so the state machine can tell a
    // different failure from the same one with other numbers. Redacted here, once: everything downstream
    // (state, logs, API, status page, alerts, outbox) sees only this.
    const result: ProbeResult = this.redactor.value(
      probed.status === 'ok' ? probed : { ...probed, code: kind.failureClass(probed) },
    );
    // A reload may have replaced or removed the check while it ran: record only against the live one. A run cut
    // short by shutdown says nothing about the target: recorded, it would alert and persist a failure on every restart.
    if (this.runtimes.get(check.name) !== rt || this.shutdown.signal.aborted)
      return { check, result, at: this.clock().toISOString(), state: rt.state };
    const now = this.clock();
    const { state, transition } = advance(check.name, rt.state, result, rt.check, now);
    rt.state = state;
    const record: RunRecord = { check: rt.check, result, at: now.toISOString(), state };
    rt.last = record;
    for (const fn of this.resultListeners) fn(record);
    if (transition) {
      void this.persist();
      for (const fn of this.transitionListeners) fn({ transition, check: rt.check });
    }
    return record;
  }

  /**
   * Takes over a check's settled state from elsewhere (in a fleet: the node that ran it before), before its first
   * run here, so a failure that moved is not announced again as a fresh one. The last run seen here is dropped:
   * it is older than the adopted state.
   */
  adopt(name: string, adopted: { status: CheckStatus; since: string; code?: string; reason?: string }): void {
    const rt = this.runtimes.get(name);
    if (!rt) return;
    rt.state = {
      status: adopted.status,
      since: adopted.since,
      ...(adopted.code !== undefined && adopted.status !== 'ok' ? { code: adopted.code } : {}),
    };
    delete rt.last;
    if (adopted.reason !== undefined) rt.savedReason = adopted.reason;
    else delete rt.savedReason;
    void this.persist();
  }

  /** Swaps in a new config: new checks start unknown, removed ones vanish, changed ones keep their state. */
  apply(config: Config): void {
    const now = this.clock();
    const next = new Map<string, Runtime>();
    for (const check of config.checks) {
      const fingerprint = config.fingerprints.get(check.name) ?? '';
      const old = this.runtimes.get(check.name);
      if (old && old.check.type === check.type) {
        // Updated in place so a run under way still lands on this check.
        if (old.fingerprint !== fingerprint) old.memo = new Map();
        old.check = check;
        old.fingerprint = fingerprint;
        next.set(check.name, old);
      } else {
        next.set(check.name, { check, fingerprint, state: initialState(now), memo: new Map() });
      }
    }
    this.runtimes.clear();
    for (const [k, v] of next) this.runtimes.set(k, v);
    this.config = config;
    this.redactor = new Redactor(config.secrets ?? []);
    this.limiter.limit = config.max_concurrency;
    void this.persist();
    for (const fn of this.configListeners) fn(config);
  }

  /**
   * Never rejects (callers fire and forget it): the store reports a failed write and keeps the states in memory.
   * Writes coming back to back are spaced out unless `now` (shutdown).
   */
  persist(now = false): Promise<void> {
    if (!this.store) return Promise.resolve();
    return this.store[now ? 'flush' : 'save'](() =>
      Object.fromEntries(
        [...this.runtimes].map(([name, rt]) => [
          name,
          {
            status: rt.state.status,
            since: rt.state.since,
            ...(rt.last
              ? { reason: rt.last.result.reason }
              : rt.savedReason !== undefined
                ? { reason: rt.savedReason }
                : {}),
          },
        ]),
      ),
    );
  }

  async close(): Promise<void> {
    this.shutdown.abort();
    await this.persist(true);
  }
}
