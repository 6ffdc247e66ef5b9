/** Graph helpers: cycles, stable topological order, transitive upstream. */
import { describe, expect, it } from 'vitest';
import { findCycle, reachability, topologicalOrder, upstreamOf } from '../../src/spec/index.ts';

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

describe('reachability', () => {
  it('answers "a depends on b" transitively, for cached and uncached targets alike', () => {
    const tasks = g({ a: [], b: ['a'], c: ['b'], d: [], e: ['c', 'd'] });
    const dependsOn = reachability(tasks);
    const pairs = tasks.flatMap((x) => tasks.map((y) => [x.id, y.id] as const));
    const want = new Map(pairs.map(([x, y]) => [`${x}>${y}`, upstreamOf(new Map(tasks.map((t) => [t.id, t])), x).has(y)]));
    expect(new Map(pairs.map(([x, y]) => [`${x}>${y}`, dependsOn(x, y)]))).toEqual(want);
    expect(dependsOn('e', 'a')).toBe(true);
    expect(dependsOn('a', 'e')).toBe(false);
    expect(dependsOn('e', 'ghost')).toBe(false);
  });

  it('stays linear on a long chain where every task depends on the first', () => {
    const n = 20_000;
    const dependsOn = reachability(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, needs: i === 0 ? [] : [`t${i - 1}`] })));
    let count = 0;
    for (let i = 0; i < n; i++) if (dependsOn(`t${i}`, 't0')) count++;
    expect(count).toBe(n - 1);
  });
});
