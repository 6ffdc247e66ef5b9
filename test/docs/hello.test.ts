/**
 * examples/hello runs for real, through the engine and the real client: against the sandbox
 * cluster, or, when POD_DAG_E2E_KUBECONFIG names a kubeconfig, against that cluster (the e2e
 * workflow runs the tests tagged @real-cluster on kind; POD_DAG_E2E_NAMESPACE picks the namespace).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDag } from '../../src/engine/index.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { runPodSelector } from '../../src/kube/pod.ts';
import { connect } from '../../src/kube/auth.ts';
import { createClient, type KubeClient } from '../../src/kube/client.ts';
import { LiveLogReporter } from '../../src/report/live-log.ts';
import type { RunContext } from '../../src/report/types.ts';
import { parseSpec, resolveParams } from '../../src/spec/index.ts';
import { startSandbox } from '../../sandbox/index.ts';
import { ROOT } from '../harness/action.ts';

/** A cluster to run on: the one named by the environment, else a fresh sandbox. */
interface TestCluster {
  client: KubeClient;
  namespace: string;
  close(): Promise<void>;
}

async function testCluster(): Promise<TestCluster> {
  const file = process.env['POD_DAG_E2E_KUBECONFIG'];
  if (file) {
    const conn = await connect({ kubeconfig: readFileSync(file, 'utf8') }, {});
    return { client: createClient(conn.kubeConfig), namespace: process.env['POD_DAG_E2E_NAMESPACE'] || 'pod-dag-e2e', close: async () => {} };
  }
  const sandbox = await startSandbox();
  const conn = await connect({ kubeconfig: sandbox.kubeconfig() }, {});
  return { client: createClient(conn.kubeConfig), namespace: 'default', close: () => sandbox.close() };
}

const context = (runId: string): RunContext => ({
  repository: 'org/pod-dag-action',
  runId,
  runAttempt: 1,
  sha: null,
  ref: null,
  serverUrl: 'https://github.com',
  workflow: 'docs',
  job: 'hello',
  actor: null,
  eventName: 'workflow_dispatch',
});

describe('examples/hello', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await testCluster();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('runs every task once, passes outputs downstream, and deletes its pods @real-cluster', async () => {
    const file = path.join(ROOT, 'examples', 'hello', 'dag.yaml');
    const { spec, issues } = parseSpec(readFileSync(file, 'utf8'), 'examples/hello/dag.yaml');
    expect(issues).toEqual([]);
    const resolved = resolveParams(spec!, 'who: docs');
    expect(resolved.issues).toEqual([]);

    const lines: string[] = [];
    const ctx = context(`hello-${process.pid}-${Date.now() % 1e6}`);
    const state = await runDag({
      spec: spec!,
      params: resolved.params,
      mode: 'run',
      namespace: cluster.namespace,
      maxParallel: 0,
      keepPods: 'never',
      pods: kubePodApi(cluster.client),
      context: ctx,
      reporter: new LiveLogReporter({ write: (l) => void lines.push(l) }),
    });

    expect(state.result).toBe('success');
    expect(Object.fromEntries(state.tasks.map((t) => [t.id, [t.result, t.attempts.length]]))).toEqual({
      greet: ['succeeded', 1],
      count: ['succeeded', 1],
      shout: ['succeeded', 1],
      'wrap-up': ['succeeded', 1],
    });
    expect(state.tasks.find((t) => t.id === 'greet')?.outputs).toEqual({ greeting: 'hello, docs' });
    expect(state.tasks.find((t) => t.id === 'count')?.outputs).toEqual({ lines: '3' });
    // The output of greet reached shout through its env, and count's reached wrap-up.
    expect(lines.some((l) => l.includes('HELLO, DOCS'))).toBe(true);
    expect(lines.some((l) => l.includes('count printed 3 lines; done'))).toBe(true);

    // keep-pods: never. Deletion is asynchronous in Kubernetes (a pod may still be listed while it
    // terminates), so what must hold when the run returns is that every pod of it is being deleted.
    const left = await cluster.client.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: runPodSelector(spec!, ctx) });
    expect(left.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name)).toEqual([]);
  });
});
