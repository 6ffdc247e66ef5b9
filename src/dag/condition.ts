/**
 * Evaluation of a task's `if:` condition, with GitHub's rules for jobs.
 *
 * The AST comes from the spec layer (src/spec/types.ts, `Expr`); this module only evaluates it.
 * It never uses `eval` or `Function`, reads nothing but the context it is given, and costs
 * O(size of the expression).
 *
 * What is implemented, as GitHub's expression docs describe it:
 * - Values are strings, numbers, booleans and `null`. `&&` and `||` return one of their operands
 *   (`a || b` is `a` when `a` is truthy), and the whole condition is then taken as truthy/falsy:
 *   `null`, `false`, `0`, `NaN` and `''` are falsy, everything else is truthy.
 * - `==` / `!=`: two strings compare ignoring case. Values of different types are both converted
 *   to numbers first (`null` → 0, `true` → 1, `false` → 0, a string → the JSON number it spells
 *   after trimming whitespace, `''` → 0, anything else → `NaN`), and `NaN` equals nothing.
 *   Two booleans, two numbers or two nulls compare as themselves.
 * - A condition that calls no status function is implicitly `success() && (condition)`, so
 *   `if: params.env == 'prod'` still does not run after a failed need, as on GitHub.
 */
import type { Condition, Expr } from '../spec/types.ts';

/** A value of the expression language. */
export type ExprValue = string | number | boolean | null;

/** What a condition can see: the values of references and the status functions' answers. */
export interface ConditionContext {
  /** The value of `params.<name>`; `''` when the param is unknown. */
  param(name: string): string;
  /** The value of `tasks.<task>.outputs.<name>`; `''` when the task has no such output. */
  output(task: string, name: string): string;
  /** `tasks.<task>.result` in GitHub's words: `success`, `failure`, `skipped` or `cancelled`. */
  result(task: string): string;
  /** `success()`: every ancestor succeeded and the run is not cancelled. */
  success: boolean;
  /** `failure()`: some ancestor failed. */
  failure: boolean;
  /** `cancelled()`: the run was cancelled. */
  cancelled: boolean;
}

/** Evaluates an expression to a value of the language (not yet taken as a boolean). */
export function evaluate(expr: Expr, ctx: ConditionContext): ExprValue {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'param':
      return ctx.param(expr.name);
    case 'output':
      return ctx.output(expr.task, expr.name);
    case 'result':
      return ctx.result(expr.task);
    case 'call':
      switch (expr.name) {
        case 'success':
          return ctx.success;
        case 'failure':
          return ctx.failure;
        case 'always':
          return true;
        case 'cancelled':
          return ctx.cancelled;
      }
      break;
    case 'not':
      return !truthy(evaluate(expr.operand, ctx));
    case 'binary': {
      const left = evaluate(expr.left, ctx);
      switch (expr.op) {
        // Short-circuit like GitHub: the right side is not evaluated when the left decides.
        case '&&':
          return truthy(left) ? evaluate(expr.right, ctx) : left;
        case '||':
          return truthy(left) ? left : evaluate(expr.right, ctx);
        case '==':
          return looseEquals(left, evaluate(expr.right, ctx));
        case '!=':
          return !looseEquals(left, evaluate(expr.right, ctx));
      }
    }
  }
  // Unreachable for a well-typed AST; an unknown node is a bug in whoever built it.
  throw new Error(`condition: unknown expression node ${JSON.stringify(expr)}`);
}

/** GitHub's truthiness: `null`, `false`, `0`, `NaN` and `''` are false. */
export function truthy(value: ExprValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  return value !== '';
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** GitHub's conversion to a number for comparisons between different types. */
export function toNumber(value: ExprValue): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  const s = value.trim();
  if (s === '') return 0;
  return JSON_NUMBER.test(s) ? Number(s) : Number.NaN;
}

/** GitHub's `==`: strings ignore case; different types compare as numbers; `NaN` equals nothing. */
export function looseEquals(a: ExprValue, b: ExprValue): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toUpperCase() === b.toUpperCase();
  if (a === null && b === null) return true;
  if (typeof a === typeof b && a !== null && b !== null) return a === b;
  // Different types (or one null): both as numbers. `NaN === NaN` is false, as GitHub wants.
  return toNumber(a) === toNumber(b);
}

/** Whether the expression calls any status function (`success`, `failure`, `always`, `cancelled`). */
export function callsStatusFunction(expr: Expr): boolean {
  return someCall(expr, () => true);
}

/** Whether the expression calls `always()` or `cancelled()`: such tasks may start after a DAG timeout. */
export function runsWhenCancelled(expr: Expr): boolean {
  return someCall(expr, (name) => name === 'always' || name === 'cancelled');
}

function someCall(expr: Expr, pred: (name: string) => boolean): boolean {
  switch (expr.kind) {
    case 'call':
      return pred(expr.name);
    case 'not':
      return someCall(expr.operand, pred);
    case 'binary':
      return someCall(expr.left, pred) || someCall(expr.right, pred);
    default:
      return false;
  }
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
  if (condition === null || !callsStatusFunction(condition.expr)) {
    if (!ctx.success) return { run: false, becauseOfSuccess: true };
    if (condition === null) return { run: true, becauseOfSuccess: false };
  }
  return { run: truthy(evaluate(condition.expr, ctx)), becauseOfSuccess: false };
}
