/**
 * The history grid's read (src/kube/history.ts) against the sandbox through the real client: one
 * list that returns the heads of the runs' states only (never a shard), a digest per run that
 * stays small however many tasks the run had, and states written by the released v1 still shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTaskUpdate, emptyRunState, markRunAttempt, serializeRunState, taskFingerprint } from '../../src/dag/rerun.ts';
import { DIGEST_TASKS } from '../../src/dag/state-parts.ts';
import { readHistory } from '../../src/kube/history.ts';
import { DIGEST_KEY, RunStore, runStateLabels, runStateName, STATE_KEY, type Requester } from '../../src/kube/run-store.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { outcome, task } from '../dag/builders.ts';
import { connect, recordingRequester } from './helpers.ts';

const NS = 'history';
const REPO = 'octo-org/data-pipelines';
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
});
afterAll(async () => {
  await sandbox?.close();
});

const end = (id: string, ok: boolean) => ({
  task: id,
  runAttempt: 1,
  attempt: 1,
  pod: null,
  startedAt: 1_000,
  finishedAt: 61_000,
  outcome: ok ? outcome('succeeded') : outcome('failed', { exitCode: 2 }),
  result: ok ? ('succeeded' as const) : ('failed' as const),
  fingerprint: taskFingerprint(task(id), {}),
});

describe('readHistory', () => {
  it('lists the heads only; a large run’s digest lists what did not succeed, a small one’s every task; v1 states are read whole', async () => {
    const core = connect(sandbox).core;
    // A large run: more tasks than a digest lists one by one, two of them failed.
    const big = new RunStore({ core, namespace: NS, dag: 'wide', runId: '1', repository: REPO, request: recordingRequester().request, fillBytes: 20_000 });
    await big.markStarted(1);
    const n = DIGEST_TASKS + 100;
    await Promise.all(Array.from({ length: n }, (_, i) => big.recordTask(end(`t${i}`, i !== 7 && i !== 300))));
    await big.markFinished(1, 'failure');
    // A small run, and a v1 state (one ConfigMap) of a run from before the upgrade.
    const small = new RunStore({ core, namespace: NS, dag: 'wide', runId: '2', repository: REPO, request: recordingRequester().request });
    await small.markStarted(1);
    await small.recordTask(end('t0', true));
    await small.markFinished(1, 'success');
    let v1 = markRunAttempt(emptyRunState('wide', '0', 500), 1, 500);
    v1 = markRunAttempt(applyTaskUpdate(v1, end('t1', false), 500), 1, 600, 'failure');
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: runStateName('wide', '0'), labels: runStateLabels('wide', '0', REPO) }, data: { [STATE_KEY]: serializeRunState(v1) } } });

    const listed: string[] = [];
    const { request: inner } = recordingRequester();
    const request: Requester = async (what, fn) => {
      const answer = await inner(what, fn);
      listed.push(...((answer as { items?: { metadata?: { name?: string } }[] }).items ?? []).map((i) => i.metadata?.name ?? ''));
      return answer;
    };
    const history = await readHistory({ core, request, namespace: NS, dag: 'wide', repository: REPO, runId: '3' });
    expect(listed.sort()).toEqual([runStateName('wide', '0'), runStateName('wide', '1'), runStateName('wide', '2')]);
    expect(history.unavailable).toBeNull();
    const [v1Run, bigRun, smallRun] = history.runs;
    expect(v1Run).toMatchObject({ runId: '0', result: 'failure', tasks: { t1: { result: 'failed', durationMs: 60_000, runAttempt: 1 } }, othersSucceeded: false });
    expect(bigRun).toMatchObject({ runId: '1', result: 'failure', othersSucceeded: true });
    expect(bigRun!.tasks).toEqual({ t7: { result: 'failed', durationMs: 60_000, runAttempt: 1 }, t300: { result: 'failed', durationMs: 60_000, runAttempt: 1 } });
    expect(smallRun).toMatchObject({ runId: '2', result: 'success', tasks: { t0: { result: 'succeeded', durationMs: 60_000, runAttempt: 1 } }, othersSucceeded: false });
    // The digest stays small: the head of the large run is a few hundred bytes.
    const head = sandbox.get('configmaps', NS, runStateName('wide', '1')) as unknown as { data: Record<string, string> };
    expect(Buffer.byteLength(head.data[DIGEST_KEY]!) + Buffer.byteLength(head.data[STATE_KEY]!)).toBeLessThan(1000);
  });
});
