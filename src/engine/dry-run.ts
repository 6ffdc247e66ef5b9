/**
 * `dry-run`: every task's pod submitted with `dryRun=All`, so the cluster's RBAC, admission, quota
 * and schema checks speak before anything runs.
 */
import { systemClock } from '../common/clock.ts';
import { effectiveRunId, runScope } from '../common/run.ts';
import { runContext, runDates } from '../dag/run-dates.ts';
import type { RunState } from '../dag/types.ts';
import type { V1Pod } from '@kubernetes/client-node';
import { restartPolicyChange } from '../kube/classify.ts';
import { checkPods } from '../kube/dry-run-checks.ts';
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
 * schema checks speak; with `options.cluster`, also checks what that cannot know (Secrets and
 * ConfigMaps exist, a node fits; src/kube/dry-run-checks.ts). Nothing runs. A task is `succeeded`
 * in the returned state when the cluster would accept its pod and the checks found nothing,
 * `failed` (the cluster's message, or what the checks found) when not.
 */
export async function dryRunDag(options: Omit<RunDagOptions, 'mode' | 'maxParallel' | 'keepPods'> & Partial<Pick<RunDagOptions, 'maxParallel' | 'keepPods'>>): Promise<DryRunResult> {
  const o = options;
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const runId = effectiveRunId(o.context, o.runId, started);
  await o.reporter.runStarted?.({ mode: 'dry-run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
  const run = o.run ?? runContext(runDates({ start: started, schedule: null, logicalDate: null }));
  const rendered = o.spec.tasks.map((task) => {
    // A matrix written out is checked with its first combination; a sensor with its first poke.
    const first = task.strategy?.matrix.kind === 'static' ? task.strategy.matrix.instances[0]! : null;
    const poke = task.sensor ? 1 : undefined;
    const name = podName({ dag: o.spec.name, runId, scope: runScope(o.context), runAttempt: o.context.runAttempt, task: first?.id ?? task.id, attempt: 1, poke });
    const render = placeholderRender(o.params, undefined, { run, matrix: first?.values ?? null });
    try {
      const instance = first === null ? null : { id: first.id, group: task.id };
      return { task: task.id, name, pod: renderPod(task, 1, { spec: o.spec, namespace: o.namespace, runId, context: o.context, render, poke, instance }) };
    } catch (err) {
      return { task: task.id, name, error: err };
    }
  });
  // What the server's dry run cannot know (a missing Secret, no node that fits), where allowed.
  const pods = rendered.flatMap((r) => (r.pod === undefined ? [] : [{ task: r.task, pod: r.pod }]));
  const checks = o.cluster === undefined ? null : await checkPods(pods, o.namespace, o.cluster);
  if (checks !== null) await o.reporter.dryRunChecks?.({ done: checks.done, skipped: checks.skipped });
  const verdicts = await Promise.all(
    rendered.map(async (r): Promise<DryRunVerdict> => {
      const problems = checks?.problems.get(r.task) ?? [];
      let verdict: DryRunVerdict;
      try {
        if (r.pod === undefined) throw r.error;
        const answer = (await o.pods.create(o.namespace, r.pod, { dryRun: true })) as V1Pod | null | undefined;
        // Admitted, but changed so that the run would refuse it (a webhook set its restart policy).
        const changed = answer?.spec === undefined ? null : restartPolicyChange(answer);
        verdict = { task: r.task, pod: r.name, accepted: true, message: null, problems: changed === null ? problems : [...problems, changed] };
      } catch (err) {
        const e = classifyError(err);
        const message = e.kind === 'unknown' && !e.status ? (err as Error).message : describeError(err, `create pod ${r.name} in namespace ${o.namespace}`, o.pods.server);
        verdict = { task: r.task, pod: r.name, accepted: false, message, problems };
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
    result: verdicts.every((v) => v.accepted && (v.problems ?? []).length === 0) ? 'success' : 'failure',
    cancelled: null,
    tasks: verdicts.map((v) => ({
      id: v.task,
      result: v.accepted && (v.problems ?? []).length === 0 ? 'succeeded' : 'failed',
      attempts: [],
      outputs: {},
      reason: !v.accepted ? v.message : (v.problems ?? []).length > 0 ? `the cluster would accept its pod, but it would not run: ${v.problems!.join('; ')}` : 'the cluster would accept its pod (dry run)',
      reusedFrom: null,
      retryAt: null,
    })),
  };
  await o.reporter.runFinished?.(state, {});
  return { verdicts, state };
}
