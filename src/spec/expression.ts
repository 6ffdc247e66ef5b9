/**
 * The `if:` expression language, GitHub style: status functions (`success()`, `failure()`,
 * `always()`, `cancelled()`), `!`, `&&`, `||`, `==`, `!=`, parentheses, literals ('text',
 * "text", numbers, true, false, null) and references (`params.<name>`,
 * `tasks.<id>.outputs.<name>`, `tasks.<id>.result`).
 *
 * A tokenizer and a recursive-descent parser build the `Expr` AST of types.ts; nothing is
 * ever evaluated here (no eval, no Function). Precedence, loosest first: `||`, `&&`,
 * `==`/`!=`, `!`; as in GitHub, all binary operators are left-associative.
 */
import type { Condition, Expr } from './types.ts';

/** A parse error in an expression; `column` is 1-based within the text given to the parser. */
export class ExpressionError extends Error {
  /** 1-based column in the expression text where the problem is. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'ExpressionError';
    this.column = column;
  }
}

/** The status functions an expression may call. */
export const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;
type StatusFunction = (typeof STATUS_FUNCTIONS)[number];

type TokenKind = 'ident' | 'string' | 'number' | 'op' | 'dot' | 'lparen' | 'rparen' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  /** Decoded value of a string or number token. */
  value?: string | number;
  /** 0-based offset in the source. */
  at: number;
}

const OPERATORS = ['&&', '||', '==', '!=', '!'];

function describeToken(t: Token): string {
  return t.kind === 'end' ? 'the end of the expression' : `"${t.text}"`;
}

/** Splits an expression into tokens; throws ExpressionError on a character that starts none. */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op !== undefined) {
      tokens.push({ kind: 'op', text: op, at: start });
      i += op.length;
    } else if (c === '.') {
      tokens.push({ kind: 'dot', text: '.', at: start });
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, at: start });
      i++;
    } else if (c === "'" || c === '"') {
      // A quote inside a string is written twice ('it''s'), as in GitHub expressions.
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ExpressionError(`unterminated string starting with ${c}`, start + 1);
        if (src[i] === c) {
          if (src[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += src[i];
        i++;
      }
      tokens.push({ kind: 'string', text: src.slice(start, i), value, at: start });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(src.slice(i));
      if (m === null) throw new ExpressionError(`unexpected "${c}"`, start + 1);
      tokens.push({ kind: 'number', text: m[0], value: Number(m[0]), at: start });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      // Identifiers may contain "-" as in GitHub (`tasks.create-db.result`); there is no minus operator.
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0], at: start });
      i += m[0].length;
    } else if (c === '=' || c === '&' || c === '|') {
      throw new ExpressionError(`unexpected "${c}"; did you mean "${c}${c}"?`, start + 1);
    } else if (c === '<' || c === '>') {
      throw new ExpressionError(`"${c}" is not supported; use ==, != , &&, || and !`, start + 1);
    } else {
      throw new ExpressionError(`unexpected "${c}"`, start + 1);
    }
  }
  tokens.push({ kind: 'end', text: '', at: src.length });
  return tokens;
}

class Parser {
  #tokens: Token[];
  #pos = 0;
  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  #peek(): Token {
    return this.#tokens[this.#pos]!;
  }

  #next(): Token {
    const t = this.#tokens[this.#pos]!;
    if (t.kind !== 'end') this.#pos++;
    return t;
  }

  #fail(t: Token, expectedWhat: string): never {
    throw new ExpressionError(`expected ${expectedWhat}, found ${describeToken(t)}`, t.at + 1);
  }

  parse(): Expr {
    const expr = this.#or();
    const t = this.#peek();
    if (t.kind !== 'end') this.#fail(t, 'an operator (&&, ||, ==, !=) or the end of the expression');
    return expr;
  }

  #binary(next: () => Expr, ops: readonly string[]): Expr {
    let left = next();
    for (;;) {
      const t = this.#peek();
      if (t.kind !== 'op' || !ops.includes(t.text)) return left;
      this.#next();
      const right = next();
      left = { kind: 'binary', op: t.text as '&&' | '||' | '==' | '!=', left, right };
    }
  }

  #or = (): Expr => this.#binary(this.#and, ['||']);
  #and = (): Expr => this.#binary(this.#eq, ['&&']);
  #eq = (): Expr => this.#binary(this.#unary, ['==', '!=']);

  #unary = (): Expr => {
    const t = this.#peek();
    if (t.kind === 'op' && t.text === '!') {
      this.#next();
      return { kind: 'not', operand: this.#unary() };
    }
    return this.#primary();
  };

  #primary(): Expr {
    const t = this.#next();
    switch (t.kind) {
      case 'string':
      case 'number':
        return { kind: 'literal', value: t.value! };
      case 'lparen': {
        const inner = this.#or();
        const close = this.#next();
        if (close.kind !== 'rparen') this.#fail(close, '")"');
        return inner;
      }
      case 'ident':
        return this.#identifier(t);
      default:
        return this.#fail(t, 'a value (a status function, a reference, a string, a number, true, false or null)');
    }
  }

  #identifier(t: Token): Expr {
    if (t.text === 'true' || t.text === 'false') return { kind: 'literal', value: t.text === 'true' };
    if (t.text === 'null') return { kind: 'literal', value: null };
    if (this.#peek().kind === 'lparen') {
      if (!(STATUS_FUNCTIONS as readonly string[]).includes(t.text)) {
        throw new ExpressionError(`unknown function "${t.text}"; expected one of success(), failure(), always(), cancelled()`, t.at + 1);
      }
      this.#next();
      const close = this.#next();
      if (close.kind !== 'rparen') this.#fail(close, `")" (${t.text}() takes no arguments)`);
      return { kind: 'call', name: t.text as StatusFunction };
    }
    if (t.text === 'params') {
      const name = this.#member('a param name after "params."');
      return { kind: 'param', name: name.text };
    }
    if (t.text === 'tasks') {
      const task = this.#member('a task id after "tasks."');
      const field = this.#member(`"result" or "outputs" after "tasks.${task.text}."`);
      if (field.text === 'result') return { kind: 'result', task: task.text };
      if (field.text === 'outputs') {
        // Output names may hold dots (`tasks.train.outputs.model.uri`): the rest is the name.
        let name = this.#member(`an output name after "tasks.${task.text}.outputs."`).text;
        while (this.#peek().kind === 'dot') name += `.${this.#member(`an output name part after "${name}."`).text}`;
        return { kind: 'output', task: task.text, name };
      }
      throw new ExpressionError(`unknown property "${field.text}" of tasks.${task.text}; expected "result" or "outputs.<name>"`, field.at + 1);
    }
    if ((STATUS_FUNCTIONS as readonly string[]).includes(t.text)) {
      throw new ExpressionError(`"${t.text}" is a function; write "${t.text}()"`, t.at + 1);
    }
    const hint = t.text === 'needs' ? ' (task results are "tasks.<id>.result")' : '';
    throw new ExpressionError(
      `unknown name "${t.text}"; expected params.<name>, tasks.<id>.result, tasks.<id>.outputs.<name>, a status function or a literal${hint}`,
      t.at + 1,
    );
  }

  /** Reads `.identifier` and returns the identifier token. */
  #member(what: string): Token {
    const dot = this.#next();
    if (dot.kind !== 'dot') this.#fail(dot, `"." and ${what}`);
    const name = this.#next();
    // Numbers and keywords are fine as names here (`params.true` is odd but unambiguous).
    if (name.kind !== 'ident' && name.kind !== 'number') this.#fail(name, what);
    return name;
  }
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

/**
 * Parses an `if:` expression (optionally wrapped in `${{ }}`) into its AST.
 * Throws ExpressionError whose `column` is 1-based within `source`.
 */
export function parseExpression(source: string): Expr {
  const { text, offset } = unwrapExpression(source);
  if (text.trim() === '') throw new ExpressionError('the expression is empty; expected e.g. "always()"', offset + 1);
  try {
    return new Parser(tokenize(text)).parse();
  } catch (err) {
    if (err instanceof ExpressionError && offset > 0) throw new ExpressionError(err.message, err.column + offset);
    throw err;
  }
}

/** Parses an `if:` expression into a Condition that keeps the source text. Throws ExpressionError. */
export function parseCondition(source: string): Condition {
  return { source, expr: parseExpression(source) };
}

/** A reference found in an expression. */
export type ExprRef = Extract<Expr, { kind: 'param' | 'output' | 'result' }>;

/** Every reference (`params.*`, `tasks.*.outputs.*`, `tasks.*.result`) in an expression, left to right. */
export function exprRefs(expr: Expr): ExprRef[] {
  switch (expr.kind) {
    case 'param':
    case 'output':
    case 'result':
      return [expr];
    case 'not':
      return exprRefs(expr.operand);
    case 'binary':
      return [...exprRefs(expr.left), ...exprRefs(expr.right)];
    default:
      return [];
  }
}

/** Whether the expression calls a status function anywhere (if not, GitHub adds `success() &&`). */
export function callsStatusFunction(expr: Expr): boolean {
  switch (expr.kind) {
    case 'call':
      return true;
    case 'not':
      return callsStatusFunction(expr.operand);
    case 'binary':
      return callsStatusFunction(expr.left) || callsStatusFunction(expr.right);
    default:
      return false;
  }
}

/** Writes an expression back as text, fully parenthesised where it matters (for messages and tests). */
export function formatExpr(expr: Expr): string {
  switch (expr.kind) {
    case 'literal':
      return typeof expr.value === 'string' ? `'${expr.value.replaceAll("'", "''")}'` : String(expr.value);
    case 'param':
      return `params.${expr.name}`;
    case 'output':
      return `tasks.${expr.task}.outputs.${expr.name}`;
    case 'result':
      return `tasks.${expr.task}.result`;
    case 'call':
      return `${expr.name}()`;
    case 'not':
      return `!${formatExpr(expr.operand)}`;
    case 'binary':
      return `(${formatExpr(expr.left)} ${expr.op} ${formatExpr(expr.right)})`;
  }
}
