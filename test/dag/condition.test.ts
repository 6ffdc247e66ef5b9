/**
 * The `if:` evaluator: GitHub's truthiness, loose equality, status functions and implicit
 * success(), through GitHub's own package (@actions/expressions).
 */
import { describe, expect, it } from 'vitest';
import { decide, evaluate, looseEquals, runsWhenCancelled, toNumber, truthy, type ConditionContext, type ExprValue } from '../../src/dag/condition.ts';
import { and, call, cond, eq, lit, ne, not, or, output, param, result, type Expr } from './builders.ts';

function context(over: Partial<ConditionContext> = {}): ConditionContext {
  const outputs: Record<string, Record<string, string>> = { a: { mode: 'full', zero: '0' }, b: {} };
  const results: Record<string, string> = { a: 'success', b: 'failure' };
  return {
    params: { env: 'Prod', n: '3', empty: '' },
    task: (t) => (Object.hasOwn(results, t) ? { result: results[t]!, outputs: outputs[t]! } : undefined),
    success: true,
    failure: false,
    cancelled: false,
    ...over,
  };
}

describe('looseEquals (GitHub ==)', () => {
  const cases: [string, ExprValue, ExprValue, boolean][] = [
    ['strings ignore case', 'Success', 'SUCCESS', true],
    ['different strings', 'a', 'b', false],
    ['number and numeric string', 3, '3', true],
    ['number and padded numeric string', 3, ' 3 ', true],
    ['number and non-numeric string (NaN)', 3, 'three', false],
    ['zero and empty string', 0, '', true],
    ['true and 1', true, 1, true],
    ['true and "1"', true, '1', true],
    ['true and "true" (NaN, as on GitHub)', true, 'true', false],
    ['false and 0', false, 0, true],
    ['null and null', null, null, true],
    ['null and 0', null, 0, true],
    ['null and empty string', null, '', true],
    ['null and false', null, false, true],
    ['NaN equals nothing', 'x', Number.NaN, false],
    // @actions/expressions converts strings with JavaScript's Number(): hex is read (the old
    // hand-written subset required a JSON number here).
    ['hex is read as a number, as GitHub\'s package does', 16, '0x10', true],
    ['exponent is a JSON number', 1000, '1e3', true],
    ['two numbers', 1.5, 1.5, true],
    ['two booleans', true, false, false],
  ];
  it.each(cases)('%s: %j == %j is %s', (_name, a, b, want) => {
    expect(looseEquals(a, b)).toBe(want);
    expect(looseEquals(b, a)).toBe(want);
  });
});

describe('truthy and toNumber', () => {
  it.each([
    [null, false],
    [false, false],
    [0, false],
    [Number.NaN, false],
    ['', false],
    ['false', true],
    ['0', true],
    [-1, true],
    [true, true],
  ] as [ExprValue, boolean][])('%j is truthy: %s', (v, want) => expect(truthy(v)).toBe(want));

  it.each([
    [null, 0],
    [true, 1],
    ['', 0],
    ['  -2.5 ', -2.5],
    ['1.', 1], // Number('1.'), as @actions/expressions converts (the old subset said NaN)
    ['abc', Number.NaN],
  ] as [ExprValue, number][])('%j as a number is %s', (v, want) => expect(toNumber(v)).toBe(want));
});

describe('evaluate', () => {
  const cases: { name: string; expr: Expr; ctx?: Partial<ConditionContext>; want: ExprValue }[] = [
    { name: 'param compared ignoring case', expr: eq(param('env'), lit('prod')), want: true },
    { name: 'unknown param is null, which equals the empty string', expr: eq(param('nope'), lit('')), want: true },
    { name: 'numeric param against a number', expr: eq(param('n'), lit(3)), want: true },
    { name: 'output value', expr: output('a', 'mode'), want: 'full' },
    // GitHub reads a missing property as null (the old subset gave ''; null == '' holds in both).
    { name: 'missing output is null', expr: output('a', 'nope'), want: null },
    { name: 'missing output equals the empty string', expr: eq(output('a', 'nope'), lit('')), want: true },
    { name: 'output "0" is a truthy string', expr: not(output('a', 'zero')), want: false },
    { name: 'result in GitHub words', expr: eq(result('b'), lit('FAILURE')), want: true },
    { name: '!= negates', expr: ne(result('a'), lit('success')), want: false },
    { name: '&& returns the falsy left', expr: and(param('empty'), lit('x')), want: '' },
    { name: '&& returns the right when the left is truthy', expr: and(param('env'), lit('x')), want: 'x' },
    { name: '|| returns the truthy left', expr: or(param('env'), lit('x')), want: 'Prod' },
    { name: '|| returns the right when the left is falsy', expr: or(param('empty'), lit(0)), want: 0 },
    { name: 'failure()', expr: call('failure'), ctx: { failure: true }, want: true },
    { name: 'cancelled()', expr: call('cancelled'), want: false },
    { name: 'always()', expr: call('always'), ctx: { success: false }, want: true },
  ];
  it.each(cases)('$name', ({ expr, ctx, want }) => {
    expect(evaluate(expr, context(ctx))).toEqual(want);
  });

  it('short-circuits: the right side of && is not evaluated when the left is false', () => {
    // fromJSON('') throws when evaluated: it is not.
    expect(evaluate(and(lit(false), "fromJSON('')"), context())).toBe(false);
    expect(evaluate(or(lit(true), "fromJSON('')"), context())).toBe(true);
    expect(() => evaluate(and(lit(true), "fromJSON('')"), context())).toThrow('fromJSON() was given an empty string');
  });

  const github: { name: string; expr: Expr; want: ExprValue }[] = [
    { name: 'contains on a string ignores case', expr: "contains('Hello world', 'WORLD')", want: true },
    { name: 'contains on an array', expr: "contains(fromJSON('[\"a\",\"b\"]'), 'b')", want: true },
    { name: 'startsWith', expr: "startsWith(params.env, 'pr')", want: true },
    { name: 'endsWith', expr: "endsWith(params.env, 'x')", want: false },
    { name: 'format', expr: "format('{0}-{1} {{literal}}', params.env, 3)", want: 'Prod-3 {literal}' },
    { name: 'join', expr: "join(fromJSON('[1,2,3]'), '+')", want: '1+2+3' },
    { name: 'toJSON', expr: 'toJSON(tasks.a.outputs.mode)', want: '"full"' },
    { name: 'fromJSON of a number', expr: "fromJSON('42') > 41", want: true },
    { name: '< between numbers', expr: 'params.n < 10', want: true },
    { name: '>= between a number and a numeric string', expr: "params.n >= '3'", want: true },
    { name: '> between strings ignores case', expr: "'b' > 'A'", want: true },
    { name: 'index syntax', expr: "tasks['a'].outputs['mode']", want: 'full' },
    { name: 'case()', expr: "case(params.env == 'prod', 'p', 'other')", want: 'p' },
    { name: 'function names ignore case', expr: "STARTSWITH('abc', 'A')", want: true },
    { name: 'property names ignore case', expr: 'PARAMS.ENV', want: 'Prod' },
    { name: 'result of a failed task', expr: "tasks.b.result == 'failure'", want: true },
  ];
  it.each(github)('GitHub function or operator: $name', ({ expr, want }) => {
    expect(evaluate(expr, context())).toEqual(want);
  });
});

describe('decide', () => {
  it('no condition means success()', () => {
    expect(decide(null, context())).toEqual({ run: true, becauseOfSuccess: false });
    expect(decide(null, context({ success: false }))).toEqual({ run: false, becauseOfSuccess: true });
  });

  it('a condition without status functions is implicitly success() && (…)', () => {
    const c = cond("params.env == 'prod'", eq(param('env'), lit('prod')));
    expect(decide(c, context())).toEqual({ run: true, becauseOfSuccess: false });
    expect(decide(c, context({ success: false }))).toEqual({ run: false, becauseOfSuccess: true });
  });

  it('a condition with a status function is taken as written', () => {
    const c = cond("failure() && params.env == 'prod'", and(call('failure'), eq(param('env'), lit('prod'))));
    expect(decide(c, context({ success: false, failure: true }))).toEqual({ run: true, becauseOfSuccess: false });
    expect(decide(c, context())).toEqual({ run: false, becauseOfSuccess: false });
  });

  it('runsWhenCancelled finds always() or cancelled() anywhere in the expression', () => {
    expect(runsWhenCancelled(not(call('cancelled')))).toBe(true);
    expect(runsWhenCancelled(or(call('success'), and(lit(true), call('always'))))).toBe(true);
    expect(runsWhenCancelled(or(call('success'), call('failure')))).toBe(false);
  });
});
