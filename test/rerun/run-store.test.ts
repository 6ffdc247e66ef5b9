/**
 * The run's state in a ConfigMap, against the sandbox through the real client: it survives the
 * process (a new store reads what an old one wrote), concurrent writers lose nothing (409 and
 * retry), it stays under the size limit or says why not, and a foreign ConfigMap is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskFingerprint, type TaskUpdate } from '../../src/dag/rerun.ts';
import { RunStore, runStateName, STATE_KEY } from '../../src/kube/run-store.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { outcome, task } from '../dag/builders.ts';
import { connect, recordingRequester } from './helpers.ts';

const NS = 'data-jobs';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
});
afterAll(async () => {
  await sandbox?.close();
});

let runs = 0;
/** A store for a fresh run id (every test its own run, so tests do not see each other). */
function store(runId = `${++runs}00`, extra: Partial<ConstructorParameters<typeof RunStore>[0]> = {}): RunStore {
  return new RunStore({ core: connect(sandbox).core, namespace: NS, dag: 'nightly', runId, repository: 'octo-org/data-pipelines', request: recordingRequester().request, ...extra });
}

function ended(taskId: string, attempt = 1, runAttempt = 1, outputs: Record<string, string> = { rows: '42' }): TaskUpdate {
  return {
    task: taskId,
    runAttempt,
    attempt,
    pod: `nightly-1-${runAttempt}-${taskId}-${attempt}`,
    startedAt: 1000,
    finishedAt: 2000,
    outcome: outcome('succeeded', { outputs }),
    result: 'succeeded',
    fingerprint: taskFingerprint(task(taskId), {}),
  };
}

describe('RunStore', () => {
  it('has nothing for a new run, and a new process reads what an earlier one recorded', async () => {
    const first = store('777');
    expect(await first.load()).toBeNull();
    await first.markStarted(1);
    await first.recordTask(ended('extract'));
    await first.recordTask(ended('load', 2));

    const again = await store('777').load();
    expect(again?.tasks['extract']).toMatchObject({ result: 'succeeded', attempt: 1, runAttempt: 1, outputs: { rows: '42' } });
    expect(again?.tasks['load']?.attempts.map((a) => a.attempt)).toEqual([2]);
    expect(again?.runAttempts).toEqual([{ runAttempt: 1, startedAt: expect.any(Number), finishedAt: null, result: null }]);
  });

  it('keeps the state in a ConfigMap labelled like the run’s pods', async () => {
    const s = store('778');
    await s.recordTask(ended('extract'));
    const cm = sandbox.get('configmaps', NS, runStateName('nightly', '778'));
    expect(cm?.metadata.name).toBe('pod-dag-nightly-778');
    expect(cm?.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'pod-dag-action',
      'pod-dag.io/dag': 'nightly',
      'pod-dag.io/run-id': '778',
      'pod-dag.io/repository': 'octo-org_data-pipelines',
    });
    expect(JSON.parse((cm as unknown as { data: Record<string, string> }).data[STATE_KEY]!)).toMatchObject({ version: 1, dag: 'nightly', runId: '778' });
  });

  it('a writer holding a stale resourceVersion gets 409, reads again and loses nothing', async () => {
    const { request, failures } = recordingRequester();
    const a = store('779');
    const b = store('779', { request });
    await a.recordTask(ended('one'));
    expect((await b.load())?.tasks['one']).toBeDefined(); // b now holds the resourceVersion of that write
    await a.recordTask(ended('two')); // ... which this write makes stale
    await b.recordTask(ended('three'));
    expect(failures.filter((f) => f.endsWith('conflict'))).toHaveLength(1);
    expect(Object.keys((await store('779').load())!.tasks).sort()).toEqual(['one', 'three', 'two']);
  });

  it('many processes recording at once: every record lands', async () => {
    const { request, failures } = recordingRequester();
    const writers = Array.from({ length: 5 }, () => store('780', { request }));
    await Promise.all(writers.flatMap((w, i) => Array.from({ length: 4 }, (_, j) => w.recordTask(ended(`t${i}-${j}`)))));
    const state = await store('780').load();
    expect(Object.keys(state!.tasks)).toHaveLength(20);
    // The race is real: some writes hit a stale version (or a create lost to another create).
    expect(failures.some((f) => f.endsWith('conflict'))).toBe(true);
  });

  it('rides out server errors: the requests are retried and every record lands', async () => {
    sandbox.faults.serverErrors({ share: 0.5, resources: ['configmaps'] });
    try {
      const s = store('781', { request: recordingRequester().request });
      for (let i = 0; i < 4; i++) await s.recordTask(ended(`t${i}`));
    } finally {
      sandbox.faults.clear();
    }
    expect(Object.keys((await store('781').load())!.tasks)).toEqual(['t0', 't1', 't2', 't3']);
  });

  it('drops the largest outputs to stay under the size limit, and says so', async () => {
    const notes: string[] = [];
    const s = store('782', { limitBytes: 6000, onNote: (n) => notes.push(n) });
    await s.recordTask(ended('small', 1, 1, { a: 'x' }));
    await s.recordTask(ended('big', 1, 1, { blob: 'y'.repeat(4000) }));
    await s.recordTask(ended('big2', 1, 1, { blob: 'z'.repeat(3000) }));
    const state = await store('782').load();
    expect(state!.tasks['big']).toMatchObject({ outputs: {}, outputsDropped: true });
    expect(state!.tasks['small']!.outputs).toEqual({ a: 'x' });
    expect(notes.join('\n')).toMatch(/would exceed 6000 bytes, so the outputs of "big" were not kept; a re-run of this run will run those tasks again/);
  });

  it('fails clearly when the state cannot fit at all', async () => {
    const s = store('783', { limitBytes: 300 });
    await expect(s.recordTask(ended('a'))).rejects.toThrow(
      /Could not record task "a" in ConfigMap data-jobs\/pod-dag-nightly-783: .* more than the 300 bytes a ConfigMap can hold; split the DAG/,
    );
  });

  it('refuses a ConfigMap of that name that is not a run state', async () => {
    sandbox.createConfigMap(NS, runStateName('nightly', '784'), { other: 'data' });
    await expect(store('784').load()).rejects.toThrow(/ConfigMap data-jobs\/pod-dag-nightly-784 has no "state.json" key\. .*delete it/);
  });

  it('refuses a state written for another DAG whose name collides', async () => {
    const other = new RunStore({ core: connect(sandbox).core, namespace: NS, dag: 'nightly', runId: '785', repository: null, request: recordingRequester().request });
    await other.recordTask(ended('a'));
    const cm = sandbox.get('configmaps', NS, 'pod-dag-nightly-785') as unknown as { data: Record<string, string> };
    sandbox.createConfigMap(NS, 'pod-dag-nightly-785', { [STATE_KEY]: cm.data[STATE_KEY]!.replace('"dag":"nightly"', '"dag":"nightly2"') });
    await expect(store('785').load()).rejects.toThrow(/holds the state of DAG "nightly2" run 785, not DAG "nightly" run 785/);
  });
});
