/**
 * Every example (examples/*) and the demo's DAGs (`npm run demo`: examples/clickhouse-db-sync;
 * `npm run demo -- --bad-day`: test/fixtures/bad-day) run through dist/index.js, as the runner
 * runs it, on the sandbox and on the real control plane (POD_DAG_TEST_CLUSTER=control-plane
 * only), each set up alike (test/fixtures/example-cluster.ts), and end the same: the exit code,
 * the step's outputs, every task's result and attempts (class, reason, exit code), and the nodes
 * of the tasks that ask for one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SummaryJson } from '../../src/report/outputs.ts';
import { parseSpec } from '../../src/spec/index.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { EXAMPLE_IMAGES, EXAMPLE_NODES, EXAMPLE_OBJECTS } from '../fixtures/example-cluster.ts';
import { CLUSTER, startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { show } from '../helpers/e2e.ts';
import { ROOT, runStep } from '../harness/action.ts';

const examples = readdirSync(path.join(ROOT, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => `examples/${d.name}/dag.yaml`)
  .sort();
const BAD_DAY = 'test/fixtures/bad-day/dag.yaml';

/**
 * Namespaces of this file's own on the shared control plane (the `namespace` input overrides the
 * spec's), so no other test file's secrets or pods meet these runs.
 */
const own = (namespace: string): string => `both-${namespace}`;

/** The DAG's namespace (this file's own), and a value for every param it requires (the bad day's scratch directory is the run's own). */
function inputsFor(dag: string, scratch: string): { namespace: string; params: string } {
  const { spec } = parseSpec(readFileSync(path.join(ROOT, dag), 'utf8'), dag);
  const params = spec!.params
    .filter((p) => p.required && p.default === null)
    .map((p) => `${p.name}: ${p.name === 'scratch' ? scratch : 'docs-test'}`)
    .join('\n');
  return { namespace: own(spec!.namespace ?? 'default'), params };
}

/** The node each task that asks for one (node affinity) must run on, by DAG. */
const PINNED: Record<string, Record<string, string>> = {
  'examples/clickhouse-db-sync/dag.yaml': { 'drop-destination-db': 'pool-locale-1', 'create-db': 'pool-locale-1', 'migrate-data': 'pool-locale-1', report: 'pool-locale-1' },
  'examples/gpu-training/dag.yaml': { train: 'pool-gpu-1' },
};

/** How a run ended, as far as it must not depend on the cluster. */
interface Outcome {
  exitCode: number | null;
  outputs: { result?: string; 'failed-tasks'?: unknown; outputs?: unknown };
  tasks: Record<string, { result: string | null; shown: string; reason: string | null; attempts: (string | number | null)[][]; outputs: Record<string, string> }>;
  nodes: Record<string, (string | null)[]>;
}

interface Target {
  name: string;
  kubeconfig: () => string;
}

async function run(target: Target, dag: string, runId: string): Promise<{ outcome: Outcome; log: string }> {
  // RUNNER_TEMP outside the harness's own folder (which it deletes with the step): summary-json is read after.
  const dir = await mkdtemp(path.join(tmpdir(), `pod-dag-both-${target.name}-`));
  const step = await runStep({
    inputs: { dag, ...inputsFor(dag, dir), kubeconfig: target.kubeconfig(), 'keep-pods': 'never' },
    env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1', RUNNER_TEMP: dir },
    deadlineMs: 240_000,
  });
  const file = step.outputs['summary-json'];
  if (!file) throw new Error(`${dag} on the ${target.name}: no summary-json\n${show(step)}`);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as SummaryJson;
  const pinned = PINNED[dag] ?? {};
  return {
    log: show(step),
    outcome: {
      exitCode: step.exitCode,
      outputs: { result: step.outputs['result'], 'failed-tasks': JSON.parse(step.outputs['failed-tasks'] ?? 'null'), outputs: JSON.parse(step.outputs['outputs'] ?? 'null') },
      tasks: Object.fromEntries(
        doc.tasks.map((t) => [t.id, { result: t.result, shown: t.shown, reason: t.reason, attempts: t.attempts.map((a) => [a.attempt, a.class, a.reason, a.exitCode]), outputs: t.outputs }]),
      ),
      nodes: Object.fromEntries(doc.tasks.filter((t) => t.id in pinned).map((t) => [t.id, t.attempts.map((a) => a.node)])),
    },
  };
}

/** Creates the examples' ServiceAccounts and secrets (the namespaces exist). */
async function setUp(kubeconfig: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const exists = (err: unknown): void => {
    if ((err as { code?: number }).code !== 409) throw err;
  };
  for (const [ns, o] of Object.entries(EXAMPLE_OBJECTS)) {
    const namespace = own(ns);
    for (const name of o.serviceAccounts) await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch(exists);
    for (const [name, stringData] of Object.entries(o.secrets)) await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } }).catch(exists);
  }
}

describe.runIf(CLUSTER.kind === 'control-plane')('every example and the demo\'s DAGs end the same on the sandbox and on the real control plane', () => {
  let sandbox: Sandbox;
  let real: TestCluster;
  const namespaces = ['default', ...Object.keys(EXAMPLE_OBJECTS)].map(own);
  beforeAll(async () => {
    // The global control plane has the same nodes and images (test/helpers/global-cluster.ts).
    [real, sandbox] = await Promise.all([startTestCluster({ namespaces }), startSandbox({ nodes: EXAMPLE_NODES, images: EXAMPLE_IMAGES, namespaces: ['default', ...namespaces] })]);
    await Promise.all([setUp(real.kubeconfig()), setUp(sandbox.kubeconfig())]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([real?.close(), sandbox?.close()]);
  });

  it.each([...examples, BAD_DAY].map((dag, i) => [dag, String(8800001 + i)]))('%s', async (dag, runId) => {
    const onSandbox = await run({ name: 'sandbox', kubeconfig: () => sandbox.kubeconfig() }, dag, runId);
    const onReal = await run({ name: 'control-plane', kubeconfig: () => real.kubeconfig() }, dag, runId);
    // Not alike by both failing the same way: every example succeeds; the bad day fails as the demo shows.
    expect(onSandbox.outcome.exitCode, onSandbox.log).toBe(dag === BAD_DAY ? 1 : 0);
    expect(onReal.outcome, `on the sandbox:\n${onSandbox.log}\n\non the control plane:\n${onReal.log}`).toEqual(onSandbox.outcome);
    for (const [task, node] of Object.entries(PINNED[dag] ?? {})) expect(onReal.outcome.nodes[task], task).toEqual([node]);
  }, 600_000);
});
