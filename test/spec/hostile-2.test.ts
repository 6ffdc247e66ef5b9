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

describe('a value shared through an anchor or a merge key is reported where it is written', () => {
  it('through a merge key: at the value in the merged map, not at the task that merges it', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a:\n    <<: [{timeout: 5}, {image: busybox}]\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^5:20 tasks\.a\.timeout: expected a duration string/)]);
  });

  it('through a merge key of an anchored map, in a later task', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a: &base\n    image: busybox\n    startTimeout: 0s\n  b:\n    <<: *base\n    command: [echo]\n';
    expect(messages(text)).toEqual([
      expect.stringMatching(/^6:19 tasks\.a\.startTimeout: .*a limit of 0s would end at once/),
      expect.stringMatching(/^6:19 tasks\.b\.startTimeout: .*a limit of 0s would end at once/),
    ]);
  });

  it('through an alias: inside the anchored value, for each task that uses it', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env: &env\n      X: {secret: 1, key: k}\n  b:\n    image: busybox\n    env: *env\n';
    expect(messages(text)).toEqual([
      expect.stringMatching(/^7:19 tasks\.a\.env\.X\.secret: expected the name of a Secret/),
      expect.stringMatching(/^7:19 tasks\.b\.env\.X\.secret: expected the name of a Secret/),
    ]);
  });

  it('tasks brought in by a merge key are tasks (an internal error before: the task order had "<<" in it)', () => {
    const text = 'version: 1\nname: x\ntasks:\n  <<: {a: {image: busybox}}\n  b: {image: busybox, needs: [a]}\n';
    const { spec, issues } = parse(text);
    expect(issues).toEqual([]);
    expect(spec?.tasks.map((t) => [t.id, t.needs])).toEqual([
      ['a', []],
      ['b', ['a']],
    ]);
  });

  it('a {{ }} brought by an alias where templates are not rendered is refused, at the anchored value', () => {
    const text = 'version: 1\nname: x\nparams: {p: v}\ntasks:\n  a:\n    image: busybox\n    env: &e {POOL: "{{ params.p }}"}\n    pod:\n      nodeSelector: *e\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^7:21 tasks\.a\.pod\.nodeSelector\.POOL: a \{\{ \}\} template is not rendered/)]);
  });

  it("a task's own key still wins over a merged one", () => {
    const text = 'version: 1\nname: x\ntasks:\n  a:\n    <<: {image: busybox, timeout: 5m}\n    timeout: 0s\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^6:14 tasks\.a\.timeout: .*at least 1s/)]);
  });
});
