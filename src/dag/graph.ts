/**
 * The DAG's shape as index arrays: who each task needs, who needs it, and its level.
 *
 * Tasks are numbered by their position in the spec, which is also the scheduler's tie-break
 * order. Building costs O(tasks + edges). The spec layer has already rejected unknown needs
 * and cycles with positions in the file; the checks here only guard against a caller that
 * skipped validation, and name the tasks involved.
 */
import type { TaskSpec } from '../spec/types.ts';

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
export function buildGraph(tasks: readonly Pick<TaskSpec, 'id' | 'needs'>[]): DagGraph {
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
