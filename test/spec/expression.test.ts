/**
 * Expressions, parsed by GitHub's own package (@actions/expressions): precedence, parentheses,
 * literals, references, and errors in our words at the right column.
 */
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
    // GitHub strings are single-quoted only (the old subset also took "…"; see the errors below).
    { src: "'it''s' == 'say \"hi\" ''twice'''", want: "('it''s' == 'say \"hi\" ''twice''')" },
    { src: "params.n >= 2 && params.n < 10", want: '((params.n >= 2) && (params.n < 10))' },
    { src: "contains(fromJSON(params.list), 'x') || startsWith(params.env, 'pr')", want: "(contains(fromJSON(params.list), 'x') || startsWith(params.env, 'pr'))" },
    { src: "tasks['create-db'].outputs['tag']", want: 'tasks.create-db.outputs.tag' },
    { src: 'params.n == 42 || params.n == -1.5 || params.n == 0x1F', want: '((params.n == 42) || (params.n == -1.5) || (params.n == 31))' }, // GitHub's || is n-ary
    { src: 'true && !false || null', want: '((true && !false) || null)' },
  ])('$src', ({ src, want }) => {
    expect(formatExpr(parseExpression(src))).toBe(want);
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

  it('lists matrix and run references in templates, and whole contexts read by computed names', () => {
    const expr = parseExpression("format('{0}-{1}', matrix.os, run.date) == params[matrix.key] && toJSON(tasks.b.outputs) != ''", 'template');
    expect(exprRefs(expr)).toEqual([
      { kind: 'matrix', key: 'os' },
      { kind: 'run', field: 'date' },
      { kind: 'params' },
      { kind: 'matrix', key: 'key' },
      { kind: 'outputs', task: 'b' },
    ]);
  });
});

describe('parseExpression errors point at the column', () => {
  const VALUE = 'expected a value (a reference, a function call, a string in single quotes, a number, true, false or null)';
  const OPERATOR = 'an operator (&&, ||, ==, !=, <, <=, >, >=)';
  it.each([
    { src: 'success() && && x', col: 14, msg: `${VALUE}, found "&&"` },
    { src: 'success(', col: 9, msg: `${VALUE} or ")", found the end of the expression` },
    { src: '(always()', col: 10, msg: `expected ${OPERATOR} or ")", found the end of the expression` },
    { src: 'always() always()', col: 10, msg: `expected ${OPERATOR} or the end of the expression, found "always"` },
    { src: 'format(1 2)', col: 10, msg: `expected ${OPERATOR}, "," or ")", found "2"` },
    {
      src: 'succeeded()',
      col: 1,
      msg: 'unknown function "succeeded"; expected one of contains(), startsWith(), endsWith(), format(), join(), toJSON(), fromJSON(), case(), success(), failure(), always(), cancelled()',
    },
    { src: 'always', col: 1, msg: '"always" is a function; write "always()"' },
    {
      src: 'needs.a.result',
      col: 1,
      msg: 'unknown name "needs"; expected params.…, tasks.…, run.…, a function call or a literal (task results are "tasks.<id>.result" and outputs "tasks.<id>.outputs.<name>")',
    },
    { src: 'tasks.a.status', col: 9, msg: 'unknown property of tasks.a: expected "result" or "outputs.<name>", found "status"' },
    { src: 'tasks.a', col: 1, msg: 'unknown property of tasks.a: expected "result" or "outputs.<name>", found nothing' },
    {
      src: 'tasks[params.t].result',
      col: 1,
      msg: 'expected a task id after "tasks.": tasks.<id>.result or tasks.<id>.outputs.<name> (a task may only read the tasks upstream of it, so the id must be written out)',
    },
    { src: "params.x = 'a'", col: 10, msg: 'unexpected "="; did you mean "=="?' },
    { src: 'params.x == "prod"', col: 13, msg: 'unexpected ""prod""; strings are written in single quotes: \'prod\'' },
    { src: "params.x == 'open", col: 13, msg: "unterminated string starting with '" },
    { src: '${{ success() && }}', col: 18, msg: `${VALUE}, found the end of the expression` },
    { src: '   ', col: 1, msg: 'the expression is empty; expected e.g. "always()"' },
    { src: 'always(1)', col: 1, msg: 'always() takes no arguments' },
    { src: 'fromJSON()', col: 1, msg: 'fromJSON() takes 1 argument' },
    { src: "case(true, 'a')", col: 1, msg: 'case() takes at least 3 arguments' },
    { src: "startWith('a', 'b')", col: 1, msg: 'unknown function "startWith"; did you mean "startsWith"?' },
    { src: "case(true, 'a', false, 'b')", col: 1, msg: 'case() takes an odd number of arguments: pairs of condition and value, then the default value' },
    {
      src: "matrix.os == 'linux'",
      col: 1,
      msg: 'unknown name "matrix"; expected params.…, tasks.…, run.…, a function call or a literal (as on GitHub, a task\'s if: is decided before its matrix is expanded, so it cannot read matrix)',
    },
    {
      src: "github.ref == 'main'",
      col: 1,
      msg: 'unknown name "github"; expected params.…, tasks.…, run.…, a function call or a literal (GitHub\'s "github" context is not evaluated in a spec: pass the value in with the action\'s params input and read params.<name>)',
    },
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

  it('keeps status functions out of templates', () => {
    expect(() => parseExpression('success()', 'template')).toThrow("success() can only be used in a task's if:, where it tells how the tasks upstream ended");
  });

  it('points into the second line of a multi-line expression', () => {
    let caught: ExpressionError | null = null;
    try {
      parseExpression("always() &&\n  params.a = 'x'");
    } catch (err) {
      caught = err as ExpressionError;
    }
    // Offset 23 is the "=" (1-based 24).
    expect(caught?.column).toBe(24);
  });
});
