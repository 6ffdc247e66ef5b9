/**
 * Evaluation of a task's `if:` condition, with GitHub's rules for jobs.
 *
 * The expression language is GitHub's own (`@actions/expressions`, wrapped in
 * src/spec/expression.ts): its functions, its coercion and its truthiness. What this module adds
 * is GitHub's rule for job conditions: a condition that calls no status function is implicitly
 * `success() && (condition)`, so `if: params.env == 'prod'` still does not run after a failed
 * need. It reads nothing but the context it is given and never uses `eval` or `Function`.
 */
import {
  callsStatusFunction,
  compileExpression,
  evaluateExpression,
  runsWhenCancelled as exprRunsWhenCancelled,
  truthy,
  type ExprValue,
  type TaskValue,
} from '../spec/expression.ts';
import type { Condition } from '../spec/types.ts';

export { truthy, looseEquals, toNumber, type ExprValue } from '../spec/expression.ts';

/** What a condition can see: params, the tasks it names, the run's dates and the status functions' answers. */
export interface ConditionContext {
  params: Record<string, string>;
  /** `tasks.<id>`: the task's result in GitHub's words and its outputs; `undefined` for an unknown task. */
  task(id: string): TaskValue | undefined;
  /** The `run` context (dates); `null` when not known. */
  run?: Record<string, string> | null;
  /** `success()`: every ancestor succeeded and the run is not cancelled. */
  success: boolean;
  /** `failure()`: some ancestor failed. */
  failure: boolean;
  /** `cancelled()`: the run was cancelled. */
  cancelled: boolean;
}

/** Evaluates the `if:` expression `source` to a value of the language (not yet taken as a boolean). */
export function evaluate(source: string, ctx: ConditionContext): ExprValue {
  const expr = compileExpression(source, 'condition');
  const tasks: Record<string, TaskValue> = {};
  for (const { ref } of expr.refs) {
    if (ref.kind !== 'output' && ref.kind !== 'outputs' && ref.kind !== 'result') continue;
    if (Object.hasOwn(tasks, ref.task)) continue;
    const value = ctx.task(ref.task);
    if (value !== undefined) tasks[ref.task] = value;
  }
  return evaluateExpression(expr, {
    params: ctx.params,
    tasks,
    run: ctx.run ?? null,
    status: { success: ctx.success, failure: ctx.failure, cancelled: ctx.cancelled },
  });
}

/** Whether the condition calls any status function (`success`, `failure`, `always`, `cancelled`). */
export function conditionCallsStatus(source: string): boolean {
  return callsStatusFunction(compileExpression(source, 'condition'));
}

/** Whether the condition calls `always()` or `cancelled()`: such tasks may start after a DAG timeout. */
export function runsWhenCancelled(source: string): boolean {
  return exprRunsWhenCancelled(compileExpression(source, 'condition'));
}

/** The outcome of a task's condition and, when it is false, whether the implicit `success()` decided it. */
export interface ConditionVerdict {
  run: boolean;
  /** True when the condition was false only because of the implicit or default `success()`. */
  becauseOfSuccess: boolean;
}

/**
 * Decides whether a task runs: `null` means the default `success()`; a condition without status
 * functions gets GitHub's implicit `success() && (…)`.
 */
export function decide(condition: Condition | null, ctx: ConditionContext): ConditionVerdict {
  if (condition === null || !conditionCallsStatus(condition.source)) {
    if (!ctx.success) return { run: false, becauseOfSuccess: true };
    if (condition === null) return { run: true, becauseOfSuccess: false };
  }
  return { run: truthy(evaluate(condition.source, ctx)), becauseOfSuccess: false };
}
