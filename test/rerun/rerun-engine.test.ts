/**
 * Re-running a GitHub run through the real engine on the sandbox, wired the way the action wires
 * it (startRerunSession → runDag's `previous` and `onAttemptEnd`): a failing task fixed between
 * run attempts runs again and nothing before it does; a changed image re-runs its task and the
 * tasks after it, saying why; the state survives the pods (keep-pods never).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RerunMode } from '../../src/dag/rerun.ts';
import { podName } from '../../src/kube/pod.ts';
import { RunStore, startRerunSession } from '../../src/kube/run-store.ts';
import type { DagSpec } from '../../src/spec/types.ts';
import { context, results, run, spec, startCluster, type Cluster } from '../engine/helpers.ts';
import { runScope } from '../../src/common/run.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.sandbox.close();
});

/*
 *   extract ──► transform ──► load
 */
const dagYaml = (transformImage: string, loadImage = 'sandbox/succeed') => `
version: 1
name: etl
tasks:
  extract: {image: sandbox/succeed}
  transform: {image: "${transformImage}", needs: [extract]}
  load: {image: "${loadImage}", needs: [transform]}
`;

/** One GitHub run attempt, as the action runs it: plan from the stored state, record every attempt. */
async function attempt(s: DagSpec, runId: string, runAttempt: number, mode: RerunMode = 'failed') {
  const store = new RunStore({ core: cluster.client.core, namespace: 'default', dag: s.name, runId, repository: 'octo-org/data-pipelines', request: cluster.client.request });
  const session = await startRerunSession(store, { spec: s, params: {}, runAttempt, mode });
  const { state } = await run(cluster, s, {
    context: context(runId, runAttempt),
    previous: session.plan.previous,
    onAttemptEnd: (end) => session.attemptEnded(end),
    recorded: (task, n) => session.recorded(task, n),
  });
  await session.finished(state.result!);
  return { state, plan: session.plan };
}

const starts = (s: DagSpec, runId: string, runAttempt: number, task: string) =>
  cluster.sandbox.containerStarts(podName({ dag: s.name, runId, scope: runScope(context(runId)), runAttempt, task, attempt: 1 }));

describe('re-running a run through the engine', () => {
  it('a failed task fixed between run attempts runs again; the tasks before it do not', async () => {
    const runId = '9100';
    const broken = spec(dagYaml('sandbox/exit:3'));
    const first = await attempt(broken, runId, 1);
    expect(results(first.state)).toEqual({ extract: 'succeeded', transform: 'failed', load: 'skipped' });

    const fixed = spec(dagYaml('sandbox/succeed'));
    const second = await attempt(fixed, runId, 2);
    expect(second.plan.rerun).toEqual([
      { task: 'transform', reason: 'it failed in run attempt 1 (exit code 3)' },
      { task: 'load', reason: 'it did not run in run attempt 1 (skipped there, or not reached)' },
    ]);
    expect(results(second.state)).toEqual({ extract: 'succeeded', transform: 'succeeded', load: 'succeeded' });
    expect(second.state.tasks[0]!.reusedFrom).toEqual({ runAttempt: 1 });
    // Exactly once each: extract ran in attempt 1 only, the others in attempt 2 only.
    expect([starts(fixed, runId, 1, 'extract'), starts(fixed, runId, 2, 'extract')]).toEqual([1, 0]);
    expect([starts(fixed, runId, 1, 'transform'), starts(fixed, runId, 2, 'transform')]).toEqual([1, 1]);
    expect([starts(fixed, runId, 1, 'load'), starts(fixed, runId, 2, 'load')]).toEqual([0, 1]);

    // A third attempt of a fully successful run runs nothing.
    const third = await attempt(fixed, runId, 3);
    expect(third.plan.rerun).toEqual([]);
    expect(results(third.state)).toEqual({ extract: 'succeeded', transform: 'succeeded', load: 'succeeded' });
    for (const t of ['extract', 'transform', 'load']) expect(starts(fixed, runId, 3, t)).toBe(0);
  });

  it('a changed image re-runs its task and everything after it, saying why; rerun all re-runs all', async () => {
    const runId = '9200';
    const v1 = spec(dagYaml('sandbox/sleep:0', 'sandbox/exit:1'));
    await attempt(v1, runId, 1);
    const v2 = spec(dagYaml('sandbox/succeed', 'sandbox/succeed'));
    const second = await attempt(v2, runId, 2);
    expect(second.plan.rerun).toEqual([
      { task: 'transform', reason: 'image changed from sandbox/sleep:0 to sandbox/succeed since run attempt 1' },
      { task: 'load', reason: 'it failed in run attempt 1 (exit code 1)' },
    ]);
    expect(results(second.state)).toEqual({ extract: 'succeeded', transform: 'succeeded', load: 'succeeded' });
    const all = await attempt(v2, runId, 3, 'all');
    expect(all.plan.rerun.map((r) => r.task)).toEqual(['extract', 'transform', 'load']);
    expect(starts(v2, runId, 3, 'extract')).toBe(1);
  });
});
