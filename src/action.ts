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
import { renderPlanPods } from './kube/pod.ts';
import { connect, preflight } from './kube/auth.ts';
import { createClient } from './kube/client.ts';
import { KubeError } from './kube/errors.ts';
import { cleanupRun, runDag, runPodSelector, type AttemptEnd } from './engine.ts';
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
  await withKubeErrors(() => preflight(client, namespace, mode));

  if (mode === 'run') {
    runner.saveState(STATE.namespace, namespace);
    runner.saveState(STATE.selector, runPodSelector(spec, context));
    runner.saveState(STATE.keepPods, settings.keepPods);
  }

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
  const state: RunState = await withKubeErrors(() =>
    runDag({
      spec,
      params,
      mode,
      namespace,
      maxParallel: settings.maxParallel,
      keepPods: settings.keepPods,
      client,
      context,
      reporter,
      signal,
      logTailLines: settings.logTailLines,
      debug: (line) => runner.debug(line),
      onAttemptEnd: (_end: AttemptEnd) => undefined,
    }),
  );
  finish(spec, state, mode, runner);
}

/** Turns the run's result into the step's: a failed DAG fails the step, with the tasks named. */
function finish(spec: DagSpec, state: RunState, mode: 'run' | 'dry-run', runner: Runner): void {
  if (state.result === 'success') return;
  const failed = state.tasks.filter((t) => t.result === 'failed').map((t) => t.id);
  if (state.result === 'cancelled') {
    throw new ActionError(`DAG ${spec.name} was cancelled${state.cancelled === 'timeout' ? ' (its timeout passed)' : ''}.`);
  }
  if (mode === 'dry-run') {
    throw new ActionError(`Dry run of DAG ${spec.name}: the cluster would refuse the pods of ${failed.join(', ')} (see the summary).`);
  }
  runner.debug(`failed tasks: ${failed.join(', ')}`);
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
    const { deleted, warnings } = await cleanupRun(client, namespace, selector, { keepFinished: keepPods !== 'never' });
    if (deleted.length > 0) runner.info(`Deleted ${deleted.length} leftover pod${deleted.length === 1 ? '' : 's'} of this run: ${deleted.join(', ')}`);
    for (const w of warnings) runner.warning(w);
  } catch (err) {
    runner.warning(`Could not clean up this run's pods (${selector} in namespace ${namespace}): ${(err as Error).message}`);
  }
}
