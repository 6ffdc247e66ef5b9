/**
 * Vitest global setup: with POD_DAG_TEST_CLUSTER=control-plane, starts one real control plane
 * (control-plane/index.ts) for the whole test run and hands its admin kubeconfig and audit log to
 * the test files (test/helpers/cluster.ts); otherwise does nothing.
 */
import type { TestProject } from 'vitest/node';
import { clusterChoice } from './cluster-choice.ts';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (clusterChoice().kind !== 'control-plane') return undefined;
  const { startControlPlane } = await import('../../control-plane/index.ts');
  // The nodes and images of every example (test/fixtures/example-cluster.ts: the demo's, a GPU node, stand-in images).
  const { EXAMPLE_IMAGES, EXAMPLE_NODES } = await import('../fixtures/example-cluster.ts');
  const started = Date.now();
  const cp = await startControlPlane({ nodes: EXAMPLE_NODES, images: EXAMPLE_IMAGES, restartBackoffMs: 1000, log: (l) => console.log(`control-plane: ${l}`) });
  console.log(`control-plane: ${cp.url} ready in ${Date.now() - started} ms (audit log ${cp.auditLogPath})`);
  project.provide('controlPlane', { adminKubeconfig: cp.adminKubeconfig, auditLogPath: cp.auditLogPath, url: cp.url });
  return () => cp.close();
}
