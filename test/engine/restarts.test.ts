/**
 * The engine against the in-memory PodApi: a task's container that the kubelet ran more than once
 * is never a success, whatever its last run says, and its pod is deleted at once (not kept, not
 * left to run again); a pod whose restart policy was changed on create is refused before anything
 * of it is read. (test/e2e/restarts.test.ts drives the same through dist/index.js on the sandbox.)
 */
import { expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { runDag } from '../../src/engine/index.ts';
import { podName } from '../../src/kube/pod.ts';
import { runScope } from '../../src/common/run.ts';
import { FakePods } from '../helpers/fake-pods.ts';
import { attempts, capture, context, spec } from './helpers.ts';

const s = spec(`version: 1
name: fake-restarts
tasks:
  load:
    image: busybox
    retries: {limit: 1, delay: 10ms}
  report:
    needs: [load]
    image: busybox
    command: [echo, '{{ tasks.load.outputs.rows }}']
`);
const name = (task: string, attempt = 1): string => podName({ dag: s.name, runId: '4343', scope: runScope(context('4343')), runAttempt: 1, task, attempt });

async function go(fake: FakePods, keepPods: 'never' | 'always' = 'never') {
  const { reporter, out } = capture();
  const state = await runDag({ spec: s, params: {}, mode: 'run', namespace: 'default', maxParallel: 0, keepPods, pods: fake, context: context('4343'), reporter, imagePullGraceMs: 0 });
  return { state, out };
}

/** The status of a container on its second run, which exited 0 with outputs; its first run (unseen: the watch was away) exited 1. */
const secondRunExited0 = (pod: V1Pod): V1Pod['status'] => ({
  phase: 'Running',
  containerStatuses: [
    {
      name: 'main',
      image: pod.spec?.containers?.[0]?.image ?? '',
      imageID: '',
      ready: false,
      restartCount: 1,
      lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-01-01T00:00:01Z' as unknown as Date } },
      state: { terminated: { exitCode: 0, reason: 'Completed', message: 'rows=42\n', finishedAt: '2026-01-01T00:00:12Z' as unknown as Date } },
    },
  ],
});

test('a second run\'s exit 0 (restartCount 1) is no success: failed (Restarted), its outputs unused, its pod deleted though keep-pods is always, and the retry runs', async () => {
  const fake = new FakePods((pod, f) => {
    const n = pod.metadata?.name ?? '';
    if (n === name('load')) {
      f.endLog(n);
      return f.setStatus(n, secondRunExited0(pod));
    }
    f.start(n);
    f.exit(n, 0, { message: n === name('load', 2) ? 'rows=7\n' : undefined });
  });
  const { state, out } = await go(fake, 'always');
  expect(attempts(state, 'load')).toEqual(['failed:Restarted', 'succeeded:Completed']);
  const first = state.tasks.find((t) => t.id === 'load')!.attempts[0]!.outcome!;
  expect(first.exitCode).toBe(1);
  expect(first.outputs).toEqual({});
  expect(first.message).toMatch(/ran 2 times .* restarted it after a run that exited with code 1/);
  // The outputs downstream are the retry's, never the restarted container's.
  expect(out.lines).toContain('[report] created pod ' + name('report'));
  expect(state.tasks.find((t) => t.id === 'load')!.outputs).toEqual({ rows: '7' });
  // Deleted (keep-pods always keeps the others), so the kubelet cannot run it a third time.
  expect(fake.calls).toContain(`delete ${name('load')}`);
  expect(fake.get(name('load'))).toBeUndefined();
  expect(fake.get(name('load', 2))).toBeDefined();
}, 10_000);

test('a pod whose restartPolicy is not Never when first seen: configuration (RestartPolicyChanged), not retried, its log never read, its pod deleted', async () => {
  const fake = new FakePods((pod, f) => {
    const n = pod.metadata?.name ?? '';
    // What a mutating webhook leaves: the pod as the API holds it says OnFailure.
    f.setStatus(n, { phase: 'Pending' });
    const stored = f.get(n)!;
    stored.spec = { ...stored.spec!, restartPolicy: 'OnFailure' };
    f.start(n);
  });
  const { state } = await go(fake);
  expect(attempts(state, 'load')).toEqual(['configuration:RestartPolicyChanged']);
  expect(state.tasks.find((t) => t.id === 'load')!.attempts[0]!.outcome!.message).toMatch(/spec\.restartPolicy: "OnFailure".*The pod was deleted$/s);
  expect(fake.count('log ')).toBe(0);
  expect(fake.get(name('load'))).toBeUndefined();
  expect(fake.count('create ')).toBe(1);
}, 10_000);
