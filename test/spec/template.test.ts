/** `{{ }}` templates: finding references and rendering them, with clear errors for missing values. */
import { describe, expect, it } from 'vitest';
import { findTemplateRefs, renderTemplate, TemplateError } from '../../src/spec/index.ts';

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
  it('finds references with their offsets and reports malformed ones', () => {
    expect(findTemplateRefs('a {{ params.x }} b {{ nope }} {{tasks.t.outputs.o}}')).toEqual({
      refs: [
        { ref: { kind: 'param', name: 'x' }, text: '{{ params.x }}', start: 2, end: 16 },
        { ref: { kind: 'output', task: 't', name: 'o' }, text: '{{tasks.t.outputs.o}}', start: 30, end: 51 },
      ],
      errors: [{ message: '"{{ nope }}" is not a reference; expected {{ params.<name> }} or {{ tasks.<id>.outputs.<name> }}', offset: 19 }],
    });
  });
});

describe('GitHub-style ${{ }} in a template', () => {
  it('is an error, not a stray "$" in the rendered value', () => {
    expect(findTemplateRefs('--db=${{ params.db }}').errors).toEqual([
      { message: '"${{ params.db }}" uses GitHub\'s expression syntax; in a spec, write "{{ params.db }}" (without "$")', offset: 5 },
    ]);
  });
});
