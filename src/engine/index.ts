/**
 * The engine: the DAG run against a cluster (`run`), or submitted to it with `dryRun=All`
 * (`dry-run`). What the action and the CLI import.
 */
import type { RunState } from '../dag/types.ts';
import { dryRunDag } from './dry-run.ts';
import { runEngine } from './engine.ts';
import type { RunDagOptions } from './options.ts';

export { dryRunDag, type DryRunResult } from './dry-run.ts';
export type { AttemptEnd, KeepPods, RecordedAttempt, RunDagOptions, UnrecordedEnd } from './options.ts';
export { unrecordedWarning } from './engine.ts';

/**
 * Runs the DAG (or, in `dry-run`, submits every pod with `dryRun=All`) and returns the final run
 * state. Reports through `options.reporter`. Throws KubeError only when the run cannot go on at
 * all (the watch was refused).
 */
export async function runDag(options: RunDagOptions): Promise<RunState> {
  if (options.mode === 'dry-run') return (await dryRunDag(options)).state;
  return runEngine(options);
}
