/**
 * The action's main step (dist/index.js). It wires the real runner and the process's signals to
 * `runMain`, and is the one place that turns an error into a failed step.
 *
 * Cancellation: when a workflow is cancelled the runner sends SIGINT, then SIGTERM 7.5 s later,
 * then kills the process. The first signal aborts the run (the engine deletes every live pod of
 * the run within its grace); a second one changes nothing but is not allowed to kill us early.
 */
import { UserError } from '../common/errors.ts';
import { ActionError } from './errors.ts';
import { runMain } from './steps.ts';
import { githubRunner, ownProcessOutput } from './github-runner.ts';

/** Runs the main step in this process and exits with its outcome. */
export async function main(): Promise<never> {
  const runner = githubRunner();
  ownProcessOutput(runner);
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (!controller.signal.aborted) runner.info(`Received ${sig}: cancelling the run and deleting its pods`);
      controller.abort(sig);
    });
  }

  try {
    await runMain({ runner, env: process.env, signal: controller.signal });
  } catch (err) {
    if (err instanceof ActionError && err.annotated) {
      // Its annotations are out already: one more would push one past GitHub's ten per step.
      process.exitCode = 1;
      runner.info(`Error: ${err.message}`);
    } else if (err instanceof UserError) {
      runner.setFailed(err.message);
    } else {
      // A bug of ours, not a user error: say so, with what is needed to report it.
      const e = err instanceof Error ? err : new Error(String(err));
      runner.setFailed(`pod-dag-action hit an internal error: ${e.message}. Please report it with this step's log.`);
      runner.debug(e.stack ?? e.message);
    }
  }
  // Open handles (a watch being torn down, a keep-alive socket) must not keep the step alive.
  process.exit(process.exitCode ?? 0);
}
