/**
 * The run's identity and the modes every layer agrees on, declared once, at the bottom: the spec
 * and the DAG know nothing of them, the cluster, the reports, the engine and the action's steps
 * all import them from here.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { systemClock } from './clock.ts';

/** The values of the `mode` input. */
export const MODES = ['run', 'dry-run', 'plan'] as const;
/** What the action does with the DAG: run it, submit its pods with `dryRun=All`, or only render them. */
export type Mode = (typeof MODES)[number];

/** The values of the `keep-pods` input (and `pod-dag run --keep-pods`). */
export const KEEP_PODS = ['never', 'on-failure', 'always'] as const;
/** What happens to the pods of finished attempts. */
export type KeepPods = (typeof KEEP_PODS)[number];

/** The values of the `rerun` input. */
export const RERUN_MODES = ['failed', 'all'] as const;
/** Which tasks a re-run of a GitHub run (same run id, next attempt) runs again. */
export type RerunMode = (typeof RERUN_MODES)[number];

/** The values of the `concurrency-policy` input. */
export const CONCURRENCY_POLICIES = ['wait', 'skip', 'fail'] as const;
/** What a run does when the `concurrency` lock is held by another run. */
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

/** Where this run comes from on GitHub; every field is optional outside a workflow (the CLI). */
export interface RunContext {
  /** `owner/name`. */
  repository: string | null;
  runId: string | null;
  runAttempt: number;
  sha: string | null;
  ref: string | null;
  /** `https://github.com` or a GitHub Enterprise Server URL. */
  serverUrl: string;
  workflow: string | null;
  /** The job's id (`GITHUB_JOB`): the same in every matrix leg. */
  job: string | null;
  actor: string | null;
  eventName: string | null;
  /** The step's id (`GITHUB_ACTION`); absent outside a workflow. */
  step?: string | null;
  /** The matrix leg (the `matrix-leg` input); absent or null outside a matrix. */
  leg?: MatrixLeg | null;
  /** The `run-key` input; absent or null when not given. */
  runKey?: string | null;
  /**
   * Which run of the job this is (the `job-instance` input: its check run id, unique per job,
   * matrix leg and run attempt):
   * not part of the identity, but of the run's claim, so that two jobs the identity cannot tell
   * apart (one reusable workflow called twice) are found out.
   */
  jobInstance?: string | null;
}

/** The run id used in pod names and labels: GitHub's, else `fallback`, else `local-<time>`. */
export function effectiveRunId(context: RunContext, fallback?: string, now: number = systemClock.now()): string {
  return context.runId ?? fallback ?? `local-${now.toString(36)}`;
}

/**
 * A matrix leg's values, as the runner's `toJSON(matrix)` gives them (the `matrix-leg` input's
 * default); `null` outside a matrix.
 */
export type MatrixLeg = Readonly<Record<string, unknown>>;

/** What, besides the run id, tells one run of a DAG apart from another in the same workflow run. */
export interface RunScopeParts {
  /** The job's id (`GITHUB_JOB`). */
  job: string | null;
  /** The step's id (`GITHUB_ACTION`: the `id:`, or `__<owner>_<repo>` and `_2`, `_3`… for repeats). */
  step: string | null;
  /** The matrix leg's values. */
  leg: MatrixLeg | null;
  /** The `run-key` input: what tells apart runs the runner's variables do not. */
  key: string | null;
}

/** The parts of a context's identity beyond its run id. */
export function runScopeParts(context: Pick<RunContext, 'job' | 'step' | 'leg' | 'runKey'>): RunScopeParts {
  return { job: context.job, step: context.step ?? null, leg: context.leg ?? null, key: context.runKey ?? null };
}

/**
 * The short hash (8 hex digits) of the job, the step, the matrix leg and the `run-key` that goes
 * into pod names, the state ConfigMap's name and the `pod-dag.io/run-scope` label, so that two
 * legs or two steps running the same DAG in one workflow run never share pods or state. `null`
 * when none of them is known (the CLI): names are then those of the run id alone. It does not
 * depend on the run id, so the same leg of the next run has the same scope (the history grid
 * shows that leg's runs). Two identities whose hashes collide are told apart by the run's claim
 * (src/dag/rerun.ts `RunClaim`), which holds them in full: the second fails, nothing is shared.
 */
export function runScope(context: Pick<RunContext, 'job' | 'step' | 'leg' | 'runKey'>): string | null {
  const parts = runScopeParts(context);
  if (parts.job === null && parts.step === null && parts.leg === null && parts.key === null) return null;
  return createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 8);
}


/** A matrix leg in words, `region: eu, size: 2` (keys in the runner's order), or null. */
export function describeLeg(leg: MatrixLeg | null | undefined): string | null {
  if (leg === null || leg === undefined) return null;
  const entries = Object.entries(leg);
  if (entries.length === 0) return null;
  return entries.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

/**
 * The DAG's name as the summary's title shows it, with what tells this run apart from the other
 * legs or steps of the workflow run: `nightly (region: eu)`, `nightly (run-key: us)`.
 */
export function runTitle(dag: string, context: RunContext): string {
  const parts = [describeLeg(context.leg), context.runKey ? `run-key: ${context.runKey}` : null].filter((p): p is string => p !== null);
  return parts.length === 0 ? dag : `${dag} (${parts.join(', ')})`;
}

/**
 * What a step running the DAG says of itself when it starts a run attempt (src/dag/rerun.ts
 * `RunClaim`): the parts of its identity in full (a hash of them is only in names), the `dag`
 * input, a hash of its params (they may hold secrets) and which run of its job it is. A restart
 * of the same step makes the same claim; another step that the identity cannot tell apart (one
 * reusable workflow called twice, a composite action running the DAG twice with other params)
 * makes another one.
 */
export function runClaim(context: RunContext, dagFile: string, params: Record<string, string>): Record<string, string | null> {
  const parts = runScopeParts(context);
  return {
    job: parts.job,
    step: parts.step,
    leg: parts.leg === null ? null : canonicalJson(parts.leg),
    runKey: parts.key,
    dag: dagFile,
    params: createHash('sha256').update(canonicalJson(params)).digest('hex').slice(0, 16),
    jobInstance: context.jobInstance || null,
  };
}
