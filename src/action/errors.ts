/**
 * What the action's steps share: what a step needs from its surroundings, the error that stops
 * a step (its message is for the user), and the state the main step hands to the post step.
 * Light on purpose: `plan` loads it, and `plan` must not load the Kubernetes client.
 */
import { UserError } from '../common/errors.ts';
import type { Runner } from './github-runner.ts';

/** A problem that stops the step; its message is for the user. */
export class ActionError extends UserError {
  override name = 'ActionError';
  /**
   * The problems were already sent as annotations (a spec's): the step then fails without one
   * more error annotation, which would push one of them past GitHub's ten per step.
   */
  readonly annotated: boolean;

  constructor(message: string, options: { annotated?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.annotated = options.annotated ?? false;
  }
}

/** What the main step needs from its surroundings. */
export interface MainDeps {
  runner: Runner;
  env: NodeJS.ProcessEnv;
  /** Aborted when the runner cancels the job (SIGINT, then SIGTERM). */
  signal: AbortSignal;
  /** The clock's time, epoch ms (tests fix it); default Date.now. */
  now?: () => number;
}

/** State handed from the main step to the post step (`saveState`). */
export const STATE = {
  namespace: 'namespace',
  /**
   * The runs the post step sweeps (src/kube/sweep.ts `SweepTarget`, JSON): the step's run, or
   * every run of its backfill, saved before anything is created.
   */
  runs: 'runs',
  keepPods: 'keep-pods',
  /** The public keys of the run's processes (JSON array): the sweep leaves pods they did not sign alone. */
  keys: 'keys',
} as const;

/** Turns a UserError (a KubeError, a bad stored state: already worded for the user) into an ActionError. */
export async function withKubeErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UserError && !(err instanceof ActionError)) throw new ActionError(err.message);
    throw err;
  }
}
