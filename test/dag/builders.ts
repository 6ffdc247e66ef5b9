/**
 * Tiny builders for scheduler tests: DagSpec objects without YAML, `if:` expressions as
 * text, and the events and decisions the scheduler exchanges.
 */
import type { Condition, DagSpec, RetryPolicy, TaskSpec } from '../../src/spec/types.ts';
import type { AttemptCancelReason, AttemptOutcome, CancelReason, Decision, SchedulerEvent } from '../../src/dag/types.ts';
import type { AttemptClass } from '../../src/spec/types.ts';

/** What a test may set on a task; everything else gets a plain default. */
export interface TaskOptions {
  needs?: string[];
  if?: Condition | null;
  retries?: Partial<RetryPolicy>;
}

/** The retry policy of a task that says nothing: no retries, 2 infrastructure retries, no delay. */
export const NO_RETRIES: RetryPolicy = { limit: 0, delayMs: 0, backoff: 1, maxDelayMs: 3_600_000, on: ['failed'], infrastructure: 2 };

/** A task spec with defaults. */
export function task(id: string, options: TaskOptions = {}): TaskSpec {
  return {
    id,
    needs: options.needs ?? [],
    if: options.if ?? null,
    image: 'busybox:1.36',
    command: null,
    args: null,
    env: [],
    envFrom: [],
    workingDir: null,
    resources: { requests: {}, limits: {} },
    retries: { ...NO_RETRIES, ...options.retries },
    timeoutMs: null,
    startTimeoutMs: 300_000,
    pod: {},
    pos: { line: 1, col: 1 },
  };
}

/** A DAG spec of these tasks. */
export function dag(tasks: TaskSpec[], options: { timeoutMs?: number; name?: string } = {}): DagSpec {
  return {
    version: 1,
    name: options.name ?? 'test-dag',
    namespace: null,
    params: [],
    tasks,
    timeoutMs: options.timeoutMs ?? null,
    file: 'test.yaml',
  };
}

// ---- `if:` expressions ------------------------------------------------------------------

/**
 * Expression text builders: `and(call('failure'), eq(param('env'), lit('prod')))` is
 * `(failure() && (params.env == 'prod'))`. A Condition keeps only its text; the scheduler parses
 * it with GitHub's parser.
 */
export type Expr = string;
/** A condition from its source text (`expr`, the same expression built, documents it; the text is what runs). */
export const cond = (source: string, expr?: Expr): Condition => {
  void expr;
  return { source };
};
export const call = (name: 'success' | 'failure' | 'always' | 'cancelled'): Expr => `${name}()`;
export const lit = (value: string | number | boolean | null): Expr => (typeof value === 'string' ? `'${value.replaceAll("'", "''")}'` : String(value));
export const param = (name: string): Expr => `params.${name}`;
export const output = (taskId: string, name: string): Expr => `tasks.${taskId}.outputs.${name}`;
export const result = (taskId: string): Expr => `tasks.${taskId}.result`;
export const not = (operand: Expr): Expr => `!${operand}`;
export const and = (left: Expr, right: Expr): Expr => `(${left} && ${right})`;
export const or = (left: Expr, right: Expr): Expr => `(${left} || ${right})`;
export const eq = (left: Expr, right: Expr): Expr => `(${left} == ${right})`;
export const ne = (left: Expr, right: Expr): Expr => `(${left} != ${right})`;

/** `if: always()` and friends, ready to use. */
export const ALWAYS = cond('always()', call('always'));
export const FAILURE = cond('failure()', call('failure'));
export const CANCELLED = cond('cancelled()', call('cancelled'));

// ---- events ------------------------------------------------------------------------------

/** An attempt outcome of this class with nothing else said. */
export function outcome(cls: AttemptClass, extra: Partial<AttemptOutcome> = {}): AttemptOutcome {
  return {
    class: cls,
    reason: cls === 'failed' ? 'Error' : null,
    message: null,
    exitCode: cls === 'succeeded' ? 0 : cls === 'failed' ? 1 : null,
    outputs: {},
    node: null,
    ...extra,
  };
}

/** The pod of a task's attempt, as the driver would name it. */
export const podName = (taskId: string, attempt: number): string => `test-dag-${taskId}-${attempt}`;

export const started = (taskId: string, attempt: number, at: number): SchedulerEvent => ({
  type: 'started',
  at,
  task: taskId,
  attempt,
  pod: podName(taskId, attempt),
});

export const finished = (
  taskId: string,
  attempt: number,
  at: number,
  cls: AttemptClass = 'succeeded',
  extra: Partial<AttemptOutcome> = {},
): SchedulerEvent => ({ type: 'finished', at, task: taskId, attempt, ...outcome(cls, extra) });

export const tick = (at: number): SchedulerEvent => ({ type: 'tick', at });
export const cancel = (reason: CancelReason, at: number): SchedulerEvent => ({ type: 'cancel', at, reason });

// ---- decisions ---------------------------------------------------------------------------

export const start = (taskId: string, attempt = 1): Decision => ({ type: 'start', task: taskId, attempt });
export const skip = (taskId: string, reason: string): Decision => ({ type: 'skip', task: taskId, reason });
export const done = (runResult: 'success' | 'failure' | 'cancelled'): Decision => ({ type: 'done', result: runResult });
export const retry = (
  taskId: string,
  failedAttempt: number,
  maxAttempts: number,
  at: number,
  delayMs: number,
  failure: AttemptOutcome = outcome('failed'),
): Decision => ({
  type: 'retry',
  task: taskId,
  failedAttempt,
  nextAttempt: failedAttempt + 1,
  maxAttempts,
  at,
  delayMs,
  outcome: failure,
});
export const giveUp = (taskId: string, attempt: number, reason: string, failure: AttemptOutcome = outcome('failed')): Decision => ({
  type: 'give-up',
  task: taskId,
  attempt,
  reason,
  outcome: failure,
});
export const cancelDecision = (reason: AttemptCancelReason, ...attempts: [string, number][]): Decision => ({
  type: 'cancel',
  reason,
  attempts: attempts.map(([t, a]) => ({ task: t, attempt: a })),
});
