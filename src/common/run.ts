/**
 * The run's identity and the modes every layer agrees on, declared once, at the bottom: the spec
 * and the DAG know nothing of them, the cluster, the reports, the engine and the action's steps
 * all import them from here.
 */
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
  job: string | null;
  actor: string | null;
  eventName: string | null;
}

/** The run id used in pod names and labels: GitHub's, else `fallback`, else `local-<time>`. */
export function effectiveRunId(context: RunContext, fallback?: string, now: number = systemClock.now()): string {
  return context.runId ?? fallback ?? `local-${now.toString(36)}`;
}
