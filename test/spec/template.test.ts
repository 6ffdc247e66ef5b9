/** `{{ }}` templates: finding references and rendering them, with clear errors for missing values. */
import { describe, expect, it } from 'vitest';
import { exprRefs, findTemplateRefs, renderTemplate, TemplateError } from '../../src/spec/index.ts';

const ctx = { params: { db: 'dest', host: 'ch.local' }, outputs: { build: { tag: 'v1.2' }, empty: {} } };

describe('renderTemplate', () => {
  it.each([
    { t: 'plain text', want: 'plain text' },
    { t: '{{ params.db }}', want: 'dest' },
    { t: '{{params.db}}', want: 'dest' },
    { t: 'DROP DATABASE IF EXISTS {{ params.db }} ON {{ params.host }}', want: 'DROP DATABASE IF EXISTS dest ON ch.local' },
    { t: 'image:{{ tasks.build.outputs.tag }}', want: 'image:v1.2' },
    { t: '$(echo {{ params.db }}) stays text', want: '$(echo dest) stays text' },
  ])('$t', ({ t, want }) => {
    expect(renderTemplate(t, ctx)).toBe(want);
  });

  it.each([
    { t: '{{ params.nope }}', msg: 'param "nope" has no value; give it in the action\'s params input or as a default in the spec' },
    { t: '{{ tasks.other.outputs.x }}', msg: 'task "other" has no outputs (it did not succeed or did not run), so {{ tasks.other.outputs.x }} has no value' },
    {
      t: '{{ tasks.build.outputs.digest }}',
      msg: 'task "build" did not write output "digest" (it wrote "tag"); a task writes name=value lines to the file named by $POD_DAG_OUTPUT',
    },
    { t: '{{ tasks.empty.outputs.x }}', msg: 'task "empty" did not write output "x" (it wrote none); a task writes name=value lines to the file named by $POD_DAG_OUTPUT' },
    { t: '{{ params.db', msg: '"{{" at offset 0 has no closing "}}"' },
  ])('throws for $t', ({ t, msg }) => {
    expect(() => renderTemplate(t, ctx)).toThrow(new TemplateError(msg));
  });

  it('does not read inherited properties as values', () => {
    expect(() => renderTemplate('{{ params.toString }}', ctx)).toThrow(TemplateError);
  });
});

describe('findTemplateRefs', () => {
  it('finds each {{ }} with its offsets and references, and reports malformed ones', () => {
    const { refs, errors } = findTemplateRefs('a {{ params.x }} b {{ nope }} {{tasks.t.outputs.o}}');
    expect(refs.map((m) => ({ text: m.text, start: m.start, end: m.end, refs: exprRefs(m.expression) }))).toEqual([
      { text: '{{ params.x }}', start: 2, end: 16, refs: [{ kind: 'param', name: 'x' }] },
      { text: '{{tasks.t.outputs.o}}', start: 30, end: 51, refs: [{ kind: 'output', task: 't', name: 'o' }] },
    ]);
    // The error points at "nope" itself (offset 22), not at the braces.
    expect(errors).toEqual([
      {
        message: '"{{ nope }}": unknown name "nope"; expected params.…, tasks.…, matrix.…, run.…, a function call or a literal',
        offset: 22,
      },
    ]);
  });

  it('does not end an expression at "}}" inside a string', () => {
    const { refs, errors } = findTemplateRefs("{{ format('{{0}}', params.x) }}!");
    expect(errors).toEqual([]);
    expect(refs.map((m) => m.text)).toEqual(["{{ format('{{0}}', params.x) }}"]);
  });
});

describe('renderTemplate with GitHub expressions', () => {
  const full = { ...ctx, matrix: { os: 'linux', shard: 3, flags: ['a', 'b'] }, run: { date: '2026-12-02' } };
  it.each([
    { t: '{{ matrix.os }}-{{ matrix.shard }}', want: 'linux-3' },
    { t: "{{ format('part-{0}-of-{1}', matrix.shard, 8) }}", want: 'part-3-of-8' },
    { t: "s3://bucket/dt={{ run.date }}/", want: 's3://bucket/dt=2026-12-02/' },
    { t: "{{ join(matrix.flags, ',') }}", want: 'a,b' },
    { t: '{{ toJSON(matrix.flags) }}', want: '[\n  "a",\n  "b"\n]' },
    { t: "{{ tasks.build.outputs.digest || 'latest' }}", want: 'latest' },
    { t: "{{ matrix.shard > 2 && 'big' || 'small' }}", want: 'big' },
    { t: '{{ matrix.shard == 3 }}', want: 'true' },
    { t: '{{ 1.50 }}', want: '1.5' },
  ])('$t', ({ t, want }) => {
    expect(renderTemplate(t, full)).toBe(want);
  });

  it.each([
    { t: '{{ matrix.flags }}', msg: '{{ matrix.flags }} is a list, not text; write {{ toJSON(matrix.flags) }} to pass it as JSON' },
    { t: "{{ fromJSON('{\"a\":1}') }}", msg: `{{ fromJSON('{"a":1}') }} is a map, not text; write {{ toJSON(fromJSON('{"a":1}')) }} to pass it as JSON` },
    { t: "{{ fromJSON('not json') }}", msg: "{{ fromJSON('not json') }}: Error parsing JSON when evaluating fromJson: Unexpected token 'o', \"not json\" is not valid JSON" },
    { t: '{{ matrix.nope }}', msg: 'matrix key "nope" has no value in this combination' },
    { t: "{{ format('{1}', 'a') }}", msg: "{{ format('{1}', 'a') }}: The following format string references more arguments than were supplied: {1}" },
  ])('throws for $t', ({ t, msg }) => {
    expect(() => renderTemplate(t, full)).toThrow(new TemplateError(msg));
  });
});

describe('GitHub-style ${{ }} in a template', () => {
  it('is an error, not a stray "$" in the rendered value', () => {
    expect(findTemplateRefs('--db=${{ params.db }}').errors).toEqual([
      { message: '"${{ params.db }}" uses GitHub\'s expression syntax; in a spec, write "{{ params.db }}" (without "$")', offset: 5 },
    ]);
  });
});
