/** Random DAGs for the crash property tests (crash.test.ts, kill.test.ts), and what they check. */
import { podName } from '../../src/kube/pod.ts';

/** A random DAG: 2..6 tasks, each needing some earlier ones; most sleep a little, some fail. */
export function randomDag(rand: () => number, name: string): { yaml: string; tasks: { id: string; retries: number }[] } {
  const n = 2 + Math.floor(rand() * 5);
  const tasks: { id: string; retries: number }[] = [];
  const lines = ['version: 1', `name: ${name}`, 'tasks:'];
  for (let i = 0; i < n; i++) {
    const id = `t${i}`;
    const needs = tasks.filter(() => rand() < 0.4).map((t) => t.id);
    const r = rand();
    const image = r < 0.15 ? 'sandbox/exit:3' : r < 0.3 ? 'sandbox/succeed' : `sandbox/sleep:${(0.1 + rand() * 0.6).toFixed(2)}`;
    const retries = image === 'sandbox/exit:3' && rand() < 0.5 ? 1 : 0;
    const cond = needs.length > 0 && rand() < 0.2 ? ', if: "always()"' : '';
    lines.push(`  ${id}: {image: "${image}", needs: [${needs.join(', ')}], retries: {limit: ${retries}, delay: 0s}${cond}}`);
    tasks.push({ id, retries });
  }
  return { yaml: lines.join('\n') + '\n', tasks };
}

/**
 * Container starts of every attempt pod of a run, by task (task attempts 1..3), added up over the
 * GitHub run attempts 1..`runAttempts`.
 */
export async function startsByTask(
  cluster: { containerStarts(pod: string): number | Promise<number> },
  dag: string,
  runId: string,
  scope: string | null,
  tasks: { id: string }[],
  runAttempts = 1,
): Promise<Record<string, number[]>> {
  const starts = async (task: string, attempt: number): Promise<number> => {
    let n = 0;
    for (let runAttempt = 1; runAttempt <= runAttempts; runAttempt++) n += await cluster.containerStarts(podName({ dag, runId, scope, runAttempt, task, attempt }));
    return n;
  };
  return Object.fromEntries(await Promise.all(tasks.map(async (t) => [t.id, await Promise.all([1, 2, 3].map((attempt) => starts(t.id, attempt)))] as const)));
}
