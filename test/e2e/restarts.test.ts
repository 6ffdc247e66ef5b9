/**
 * A task's container runs once, or the task did not succeed: driven through dist/index.js as the
 * runner does, against a sandbox of this file's own (its faults play what a real cluster may do):
 *
 * - a mutating admission webhook that changes the pod's restartPolicy on create (the kubelet
 *   would then run a failed task again, and its second run's exit 0 could pass for the task's);
 * - a pod created and deleted by someone else while the run's watch was away (410 Gone, and a
 *   list that no longer holds it): the attempt must end as "deleted by someone else", at once,
 *   not wait out its start timeout for a pod that no longer exists.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { fileSandbox, show, workspace } from '../helpers/e2e.ts';
import { runStep, stepScope } from '../harness/action.ts';

const sandbox = fileSandbox();
afterEach(() => sandbox().faults.clear());

const pod = (dag: string, runId: string, task: string, attempt = 1) => podName({ dag, runId, scope: stepScope(), runAttempt: 1, task, attempt });

describe('a webhook that changes restartPolicy', () => {
  it('is refused at first sight: a configuration failure naming the field and the webhook, the pod deleted, the task run at most once and never counted as succeeded', async () => {
    // The task fails on its first run and succeeds on any later one: a kubelet that restarts it
    // (restartPolicy OnFailure) would turn the failure into a success.
    const scratch = await mkdtemp(path.join(tmpdir(), 'pod-dag-restarts-'));
    const dir = await workspace(
      [
        'version: 1',
        'name: rerun-policy',
        'tasks:',
        '  once:',
        '    image: busybox',
        `    command: [sh, -c, 'echo run >> "$1"; if [ "$(wc -l < "$1")" -gt 1 ]; then echo second run; exit 0; fi; sleep 1; exit 1', sh, '${scratch}/runs']`,
        '    retries: {limit: 2, delay: 10ms}',
        '',
      ].join('\n'),
    );
    sandbox().faults.mutatePods((p) => void (p.spec.restartPolicy = 'OnFailure'));
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: '8100001' }, cwd: dir, deadlineMs: 60_000 });
    expect(step.exitCode, show(step)).toBe(1);
    expect(step.outputs['result']).toBe('failure');
    const log = step.maskedLog.split('\n');
    // One attempt: a configuration failure is not retried (every retry's pod would be changed too).
    expect(log.filter((l) => l.startsWith('once attempt ')), show(step)).toEqual([expect.stringMatching(/^once attempt 1 failed on configuration: RestartPolicyChanged: /)]);
    expect(step.maskedLog).toMatch(/spec\.restartPolicy: "OnFailure", but pod-dag-action created it with restartPolicy "Never"/);
    expect(step.maskedLog).toMatch(/mutating admission webhook/);
    expect(step.maskedLog).not.toContain('second run');
    // The container ran at most once, and its pod is gone (deleted at first sight, not left to restart).
    const name = pod('rerun-policy', '8100001', 'once');
    expect(sandbox().containerStarts(name)).toBeLessThanOrEqual(1);
    expect(deleted(name)).toBe(true);
    const runs = await readFile(path.join(scratch, 'runs'), 'utf8').catch(() => '');
    expect(runs.split('\n').filter((l) => l === 'run').length).toBeLessThanOrEqual(1);
  }, 70_000);

  it('a dry run meets the same webhook: every pod would be refused, so the pod is reported before the run', async () => {
    const dir = await workspace(['version: 1', 'name: rerun-dry', 'tasks:', '  t: {image: sandbox/succeed}', ''].join('\n'));
    sandbox().faults.mutatePods((p) => void (p.spec.restartPolicy = 'Always'));
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), mode: 'dry-run' }, env: { GITHUB_RUN_ID: '8100002' }, cwd: dir, deadlineMs: 60_000 });
    expect(step.exitCode, show(step)).toBe(1);
    expect(step.maskedLog).toMatch(/would not run: pod rerun-dry-8100002-\S+ has spec\.restartPolicy: "Always"/);
  }, 70_000);

  it('is refused on the create\'s answer, though the watch never works: the pod deleted, its log never read (sandbox fault)', async () => {
    const dir = await workspace(
      ['version: 1', 'name: rerun-blind', 'tasks:', '  t:', '    image: busybox', "    command: [sh, -c, 'echo first words; sleep 1; exit 1']", '    startTimeout: 2m', ''].join('\n'),
    );
    sandbox().faults.mutatePods((p) => void (p.spec.restartPolicy = 'Always'));
    // No watch ever opens: only the create's answer can tell.
    sandbox().faults.serverErrors({ share: 1, verbs: ['watch'], resources: ['pods'] });
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: '8100005' }, cwd: dir, deadlineMs: 60_000 });
    expect(step.exitCode, show(step)).toBe(1);
    const log = step.maskedLog.split('\n');
    expect(log.filter((l) => l.startsWith('t attempt ')), show(step)).toEqual([expect.stringMatching(/^t attempt 1 failed on configuration: RestartPolicyChanged: .*spec\.restartPolicy: "Always"/)]);
    expect(step.maskedLog).not.toContain('first words');
    expect(deleted(pod('rerun-blind', '8100005', 't'))).toBe(true);
  }, 70_000);

  it('a create whose answer was lost finds its own pod changed by the webhook: the same refusal (RestartPolicyChanged), not a pod "not this run\'s" (sandbox fault)', async () => {
    const dir = await workspace(['version: 1', 'name: rerun-lost', 'tasks:', '  t: {image: "sandbox/sleep:30"}', ''].join('\n'));
    sandbox().faults.mutatePods((p) => void (p.spec.restartPolicy = 'OnFailure'));
    sandbox().faults.loseAnswers({ share: 0, first: 1, verbs: ['create'], resources: ['pods'] });
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: '8100004' }, cwd: dir, deadlineMs: 60_000 });
    expect(step.exitCode, show(step)).toBe(1);
    const log = step.maskedLog.split('\n');
    expect(log.filter((l) => l.startsWith('t attempt ')), show(step)).toEqual([expect.stringMatching(/^t attempt 1 failed on configuration: RestartPolicyChanged: /)]);
    expect(step.maskedLog).not.toContain('NotOurPod');
    // Ours, so deleted (a pod not this run's would have been left alone).
    expect(deleted(pod('rerun-lost', '8100004', 't'))).toBe(true);
  }, 70_000);
});

describe('a pod created and deleted while the watch was away', () => {
  it('ends its attempt as deleted by someone else as soon as a later list lacks it, not at its start timeout; the retry runs', async () => {
    const dir = await workspace(
      ['version: 1', 'name: away', 'tasks:', '  t:', '    image: sandbox/sleep:2', '    startTimeout: 2m', '    retries: {delay: 10ms, infrastructure: 1}', ''].join('\n'),
    );
    const sb = sandbox();
    // Every watch fails (500) until the pod is gone and the history with it: the watch never shows the pod.
    sb.faults.serverErrors({ share: 1, verbs: ['watch'], resources: ['pods'] });
    sb.counters.reset();
    const name = pod('away', '8100003', 't');
    const step = runStep({ inputs: { dag: 'dag.yaml', kubeconfig: sb.kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: '8100003' }, cwd: dir, deadlineMs: 60_000 });
    await sb.counters.waitFor('create', 'pods', 1, 30_000);
    await until(() => sb.get('pods', 'default', name) !== undefined, 'the first attempt\'s pod');
    expect(sb.deletePod(name, 'default', { gracePeriodSeconds: 0 })).toBe(true);
    sb.faults.forgetHistory();
    sb.faults.clear();
    const done = await step;
    expect(done.exitCode, show(done)).toBe(0);
    const log = done.maskedLog.split('\n');
    expect(log).toContain('t attempt 1 was lost to an infrastructure problem: Deleted: the pod was deleted by someone else before its container finished; retrying in 10ms (attempt 2 of 2)');
    expect(log.some((l) => /^\[t #2\] succeeded in [\d.]+s \(attempt 2\)$/.test(l)), show(done)).toBe(true);
    expect(done.maskedLog).toMatch(/deleted by someone else/);
    expect(sb.containerStarts(pod('away', '8100003', 't', 2))).toBe(1);
  }, 70_000);
});

/** The pod is gone, or its deletion was asked for (a container that is still stopping holds it a moment). */
function deleted(name: string): boolean {
  const p = sandbox().get('pods', 'default', name);
  return p === undefined || p.metadata.deletionTimestamp !== undefined;
}

/** Waits until `cond()` holds, checking on every turn of the event loop, up to `ms`. */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

