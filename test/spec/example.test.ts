/** The shipped example and the committed JSON Schema. */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadSpec, resolveParams, renderTemplate, SpecFileError } from '../../src/spec/index.ts';
// @ts-expect-error: a plain .mjs script without type declarations
import { schemaText } from '../../scripts/gen-schema.mjs';

const root = join(import.meta.dirname, '..', '..');

describe('examples/clickhouse-db-sync', () => {
  it('validates and tells the seed story: drop, create, migrate with retries, report always', async () => {
    const { spec, issues } = await loadSpec('examples/clickhouse-db-sync/dag.yaml', root);
    expect(issues).toEqual([]);
    expect(spec!.tasks.map((t) => [t.id, t.needs])).toEqual([
      ['drop-destination-db', []],
      ['create-db', ['drop-destination-db']],
      ['migrate-data', ['create-db']],
      ['report', ['migrate-data']],
    ]);
    const migrate = spec!.tasks[2]!;
    expect(migrate.image).toBe('registry.example.com/internal-scripts:2024-01');
    expect(migrate.command).toEqual(['python', 'clickhouse/migration.py']);
    expect(migrate.retries).toMatchObject({ limit: 2, delayMs: 180_000, backoff: 1 });
    expect(migrate.env).toContainEqual({ name: 'CLICKHOUSE_PASSWORD', secret: 'clickhouse-creds', key: 'password', optional: false });
    expect(migrate.pod.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'org', operator: 'In', values: ['locale'] }] }],
        },
      },
    });
    expect(spec!.tasks[3]!.if).toEqual({ source: 'always()' });

    const { params, issues: paramIssues } = resolveParams(spec!, 'destination_host: ch.internal');
    expect(paramIssues).toEqual([]);
    expect(migrate.args!.map((a) => renderTemplate(a, { params, outputs: {} }))).toEqual([
      '--source-db', 'clickhouse_source_db', '--destination-db', 'clickhouse_destination_db', '--destination-host', 'ch.internal',
    ]);
  });

  it('points editors at the schema on its first line', () => {
    expect(readFileSync(join(root, 'examples/clickhouse-db-sync/dag.yaml'), 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=../../schema/pod-dag.schema.json',
    );
  });

  it('has a workflow that uses the action on schedule, dispatch and pull requests', () => {
    const wf = parse(readFileSync(join(root, 'examples/clickhouse-db-sync/workflow.yml'), 'utf8'));
    expect(Object.keys(wf.on)).toEqual(['schedule', 'workflow_dispatch', 'pull_request']);
    const step = wf.jobs.sync.steps.find((s: { uses?: string }) => s.uses === 'org/pod-dag-action@v1');
    expect(step.with.mode).toContain("'dry-run'");
  });
});

describe('schema/pod-dag.schema.json', () => {
  it('equals a fresh generation from the zod schema (run "npm run schema")', () => {
    expect(readFileSync(join(root, 'schema/pod-dag.schema.json'), 'utf8')).toBe(schemaText());
  });

  it('is a strict JSON Schema with titles and descriptions', () => {
    const schema = JSON.parse(schemaText());
    expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'pod-dag-action DAG spec', additionalProperties: false });
    expect(schema.required).toEqual(['version', 'name', 'tasks']);
    expect(schema.$defs.Task.additionalProperties).toBe(false);
    // Top-level x- keys are extension fields (anchors), as parseSpec takes them; nothing else is.
    expect(Object.keys(schema.patternProperties)).toEqual(['^x-']);
    expect(schema.$defs.Task.patternProperties).toBeUndefined();
    expect(schema.$defs.Retries.properties.limit.default).toBe(0);
  });
});

describe('loadSpec', () => {
  it('says where it looked and what to check when the file is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pod-dag-spec-'));
    await expect(loadSpec('.github/dags/x.yaml', dir)).rejects.toThrow(
      new SpecFileError(`DAG spec not found at '.github/dags/x.yaml' (resolved to ${join(dir, '.github/dags/x.yaml')}). Did you run actions/checkout before this step?`),
    );
  });

  it('refuses a directory and reports issues with the path as given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pod-dag-spec-'));
    await mkdir(join(dir, 'd.yaml'));
    await expect(loadSpec('d.yaml', dir)).rejects.toThrow(/is a directory; expected a YAML file/);
    await writeFile(join(dir, 'bad.yaml'), 'version: 1\nname: x\ntasks: {a: {}}\n');
    const { spec, issues } = await loadSpec('bad.yaml', dir);
    expect(spec).toBeNull();
    expect(issues).toEqual([{ file: 'bad.yaml', line: 3, col: 9, path: 'tasks.a', message: 'task "a" has no image; set tasks.a.image or defaults.image' }]);
  });
});
