/**
 * The README's promises, through the bundled action exactly as the runner runs it (dist/index.js,
 * INPUT_* variables, the runner's files): `plan` renders every example with no cluster and no
 * credentials at all, and examples/hello runs on a cluster from a kubeconfig input, with the
 * outputs the README describes (on the cluster POD_DAG_TEST_CLUSTER picks: test/helpers/cluster.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseSpec } from '../../src/spec/index.ts';
import { CLUSTER } from '../helpers/cluster.ts';
import { fileCluster } from '../helpers/e2e.ts';
import { ROOT, runStep } from '../harness/action.ts';

const examples = readdirSync(path.join(ROOT, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** A value for every param the example requires, as a workflow's `params` input would give it. */
function requiredParams(name: string): string {
  const { spec } = parseSpec(readFileSync(path.join(ROOT, 'examples', name, 'dag.yaml'), 'utf8'), 'dag.yaml');
  return spec!.params
    .filter((p) => p.required && p.default === null)
    .map((p) => `${p.name}: docs-test`)
    .join('\n');
}

describe('plan mode of the bundled action, with no cluster and no credentials', () => {
  // An empty HOME and a KUBECONFIG that does not exist: any attempt to reach a cluster would fail.
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), 'pod-dag-docs-home-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it.each(examples)('plans examples/%s', async (name) => {
    const step = await runStep({
      inputs: { dag: `examples/${name}/dag.yaml`, mode: 'plan', params: requiredParams(name) },
      env: { HOME: home, KUBECONFIG: path.join(home, 'no-such-kubeconfig'), KUBERNETES_SERVICE_HOST: '' },
    });
    expect(step.commands.filter((c) => c.command === 'error').map((c) => c.message)).toEqual([]);
    expect(step.exitCode).toBe(0);
    expect(step.outputs['result']).toBe('success');
    expect(JSON.parse(step.outputs['failed-tasks'] ?? 'null')).toEqual([]);
    const { spec } = parseSpec(readFileSync(path.join(ROOT, 'examples', name, 'dag.yaml'), 'utf8'), 'dag.yaml');
    for (const task of spec!.tasks) expect(step.summary).toContain(task.id);
  });
});

describe(`examples/hello through the bundled action, on the ${CLUSTER.kind} cluster`, () => {
  // On a given kubeconfig (kind in the e2e workflow) the namespace exists already.
  const namespace = CLUSTER.kind === 'kubeconfig' ? process.env['POD_DAG_E2E_NAMESPACE'] || 'pod-dag-e2e' : 'default';
  const cluster = fileCluster({ namespaces: [namespace] });

  it('runs from a kubeconfig input and sets result, failed-tasks, outputs and summary-json @real-cluster', async () => {
    const kubeconfig = cluster().kubeconfig(namespace);
    const step = await runStep({
      inputs: { dag: 'examples/hello/dag.yaml', kubeconfig, namespace, 'keep-pods': 'never', params: 'who: readme' },
      env: { GITHUB_RUN_ID: `${process.pid}${Date.now() % 1e6}` },
    });
    expect(step.commands.filter((c) => c.command === 'error').map((c) => c.message)).toEqual([]);
    expect(step.exitCode).toBe(0);
    expect(step.outputs['result']).toBe('success');
    expect(JSON.parse(step.outputs['failed-tasks']!)).toEqual([]);
    const outputs = JSON.parse(step.outputs['outputs']!) as Record<string, Record<string, string>>;
    expect(outputs['greet']).toEqual({ greeting: 'hello, readme' });
    expect(outputs['count']).toEqual({ lines: '3' });
    // (The file lives in RUNNER_TEMP, which the harness removes with the step; its content is the report's tests'.)
    expect(step.outputs['summary-json']).toMatch(/summary\.json$/);
    // The README: task logs stream live into the step log, each line prefixed with its task.
    expect(step.maskedLog).toContain('[shout] HELLO, README');
    // The credential in the kubeconfig is registered with the runner as a secret.
    const users = (parse(kubeconfig) as { users: { user: Record<string, string> }[] }).users;
    const credentials = users.flatMap((u) => [u.user['token'], u.user['client-key-data']]).filter((v): v is string => typeof v === 'string');
    expect(credentials.length).toBeGreaterThan(0);
    for (const c of credentials) expect(step.masks).toContain(c);
  });
});
