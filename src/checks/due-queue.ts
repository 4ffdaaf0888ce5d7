/** A binary min-heap of items by due time, with removal of any item: one timer can then serve every check. */

export interface DueItem {
  /** When the item is due (ms since the epoch); change it only through the queue. */
  dueAt: number;
  /** Its place in the heap, -1 when not queued; kept by the queue. */
  queueIndex: number;
}

export class DueQueue<T extends DueItem> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The item due first, without taking it out. */
  peek(): T | undefined {
    return this.heap[0];
  }

  /** Queues the item at `dueAt`, or moves it there when already queued. */
  set(item: T, dueAt: number): void {
    item.dueAt = dueAt;
    if (item.queueIndex < 0) {
      item.queueIndex = this.heap.length;
      this.heap.push(item);
    }
    this.siftDown(this.siftUp(item.queueIndex));
  }

  /** Takes out the item due first. */
  shift(): T | undefined {
    const top = this.heap[0];
    if (top) this.remove(top);
    return top;
  }

  remove(item: T): void {
    const at = item.queueIndex;
    if (at < 0 || this.heap[at] !== item) return;
    const last = this.heap.pop() as T;
    item.queueIndex = -1;
    if (last === item) return;
    this.heap[at] = last;
    last.queueIndex = at;
    this.siftDown(this.siftUp(at));
  }

  clear(): void {
    for (const item of this.heap) item.queueIndex = -1;
    this.heap.length = 0;
  }

  private siftUp(at: number): number {
    const heap = this.heap;
    const item = heap[at] as T;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = heap[parentAt] as T;
      if (parent.dueAt <= item.dueAt) break;
      heap[at] = parent;
      parent.queueIndex = at;
      at = parentAt;
    }
    heap[at] = item;
    item.queueIndex = at;
    return at;
  }

  private siftDown(at: number): void {
    const heap = this.heap;
    const item = heap[at] as T;
    for (;;) {
      let childAt = 2 * at + 1;
      if (childAt >= heap.length) break;
      const right = childAt + 1;
      if (right < heap.length && (heap[right] as T).dueAt < (heap[childAt] as T).dueAt) childAt = right;
      const child = heap[childAt] as T;
      if (child.dueAt >= item.dueAt) break;
      heap[at] = child;
      child.queueIndex = at;
      at = childAt;
    }
    heap[at] = item;
    item.queueIndex = at;
  }
}
