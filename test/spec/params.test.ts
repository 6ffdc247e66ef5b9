/** resolveParams: the action's params input against the declared params. */
import { describe, expect, it } from 'vitest';
import { resolveParams } from '../../src/spec/index.ts';
import type { ParamSpec } from '../../src/spec/index.ts';

const params: ParamSpec[] = [
  { name: 'source_db', default: 'src', required: false, description: null },
  { name: 'destination_db', default: 'dest', required: false, description: null },
  { name: 'destination_host', default: null, required: true, description: null },
];
const spec = { params };

describe('resolveParams', () => {
  it.each([
    { name: 'YAML map', input: 'destination_host: ch.local\ndestination_db: other\n', want: { source_db: 'src', destination_db: 'other', destination_host: 'ch.local' } },
    { name: 'JSON map', input: '{"destination_host": "ch.local"}', want: { source_db: 'src', destination_db: 'dest', destination_host: 'ch.local' } },
    { name: 'scalars become strings', input: 'destination_host: 8080\nsource_db: true', want: { source_db: 'true', destination_db: 'dest', destination_host: '8080' } },
  ])('$name', ({ input, want }) => {
    expect(resolveParams(spec, input)).toEqual({ params: want, issues: [] });
  });

  it.each([
    { name: 'empty input leaves the required param missing', input: '', issues: ['param "destination_host" is required; give it in the action\'s params input (e.g. "destination_host: value")'] },
    {
      name: 'unknown name with a suggestion',
      input: 'destination_host: h\ndestinaton_db: x',
      issues: ['unknown param "destinaton_db" in the params input; did you mean "destination_db"? (declared params: source_db, destination_db, destination_host)'],
    },
    { name: 'a list value', input: 'destination_host: [a, b]', issues: ['param "destination_host" must be a single value (string, number or boolean), found a list'] },
    {
      name: 'an empty value',
      input: 'destination_host: h\nsource_db:',
      issues: ['param "source_db" is given an empty value; give it a value, or remove the line to use the spec\'s default'],
    },
    { name: 'not a map', input: '- a', issues: ['the params input must be a map of name: value (YAML or JSON), found a list'] },
    { name: 'invalid YAML', input: '{a: [', issues: [expect.stringMatching(/^the params input is not valid YAML or JSON: /)] },
  ])('$name', ({ input, issues }) => {
    expect(resolveParams(spec, input).issues).toEqual(issues);
  });

  it('reports a param without default that is not marked required', () => {
    const r = resolveParams({ params: [{ name: 'x', default: null, required: false, description: null }] }, '');
    expect(r.issues).toEqual(['param "x" has no default and no value was given; give it in the action\'s params input']);
  });
});
