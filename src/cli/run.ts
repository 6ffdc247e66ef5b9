/**
 * `pod-dag run`: the action's engine against the current kubeconfig, with the same live log.
 * There is no GitHub run here: the run id is local (`local-<time>`, or POD_DAG_RUN_ID to re-attach
 * to an interrupted run), and the result is printed instead of a job summary.
 */
import { UserError } from '../common/errors.ts';
import type { KeepPods } from '../common/run.ts';
import { runDag } from '../engine/index.ts';
import { connect, preflight } from '../kube/auth.ts';
import { createClient } from '../kube/client.ts';
import { kubePodApi } from '../kube/pod-api.ts';
import { LiveLogReporter } from '../report/live-log.ts';
import type { DagSpec } from '../spec/types.ts';
import { EXIT, localContext, type CliIO } from './io.ts';

/** What `pod-dag run` was asked to do. */
export interface LocalRun {
  spec: DagSpec;
  params: Record<string, string>;
  namespace: string | null;
  context: string | null;
  maxParallel: number;
  keepPods: KeepPods;
}

/** Runs the DAG; resolves to the exit code (0 success, 1 failed or cancelled, 2 cannot start). */
export async function runLocal(run: LocalRun, io: CliIO): Promise<number> {
  try {
    const connection = await connect({ context: run.context ?? undefined }, io.env);
    const namespace = run.namespace ?? run.spec.namespace ?? connection.namespace ?? 'default';
    const client = createClient(connection.kubeConfig);
    io.stderr(`cluster ${client.server}, namespace ${namespace}\n`);
    const checked = await preflight(client, namespace, 'run');
    for (const w of checked.warnings) io.stderr(`warning: ${w}\n`);
    const state = await runDag({
      spec: run.spec,
      params: run.params,
      mode: 'run',
      namespace,
      maxParallel: run.maxParallel,
      keepPods: run.keepPods,
      pods: kubePodApi(client),
      context: localContext(io.env),
      reporter: new LiveLogReporter({ write: (line) => io.stdout(`${line}\n`) }),
      signal: io.signal,
    });
    return state.result === 'success' ? EXIT.ok : EXIT.failed;
  } catch (err) {
    if (err instanceof UserError) {
      io.stderr(`pod-dag run: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}
