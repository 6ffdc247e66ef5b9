/**
 * The pod status both node agents write (sandbox/pod-status.ts): the kubelet's phase rules, the
 * conditions, and transition times that move only when a condition's status changes.
 */
import { describe, expect, it } from 'vitest';
import { podPhase, podStatus, type ContainerRecord, type ContainerState, type PodRecord } from '../../sandbox/pod-status.ts';

const waiting: ContainerState = { waiting: { reason: 'ContainerCreating' } };
const running: ContainerState = { running: { startedAt: '2026-01-01T00:00:00Z' } };
const exited = (exitCode: number): ContainerState => ({ terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: '2026-01-01T00:00:01Z' } });

function container(name: string, state: ContainerState, init = false, restartCount = 0): ContainerRecord {
  return { spec: { name, image: 'x' }, init, restartCount, state, lastState: {} };
}

function pod(restartPolicy: string, containers: ContainerRecord[], inits: ContainerRecord[] = [], extra: Partial<PodRecord> = {}): PodRecord {
  return { restartPolicy, hostIP: '127.0.0.1', podIP: '10.244.0.2', startTime: '2026-01-01T00:00:00Z', inits, containers, conditionTimes: new Map(), ...extra };
}

describe('the pod phase, as the kubelet decides it', () => {
  const cases: [string, PodRecord, string][] = [
    ['nothing started yet', pod('Never', [container('main', waiting)]), 'Pending'],
    ['an init container still running', pod('Never', [container('main', waiting)], [container('setup', running, true)]), 'Pending'],
    ['an init container failed under Never', pod('Never', [container('main', waiting)], [container('setup', exited(1), true)]), 'Failed'],
    ['an init container failed under OnFailure (it will be retried)', pod('OnFailure', [container('main', waiting)], [container('setup', exited(1), true)]), 'Pending'],
    ['one of two containers running', pod('Never', [container('a', running), container('b', waiting)]), 'Running'],
    ['all exited 0 under Never', pod('Never', [container('a', exited(0)), container('b', exited(0))]), 'Succeeded'],
    ['one exited non-zero under Never', pod('Never', [container('a', exited(0)), container('b', exited(2))]), 'Failed'],
    ['all exited 0 under Always (they restart)', pod('Always', [container('a', exited(0))]), 'Running'],
    ['waiting to restart after a crash', pod('OnFailure', [container('a', { waiting: { reason: 'CrashLoopBackOff' } }, false, 1)]), 'Running'],
    ['stopped by the kubelet with a reason (deadline, eviction)', pod('Never', [container('a', running)], [], { stopping: { reason: 'DeadlineExceeded' } }), 'Failed'],
  ];
  it.each(cases)('%s: %s', (_name, record, want) => {
    expect(podPhase(record)).toBe(want);
  });
});

describe('the pod status', () => {
  it('has the kubelet conditions, keeps the scheduler\'s PodScheduled and the qosClass, and the stop reason', () => {
    const scheduled = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2025-12-31T23:59:59Z' };
    const record = pod('Never', [container('main', running)], [], { stopping: { reason: 'Evicted', message: 'low on memory' } });
    const { phase, status } = podStatus(record, { conditions: [scheduled], qosClass: 'BestEffort' });
    expect(phase).toBe('Failed');
    expect(status).toMatchObject({ phase: 'Failed', reason: 'Evicted', message: 'low on memory', qosClass: 'BestEffort', hostIPs: [{ ip: '127.0.0.1' }], podIPs: [{ ip: '10.244.0.2' }] });
    const conditions = status.conditions as { type: string; status: string; reason?: string }[];
    expect(conditions.map((c) => `${c.type}=${c.status}${c.reason ? `/${c.reason}` : ''}`)).toEqual([
      'PodReadyToStartContainers=False', 'Initialized=True', 'Ready=False/PodCompleted', 'ContainersReady=False/PodCompleted', 'PodScheduled=True',
    ]);
    expect(conditions.at(-1)).toBe(scheduled);
  });

  it('names the containers that are not ready or not initialized', () => {
    const record = pod('Never', [container('a', running), container('b', waiting)], [container('setup', running, true)]);
    const conditions = podStatus(record, {}).status.conditions as { type: string; message?: string }[];
    expect(conditions.find((c) => c.type === 'Initialized')!.message).toBe('containers with incomplete status: [setup]');
    expect(conditions.find((c) => c.type === 'Ready')!.message).toBe('containers with unready status: [b]');
  });

  it('moves a condition\'s lastTransitionTime only when its status changes', () => {
    const record = pod('Never', [container('main', waiting)]);
    const time = (type: string): unknown => (podStatus(record, {}).status.conditions as { type: string; lastTransitionTime: unknown }[]).find((c) => c.type === type)!.lastTransitionTime;
    record.conditionTimes.set('Ready', { status: 'False', time: '2026-01-01T00:00:00Z' });
    expect(time('Ready')).toBe('2026-01-01T00:00:00Z');
    record.containers[0]!.state = running;
    expect(time('Ready')).not.toBe('2026-01-01T00:00:00Z');
    expect(record.conditionTimes.get('Ready')!.status).toBe('True');
  });
});
