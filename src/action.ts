/**
 * The action's main step, start to end: inputs → spec → params → (plan | dry-run | run) →
 * summary, annotations and outputs. It only wires the layers together; each decision lives in
 * its own module. Errors that stop the step come out as `ActionError` (a message for the user,
 * never a stack trace); `main.ts` is the one place that turns them into a failed step.
 *
 * Order matters for secrets: every credential input is registered with the runner as a secret
 * before anything else is printed, and the kubeconfig's decoded contents as soon as it is read.
 */
import path from 'node:path';
import { LABELS, MANAGED_BY, labelValue, renderPlanPods } from './kube/pod.ts';
import { connect, preflight } from './kube/auth.ts';
import { createClient } from './kube/client.ts';
import { KubeError } from './kube/errors.ts';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { cleanupRun, effectiveRunId, runDag, runPodSelector, type AttemptEnd, type KeepPods } from './engine.ts';
import { acquireLease, concurrencyLeaseName, leaseHolder, type LeaseHandle } from './kube/lease.ts';
import { RunStore, startRerunSession } from './kube/run-store.ts';
import { removeOldRuns } from './kube/housekeeping.ts';
import type { KubeClient } from './kube/client.ts';
import { loadSpec, renderTemplate, resolveParams, SpecFileError } from './spec/index.ts';
import type { DagSpec } from './spec/types.ts';
import type { RunState } from './dag/types.ts';
import { CompositeReporter, type Reporter, type RunContext, type RunInfo } from './report/types.ts';
import { LiveLogReporter } from './report/live-log.ts';
import { AnnotationReporter, annotateSpecIssues } from './report/annotations.ts';
import { OutputsReporter } from './report/outputs.ts';
import { SummaryReporter } from './report/summary-reporter.ts';
import { readRunContext, readSettings, InputError, type Settings } from './settings.ts';
import { maskSecret, type Runner } from './runner.ts';

/** A problem that stops the step; its message is for the user. */
export class ActionError extends Error {
  override name = 'ActionError';
}

/** What the main step needs from its surroundings. */
export interface MainDeps {
  runner: Runner;
  env: NodeJS.ProcessEnv;
  /** Aborted when the runner cancels the job (SIGINT, then SIGTERM). */
  signal: AbortSignal;
}

/** State handed from the main step to the post step (`saveState`). */
export const STATE = {
  namespace: 'namespace',
  selector: 'selector',
  keepPods: 'keep-pods',
} as const;

/**
 * Runs the main step. Resolves when the step's outcome is reported; throws ActionError.
 *
 * Invariant: the step always sets `result` (and `failed-tasks`, `outputs`), also when it stops
 * before the run reports (a bad input or spec, no access to the cluster), so a later step's
 * `steps.<id>.outputs.result == 'failure'` sees every failure.
 */
export async function runMain(deps: MainDeps): Promise<void> {
  const base = deps.runner;
  let resultSet = false;
  const runner: Runner = {
    getInput: (name) => base.getInput(name),
    setSecret: (value) => base.setSecret(value),
    info: (line) => base.info(line),
    logBacklog: () => base.logBacklog?.(),
    debug: (line) => base.debug(line),
    warning: (message, place) => base.warning(message, place),
    error: (message, place) => base.error(message, place),
    setOutput: (name, value) => {
      if (name === 'result') resultSet = true;
      base.setOutput(name, value);
    },
    saveState: (name, value) => base.saveState(name, value),
    getState: (name) => base.getState(name),
    appendSummary: (markdown) => base.appendSummary(markdown),
    setFailed: (message) => base.setFailed(message),
  };
  try {
    await runMainSteps({ ...deps, runner });
  } catch (err) {
    if (!resultSet) {
      base.setOutput('result', deps.signal.aborted ? 'cancelled' : 'failure');
      base.setOutput('failed-tasks', '[]');
      base.setOutput('outputs', '{}');
    }
    throw err;
  }
}

async function runMainSteps(deps: MainDeps): Promise<void> {
  const { runner, env } = deps;
  // Secrets first: nothing may be printed before the runner knows what to mask.
  for (const name of ['kubeconfig', 'token']) maskSecret(runner, runner.getInput(name));

  let settings: Settings;
  try {
    settings = readSettings((name) => runner.getInput(name));
  } catch (err) {
    if (err instanceof InputError) throw new ActionError(err.message);
    throw err;
  }
  const context = readRunContext(env);
  const workspace = env['GITHUB_WORKSPACE'] || process.cwd();
  const spec = await readSpec(settings, workspace, runner);

  const { params, issues } = resolveParams(spec, settings.params);
  if (issues.length > 0) {
    throw new ActionError(`Invalid input 'params':\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }

  if (settings.mode === 'plan') {
    await plan(spec, params, settings, context, runner);
    return;
  }
  await runOnCluster(spec, params, settings, context, deps);
}

/** Reads and validates the spec; a bad one is annotated at its file:line:col and stops the step. */
async function readSpec(settings: Settings, workspace: string, runner: Runner): Promise<DagSpec> {
  let loaded;
  try {
    loaded = await loadSpec(workspaceRelative(settings.dag, workspace), workspace);
  } catch (err) {
    if (err instanceof SpecFileError) throw new ActionError(err.message);
    throw err;
  }
  if (loaded.spec === null) {
    annotateSpecIssues(loaded.issues, runner);
    const n = loaded.issues.length;
    throw new ActionError(`The DAG spec ${settings.dag} has ${n} problem${n === 1 ? '' : 's'} (see the annotations above); nothing was run.`);
  }
  return loaded.spec;
}

/**
 * The spec's path as annotations and the summary's links need it: relative to the workspace (the
 * repository), also when the input was absolute (`${{ github.workspace }}/.github/dags/x.yaml`)
 * or started with `./`. A path outside the workspace is kept as given.
 */
export function workspaceRelative(file: string, workspace: string): string {
  const rel = path.isAbsolute(file) ? path.relative(workspace, file) : path.normalize(file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return file;
  return rel.split(path.sep).join('/');
}

/** `plan`: no cluster, no secrets. Renders every pod and the plan summary. */
async function plan(spec: DagSpec, params: Record<string, string>, settings: Settings, context: RunContext, runner: Runner): Promise<void> {
  const namespace = settings.namespace ?? spec.namespace ?? 'default';
  const info: RunInfo = { mode: 'plan', spec, context, namespace, params };
  const pods = renderPlanPods(spec, params, { ...context, namespace }, renderTemplate);
  const byTask: Record<string, object> = {};
  spec.tasks.forEach((t, i) => (byTask[t.id] = pods[i]!));
  runner.info(`Plan of DAG ${spec.name}: ${spec.tasks.length} task${spec.tasks.length === 1 ? '' : 's'} in namespace ${namespace}`);
  for (const t of spec.tasks) {
    runner.info(`  ${t.id}${t.needs.length > 0 ? ` (needs ${t.needs.join(', ')})` : ''}: ${t.image}`);
  }
  const summary = new SummaryReporter({ runner, logTailLines: settings.logTailLines, secrets: [] });
  await summary.plan(info, byTask);
  const outputs = new OutputsReporter({ runner, env: process.env });
  await outputs.planFinished(spec);
}

/** `run` and `dry-run`: connect, check permissions, then hand over to the engine. */
async function runOnCluster(spec: DagSpec, params: Record<string, string>, settings: Settings, context: RunContext, deps: MainDeps): Promise<void> {
  const { runner, env, signal } = deps;
  const mode = settings.mode === 'dry-run' ? 'dry-run' : 'run';
  const connection = await withKubeErrors(() => connect(settings.auth, env));
  for (const secret of connection.secrets) maskSecret(runner, secret);
  const namespace = settings.namespace ?? spec.namespace ?? connection.namespace ?? 'default';
  const client = createClient(connection.kubeConfig);
  runner.info(`Cluster ${client.server}, namespace ${namespace} (credentials: ${describeSource(connection.source)})`);
  await withKubeErrors(() => preflight(client, namespace, mode, { concurrency: mode === 'run' && settings.concurrency !== null }));

  const secrets = connection.secrets;
  const summary = new SummaryReporter({ runner, logTailLines: settings.logTailLines, secrets });
  const outputs = new OutputsReporter({ runner, env, secrets });
  const reporters: Reporter[] = [
    new LiveLogReporter({ write: (line) => runner.info(line) }),
    summary,
    new AnnotationReporter({ runner, secrets }),
    outputs,
  ];
  const reporter = new CompositeReporter(reporters);
  const common = {
    spec,
    params,
    namespace,
    maxParallel: settings.maxParallel,
    keepPods: settings.keepPods,
    client,
    context,
    reporter,
    signal,
    logTailLines: settings.logTailLines,
    debug: (line: string) => runner.debug(line),
    logBacklog: () => runner.logBacklog?.(),
  };
  if (mode === 'dry-run') {
    const state = await withKubeErrors(() => runDag({ ...common, mode }));
    finish(spec, state, mode);
    return;
  }

  // The run id is fixed once: pod names, labels, the state ConfigMap and the post step's
  // selector must all agree on it.
  const runId = effectiveRunId(context);
  runner.saveState(STATE.namespace, namespace);
  runner.saveState(STATE.selector, runPodSelector(spec, context, runId));
  runner.saveState(STATE.keepPods, settings.keepPods);

  const lease = settings.concurrency === null ? null : await takeLock(settings, settings.concurrency, namespace, context, client, connection.kubeConfig, deps);
  if (lease !== null && !lease.acquired) return;
  try {
    const store = new RunStore({
      core: client.core,
      namespace,
      dag: spec.name,
      runId,
      repository: context.repository,
      request: (what, fn) => client.request(what, fn),
      onNote: (note) => runner.warning(note),
    });
    if (context.runAttempt > 1) await refuseWhileEarlierAttemptRuns(client, namespace, spec, runId, context.runAttempt);
    const session = await withKubeErrors(() => startRerunSession(store, { spec, params, runAttempt: context.runAttempt, mode: settings.rerun }));
    for (const [task, prev] of Object.entries(session.plan.previous)) {
      runner.info(`${task}: succeeded in run attempt ${prev.runAttempt}; reusing its result and outputs`);
    }
    if (session.stored !== null) for (const r of session.plan.rerun) runner.info(`${r.task} runs: ${r.reason}`);

    const state: RunState = await withKubeErrors(() =>
      runDag({
        ...common,
        mode,
        runId,
        previous: session.plan.previous,
        onAttemptEnd: (end: AttemptEnd) => session.attemptEnded(end),
        recorded: (task: string, attempt: number) => session.recorded(task, attempt),
      }),
    );
    if (state.result !== null) await session.finished(state.result).catch((err: unknown) => runner.warning(`Could not record the end of the run: ${(err as Error).message}`));
    const old = await removeOldRuns({
      core: client.core,
      namespace,
      dag: spec.name,
      repository: context.repository,
      runId,
      retentionMs: settings.retentionMs,
      keepPods: settings.keepPods,
      request: (what, fn) => client.request(what, fn),
    });
    if (old.pods.length + old.configMaps.length > 0) {
      runner.info(`Removed ${old.pods.length} pod(s) and ${old.configMaps.length} state ConfigMap(s) of runs older than the retention`);
    }
    for (const e of old.errors) runner.warning(`Housekeeping: ${e}`);
    finish(spec, state, mode);
  } finally {
    await lease?.release();
  }
}

/**
 * A re-run (run attempt N > 1) must not start while pods of an earlier attempt of the same run
 * still run: that happens when the earlier attempt's runner died (its post step never ran), and
 * running those tasks again now would run them twice at once. The step stops and says which pods
 * and how to go on; it never deletes them itself (they may be halfway through a migration).
 */
async function refuseWhileEarlierAttemptRuns(client: KubeClient, namespace: string, spec: DagSpec, runId: string, runAttempt: number): Promise<void> {
  const selector = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.dag}=${labelValue(spec.name)},${LABELS.runId}=${labelValue(runId)}`;
  const pods = await withKubeErrors(() =>
    client.request(`list pods ${selector}`, () => client.core.listNamespacedPod({ namespace, labelSelector: selector })),
  );
  const live = pods.items.filter((p) => {
    const attempt = Number(p.metadata?.labels?.[LABELS.runAttempt] ?? '0');
    const phase = p.status?.phase;
    return attempt < runAttempt && phase !== 'Succeeded' && phase !== 'Failed';
  });
  if (live.length === 0) return;
  const names = live.map((p) => `${p.metadata?.name} (task ${p.metadata?.labels?.[LABELS.task] ?? '?'}, run attempt ${p.metadata?.labels?.[LABELS.runAttempt] ?? '?'}, ${p.status?.phase ?? 'unknown'})`);
  throw new ActionError(
    [
      `This is run attempt ${runAttempt}, but ${live.length} pod${live.length === 1 ? '' : 's'} of an earlier attempt of this run ${live.length === 1 ? 'is' : 'are'} still running in namespace ${namespace}:`,
      ...names.map((n) => `  - ${n}`),
      `Its runner probably stopped without cleaning up. Running now could run ${live.length === 1 ? 'that task' : 'those tasks'} twice at once, so nothing was started.`,
      `Wait for ${live.length === 1 ? 'it' : 'them'} to finish, or stop ${live.length === 1 ? 'it' : 'them'} (kubectl delete pod -n ${namespace} -l '${selector}'), then re-run the job.`,
    ].join('\n'),
  );
}

/**
 * Takes the `concurrency` lock per its policy. Resolves to the held lease, or to a lease that was
 * not acquired after the step's outcome was set (skipped: success with result `skipped`).
 */
async function takeLock(
  settings: Settings,
  name: string,
  namespace: string,
  context: RunContext,
  client: KubeClient,
  kubeConfig: KubeConfig,
  deps: MainDeps,
): Promise<LeaseHandle> {
  const { runner, signal } = deps;
  const lease = await withKubeErrors(() =>
    acquireLease(kubeConfig.makeApiClient(CoordinationV1Api), {
      name: concurrencyLeaseName(name),
      namespace,
      holder: leaseHolder(context),
      policy: settings.concurrencyPolicy,
      waitTimeoutMs: settings.concurrencyTimeoutMs,
      request: (what, fn) => client.request(what, fn),
      watch: client.watch,
      signal,
      onWait: (holder, until) => runner.info(`Waiting for the concurrency lock '${name}': held by ${holder} (until ${new Date(until).toISOString()} unless renewed)`),
      onLost: (reason) => runner.warning(`Lost the concurrency lock '${name}': ${reason}`),
    }),
  );
  if (lease.acquired) {
    runner.info(`Holding the concurrency lock '${name}' (Lease ${namespace}/${concurrencyLeaseName(name)})`);
    return lease;
  }
  if (signal.aborted) throw new ActionError(`Cancelled while waiting for the concurrency lock '${name}'.`);
  if (settings.concurrencyPolicy === 'skip') {
    runner.info(`Skipped: ${lease.reason} (concurrency-policy: skip)`);
    runner.setOutput('result', 'skipped');
    runner.setOutput('failed-tasks', '[]');
    runner.setOutput('outputs', '{}');
    await runner.appendSummary(`## ⏭️ Skipped\n\nAnother run holds the concurrency lock \`${name}\`: ${lease.reason}.\n`);
    return lease;
  }
  throw new ActionError(`Another run holds the concurrency lock '${name}': ${lease.reason}. Nothing was run.`);
}

/** Turns the run's result into the step's: a failed DAG fails the step, with the tasks named. */
function finish(spec: DagSpec, state: RunState, mode: 'run' | 'dry-run'): void {
  if (state.result === 'success') return;
  const failed = state.tasks.filter((t) => t.result === 'failed').map((t) => t.id);
  if (state.result === 'cancelled') {
    throw new ActionError(`DAG ${spec.name} was cancelled${state.cancelled === 'timeout' ? ' (its timeout passed)' : ''}.`);
  }
  if (mode === 'dry-run') {
    throw new ActionError(`Dry run of DAG ${spec.name}: the cluster would refuse the pods of ${failed.join(', ')} (see the summary).`);
  }
  throw new ActionError(`DAG ${spec.name} failed: ${failed.length} task${failed.length === 1 ? '' : 's'} failed (${failed.join(', ')}).`);
}

/** Turns a KubeError (already worded for the user) into an ActionError. */
async function withKubeErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KubeError) throw new ActionError(err.message);
    throw err;
  }
}

function describeSource(source: string): string {
  switch (source) {
    case 'kubeconfig-input':
      return "the 'kubeconfig' input";
    case 'token-input':
      return "the 'server' and 'token' inputs";
    case 'kubeconfig-file':
      return 'the kubeconfig file of an earlier step (KUBECONFIG or ~/.kube/config)';
    case 'in-cluster':
      return 'the in-cluster service account';
    default:
      return source;
  }
}

/** Runs the post step: removes what is left of this run's pods. Never fails the job; only warns. */
export async function runPost(deps: Omit<MainDeps, 'signal'>): Promise<void> {
  const { runner, env } = deps;
  for (const name of ['kubeconfig', 'token']) maskSecret(runner, runner.getInput(name));
  const namespace = runner.getState(STATE.namespace);
  const selector = runner.getState(STATE.selector);
  if (!namespace || !selector) return; // plan, dry-run, or the main step stopped before creating anything
  const keepPods = runner.getState(STATE.keepPods) || 'on-failure';
  try {
    const settings = readSettings((name) => runner.getInput(name));
    const connection = await connect(settings.auth, env);
    for (const secret of connection.secrets) maskSecret(runner, secret);
    const client = createClient(connection.kubeConfig);
    const { deleted, warnings } = await cleanupRun(client, namespace, selector, { keepPods: keepPods as KeepPods });
    if (deleted.length > 0) runner.info(`Deleted ${deleted.length} leftover pod${deleted.length === 1 ? '' : 's'} of this run: ${deleted.join(', ')}`);
    for (const w of warnings) runner.warning(w);
  } catch (err) {
    runner.warning(`Could not clean up this run's pods (${selector} in namespace ${namespace}): ${(err as Error).message}`);
  }
}
