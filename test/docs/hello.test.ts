/**
 * examples/hello runs for real, through the engine and the real client, on the cluster
 * POD_DAG_TEST_CLUSTER picks (test/helpers/cluster.ts): the sandbox, the real control plane, or a
 * kubeconfig (the e2e workflow runs the tests tagged @real-cluster on kind; POD_DAG_E2E_NAMESPACE
 * picks the namespace there).
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
import { CLUSTER, startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { ROOT } from '../harness/action.ts';

/** A cluster to run on (POD_DAG_TEST_CLUSTER, test/helpers/cluster.ts) and a client for it. */
interface Cluster {
  cluster: TestCluster;
  client: KubeClient;
  namespace: string;
}

async function testCluster(): Promise<Cluster> {
  // On a given kubeconfig (kind in the e2e workflow) the namespace exists already.
  const namespace = CLUSTER.kind === 'kubeconfig' ? process.env['POD_DAG_E2E_NAMESPACE'] || 'pod-dag-e2e' : 'default';
  const cluster = await startTestCluster({ namespaces: [namespace] });
  const conn = await connect({ kubeconfig: cluster.kubeconfig() }, {});
  return { cluster, client: createClient(conn.kubeConfig), namespace };
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
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await testCluster();
  });
  afterAll(async () => {
    await cluster?.cluster.close();
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
