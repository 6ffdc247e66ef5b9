/**
 * `pod-dag`: the same engine as the action, from a terminal, to try a DAG before pushing it.
 *
 *   pod-dag validate FILE
 *   pod-dag plan FILE [--params YAML|JSON] [--namespace NS] [-o yaml|json]
 *   pod-dag run FILE [--params …] [--namespace NS] [--context NAME] [--max-parallel N] [--keep-pods P]
 *                    [--api-qps N] [--api-burst N]
 *
 * Exit codes: 0 success, 1 the DAG failed or was cancelled, 2 bad usage or an invalid spec.
 */
import { runCli } from './commands.ts';
import { terminalText } from '../report/workflow-commands.ts';

/** Runs `pod-dag` with the process's arguments and exits with its code. */
export function cli(): void {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${signal}: cancelling the run (deleting its pods); press Ctrl-C again to quit at once\n`);
    controller.abort(signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  runCli(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: controller.signal,
  }).then(
    // Exit at once: a watch or keep-alive socket being torn down must not hold the terminal.
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(terminalText(`pod-dag: ${err instanceof Error ? err.message : String(err)}\n`));
      process.exit(2);
    },
  );
}
