/** The state machine's "changed": a failing check whose failure class changes, after failure_threshold results. */
import { describe, expect, it } from 'vitest';
import { advance, initialState, isChange, isRegression, type CheckState } from '../src/checks/state.js';
import type { ProbeResult, Status } from '../src/probes/types.js';

const T = { failure_threshold: 2, success_threshold: 1 };
const r = (status: Status, code?: string): ProbeResult => ({
  status,
  reason: code ?? 'ok',
  timings: { total: 0 },
  details: {},
  observations: [],
  ...(code ? { code } : {}),
});

function feed(results: ProbeResult[], start: CheckState = initialState(new Date(0))): string[] {
  let state = start;
  const seen: string[] = [];
  results.forEach((res, i) => {
    const step = advance('api', state, res, T, new Date(1000 * (i + 1)));
    state = step.state;
    const t = step.transition;
    seen.push(t ? `${t.kind ?? 'status'}:${t.from}->${t.to}:${t.result.code ?? ''}` : '-');
  });
  return seen;
}

describe('check state: a failure that changes class', () => {
  it('changes after failure_threshold results of the new class, and not for the same class', () => {
    expect(
      feed([
        r('fail', 'http_status'),
        r('fail', 'http_status'),
        r('fail', 'http_status'),
        r('fail', 'connect_refused'),
        r('fail', 'connect_refused'),
        r('fail', 'connect_refused'),
      ]),
    ).toEqual(['-', 'status:unknown->fail:http_status', '-', '-', 'changed:fail->fail:connect_refused', '-']);
  });

  it('forgets a new class that did not repeat, and a class restored without one takes the first as its baseline', () => {
    expect(
      feed([r('fail', 'a'), r('fail', 'a'), r('fail', 'b'), r('fail', 'a'), r('fail', 'b'), r('fail', 'a')]),
    ).toEqual(['-', 'status:unknown->fail:a', '-', '-', '-', '-']);
    const restored: CheckState = { status: 'fail', since: new Date(0).toISOString() };
    expect(feed([r('fail', 'b'), r('fail', 'b'), r('fail', 'c'), r('fail', 'c')], restored)).toEqual([
      '-',
      '-',
      '-',
      'changed:fail->fail:c',
    ]);
  });

  it('is neither a regression nor a recovery, and a recovery forgets the class', () => {
    expect(isChange({ kind: 'changed' })).toBe(true);
    expect(isRegression({ from: 'fail', to: 'fail' })).toBe(false);
    expect(feed([r('fail', 'a'), r('fail', 'a'), r('ok'), r('fail', 'b'), r('fail', 'b'), r('fail', 'c')])).toEqual([
      '-',
      'status:unknown->fail:a',
      'status:fail->ok:',
      '-',
      'status:ok->fail:b',
      '-',
    ]);
  });
});
