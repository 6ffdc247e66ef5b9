/**
 * The run's state in a ConfigMap, against the sandbox through the real client: it survives the
 * process (a new store reads what an old one wrote), concurrent writers lose nothing (409 and
 * retry), it stays under the size limit or says why not, and a foreign ConfigMap is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskFingerprint, type TaskUpdate } from '../../src/dag/rerun.ts';
import { DIGEST_KEY, RunStore, runStateLabels, runStateName, shardName, STATE_KEY, STATE_PART_LABEL, TASKS_KEY } from '../../src/kube/run-store.ts';
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

  it('keeps the state in a head and shards labelled like the run’s pods', async () => {
    const s = store('778');
    await s.markStarted(1);
    await s.recordTask(ended('extract'));
    const head = sandbox.get('configmaps', NS, runStateName('nightly', '778')) as unknown as { metadata: { name: string; labels: Record<string, string> }; data: Record<string, string> };
    const run = {
      'app.kubernetes.io/managed-by': 'pod-dag-action',
      'pod-dag.io/dag': 'nightly',
      'pod-dag.io/run-id': '778',
      'pod-dag.io/repository': 'octo-org_data-pipelines',
    };
    expect(head.metadata.name).toBe('pod-dag-nightly-778');
    expect(head.metadata.labels).toEqual({ ...run, [STATE_PART_LABEL]: 'head' });
    expect(JSON.parse(head.data[STATE_KEY]!)).toMatchObject({ version: 2, dag: 'nightly', runId: '778', shards: 1 });
    expect(JSON.parse(head.data[DIGEST_KEY]!)).toEqual({ tasks: { extract: ['succeeded', 1000, 1] }, othersSucceeded: false });
    const shard = sandbox.get('configmaps', NS, shardName('pod-dag-nightly-778', 0)) as unknown as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(shard.metadata.labels).toEqual({ ...run, [STATE_PART_LABEL]: 'shard' });
    expect(JSON.parse(shard.data[TASKS_KEY]!)).toMatchObject({ version: 2, shard: 0, tasks: { extract: { result: 'succeeded' } } });
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

  it('fails clearly when one task’s entry cannot fit a ConfigMap, and records the others', async () => {
    const s = store('783', { limitBytes: 2000 });
    const big = s.recordTask(ended('a', 1, 1, { blob: 'x'.repeat(3000) }));
    const small = s.recordTask(ended('b'));
    await expect(big).rejects.toThrow(/Could not record task "a" in ConfigMap data-jobs\/pod-dag-nightly-783: the entry of task "a" alone is \d+ bytes, more than the 2000 bytes/);
    await small;
    expect(Object.keys((await store('783').load())!.tasks)).toEqual(['b']);
  });

  it('refuses to write over a ConfigMap of that name that is not a run state', async () => {
    sandbox.createConfigMap(NS, runStateName('nightly', '784'), { other: 'data' });
    expect(await store('784').load()).toBeNull(); // not labelled as the run's state: not part of it
    await expect(store('784').markStarted(1)).rejects.toThrow(/ConfigMap data-jobs\/pod-dag-nightly-784 exists but is not the state of this run .*delete the ConfigMap/);
  });

  it('refuses a head without its state, and a state written for another DAG whose name collides', async () => {
    const { core } = connect(sandbox);
    const labels = runStateLabels('nightly', '785', 'octo-org/data-pipelines');
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'pod-dag-nightly-785', labels }, data: { other: 'x' } } });
    await expect(store('785').load()).rejects.toThrow(/ConfigMap data-jobs\/pod-dag-nightly-785 has no "state.json" key\. .*delete it/);
    const other = store('786');
    await other.recordTask(ended('a'));
    const head = sandbox.get('configmaps', NS, 'pod-dag-nightly-786') as unknown as { data: Record<string, string> };
    await core.replaceNamespacedConfigMap({
      name: 'pod-dag-nightly-785',
      namespace: NS,
      body: { metadata: { name: 'pod-dag-nightly-785', labels }, data: { [STATE_KEY]: head.data[STATE_KEY]!.replace('"dag":"nightly"', '"dag":"nightly2"').replace('786', '785') } },
    });
    await expect(store('785').load()).rejects.toThrow(/holds the state of DAG "nightly2" run 785, not DAG "nightly" run 785/);
  });
});
