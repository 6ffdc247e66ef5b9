/**
 * Issue 13: a pod create whose answer is lost, then whose retries fail (an API server that
 * answers 503 for a while after the lost answer), counts as done until a read proves otherwise:
 * the pod it made is adopted, watched, read to its end and deleted as any other, and the task
 * runs once, as without faults.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { attempts, engineScope, run, spec, startCluster, type Cluster } from '../engine/helpers.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster.sandbox.close());
beforeEach(() => cluster.sandbox.faults.clear());

test('a create whose answer is lost, then a burst of 503s: the pod it made is adopted and the task runs once', async () => {
  // Every pod create is handled but its answer lost; each loss is followed by eight 503s, more
  // than the client's retries of the create, so the create itself fails.
  cluster.sandbox.faults.loseAnswers({ share: 1, then503: 8, verbs: ['create'], resources: ['pods'] });
  const s = spec('version: 1\nname: lost\ntasks:\n  once:\n    image: sandbox/succeed\n    env: {SANDBOX_LOG: ran}\n');
  const r = await run(cluster, s, { keepPods: 'never' });
  cluster.sandbox.faults.clear();
  expect(r.state.result).toBe('success');
  expect(attempts(r.state, 'once')).toEqual(['succeeded:Completed']);
  const name = (attempt: number) => podName({ dag: 'lost', runId: r.runId, scope: engineScope(), runAttempt: 1, task: 'once', attempt });
  expect([1, 2].map((a) => cluster.sandbox.containerStarts(name(a)))).toEqual([1, 0]);
  // Watched and read to its end, then deleted as any other.
  expect(r.out.lines).toContain('[once] ran');
  expect(cluster.sandbox.list('pods', 'default').filter((p) => p.metadata.name === name(1) && !p.metadata.deletionTimestamp)).toEqual([]);
});
