/**
 * GitHub's expression language, from GitHub's own package `@actions/expressions` (the lexer,
 * parser, evaluator and functions the workflow editor uses), for `if:`, for what `{{ }}` holds in
 * templates and for a dynamic `strategy.matrix`.
 *
 * This module adds what the action needs around the package:
 * - the contexts a spec may read: `params`, `tasks`, `matrix` and `run` (each where it makes
 *   sense: see `ExpressionKind`), and the status functions `success()`, `failure()`, `always()`
 *   and `cancelled()` in `if:`;
 * - errors in our words, each with the 1-based position in the text the user wrote, so a spec
 *   error points at the file's line and column inside the expression;
 * - the references an expression makes (`params.x`, `tasks.<id>.outputs.<name>`,
 *   `tasks.<id>.result`, `matrix.<key>`, `run.<field>`), for validation: a task may only read
 *   the tasks upstream of it, so `tasks` must be followed by a literal task id;
 * - evaluation from plain JavaScript values.
 *
 * Nothing is evaluated with `eval` or `Function`: the package walks its own AST.
 */
import { Binary, ContextAccess, FunctionCall, Grouping, IndexAccess, Literal, Logical, Star, Unary, type Expr } from '@actions/expressions/ast';
import * as data from '@actions/expressions/data/index';
import { ErrorType, ExpressionError as LibExpressionError } from '@actions/expressions/errors';
import { Evaluator } from '@actions/expressions/evaluator';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import { wellKnownFunctions } from '@actions/expressions/funcs';
import { Lexer, TokenType, type Token } from '@actions/expressions/lexer';
import { Parser } from '@actions/expressions/parser';
import { equals as libEquals, truthy as libTruthy } from '@actions/expressions/result';
import { didYouMean } from './suggest.ts';

/** An error in an expression; `column` is 1-based: the character index in the given text, plus 1. */
export class ExpressionError extends Error {
  /** 1-based position (character index + 1) in the expression text where the problem is. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'ExpressionError';
    this.column = column;
  }
}

/** An expression could not be evaluated (bad JSON in fromJSON, a malformed format string…). */
export class ExpressionEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionEvaluationError';
  }
}

/** The status functions an `if:` may call. */
export const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;

/** The fields of the `run` context (see README, "Run dates"). */
export const RUN_FIELDS = [
  'date',
  'dateNodash',
  'ts',
  'intervalStart',
  'intervalStartDate',
  'intervalEnd',
  'intervalEndDate',
  'source',
  'schedule',
] as const;

/**
 * Where an expression is written, which decides what it may read:
 * - `condition`: a task's `if:`: params, tasks, run and the status functions (as on GitHub, a
 *   task's `if:` is decided before its matrix is expanded, so `matrix` is not there);
 * - `template`: `{{ }}` in image, command, args and env: params, tasks, matrix, run;
 * - `matrix`: a dynamic `strategy.matrix`: params, tasks, run.
 */
export type ExpressionKind = 'condition' | 'template' | 'matrix';

const CONTEXTS: Record<ExpressionKind, readonly string[]> = {
  condition: ['params', 'tasks', 'run'],
  template: ['params', 'tasks', 'matrix', 'run'],
  matrix: ['params', 'tasks', 'run'],
};

/** A reference an expression makes, as validation sees it. */
export type ExprRef =
  | { kind: 'param'; name: string }
  /** `params` read as a whole or with a computed name. */
  | { kind: 'params' }
  | { kind: 'output'; task: string; name: string }
  /** `tasks.<id>.outputs` read as a whole or with a computed name. */
  | { kind: 'outputs'; task: string }
  | { kind: 'result'; task: string }
  /** `matrix.<key>`; `key: null` when read as a whole or with a computed key. */
  | { kind: 'matrix'; key: string | null }
  /** `run.<field>`; `field: null` when read as a whole. */
  | { kind: 'run'; field: string | null };

/** A reference and its 0-based offset in the expression's source. */
export interface ExprRefAt {
  ref: ExprRef;
  offset: number;
}

/** A parsed expression: GitHub's AST and what validation and evaluation need to know about it. */
export interface ParsedExpression {
  /** The text as given (possibly wrapped in `${{ }}`). */
  readonly source: string;
  readonly kind: ExpressionKind;
  /** The AST of `@actions/expressions`. */
  readonly ast: Expr;
  /** Every reference, left to right, with its offset in `source`. */
  readonly refs: readonly ExprRefAt[];
  /** The status functions it calls (lowercase). */
  readonly statusCalls: ReadonlySet<string>;
}

/**
 * Strips an optional GitHub-style `${{ … }}` around a whole expression. Returns the inner
 * text and its offset in `source`, so error columns still point into what the user wrote.
 */
export function unwrapExpression(source: string): { text: string; offset: number } {
  const m = /^(\s*\$\{\{)([\s\S]*)\}\}\s*$/.exec(source);
  if (m === null) return { text: source, offset: 0 };
  return { text: m[2]!, offset: m[1]!.length };
}

/** Status functions as the package's parser and evaluator take extension functions. */
function statusFunction(name: string, value: (s: StatusValues) => boolean, status: StatusValues | null): FunctionDefinition {
  return {
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => {
      // Validation keeps status functions out of templates; reaching here without values is a bug.
      if (status === null) throw new ExpressionEvaluationError(`${name}() can only be used in if:`);
      return new data.BooleanData(value(status));
    },
  };
}

const STATUS_INFO = STATUS_FUNCTIONS.map((name) => ({ name, minArgs: 0, maxArgs: 0 }));

/** Function names as users write them (the package matches names ignoring case). */
const FUNCTION_NAMES: Record<string, string> = {
  contains: 'contains',
  startswith: 'startsWith',
  endswith: 'endsWith',
  format: 'format',
  join: 'join',
  tojson: 'toJSON',
  fromjson: 'fromJSON',
  case: 'case',
  success: 'success',
  failure: 'failure',
  always: 'always',
  cancelled: 'cancelled',
};

const OPERATOR_TOKENS = new Set([
  TokenType.AND,
  TokenType.OR,
  TokenType.EQUAL_EQUAL,
  TokenType.BANG_EQUAL,
  TokenType.LESS,
  TokenType.LESS_EQUAL,
  TokenType.GREATER,
  TokenType.GREATER_EQUAL,
  TokenType.BANG,
]);
const VALUE_WORDS = 'a value (a reference, a function call, a string in single quotes, a number, true, false or null)';
const OPERATOR_WORDS = 'an operator (&&, ||, ==, !=, <, <=, >, >=)';

/** Line start offsets of `text` (the package's lexer counts lines at "\n"). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

function tokenOffset(tok: Token, starts: number[]): number {
  return (starts[tok.range.start.line] ?? 0) + tok.range.start.column;
}

function describeToken(tok: Token): string {
  if (tok.type === TokenType.EOF) return 'the end of the expression';
  return `"${tok.lexeme}"`;
}

/**
 * What the parser expected where it stopped, from the tokens before it: a value after an
 * operator or an opening bracket; after a value, what closes the innermost bracket or an operator.
 */
function expectedAt(tokens: Token[], index: number): string {
  const stack: ('call' | 'group' | 'index')[] = [];
  for (let i = 0; i < index; i++) {
    const t = tokens[i]!;
    if (t.type === TokenType.LEFT_PAREN) stack.push(i > 0 && tokens[i - 1]!.type === TokenType.IDENTIFIER ? 'call' : 'group');
    else if (t.type === TokenType.LEFT_BRACKET) stack.push('index');
    else if (t.type === TokenType.RIGHT_PAREN || t.type === TokenType.RIGHT_BRACKET) stack.pop();
  }
  const prev = index > 0 ? tokens[index - 1]! : null;
  const top = stack.at(-1);
  if (prev === null || OPERATOR_TOKENS.has(prev.type) || prev.type === TokenType.LEFT_BRACKET || prev.type === TokenType.COMMA) {
    return `expected ${VALUE_WORDS}`;
  }
  if (prev.type === TokenType.LEFT_PAREN) return top === 'call' ? `expected ${VALUE_WORDS} or ")"` : `expected ${VALUE_WORDS}`;
  if (prev.type === TokenType.DOT) return 'expected a property name after "."';
  if (top === 'call') return `expected ${OPERATOR_WORDS}, "," or ")"`;
  if (top === 'group') return `expected ${OPERATOR_WORDS} or ")"`;
  if (top === 'index') return `expected ${OPERATOR_WORDS} or "]"`;
  return `expected ${OPERATOR_WORDS} or the end of the expression`;
}

const GITHUB_CONTEXTS = new Set(['github', 'env', 'secrets', 'inputs', 'vars', 'steps', 'job', 'jobs', 'runner', 'strategy']);

function unknownNameMessage(name: string, kind: ExpressionKind): string {
  const lower = name.toLowerCase();
  if (Object.hasOwn(FUNCTION_NAMES, lower)) return `"${name}" is a function; write "${name}()"`;
  const allowed = CONTEXTS[kind];
  let hint: string;
  if (lower === 'needs') hint = ' (task results are "tasks.<id>.result" and outputs "tasks.<id>.outputs.<name>")';
  else if (lower === 'matrix' && kind === 'condition') hint = ' (as on GitHub, a task\'s if: is decided before its matrix is expanded, so it cannot read matrix)';
  else if (lower === 'matrix') hint = ' (a matrix cannot be computed from itself)';
  // A secret passed as a param would be written into the pod's spec, readable by whoever may read pods.
  else if (lower === 'secrets') hint = ` (GitHub's "secrets" context is not evaluated in a spec: keep the secret in a Kubernetes Secret and read it with env: {NAME: {secret: <secret>, key: <key>}})`;
  else if (GITHUB_CONTEXTS.has(lower)) hint = ` (GitHub's "${lower}" context is not evaluated in a spec: pass the value in with the action's params input and read params.<name>)`;
  else hint = didYouMean(name, allowed);
  return `unknown name "${name}"; expected ${allowed.map((c) => `${c}.…`).join(', ')}, a function call or a literal${hint}`;
}

function functionInfo(name: string): { min: number; max: number } | null {
  const lower = name.toLowerCase();
  const f = wellKnownFunctions[lower];
  if (f !== undefined) return { min: f.minArgs, max: f.maxArgs };
  return (STATUS_FUNCTIONS as readonly string[]).includes(lower) ? { min: 0, max: 0 } : null;
}

function argumentWords(n: number): string {
  return `${n} argument${n === 1 ? '' : 's'}`;
}

/** Our words for an error the package's parser raised at `tok`. */
function parserMessage(typ: ErrorType, tok: Token, tokens: Token[], kind: ExpressionKind): string {
  const index = tokens.indexOf(tok);
  switch (typ) {
    case ErrorType.ErrorUnexpectedEndOfExpression:
      // The package points at the last token; what was missing is at the end.
      return `${expectedAt(tokens, tokens.length - 1)}, found the end of the expression`;
    case ErrorType.ErrorUnexpectedSymbol:
      return `${expectedAt(tokens, index < 0 ? tokens.length - 1 : index)}, found ${describeToken(tok)}`;
    case ErrorType.ErrorUnrecognizedNamedValue:
    case ErrorType.ErrorUnrecognizedContext:
      return unknownNameMessage(tok.lexeme, kind);
    case ErrorType.ErrorUnrecognizedFunction: {
      const lower = tok.lexeme.toLowerCase();
      if ((STATUS_FUNCTIONS as readonly string[]).includes(lower)) {
        return `${tok.lexeme}() can only be used in a task's if:, where it tells how the tasks upstream ended`;
      }
      const names = Object.values(FUNCTION_NAMES).filter((n) => kind === 'condition' || !(STATUS_FUNCTIONS as readonly string[]).includes(n));
      const hint = didYouMean(tok.lexeme, names);
      return `unknown function "${tok.lexeme}"${hint !== '' ? hint : `; expected one of ${names.map((n) => `${n}()`).join(', ')}`}`;
    }
    case ErrorType.ErrorTooFewParameters:
    case ErrorType.ErrorTooManyParameters: {
      const info = functionInfo(tok.lexeme);
      const shown = FUNCTION_NAMES[tok.lexeme.toLowerCase()] ?? tok.lexeme;
      if (info === null) return `wrong number of arguments for ${shown}()`;
      if (info.min === info.max) return `${shown}() takes ${info.min === 0 ? 'no arguments' : argumentWords(info.min)}`;
      return typ === ErrorType.ErrorTooFewParameters ? `${shown}() takes at least ${argumentWords(info.min)}` : `${shown}() takes at most ${argumentWords(info.max)}`;
    }
    case ErrorType.ErrorEvenParameters:
      return 'case() takes an odd number of arguments: pairs of condition and value, then the default value';
    case ErrorType.ErrorExceededMaxDepth:
      return 'the expression nests too deeply (more than 50 levels)';
    default:
      return `cannot parse the expression (${tok.lexeme})`;
  }
}

/** Our words for an error the package's lexer raised (a plain Error naming a 1-based position). */
function lexerError(err: Error, text: string): { message: string; offset: number } {
  if (err.message === 'ErrorExceededMaxLength') return { message: `the expression is longer than 21,000 characters`, offset: 0 };
  const m = /^Unexpected symbol: '([\s\S]*)'\. Located at position (\d+) within expression/.exec(err.message);
  if (m === null) return { message: err.message, offset: 0 };
  const symbol = m[1]!;
  const offset = Number(m[2]) - 1;
  let hint = '';
  if (symbol.startsWith("'")) return { message: `unterminated string starting with '`, offset };
  if (symbol.startsWith('"')) hint = `; strings are written in single quotes: '${symbol.replace(/^"|"$/g, '')}'`;
  else if (symbol.startsWith('=')) hint = '; did you mean "=="?';
  else if (symbol.startsWith('&')) hint = '; did you mean "&&"?';
  else if (symbol.startsWith('|')) hint = '; did you mean "||"?';
  const shown = symbol.length > 30 ? `${symbol.slice(0, 27)}...` : symbol;
  void text;
  return { message: `unexpected "${shown}"${hint}`, offset };
}

/** Tokens of `text`; the package unescapes only the first `''` of a string, so strings are redone here. */
function lex(text: string): Token[] {
  const { tokens } = new Lexer(text).lex();
  for (const t of tokens) {
    if (t.type === TokenType.STRING) t.value = t.lexeme.slice(1, -1).replaceAll("''", "'");
  }
  return tokens;
}

/**
 * Parses an expression (optionally wrapped in `${{ }}`) of the given kind. Throws ExpressionError
 * whose `column` is 1-based within `source`.
 */
export function parseExpression(source: string, kind: ExpressionKind = 'condition'): ParsedExpression {
  const { text, offset } = unwrapExpression(source);
  if (text.trim() === '') {
    throw new ExpressionError(kind === 'condition' ? 'the expression is empty; expected e.g. "always()"' : 'the expression is empty', offset + 1);
  }
  const starts = lineStarts(text);
  let tokens: Token[];
  try {
    tokens = lex(text);
  } catch (err) {
    const { message, offset: at } = lexerError(err as Error, text);
    throw new ExpressionError(message, offset + at + 1);
  }
  let ast: Expr;
  try {
    ast = new Parser(tokens, [...CONTEXTS[kind]], kind === 'condition' ? STATUS_INFO : []).parse();
  } catch (err) {
    if (!(err instanceof LibExpressionError)) throw err;
    const { typ, tok } = err as unknown as { typ: ErrorType; tok: Token };
    const at = typ === ErrorType.ErrorUnexpectedEndOfExpression || tok.type === TokenType.EOF ? text.length : tokenOffset(tok, starts);
    throw new ExpressionError(parserMessage(typ, tok, tokens, kind), offset + at + 1);
  }
  const refs: ExprRefAt[] = [];
  const statusCalls = new Set<string>();
  walk(ast, { refs, statusCalls, starts, offset });
  return { source, kind, ast, refs, statusCalls };
}

interface WalkState {
  refs: ExprRefAt[];
  statusCalls: Set<string>;
  starts: number[];
  offset: number;
}

/** One step of a property chain: a literal name or index, `*`, or a computed index. */
type Segment = { name: string; offset: number } | { star: true } | { computed: true };

/** Collects references and status calls; throws ExpressionError for a malformed `tasks` reference. */
function walk(e: Expr, st: WalkState): void {
  const at = (tok: Token) => st.offset + tokenOffset(tok, st.starts);
  if (e instanceof IndexAccess || e instanceof ContextAccess) {
    // Unwind the chain down to its base; computed indexes are walked after it, left to right.
    const segments: Segment[] = [];
    const computed: Expr[] = [];
    let base: Expr = e;
    while (base instanceof IndexAccess) {
      const index = base.index;
      if (index instanceof Star) segments.unshift({ star: true });
      else if (index instanceof Literal && (index.literal.kind === data.Kind.String || index.literal.kind === data.Kind.Number)) {
        segments.unshift({ name: index.literal.coerceString(), offset: at(index.token) });
      } else {
        segments.unshift({ computed: true });
        computed.unshift(index);
      }
      base = base.expr;
    }
    if (base instanceof ContextAccess) contextRef(base.name.lexeme.toLowerCase(), at(base.name), segments, st);
    else walk(base, st);
    for (const index of computed) walk(index, st);
    return;
  }
  if (e instanceof FunctionCall) {
    const name = e.functionName.lexeme.toLowerCase();
    if ((STATUS_FUNCTIONS as readonly string[]).includes(name)) st.statusCalls.add(name);
    for (const arg of e.args) walk(arg, st);
  } else if (e instanceof Logical) {
    for (const arg of e.args) walk(arg, st);
  } else if (e instanceof Binary) {
    walk(e.left, st);
    walk(e.right, st);
  } else if (e instanceof Unary) {
    walk(e.expr, st);
  } else if (e instanceof Grouping) {
    walk(e.group, st);
  }
}

function contextRef(root: string, offset: number, segs: Segment[], st: WalkState): void {
  const first = segs[0];
  const name = (s: Segment | undefined): string | null => (s !== undefined && 'name' in s ? s.name : null);
  switch (root) {
    case 'params': {
      const p = name(first);
      st.refs.push({ ref: p === null ? { kind: 'params' } : { kind: 'param', name: p }, offset });
      return;
    }
    case 'matrix':
      st.refs.push({ ref: { kind: 'matrix', key: name(first) }, offset });
      return;
    case 'run':
      st.refs.push({ ref: { kind: 'run', field: name(first) }, offset });
      return;
    case 'tasks': {
      const task = name(first);
      if (task === null) {
        throw new ExpressionError(
          'expected a task id after "tasks.": tasks.<id>.result or tasks.<id>.outputs.<name> (a task may only read the tasks upstream of it, so the id must be written out)',
          offset + 1,
        );
      }
      const field = segs[1];
      const fieldName = name(field)?.toLowerCase() ?? null;
      if (field === undefined || (fieldName !== 'result' && fieldName !== 'outputs')) {
        const where = field !== undefined && 'name' in field ? field.offset : offset;
        const found = field === undefined ? 'nothing' : fieldName === null ? 'a computed property' : `"${name(field)}"`;
        throw new ExpressionError(`unknown property of tasks.${task}: expected "result" or "outputs.<name>", found ${found}`, where + 1);
      }
      if (fieldName === 'result') {
        st.refs.push({ ref: { kind: 'result', task }, offset });
        return;
      }
      const output = name(segs[2]);
      st.refs.push({ ref: output === null ? { kind: 'outputs', task } : { kind: 'output', task, name: output }, offset });
      return;
    }
    default:
      return;
  }
}

/** Parses an `if:` expression into a Condition. Throws ExpressionError. */
export function parseCondition(source: string): { source: string } {
  parseExpression(source, 'condition');
  return { source };
}

/** Every reference in an expression, left to right. */
export function exprRefs(expr: ParsedExpression): ExprRef[] {
  return expr.refs.map((r) => r.ref);
}

/** Whether the expression calls a status function anywhere (if not, GitHub adds `success() &&`). */
export function callsStatusFunction(expr: ParsedExpression): boolean {
  return expr.statusCalls.size > 0;
}

/** Whether the expression calls `always()` or `cancelled()`: such tasks may start after a DAG timeout. */
export function runsWhenCancelled(expr: ParsedExpression): boolean {
  return expr.statusCalls.has('always') || expr.statusCalls.has('cancelled');
}

const cache = new Map<string, ParsedExpression>();
const CACHE_LIMIT = 10_000;

/**
 * `parseExpression` with a cache: the scheduler and the pod renderer evaluate expressions that
 * validation already parsed, so each distinct text is parsed once per process.
 */
export function compileExpression(source: string, kind: ExpressionKind): ParsedExpression {
  const key = `${kind}\u0000${source}`;
  let parsed = cache.get(key);
  if (parsed === undefined) {
    parsed = parseExpression(source, kind);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, parsed);
  }
  return parsed;
}

// ---- values --------------------------------------------------------------------------------

/** A JSON-like value of the language, as plain JavaScript. */
export type ExprValue = string | number | boolean | null | ExprValue[] | { [key: string]: ExprValue };

/** What a task looks like to `tasks.<id>`: its result in GitHub's words and its outputs. */
export interface TaskValue {
  result: string;
  outputs: Record<string, ExprValue>;
}

/** The answers of the status functions. */
export interface StatusValues {
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}

/** The values an expression is evaluated with. Only what it may read need be given. */
export interface ExpressionValues {
  params: Record<string, string>;
  /** The tasks it refers to, by id. A task that is missing reads as null. */
  tasks?: Record<string, TaskValue>;
  matrix?: Record<string, ExprValue> | null;
  run?: Record<string, string> | null;
  /** For `if:` only. */
  status?: StatusValues | null;
}

/** A plain value as the package's data. */
export function toData(v: unknown): data.ExpressionData {
  if (v === null || v === undefined) return new data.Null();
  if (typeof v === 'string') return new data.StringData(v);
  if (typeof v === 'number') return new data.NumberData(v);
  if (typeof v === 'boolean') return new data.BooleanData(v);
  if (Array.isArray(v)) return new data.Array(...v.map(toData));
  if (typeof v === 'object') {
    const d = new data.Dictionary();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) d.add(k, toData(x));
    return d;
  }
  return new data.StringData(String(v));
}

/** The package's data as a plain value. */
export function fromData(d: data.ExpressionData): ExprValue {
  switch (d.kind) {
    case data.Kind.Null:
      return null;
    case data.Kind.String:
    case data.Kind.Number:
    case data.Kind.Boolean:
      return (d as data.StringData | data.NumberData | data.BooleanData).value;
    case data.Kind.Array:
      return (d as data.Array).values().map(fromData);
    default: {
      const out: Record<string, ExprValue> = {};
      for (const p of (d as data.Dictionary).pairs()) out[p.key] = fromData(p.value);
      return out;
    }
  }
}

function contextData(values: ExpressionValues): data.Dictionary {
  const ctx = new data.Dictionary();
  ctx.add('params', toData(values.params));
  const tasks = new data.Dictionary();
  for (const [id, t] of Object.entries(values.tasks ?? {})) {
    tasks.add(id, new data.Dictionary({ key: 'result', value: new data.StringData(t.result) }, { key: 'outputs', value: toData(t.outputs) }));
  }
  ctx.add('tasks', tasks);
  ctx.add('matrix', toData(values.matrix ?? {}));
  ctx.add('run', toData(values.run ?? {}));
  return ctx;
}

/**
 * The longest text a function of an expression may make: 128 Ki characters. A pod's command,
 * args and env all together must stay far below what the API server stores (about 1.5 MB), and a
 * few nested `format('{0}{0}…', …)` calls would otherwise make gigabytes from a short spec.
 */
export const MAX_EXPRESSION_TEXT = 128 * 1024;

function tooLong(name: string, size: number): ExpressionEvaluationError {
  return new ExpressionEvaluationError(
    `${FUNCTION_NAMES[name] ?? name}() would make a text of ${size.toLocaleString('en-US')} characters, more than the ${MAX_EXPRESSION_TEXT.toLocaleString('en-US')} a value may have`,
  );
}

/** The size `format(fs, …args)` would make, counted before it is made. */
function formatSize(args: data.ExpressionData[]): number {
  const fs = args[0]!.coerceString();
  let size = fs.length;
  for (const m of fs.matchAll(/\{(\d+)(?::[^}]*)?\}/g)) size += args[1 + Number(m[1])]?.coerceString().length ?? 0;
  return size;
}

/** The size `join(list, sep)` would make, counted before it is made. */
function joinSize(args: data.ExpressionData[]): number {
  const list = args[0]!;
  if (list.kind !== data.Kind.Array) return list.primitive ? list.coerceString().length : 0;
  const items = (list as data.Array).values();
  const sep = args.length > 1 && args[1]!.primitive ? args[1]!.coerceString().length : 1;
  return items.reduce((n, item) => n + item.coerceString().length, 0) + sep * Math.max(0, items.length - 1);
}

/**
 * Every function of the package, with the text it makes bounded: `format` and `join` are
 * measured before they run (the text would be made before it could be measured), the others after.
 */
const BOUNDED_FUNCTIONS: [string, FunctionDefinition][] = Object.entries(wellKnownFunctions).map(([name, f]) => [
  name,
  {
    ...f,
    call: (...args: data.ExpressionData[]) => {
      const before = name === 'format' ? formatSize(args) : name === 'join' ? joinSize(args) : 0;
      if (before > MAX_EXPRESSION_TEXT) throw tooLong(name, before);
      const result = f.call(...args);
      if (result.kind === data.Kind.String && (result as data.StringData).value.length > MAX_EXPRESSION_TEXT) throw tooLong(name, (result as data.StringData).value.length);
      return result;
    },
  },
]);

/** Evaluates a parsed expression to the package's data. Throws ExpressionEvaluationError. */
export function evaluateData(expr: ParsedExpression, values: ExpressionValues): data.ExpressionData {
  const status = values.status ?? null;
  const functions = new Map<string, FunctionDefinition>([
    ...BOUNDED_FUNCTIONS,
    ['success', statusFunction('success', (s) => s.success, status)],
    ['failure', statusFunction('failure', (s) => s.failure, status)],
    ['always', statusFunction('always', () => true, status)],
    ['cancelled', statusFunction('cancelled', (s) => s.cancelled, status)],
  ]);
  try {
    return new Evaluator(expr.ast, contextData(values), functions).evaluate();
  } catch (err) {
    if (err instanceof ExpressionEvaluationError) throw err;
    const e = err as Error;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    const message = e.message === 'empty input' ? 'fromJSON() was given an empty string' : `${e.message}${cause}`;
    throw new ExpressionEvaluationError(message);
  }
}

/** Evaluates a parsed expression to a plain value. Throws ExpressionEvaluationError. */
export function evaluateExpression(expr: ParsedExpression, values: ExpressionValues): ExprValue {
  return fromData(evaluateData(expr, values));
}

/** GitHub's truthiness: `null`, `false`, `0`, `NaN` and `''` are false; everything else is true. */
export function truthy(value: ExprValue): boolean {
  return libTruthy(toData(value));
}

/** GitHub's `==`, with its coercion (strings ignore case; different types compare as numbers). */
export function looseEquals(a: ExprValue, b: ExprValue): boolean {
  return libEquals(toData(a), toData(b));
}

/** GitHub's conversion of a value to a number, as comparisons between different types do it. */
export function toNumber(value: ExprValue): number {
  return toData(value).number();
}

/**
 * A value as `{{ }}` puts it into text: strings as they are, numbers as GitHub formats them,
 * booleans as `true`/`false`. `null`, arrays and objects are `null` here: a caller decides
 * what they mean (an error, or JSON).
 */
export function toText(d: data.ExpressionData): string | null {
  if (d.kind === data.Kind.Null || d.kind === data.Kind.Array || d.kind === data.Kind.Dictionary) return null;
  if (d.kind === data.Kind.Boolean) return (d as data.BooleanData).value ? 'true' : 'false';
  return d.coerceString();
}

/** Writes an expression back as text, binary operations parenthesised (for messages and tests). */
export function formatExpr(expr: ParsedExpression | Expr): string {
  const e = 'ast' in expr ? expr.ast : expr;
  return format(e);
}

function format(e: Expr): string {
  if (e instanceof Literal) {
    const d = e.literal;
    if (d.kind === data.Kind.String) return `'${(d as data.StringData).value.replaceAll("'", "''")}'`;
    if (d.kind === data.Kind.Null) return 'null';
    if (d.kind === data.Kind.Boolean) return String((d as data.BooleanData).value);
    return d.coerceString();
  }
  if (e instanceof ContextAccess) return e.name.lexeme;
  if (e instanceof IndexAccess) {
    const index = e.index;
    const base = format(e.expr);
    if (index instanceof Star) return `${base}.*`;
    if (index instanceof Literal && index.literal.kind === data.Kind.String && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(index.literal.coerceString())) {
      return `${base}.${index.literal.coerceString()}`;
    }
    return `${base}[${format(index)}]`;
  }
  if (e instanceof FunctionCall) return `${e.functionName.lexeme}(${e.args.map(format).join(', ')})`;
  if (e instanceof Unary) return `!${format(e.expr)}`;
  if (e instanceof Grouping) return format(e.group);
  if (e instanceof Binary) return `(${format(e.left)} ${e.operator.lexeme} ${format(e.right)})`;
  if (e instanceof Logical) return `(${e.args.map(format).join(` ${e.operator.lexeme} `)})`;
  return '?';
}
