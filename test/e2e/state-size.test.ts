/**
 * A run whose state is larger than one ConfigMap, through the bundled action (dist/index.js) as the
 * runner drives it: 300 tasks each with 3.5 KB of outputs (about 1.2 MB of state, past the 1 MiB
 * one ConfigMap holds). Every task's end and outputs are kept (no "outputs were not kept"
 * warning), and a GitHub re-run reuses all 300 successes with their outputs, running only the
 * task that failed: nothing runs twice.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { runStateName } from '../../src/kube/run-store.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { runStep, stepScope, type StepResult } from '../harness/action.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: true });
});
afterAll(async () => {
  await sandbox?.close();
});

const TASKS = 300;
const id = (i: number) => `t${String(i).padStart(3, '0')}`;
const BLOB = 'x'.repeat(3500);

/** 300 tasks with 3.5 KB of outputs each, then `last`, which needs them all. */
function spec(lastImage: string): string {
  // The outputs come from a param, so that the spec stays small.
  const lines = ['version: 1', 'name: big-state', 'params:', `  blob: "${BLOB}"`, 'tasks:'];
  for (let i = 0; i < TASKS; i++) lines.push(`  ${id(i)}: {image: sandbox/succeed, env: {SANDBOX_TERMINATION_MESSAGE: "blob={{ params.blob }}-${i}"}}`);
  lines.push('  last:', `    image: ${lastImage}`, `    needs: [${Array.from({ length: TASKS }, (_, i) => id(i)).join(', ')}]`, '');
  return lines.join('\n');
}

async function workspace(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-state-'));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return dir;
}

const show = (step: StepResult) => `exit ${step.exitCode}\n${step.maskedLog.slice(-5000)}\n${step.stderr}`;

describe('a run state past one ConfigMap', () => {
  it('keeps every task and its outputs, and a re-run reuses all of them', async () => {
    const runId = '8100001';
    const inputs = { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never', 'max-parallel': '100' };
    const first = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1' }, cwd: await workspace(spec('sandbox/exit:3')) });
    expect(first.exitCode, show(first)).toBe(1);
    expect(first.outputs['failed-tasks'], show(first)).toBe('["last"]');
    expect(first.maskedLog).not.toMatch(/were not kept|Could not record/);
    // The state spans several ConfigMaps: the head and its shards.
    const shards = sandbox.list('configmaps', 'default').filter((cm) => cm.metadata.name.startsWith(`${runStateName('big-state', runId, stepScope())}.shard-`));
    expect(shards.length).toBeGreaterThan(1);
    // Every pod was deleted (keep-pods never): each end was recorded first.
    expect(sandbox.list('pods', 'default').filter((p) => p.metadata.name.startsWith('big-state-'))).toEqual([]);

    const second = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: await workspace(spec('sandbox/succeed')) });
    expect(second.exitCode, show(second)).toBe(0);
    const outputs = JSON.parse(second.outputs['outputs']!) as Record<string, Record<string, string>>;
    for (let i = 0; i < TASKS; i++) {
      expect(second.maskedLog).toContain(`${id(i)}: succeeded in run attempt 1; reusing its result and outputs`);
      expect(outputs[id(i)]?.['blob']).toBe(`${BLOB}-${i}`);
      expect(sandbox.containerStarts(podName({ dag: 'big-state', runId, scope: stepScope(), runAttempt: 2, task: id(i), attempt: 1 }))).toBe(0);
    }
    expect(sandbox.containerStarts(podName({ dag: 'big-state', runId, scope: stepScope(), runAttempt: 2, task: 'last', attempt: 1 }))).toBe(1);
  });
});
