/**
 * A create refused by admission, in the engine (in-memory PodApi): which refusals burn no retry
 * (they come back until the spec or the cluster changes) and which one waits on its own budget (a
 * ResourceQuota other pods use up now), and what the failure says. Messages as kube-apiserver
 * v1.36 words them (test/e2e/admission.test.ts meets them on both clusters).
 */
import { expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { runDag } from '../../src/engine/index.ts';
import { LABELS } from '../../src/kube/pod.ts';
import { FakePods, apiError, scriptedKubelet } from '../helpers/fake-pods.ts';
import { attempts, capture, context, spec } from './helpers.ts';

const taskOf = (pod: V1Pod): string => pod.metadata?.labels?.[LABELS.task] ?? '';
const attemptOf = (pod: V1Pod): number => Number(pod.metadata?.labels?.[LABELS.taskAttempt]);

async function go(fake: FakePods, yaml: string) {
  const { reporter, out } = capture();
  const state = await runDag({ spec: spec(yaml), params: {}, mode: 'run', namespace: 'ns', maxParallel: 0, keepPods: 'never', pods: fake, context: context('4243'), reporter, imagePullGraceMs: 0 });
  return { state, out };
}

const forbidden = (pod: V1Pod, why: string) => apiError(403, 'Forbidden', `pods "${pod.metadata?.name}" is forbidden: ${why}`);

test('permanent refusals (ServiceAccount, quota the pod can never fit, quota limits, LimitRange, PodSecurity, webhook): one attempt, a configuration failure, the cause and what to do', async () => {
  const why: Record<string, string> = {
    sa: 'error looking up service account ns/etl: serviceaccount "etl" not found',
    huge: 'exceeded quota: cpu-q, requested: limits.cpu=3, used: limits.cpu=1, limited: limits.cpu=2',
    nolimits: 'failed quota: cpu-q: must specify limits.cpu for: main',
    limitrange: 'maximum cpu usage per Container is 1, but limit is 3',
    pss: 'violates PodSecurity "restricted:latest": privileged (container "main" must not set securityContext.privileged=true)',
    webhook: 'admission webhook "policy.example.com" denied the request: images must come from registry.example.com',
  };
  const todo: Record<string, RegExp> = {
    sa: /ServiceAccount "etl" does not exist in namespace ns: create it \(kubectl -n ns create serviceaccount etl\) or correct pod\.serviceAccountName/,
    huge: /asks for more limits\.cpu than the ResourceQuota "cpu-q" allows in all/,
    nolimits: /requires every pod to set limits\.cpu for: main: set them in the task's resources/,
    limitrange: /A LimitRange in the namespace bounds/,
    pss: /enforces the PodSecurity level "restricted"/,
    webhook: /ask the webhook's owners/,
  };
  const tasks = Object.keys(why).map((t) => `  ${t}: {image: busybox, retries: {limit: 2, delay: 1ms, infrastructure: 2}}`).join('\n');
  const fake = new FakePods(scriptedKubelet(() => ({})));
  fake.refuse = (pod) => forbidden(pod, why[taskOf(pod)]!);
  const { state, out } = await go(fake, `version: 1\nname: refused\ntasks:\n${tasks}\n`);
  for (const t of Object.keys(why)) {
    expect(attempts(state, t), t).toEqual(['configuration:Forbidden']);
    const message = state.tasks.find((x) => x.id === t)!.attempts[0]!.outcome!.message!;
    expect(message, t).toContain(why[t]);
    expect(message, t).toMatch(todo[t]!);
    expect(message, t).not.toMatch(/Grant the permission|Change the task \(resources, securityContext/);
  }
  expect(out.lines.join('\n')).not.toMatch(/retrying in/);
});

test('a ResourceQuota other pods use up now: an infrastructure failure, retried on its own budget, and admitted once it frees up', async () => {
  const fake = new FakePods(scriptedKubelet(() => ({})));
  fake.refuse = (pod) => (attemptOf(pod) < 3 ? forbidden(pod, 'exceeded quota: pods-q, requested: pods=1, used: pods=4, limited: pods=4') : null);
  const { state, out } = await go(fake, 'version: 1\nname: busy-quota\ntasks:\n  load: {image: busybox, retries: {limit: 0, delay: 1ms, infrastructure: 2}}\n');
  expect(attempts(state, 'load')).toEqual(['infrastructure:ExceededQuota', 'infrastructure:ExceededQuota', 'succeeded:Completed']);
  const first = state.tasks[0]!.attempts[0]!.outcome!.message!;
  expect(first).toContain('exceeded quota: pods-q, requested: pods=1, used: pods=4, limited: pods=4');
  expect(first).toMatch(/Other pods use up the ResourceQuota "pods-q" now/);
  expect(out.lines.join('\n')).toMatch(/retrying in/);
});
