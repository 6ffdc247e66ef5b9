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
  // The demo cluster's nodes and images (the example DAG's node affinity wants org=locale).
  const { DEMO_IMAGES, DEMO_NODES } = await import('../fixtures/demo-cluster.ts');
  const started = Date.now();
  const cp = await startControlPlane({ nodes: DEMO_NODES, images: DEMO_IMAGES, restartBackoffMs: 1000, log: (l) => console.log(`control-plane: ${l}`) });
  console.log(`control-plane: ${cp.url} ready in ${Date.now() - started} ms (audit log ${cp.auditLogPath})`);
  project.provide('controlPlane', { adminKubeconfig: cp.adminKubeconfig, auditLogPath: cp.auditLogPath, url: cp.url });
  return () => cp.close();
}
