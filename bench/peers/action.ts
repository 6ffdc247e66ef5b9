/**
 * The action's side: `node dist/index.js` with the environment the runner gives a step (INPUT_*
 * variables, the runner's files), as `npm run demo` runs it, timed from spawn to exit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What one run of the action did. */
export interface ActionRun {
  /** The step's `result` output (`success`, `failure`, ...). */
  result: string;
  startMs: number;
  endMs: number;
  exitCode: number | null;
  /** The end of its log, for a failure message. */
  logTail: string;
}

let runCounter = 0;

/** Runs `dag` (relative to the repository) once; `onStart` gets the process id as soon as it exists. */
export async function runAction(o: {
  dag: string;
  kubeconfig: string;
  params?: string;
  maxParallel: number;
  onStart: (pid: number) => void;
}): Promise<ActionRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pod-dag-bench-action-'));
  try {
    const files = {
      GITHUB_OUTPUT: path.join(dir, 'output'),
      GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
      GITHUB_STATE: path.join(dir, 'state'),
      GITHUB_ENV: path.join(dir, 'env'),
      GITHUB_PATH: path.join(dir, 'path'),
    };
    for (const f of Object.values(files)) writeFileSync(f, '');
    mkdirSync(path.join(dir, 'tmp'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'] ?? dir,
      GITHUB_ACTIONS: 'true',
      RUNNER_TEMP: path.join(dir, 'tmp'),
      GITHUB_WORKSPACE: ROOT,
      GITHUB_REPOSITORY: 'octo-org/data-pipelines',
      GITHUB_RUN_ID: `${Date.now()}${++runCounter}`,
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_WORKFLOW: 'head-to-head',
      GITHUB_EVENT_NAME: 'workflow_dispatch',
      ...files,
      INPUT_DAG: o.dag,
      INPUT_MODE: 'run',
      INPUT_PARAMS: o.params ?? '',
      INPUT_KUBECONFIG: o.kubeconfig,
      // As KubernetesPodOperator's on_finish_action="delete_pod": every pod goes when its task ends.
      'INPUT_KEEP-PODS': 'never',
      'INPUT_MAX-PARALLEL': String(o.maxParallel),
      'INPUT_LOG-TAIL-LINES': '50',
    };
    const startMs = performance.timeOrigin + performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'index.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) o.onStart(child.pid);
    let log = '';
    const keep = (c: string): void => {
      log = (log + c).slice(-200_000);
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const endMs = performance.timeOrigin + performance.now();
    const out = readFileSync(files.GITHUB_OUTPUT, 'utf8');
    // GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks.
    const result = /(?:^|\n)result<<(\S+)\n([\s\S]*?)\n\1/.exec(out)?.[2] ?? /(?:^|\n)result=(.*)/.exec(out)?.[1] ?? '(none)';
    // The errors first (the log's end may be the summary's housekeeping), never the masked values.
    const lines = log.split('\n').filter((l) => !l.startsWith('::add-mask::'));
    if (result !== 'success') {
      // Kept for the report's reader: the whole step log of a run that failed.
      const kept = path.join(os.tmpdir(), `pod-dag-bench-action-failure-${path.basename(o.dag, '.yaml')}-${Date.now()}.log`);
      writeFileSync(kept, lines.join('\n'));
      lines.push(`(the step log is in ${kept})`);
    }
    const errors = lines.filter((l) => l.startsWith('::error'));
    return { result, startMs, endMs, exitCode, logTail: [...errors, ...lines.slice(-20)].join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
