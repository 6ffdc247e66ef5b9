/**
 * The post step's sweep (src/kube/sweep.ts) over the in-memory PodApi: which pods go, which stay
 * and why, decided per pod from its status, keep-pods and what the run's stored state records.
 */
import { describe, expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { runScope } from '../../src/common/run.ts';
import { applyTaskUpdate, emptyRunState, markRunAttempt, type StoredRunState } from '../../src/dag/rerun.ts';
import type { AttemptOutcome } from '../../src/dag/types.ts';
import { LABELS } from '../../src/kube/pod.ts';
import { claimedKeys, cleanupRun, recordedEnd, sweepSelectors, sweepTarget, SWEEP_CHUNK } from '../../src/kube/sweep.ts';
import { FakePods, apiError } from '../helpers/fake-pods.ts';
import { context } from '../engine/helpers.ts';

const DAG = 'fake-chain';

const labels = (task: string, runId: string, extra: Record<string, string> = {}): Record<string, string> => ({
  [LABELS.managedBy]: 'pod-dag-action',
  [LABELS.dag]: DAG,
  [LABELS.runId]: runId,
  [LABELS.runAttempt]: '1',
  [LABELS.task]: task,
  [LABELS.taskAttempt]: '1',
  [LABELS.runScope]: runScope(context(runId))!,
  ...extra,
});

/** Pods named after their task: exit code 0/1 ends the pod, null leaves it running. */
async function podsOf(fake: FakePods, runId: string, pods: [task: string, exit: number | null, extra?: Record<string, string>][], name = (t: string) => t): Promise<void> {
  for (const [task, exit, extra] of pods) {
    await fake.create('default', { metadata: { name: name(task), labels: labels(task, runId, extra) } });
    fake.start(name(task));
    if (exit !== null) fake.exit(name(task), exit);
  }
}

const outcome = (cls: AttemptOutcome['class']): AttemptOutcome => ({ class: cls, reason: null, message: null, exitCode: cls === 'succeeded' ? 0 : 1, outputs: {}, node: null });

/** A run's state recording the end of attempt 1 of each `[task, pod, class]`, in run attempt 1. */
function recording(runId: string, ends: [task: string, pod: string | null, cls: AttemptOutcome['class']][]): StoredRunState {
  let state = emptyRunState(DAG, runId, 0);
  for (const [task, pod, cls] of ends) {
    state = applyTaskUpdate(state, { task, runAttempt: 1, attempt: 1, pod, startedAt: 0, finishedAt: 1, outcome: outcome(cls), fingerprint: { image: 'x', fields: {} } }, 1);
  }
  return state;
}

describe('cleanupRun', () => {
  test("deletes the live pods and the ended ones whose ends the state records and keep-pods does not keep; only this run attempt's", async () => {
    const fake = new FakePods();
    await podsOf(fake, '4242', [['ok', 0], ['bad', 1], ['live', null]]);
    await fake.create('default', { metadata: { name: 'other-run', labels: labels('x', '999') } });
    await fake.create('default', { metadata: { name: 'next-attempt', labels: { ...labels('ok', '4242'), [LABELS.runAttempt]: '2' } } });
    const state = recording('4242', [['ok', 'ok', 'succeeded'], ['bad', 'bad', 'failed']]);
    const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4242')), { keepPods: 'on-failure', readState: async () => state });
    expect(res).toEqual({ deleted: ['live', 'ok'], warnings: [], foreign: [], unrecorded: [] });
    expect(fake.names()).toEqual(['bad', 'next-attempt', 'other-run']);
  });

  test('keeps every ended pod whose end the state does not record, whatever keep-pods says (the main step ended normally, its last write failed)', async () => {
    for (const keepPods of ['never', 'on-failure'] as const) {
      const fake = new FakePods();
      await podsOf(fake, '4243', [['ok', 0], ['bad', 1], ['done', 0], ['live', null]]);
      // Only `done` was recorded: `ok` (and `bad`) are their tasks' only records.
      const state = recording('4243', [['done', 'done', 'succeeded']]);
      const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4243')), { keepPods, readState: async () => state });
      expect(res.deleted, keepPods).toEqual(['done', 'live']);
      expect(res.unrecorded, keepPods).toEqual(keepPods === 'never' ? ['bad', 'ok'] : ['ok']);
      expect(fake.names(), keepPods).toEqual(['bad', 'ok']);
    }
  });

  test('without a state (none yet, or no reader) every ended pod stays; the live ones go', async () => {
    const fake = new FakePods();
    await podsOf(fake, '4244', [['ok', 0], ['bad', 1], ['live', null]]);
    const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4244')), { keepPods: 'never', readState: async () => null });
    expect(res).toEqual({ deleted: ['live'], warnings: [], foreign: [], unrecorded: ['bad', 'ok'] });
    const res2 = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4244')), { keepPods: 'never' });
    expect(res2).toEqual({ deleted: [], warnings: [], foreign: [], unrecorded: ['bad', 'ok'] });
  });

  test('a state that cannot be read keeps the ended pods, with a warning saying so; it is read once, and only when needed', async () => {
    const fake = new FakePods();
    await podsOf(fake, '4245', [['ok', 0], ['ok2', 0], ['live', null]]);
    let reads = 0;
    const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4245')), {
      keepPods: 'never',
      readState: async () => {
        reads += 1;
        throw apiError(403, 'Forbidden', 'configmaps is forbidden');
      },
    });
    expect(reads).toBe(1);
    expect(res.deleted).toEqual(['live']);
    expect(res.unrecorded).toEqual(['ok', 'ok2']);
    expect(res.warnings).toEqual([expect.stringMatching(/Could not read the state of run 4245 .*forbidden.*: they were kept/)]);

    // keep-pods always keeps every ended pod: the state is not read at all.
    reads = 0;
    const res2 = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4245')), { keepPods: 'always', readState: async () => (reads++, null) });
    expect(reads).toBe(0);
    expect(res2).toEqual({ deleted: [], warnings: [], foreign: [], unrecorded: [] });
  });

  test('on-failure keeps the pod of an attempt the engine judged failed though its container exited 0 (outputs too big, say)', async () => {
    const fake = new FakePods();
    await podsOf(fake, '4246', [['big', 0]]);
    const state = recording('4246', [['big', 'big', 'configuration']]);
    const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4246')), { keepPods: 'on-failure', readState: async () => state });
    expect(res).toEqual({ deleted: [], warnings: [], foreign: [], unrecorded: [] });
    expect(fake.names()).toEqual(['big']);
  });

  test("every run of a backfill is swept, in one list for up to SWEEP_CHUNK runs, each against its own run's state", async () => {
    const fake = new FakePods();
    const ids = Array.from({ length: SWEEP_CHUNK + 1 }, (_, i) => `5000-202601${String(i + 1).padStart(2, '0')}`);
    // Two runs overlapped when the step was killed: each has a live pod and an ended one.
    for (const id of [ids[0]!, ids[1]!, ids[SWEEP_CHUNK]!]) await podsOf(fake, id, [['a', 0], ['b', null]], (t) => `${id}-${t}`);
    const states: string[] = [];
    const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('5000'), ids), {
      keepPods: 'never',
      readState: async (runId) => {
        states.push(runId);
        return runId === ids[1] ? recording(runId, [['a', `${runId}-a`, 'succeeded']]) : null;
      },
    });
    expect(res.deleted).toEqual([`${ids[0]}-b`, `${ids[1]}-a`, `${ids[1]}-b`, `${ids[SWEEP_CHUNK]}-b`]);
    expect(res.unrecorded).toEqual([`${ids[0]}-a`, `${ids[SWEEP_CHUNK]}-a`]);
    expect(states.sort()).toEqual([ids[0], ids[1], ids[SWEEP_CHUNK]]);
    expect(fake.calls.filter((c) => c.startsWith('list '))).toHaveLength(2);
  });
});

test("a re-run's sweep also deletes the pods earlier run attempts left running, and leaves their ended ones be", async () => {
  const fake = new FakePods();
  const at = (attempt: number) => ({ [LABELS.runAttempt]: String(attempt) });
  await podsOf(fake, '4247', [['old-live', null, at(1)], ['old-done', 0, at(1)], ['old-failed', 1, at(1)]]);
  await podsOf(fake, '4247', [['live', null, at(2)], ['done', 0, at(2)], ['unrecorded', 0, at(2)]]);
  await podsOf(fake, '4247', [['later', null, at(3)]]);
  let state = emptyRunState(DAG, '4247', 0);
  state = applyTaskUpdate(state, { task: 'done', runAttempt: 2, attempt: 1, pod: 'done', startedAt: 0, finishedAt: 1, outcome: outcome('succeeded'), fingerprint: { image: 'x', fields: {} } }, 1);
  const res = await cleanupRun(fake, 'default', sweepTarget(DAG, context('4247', 2)), { keepPods: 'never', readState: async () => state });
  expect(res).toEqual({ deleted: ['done', 'live', 'old-live'], warnings: [], foreign: [], unrecorded: ['unrecorded'] });
  expect(fake.names()).toEqual(['later', 'old-done', 'old-failed', 'unrecorded']);
  expect(fake.calls.filter((c) => c.startsWith('list '))).toEqual([`list ${sweepSelectors(sweepTarget(DAG, context('4247', 2)))[0]}`]);
  expect(sweepSelectors(sweepTarget(DAG, context('4247', 2)))[0]).not.toContain(LABELS.runAttempt);
});

describe('recordedEnd', () => {
  const pod = (name: string, task: string, extra: Record<string, string> = {}): V1Pod => ({ metadata: { name, labels: labels(task, '7000', extra) } });

  test("matches the attempt by its pod's name, in the pod's run attempt only", () => {
    const state = recording('7000', [['t', 'pod-t-1', 'failed']]);
    expect(recordedEnd(state, pod('pod-t-1', 't'))).toBe('failed');
    expect(recordedEnd(state, pod('pod-t-1-other', 't'))).toBeNull();
    expect(recordedEnd(state, pod('pod-t-1', 't', { [LABELS.runAttempt]: '2' }))).toBeNull();
    expect(recordedEnd(null, pod('pod-t-1', 't'))).toBeNull();
  });

  test("a task whose label was cut (a long id) is still found by its pod's name; a sensor's earlier poke by its attempt", () => {
    const long = `t${'x'.repeat(80)}`;
    const state = recording('7000', [[long, 'pod-long-1', 'succeeded'], ['sensor', 'pod-sensor-1-poke-3', 'succeeded']]);
    expect(recordedEnd(state, pod('pod-long-1', 'cut-label'))).toBe('succeeded');
    expect(recordedEnd(state, pod('pod-sensor-1-poke-1', 'sensor', { [LABELS.poke]: '1' }))).toBe('succeeded');
    expect(recordedEnd(state, pod('pod-sensor-1-poke-1', 'sensor'))).toBeNull();
  });

  test('an attempt recorded without a pod (its pod never started) is known for the pod of that attempt, not of another', () => {
    const state = recording('7000', [['t', null, 'failed']]);
    expect(recordedEnd(state, pod('pod-t-1', 't'))).toBe('failed');
    expect(recordedEnd(state, pod('pod-t-2', 't', { [LABELS.taskAttempt]: '2' }))).toBeNull();
  });
});

test('sweepSelectors: one run by equality, a backfill by sets of at most SWEEP_CHUNK run ids', () => {
  const one = sweepSelectors(sweepTarget(DAG, context('42')));
  expect(one).toEqual([`app.kubernetes.io/managed-by=pod-dag-action,pod-dag.io/dag=${DAG},pod-dag.io/run-id=42,pod-dag.io/run-scope=${runScope(context('42'))},pod-dag.io/run-attempt=1`]);
  const many = sweepSelectors(sweepTarget(DAG, context('42'), Array.from({ length: 2 * SWEEP_CHUNK + 1 }, (_, i) => `42-${i}`)));
  expect(many).toHaveLength(3);
  expect(many[0]).toContain(`pod-dag.io/run-id in (42-0,42-1,`);
  expect(many[2]).toContain(`pod-dag.io/run-id=42-${2 * SWEEP_CHUNK},`);
});

describe('claimedKeys', () => {
  const claim = (params: string) => ({ job: 'sync', step: 'dag', leg: null, runKey: null, dag: 'dag.yaml', params, jobInstance: null });
  test("every key of the run once the step's claim started the run attempt; null when the step never started it", () => {
    let state = emptyRunState(DAG, '8000', 0);
    state = markRunAttempt(state, 1, 1, undefined, claim('eu'), 'key-1');
    state = markRunAttempt(state, 1, 2, undefined, claim('eu'), 'key-2');
    expect(claimedKeys(state, 1, claim('eu'))).toEqual(['key-1', 'key-2']);
    // A re-run (another check run) that claimed its attempt, killed before it recorded its key:
    // the earlier attempt's processes' keys, whose live pods it sweeps.
    const rerun = markRunAttempt(state, 2, 3, undefined, { ...claim('eu'), jobInstance: '2' });
    expect(claimedKeys(rerun, 2, { ...claim('eu'), jobInstance: '2' })).toEqual(['key-1', 'key-2']);
    // Another step the action cannot tell from this one holds the run: nothing of it is this step's.
    expect(claimedKeys(state, 1, claim('us'))).toBeNull();
    expect(claimedKeys(state, 2, claim('eu'))).toBeNull();
    expect(claimedKeys(null, 1, claim('eu'))).toBeNull();
    // Without a claim to compare (tests, the CLI), every process of the run attempt counts.
    expect(claimedKeys(state, 1, null)).toEqual(['key-1', 'key-2']);
  });
});
