/** Matchers shared by routes and silences: `check`, `status`, `type` or a label name, each a value or a `*` glob. */
import type { Matcher } from './config.js';
import type { AlertEvent } from './types.js';

export interface MatchSubject {
  check: string;
  type: string;
  status: string;
  labels: Record<string, string>;
}

export function subjectOf(e: AlertEvent): MatchSubject {
  return { check: e.check, type: e.type, status: e.status, labels: e.labels };
}

function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

export function matches(matcher: Matcher, s: MatchSubject): boolean {
  return Object.entries(matcher).every(([key, want]) => {
    const have = key === 'check' ? s.check : key === 'type' ? s.type : key === 'status' ? s.status : s.labels[key];
    return have !== undefined && glob(want).test(have);
  });
}
