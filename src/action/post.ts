/**
 * The action's post step (dist/post.js): sweeps what is left of this run's pods after the main
 * step, whatever happened to it (cancelled, crashed, killed). It only ever warns: a cleanup
 * problem must not fail a job whose work is done.
 */
import { runPost } from './steps.ts';
import { githubRunner, ownProcessOutput } from './github-runner.ts';

/** Runs the post step in this process; it always exits 0. */
export async function post(): Promise<never> {
  const runner = githubRunner();
  ownProcessOutput(runner);
  try {
    await runPost({ runner, env: process.env });
  } catch (err) {
    runner.warning(`pod-dag-action post step: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exit(0);
}
