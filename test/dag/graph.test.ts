/** The graph core: needs and dependants by index, levels, and errors naming the tasks involved. */
import { describe, expect, it } from 'vitest';
import { buildGraph, levels } from '../../src/spec/graph.ts';

const t = (id: string, ...needs: string[]) => ({ id, needs });

describe('buildGraph', () => {
  //      b
  //    /   \
  //  a       d -- e
  //    \   /
  //      c
  it('a diamond: needs in written order, dependants ascending, levels by longest path', () => {
    const g = buildGraph([t('a'), t('b', 'a'), t('c', 'a'), t('d', 'c', 'b'), t('e', 'd')]);
    expect(g.needs).toEqual([[], [0], [0], [2, 1], [3]]);
    expect(g.dependants).toEqual([[1, 2], [3], [3], [4], []]);
    expect(levels(g)).toEqual([0, 1, 1, 2, 3]);
  });

  //  a -- b ; a -------- c   (c also needs b: level 2, not 1)
  it('a task with needs at different depths sits after the deepest', () => {
    expect(levels(buildGraph([t('a'), t('b', 'a'), t('c', 'a', 'b')]))).toEqual([0, 1, 2]);
  });

  it('a repeated need counts once', () => {
    expect(buildGraph([t('a'), t('b', 'a', 'a')]).needs).toEqual([[], [0]]);
  });

  const errors: [string, { id: string; needs: string[] }[], RegExp][] = [
    ['an unknown need', [t('a'), t('b', 'c')], /task "b" needs "c", but there is no task "c"/],
    ['a task needing itself', [t('a', 'a')], /task "a" needs itself/],
    ['a duplicate id', [t('a'), t('a')], /task "a" is defined twice/],
    //  a -> b -> c -> a
    ['a cycle', [t('x'), t('a', 'c'), t('b', 'a'), t('c', 'b')], /form a cycle: "a", "b", "c"/],
  ];
  it.each(errors)('%s is an error naming the tasks', (_name, tasks, error) => {
    expect(() => buildGraph(tasks)).toThrow(error);
  });
});
