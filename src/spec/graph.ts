/**
 * The one graph module: algorithms over tasks and their `needs`, data in, data out. The spec's
 * checks use cycle detection with the cycle spelled out, a stable topological order and the
 * transitive upstream of every task; the scheduler uses the DAG's shape as index arrays
 * (`buildGraph`: who each task needs, who needs it) and its levels.
 *
 * `buildGraph` numbers tasks by their position in the spec, which is also the scheduler's
 * tie-break order, in O(tasks + edges). The spec's checks have already rejected unknown needs and
 * cycles with positions in the file; its own checks only guard against a caller that skipped
 * validation, and name the tasks involved.
 */

/** The minimal shape of a task the graph functions need. */
export interface GraphNode {
  id: string;
  needs: readonly string[];
}

/**
 * The first dependency cycle found, as the list of task ids along it with the first id repeated
 * at the end (`['a', 'b', 'c', 'a']`: a needs b, b needs c, c needs a), or `null` when there is
 * none. Needs that name unknown tasks are ignored (they are reported separately). Tasks are
 * visited in the given order, so the answer is deterministic.
 */
export function findCycle(tasks: readonly GraphNode[]): string[] | null {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  // 0 = not visited, 1 = on the current path, 2 = done (no cycle through it).
  const state = new Map<string, 0 | 1 | 2>();
  for (const root of tasks) {
    if ((state.get(root.id) ?? 0) !== 0) continue;
    // Iterative DFS: a chain of thousands of tasks must not overflow the stack.
    const path: string[] = [];
    const stack: { id: string; next: number }[] = [{ id: root.id, next: 0 }];
    state.set(root.id, 1);
    path.push(root.id);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const needs = byId.get(top.id)!.needs;
      if (top.next >= needs.length) {
        state.set(top.id, 2);
        stack.pop();
        path.pop();
        continue;
      }
      const dep = needs[top.next++]!;
      if (!byId.has(dep)) continue;
      const s = state.get(dep) ?? 0;
      if (s === 1) return [...path.slice(path.indexOf(dep)), dep];
      if (s === 0) {
        state.set(dep, 1);
        path.push(dep);
        stack.push({ id: dep, next: 0 });
      }
    }
  }
  return null;
}

/**
 * Task ids in an order where every task comes after all the tasks it needs; among tasks that
 * are ready at the same time, the given order wins (Kahn's algorithm, stable). Throws if the
 * graph has a cycle or a need names an unknown task (a validated spec has neither).
 */
export function topologicalOrder(tasks: readonly GraphNode[]): string[] {
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const missing = new Map<string, number>();
  const dependents: number[][] = tasks.map(() => []);
  tasks.forEach((t, i) => {
    const unique = new Set(t.needs);
    for (const dep of unique) {
      const j = index.get(dep);
      if (j === undefined) throw new Error(`task "${t.id}" needs "${dep}", which is not a task`);
      dependents[j]!.push(i);
    }
    missing.set(t.id, unique.size);
  });
  // A binary heap on the file position keeps the order stable in O(n log n).
  const ready = new MinHeap();
  tasks.forEach((t, i) => {
    if (missing.get(t.id) === 0) ready.push(i);
  });
  const order: string[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(tasks[i]!.id);
    for (const d of dependents[i]!) {
      const id = tasks[d]!.id;
      const left = missing.get(id)! - 1;
      missing.set(id, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length !== tasks.length) {
    const cycle = findCycle(tasks);
    throw new Error(`the tasks have a dependency cycle: ${cycle?.join(' → ') ?? '(unknown)'}`);
  }
  return order;
}

/**
 * All tasks `id` depends on, directly or transitively (breadth-first, iterative, so long chains
 * are fine). Unknown needs and cycles are tolerated (they are reported elsewhere).
 */
export function upstreamOf(tasks: ReadonlyMap<string, GraphNode>, id: string): Set<string> {
  const seen = new Set<string>();
  const queue = [...(tasks.get(id)?.needs ?? [])];
  while (queue.length > 0) {
    const dep = queue.pop()!;
    if (seen.has(dep) || !tasks.has(dep)) continue;
    seen.add(dep);
    queue.push(...tasks.get(dep)!.needs);
  }
  seen.delete(id);
  return seen;
}

/**
 * A reachability test over the needs graph: `dependsOn(a, b)` is true when task `a` needs `b`
 * directly or transitively. References usually point at a few tasks, so the first query for a
 * target `b` marks every task downstream of `b` in one reverse walk, O(tasks), and keeps the
 * marks (for up to 256 targets, n bytes each); queries beyond that walk from `a` instead.
 * Either way memory stays linear and a large DAG validates in linear time per target.
 */
export function reachability(tasks: readonly GraphNode[]): (from: string, to: string) => boolean {
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const needs = tasks.map((t) => t.needs.flatMap((n) => (index.has(n) ? [index.get(n)!] : [])));
  const dependents: number[][] = tasks.map(() => []);
  needs.forEach((list, i) => list.forEach((n) => dependents[n]!.push(i)));
  const downstream = new Map<number, Uint8Array>();
  const MAX_CACHED_TARGETS = 256;

  const walk = (start: number, edges: number[][], mark: Uint8Array, stopAt: number): boolean => {
    const stack = [...edges[start]!];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (i === stopAt) return true;
      if (mark[i] === 1) continue;
      mark[i] = 1;
      for (const n of edges[i]!) if (mark[n] !== 1) stack.push(n);
    }
    return false;
  };

  return (from, to) => {
    const a = index.get(from);
    const b = index.get(to);
    if (a === undefined || b === undefined) return false;
    let marks = downstream.get(b);
    if (marks === undefined && downstream.size < MAX_CACHED_TARGETS) {
      marks = new Uint8Array(tasks.length);
      walk(b, dependents, marks, -1);
      downstream.set(b, marks);
    }
    if (marks !== undefined) return marks[a] === 1;
    return walk(a, needs, new Uint8Array(tasks.length), b);
  };
}

/** A min-heap of numbers (file positions). */
class MinHeap {
  #items: number[] = [];
  get size(): number {
    return this.#items.length;
  }
  push(v: number): void {
    const a = this.#items;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.#items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** A DAG of tasks by spec index. */
export interface DagGraph {
  /** Task ids in spec order. */
  ids: string[];
  /** Task id → spec index. */
  indexOf: Map<string, number>;
  /** Direct needs of each task (indexes, in the order written, without duplicates). */
  needs: number[][];
  /** Direct dependants of each task (indexes, ascending). */
  dependants: number[][];
}

/** Builds the graph of `tasks`; throws if a need is unknown, an id repeats, or there is a cycle. */
export function buildGraph(tasks: readonly GraphNode[]): DagGraph {
  const ids = tasks.map((t) => t.id);
  const indexOf = new Map<string, number>();
  ids.forEach((id, i) => {
    if (indexOf.has(id)) throw new Error(`dag: task "${id}" is defined twice; task ids must be unique`);
    indexOf.set(id, i);
  });
  const needs: number[][] = [];
  const dependants: number[][] = ids.map(() => []);
  tasks.forEach((t, i) => {
    const own: number[] = [];
    for (const need of t.needs) {
      const j = indexOf.get(need);
      if (j === undefined) throw new Error(`dag: task "${t.id}" needs "${need}", but there is no task "${need}"`);
      if (j === i) throw new Error(`dag: task "${t.id}" needs itself`);
      if (!own.includes(j)) own.push(j);
    }
    needs.push(own);
    // Visiting tasks in ascending order keeps every dependants list ascending.
    for (const j of own) dependants[j]!.push(i);
  });
  const graph: DagGraph = { ids, indexOf, needs, dependants };
  levels(graph); // throws on a cycle
  return graph;
}

/**
 * The level of every task: 0 for tasks without needs, else 1 + the highest level of its needs
 * (the column a task sits in when the DAG is drawn left to right). Kahn's algorithm; a cycle
 * throws an error naming the tasks that could not be ordered.
 */
export function levels(graph: DagGraph): number[] {
  const n = graph.ids.length;
  const level = new Array<number>(n).fill(0);
  const pending = graph.needs.map((ns) => ns.length);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) queue.push(i);
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head]!;
    for (const d of graph.dependants[i]!) {
      level[d] = Math.max(level[d]!, level[i]! + 1);
      if (--pending[d]! === 0) queue.push(d);
    }
  }
  if (queue.length < n) {
    const stuck = graph.ids.filter((_, i) => pending[i]! > 0);
    throw new Error(`dag: the needs of these tasks form a cycle: ${stuck.map((s) => `"${s}"`).join(', ')}`);
  }
  return level;
}
