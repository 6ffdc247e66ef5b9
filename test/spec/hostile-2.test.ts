/**
 * A second hostile pass over the spec (issue 13): what the first (hostile.test.ts) left open.
 * Each `describe` is one class of defect, each found failing before its fix.
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/parse.ts';

const parse = (text: string) => parseSpec(text, 'dag.yaml');
const messages = (text: string) => parse(text).issues.map((i) => `${i.line}:${i.col} ${i.message}`);

describe('{{ }} in a matrix written out (it would reach {{ matrix.<key> }} as written)', () => {
  const spec = (matrix: string) => `version: 1\nname: x\nparams: {p: v}\ntasks:\n  a:\n    image: busybox\n    args: ["{{ matrix.k }}"]\n    strategy:\n      matrix:\n${matrix}`;
  it.each([
    ['a value of a list', '        k: [1, "{{ params.p }}"]\n', '10:17', 'tasks.a.strategy.matrix.k[1]'],
    ['a value of an include entry', '        k: [1]\n        include:\n          - {k: 2, extra: "{{ params.p }}"}\n', '12:28', 'tasks.a.strategy.matrix.include[0].extra'],
    ['a value of an exclude entry', '        k: [1, 2]\n        exclude:\n          - {k: "{{ params.p }}"}\n', '12:18', 'tasks.a.strategy.matrix.exclude[0].k'],
    ['a key', '        "{{ params.p }}": [1]\n', '10:9', 'tasks.a.strategy.matrix["{{ params.p }}"]'],
  ])('refuses it in %s, at the braces, and says how to compute a matrix', (_what, matrix, at, path) => {
    const found = parse(spec(matrix));
    expect(found.spec).toBeNull();
    const all = messages(spec(matrix));
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^${at} ${path.replace(/[[\]{}.()]/g, '\\$&')}: a \\{\\{ \\}\\} template is not rendered in a matrix written out`)));
    expect(all.join('\n')).toContain('"{{ fromJSON(params.shards) }}"');
  });

  it('still takes a matrix that is one expression, and values with braces that are not templates', () => {
    expect(messages(`version: 1\nname: x\nparams: {m: '{"k": [1]}'}\ntasks:\n  a:\n    image: busybox\n    strategy:\n      matrix: "{{ fromJSON(params.m) }}"\n`)).toEqual([]);
    expect(messages(spec('        k: ["{a}", "}}"]\n'))).toEqual([]);
  });
});
