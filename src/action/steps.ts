/**
 * The action's main step, start to end: inputs → spec → params → (plan | dry-run | run) →
 * summary, annotations and outputs. It only wires the layers together; each decision lives in
 * its own module. Errors that stop the step come out as `ActionError` (a message for the user,
 * never a stack trace); `main.ts` is the one place that turns them into a failed step.
 *
 * What talks to the cluster (`run`, `dry-run`, the post step's sweep) is in on-cluster.ts,
 * loaded only when a mode needs it: it brings in @kubernetes/client-node, most of the bundle,
 * and `plan` (pull requests from forks, every push) starts much faster without it.
 *
 * Order matters for secrets: every credential input is registered with the runner as a secret
 * before anything else is printed, and the kubeconfig's decoded contents as soon as it is read.
 */
import path from 'node:path';
import type { KeepPods, RunContext } from '../common/run.ts';
import { renderPlanPods } from '../kube/pod.ts';
import { loadSpec, renderTemplate, resolveParams, SpecFileError, templateProblems } from '../spec/index.ts';
import { expandStaticMatrices } from '../spec/matrix.ts';
import type { DagSpec, SpecIssue } from '../spec/types.ts';
import type { RunInfo } from '../report/types.ts';
import { annotateSpecIssues } from '../report/annotations.ts';
import { OutputsReporter } from '../report/outputs.ts';
import { SummaryReporter } from '../report/summary-reporter.ts';
import { renderSpecIssuesSummary } from '../report/summary.ts';
import { readEventSchedule, readRunContext, readSettings, InputError, type Settings } from './settings.ts';
import { backfillDates, runContext, RunDateError, runDates } from '../dag/run-dates.ts';
import { readFileSync } from 'node:fs';
import { maskSecret, type Runner } from './github-runner.ts';
import { urlCredentials } from '../common/url-credentials.ts';
import { sensitiveValues } from '../common/sensitive.ts';
import { ActionError, STATE, type MainDeps } from './errors.ts';

// What callers of the main step know it by (defined in errors.ts, which the cluster side shares).
export { ActionError, STATE, type MainDeps };

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
  for (const secret of urlCredentials(runner.getInput('server'))) maskSecret(runner, secret);

  let settings: Settings;
  try {
    settings = readSettings((name) => runner.getInput(name));
  } catch (err) {
    if (err instanceof InputError) throw new ActionError(err.message);
    throw err;
  }
  const context = readRunContext(env, settings.identity);
  const workspace = env['GITHUB_WORKSPACE'] || process.cwd();
  const spec = await readSpec(settings, workspace, runner);

  const { params, issues } = resolveParams(spec, settings.params);
  if (issues.length > 0) {
    throw new ActionError(`Invalid input 'params':\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
  // A param named like a credential (src/common/sensitive.ts) is masked before it can be printed.
  for (const value of sensitiveValues(params)) maskSecret(runner, value);

  const dates = runDatesOf(settings, env, deps.now?.() ?? Date.now());
  // Before any pod, in every mode: a {{ }} that cannot be rendered with these params.
  const renderIssues = templateProblems(spec, params, dates.run);
  if (renderIssues.length > 0) await reportSpecIssues(settings.dag, renderIssues, runner);
  if (settings.mode === 'plan') {
    await plan(spec, params, settings, context, runner, dates.run);
    return;
  }
  const { runOnCluster } = await import('./on-cluster.ts');
  await runOnCluster(spec, params, settings, context, deps, dates);
}

/** What a run (or each run of a backfill) knows of its dates. */
export interface RunDatesPlan {
  /** The `run` context of this run (for a backfill: of its first date). */
  run: Record<string, string>;
  /** The cron in effect (the `schedule` input, else a schedule event's), or null. */
  schedule: string | null;
  /** A backfill: its logical dates in order, and how many run at once; else null. */
  backfill: { dates: string[]; parallel: number } | null;
}

/**
 * The logical date and data interval: the `schedule` input or a schedule event's cron, the
 * `logical-date` input or the start; for a backfill, every logical date of its range.
 */
function runDatesOf(settings: Settings, env: NodeJS.ProcessEnv, now: number): RunDatesPlan {
  const schedule = settings.schedule ?? readEventSchedule(env, (file) => readFileSync(file, 'utf8'));
  try {
    if (settings.backfill !== null) {
      const dates = backfillDates(settings.backfill.from, settings.backfill.to, schedule);
      if (dates.length === 0) throw new ActionError(`The backfill from ${settings.backfill.from} to ${settings.backfill.to} has no logical dates${schedule ? ` (the schedule "${schedule}" does not fire in it)` : ''}; nothing was run.`);
      const first = runDates({ start: now, schedule, logicalDate: dates[0]! });
      return { run: runContext(first), schedule, backfill: { dates, parallel: settings.backfill.parallel } };
    }
    return { run: runContext(runDates({ start: now, schedule, logicalDate: settings.logicalDate })), schedule, backfill: null };
  } catch (err) {
    if (err instanceof RunDateError) throw new ActionError(`Cannot tell the run's logical date: ${err.message}.`);
    throw err;
  }
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
  if (loaded.spec === null) return reportSpecIssues(settings.dag, loaded.issues, runner);
  return loaded.spec;
}

/** Stops the step on a spec's problems, each reported where the user looks, and never returns. */
async function reportSpecIssues(dag: string, issues: SpecIssue[], runner: Runner): Promise<never> {
  // Every problem reaches the user: all in the step's log and the job summary, the first ones
  // as annotations too (GitHub shows ten per step; the tenth says where the rest are).
  const n = issues.length;
  runner.info(`The DAG spec ${dag} has ${n} problem${n === 1 ? '' : 's'}:`);
  for (const i of issues) runner.info(`  ${i.file}:${i.line}:${i.col}: ${i.message}`);
  annotateSpecIssues(issues, runner);
  await runner.appendSummary(renderSpecIssuesSummary(dag, issues));
  throw new ActionError(`The DAG spec ${dag} has ${n} problem${n === 1 ? '' : 's'} (listed above, as annotations and in the job summary); nothing was run.`, {
    annotated: true,
  });
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

/**
 * `plan`: no cluster, no secrets. Renders every pod and the plan summary. A matrix written out
 * is drawn and rendered per combination; a computed one as one task.
 */
async function plan(spec: DagSpec, params: Record<string, string>, settings: Settings, context: RunContext, runner: Runner, run: Record<string, string> | null): Promise<void> {
  const namespace = settings.namespace ?? spec.namespace ?? 'default';
  const shown = expandStaticMatrices(spec);
  const info: RunInfo = { mode: 'plan', spec: shown, context, namespace, params };
  const pods = renderPlanPods(spec, params, { ...context, namespace }, renderTemplate, run);
  const byTask: Record<string, object> = {};
  shown.tasks.forEach((t, i) => (byTask[t.id] = pods[i]!));
  runner.info(`Plan of DAG ${spec.name}: ${shown.tasks.length} task${shown.tasks.length === 1 ? '' : 's'} in namespace ${namespace}`);
  for (const t of shown.tasks) {
    runner.info(`  ${t.id}${t.needs.length > 0 ? ` (needs ${t.needs.join(', ')})` : ''}: ${t.image}`);
  }
  const secrets = sensitiveValues(params);
  const summary = new SummaryReporter({ runner, logTailLines: settings.logTailLines, secrets });
  await summary.plan(info, byTask);
  const outputs = new OutputsReporter({ runner, env: process.env, secrets });
  await outputs.planFinished(spec);
}

/** Runs the post step: removes what is left of this run's pods. Never fails the job; only warns. */
export async function runPost(deps: Omit<MainDeps, 'signal'>): Promise<void> {
  const { runner, env } = deps;
  for (const name of ['kubeconfig', 'token']) maskSecret(runner, runner.getInput(name));
  for (const secret of urlCredentials(runner.getInput('server'))) maskSecret(runner, secret);
  const namespace = runner.getState(STATE.namespace);
  const runs = runner.getState(STATE.runs);
  if (!namespace || !runs) return; // plan, dry-run, or the main step stopped before creating anything
  const keepPods = runner.getState(STATE.keepPods) || 'on-failure';
  const { cleanUpRun } = await import('./on-cluster.ts');
  const keys = runner.getState(STATE.keys);
  await cleanUpRun(runner, env, namespace, runs, keepPods as KeepPods, keys ? keys : null);
}
