import { describe, expect, it } from 'vitest';
import { assignChecks, ownerOf } from '../src/cluster/assign.js';

const members = (names: string[], location = 'fra') => names.map((name) => ({ name, location }));
const checks = (n: number) => Array.from({ length: n }, (_, i) => `check-${i}`);

function owners(names: string[], list: string[]): Map<string, string | undefined> {
  return new Map(names.map((c) => [c, ownerOf(c, members(list))]));
}

describe('rendezvous assignment of checks to members', () => {
  it('spreads 10,000 checks over 3 nodes within 3% of a third each', () => {
    const share = assignChecks(checks(10_000), members(['web-1', 'web-2', 'web-3']));
    for (const list of share.values()) expect(Math.abs(list.length - 10_000 / 3)).toBeLessThan(300);
    expect([...share.values()].flat().sort()).toEqual(checks(10_000).sort());
  });

  it('gives each of 3 nodes some of 30 checks, every check exactly once', () => {
    const share = assignChecks(checks(30), members(['web-1', 'web-2', 'web-3']));
    expect([...share.values()].flat().sort()).toEqual(checks(30).sort());
    for (const list of share.values()) {
      expect(list.length).toBeGreaterThanOrEqual(4);
      expect(list.length).toBeLessThanOrEqual(18);
    }
  });

  it('moves only the leaving node checks when a node leaves, and only the checks the newcomer wins when one joins', () => {
    const names = checks(3_000);
    const three = owners(names, ['web-1', 'web-2', 'web-3']);
    const two = owners(names, ['web-1', 'web-3']);
    let moved = 0;
    for (const c of names) {
      if (three.get(c) === 'web-2') moved++;
      else expect(two.get(c)).toBe(three.get(c));
    }
    expect(moved).toBeGreaterThan(800);
    const four = owners(names, ['web-1', 'web-2', 'web-3', 'web-4']);
    let joined = 0;
    for (const c of names) {
      if (four.get(c) === 'web-4') joined++;
      else expect(four.get(c)).toBe(three.get(c));
    }
    expect(Math.abs(joined - 750)).toBeLessThan(150);
  });

  it('is the same answer in any member order, and restricted to a location when asked', () => {
    const a = members(['web-1', 'web-2', 'web-3']);
    for (const c of checks(200)) expect(ownerOf(c, a)).toBe(ownerOf(c, [...a].reverse()));
    const mixed = [...members(['fra-1', 'fra-2'], 'fra'), ...members(['nyc-1'], 'nyc')];
    const share = assignChecks(checks(100), mixed, 'nyc');
    expect([...share.keys()]).toEqual(['nyc-1']);
    expect(share.get('nyc-1')).toHaveLength(100);
    expect(ownerOf('x', mixed, 'sin')).toBeUndefined();
  });
});
