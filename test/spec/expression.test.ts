/** The `if:` parser: precedence, parentheses, literals, references, and errors at the right column. */
import { describe, expect, it } from 'vitest';
import { callsStatusFunction, ExpressionError, exprRefs, formatExpr, parseExpression } from '../../src/spec/index.ts';

describe('parseExpression builds the AST', () => {
  it.each([
    { src: 'always()', want: 'always()' },
    { src: 'success() && failure() || cancelled()', want: '((success() && failure()) || cancelled())' },
    { src: 'success() || failure() && cancelled()', want: '(success() || (failure() && cancelled()))' },
    { src: '(success() || failure()) && cancelled()', want: '((success() || failure()) && cancelled())' },
    { src: "!failure() && params.env == 'prod'", want: "(!failure() && (params.env == 'prod'))" },
    { src: "!(params.env != 'prod')", want: "!(params.env != 'prod')" },
    { src: 'a == b == c'.replaceAll(/[abc]/g, (x) => `params.${x}`), want: '((params.a == params.b) == params.c)' },
    { src: "tasks.create-db.result == 'success'", want: "(tasks.create-db.result == 'success')" },
    { src: "tasks.build.outputs.tag != ''", want: "(tasks.build.outputs.tag != '')" },
    { src: '${{ failure() }}', want: 'failure()' },
    { src: "'it''s' == \"say \"\"hi\"\"\"", want: "('it''s' == 'say \"hi\"')" },
    { src: 'params.n == 42 || params.n == -1.5 || params.n == 0x1F', want: '(((params.n == 42) || (params.n == -1.5)) || (params.n == 31))' },
    { src: 'true && !false || null', want: '((true && !false) || null)' },
  ])('$src', ({ src, want }) => {
    expect(formatExpr(parseExpression(src))).toBe(want);
  });

  it('produces the contract AST nodes', () => {
    expect(parseExpression("tasks.a.result == 'failure' && !params.skip")).toEqual({
      kind: 'binary',
      op: '&&',
      left: { kind: 'binary', op: '==', left: { kind: 'result', task: 'a' }, right: { kind: 'literal', value: 'failure' } },
      right: { kind: 'not', operand: { kind: 'param', name: 'skip' } },
    });
  });

  it('lists references and status calls', () => {
    const expr = parseExpression("params.a == tasks.b.outputs.c || tasks.d.result == 'success'");
    expect(exprRefs(expr)).toEqual([
      { kind: 'param', name: 'a' },
      { kind: 'output', task: 'b', name: 'c' },
      { kind: 'result', task: 'd' },
    ]);
    expect(callsStatusFunction(expr)).toBe(false);
    expect(callsStatusFunction(parseExpression('!cancelled()'))).toBe(true);
  });
});

describe('parseExpression errors point at the column', () => {
  it.each([
    { src: 'success() && && x', col: 14, msg: 'expected a value (a status function, a reference, a string, a number, true, false or null), found "&&"' },
    { src: 'success(', col: 9, msg: 'expected ")" (success() takes no arguments), found the end of the expression' },
    { src: '(always()', col: 10, msg: 'expected ")", found the end of the expression' },
    { src: 'always() always()', col: 10, msg: 'expected an operator (&&, ||, ==, !=) or the end of the expression, found "always"' },
    { src: 'succeeded()', col: 1, msg: 'unknown function "succeeded"; expected one of success(), failure(), always(), cancelled()' },
    { src: 'always', col: 1, msg: '"always" is a function; write "always()"' },
    { src: 'needs.a.result', col: 1, msg: 'unknown name "needs"; expected params.<name>, tasks.<id>.result, tasks.<id>.outputs.<name>, a status function or a literal (task results are "tasks.<id>.result")' },
    { src: 'tasks.a.status', col: 9, msg: 'unknown property "status" of tasks.a; expected "result" or "outputs.<name>"' },
    { src: 'tasks.a', col: 8, msg: 'expected "." and "result" or "outputs" after "tasks.a.", found the end of the expression' },
    { src: "params.x = 'a'", col: 10, msg: 'unexpected "="; did you mean "=="?' },
    { src: 'params.x > 1', col: 10, msg: '">" is not supported; use ==, != , &&, || and !' },
    { src: "params.x == 'open", col: 13, msg: "unterminated string starting with '" },
    { src: '${{ success() && }}', col: 18, msg: 'expected a value (a status function, a reference, a string, a number, true, false or null), found the end of the expression' },
    { src: '   ', col: 1, msg: 'the expression is empty; expected e.g. "always()"' },
  ])('$src', ({ src, col, msg }) => {
    let caught: unknown;
    try {
      parseExpression(src);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ExpressionError);
    expect({ col: (caught as ExpressionError).column, msg: (caught as ExpressionError).message }).toEqual({ col, msg });
  });
});
