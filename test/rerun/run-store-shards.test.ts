/**
 * The run's state past one ConfigMap, against the sandbox through the real client: thousands of
 * tasks are all recorded and read back (one ConfigMap held ~2,200), writes are batched (one in
 * flight), a task whose entry grows moves to a new shard and is never lost, a torn state is
 * refused before anything runs, and a state written by the released v1 (one ConfigMap) is read
 * and carried on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeRunState, taskFingerprint, type StoredRunState, type TaskUpdate } from '../../src/dag/rerun.ts';
import { RunStore, runStateLabels, runStateName, shardName, STATE_KEY, TASKS_KEY, type Requester } from '../../src/kube/run-store.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { outcome, task } from '../dag/builders.ts';
import { connect, recordingRequester } from './helpers.ts';

const NS = 'shards';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
});
afterAll(async () => {
  await sandbox?.close();
});

/** A requester that counts the requests by what they do ("create", "replace", "list", "read"). */
function counting(): { request: Requester; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const inner = recordingRequester().request;
  const request: Requester = (what, fn) => {
    const verb = what.split(' ')[0]!;
    counts[verb] = (counts[verb] ?? 0) + 1;
    return inner(what, fn);
  };
  return { request, counts };
}

function store(runId: string, extra: Partial<ConstructorParameters<typeof RunStore>[0]> = {}): RunStore {
  return new RunStore({ core: connect(sandbox).core, namespace: NS, dag: 'wide', runId, repository: 'octo-org/data-pipelines', request: recordingRequester().request, ...extra });
}

/** The end of an attempt as a real task's: an image, a command, env, a pod name, an output, a node. */
function ended(id: string, attempt = 1, cls: 'succeeded' | 'failed' = 'succeeded'): TaskUpdate {
  const spec = { ...task(id), command: ['clickhouse-client', '--query', `INSERT INTO t SELECT * FROM s WHERE shard = '${id}'`] };
  return {
    task: id,
    runAttempt: 1,
    attempt,
    pod: `wide-1234567890-1-${id}-${attempt}-abcde`,
    startedAt: 1_700_000_000_000 + attempt,
    finishedAt: 1_700_000_060_000 + attempt,
    outcome: cls === 'succeeded' ? outcome('succeeded', { outputs: { rows: '42', table: `t_${id}` }, node: 'node-a' }) : outcome('failed', { exitCode: 1, message: 'x'.repeat(400), node: 'node-a' }),
    result: cls === 'succeeded' ? 'succeeded' : null,
    fingerprint: taskFingerprint(spec, {}),
  };
}

describe('the run state past one ConfigMap', () => {
  it('records every task of a 6,000-task run and reads every one back (one ConfigMap held about 2,200)', async () => {
    const ids = Array.from({ length: 6000 }, (_, i) => `shard-${String(i).padStart(5, '0')}`);
    const { request, counts } = counting();
    const s = store('6000', { request });
    await s.markStarted(1);
    // Ends come in waves, as a wide DAG's do: each wave's records are awaited together.
    for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id) => s.recordTask(ended(id))));
    const again = await store('6000').load();
    expect(Object.keys(again!.tasks)).toHaveLength(6000);
    expect(again!.tasks['shard-05999']).toMatchObject({ result: 'succeeded', outputs: { rows: '42', table: 't_shard-05999' } });
    const shards = sandbox.list('configmaps', NS).filter((cm) => cm.metadata.name.startsWith(`${runStateName('wide', '6000')}.shard-`));
    expect(shards.length).toBeGreaterThan(2);
    // Batched: far fewer writes than records (12 waves; a wave may need a new shard and its head).
    expect((counts['create'] ?? 0) + (counts['replace'] ?? 0)).toBeLessThan(60);
  });

  it('batches: records made while a write is in flight go out together in the next, each resolved once written', async () => {
    const { request, counts } = counting();
    const s = store('batch', { request });
    await s.markStarted(1);
    const before = (counts['create'] ?? 0) + (counts['replace'] ?? 0);
    const seen: string[] = [];
    const records = Array.from({ length: 50 }, (_, i) =>
      s.recordTask(ended(`t${i}`)).then(async () => {
        // Resolved: the record is in the cluster, for any other reader.
        const cm = sandbox.get('configmaps', NS, shardName(runStateName('wide', 'batch'), 0)) as unknown as { data: Record<string, string> };
        if (JSON.parse(cm.data[TASKS_KEY]!).tasks[`t${i}`] !== undefined) seen.push(`t${i}`);
      }),
    );
    await Promise.all(records);
    await s.flushed();
    expect(seen).toHaveLength(50);
    // The first record's write, then one carrying the 49 that came meanwhile (and the head, counting the new shard).
    expect((counts['create'] ?? 0) + (counts['replace'] ?? 0) - before).toBeLessThanOrEqual(4);
  });

  it('a task whose entry outgrows its shard moves to a new one, and nothing is lost on the way', async () => {
    const s = store('grow', { limitBytes: 8000, fillBytes: 3000 });
    for (let i = 0; i < 5; i++) await s.recordTask(ended(`t${i}`));
    // t0's retries make its entry grow past what its shard can hold beside the others.
    for (let attempt = 1; attempt <= 8; attempt++) await s.recordTask(ended('t0', attempt, attempt < 8 ? 'failed' : 'succeeded'));
    const state = await store('grow').load();
    expect(Object.keys(state!.tasks).sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(state!.tasks['t0']!.attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(state!.tasks['t0']!.result).toBe('succeeded');
  });

  it('refuses a torn state (a shard the head counts is missing), saying how to start afresh', async () => {
    const s = store('torn', { fillBytes: 2000 });
    await s.markStarted(1);
    for (let i = 0; i < 8; i++) await s.recordTask(ended(`t${i}`));
    const head = runStateName('wide', 'torn');
    await connect(sandbox).core.deleteNamespacedConfigMap({ name: shardName(head, 1), namespace: NS });
    await expect(store('torn').load()).rejects.toThrow(
      new RegExp(`The run's state is torn: its head ConfigMap shards/${head} counts \\d+ shard\\(s\\), but ${head}\\.shard-1 is missing .*nothing was started.*kubectl delete configmap -n shards -l '.*pod-dag\\.io/run-id=torn`),
    );
  });

  it('refuses shards whose head is gone', async () => {
    const s = store('headless');
    await s.recordTask(ended('a'));
    await connect(sandbox).core.deleteNamespacedConfigMap({ name: runStateName('wide', 'headless'), namespace: NS });
    await expect(store('headless').load()).rejects.toThrow(/The run's state is torn: its 1 shard\(s\) exist but its head ConfigMap shards\/pod-dag-wide-headless does not/);
  });

  it('reads a state the released v1 wrote in one ConfigMap, and carries it on as head and shards', async () => {
    const runId = 'v1run';
    const v1: StoredRunState = {
      version: 1,
      dag: 'wide',
      runId,
      updatedAt: 1_700_000_100_000,
      tasks: {},
      runAttempts: [{ runAttempt: 1, startedAt: 1_700_000_000_000, finishedAt: 1_700_000_100_000, result: 'failure' }],
    };
    const first = store('scratch');
    for (const id of ['extract', 'load']) {
      const u = ended(id, 1, id === 'load' ? 'failed' : 'succeeded');
      await first.recordTask(u);
    }
    v1.tasks = (await first.load())!.tasks;
    await connect(sandbox).core.createNamespacedConfigMap({
      namespace: NS,
      // v1's labels: the run's, no part label.
      body: { metadata: { name: runStateName('wide', runId), labels: runStateLabels('wide', runId, 'octo-org/data-pipelines') }, data: { [STATE_KEY]: serializeRunState(v1) } },
    });
    const read = await store(runId).load();
    expect(read!.tasks['extract']).toMatchObject({ result: 'succeeded', outputs: { rows: '42' } });
    expect(read!.runAttempts).toEqual(v1.runAttempts);

    // Run attempt 2 records: the state is written back as head and shards, nothing of v1 lost.
    const s = store(runId);
    await s.markStarted(2);
    await s.recordTask({ ...ended('load'), runAttempt: 2 });
    const head = sandbox.get('configmaps', NS, runStateName('wide', runId)) as unknown as { data: Record<string, string> };
    expect(JSON.parse(head.data[STATE_KEY]!)).toMatchObject({ version: 2, shards: 1 });
    const after = await store(runId).load();
    expect(after!.tasks['extract']).toMatchObject({ result: 'succeeded', runAttempt: 1 });
    expect(after!.tasks['load']).toMatchObject({ result: 'succeeded', runAttempt: 2 });
    expect(after!.runAttempts.map((r) => r.runAttempt)).toEqual([1, 2]);
  });

  it('a conversion from v1 cut short by a crash: the v1 state and the shards already written are read together, the newer entry wins', async () => {
    const runId = 'v1cut';
    const scratch = store('scratch2');
    await scratch.recordTask(ended('a', 1, 'failed'));
    await scratch.recordTask(ended('b'));
    const v1: StoredRunState = { version: 1, dag: 'wide', runId, updatedAt: 1, tasks: (await scratch.load())!.tasks, runAttempts: [{ runAttempt: 1, startedAt: 1, finishedAt: null, result: null }] };
    const { core } = connect(sandbox);
    const labels = runStateLabels('wide', runId, 'octo-org/data-pipelines');
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: runStateName('wide', runId), labels }, data: { [STATE_KEY]: serializeRunState(v1) } } });
    // The shard the crashed conversion wrote: a's second attempt, which succeeded.
    const newer = store('scratch3');
    await newer.recordTask(ended('a', 1, 'failed'));
    await newer.recordTask(ended('a', 2));
    const shardText = (sandbox.get('configmaps', NS, shardName(runStateName('wide', 'scratch3'), 0)) as unknown as { data: Record<string, string> }).data[TASKS_KEY]!;
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: { name: shardName(runStateName('wide', runId), 0), labels: { ...labels, 'pod-dag.io/state': 'shard' } },
        data: { [TASKS_KEY]: shardText.replace('"runId":"scratch3"', `"runId":"${runId}"`) },
      },
    });
    const read = await store(runId).load();
    expect(read!.tasks['a']!.attempts.map((x) => x.attempt)).toEqual([1, 2]);
    expect(read!.tasks['a']!.result).toBe('succeeded');
    expect(read!.tasks['b']!.result).toBe('succeeded');
  });
});
