/**
 * The action's `params` input (a YAML or JSON map; YAML parses both) resolved against the
 * params the spec declares: unknown names and missing required values are errors, values
 * must be scalars and become strings.
 */
import { isMap, isScalar, parseDocument, YAMLError } from 'yaml';
import { syntaxHint, yamlFeatureProblems, yamlLimitProblem } from './yaml-limits.ts';
import { RESERVED_NAMES } from './names.ts';
import { didYouMean } from './suggest.ts';
import type { DagSpec } from './types.ts';

/** The longest `params` input read (GitHub caps inputs too, but the CLI's --params is ours). */
const MAX_PARAMS_INPUT = 1024 * 1024;

/** Params are a flat map of short values: far smaller bounds than a spec's. */
const PARAMS_LIMITS = { maxNodes: 10_000, maxChars: 1024 * 1024, maxDepth: 10 };

/**
 * The value of every declared param: the caller's, else the default. `issues` lists every
 * problem (as complete sentences); when it is non-empty `params` must not be used. `where` names
 * the input the values come from, in the words the caller's user knows (the CLI's `--params`).
 */
export function resolveParams(spec: Pick<DagSpec, 'params'>, input: string, where = "the action's params input"): { params: Record<string, string>; issues: string[] } {
  const issues: string[] = [];
  let given: unknown;
  if (input.length > MAX_PARAMS_INPUT) {
    return { params: {}, issues: [`the params input is ${input.length} characters long; at most ${MAX_PARAMS_INPUT} are read (params are short values: pass large data through storage)`] };
  }
  try {
    if (input.trim() === '') given = {};
    else {
      const doc = parseDocument(input, { prettyErrors: false, logLevel: 'error' });
      if (doc.errors.length > 0) throw doc.errors[0]!;
      const features = yamlFeatureProblems(doc, input, 'the params input');
      if (features.length > 0) return { params: {}, issues: features.map((f) => `line ${input.slice(0, f.offset).split('\n').length} of the params input: ${f.message}`) };
      // Bounded by what its aliases expand to before anything is built from it.
      const tooBig = yamlLimitProblem(doc, PARAMS_LIMITS);
      if (tooBig !== null) return { params: {}, issues: [`the params input is too large to read: ${tooBig}`] };
      given = doc.toJS({ maxAliasCount: -1 });
      // A number keeps the digits it was written with (`version: 1.10` is "1.10", not "1.1").
      if (isMap(doc.contents) && typeof given === 'object' && given !== null && !Array.isArray(given)) {
        for (const pair of doc.contents.items) {
          const v = pair.value;
          if (isScalar(pair.key) && pair.key.value !== '__proto__' && isScalar(v) && (typeof v.value === 'number' || typeof v.value === 'bigint') && v.range) {
            (given as Record<string, unknown>)[String(pair.key.value)] = input.slice(v.range[0], v.range[1]);
          }
        }
      }
    }
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    // A syntax error says on which line of the input, and what to do.
    const at = err instanceof YAMLError ? `line ${input.slice(0, err.pos[0]).split('\n').length}: ` : '';
    const hint = err instanceof YAMLError ? syntaxHint(err.code, err.message) : '';
    const reason = /Maximum call stack/.test(message) ? `it is nested too deeply to read (params are name: value pairs)` : `${at}${message}${hint}`;
    return { params: {}, issues: [`the params input is not valid YAML or JSON: ${reason}`] };
  }
  if (given === null || given === undefined) given = {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    return { params: {}, issues: [`the params input must be a map of name: value (YAML or JSON), found ${Array.isArray(given) ? 'a list' : JSON.stringify(given)}`] };
  }
  const declared = spec.params.map((p) => p.name);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(given as Record<string, unknown>)) {
    if (RESERVED_NAMES.has(name)) {
      issues.push(`param name "${name}" in the params input is reserved (JavaScript gives it a meaning of its own on every object); no spec can declare it`);
      continue;
    }
    if (!declared.includes(name)) {
      const list = declared.length === 0 ? 'the spec declares no params' : `declared params: ${declared.join(', ')}`;
      issues.push(`unknown param "${name}" in the params input${didYouMean(name, declared)} (${list})`);
      continue;
    }
    if (value === null || value === undefined) {
      issues.push(`param "${name}" is given an empty value; give it a value, or remove the line to use the spec's default`);
    } else if (typeof value === 'object') {
      issues.push(`param "${name}" must be a single value (string, number or boolean), found ${Array.isArray(value) ? 'a list' : 'a map'}`);
    } else {
      values[name] = String(value);
    }
  }
  const params: Record<string, string> = {};
  for (const p of spec.params) {
    const value = Object.hasOwn(values, p.name) ? values[p.name] : (p.default ?? undefined);
    if (value !== undefined) params[p.name] = value;
    else if (!issues.some((i) => i.startsWith(`param "${p.name}"`))) {
      issues.push(
        p.required
          ? `param "${p.name}" is required; give it in ${where} (e.g. "${p.name}: value")`
          : `param "${p.name}" has no default and no value was given; give it in ${where}`,
      );
    }
  }
  return { params, issues };
}
