/** What every `pod-dag` command shares: its side effects (`CliIO`), its exit codes, its run context. */
import type { RunContext } from '../common/run.ts';

/** What a command may touch. */
export interface CliIO {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal: AbortSignal;
}

/** Exit codes. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A RunContext for a run from a terminal: a local run id, no GitHub links. */
export function localContext(env: NodeJS.ProcessEnv): RunContext {
  return {
    repository: null,
    runId: env['POD_DAG_RUN_ID'] || null,
    runAttempt: 1,
    sha: null,
    ref: null,
    serverUrl: 'https://github.com',
    workflow: null,
    job: null,
    actor: env['USER'] || null,
    eventName: 'local',
  };
}
