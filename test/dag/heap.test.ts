/** The min-heap behind the ready queue and the retry timers. */
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/dag/heap.ts';

describe('MinHeap', () => {
  it('pops in order whatever the push order, with ties broken by the comparator', () => {
    const h = new MinHeap<[number, number]>((a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]));
    const items: [number, number][] = [[5, 1], [1, 2], [3, 0], [1, 1], [9, 9], [0, 4], [3, 3]];
    for (const it of items) h.push(it);
    expect(h.size).toBe(7);
    expect(h.peek()).toEqual([0, 4]);
    const out: [number, number][] = [];
    while (h.size > 0) out.push(h.pop()!);
    expect(out).toEqual([[0, 4], [1, 1], [1, 2], [3, 0], [3, 3], [5, 1], [9, 9]]);
    expect(h.pop()).toBeUndefined();
  });

  it('counts O(log n) steps per push and pop', () => {
    let steps = 0;
    const h = new MinHeap<number>((a, b) => a < b, () => steps++);
    for (let i = 1024; i > 0; i--) h.push(i); // each new item is the smallest: a full sift-up
    expect(steps).toBeLessThanOrEqual(1024 * 11);
    steps = 0;
    h.pop();
    expect(steps).toBeLessThanOrEqual(11);
  });
});
