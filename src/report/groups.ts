/**
 * Sibling groups for the summary's charts: a fan-out of 32 shards drawn as 32 boxes makes a graph
 * thousands of pixels tall whose one failed shard is hard to find; drawn as one box
 * ("shard-00 … shard-31", "31 ✅ 1 ❌") it reads at a glance. Pure: tasks in, groups out.
 *
 * Two tasks are siblings when they need the same groups (so a second stage of per-shard tasks,
 * each needing its own shard, groups too) and, first, when their ids differ only in their digits
 * (`shard-07`, `shard-12`). Only groups of at least `minSize` are drawn as one box; a smaller one
 * is drawn task by task.
 */
import type { TaskSpec } from '../spec/types.ts';

/** One box of the graph: a single task, or siblings drawn together. */
export interface TaskGroup {
  /** The tasks in it, in spec order. */
  members: TaskSpec[];
  /** Indexes (in the returned list) of the boxes it needs, in order. */
  needs: number[];
}

/** Options of `groupSiblings`. */
export interface GroupOptions {
  /** Siblings are drawn as one box when there are at least this many. */
  minSize: number;
  /**
   * When grouping by name and needs leaves more boxes than this, siblings are grouped by needs
   * alone (whatever their names), which is coarser but keeps a big graph drawable.
   */
  maxBoxes: number;
}

/** The spec's tasks in an order where every task comes after its needs (spec order otherwise). */
function topological(tasks: readonly TaskSpec[]): TaskSpec[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const out: TaskSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  // Iterative depth-first walk: a chain of thousands of tasks must not overflow the stack.
  for (const root of tasks) {
    if (state.has(root.id)) continue;
    const stack: { task: TaskSpec; next: number }[] = [{ task: root, next: 0 }];
    state.set(root.id, 'visiting');
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const need = top.task.needs[top.next++];
      if (need === undefined) {
        stack.pop();
        state.set(top.task.id, 'done');
        out.push(top.task);
        continue;
      }
      const dep = byId.get(need);
      if (dep === undefined || state.has(need)) continue; // unknown, done, or a cycle (never in a valid spec)
      state.set(need, 'visiting');
      stack.push({ task: dep, next: 0 });
    }
  }
  return out;
}

/** A task id with every run of digits replaced, so `shard-07` and `shard-12` share a stem. */
function stem(id: string): string {
  return id.replace(/\d+/g, '#');
}

function group(tasks: readonly TaskSpec[], byName: boolean, minSize: number): TaskGroup[] {
  const order = new Map(tasks.map((t, i) => [t.id, i]));
  // A group is known by a number, so a key stays short however deep the graph is (a key that
  // held its needs' keys would grow with every level of a chain).
  const groupOf = new Map<string, number>();
  const idOfKey = new Map<string, number>();
  const membersOf: TaskSpec[][] = [];
  for (const t of topological(tasks)) {
    const needGroups = [...new Set(t.needs.map((n) => groupOf.get(n)).filter((g): g is number => g !== undefined))].sort((a, b) => a - b);
    const key = `${byName ? stem(t.id) : ''}|${needGroups.join(',')}`;
    let g = idOfKey.get(key);
    if (g === undefined) {
      g = membersOf.length;
      idOfKey.set(key, g);
      membersOf.push([]);
    }
    groupOf.set(t.id, g);
    membersOf[g]!.push(t);
  }
  // Boxes: big groups as one, the members of small ones on their own; in spec order of their
  // first member, so the chart reads like the file.
  const boxes: TaskSpec[][] = [];
  for (const members of membersOf) {
    if (members.length >= minSize) boxes.push(members);
    else for (const m of members) boxes.push([m]);
  }
  for (const b of boxes) b.sort((x, y) => (order.get(x.id) ?? 0) - (order.get(y.id) ?? 0));
  boxes.sort((x, y) => (order.get(x[0]!.id) ?? 0) - (order.get(y[0]!.id) ?? 0));
  const boxOf = new Map<string, number>();
  boxes.forEach((b, i) => b.forEach((t) => boxOf.set(t.id, i)));
  return boxes.map((members, i) => {
    const needs = new Set<number>();
    for (const t of members) for (const n of t.needs) {
      const from = boxOf.get(n);
      if (from !== undefined && from !== i) needs.add(from);
    }
    return { members, needs: [...needs].sort((a, b) => a - b) };
  });
}

/** The boxes of the graph: every task once, siblings together past `minSize`. */
export function groupSiblings(tasks: readonly TaskSpec[], options: GroupOptions): TaskGroup[] {
  const byName = group(tasks, true, options.minSize);
  if (byName.length <= options.maxBoxes) return byName;
  return group(tasks, false, Math.min(options.minSize, 2));
}

/** `shard-00 … shard-31`, or the id of a single task. */
export function groupTitle(g: TaskGroup): string {
  const first = g.members[0]?.id ?? '';
  const last = g.members[g.members.length - 1]?.id ?? '';
  return g.members.length === 1 ? first : `${first} … ${last}`;
}
