/**
 * The action's inputs, read and checked once into one typed object (as actions/checkout's
 * input-helper does), plus the GitHub run context. Nothing here runs at import time: the entry
 * point calls `readSettings` with a function that reads an input.
 */
import { CONCURRENCY_POLICIES, KEEP_PODS, MODES, RERUN_MODES, type ConcurrencyPolicy, type KeepPods, type MatrixLeg, type Mode, type RerunMode, type RunContext } from '../common/run.ts';
import { UserError } from '../common/errors.ts';
import { parseDuration } from '../spec/duration.ts';
import { namespaceProblem } from '../spec/names.ts';
import type { AuthInputs } from '../kube/auth.ts';
import { serverUrlProblem, shownServer } from '../kube/server-url.ts';
import { backfillDates, parseLogicalDate, RunDateError, runDates } from '../dag/run-dates.ts';
import { concurrencyLeaseName } from '../kube/lease-name.ts';
import { DEFAULT_BURST, DEFAULT_QPS } from '../kube/rate-limit.ts';
import { parseApiBurst, parseApiQps, parseWholeNumber, wholeNumberExpected } from '../common/input-values.ts';

export type { ConcurrencyPolicy, KeepPods, RerunMode };

/** Every input of action.yml, parsed. */
export interface Settings {
  /** The spec's path as the user wrote it (relative to the workspace). */
  dag: string;
  mode: Mode;
  /** The raw `params` input (YAML or JSON map); parsed against the spec's params later. */
  params: string;
  namespace: string | null;
  maxParallel: number;
  keepPods: KeepPods;
  logTailLines: number;
  rerun: RerunMode;
  /** The name of the cluster-wide lock (a Lease), or `null` for none. */
  concurrency: string | null;
  concurrencyPolicy: ConcurrencyPolicy;
  concurrencyTimeoutMs: number;
  /** Old runs' pods and state are removed after this long. */
  retentionMs: number;
  auth: AuthInputs;
  /** The `logical-date` input (checked to be a date), or `null`. */
  logicalDate: string | null;
  /** The `schedule` input (checked to be a cron expression), or `null`. */
  schedule: string | null;
  /** A backfill's range (`backfill-from`, `backfill-to`), or `null`. */
  backfill: { from: string; to: string; parallel: number } | null;
  /** What tells this run of the DAG apart beyond the runner's variables (src/common/run.ts). */
  identity: RunIdentityInputs;
  /** The client's rate limit (`api-qps`, `api-burst`): `qps` null sends without a client-side limit. */
  api: { qps: number | null; burst: number };
}

/** The inputs that are part of the run's identity or claim (RunContext's `runKey`, `leg`, `jobInstance`). */
export interface RunIdentityInputs {
  /** The `run-key` input, or null. */
  runKey: string | null;
  /** The `matrix-leg` input (default `${{ toJSON(matrix) }}`), parsed; null outside a matrix. */
  leg: MatrixLeg | null;
  /** The `job-instance` input (default: the job's check run id), or null. */
  jobInstance: string | null;
}

/** The longest `matrix-leg` input read, and how deep it may nest. */
const MATRIX_LEG_MAX_CHARS = 64 * 1024;
const MATRIX_LEG_MAX_DEPTH = 20;

/** How deep a parsed JSON value nests (iteratively: the value may be deeper than the stack). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > MATRIX_LEG_MAX_DEPTH) return max;
    if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push([x, d + 1]);
  }
  return max;
}

/** The longest `run-key`. */
export const RUN_KEY_MAX = 100;
const RUN_KEY = /^[A-Za-z0-9][A-Za-z0-9 _.:/=+@,-]*$/;

/**
 * Parses the identity inputs; each problem goes to `problems`. The `matrix-leg` input is the
 * runner's `toJSON(matrix)`: a JSON object, or `null` (also `''` and `{}`) outside a matrix.
 */
export function readIdentityInputs(getInput: (name: string) => string, problems: string[]): RunIdentityInputs {
  const runKey = getInput('run-key').trim();
  if (runKey !== '' && (runKey.length > RUN_KEY_MAX || !RUN_KEY.test(runKey))) {
    const shown = JSON.stringify(runKey.length > 60 ? `${runKey.slice(0, 60)}…` : runKey);
    problems.push(
      `Invalid input 'run-key': ${shown}. Expected at most ${RUN_KEY_MAX} letters, digits, spaces and any of _ . : / = + @ , -, starting with a letter or digit, ` +
        `e.g. 'run-key: \${{ inputs.region }}': something that differs between the steps or jobs that run this DAG in one workflow run.`,
    );
  }
  const rawLeg = getInput('matrix-leg').trim();
  let leg: MatrixLeg | null = null;
  if (rawLeg !== '' && rawLeg !== 'null') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawLeg);
    } catch {
      parsed = undefined;
    }
    const bound = rawLeg.length > MATRIX_LEG_MAX_CHARS ? `${rawLeg.length.toLocaleString('en-US')} characters long` : parsed !== undefined && depthOf(parsed) > MATRIX_LEG_MAX_DEPTH ? `nested more than ${MATRIX_LEG_MAX_DEPTH} levels deep` : null;
    if (bound !== null) {
      // A matrix leg is a few values (toJSON(matrix)); a huge or deep one would only cost the step.
      problems.push(`Invalid input 'matrix-leg': it is ${bound}; a matrix leg is at most ${MATRIX_LEG_MAX_CHARS.toLocaleString('en-US')} characters and ${MATRIX_LEG_MAX_DEPTH} levels. Leave it unset, or set 'run-key' instead.`);
    } else if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      const shown = JSON.stringify(rawLeg.length > 60 ? `${rawLeg.slice(0, 60)}…` : rawLeg);
      problems.push(
        `Invalid input 'matrix-leg': ${shown} is not a JSON object. Leave it unset: its default, \${{ toJSON(matrix) }}, tells the legs of a matrix apart. ` +
          `To tell runs apart yourself, set 'run-key' instead.`,
      );
    } else if (Object.keys(parsed).length > 0) {
      leg = parsed as MatrixLeg;
    }
  }
  const jobInstance = getInput('job-instance').trim();
  return { runKey: runKey === '' ? null : runKey, leg, jobInstance: jobInstance === '' ? null : jobInstance.slice(0, 200) };
}

/** The most log lines per failed task the summary may show (`log-tail-lines`). */
export const MAX_LOG_TAIL_LINES = 1000;

/** A bad input: the message says which input, what was found and what was expected. */
export class InputError extends UserError {
  override name = 'InputError';
}


/** Reads and checks every input. `getInput` returns '' for an input that was not given. */
export function readSettings(getInput: (name: string) => string): Settings {
  const problems: string[] = [];
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = getInput(name).trim();
    if (raw === '') return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`Invalid input '${name}': '${raw.slice(0, 100)}'. Expected one of: ${allowed.join(', ')}.`);
    return fallback;
  };
  const wholeNumber = (name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = getInput(name).trim();
    if (raw === '') return fallback;
    const n = parseWholeNumber(raw, max);
    if (n !== null) return n;
    problems.push(`Invalid input '${name}': '${raw.slice(0, 100)}'. Expected ${wholeNumberExpected(raw, max)}.`);
    return fallback;
  };
  const duration = (name: string, fallback: string): number => {
    const raw = getInput(name).trim() || fallback;
    const parsed = parseDuration(raw);
    if (parsed.ok) return parsed.ms;
    const tooLong = parsed.reason.startsWith('it is longer') ? ` (${parsed.reason})` : '';
    problems.push(`Invalid input '${name}': '${raw.slice(0, 100)}'. Expected a duration like "90s", "30m", "1h30m" or "7d"${tooLong}.`);
    return 0;
  };
  const optional = (name: string): string | undefined => {
    const raw = getInput(name).trim();
    return raw === '' ? undefined : raw;
  };

  const dag = getInput('dag').trim();
  if (dag === '') problems.push(`Input 'dag' is required: the path of the DAG spec, e.g. 'dag: .github/dags/nightly.yaml'.`);
  const settings: Settings = {
    dag,
    mode: oneOf('mode', MODES, 'run'),
    params: getInput('params'),
    namespace: optional('namespace') ?? null,
    maxParallel: wholeNumber('max-parallel', 0),
    keepPods: oneOf('keep-pods', KEEP_PODS, 'on-failure'),
    // Each failed task's tail is kept in memory until the summary is written, and the summary
    // holds 1 MiB: more lines would cost memory for lines no one can see.
    logTailLines: wholeNumber('log-tail-lines', 50, MAX_LOG_TAIL_LINES),
    rerun: oneOf('rerun', RERUN_MODES, 'failed'),
    concurrency: optional('concurrency') ?? null,
    concurrencyPolicy: oneOf('concurrency-policy', CONCURRENCY_POLICIES, 'wait'),
    concurrencyTimeoutMs: duration('concurrency-timeout', '1h'),
    retentionMs: duration('retention', '30d'),
    auth: {
      kubeconfig: optional('kubeconfig'),
      context: optional('context'),
      server: optional('server'),
      token: optional('token'),
      certificateAuthorityData: optional('certificate-authority-data'),
    },
    logicalDate: optional('logical-date') ?? null,
    schedule: optional('schedule') ?? null,
    backfill: null,
    identity: readIdentityInputs(getInput, problems),
    api: { qps: DEFAULT_QPS, burst: DEFAULT_BURST },
  };
  const qps = getInput('api-qps').trim();
  if (qps !== '') {
    const parsed = parseApiQps(qps);
    if (parsed.ok) settings.api.qps = parsed.value;
    else problems.push(`Invalid input 'api-qps': '${qps.slice(0, 100)}'. Expected ${parsed.expected}.`);
  }
  const burst = getInput('api-burst').trim();
  if (burst !== '') {
    const parsed = parseApiBurst(burst, `'api-qps'`);
    if (parsed.ok) settings.api.burst = parsed.value;
    else problems.push(`Invalid input 'api-burst': '${burst.slice(0, 100)}'. Expected ${parsed.expected}.`);
  }
  try {
    if (settings.logicalDate !== null) parseLogicalDate(settings.logicalDate);
    if (settings.schedule !== null) runDates({ start: 0, schedule: settings.schedule, logicalDate: null });
  } catch (err) {
    if (!(err instanceof RunDateError)) throw err;
    problems.push(`Invalid input '${settings.logicalDate !== null && err.message.startsWith('logical-date') ? 'logical-date' : 'schedule'}': ${err.message}.`);
  }
  const from = optional('backfill-from');
  const to = optional('backfill-to');
  const parallel = wholeNumber('backfill-parallel', 1);
  if ((from === undefined) !== (to === undefined)) {
    problems.push(`Inputs 'backfill-from' and 'backfill-to' go together: give both (the first and the last logical date of the backfill), or neither.`);
  } else if (from !== undefined && to !== undefined) {
    if (settings.logicalDate !== null) problems.push(`Input 'logical-date' cannot be given with a backfill: each run of 'backfill-from'..'backfill-to' has its own logical date.`);
    if (parallel < 1) problems.push(`Invalid input 'backfill-parallel': '${parallel}'. Expected a whole number >= 1.`);
    try {
      backfillDates(from, to, settings.schedule);
      settings.backfill = { from, to, parallel: Math.max(1, parallel) };
    } catch (err) {
      if (!(err instanceof RunDateError)) throw err;
      problems.push(`Invalid backfill: ${err.message}.`);
    }
  }
  if (settings.concurrency !== null) {
    try {
      concurrencyLeaseName(settings.concurrency);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      problems.push(err.message);
    }
  }
  if (settings.namespace !== null) {
    const problem = namespaceProblem(settings.namespace);
    if (problem !== null) problems.push(`Invalid input 'namespace': '${settings.namespace.slice(0, 100)}'. Expected ${problem}.`);
  }
  const { auth } = settings;
  if (auth.server !== undefined && serverUrlProblem(auth.server, false) !== null) {
    problems.push(`Invalid input 'server': '${shownServer(auth.server)}', ${serverUrlProblem(auth.server, false)!}`);
  }
  if (auth.certificateAuthorityData !== undefined && !/^[A-Za-z0-9+/\s]+=*\s*$/.test(auth.certificateAuthorityData)) {
    problems.push(`Invalid input 'certificate-authority-data': expected the CA certificate in base64 (as a kubeconfig's certificate-authority-data holds it).`);
  }
  if (auth.server !== undefined && auth.token === undefined && auth.kubeconfig === undefined) {
    problems.push(`Input 'server' was given without 'token'. Give both (a service-account token), or a 'kubeconfig' instead.`);
  }
  if (auth.token !== undefined && auth.server === undefined && auth.kubeconfig === undefined) {
    problems.push(`Input 'token' was given without 'server'. Give the API server's URL in 'server'.`);
  }
  if (problems.length > 0) throw new InputError(problems.join('\n'));
  return settings;
}

/**
 * The cron of a `schedule` event (`github.event.schedule`), read from the event file the runner
 * gives (GITHUB_EVENT_PATH); `null` for other events or when the file cannot be read.
 */
export function readEventSchedule(env: NodeJS.ProcessEnv, readFile: (path: string) => string): string | null {
  if (env['GITHUB_EVENT_NAME'] !== 'schedule' || !env['GITHUB_EVENT_PATH']) return null;
  try {
    const event = JSON.parse(readFile(env['GITHUB_EVENT_PATH'])) as { schedule?: unknown };
    return typeof event.schedule === 'string' && event.schedule.trim() !== '' ? event.schedule : null;
  } catch {
    return null;
  }
}

/**
 * The GitHub run this step belongs to, from the runner's environment variables, and, from the
 * inputs (`identity`), what tells it apart from the other legs and steps of that run.
 */
export function readRunContext(env: NodeJS.ProcessEnv, identity: RunIdentityInputs | null = null): RunContext {
  const attempt = Number(env['GITHUB_RUN_ATTEMPT'] ?? '1');
  return {
    repository: env['GITHUB_REPOSITORY'] || null,
    runId: env['GITHUB_RUN_ID'] || null,
    runAttempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    sha: env['GITHUB_SHA'] || null,
    ref: env['GITHUB_REF'] || null,
    serverUrl: (env['GITHUB_SERVER_URL'] || 'https://github.com').replace(/\/+$/, ''),
    workflow: env['GITHUB_WORKFLOW'] || null,
    job: env['GITHUB_JOB'] || null,
    actor: env['GITHUB_ACTOR'] || null,
    eventName: env['GITHUB_EVENT_NAME'] || null,
    // The step's id: what the workflow's `id:` says, else `__<owner>_<repo>` (`_2`, `_3`… when
    // the job uses the action again), unique in the job (actions/runner, IdBuilder).
    step: env['GITHUB_ACTION'] || null,
    leg: identity?.leg ?? null,
    runKey: identity?.runKey ?? null,
    jobInstance: identity?.jobInstance ?? null,
  };
}
