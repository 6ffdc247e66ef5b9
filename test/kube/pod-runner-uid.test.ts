/**
 * An attempt's pod is one pod, known by its uid once seen: another pod under its name (ours was
 * deleted, someone created one again, even from our own manifest with its proof) never stands in
 * for it, whatever order the watch brings their events in.
 */
import { expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { PodRunner } from '../../src/kube/pod-runner.ts';
import { FakePods } from '../helpers/fake-pods.ts';

const rendered = (): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'dag-1-1-only-1', namespace: 'default', labels: { 'pod-dag.io/task': 'only' } },
  spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] },
});

test('after its own pod was seen, a pod of another uid under its name is an infrastructure failure; nothing of it is followed or deleted', async () => {
  const fake = new FakePods();
  const runner = new PodRunner({ api: fake, namespace: 'default' });
  const pod = runner.attempt({ task: 'only', attempt: 1, pod: 'dag-1-1-only-1' }, () => {});
  expect(await pod.create(rendered())).toEqual({ ok: true, adopted: false });
  const ours = fake.get('dag-1-1-only-1')!;
  expect(await pod.vet(ours)).toBeNull();
  // The same manifest (proof and all) under a new uid.
  const other = structuredClone(ours);
  other.metadata!.uid = 'uid-someone-else';
  const got = await pod.vet(other);
  expect(got).toMatchObject({ class: 'infrastructure', reason: 'Replaced', message: expect.stringMatching(/uid-1.*was deleted by someone else.*uid-someone-else/) });
  expect(pod.foreign).toBe(true);
  pod.followLog();
  expect(pod.following).toBe(false);
  await pod.delete(0);
  expect(fake.calls.filter((c) => c.startsWith('delete '))).toEqual([]);
});
