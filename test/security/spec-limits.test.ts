/**
 * Issue 13, items 6 and 8: a small spec or params input cannot take minutes and gigabytes (the
 * bound is the size of what aliases expand to, not how often they are used), names JavaScript
 * treats specially are refused with a clear message, the action's own labels cannot be set by a
 * spec, and output names with dots, which the README allows, can be referenced.
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/parse.ts';
import { resolveParams } from '../../src/spec/params.ts';
import { renderTemplate } from '../../src/spec/template.ts';
import { parseOutputs } from '../../src/kube/pod.ts';
import { readSettings } from '../../src/action/settings.ts';

const parse = (text: string) => parseSpec(text, 'dag.yaml');
const messages = (text: string) => parse(text).issues.map((i) => `${i.line}:${i.col} ${i.message}`);
const TASKS = 'tasks: {a: {image: busybox}}\n';

/** A document whose anchors double at each level: each alias is used twice, 2^levels values in all. */
function doubling(levels: number, leaf: string): string {
  let text = `version: 1\nname: x\nparams:\n  l0: &l0 ${JSON.stringify(leaf)}\n`;
  for (let i = 1; i <= levels; i++) text += `  l${i}: &l${i} [*l${i - 1}, *l${i - 1}]\n`;
  return text + TASKS;
}

describe('parsing is bounded by what aliases expand to', () => {
  it('refuses aliases used a few times each that double level after level (passes a count of alias uses)', () => {
    expect(messages(doubling(40, 'x'))).toEqual([
      '22:13 the spec is too large to read: its aliases expand to more than 500,000 values; write the repeated parts out, or share them through `defaults`',
    ]);
  });

  it('refuses a few aliases of a long string (the size in characters counts, not only the values)', () => {
    expect(messages(doubling(12, 'x'.repeat(8192)))).toEqual([
      '16:13 the spec is too large to read: its aliases expand to more than 16 MiB of text; write the repeated parts out, or share them through `defaults`',
    ]);
  });

  it('refuses merge keys that double level after level', () => {
    let text = 'version: 1\nname: x\nparams:\n  m0: &m0 {a: x, b: x}\n';
    for (let i = 1; i <= 40; i++) text += `  m${i}: &m${i} {k: [*m${i - 1}, *m${i - 1}], <<: *m${i - 1}}\n`;
    expect(messages(text + TASKS)[0]).toMatch(/^14:13 the spec is too large to read: its aliases expand to more than/);
  });

  it('refuses an alias inside the node it names (circular data)', () => {
    expect(messages(`version: 1\nname: x\nparams: &p {a: *p}\n${TASKS}`)).toEqual([
      '3:16 the spec is too large to read: an alias refers to a node that contains it (a cycle); a spec must be a tree',
    ]);
  });

  it('refuses a spec nested deeper than 100 levels, or thousands of levels, with a message, not a crash', () => {
    expect(messages(`version: 1\nname: x\nparams: {a: ${'['.repeat(150)}${']'.repeat(150)}}\n${TASKS}`)).toEqual([
      '3:62 the spec is too large to read: it is nested more than 100 levels deep',
    ]);
    const deep = messages(`version: 1\nname: x\nparams: {a: ${'['.repeat(20000)}${']'.repeat(20000)}}\n${TASKS}`);
    expect(deep).toHaveLength(1);
    expect(deep[0]).toMatch(/the spec is too large to read: it is nested more than 100 levels deep|it is nested too deeply to read/);
  });

  it('still reads a spec that shares blocks through anchors and merge keys', () => {
    const text = 'version: 1\nname: x\nx-common: &c {image: busybox, timeout: 1m}\ntasks:\n  a: {<<: *c}\n  b: {<<: *c, needs: [a]}\n';
    const { issues } = parse(text.replace('x-common: &c {image: busybox, timeout: 1m}\n', '').replace('tasks:\n', 'tasks:\n  z: &c {image: busybox, timeout: 1m}\n'));
    expect(issues).toEqual([]);
  });

  it('bounds the params input the same way', () => {
    const spec = { params: [{ name: 'a', default: null, required: false, description: null }] } as never;
    let text = 'z0: &z0 x\n';
    for (let i = 1; i <= 6; i++) text += `z${i}: &z${i} [${Array(10).fill(`*z${i - 1}`).join(', ')}]\n`;
    const { issues } = resolveParams(spec, `${text}a: 1\n`);
    expect(issues).toEqual(['the params input is too large to read: its aliases expand to more than 10,000 values; write the repeated parts out, or share them through `defaults`']);
    expect(resolveParams(spec, `a: ${'['.repeat(50)}${']'.repeat(50)}`).issues).toEqual(['the params input is too large to read: it is nested more than 10 levels deep']);
    expect(resolveParams(spec, `a: ${'['.repeat(20000)}${']'.repeat(20000)}`).issues[0]).toMatch(/^the params input is not valid YAML or JSON: it is nested too deeply/);
  });
});

describe('names JavaScript treats specially', () => {
  it.each(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'])('refuses a param named %s', (name) => {
    expect(messages(`version: 1\nname: x\nparams: {${name}: v}\n${TASKS}`)).toEqual([
      `3:10 param name "${name}" is reserved (JavaScript gives it a meaning of its own on every object); choose another name`,
    ]);
  });

  it.each(['constructor', 'prototype'])('refuses a task id %s', (id) => {
    expect(messages(`version: 1\nname: x\ntasks: {${id}: {image: busybox}}\n`)).toEqual([
      `3:9 task id "${id}" is reserved (JavaScript gives it a meaning of its own on every object); choose another name`,
    ]);
  });

  it('refuses a reference to an output named __proto__ or constructor', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a: {image: busybox}\n  b: {needs: [a], image: "busybox:{{ tasks.a.outputs.__proto__ }}", if: "tasks.a.outputs.constructor == 1"}\n';
    expect(parse(text).issues.map((i) => i.message)).toEqual([
      'tasks.b.image: {{ tasks.a.outputs.__proto__ }}: output name "__proto__" is reserved (JavaScript gives it a meaning of its own on every object); choose another name',
      'tasks.b.if: tasks.a.outputs.constructor: output name "constructor" is reserved (JavaScript gives it a meaning of its own on every object); choose another name',
    ]);
  });

  it('refuses __proto__ in the params input with a message, not an internal error', () => {
    const spec = { params: [{ name: 'a', default: 'd', required: false, description: null }] } as never;
    expect(resolveParams(spec, '__proto__: x\n').issues).toEqual([
      'param name "__proto__" in the params input is reserved (JavaScript gives it a meaning of its own on every object); no spec can declare it',
    ]);
    expect(resolveParams(spec, '{"__proto__": {"a": 1}}').issues).toHaveLength(1);
  });

  it('fails a task that writes an output named __proto__ or constructor, saying so, instead of dropping it', () => {
    expect(parseOutputs('ok=1\n__proto__=x\n', 't')).toEqual({
      ok: false,
      error: 'task "t" wrote output "__proto__" is reserved (JavaScript gives it a meaning of its own on every object); write it under another name to POD_DAG_OUTPUT.',
    });
    expect(parseOutputs('constructor<<EOF\nx\nEOF\n', 't').ok).toBe(false);
  });
});

describe('output names with dots (README: letters, digits, _, - and .)', () => {
  it('are written, read with an index in templates and conditions, as on GitHub, and rendered', () => {
    const text = "version: 1\nname: x\ntasks:\n  a: {image: busybox}\n  b: {needs: [a], image: busybox, args: [\"{{ tasks.a.outputs['model.uri'] }}\"], if: \"tasks.a.outputs['model.uri'] != ''\"}\n";
    const { spec, issues } = parse(text);
    expect(issues).toEqual([]);
    const written = parseOutputs('model.uri=s3://bucket/m\n', 'a');
    expect(written).toEqual({ ok: true, outputs: { 'model.uri': 's3://bucket/m' } });
    expect(renderTemplate(spec!.tasks[1]!.args![0]!, { params: {}, outputs: { a: (written as { outputs: Record<string, string> }).outputs } })).toBe('s3://bucket/m');
  });
});

describe("the action's own labels and annotations", () => {
  it.each([
    ['a task label', 'tasks: {a: {image: busybox, pod: {labels: {pod-dag.io/repository: other_repo}}}}', '3:44 label "pod-dag.io/repository"'],
    ['a default label', 'defaults: {pod: {labels: {app.kubernetes.io/managed-by: pod-dag-action}}}\ntasks: {a: {image: busybox}}', '3:27 label "app.kubernetes.io/managed-by"'],
    ['an annotation', 'tasks: {a: {image: busybox, pod: {annotations: {pod-dag.io/run-url: x}}}}', '3:49 annotation "pod-dag.io/run-url"'],
  ])('refuses %s', (_name, body, want) => {
    const got = messages(`version: 1\nname: x\n${body}\n`);
    expect(got).toHaveLength(1);
    expect(got[0]).toContain(want);
    expect(got[0]).toContain('is set by pod-dag-action itself');
  });
});

describe("the 'namespace' input", () => {
  it.each(['Data-Jobs', 'jobs\n::add-mask::x', 'a'.repeat(64), '-x', 'x.y'])('refuses %j: a namespace is a DNS-1123 label', (ns) => {
    expect(() => readSettings((n: string) => ({ dag: 'dag.yaml', namespace: ns })[n] ?? '')).toThrow(/^Invalid input 'namespace': '[^]*'\. Expected a Kubernetes namespace name: lower-case letters, digits and '-', at most 63 characters/);
  });
  it('accepts a valid one', () => {
    expect(readSettings((n: string) => ({ dag: 'dag.yaml', namespace: 'data-jobs' })[n] ?? '').namespace).toBe('data-jobs');
  });
});
