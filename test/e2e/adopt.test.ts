/**
 * Issue 13, "adopt only our own pod", through the bundled action (dist/index.js, then dist/post.js)
 * as the runner drives it: a pod that someone else created under a task's pod name, with the
 * run's labels and forged outputs, is never taken for the task's. The attempt fails as a
 * configuration error that names the pod and its creator, in the step log, the summary and an
 * annotation; nothing of the pod (status, log, outputs) is used; and neither the run nor its post
 * step deletes it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS, MANAGED_BY, podName } from '../../src/kube/pod.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import type { KObject } from '../../sandbox/selectors.ts';
import { runStep, stepScope, type StepResult } from '../harness/action.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

const show = (step: StepResult) => `exit ${step.exitCode}\n${step.maskedLog}\n${step.stderr}`;

/*
 *   extract ──► load
 *
 * extract's output feeds load; the attacker plants extract's pod with rows=666.
 */
const DAG = [
  'version: 1',
  'name: adopt-e2e',
  'tasks:',
  '  extract:',
  '    image: sandbox/succeed',
  '    env: {SANDBOX_TERMINATION_MESSAGE: "rows=42"}',
  '  load:',
  '    needs: [extract]',
  '    image: sandbox/succeed',
  '    env: {SANDBOX_LOG: "load got {{ tasks.extract.outputs.rows }}"}',
  '',
].join('\n');

async function workspace(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-adopt-'));
  await writeFile(path.join(dir, 'dag.yaml'), DAG);
  return dir;
}

/** The pod an attacker who can create pods in the namespace plants: our name and labels, forged outputs. */
function planted(name: string, runId: string): KObject {
  return {
    metadata: {
      name,
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.dag]: 'adopt-e2e',
        [LABELS.runId]: runId,
        [LABELS.runScope]: stepScope()!,
        [LABELS.runAttempt]: '1',
        [LABELS.task]: 'extract',
        [LABELS.taskAttempt]: '1',
      },
    },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'sandbox/succeed', env: [{ name: 'SANDBOX_TERMINATION_MESSAGE', value: 'rows=666' }, { name: 'SANDBOX_LOG', value: 'forged run' }] }],
    },
  };
}

/** What every planted-pod run must show: refused, named, unused, undeleted (by the run and by the post step). */
async function expectRefused(step: StepResult, name: string, runId: string): Promise<void> {
  expect(step.exitCode, show(step)).toBe(1);
  expect(step.outputs['failed-tasks']).toBe('["extract"]');
  // The forged outputs reach nothing: not the outputs, not load (which never runs).
  expect(step.outputs['outputs']).not.toContain('666');
  expect(step.maskedLog).not.toContain('666');
  expect(step.maskedLog).not.toContain('forged run');
  expect(sandbox.containerStarts(podName({ dag: 'adopt-e2e', runId, scope: stepScope(), runAttempt: 1, task: 'load', attempt: 1 }))).toBe(0);
  // The step log, the summary and an annotation name the pod, its creator and what to do.
  const why = new RegExp(`pod ${name} in namespace default is not this run's pod for attempt 1 of task "extract"`);
  expect(step.maskedLog).toMatch(why);
  const errors = step.commands.filter((c) => c.command === 'error').map((c) => c.message);
  expect(errors.some((m) => why.test(m) && m.includes('by "evil-bot"') && m.includes('it was not deleted'))).toBe(true);
  // The summary shows the message as written (a code block).
  expect(step.summary).toContain(`pod ${name} in namespace default is not this run's pod for attempt 1 of task "extract"`);
  expect(step.summary).toContain('by "evil-bot"');
  expect(step.summary).toContain('it was not deleted');
  // Not ours, so not deleted: neither by the run (keep-pods never) nor by the post step's sweep.
  expect(sandbox.get('pods', 'default', name)?.metadata.deletionTimestamp).toBeUndefined();
  const post = await runStep({ entry: 'post', inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never' }, state: step.state, env: { GITHUB_RUN_ID: runId } });
  expect(post.exitCode, show(post)).toBe(0);
  expect(sandbox.get('pods', 'default', name)?.metadata.deletionTimestamp).toBeUndefined();
  expect(post.maskedLog).toContain(name);
  expect(post.maskedLog).toMatch(/not this run's/);
}

describe('a pod someone else created under a task’s pod name', () => {
  it('planted before the run: the attempt is a configuration error naming the pod and its creator; its outputs are not used', async () => {
    const runId = '7100001';
    const name = podName({ dag: 'adopt-e2e', runId, scope: stepScope(), runAttempt: 1, task: 'extract', attempt: 1 });
    sandbox.createPod('default', planted(name, runId), 'evil-bot');
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: runId },
      cwd: await workspace(),
    });
    await expectRefused(step, name, runId);
    expect(step.maskedLog).toMatch(/it carries no proof that pod-dag-action created it/);
  });

  it('put in place of ours between a create whose answer was lost and the read that settles it: refused the same way', async () => {
    const runId = '7100002';
    const name = podName({ dag: 'adopt-e2e', runId, scope: stepScope(), runAttempt: 1, task: 'extract', attempt: 1 });
    // The create is handled but its answer lost (then two 503s); when the action's read that
    // settles it arrives, someone has just replaced the pod it created with theirs.
    sandbox.faults.loseAnswers({ share: 1, then503: 2, verbs: ['create'], resources: ['pods'] });
    let created = false;
    let swapped = false;
    const stop = sandbox.onRequest((e) => {
      if (e.phase !== 'received') return;
      if (e.verb === 'create' && e.resource === 'pods') created = true;
      else if (created && !swapped && e.verb === 'get' && e.resource === 'pods') {
        swapped = true;
        sandbox.deletePod(name, 'default', { gracePeriodSeconds: 0 });
        sandbox.createPod('default', planted(name, runId), 'evil-bot');
      }
    });
    let step: StepResult;
    try {
      step = await runStep({
        inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never' },
        env: { GITHUB_RUN_ID: runId },
        cwd: await workspace(),
      });
    } finally {
      stop();
      sandbox.faults.clear();
    }
    expect(swapped, show(step)).toBe(true);
    await expectRefused(step, name, runId);
  });
});
