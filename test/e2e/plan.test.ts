/**
 * `mode: plan` through the bundled action (dist/index.js), driven as the runner drives it: no
 * cluster, no credentials. A bad spec or a bad input stops the step before anything else, with
 * annotations at the spec's file:line:col.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runStep, stepScope } from '../harness/action.ts';
import { recordLoads } from '../helpers/record-loads.ts';

const EXAMPLE = 'examples/clickhouse-db-sync/dag.yaml';
const PARAMS = 'destination_host: clickhouse.data-jobs.svc.cluster.local\n';

/** The annotations (error/warning/notice) a step printed. */
const annotations = (commands: { command: string; properties: Record<string, string>; message: string }[]) =>
  commands.filter((c) => ['error', 'warning', 'notice'].includes(c.command));

describe('mode: plan', () => {
  it('plans the example without any cluster or credentials: result success, Mermaid graph and every task in the summary', async () => {
    // No KUBECONFIG, and a HOME without ~/.kube: nothing to connect to even by accident.
    const home = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-home-'));
    const step = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS }, env: { HOME: home } });

    expect(step.exitCode, step.stdout + step.stderr).toBe(0);
    expect(step.outputs['result']).toBe('success');
    expect(JSON.parse(step.outputs['failed-tasks']!)).toEqual([]);
    expect(annotations(step.commands).filter((c) => c.command === 'error')).toEqual([]);
    expect(step.summary).toContain('```mermaid');
    expect(step.summary).toMatch(/flowchart/);
    for (const task of ['drop-destination-db', 'create-db', 'migrate-data', 'report']) expect(step.summary).toContain(task);
    // The rendered pods carry the params, substituted: nothing was left as a template.
    expect(step.summary).toContain('clickhouse.data-jobs.svc.cluster.local');
    // Deterministic pod names from DAG, run id, the step's scope (job, step, matrix leg), run attempt, task and attempt.
    expect(step.summary).toContain(`name: clickhouse-db-sync-1000001-${stepScope()!}-1-drop-destination-db-1`);
    // Nothing about a cluster in the log.
    expect(step.stdout).not.toMatch(/Cluster https?:/);
  });

  it('loads dist/index.js only, not the chunks with the Kubernetes client (a run loads them), and so does its post step', async () => {
    const dist = path.join(ROOT, 'dist') + path.sep;
    const files = (rec: ReturnType<typeof recordLoads>) => rec.loaded().filter((f) => f.startsWith(dist)).map((f) => f.slice(dist.length));
    const main = recordLoads();
    const step = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS }, env: main.env });
    expect(step.exitCode, step.stdout + step.stderr).toBe(0);
    expect(files(main)).toEqual(['index.js']);
    const post = recordLoads();
    const cleanup = await runStep({ entry: 'post', inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS }, state: step.state, env: post.env });
    expect(cleanup.exitCode).toBe(0);
    expect(files(post)).toEqual(['post.js', 'index.js']);
    // The same step in run mode, without credentials: it stops at connecting, chunks loaded.
    const run = recordLoads();
    const failed = await runStep({ inputs: { dag: EXAMPLE, mode: 'run', params: PARAMS }, env: { ...run.env, HOME: '/nonexistent' } });
    expect(failed.exitCode).toBe(1);
    expect(files(run).filter((f) => /^\d+\.index\.js$/.test(f)).length).toBeGreaterThan(0);
  });

  it('the post step after a plan has nothing to do: no state, exit 0, no cluster, no warning', async () => {
    const main = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS } });
    expect(main.state).toEqual({});
    const post = await runStep({ entry: 'post', inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS }, state: main.state });
    expect(post.exitCode, post.stdout + post.stderr).toBe(0);
    expect(post.commands.filter((c) => c.command === 'warning' || c.command === 'error')).toEqual([]);
  });

  it('is deterministic: the same inputs give the same summary', async () => {
    const a = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS } });
    const b = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: PARAMS } });
    expect(a.exitCode).toBe(0);
    expect(b.summary).toBe(a.summary);
  });

  it('a bad spec: one ::error at file,line,col for every problem, exit 1, and nothing else happens', async () => {
    const file = 'test/spec/fixtures/many-errors.yaml';
    const step = await runStep({ inputs: { dag: file, mode: 'plan' } });

    expect(step.exitCode).toBe(1);
    const errors = annotations(step.commands).filter((c) => c.command === 'error');
    const located = errors.filter((c) => c.properties['file'] !== undefined);
    // The fixture has six problems; every one is reported at once, each with its position.
    expect(located.map((c) => [c.properties['line'], c.properties['col']])).toEqual([
      ['2', '7'],
      ['3', '1'],
      ['7', '13'],
      ['8', '5'],
      ['11', '14'],
      ['12', '9'], // always(1): GitHub's parser points at the function, not at its argument
    ]);
    for (const c of located) expect(c.properties['file']).toBe(file);
    expect(located.find((c) => c.message.includes('"need"'))?.message).toMatch(/did you mean "needs"/);
    expect(located.find((c) => c.message.includes('retires'))?.message).toMatch(/unknown key/);
    // The step's failure message counts them and says nothing ran; it is a log line, not an
    // eleventh error annotation (GitHub shows ten per step: it would push a problem out).
    expect(errors).toHaveLength(6);
    expect(step.stdout).toMatch(/Error: The DAG spec .* has 6 problems.*nothing was run/);
    // Every problem is in the log and in the job summary too; no plan.
    for (const c of located) expect(step.stdout).toContain(`${file}:${c.properties['line']}:${c.properties['col']}: `);
    expect(step.stdout).not.toContain('Plan of DAG');
    expect(step.summary).toContain('6 problems; nothing was run.');
    // A later step's `if: steps.dag.outputs.result == 'failure'` sees this failure too.
    expect(step.outputs['result']).toBe('failure');
    expect(step.outputs['failed-tasks']).toBe('[]');
  });

  it('an absolute dag path (${{ github.workspace }}/…) or ./…: annotations and summary links use the repository path', async () => {
    const file = 'test/spec/fixtures/many-errors.yaml';
    for (const dag of [path.join(ROOT, file), `./${file}`]) {
      const step = await runStep({ inputs: { dag, mode: 'plan' } });
      expect(step.exitCode).toBe(1);
      const located = step.commands.filter((c) => c.command === 'error' && c.properties['file'] !== undefined);
      expect(located).toHaveLength(6);
      for (const c of located) expect(c.properties['file'], dag).toBe(file);
    }
    const ok = await runStep({ inputs: { dag: path.join(ROOT, EXAMPLE), mode: 'plan', params: PARAMS } });
    expect(ok.exitCode, ok.stdout).toBe(0);
    expect(ok.summary).toContain(`/blob/0123456789abcdef0123456789abcdef01234567/${EXAMPLE}#L`);
  });

  it('a spec that is not YAML at all is annotated at its position', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-'));
    await writeFile(path.join(dir, 'dag.yaml'), 'version: 1\nname: x\ntasks:\n  a: {image: busybox\n');
    const step = await runStep({ inputs: { dag: 'dag.yaml', mode: 'plan' }, cwd: dir });
    expect(step.exitCode).toBe(1);
    const located = step.commands.filter((c) => c.command === 'error' && c.properties['file'] === 'dag.yaml');
    expect(located.length).toBeGreaterThan(0);
    for (const c of located) {
      expect(Number(c.properties['line'])).toBeGreaterThan(0);
      expect(Number(c.properties['col'])).toBeGreaterThan(0);
    }
  });

  it("a bad input (mode: dryrun) fails with a message naming the input, the value and what is allowed", async () => {
    const step = await runStep({ inputs: { dag: EXAMPLE, mode: 'dryrun', params: PARAMS } });
    expect(step.exitCode).toBe(1);
    const errors = step.commands.filter((c) => c.command === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe("Invalid input 'mode': 'dryrun'. Expected one of: run, dry-run, plan.");
    expect(step.outputs['result']).toBe('failure');
    expect(step.stderr).not.toMatch(/at .*\.js:\d+/); // never a stack trace
  });

  it('several bad inputs are reported together', async () => {
    const step = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', 'keep-pods': 'sometimes', 'max-parallel': '-1' } });
    expect(step.exitCode).toBe(1);
    const message = step.commands.find((c) => c.command === 'error')!.message;
    expect(message).toContain("'keep-pods': 'sometimes'");
    expect(message).toContain("'max-parallel': '-1'");
  });

  it('a missing required param names it and fails before anything is planned', async () => {
    const step = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan' } });
    expect(step.exitCode).toBe(1);
    const message = step.commands.find((c) => c.command === 'error')!.message;
    expect(message).toContain("'params'");
    expect(message).toContain('destination_host');
    expect(step.stdout).not.toContain('Plan of DAG');
  });

  it('params as JSON work; a misspelt param or params that are not a map are named', async () => {
    const json = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: '{"destination_host": "json.example"}' } });
    expect(json.exitCode, json.stdout).toBe(0);
    expect(json.summary).toContain('json.example');

    const typo = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: 'destination_host: h\ndestination_bd: x\n' } });
    expect(typo.exitCode).toBe(1);
    expect(typo.commands.find((c) => c.command === 'error')!.message).toMatch(/destination_bd.*destination_db/s);

    const list = await runStep({ inputs: { dag: EXAMPLE, mode: 'plan', params: '- a\n- b\n' } });
    expect(list.exitCode).toBe(1);
    expect(list.commands.find((c) => c.command === 'error')!.message).toMatch(/params/);
    expect(list.commands.find((c) => c.command === 'error')!.message).not.toMatch(/internal error/);
  });

  it('a missing spec file says where it looked and what to check', async () => {
    const step = await runStep({ inputs: { dag: '.github/dags/missing.yaml', mode: 'plan' } });
    expect(step.exitCode).toBe(1);
    const message = step.commands.find((c) => c.command === 'error')!.message;
    expect(message).toContain('.github/dags/missing.yaml');
    expect(message).toContain(path.join(ROOT, '.github/dags/missing.yaml'));
    expect(message).toMatch(/checkout/);
    expect(step.stderr).toBe('');
  });

  it('a missing dag input is required', async () => {
    const step = await runStep({ inputs: { mode: 'plan' } });
    expect(step.exitCode).toBe(1);
    expect(step.commands.find((c) => c.command === 'error')!.message).toMatch(/Input 'dag' is required/);
  });
});
