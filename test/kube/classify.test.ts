/**
 * classifyPod: pod status → the attempt's class, per DESIGN.md's failure classes table. Each case
 * is a status as a real cluster reports it (kubectl get pod -o json), trimmed to what matters.
 */
import { describe, expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { classifyPod, containerStarted, containerTerminated, recheckAt } from '../../src/kube/classify.ts';

const T0 = Date.parse('2026-11-24T02:00:00Z');

function pod(status: object, extra: { deletionTimestamp?: string } = {}): V1Pod {
  return {
    metadata: { name: 'clickhouse-db-sync-123-1-migrate-data-1', labels: { 'pod-dag.io/task': 'migrate-data' }, ...extra } as V1Pod['metadata'],
    spec: { containers: [{ name: 'main', image: 'registry.example.com/internal-scripts:2024-01' }], nodeName: 'node-a' },
    status: status as V1Pod['status'],
  };
}

const running = { phase: 'Running', containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: '2026-11-24T02:00:03Z' } } }] };
const terminated = (exitCode: number, reason: string, message?: string, podStatus: object = {}) => ({
  phase: exitCode === 0 ? 'Succeeded' : 'Failed',
  ...podStatus,
  containerStatuses: [
    { name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { terminated: { exitCode, reason, message, startedAt: '2026-11-24T02:00:03Z', finishedAt: '2026-11-24T02:01:03Z' } } },
  ],
});
const waiting = (reason: string, message: string) => ({
  phase: 'Pending',
  conditions: [{ type: 'PodScheduled', status: 'True' }],
  containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason, message } } }],
});
const unschedulable = {
  phase: 'Pending',
  conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.' }],
};

interface Case {
  name: string;
  pod: V1Pod;
  /** ms since the pod was created */
  after?: number;
  deleted?: boolean;
  want: null | { class: string; reason?: string | null; exitCode?: number | null; message?: RegExp; outputs?: Record<string, string> };
}

const cases: Case[] = [
  { name: 'pending, just created: still going', pod: pod({ phase: 'Pending' }), want: null },
  { name: 'running: still going', pod: pod(running), want: null },
  { name: 'exit 0: succeeded, with outputs', pod: pod(terminated(0, 'Completed', 'rows=42\ntable=events\n')), want: { class: 'succeeded', exitCode: 0, outputs: { rows: '42', table: 'events' } } },
  { name: 'exit 0 with outputs over 4 KiB: failed, clearly', pod: pod(terminated(0, 'Completed', `big=${'x'.repeat(4100)}`)), want: { class: 'failed', reason: 'InvalidOutputs', message: /4096 bytes/ } },
  { name: 'exit 3: failed with the exit code', pod: pod(terminated(3, 'Error')), want: { class: 'failed', reason: 'Error', exitCode: 3, message: /^exit code 3$/ } },
  { name: 'OOMKilled: failed, reason shown', pod: pod(terminated(137, 'OOMKilled')), want: { class: 'failed', reason: 'OOMKilled', exitCode: 137, message: /OOMKilled/ } },
  {
    name: 'phase Succeeded without a container status is never success',
    pod: pod({ phase: 'Succeeded' }),
    want: { class: 'infrastructure', reason: 'NoContainerStatus' },
  },
  {
    name: 'evicted by the kubelet: infrastructure',
    pod: pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.' }),
    want: { class: 'infrastructure', reason: 'Evicted', message: /low on resource/ },
  },
  {
    name: 'evicted after the container was killed (137): infrastructure, not failed',
    pod: pod(terminated(137, 'Error', undefined, { reason: 'Evicted', message: 'The node was low on resource: memory.' })),
    want: { class: 'infrastructure', reason: 'Evicted' },
  },
  {
    name: 'preempted (DisruptionTarget): infrastructure',
    pod: pod({
      ...running,
      conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', message: 'Preempted in order to admit critical pod' }],
    }),
    want: { class: 'infrastructure', reason: 'PreemptionByScheduler' },
  },
  {
    name: 'killed by a disruption (143) still infrastructure',
    pod: pod({ ...terminated(143, 'Error'), conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' }] }),
    want: { class: 'infrastructure', reason: 'EvictionByEvictionAPI', exitCode: 143 },
  },
  { name: 'deleted by someone else while running: infrastructure', pod: pod(running), deleted: true, want: { class: 'infrastructure', reason: 'Deleted' } },
  { name: 'deleted after it exited 0: still succeeded', pod: pod(terminated(0, 'Completed')), deleted: true, want: { class: 'succeeded', exitCode: 0 } },
  { name: 'deleted, SIGTERM exit 143: infrastructure', pod: pod(terminated(143, 'Error')), deleted: true, want: { class: 'infrastructure', exitCode: 143 } },
  {
    name: 'deadline exceeded: timeout',
    pod: pod({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' }),
    want: { class: 'timeout', reason: 'DeadlineExceeded' },
  },
  {
    name: 'deadline exceeded with the container killed: timeout',
    pod: pod(terminated(137, 'Error', undefined, { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' })),
    want: { class: 'timeout', reason: 'DeadlineExceeded' },
  },
  {
    name: 'ErrImagePull within the grace: still going',
    pod: pod(waiting('ErrImagePull', 'rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/nope:1": not found')),
    after: 5_000,
    want: null,
  },
  {
    name: 'ImagePullBackOff past the grace: configuration with the kubelet message',
    pod: pod(waiting('ImagePullBackOff', 'Back-off pulling image "registry.example.com/nope:1"')),
    after: 31_000,
    want: { class: 'configuration', reason: 'ImagePullBackOff', message: /Back-off pulling image/ },
  },
  { name: 'InvalidImageName: configuration at once', pod: pod(waiting('InvalidImageName', 'couldn\'t parse image name "UPPER:case"')), after: 0, want: { class: 'configuration', reason: 'InvalidImageName' } },
  {
    name: 'missing secret (CreateContainerConfigError): configuration at once',
    pod: pod(waiting('CreateContainerConfigError', 'secret "clickhouse-creds" not found')),
    after: 0,
    want: { class: 'configuration', reason: 'CreateContainerConfigError', message: /secret "clickhouse-creds" not found/ },
  },
  {
    name: 'a secret the node may not read yet (node authorizer behind the binding): the kubelet retries it, still going within the grace',
    pod: pod(waiting('CreateContainerConfigError', 'secret "clickhouse-creds" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "data-jobs": no relationship found between node \'n1\' and this object')),
    after: 5_000,
    want: null,
  },
  {
    name: 'the same past the grace: configuration with the kubelet message',
    pod: pod(waiting('CreateContainerConfigError', 'failed to sync secret cache: timed out waiting for the condition')),
    after: 31_000,
    want: { class: 'configuration', reason: 'CreateContainerConfigError', message: /failed to sync secret cache/ },
  },
  { name: 'unschedulable before the start timeout: still going', pod: pod(unschedulable), after: 60_000, want: null },
  {
    name: 'unschedulable past the start timeout: timeout quoting the scheduler',
    pod: pod(unschedulable),
    after: 600_000,
    want: { class: 'timeout', reason: 'Unschedulable', message: /Insufficient memory/ },
  },
  { name: 'running past the start timeout is not a start timeout', pod: pod(running), after: 10_000_000, want: null },
];

describe('classifyPod', () => {
  test.each(cases)('$name', (c) => {
    const got = classifyPod(c.pod, { now: T0 + (c.after ?? 0), createdAt: T0, startTimeoutMs: 300_000, imagePullGraceMs: 30_000, deleted: c.deleted });
    if (c.want === null) {
      expect(got).toBeNull();
      return;
    }
    expect(got).not.toBeNull();
    expect(got!.class).toBe(c.want.class);
    if (c.want.reason !== undefined) expect(got!.reason).toBe(c.want.reason);
    if (c.want.exitCode !== undefined) expect(got!.exitCode).toBe(c.want.exitCode);
    if (c.want.message) expect(got!.message).toMatch(c.want.message);
    expect(got!.outputs).toEqual(c.want.outputs ?? {});
    expect(got!.node).toBe('node-a');
  });

  test('only terminated.exitCode === 0 of the main container is success, whatever the phase says', () => {
    const p = pod({ phase: 'Succeeded', containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: '2026-11-24T02:00:03Z' } } }] });
    expect(classifyPod(p, { now: T0, createdAt: T0, startTimeoutMs: 1, imagePullGraceMs: 1 })?.class).not.toBe('succeeded');
  });
});

describe('the task is its own container: others in the pod decide nothing', () => {
  const ctx = { now: T0, createdAt: T0, startTimeoutMs: 300_000, imagePullGraceMs: 30_000 };
  const sidecar = (state: object) => ({ name: 'istio-proxy', ready: false, restartCount: 0, image: 'proxy', imageID: '', state });

  test('a sidecar a webhook added, listed first, that exited 0 while the task runs: still going', () => {
    const p = pod({ phase: 'Running', containerStatuses: [sidecar({ terminated: { exitCode: 0, reason: 'Completed', finishedAt: '2026-11-24T02:00:09Z' } })] });
    expect(classifyPod(p, ctx)).toBeNull();
    expect(containerTerminated(p)).toBe(false);
    expect(containerStarted(p)).toBe(false);
  });

  test('the task exited 1 while a plain sidecar runs on (phase Running): failed', () => {
    const s = terminated(1, 'Error');
    const p = pod({ ...s, phase: 'Running', containerStatuses: [sidecar({ running: {} }), ...s.containerStatuses] });
    expect(classifyPod(p, ctx)).toMatchObject({ class: 'failed', exitCode: 1 });
  });

  test('the task exited 0 and a sidecar failed (phase Failed): succeeded, the task is its container', () => {
    const s = terminated(0, 'Completed', 'rows=1\n');
    const p = pod({ ...s, phase: 'Failed', containerStatuses: [sidecar({ terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-11-24T02:01:04Z' } }), ...s.containerStatuses] });
    expect(classifyPod(p, ctx)).toMatchObject({ class: 'succeeded', exitCode: 0, outputs: { rows: '1' } });
  });

  test('an init container a webhook added failed: infrastructure, naming it and its exit code, never success', () => {
    const p = pod({
      phase: 'Failed',
      initContainerStatuses: [{ name: 'vault-agent-init', ready: false, restartCount: 0, image: 'vault', imageID: '', state: { terminated: { exitCode: 2, reason: 'Error', finishedAt: '2026-11-24T02:00:05Z' } } }],
      containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'PodInitializing' } } }],
    });
    expect(classifyPod(p, ctx)).toMatchObject({ class: 'infrastructure', reason: 'InitContainerFailed', message: expect.stringMatching(/init container "vault-agent-init" exited with code 2/) });
  });
});

test('past the start timeout, a sidecar a webhook added whose image cannot be pulled is named as the why', () => {
  const p = pod({
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: 'True' }],
    initContainerStatuses: [{ name: 'vault-agent-init', ready: false, restartCount: 0, image: 'vault:9', imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "vault:9"' } } }],
    containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'PodInitializing' } } }],
  });
  const got = classifyPod(p, { now: T0 + 301_000, createdAt: T0, startTimeoutMs: 300_000, imagePullGraceMs: 30_000 });
  expect(got).toMatchObject({ class: 'timeout', message: expect.stringMatching(/container "vault-agent-init" .* is waiting: ImagePullBackOff: Back-off pulling image "vault:9"/) });
});

describe('a pod deleted by someone else: its container ended by the deletion is no task failure, whatever it exits with', () => {
  const ctx = { now: T0, createdAt: T0, startTimeoutMs: 300_000, imagePullGraceMs: 30_000, deleted: true };
  // Deleted at 02:01:00 with a 30 s grace: the API keeps 02:01:30 as the deletion time.
  const deleting = { deletionTimestamp: '2026-11-24T02:01:30Z', deletionGracePeriodSeconds: 30 } as { deletionTimestamp: string };

  test('a task that traps SIGTERM and exits 1 after the delete: infrastructure, with its exit code', () => {
    const got = classifyPod(pod(terminated(1, 'Error'), deleting), ctx); // finished 02:01:03
    expect(got).toMatchObject({ class: 'infrastructure', reason: 'Deleted', exitCode: 1, message: expect.stringMatching(/deleted by someone else/) });
  });

  test('the deletion time comes as a Date (a listed pod): the same', () => {
    const p = pod(terminated(2, 'Error'), { deletionTimestamp: new Date('2026-11-24T02:01:30Z'), deletionGracePeriodSeconds: 30 } as unknown as { deletionTimestamp: string });
    expect(classifyPod(p, ctx)).toMatchObject({ class: 'infrastructure', exitCode: 2 });
  });

  test('a container that failed on its own before anyone asked for the delete: failed', () => {
    const late = { deletionTimestamp: '2026-11-24T02:02:00Z', deletionGracePeriodSeconds: 30 } as { deletionTimestamp: string }; // asked at 02:01:30
    expect(classifyPod(pod(terminated(1, 'Error'), late), ctx)).toMatchObject({ class: 'failed', exitCode: 1 });
  });

  test('exit 0 after the delete is still success: the API says the container exited 0', () => {
    expect(classifyPod(pod(terminated(0, 'Completed'), deleting), ctx)).toMatchObject({ class: 'succeeded' });
  });
});

describe('recheckAt', () => {
  const ctx = { createdAt: T0, startTimeoutMs: 300_000, imagePullGraceMs: 30_000 };
  test('a pulling pod is looked at again when the grace ends', () => {
    expect(recheckAt(pod(waiting('ErrImagePull', 'x')), ctx)).toBe(T0 + 30_000);
  });
  test('a config error the kubelet retries is looked at again when the grace ends; a missing secret needs no second look', () => {
    expect(recheckAt(pod(waiting('CreateContainerConfigError', 'failed to sync secret cache: timed out waiting for the condition')), ctx)).toBe(T0 + 30_000);
    expect(recheckAt(pod(waiting('CreateContainerConfigError', 'secret "x" not found')), ctx)).toBe(T0 + 300_000);
  });
  test('a pending pod is looked at again at the start timeout', () => {
    expect(recheckAt(pod(unschedulable), ctx)).toBe(T0 + 300_000);
  });
  test('a running pod needs no timer', () => {
    expect(recheckAt(pod(running), ctx)).toBeNull();
  });
});

test('containerStarted / containerTerminated read the main container', () => {
  expect(containerStarted(pod(running))).toBe(true);
  expect(containerTerminated(pod(running))).toBe(false);
  expect(containerStarted(pod(waiting('ContainerCreating', '')))).toBe(false);
  expect(containerTerminated(pod(terminated(1, 'Error')))).toBe(true);
});

describe('a container run more than once is never the task\'s one run', () => {
  const ctx = { now: T0, createdAt: T0, startTimeoutMs: 300_000, imagePullGraceMs: 30_000 };
  const withSpec = (p: V1Pod, spec: object): V1Pod => ({ ...p, spec: { ...p.spec!, ...spec } as V1Pod['spec'] });
  /** The task's container on its second run (the kubelet restarted it after a run that exited `before`). */
  const rerun = (state: object, before = 1, restartCount = 1) => ({
    phase: 'Running',
    containerStatuses: [
      { name: 'main', ready: false, restartCount, image: 'x', imageID: '', lastState: { terminated: { exitCode: before, reason: 'Error', finishedAt: '2026-11-24T02:00:30Z' } }, state },
    ],
  });

  test('restartPolicy changed on create (a mutating webhook): configuration, naming the field, the likely cause and what to do, whatever the container did', () => {
    for (const status of [{ phase: 'Pending' }, running, terminated(0, 'Completed', 'rows=1\n')]) {
      const got = classifyPod(withSpec(pod(status), { restartPolicy: 'OnFailure' }), ctx);
      expect(got).toMatchObject({ class: 'configuration', reason: 'RestartPolicyChanged' });
      expect(got!.message).toMatch(/spec\.restartPolicy: "OnFailure", but pod-dag-action created it with restartPolicy "Never"/);
      expect(got!.message).toMatch(/mutating admission webhook/);
      expect(got!.message).toMatch(/app\.kubernetes\.io\/managed-by=pod-dag-action/);
    }
  });

  test('a restart policy or restart rules set on the task\'s container: configuration too', () => {
    const container = (extra: object) => ({ containers: [{ name: 'main', image: 'x', ...extra }] });
    expect(classifyPod(withSpec(pod(running), container({ restartPolicy: 'Always' })), ctx)).toMatchObject({ class: 'configuration', reason: 'RestartPolicyChanged' });
    const rules = container({ restartPolicy: 'Never', restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }] });
    expect(classifyPod(withSpec(pod(running), rules), ctx)).toMatchObject({ class: 'configuration', message: expect.stringMatching(/restartPolicyRules/) });
  });

  test('restartPolicy Never, or not in what was seen of the pod: no finding', () => {
    expect(classifyPod(withSpec(pod(terminated(0, 'Completed')), { restartPolicy: 'Never' }), ctx)).toMatchObject({ class: 'succeeded' });
    expect(classifyPod(pod(terminated(0, 'Completed')), ctx)).toMatchObject({ class: 'succeeded' });
  });

  test('exit 0 on a second run (restartCount 1): failed, with the first run\'s exit code, never succeeded nor its outputs used', () => {
    const got = classifyPod(pod(rerun({ terminated: { exitCode: 0, reason: 'Completed', message: 'rows=42\n', finishedAt: '2026-11-24T02:01:00Z' } }, 3)), ctx);
    expect(got).toMatchObject({ class: 'failed', reason: 'Restarted', exitCode: 3, outputs: {} });
    expect(got!.message).toMatch(/the task's container ran 2 times in pod clickhouse-db-sync-123-1-migrate-data-1 \(restartCount 1\): the kubelet restarted it after a run that exited with code 3/);
  });

  test('running again, or waiting to (CrashLoopBackOff): failed at once, not still going', () => {
    expect(classifyPod(pod(rerun({ running: { startedAt: '2026-11-24T02:00:40Z' } })), ctx)).toMatchObject({ class: 'failed', reason: 'Restarted' });
    const backoff = classifyPod(pod(rerun({ waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } }, 1, 4)), ctx);
    // Which run's exit code is the first is not known after several restarts: none is claimed.
    expect(backoff).toMatchObject({ class: 'failed', reason: 'Restarted', exitCode: null, message: expect.stringMatching(/ran 5 times/) });
  });

  test('a native sidecar that restarts (restartPolicy Always on an init container) changes nothing', () => {
    const p = withSpec(
      pod({
        ...terminated(0, 'Completed', 'rows=1\n'),
        initContainerStatuses: [{ name: 'proxy', ready: true, restartCount: 3, image: 'proxy', imageID: '', state: { running: {} }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }],
      }),
      { restartPolicy: 'Never', initContainers: [{ name: 'proxy', image: 'proxy', restartPolicy: 'Always' }] },
    );
    expect(classifyPod(p, ctx)).toMatchObject({ class: 'succeeded', outputs: { rows: '1' } });
  });
});
