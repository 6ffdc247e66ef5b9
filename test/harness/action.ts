/**
 * Runs the bundled action (dist/index.js, dist/post.js) exactly as the GitHub runner does:
 * inputs as `INPUT_<NAME>` variables (upper-cased, spaces to underscores, hyphens kept), the
 * runner's file commands (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_STATE, GITHUB_ENV,
 * GITHUB_PATH) as fresh files, workflow commands read from stdout, state saved by `main` handed to
 * `post` as `STATE_<name>` variables, and the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { readIdentityInputs, readRunContext } from '../../src/action/settings.ts';
import { runScope } from '../../src/common/run.ts';

/** The project's root folder. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A workflow command the action printed, e.g. `::error file=a.yaml,line=3::bad`. */
export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

/** What one step run produced. */
export interface StepResult {
  /** The process's exit code; `null` if it was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The step's outputs, parsed from GITHUB_OUTPUT. */
  outputs: Record<string, string>;
  /** The content the step appended to GITHUB_STEP_SUMMARY. */
  summary: string;
  /** State saved with `saveState`, as the runner hands it to the post step. */
  state: Record<string, string>;
  commands: WorkflowCommand[];
  /** Every value registered with `::add-mask::`. */
  masks: string[];
  /** stdout as the runner would show it: every masked value replaced by `***`. */
  maskedLog: string;
}

/** How to run one step. */
export interface StepOptions {
  /** `main` runs dist/index.js, `post` dist/post.js. */
  entry?: 'main' | 'post';
  inputs: Record<string, string>;
  /** Extra environment (GITHUB_RUN_ID, KUBECONFIG, ...); the runner's defaults are filled in. */
  env?: Record<string, string>;
  /** State from an earlier `main` run, for `post`. */
  state?: Record<string, string>;
  /** The workspace (the step's working directory); default: the project's root. */
  cwd?: string;
  /** Called for every stdout line as it arrives; can signal the process (as the runner does on cancel). */
  onLine?: (line: string, step: { signal(sig: NodeJS.Signals): void }) => void;
  /** Kill the process (SIGKILL) and fail if it has not ended by then. */
  deadlineMs?: number;
  /**
   * The job's contexts the runner evaluates action.yml's input defaults with (`matrix`, `job`):
   * the matrix leg's values (default none) and the job's check run id.
   */
  job?: JobContexts;
}

/** The `matrix` and `job` contexts of a job, as much of them as action.yml's defaults read. */
export interface JobContexts {
  matrix?: Record<string, unknown> | null;
  checkRunId?: number;
}

/** The step id the runner gives a `uses: octo-org/pod-dag-action@v1` step without `id:` (GITHUB_ACTION). */
export const DEFAULT_STEP = '__octo-org_pod-dag-action';

/**
 * The inputs the runner passes for `given`: each one given, and every other input of action.yml
 * with its default, evaluated as the runner does (actions/runner's ActionManifestManager
 * evaluates a default with the github, strategy, matrix, job and runner contexts). Only the
 * expressions action.yml uses are modelled; any other fails the test, so a changed default is
 * modelled before a test relies on it. Plain defaults are left to the action (it reads '' as
 * "not given"), as before.
 */
export function runnerInputs(given: Record<string, string>, job: JobContexts = {}): Record<string, string> {
  const action = parseYaml(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const out: Record<string, string> = {};
  for (const [name, input] of Object.entries(action.inputs)) {
    if (Object.hasOwn(given, name) || typeof input.default !== 'string' || !input.default.includes('${{')) continue;
    out[name] = evaluateDefault(input.default, job);
  }
  return { ...out, ...given };
}

function evaluateDefault(text: string, job: JobContexts): string {
  const contexts: Record<string, string> = {
    // The runner's toJSON indents by two spaces; a job without a matrix has a null matrix.
    'toJSON(matrix)': JSON.stringify(job.matrix ?? null, null, 2),
    // A number, as the runner renders one in a string; absent (an older runner), ''.
    'job.check_run_id': job.checkRunId === undefined ? '' : String(job.checkRunId),
  };
  const m = /^\$\{\{\s*(.+?)\s*\}\}$/.exec(text.trim());
  if (m && Object.hasOwn(contexts, m[1]!)) return contexts[m[1]!]!;
  throw new Error(`runnerInputs: cannot model the input default ${JSON.stringify(text)}`);
}

/** Runs one step of the action and returns what the runner would have seen. */
export async function runStep(options: StepOptions): Promise<StepResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-step-'));
  const files = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_ENV: path.join(dir, 'env'),
    GITHUB_PATH: path.join(dir, 'path'),
  };
  for (const file of Object.values(files)) await writeFile(file, '');
  const runnerTemp = path.join(dir, 'tmp');

  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? dir,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: runnerTemp,
    GITHUB_WORKSPACE: options.cwd ?? ROOT,
    GITHUB_REPOSITORY: 'octo-org/data-pipelines',
    GITHUB_RUN_ID: '1000001',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_WORKFLOW: 'nightly',
    GITHUB_JOB: 'sync',
    GITHUB_ACTION: DEFAULT_STEP,
    GITHUB_ACTOR: 'octocat',
    GITHUB_EVENT_NAME: 'schedule',
    ...files,
    ...options.env,
  };
  for (const [name, value] of Object.entries(runnerInputs(options.inputs, options.job))) {
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value;
  await import('node:fs/promises').then((fs) => fs.mkdir(runnerTemp, { recursive: true }));

  const script = path.join(ROOT, 'dist', options.entry === 'post' ? 'post.js' : 'index.js');
  const child: ChildProcess = spawn(process.execPath, [script], {
    cwd: options.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const step = { signal: (sig: NodeJS.Signals) => void child.kill(sig) };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      options.onLine?.(line, step);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const deadlineMs = options.deadlineMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, deadlineMs);
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (code, sig) => resolve([code, sig])),
  );
  clearTimeout(timer);
  if (pending !== '') options.onLine?.(pending, step);

  const result: StepResult = {
    exitCode,
    signal,
    stdout,
    stderr,
    outputs: parseFileCommand(await readFile(files.GITHUB_OUTPUT, 'utf8')),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
    state: parseFileCommand(await readFile(files.GITHUB_STATE, 'utf8')),
    commands: parseCommands(stdout),
    masks: [],
    maskedLog: '',
  };
  result.masks = result.commands.filter((c) => c.command === 'add-mask').map((c) => c.message);
  result.maskedLog = maskLog(stdout, result.masks);
  await rm(dir, { recursive: true, force: true });
  if (timedOut) {
    throw new Error(`the step did not end within ${deadlineMs} ms; its output:\n${stdout}\n${stderr}`);
  }
  return result;
}

/** Parses the `name<<DELIMITER ... DELIMITER` (and legacy `name=value`) lines of a file command. */
export function parseFileCommand(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`file command for '${name}' has no closing delimiter '${delimiter}'`);
      out[name!] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

const unescapeData = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
const unescapeProperty = (s: string) => unescapeData(s).replace(/%3A/g, ':').replace(/%2C/g, ',');

/** Parses the workflow commands (`::name key=value,...::message`) printed on stdout. */
export function parseCommands(stdout: string): WorkflowCommand[] {
  const commands: WorkflowCommand[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!m) continue;
    const properties: Record<string, string> = {};
    for (const pair of (m[2] ?? '').split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0) properties[pair.slice(0, eq)] = unescapeProperty(pair.slice(eq + 1));
    }
    commands.push({ command: m[1]!, properties, message: unescapeData(m[3]!) });
  }
  return commands;
}

/** Replaces every masked value with `***`, as the runner does before showing a log line. */
export function maskLog(log: string, masks: string[]): string {
  let out = log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
  for (const mask of [...masks].sort((a, b) => b.length - a.length)) {
    if (mask.trim() === '') continue;
    out = out.split(mask).join('***');
  }
  return out;
}

/**
 * The run scope (src/common/run.ts `runScope`) of a step run by `runStep` with these options,
 * as the action computes it: for pod names (`podName({ …, scope })`) and state names in tests.
 */
export function stepScope(options: Pick<StepOptions, 'inputs' | 'env' | 'job'> = { inputs: {} }): string | null {
  const inputs = runnerInputs(options.inputs, options.job);
  const problems: string[] = [];
  const identity = readIdentityInputs((name) => inputs[name] ?? '', problems);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const env = { GITHUB_JOB: 'sync', GITHUB_ACTION: DEFAULT_STEP, GITHUB_RUN_ID: '1000001', ...options.env };
  return runScope(readRunContext(env, identity));
}
