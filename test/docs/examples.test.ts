/**
 * Every example a user may copy works: its DAG passes the action's own validator, its first line
 * points editors at the schema, and its workflow file is valid YAML whose every use of the action
 * passes only inputs that action.yml declares, with the required ones present.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { parseSpec } from '../../src/spec/index.ts';
import { ROOT } from '../harness/action.ts';

const EXAMPLES = path.join(ROOT, 'examples');
const ACTION = 'org/pod-dag-action@v1';
const SCHEMA_LINE = '# yaml-language-server: $schema=../../schema/pod-dag.schema.json';

const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required?: boolean; default?: string }>;
};

const examples = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** One step of a workflow job, as much of it as these tests read. */
interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}

/** Every step of every job of a parsed workflow. */
function steps(workflow: unknown): Step[] {
  const jobs = (workflow as { jobs?: Record<string, { steps?: Step[] }> }).jobs ?? {};
  return Object.values(jobs).flatMap((j) => j.steps ?? []);
}

describe('examples', () => {
  it('include the five the README lists', () => {
    expect(examples).toEqual(expect.arrayContaining(['branching', 'clickhouse-db-sync', 'fan-out', 'gpu-training', 'hello']));
  });

  describe.each(examples)('%s', (name) => {
    const dir = path.join(EXAMPLES, name);
    const dagFile = path.join(dir, 'dag.yaml');
    const text = readFileSync(dagFile, 'utf8');

    it('starts with the yaml-language-server line that points at the schema', () => {
      expect(text.split('\n')[0]).toBe(SCHEMA_LINE);
      expect(path.resolve(dir, '../../schema/pod-dag.schema.json')).toBe(path.join(ROOT, 'schema', 'pod-dag.schema.json'));
    });

    it('validates with the action\'s own parser, without a single issue', () => {
      const { spec, issues } = parseSpec(text, `examples/${name}/dag.yaml`);
      expect(issues.map((i) => `${i.file}:${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([]);
      expect(spec?.tasks.length).toBeGreaterThan(0);
    });
  });

  // clickhouse-db-sync's workflow belongs to the spec's owners; it is checked here once it exists.
  const withWorkflow = examples.filter((name) => name !== 'clickhouse-db-sync' || existsSync(path.join(EXAMPLES, name, 'workflow.yml')));

  describe.each(withWorkflow)('%s/workflow.yml', (name) => {
    const file = path.join(EXAMPLES, name, 'workflow.yml');

    it('is valid YAML with jobs and steps', () => {
      const doc = parseDocument(readFileSync(file, 'utf8'), { uniqueKeys: true });
      expect(doc.errors.map((e) => e.message)).toEqual([]);
      expect(steps(doc.toJS()).length).toBeGreaterThan(0);
    });

    /** The steps that use this action (parsed on use, so a YAML error fails the test above, not the file). */
    const actionSteps = () => steps(parse(readFileSync(file, 'utf8'))).filter((s) => s.uses?.startsWith('org/pod-dag-action'));

    it(`uses ${ACTION} with inputs that action.yml declares, and the required ones`, () => {
      const uses = actionSteps();
      expect(uses.length).toBeGreaterThan(0);
      const required = Object.entries(action.inputs).filter(([, i]) => i.required === true).map(([n]) => n);
      for (const step of uses) {
        expect(step.uses).toBe(ACTION);
        const given = Object.keys(step.with ?? {});
        expect(given.filter((k) => !(k in action.inputs))).toEqual([]);
        expect(required.filter((k) => !given.includes(k))).toEqual([]);
      }
    });

    it('runs the DAG of its folder, under the name the DAG has', () => {
      const { spec } = parseSpec(readFileSync(path.join(EXAMPLES, name, 'dag.yaml'), 'utf8'), 'dag.yaml');
      for (const step of actionSteps()) expect(path.basename(String(step.with?.['dag']))).toBe(`${spec!.name}.yaml`);
    });

    it('gives a literal mode only where it is one of run, dry-run, plan', () => {
      for (const step of actionSteps()) {
        const mode = step.with?.['mode'];
        if (mode === undefined || String(mode).includes('${{')) continue;
        expect(['run', 'dry-run', 'plan']).toContain(mode);
      }
    });
  });
});
