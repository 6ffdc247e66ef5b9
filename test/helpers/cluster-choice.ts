/**
 * POD_DAG_TEST_CLUSTER, read without importing vitest's test API (the global setup reads it too).
 * See test/helpers/cluster.ts.
 */
/** Which cluster the shared suites run on. */
export type ClusterChoice = { kind: 'sandbox' } | { kind: 'control-plane' } | { kind: 'kubeconfig'; path: string };

/** Reads POD_DAG_TEST_CLUSTER (and the older POD_DAG_E2E_KUBECONFIG); throws on a value it does not know. */
export function clusterChoice(env: NodeJS.ProcessEnv = process.env): ClusterChoice {
  const value = env['POD_DAG_TEST_CLUSTER']?.trim();
  if (!value) {
    const legacy = env['POD_DAG_E2E_KUBECONFIG'];
    return legacy ? { kind: 'kubeconfig', path: legacy } : { kind: 'sandbox' };
  }
  if (value === 'sandbox' || value === 'control-plane') return { kind: value };
  if (value.startsWith('kubeconfig:') && value.length > 'kubeconfig:'.length) return { kind: 'kubeconfig', path: value.slice('kubeconfig:'.length) };
  throw new Error(`POD_DAG_TEST_CLUSTER="${value}": expected sandbox, control-plane or kubeconfig:<path to a kubeconfig>`);
}
