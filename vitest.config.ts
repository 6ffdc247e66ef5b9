import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    // POD_DAG_TEST_CLUSTER=control-plane: one real control plane for the run (else a no-op).
    globalSetup: ['test/helpers/global-cluster.ts'],
  },
});
