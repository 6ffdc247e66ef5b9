/**
 * Vitest global setup: with POD_DAG_TEST_CLUSTER=control-plane, starts one real control plane
 * (control-plane/index.ts) for the whole test run and hands its admin kubeconfig and audit log to
 * the test files (test/helpers/cluster.ts); otherwise does nothing.
 */
import type { TestProject } from 'vitest/node';
import { clusterChoice, CONTROL_PLANE_NODES } from './cluster-choice.ts';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (clusterChoice().kind !== 'control-plane') return undefined;
  const { startControlPlane } = await import('../../control-plane/index.ts');
  const started = Date.now();
  const cp = await startControlPlane({ nodes: CONTROL_PLANE_NODES, log: (l) => console.log(`control-plane: ${l}`) });
  console.log(`control-plane: ${cp.url} ready in ${Date.now() - started} ms (audit log ${cp.auditLogPath})`);
  project.provide('controlPlane', { adminKubeconfig: cp.adminKubeconfig, auditLogPath: cp.auditLogPath, url: cp.url });
  return () => cp.close();
}
