/**
 * `{{ … }}` templates in image, command, args and env values, and a dynamic `strategy.matrix`.
 * What the braces hold is a GitHub expression (src/spec/expression.ts): `{{ params.db }}`,
 * `{{ tasks.build.outputs.tag }}`, `{{ matrix.shard }}`, `{{ run.date }}`,
 * `{{ format('{0}-{1}', params.a, matrix.b) }}`… A lone `{{`, an expression that does not parse,
 * and GitHub's `${{ }}` are errors: a typo must never be passed to a container as literal text.
 * Values are substituted as text, never through a shell.
 *
 * A value that is null (a missing output, say) or an array or object (write `toJSON(…)` to get
 * JSON) is an error when the pod is rendered: an empty string in its place would be a silent
 * wrong result.
 */
import * as data from '@actions/expressions/data/index';
import {
  compileExpression,
  evaluateData,
  ExpressionError,
  ExpressionEvaluationError,
  formatExpr,
  fromData,
  toText,
  type ExpressionKind,
  type ExprRef,
  type ExprValue,
  type ParsedExpression,
  type TaskValue,
} from './expression.ts';
import type { Template } from './types.ts';
import { UserError } from '../common/errors.ts';

/** A reference inside a template (see ExprRef in expression.ts). */
export type TemplateRef = ExprRef;

/** One `{{ … }}` found in a template; offsets are 0-based, `end` is exclusive. */
export interface TemplateMatch {
  /** The expression between the braces. */
  expression: ParsedExpression;
  /** The whole `{{ … }}` text. */
  text: string;
  start: number;
  end: number;
}

/** A malformed `{{ … }}`; `offset` is 0-based in the template. */
export interface TemplateSyntaxError {
  message: string;
  offset: number;
}

/** Thrown by `renderTemplate` when a value is missing or cannot be put into text at run time. */
export class TemplateError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The end of the `}}` closing the `{{` at `open`, skipping `}}` inside quoted strings; -1 if none. */
function closingBraces(t: string, open: number): number {
  let inString = false;
  for (let i = open + 2; i < t.length; i++) {
    const c = t[i];
    if (c === "'") inString = !inString; // `''` toggles twice: still inside
    else if (!inString && c === '}' && t[i + 1] === '}') return i;
  }
  return -1;
}

/** Every `{{ }}` and every syntax error in a template, in order. */
export function findTemplateRefs(template: Template, kind: ExpressionKind = 'template'): { refs: TemplateMatch[]; errors: TemplateSyntaxError[] } {
  const refs: TemplateMatch[] = [];
  const errors: TemplateSyntaxError[] = [];
  let at = 0;
  for (;;) {
    const open = template.indexOf('{{', at);
    if (open < 0) break;
    const close = closingBraces(template, open);
    if (close < 0) {
      errors.push({ message: `"{{" at offset ${open} has no closing "}}"`, offset: open });
      break;
    }
    const text = template.slice(open, close + 2);
    if (open > 0 && template[open - 1] === '$') {
      // GitHub's `${{ }}` is not evaluated in a spec: rendering it would leave a stray "$".
      errors.push({ message: `"$${text}" uses GitHub's expression syntax; in a spec, write "${text}" (without "$")`, offset: open - 1 });
      at = close + 2;
      continue;
    }
    const inner = template.slice(open + 2, close);
    try {
      const expression = compileExpression(inner, kind);
      refs.push({ expression, text, start: open, end: close + 2 });
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      errors.push({ message: `"${text}": ${err.message}`, offset: open + 2 + err.column - 1 });
    }
    at = close + 2;
  }
  return { refs, errors };
}

/**
 * The values a template is rendered with: params, the outputs (and results) of finished upstream
 * tasks by id, and, where they apply, the task's matrix combination and the run's dates.
 */
export interface TemplateContext {
  params: Record<string, string>;
  /** Outputs of upstream tasks that succeeded, by task id. */
  outputs: Record<string, Record<string, string>>;
  /**
   * `tasks.<id>` in full (result and outputs; a matrix task's outputs are lists). When given for a
   * task, it wins over `outputs`.
   */
  tasks?: Record<string, TaskValue>;
  matrix?: Record<string, ExprValue> | null;
  run?: Record<string, string> | null;
  /**
   * For `plan` and `dry-run`: a `{{ }}` that reads a task not given here, or `matrix` when no
   * matrix is given, is written as `<expression>` instead of failing.
   */
  placeholders?: boolean;
}

/** Whether a `{{ }}` reads something only a run knows (an upstream task, a matrix not expanded). */
function unknownHere(m: TemplateMatch, ctx: TemplateContext): boolean {
  return m.expression.refs.some(({ ref }) => {
    if (ref.kind === 'output' || ref.kind === 'outputs' || ref.kind === 'result') {
      return !(ctx.tasks !== undefined && Object.hasOwn(ctx.tasks, ref.task)) && !Object.hasOwn(ctx.outputs, ref.task);
    }
    if (ref.kind === 'matrix') return ctx.matrix === null || ctx.matrix === undefined;
    if (ref.kind === 'run') return ctx.run === null || ctx.run === undefined;
    return false;
  });
}

function taskValues(ctx: TemplateContext, refs: readonly ExprRef[]): Record<string, TaskValue> {
  const out: Record<string, TaskValue> = {};
  for (const ref of refs) {
    if (ref.kind !== 'output' && ref.kind !== 'outputs' && ref.kind !== 'result') continue;
    if (ctx.tasks !== undefined && Object.hasOwn(ctx.tasks, ref.task)) out[ref.task] = ctx.tasks[ref.task]!;
    else if (Object.hasOwn(ctx.outputs, ref.task)) out[ref.task] = { result: 'success', outputs: ctx.outputs[ref.task]! };
  }
  return out;
}

/** Why a template expression came out null: the first reference that had no value. */
function missingValue(m: TemplateMatch, ctx: TemplateContext, tasks: Record<string, TaskValue>): string {
  for (const { ref } of m.expression.refs) {
    if (ref.kind === 'param' && !Object.hasOwn(ctx.params, ref.name)) {
      return `param "${ref.name}" has no value; give it in the action's params input or as a default in the spec`;
    }
    if (ref.kind === 'output') {
      const task = Object.hasOwn(tasks, ref.task) ? tasks[ref.task] : undefined;
      if (task === undefined) {
        return `task "${ref.task}" has no outputs (it did not succeed or did not run), so {{ tasks.${ref.task}.outputs.${ref.name} }} has no value`;
      }
      if (!Object.hasOwn(task.outputs, ref.name)) {
        const known = Object.keys(task.outputs);
        return (
          `task "${ref.task}" did not write output "${ref.name}" (it wrote ${known.length === 0 ? 'none' : known.map((k) => `"${k}"`).join(', ')}); ` +
          'a task writes name=value lines to the file named by $POD_DAG_OUTPUT'
        );
      }
    }
    if (ref.kind === 'matrix' && ref.key !== null && (ctx.matrix === null || ctx.matrix === undefined || !Object.hasOwn(ctx.matrix, ref.key))) {
      return `matrix key "${ref.key}" has no value in this combination`;
    }
  }
  return `${m.text} evaluated to null; give a default with ||, e.g. {{ ${formatExpr(m.expression)} || 'none' }}`;
}

function evaluateMatch(m: TemplateMatch, ctx: TemplateContext): { value: data.ExpressionData; tasks: Record<string, TaskValue> } {
  const tasks = taskValues(ctx, m.expression.refs.map((r) => r.ref));
  try {
    const value = evaluateData(m.expression, { params: ctx.params, tasks, matrix: ctx.matrix ?? null, run: ctx.run ?? null });
    return { value, tasks };
  } catch (err) {
    if (err instanceof ExpressionEvaluationError) throw new TemplateError(`${m.text}: ${err.message}`);
    throw err;
  }
}

/**
 * Substitutes every `{{ }}` of a (validated) template. Throws TemplateError when a value is
 * missing (null) or is a list or a map (write `toJSON(…)`), or when the expression fails.
 */
export function renderTemplate(t: Template, ctx: TemplateContext): string {
  const { refs, errors } = findTemplateRefs(t);
  if (errors.length > 0) throw new TemplateError(errors[0]!.message);
  let out = '';
  let at = 0;
  for (const m of refs) {
    if (ctx.placeholders && unknownHere(m, ctx)) {
      out += `${t.slice(at, m.start)}<${m.text.slice(2, -2).trim()}>`;
      at = m.end;
      continue;
    }
    const { value, tasks } = evaluateMatch(m, ctx);
    const text = toText(value);
    if (text === null) {
      if (value.kind === data.Kind.Null) throw new TemplateError(missingValue(m, ctx, tasks));
      throw new TemplateError(`${m.text} is a ${Array.isArray(fromData(value)) ? 'list' : 'map'}, not text; write {{ toJSON(${formatExpr(m.expression)}) }} to pass it as JSON`);
    }
    out += t.slice(at, m.start) + text;
    at = m.end;
  }
  return out + t.slice(at);
}

/**
 * The value of a template that is exactly one `{{ }}` (a dynamic matrix: `"{{ fromJSON(…) }}"`),
 * as a plain value. Throws TemplateError as `renderTemplate` does, and when the template is not
 * one `{{ }}`.
 */
export function evaluateTemplateValue(t: Template, ctx: TemplateContext, kind: ExpressionKind): ExprValue {
  const { refs, errors } = findTemplateRefs(t, kind);
  if (errors.length > 0) throw new TemplateError(errors[0]!.message);
  const only = refs[0];
  if (refs.length !== 1 || only === undefined || only.start !== 0 || only.end !== t.length) {
    throw new TemplateError(`"${t}" must be one {{ }} expression, e.g. "{{ fromJSON(tasks.plan.outputs.matrix) }}"`);
  }
  const { value, tasks } = evaluateMatch(only, ctx);
  if (value.kind === data.Kind.Null) throw new TemplateError(missingValue(only, ctx, tasks));
  return fromData(value);
}

/** Whether a template holds a `{{ }}` at all (cheap; for callers that skip plain strings). */
export function hasTemplate(t: Template): boolean {
  return t.includes('{{');
}

/** The parsed expressions of a validated template (cached), for callers that only need references. */
export function templateExpressions(t: Template, kind: ExpressionKind = 'template'): ParsedExpression[] {
  if (!hasTemplate(t)) return [];
  return findTemplateRefs(t, kind).refs.map((m) => m.expression);
}
