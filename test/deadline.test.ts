/** A run's signal: aborted by its deadline or by the long-lived parent it follows, until done() unhooks it. */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { deadline } from '../src/util/deadline.js';

describe('deadline', () => {
  it('aborts every run under way with the parent, and none that is done', () => {
    const parent = new AbortController();
    const runs = Array.from({ length: 3 }, () => deadline(parent.signal, 60_000));
    (runs[2] as ReturnType<typeof deadline>).done();
    parent.abort(new Error('shutting down'));
    expect(runs.map((r) => r.signal.aborted)).toEqual([true, true, false]);
    expect((runs[0]?.signal.reason as Error).message).toBe('shutting down');
    expect(runs[0]?.timedOut).toBe(false);
    for (const run of runs) run.done();
    const late = deadline(parent.signal, 60_000);
    expect(late.signal.aborted).toBe(true);
    late.done();
  });

  it('aborts at the deadline with a TimeoutError, then calls the overdue hook after the grace period', async () => {
    const parent = new AbortController();
    let overdue!: () => void;
    const called = new Promise<void>((resolve) => (overdue = resolve));
    const run = deadline(parent.signal, 5, { graceMs: 5, onOverdue: () => overdue() });
    await once(run.signal, 'abort');
    expect(run.timedOut).toBe(true);
    expect((run.signal.reason as DOMException).name).toBe('TimeoutError');
    await called;
    run.done();
    // Done runs no longer follow the parent.
    parent.abort();
    expect(run.signal.reason).toBeInstanceOf(DOMException);
  });
});
