/**
 * `dry-run`: every task's pod submitted with `dryRun=All`, so the cluster's RBAC, admission, quota
 * and schema checks speak before anything runs.
 */
import { systemClock } from '../common/clock.ts';
import { effectiveRunId } from '../common/run.ts';
import { runContext, runDates } from '../dag/run-dates.ts';
import type { RunState } from '../dag/types.ts';
import { classifyError, describeError } from '../kube/errors.ts';
import { placeholderRender, podName, renderPod } from '../kube/pod.ts';
import type { DryRunVerdict } from '../report/types.ts';
import type { RunDagOptions } from './options.ts';

/** Result of `dryRunDag`: a verdict per task, and a run state that says the same. */
export interface DryRunResult {
  verdicts: DryRunVerdict[];
  state: RunState;
}

/**
 * `dry-run`: renders every task's pod (attempt 1; upstream outputs as `<tasks.x.outputs.y>`
 * placeholders) and submits it with `dryRun=All`, so the cluster's RBAC, admission, quota and
 * schema checks speak. Nothing runs. A task is `succeeded` in the returned state when the cluster
 * would accept its pod, `failed` (class configuration, the cluster's message) when not.
 */
export async function dryRunDag(options: Omit<RunDagOptions, 'mode' | 'maxParallel' | 'keepPods'> & Partial<Pick<RunDagOptions, 'maxParallel' | 'keepPods'>>): Promise<DryRunResult> {
  const o = options;
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const runId = effectiveRunId(o.context, o.runId, started);
  await o.reporter.runStarted?.({ mode: 'dry-run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
  const verdicts = await Promise.all(
    o.spec.tasks.map(async (task): Promise<DryRunVerdict> => {
      // A matrix written out is checked with its first combination; a sensor with its first poke.
      const first = task.strategy?.matrix.kind === 'static' ? task.strategy.matrix.instances[0]! : null;
      const poke = task.sensor ? 1 : undefined;
      const name = podName({ dag: o.spec.name, runId, runAttempt: o.context.runAttempt, task: first?.id ?? task.id, attempt: 1, poke });
      const run = o.run ?? runContext(runDates({ start: started, schedule: null, logicalDate: null }));
      const render = placeholderRender(o.params, undefined, { run, matrix: first?.values ?? null });
      let verdict: DryRunVerdict;
      try {
        const pod = renderPod(task, 1, { spec: o.spec, namespace: o.namespace, runId, context: o.context, render, poke, instance: first === null ? null : { id: first.id, group: task.id } });
        await o.pods.create(o.namespace, pod, { dryRun: true });
        verdict = { task: task.id, pod: name, accepted: true, message: null };
      } catch (err) {
        const e = classifyError(err);
        const message = e.kind === 'unknown' && !e.status ? (err as Error).message : describeError(err, `create pod ${name} in namespace ${o.namespace}`, o.pods.server);
        verdict = { task: task.id, pod: name, accepted: false, message };
      }
      await o.reporter.dryRunVerdict?.(verdict);
      return verdict;
    }),
  );
  const finishedAt = clock.now();
  const state: RunState = {
    dag: o.spec.name,
    startedAt: started,
    finishedAt,
    result: verdicts.every((v) => v.accepted) ? 'success' : 'failure',
    cancelled: null,
    tasks: verdicts.map((v) => ({
      id: v.task,
      result: v.accepted ? 'succeeded' : 'failed',
      attempts: [],
      outputs: {},
      reason: v.accepted ? 'the cluster would accept its pod (dry run)' : v.message,
      reusedFrom: null,
      retryAt: null,
    })),
  };
  await o.reporter.runFinished?.(state, {});
  return { verdicts, state };
}
