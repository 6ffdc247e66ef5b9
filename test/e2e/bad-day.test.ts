/**
 * The bad day of `npm run demo -- --bad-day`, driven through dist/index.js as the runner does:
 * a task that fails once and is retried, one that fails for good with its dependants skipped, an
 * `if: always()` task that still runs; then "Re-run failed jobs" (same run id, run attempt 2),
 * which runs only the failed task and what follows it. What the user reads is checked too: the
 * live log, the annotations and the summary (failure first, open log tail, kubectl commands).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { startDemoCluster } from '../fixtures/demo-cluster.ts';
import { fileSandbox, show } from '../helpers/e2e.ts';
import { runStep, stepScope, type StepResult } from '../harness/action.ts';

const DAG = 'test/fixtures/bad-day/dag.yaml';
const RUN_ID = '4000001';

const sandbox = fileSandbox(startDemoCluster);
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pod-dag-bad-day-'));
});
const pod = (task: string, runAttempt: number, attempt = 1) => podName({ dag: 'bad-day', runId: RUN_ID, scope: stepScope(), runAttempt, task, attempt });
const attemptOf = (runAttempt: number) =>
  runStep({
    inputs: { dag: DAG, params: `scratch: ${scratch}\n`, kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'on-failure' },
    env: { GITHUB_RUN_ID: RUN_ID, GITHUB_RUN_ATTEMPT: String(runAttempt) },
  });

describe('the bad day', () => {
  let first: StepResult;

  it('run attempt 1: a retry that works, a failure for good, its dependants skipped, if: always() still runs', async () => {
    first = await attemptOf(1);
    expect(first.exitCode, show(first)).toBe(1);
    expect(first.outputs['result']).toBe('failure');
    expect(JSON.parse(first.outputs['failed-tasks']!)).toEqual(['load-users']);

    const log = first.maskedLog.split('\n');
    expect(log).toContain('load-events attempt 1 failed: exit code 1; retrying in 2s (attempt 2 of 3)');
    expect(log).toContain('[load-events #2] loaded 120000 events');
    expect(log).toContain('load-users attempt 1 failed: exit code 3; no retries configured (retries.limit is 0)');
    expect(log).toContain('build-report skipped: needs "load-users", which failed');
    expect(log).toContain('publish skipped: needs "build-report", which was skipped');
    expect(log).toContain('[notify] posting the run summary to #data-alerts');
    for (const [task, starts] of [['extract', 1], ['load-users', 1], ['notify', 1], ['build-report', 0], ['publish', 0]] as const) {
      expect(sandbox().containerStarts(pod(task, 1)), task).toBe(starts);
    }
    expect(sandbox().containerStarts(pod('load-events', 1, 2))).toBe(1);

    // The annotation says how it ended once, and what it kept from running.
    const error = first.commands.find((c) => c.command === 'error' && c.properties['title']?.startsWith('Task load-users'));
    expect(error?.properties['title']).toBe('Task load-users failed: exit 3');
    expect(error?.message).toBe(`Failed after 1 attempt; last pod ${pod('load-users', 1)} on node pool-locale-1.\nNot run because of it: build-report, publish.`);

    // The summary opens with the failure: its log tail, open, and how to look at the kept pod.
    const summary = first.summary;
    expect(summary.indexOf('### Failed task')).toBeLessThan(summary.indexOf('### Graph'));
    expect(summary).toContain(`: exit 3, after 1 attempt`);
    expect(summary).toContain(`error: ${scratch}/users.csv: no such file or directory\n\`\`\``);
    expect(summary).toContain(`kubectl -n default describe pod ${pod('load-users', 1)}`);
    expect(summary).toContain('kept by `keep-pods: on-failure`');
    // The failed attempt's pod is kept, as the summary says.
    expect(sandbox().get('pods', 'default', pod('load-users', 1))).toBeDefined();
  });

  it('run attempt 2 (Re-run failed jobs): only the failed task and what follows it run', async () => {
    expect(first, 'attempt 1 ran').toBeDefined();
    await writeFile(path.join(scratch, 'users.csv'), 'id,name\n1,ada\n2,grace\n');
    const second = await attemptOf(2);
    expect(second.exitCode, show(second)).toBe(0);
    expect(second.outputs['result']).toBe('success');
    const log = second.maskedLog.split('\n');
    expect(log).toContain('extract: succeeded in run attempt 1; reusing its result and outputs');
    expect(log).toContain('load-events: succeeded in run attempt 1; reusing its result and outputs');
    expect(log).toContain('load-users runs: it failed in run attempt 1 (exit code 3)');
    for (const task of ['extract', 'load-events']) expect(sandbox().containerStarts(pod(task, 2)), task).toBe(0);
    for (const task of ['load-users', 'build-report', 'publish', 'notify']) expect(sandbox().containerStarts(pod(task, 2)), task).toBe(1);
    expect(second.summary).toContain('reused from run attempt 1');
  });
});
