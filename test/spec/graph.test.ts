/** Graph helpers: cycles, stable topological order, transitive upstream. */
import { describe, expect, it } from 'vitest';
import { findCycle, topologicalOrder, upstreamOf } from '../../src/spec/index.ts';

const g = (spec: Record<string, string[]>) => Object.entries(spec).map(([id, needs]) => ({ id, needs }));

describe('findCycle', () => {
  it.each([
    { name: 'no cycle in a diamond', tasks: g({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] }), want: null },
    { name: 'self-loop', tasks: g({ a: ['a'] }), want: ['a', 'a'] },
    { name: 'three-cycle behind a tail', tasks: g({ x: ['a'], a: ['b'], b: ['c'], c: ['a'] }), want: ['a', 'b', 'c', 'a'] },
    { name: 'unknown needs are ignored', tasks: g({ a: ['ghost'] }), want: null },
  ])('$name', ({ tasks, want }) => {
    expect(findCycle(tasks)).toEqual(want);
  });

  it('handles a chain of 20 000 tasks without overflowing the stack', () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) => ({ id: `t${i}`, needs: i === 0 ? ['t19999'] : [`t${i - 1}`] }));
    expect(findCycle(tasks)?.length).toBe(20_001);
  });
});

describe('topologicalOrder', () => {
  //   a   b
  //   |\ /
  //   | c
  //    \|
  //     d
  it('puts needs first and keeps file order among ready tasks', () => {
    expect(topologicalOrder(g({ d: ['a', 'c'], c: ['a', 'b'], b: [], a: [] }))).toEqual(['b', 'a', 'c', 'd']);
  });

  it('throws on a cycle, naming it', () => {
    expect(() => topologicalOrder(g({ a: ['b'], b: ['a'] }))).toThrow('the tasks have a dependency cycle: a → b → a');
  });
});

describe('upstreamOf', () => {
  it('is transitive and excludes the task itself', () => {
    const tasks = new Map(g({ a: [], b: ['a'], c: ['b'], d: [] }).map((t) => [t.id, t]));
    expect([...upstreamOf(tasks, 'c')].sort()).toEqual(['a', 'b']);
    expect([...upstreamOf(tasks, 'd')]).toEqual([]);
  });
});
