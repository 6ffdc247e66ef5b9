/** The live step log: prefixes, plain-words decisions, one write per line. */
import { expect, test } from 'vitest';
import type { AttemptOutcome, RunState, RunView } from '../../src/dag/types.ts';
import { LiveLogReporter, describeOutcome } from '../../src/report/live-log.ts';

const failed: AttemptOutcome = { class: 'failed', reason: 'Error', message: 'exit code 3', exitCode: 3, outputs: {}, node: 'n1' };
const state: RunState = { dag: 'clickhouse-db-sync', startedAt: 0, finishedAt: 10, result: 'failure', cancelled: null, tasks: [] };

/** A view of a fixed state, as the engine hands reporters a live one. */
function view(st: RunState): RunView {
  return { dag: st.dag, task: (id) => st.tasks.find((t) => t.id === id)!, state: () => st };
}

function reporter(): { r: LiveLogReporter; lines: string[] } {
  const lines: string[] = [];
  return { r: new LiveLogReporter({ write: (l) => void lines.push(l) }), lines };
}

test('log lines are prefixed with the task, and the attempt when > 1; one write per line', () => {
  const { r, lines } = reporter();
  r.logLine({ task: 'migrate-data', attempt: 1, text: 'copied 10 rows', time: null });
  r.logLine({ task: 'migrate-data', attempt: 2, text: 'progress\r50%', time: null });
  expect(lines).toEqual(['[migrate-data] copied 10 rows', '[migrate-data #2] progress50%']);
});

test('a retry reads as a sentence', () => {
  const { r, lines } = reporter();
  r.decision({ type: 'retry', task: 'migrate-data', failedAttempt: 1, nextAttempt: 2, maxAttempts: 3, at: 180_000, delayMs: 180_000, outcome: failed });
  expect(lines).toEqual(['migrate-data attempt 1 failed: exit code 3; retrying in 3m (attempt 2 of 3)']);
});

test('give-up, skip, cancel and done', () => {
  const { r, lines } = reporter();
  r.decision({ type: 'give-up', task: 'load', attempt: 1, reason: 'configuration errors are not retried', outcome: { ...failed, class: 'configuration', reason: 'ErrImagePull', message: 'not found', exitCode: null } });
  r.decision({ type: 'skip', task: 'report', reason: 'needs load, which failed' });
  r.decision({ type: 'cancel', attempts: [{ task: 'a', attempt: 1 }, { task: 'b', attempt: 2 }], reason: 'signal' });
  const end: RunState = { ...state, tasks: [{ id: 'load', result: 'failed', attempts: [], outputs: {}, reason: null, reusedFrom: null, retryAt: null }] };
  r.decision({ type: 'done', result: 'failure' });
  r.runFinished(end);
  expect(lines).toEqual([
    'load attempt 1 failed on configuration: ErrImagePull: not found; configuration errors are not retried',
    'report skipped: needs load, which failed',
    'the run was cancelled: stopping a, b (attempt 2)',
    'DAG clickhouse-db-sync finished: failure (1 failed)',
  ]);
});

test('describeOutcome keeps the reason in view', () => {
  expect(describeOutcome({ ...failed, reason: 'OOMKilled', message: 'OOMKilled: the container ran out of memory (exit code 137)' })).toMatch(/^OOMKilled/);
  expect(describeOutcome({ ...failed, class: 'infrastructure', reason: 'Evicted', message: 'The node was low on resource: memory.' })).toBe('Evicted: The node was low on resource: memory.');
});

test('pods created and adopted, and a success with its outputs (names only, never values)', () => {
  const { r, lines } = reporter();
  r.podCreated('a', 1, 'dag-1-1-a-1', false);
  r.podCreated('a', 2, 'dag-1-1-a-2', true);
  const st: RunState = {
    ...state,
    tasks: [{ id: 'a', result: 'succeeded', attempts: [{ attempt: 2, pod: 'p', startedAt: 1000, finishedAt: 3500, outcome: null }], outputs: {}, reason: null, reusedFrom: null, retryAt: null }],
  };
  r.attemptFinished('a', 2, { ...failed, class: 'succeeded', exitCode: 0, outputs: { password: 'hunter2' } }, view(st));
  expect(lines).toEqual(['[a] created pod dag-1-1-a-1', '[a #2] adopted existing pod dag-1-1-a-2 (attempt 2)', '[a #2] succeeded in 2.5s (attempt 2); outputs: password']);
  expect(lines.join('\n')).not.toContain('hunter2');
});

test('the run\'s last line comes after the last task\'s own line, though its done decision comes first', () => {
  // The engine feeds the last attempt's end to the scheduler (which decides `done`) and only then
  // tells the reporters that the attempt finished.
  const { r, lines } = reporter();
  const ok: AttemptOutcome = { class: 'succeeded', reason: 'Completed', message: null, exitCode: 0, outputs: {}, node: 'n1' };
  const done: RunState = {
    ...state,
    result: 'success',
    tasks: [{ id: 'report', result: 'succeeded', attempts: [{ attempt: 1, pod: 'p', startedAt: 0, finishedAt: 2000, outcome: ok }], outputs: {}, reason: null, reusedFrom: null, retryAt: null }],
  };
  r.decision({ type: 'done', result: 'success' });
  r.attemptFinished('report', 1, ok, view(done));
  r.runFinished(done);
  expect(lines).toEqual(['[report] succeeded in 2s', 'DAG clickhouse-db-sync finished: success (1 succeeded)']);
});

test('"created" and "started" are different lines, the second with the node and how long it waited', () => {
  const { r, lines } = reporter();
  r.podCreated('load', 1, 'dag-1-1-load-1', false);
  r.containerStarted('load', 1, 'pool-a-1', 200);
  r.podCreated('train', 1, 'dag-1-1-train-1', false);
  r.containerStarted('train', 1, 'gpu-1', 83_000);
  expect(lines).toEqual(['[load] created pod dag-1-1-load-1', '[load] started on pool-a-1', '[train] created pod dag-1-1-train-1', '[train] started on gpu-1 after 1m 23s pending']);
});

test('a waiting pod says why as it changes, at a readable pace: one line per story, at most one per 10 s', () => {
  const { r, lines } = reporter();
  const unsched = (message: string) => ({ reason: 'Unschedulable', message, node: null });
  const t0 = 1_000_000;
  // A pod that starts at once prints no waiting line at all.
  r.podPending('quick', 1, { reason: 'Pending', message: null, node: null }, t0);
  r.podPending('quick', 1, { reason: 'ContainerCreating', message: null, node: 'n1' }, t0 + 300);
  r.containerStarted('quick', 1, 'n1', 900);
  // An unschedulable pod: the scheduler's words at once, the same words never twice.
  r.podPending('train', 1, unsched('0/3 nodes are available: 3 Insufficient nvidia.com/gpu.'), t0);
  r.podPending('train', 1, unsched('0/3 nodes are available: 3 Insufficient nvidia.com/gpu.'), t0 + 5_000);
  // A change 2 s later waits for the gap; the next change after it is told.
  r.podPending('train', 1, unsched('0/4 nodes are available: 4 Insufficient nvidia.com/gpu.'), t0 + 7_000);
  r.podPending('train', 1, unsched('0/5 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 4 Insufficient nvidia.com/gpu.'), t0 + 12_000);
  r.podPending('train', 1, { reason: 'ContainerCreating', message: null, node: 'gpu-1' }, t0 + 40_000);
  // Image pull back-off alternates ErrImagePull and ImagePullBackOff: one story.
  r.podPending('train', 1, { reason: 'ErrImagePull', message: 'failed to pull image "trainer:2": not found', node: 'gpu-1' }, t0 + 60_000);
  r.podPending('train', 1, { reason: 'ImagePullBackOff', message: 'Back-off pulling image "trainer:2": ErrImagePull: failed to pull image "trainer:2": not found', node: 'gpu-1' }, t0 + 75_000);
  r.podPending('train', 1, { reason: 'ErrImagePull', message: 'failed to pull image "trainer:2": not found', node: 'gpu-1' }, t0 + 90_000);
  expect(lines).toEqual([
    '[quick] started on n1',
    '[train] waiting for a node: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu',
    '[train] waiting for a node: 0/5 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 4 Insufficient nvidia.com/gpu; waiting for 12s',
    '[train] pending: the container is being created on gpu-1 (pulling the image, mounting volumes); waiting for 40s',
    '[train] cannot pull the image yet (ErrImagePull): failed to pull image "trainer:2": not found; waiting for 1m',
  ]);
});

test('a started attempt’s result lines (success, retry, give-up) wait for its log to end; runFinished tells what is still held', () => {
  const { r, lines } = reporter();
  const ok: AttemptOutcome = { class: 'succeeded', reason: 'Completed', message: null, exitCode: 0, outputs: {}, node: 'n1' };
  const st: RunState = { ...state, tasks: [{ id: 'a', result: 'succeeded', attempts: [], outputs: {}, reason: null, reusedFrom: null, retryAt: null }] };
  r.containerStarted('a', 1, 'n1', 0);
  r.containerStarted('b', 1, 'n1', 0);
  r.containerStarted('c', 1, 'n1', 0);
  r.attemptFinished('a', 1, ok, view(st));
  r.decision({ type: 'retry', task: 'b', failedAttempt: 1, nextAttempt: 2, maxAttempts: 2, at: 1000, delayMs: 1000, outcome: failed });
  r.decision({ type: 'give-up', task: 'c', attempt: 1, reason: 'no retries configured', outcome: failed });
  expect(lines).toEqual(['[a] started on n1', '[b] started on n1', '[c] started on n1']);
  r.logLine({ task: 'b', attempt: 1, text: 'b last words', time: null });
  r.logEnded('b', 1);
  r.logLine({ task: 'a', attempt: 1, text: 'a last words', time: null });
  r.logEnded('a', 1);
  expect(lines.slice(3)).toEqual(['[b] b last words', 'b attempt 1 failed: exit code 3; retrying in 1s (attempt 2 of 2)', '[a] a last words', '[a] succeeded']);
  // c's log never ended: its line comes before the run's last one.
  r.decision({ type: 'done', result: 'failure' });
  r.runFinished({ ...st, result: 'failure' });
  expect(lines.slice(7)).toEqual(['c attempt 1 failed: exit code 3; no retries configured', 'DAG clickhouse-db-sync finished: failure (1 succeeded)']);
});

test('a pod created, a task skipped or a matrix expanded while an ended container\'s log is still read: the step log first says that container ended, once', () => {
  const { r, lines } = reporter();
  const ok: AttemptOutcome = { class: 'succeeded', reason: 'Completed', message: null, exitCode: 0, outputs: {}, node: 'n1' };
  const st: RunState = { ...state, tasks: ['load', 'report'].map((id) => ({ id, result: 'succeeded' as const, attempts: [], outputs: {}, reason: null, reusedFrom: null, retryAt: null })) };
  r.containerStarted('load', 1, 'n1', 0);
  r.containerStarted('check', 1, 'n1', 0);
  r.attemptFinished('load', 1, ok, view(st));
  r.decision({ type: 'give-up', task: 'check', attempt: 1, reason: 'no retries configured', outcome: failed });
  // The engine went on at once: the dependant of load is created, the dependant of check skipped.
  r.podCreated('report', 1, 'pod-report-1', false);
  r.decision({ type: 'skip', task: 'publish', reason: 'needs "check", which failed' });
  r.podCreated('other', 1, 'pod-other-1', false);
  r.logLine({ task: 'load', attempt: 1, text: 'loaded 4 users', time: null });
  r.logEnded('load', 1);
  r.logEnded('check', 1);
  expect(lines.slice(2)).toEqual([
    '[load] exited 0 (the last lines of its log follow)',
    '[check] ended: exit code 3 (the last lines of its log follow)',
    '[report] created pod pod-report-1',
    'publish skipped: needs "check", which failed',
    '[other] created pod pod-other-1',
    '[load] loaded 4 users',
    '[load] succeeded',
    'check attempt 1 failed: exit code 3; no retries configured',
  ]);
  // A log that ended before the engine moved on needs no such line.
  r.containerStarted('report', 1, 'n1', 0);
  r.logEnded('report', 1);
  r.attemptFinished('report', 1, ok, view(st));
  r.podCreated('last', 1, 'pod-last-1', false);
  expect(lines.slice(10)).toEqual(['[report] started on n1', '[report] succeeded', '[last] created pod pod-last-1']);
});
