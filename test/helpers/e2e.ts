/**
 * The prelude every test file that drives dist/index.js shares: its cluster (started before its
 * tests, closed after them), a fresh workspace holding a spec, and how a step is shown when an
 * assertion fails.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.ts';
import type { StepResult } from '../harness/action.ts';
import { startTestCluster, type ClusterSetup, type TestCluster } from './cluster.ts';

/**
 * The cluster POD_DAG_TEST_CLUSTER picks, for this test file: started (or connected to) in
 * `beforeAll`, closed in `afterAll`. Call at the top of the file; the getter is valid in tests.
 */
export function fileCluster(setup: ClusterSetup = {}, ready?: (cluster: TestCluster) => Promise<void>): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(setup);
    await ready?.(cluster);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });
  return () => {
    if (!cluster) throw new Error('fileCluster(): the cluster is read before beforeAll started it');
    return cluster;
  };
}

/**
 * A sandbox of this test file's own, for suites that need what only the sandbox does (its
 * scripted faults, its counters read synchronously): started in `beforeAll`, closed in `afterAll`.
 */
export function fileSandbox(start: SandboxOptions | (() => Promise<Sandbox>) = {}): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = typeof start === 'function' ? await start() : await startSandbox(start);
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  return () => {
    if (!sandbox) throw new Error('fileSandbox(): the sandbox is read before beforeAll started it');
    return sandbox;
  };
}

/** Writes `yaml` as dag.yaml into a fresh temporary workspace; returns the workspace. */
export async function workspace(yaml: string, prefix = 'pod-dag-e2e-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return dir;
}

/** A step as an assertion's message shows it: how it ended, its masked log, its stderr. */
export const show = (step: StepResult): string => `exit ${step.exitCode}${step.signal ? ` signal ${step.signal}` : ''}\n${step.maskedLog}\n${step.stderr}`;
