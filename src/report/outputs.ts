/**
 * The action's outputs, for later steps (a Slack message, an issue opener): `result`,
 * `failed-tasks`, `outputs`, and `summary-json`, the path of a file with the whole run as JSON.
 *
 * Side effects sit behind two narrow seams: an `OutputSink` (default `core.setOutput`) and the
 * directory the JSON file goes to (default `RUNNER_TEMP`, else the OS temp dir).
 */
import * as core from '@actions/core';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScope } from '../common/run.ts';
import type { RunResult, RunState, TaskResult } from '../dag/types.ts';
import type { AttemptClass, DagSpec } from '../spec/types.ts';
import type { DryRunVerdict, Mode, Reporter, RunContext, RunInfo } from './types.ts';
import { makeRedactor, redactDeep } from './escape.ts';
import { shownParams } from '../common/sensitive.ts';
import { formatIso, shownState, taskSpan, type ShownState } from './format.ts';
import { runUrl, specUrl } from './summary.ts';

/** Where step outputs go. */
export interface OutputSink {
  setOutput(name: string, value: string): void;
}

/** Sets step outputs through @actions/core (`$GITHUB_OUTPUT`). */
export const coreOutputSink: OutputSink = {
  setOutput: (name, value) => core.setOutput(name, value),
};

/** One attempt in `summary-json`. Times are ISO 8601 UTC. */
export interface AttemptJson {
  attempt: number;
  pod: string | null;
  node: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  /** `null` while it ran (an interrupted run). */
  class: AttemptClass | null;
  reason: string | null;
  message: string | null;
  exitCode: number | null;
}

/** One task in `summary-json`. */
export interface TaskJson {
  id: string;
  result: TaskResult | null;
  /** `result`, with `retried` for a success after failed attempts. */
  shown: ShownState;
  reason: string | null;
  needs: string[];
  /** The task's line in the spec, and its URL at the commit when on GitHub. */
  line: number | null;
  url: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  attempts: AttemptJson[];
  outputs: Record<string, string>;
  reusedFrom: { runAttempt: number } | null;
}

/** The document `summary-json` points at. Its shape is part of the action's interface. */
export interface SummaryJson {
  version: 1;
  dag: string;
  mode: Mode;
  result: RunResult | null;
  cancelled: RunState['cancelled'];
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  namespace: string | null;
  spec: { file: string; url: string | null };
  run: {
    repository: string | null;
    runId: string | null;
    runAttempt: number;
    sha: string | null;
    ref: string | null;
    workflow: string | null;
    job: string | null;
    /** The step's id (`GITHUB_ACTION`). */
    step: string | null;
    /** The matrix leg's values, or null outside a matrix. */
    matrix: Record<string, unknown> | null;
    /** The `run-key` input, or null. */
    runKey: string | null;
    /** The hash of job, step, matrix leg and run-key in the run's pod names and labels (`pod-dag.io/run-scope`), or null. */
    scope: string | null;
    url: string | null;
  };
  params: Record<string, string>;
  failedTasks: string[];
  tasks: TaskJson[];
  /** The cluster's verdicts, in `dry-run` mode. */
  dryRun?: DryRunVerdict[];
}

/** The ids of failed tasks, in spec order. */
export function failedTasks(state: RunState): string[] {
  return state.tasks.filter((t) => t.result === 'failed').map((t) => t.id);
}

/** Every task's outputs, by task id (`{}` for a task without any); a matrix task's instances by instance id. */
export function taskOutputs(state: RunState): Record<string, Record<string, string>> {
  return Object.fromEntries(state.tasks.flatMap((t) => [t, ...(t.instances ?? [])]).map((t) => [t.id, { ...t.outputs }]));
}

/** The whole run as the `summary-json` document. */
export function summaryJson(info: RunInfo, state: RunState, verdicts?: readonly DryRunVerdict[]): SummaryJson {
  const specs = new Map(info.spec.tasks.map((t) => [t.id, t]));
  const iso = (ms: number | null): string | null => (ms === null ? null : formatIso(ms));
  const doc: SummaryJson = {
    version: 1,
    dag: state.dag,
    mode: info.mode,
    result: state.result,
    cancelled: state.cancelled,
    startedAt: formatIso(state.startedAt),
    finishedAt: iso(state.finishedAt),
    durationMs: state.finishedAt === null ? null : state.finishedAt - state.startedAt,
    namespace: info.namespace,
    spec: { file: info.spec.file, url: specUrl(info) },
    run: {
      repository: info.context.repository,
      runId: info.context.runId,
      runAttempt: info.context.runAttempt,
      sha: info.context.sha,
      ref: info.context.ref,
      workflow: info.context.workflow,
      job: info.context.job,
      step: info.context.step ?? null,
      matrix: info.context.leg ? { ...info.context.leg } : null,
      runKey: info.context.runKey ?? null,
      scope: runScope(info.context),
      url: runUrl(info),
    },
    // A credential's value is `***` (src/common/sensitive.ts).
    params: shownParams(info.params),
    failedTasks: failedTasks(state),
    tasks: state.tasks.map((t): TaskJson => {
      const def = specs.get(t.id);
      const span = taskSpan(t, state);
      return {
        id: t.id,
        result: t.result,
        shown: shownState(t),
        reason: t.reason,
        needs: def === undefined ? [] : [...def.needs],
        line: def?.pos.line ?? null,
        url: def === undefined ? null : specUrl(info, def.pos.line),
        startedAt: span === null ? null : formatIso(span.start),
        finishedAt: span === null ? null : formatIso(span.end),
        durationMs: span === null ? null : span.end - span.start,
        attempts: t.attempts.map((a) => ({
          attempt: a.attempt,
          pod: a.pod,
          node: a.outcome?.node ?? null,
          startedAt: formatIso(a.startedAt),
          finishedAt: iso(a.finishedAt),
          durationMs: a.finishedAt === null ? null : a.finishedAt - a.startedAt,
          class: a.outcome?.class ?? null,
          reason: a.outcome?.reason ?? null,
          message: a.outcome?.message ?? null,
          exitCode: a.outcome?.exitCode ?? null,
        })),
        outputs: { ...t.outputs },
        reusedFrom: t.reusedFrom,
      };
    }),
  };
  if (verdicts !== undefined) doc.dryRun = verdicts.map((v) => ({ ...v }));
  return doc;
}

/** A file name safe on every runner OS, from the DAG and run. */
function fileName(doc: SummaryJson): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
  // The scope keeps apart the files of two steps of one job that run the same DAG.
  return `pod-dag-${safe(doc.dag)}-${safe(doc.run.runId ?? 'local')}${doc.run.scope ? `-${doc.run.scope}` : ''}-${doc.run.runAttempt}-summary.json`;
}

/** Writes the document as pretty JSON under `dir`; returns the file's path. */
export async function writeSummaryJson(doc: SummaryJson, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, fileName(doc));
  await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`, 'utf8');
  return path;
}

/** The default directory for `summary-json`: the runner's temp dir, cleaned after the job. */
export function defaultOutputDir(env: Record<string, string | undefined> = process.env): string {
  const dir = env.RUNNER_TEMP;
  return dir !== undefined && dir !== '' ? dir : tmpdir();
}

/** Options of `setRunOutputs` and `OutputsReporter`. */
export interface OutputsOptions {
  /** Where outputs go; default `runner` when given, else `coreOutputSink`. */
  sink?: OutputSink;
  /** The runner seam (src/action/github-runner.ts `Runner` fits `OutputSink`), used when no `sink` is given. */
  runner?: OutputSink;
  /** Where `summary-json` is written; default `defaultOutputDir(env)`. */
  dir?: string;
  /** The environment to read `RUNNER_TEMP` from; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Values to redact from the `summary-json` file and the `outputs` output (the action's credentials). */
  secrets?: readonly string[];
}

/** Sets every output of a finished run; returns the path of the summary-json file. */
export async function setRunOutputs(
  info: RunInfo,
  state: RunState,
  options: OutputsOptions = {},
  verdicts?: readonly DryRunVerdict[],
): Promise<string> {
  const sink = options.sink ?? options.runner ?? coreOutputSink;
  // An unfinished state (should not happen at runFinished) is not a success.
  sink.setOutput('result', state.result ?? 'failure');
  const redact = makeRedactor(options.secrets ?? []);
  sink.setOutput('failed-tasks', JSON.stringify(failedTasks(state)));
  // A task's output holding the action's own credential (passed to it through a param) is not
  // handed to later steps: GitHub keeps no mask across steps' reads of an output.
  sink.setOutput('outputs', JSON.stringify(redactDeep(taskOutputs(state), redact)));
  const doc = redactDeep(summaryJson(info, state, verdicts), redact);
  const path = await writeSummaryJson(doc, options.dir ?? defaultOutputDir(options.env));
  sink.setOutput('summary-json', path);
  return path;
}

/** Sets the action's outputs when the run (or dry run) ends. */
export class OutputsReporter implements Reporter {
  readonly #options: OutputsOptions;
  #info: RunInfo | null = null;
  readonly #verdicts: DryRunVerdict[] = [];

  constructor(options: OutputsOptions = {}) {
    this.#options = options;
  }

  runStarted(info: RunInfo): void {
    this.#info = info;
  }

  dryRunVerdict(verdict: DryRunVerdict): void {
    this.#verdicts.push(verdict);
  }

  async runFinished(state: RunState): Promise<void> {
    if (this.#info === null) return;
    await setRunOutputs(this.#info, state, this.#options, this.#info.mode === 'dry-run' ? this.#verdicts : undefined);
  }

  async planRendered(info: RunInfo): Promise<void> {
    await setRunOutputs(info, planState(info.spec), this.#options);
  }

  /**
   * `plan` is done: `result` is `success`, nothing failed, no outputs, and `summary-json`
   * lists the tasks (without attempts). `info` adds the GitHub context when given.
   */
  async planFinished(spec: DagSpec, info?: RunInfo): Promise<void> {
    const i: RunInfo = info ?? { mode: 'plan', spec, context: emptyContext(), namespace: spec.namespace, params: {} };
    await setRunOutputs(i, planState(spec), this.#options);
  }
}

/** The state a plan reports: every task `not-run`, the run a success (the plan was made). */
function planState(spec: DagSpec): RunState {
  return {
    dag: spec.name,
    startedAt: 0,
    finishedAt: 0,
    result: 'success',
    cancelled: null,
    tasks: spec.tasks.map((t) => ({ id: t.id, result: 'not-run', attempts: [], outputs: {}, reason: 'plan mode runs nothing', reusedFrom: null, retryAt: null })),
  };
}

/** A context outside GitHub. */
function emptyContext(): RunContext {
  return { repository: null, runId: null, runAttempt: 1, sha: null, ref: null, serverUrl: 'https://github.com', workflow: null, job: null, actor: null, eventName: null };
}
