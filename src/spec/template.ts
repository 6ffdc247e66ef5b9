/**
 * `{{ … }}` templates in image, command, args and env values. A reference is
 * `{{ params.<name> }}` or `{{ tasks.<id>.outputs.<name> }}`, with optional spaces inside the
 * braces. Anything else between `{{` and `}}` is an error, and so is a lone `{{`: a typo must
 * never be passed to a container as literal text. Values are substituted as text, never
 * through a shell.
 */
import type { Template } from './types.ts';

/** A reference inside a template. */
export type TemplateRef = { kind: 'param'; name: string } | { kind: 'output'; task: string; name: string };

/** One `{{ … }}` found in a template; offsets are 0-based, `end` is exclusive. */
export interface TemplateMatch {
  ref: TemplateRef;
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

/** Thrown by `renderTemplate` when a value is missing at run time. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const NAME = '[A-Za-z0-9_][A-Za-z0-9_-]*';
/** An output name may hold dots (`model.uri`): everything after `outputs.` is the name. */
const OUTPUT_NAME = '[A-Za-z_][A-Za-z0-9_.-]*';
const PARAM_REF = new RegExp(`^params\\.(${NAME})$`);
const OUTPUT_REF = new RegExp(`^tasks\\.(${NAME})\\.outputs\\.(${OUTPUT_NAME})$`);

/** Every reference and every syntax error in a template, in order. */
export function findTemplateRefs(template: Template): { refs: TemplateMatch[]; errors: TemplateSyntaxError[] } {
  const refs: TemplateMatch[] = [];
  const errors: TemplateSyntaxError[] = [];
  let at = 0;
  for (;;) {
    const open = template.indexOf('{{', at);
    if (open < 0) break;
    const close = template.indexOf('}}', open + 2);
    if (close < 0) {
      errors.push({ message: `"{{" at offset ${open} has no closing "}}"`, offset: open });
      break;
    }
    const text = template.slice(open, close + 2);
    const inner = template.slice(open + 2, close).trim();
    if (open > 0 && template[open - 1] === '$') {
      // GitHub's `${{ }}` is not evaluated in a spec file: rendering it would leave a stray "$".
      errors.push({ message: `"$${text}" uses GitHub's expression syntax; in a spec, write "${text}" (without "$")`, offset: open - 1 });
      at = close + 2;
      continue;
    }
    const param = PARAM_REF.exec(inner);
    const output = OUTPUT_REF.exec(inner);
    if (param !== null) refs.push({ ref: { kind: 'param', name: param[1]! }, text, start: open, end: close + 2 });
    else if (output !== null) refs.push({ ref: { kind: 'output', task: output[1]!, name: output[2]! }, text, start: open, end: close + 2 });
    else {
      errors.push({
        message: `"${text}" is not a reference; expected {{ params.<name> }} or {{ tasks.<id>.outputs.<name> }}`,
        offset: open,
      });
    }
    at = close + 2;
  }
  return { refs, errors };
}

/** The values a template is rendered with: params, and the outputs of finished tasks by task id. */
export interface TemplateContext {
  params: Record<string, string>;
  outputs: Record<string, Record<string, string>>;
}

/**
 * Substitutes every reference of a (validated) template. Throws TemplateError when a param or
 * an output is missing: an empty string in its place would be a silent wrong result.
 */
export function renderTemplate(t: Template, ctx: TemplateContext): string {
  const { refs, errors } = findTemplateRefs(t);
  if (errors.length > 0) throw new TemplateError(errors[0]!.message);
  let out = '';
  let at = 0;
  for (const m of refs) {
    out += t.slice(at, m.start) + lookup(m.ref, ctx);
    at = m.end;
  }
  return out + t.slice(at);
}

function lookup(ref: TemplateRef, ctx: TemplateContext): string {
  if (ref.kind === 'param') {
    const value = Object.hasOwn(ctx.params, ref.name) ? ctx.params[ref.name] : undefined;
    if (value === undefined) throw new TemplateError(`param "${ref.name}" has no value; give it in the action's params input or as a default in the spec`);
    return value;
  }
  const outputs = Object.hasOwn(ctx.outputs, ref.task) ? ctx.outputs[ref.task] : undefined;
  if (outputs === undefined) {
    throw new TemplateError(`task "${ref.task}" has no outputs (it did not succeed or did not run), so {{ tasks.${ref.task}.outputs.${ref.name} }} has no value`);
  }
  const value = Object.hasOwn(outputs, ref.name) ? outputs[ref.name] : undefined;
  if (value === undefined) {
    const known = Object.keys(outputs);
    throw new TemplateError(
      `task "${ref.task}" did not write output "${ref.name}" (it wrote ${known.length === 0 ? 'none' : known.map((k) => `"${k}"`).join(', ')}); ` +
        'a task writes name=value lines to the file named by $POD_DAG_OUTPUT',
    );
  }
  return value;
}
