import { describe, expect, it } from 'vitest';
import { DueQueue, type DueItem } from '../src/checks/due-queue.js';

interface Item extends DueItem {
  name: string;
}
const item = (name: string): Item => ({ name, dueAt: 0, queueIndex: -1 });

/** A small deterministic generator, so a failure can be replayed. */
function numbers(seed: number): () => number {
  let x = seed;
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 100_000;
}

describe('due queue', () => {
  it('gives items back earliest first, after moves and removals, and forgets removed ones', () => {
    const queue = new DueQueue<Item>();
    const next = numbers(7);
    const items = Array.from({ length: 2000 }, (_, i) => item(`c${i}`));
    for (const it of items) queue.set(it, next());
    // Move some later or earlier, remove others: the order must hold through every kind of change.
    for (const it of items.filter((_, i) => i % 3 === 0)) queue.set(it, next());
    const removed = items.filter((_, i) => i % 5 === 0);
    for (const it of removed) queue.remove(it);
    expect(removed.every((it) => it.queueIndex === -1)).toBe(true);
    queue.remove(removed[0] as Item);

    const expected = items
      .filter((_, i) => i % 5 !== 0)
      .map((it) => [it.dueAt, it.name] as const)
      .sort((a, b) => a[0] - b[0]);
    const out: (readonly [number, string])[] = [];
    for (let it = queue.shift(); it; it = queue.shift()) out.push([it.dueAt, it.name]);
    expect(out.map(([at]) => at)).toEqual(expected.map(([at]) => at));
    expect(new Set(out.map(([, name]) => name))).toEqual(new Set(expected.map(([, name]) => name)));
    expect(queue.size).toBe(0);
  });

  it('peeks at the earliest item without taking it, and queues an item once however often it is set', () => {
    const queue = new DueQueue<Item>();
    const a = item('a');
    const b = item('b');
    queue.set(a, 50);
    queue.set(b, 20);
    queue.set(a, 10);
    queue.set(a, 30);
    expect(queue.size).toBe(2);
    expect(queue.peek()?.name).toBe('b');
    expect(queue.peek()?.name).toBe('b');
    queue.clear();
    expect([queue.size, a.queueIndex, b.queueIndex]).toEqual([0, -1, -1]);
  });
});
