/**
 * The templates of every task rendered once before anything runs (and each `if:` that reads
 * only params and run dates evaluated), with the params and run dates
 * of this run (what only a run knows, an upstream output or a computed matrix, as a placeholder):
 * a `{{ }}` that cannot be rendered (bad JSON in `fromJSON`, a value that is null or a map, a
 * result too large) or an image that is not an image reference is then a spec problem at the
 * field's line (the task's, for a spec not read by parseSpec), found before any pod is created, in every mode, instead of a task that fails after
 * its upstream ran.
 */
import { findTemplateRefs, renderTemplate, TemplateError } from './template.ts';
import { imageProblem } from './names.ts';
import type { DagSpec, JsonValue, SpecIssue, Template } from './types.ts';
import { fieldPosition, formatPath } from './parse.ts';
import { compileExpression, evaluateExpression, ExpressionEvaluationError } from './expression.ts';

/** Every problem of rendering the spec's templates with these params and run dates. */
export function templateProblems(spec: DagSpec, params: Record<string, string>, run: Record<string, string> | null = null): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const task of spec.tasks) {
    const matrix = task.strategy?.matrix;
    const instances: (Record<string, JsonValue> | null)[] = matrix?.kind === 'static' ? matrix.instances.map((i) => i.values) : [null];
    const seen = new Set<string>();
    const fields: { path: (string | number)[]; text: Template }[] = [{ path: ['image'], text: task.image }];
    task.command?.forEach((text, i) => fields.push({ path: ['command', i], text }));
    task.args?.forEach((text, i) => fields.push({ path: ['args', i], text }));
    for (const e of task.env) if ('value' in e) fields.push({ path: ['env', e.name], text: e.value });
    for (const values of instances) {
      for (const { path, text } of fields) {
        const where = formatPath(['tasks', task.id, ...path]);
        let problem: string | null = null;
        let rendered: string | null = null;
        try {
          rendered = renderTemplate(text, { params, outputs: {}, placeholders: true, matrix: values, run });
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          problem = err.message;
        }
        if (problem === null && rendered !== null && path[0] === 'image' && !readsRunOnly(text, values !== null, run !== null)) {
          const bad = imageProblem(rendered);
          // Shown whole or not at all: a part of a value rendered from a param (a credential,
          // masked by the runner only as a whole) would show.
          const shown = rendered.length > 256 ? `${rendered.length} characters` : JSON.stringify(rendered);
          if (bad !== null) problem = `the image renders to ${shown}, which is not an image reference: ${bad}`;
        }
        if (problem === null) continue;
        const message = `${where}: ${problem}${values !== null && Object.keys(values).length > 0 ? ` (matrix ${JSON.stringify(values)})` : ''}`;
        // One matrix leg failing is enough to show; the same problem in every leg is shown once.
        if (seen.has(`${where}\n${problem}`)) continue;
        seen.add(`${where}\n${problem}`);
        const at = fieldPosition(spec, where) ?? task.pos;
        issues.push({ file: spec.file, line: at.line, col: at.col, path: where, message });
      }
    }
    const problem = conditionProblem(task.if?.source ?? null, params, run);
    if (problem !== null) {
      const where = formatPath(['tasks', task.id, 'if']);
      const at = fieldPosition(spec, where) ?? task.pos;
      issues.push({ file: spec.file, line: at.line, col: at.col, path: where, message: `${where}: "${task.if!.source}" cannot be evaluated: ${problem}` });
    }
  }
  return issues;
}

/**
 * Why an `if:` that reads only params and run dates cannot be evaluated (bad JSON in `fromJSON`,
 * a text too large), or null. One that reads a task is decided when that task has ended.
 */
function conditionProblem(source: string | null, params: Record<string, string>, run: Record<string, string> | null): string | null {
  if (source === null) return null;
  const expr = compileExpression(source, 'condition');
  if (expr.refs.some(({ ref }) => ref.kind === 'output' || ref.kind === 'outputs' || ref.kind === 'result' || ref.kind === 'matrix' || (ref.kind === 'run' && run === null))) return null;
  // Each outcome of the status functions, so that `failure() && fromJSON(params.x)` is tried too.
  for (const status of [
    { success: true, failure: false, cancelled: false },
    { success: false, failure: true, cancelled: false },
    { success: false, failure: false, cancelled: true },
  ]) {
    try {
      evaluateExpression(expr, { params, run, status });
    } catch (err) {
      if (!(err instanceof ExpressionEvaluationError)) throw err;
      return err.message;
    }
  }
  return null;
}

/** Whether a template reads what only the run knows (upstream tasks; a matrix not written out). */
function readsRunOnly(t: Template, hasMatrix: boolean, hasRun: boolean): boolean {
  return findTemplateRefs(t).refs.some((m) =>
    m.expression.refs.some(
      ({ ref }) => ref.kind === 'output' || ref.kind === 'outputs' || ref.kind === 'result' || (ref.kind === 'matrix' && !hasMatrix) || (ref.kind === 'run' && !hasRun),
    ),
  );
}
