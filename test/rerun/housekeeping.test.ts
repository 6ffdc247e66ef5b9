/**
 * Housekeeping against the sandbox: old runs of this DAG go (pods and state), and nothing else
 * does: not the current run, not a run in progress, not another DAG, not another repository,
 * not a pod we did not create. keep-pods `always` keeps pods.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyTaskUpdate, emptyRunState, markRunAttempt, serializeRunState, taskFingerprint } from '../../src/dag/rerun.ts';
import { dagSelector, removeOldRuns, type HousekeepingOptions } from '../../src/kube/housekeeping.ts';
import { RunStore, runStateLabels, runStateName, shardName, STATE_KEY, TASKS_KEY } from '../../src/kube/run-store.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { outcome, task } from '../dag/builders.ts';
import { connect, recordingRequester, waitForPods } from './helpers.ts';

const NS = 'data-jobs';
const REPO = 'octo-org/data-pipelines';
const DAY = 24 * 3_600_000;
let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startSandbox({ namespaces: [NS], scale: true });
});
afterEach(async () => {
  await sandbox?.close();
});

interface PodSpec {
  run: string;
  image: string;
  dag?: string;
  repository?: string | null;
  managed?: boolean;
  name?: string;
}

async function pod(p: PodSpec): Promise<string> {
  const dag = p.dag ?? 'nightly';
  const labels: Record<string, string> = runStateLabels(dag, p.run, p.repository === undefined ? REPO : p.repository);
  if (p.managed === false) delete labels['app.kubernetes.io/managed-by'];
  const name = p.name ?? `${dag}-${p.run}-1-t-1${p.managed === false ? '-x' : ''}${p.repository === undefined ? '' : '-r'}`;
  const body: V1Pod = { metadata: { name, labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: p.image }] } };
  await connect(sandbox).core.createNamespacedPod({ namespace: NS, body });
  return name;
}

/** A state ConfigMap for a run whose last run attempt started (and, if `result`, ended). */
async function state(run: string, opts: { ended?: boolean; dag?: string; repository?: string | null; startedAt?: number } = {}): Promise<string> {
  const dag = opts.dag ?? 'nightly';
  const at = opts.startedAt ?? Date.now();
  let s = markRunAttempt(emptyRunState(dag, run, at), 1, at);
  s = applyTaskUpdate(
    s,
    { task: 't', runAttempt: 1, attempt: 1, pod: null, startedAt: at, finishedAt: at, outcome: outcome('succeeded'), result: 'succeeded', fingerprint: taskFingerprint(task('t'), {}) },
    at,
  );
  if (opts.ended !== false) s = markRunAttempt(s, 1, at, 'success');
  const name = runStateName(dag, run);
  await connect(sandbox).core.createNamespacedConfigMap({
    namespace: NS,
    body: { metadata: { name, labels: runStateLabels(dag, run, opts.repository === undefined ? REPO : opts.repository) }, data: { [STATE_KEY]: serializeRunState(s) } },
  });
  return name;
}

const settled = (pods: V1Pod[]) => pods.every((p) => ['Succeeded', 'Failed', 'Running'].includes(p.status?.phase ?? ''));

function housekeep(extra: Partial<HousekeepingOptions> = {}) {
  return removeOldRuns({
    core: connect(sandbox).core,
    request: recordingRequester().request,
    namespace: NS,
    dag: 'nightly',
    repository: REPO,
    runId: '500',
    retentionMs: 7 * DAY,
    keepPods: 'on-failure',
    now: () => Date.now() + 8 * DAY, // everything made now is 8 days old then
    ...extra,
  });
}

const exists = (resource: string, name: string) => sandbox.get(resource, NS, name) !== undefined;

describe('removeOldRuns', () => {
  it('removes the pods and state of old finished runs of this DAG, and nothing else', async () => {
    const oldPods = [await pod({ run: '100', image: 'sandbox/succeed' }), await pod({ run: '101', image: 'sandbox/exit:1', name: 'nightly-101-1-t-1' })];
    const oldMaps = [await state('100'), await state('101')];
    const untouchable = {
      current: [await pod({ run: '500', image: 'sandbox/succeed' })],
      running: [await pod({ run: '102', image: 'sandbox/sleep:forever' })],
      otherDag: [await pod({ run: '103', dag: 'weekly', image: 'sandbox/succeed' })],
      otherRepo: [await pod({ run: '104', image: 'sandbox/succeed', repository: 'someone/else' })],
      unmanaged: [await pod({ run: '105', image: 'sandbox/succeed', managed: false })],
    };
    const keptMaps = [await state('500'), await state('103', { dag: 'weekly' }), await state('104', { repository: 'someone/else' }), await state('106', { ended: false, startedAt: Date.now() + 6 * DAY })];
    await waitForPods(sandbox, NS, '', (pods) => pods.length === 7 && settled(pods));

    // Run 106 last wrote 2 days before "now" (a long retry delay, say): older than the
    // retention, but its run attempt started less than staleAfterMs (3 days) ago and never ended.
    const result = await housekeep({ retentionMs: DAY });

    expect(result.pods.sort()).toEqual(oldPods.sort());
    expect(result.configMaps.sort()).toEqual(oldMaps.sort());
    expect(result.errors).toEqual([]);
    expect(result.kept).toEqual([
      { runId: '102', reason: 'pod nightly-102-1-t-1 is Running' },
      { runId: '106', reason: 'its run attempt 1 started 2d ago and has not ended' },
    ]);
    for (const name of [...oldPods]) expect(exists('pods', name), name).toBe(false);
    for (const name of Object.values(untouchable).flat()) expect(exists('pods', name), name).toBe(true);
    for (const name of oldMaps) expect(exists('configmaps', name), name).toBe(false);
    for (const name of keptMaps) expect(exists('configmaps', name), name).toBe(true);
  });

  it('removes an old run’s head and every shard, those a crash left past the head’s count too, and lists only heads', async () => {
    const write = async (run: string, tasks: number) => {
      const store = new RunStore({ core: connect(sandbox).core, namespace: NS, dag: 'nightly', runId: run, repository: REPO, request: recordingRequester().request, fillBytes: 1500 });
      await store.markStarted(1);
      for (let i = 0; i < tasks; i++) {
        await store.recordTask({ task: `t${i}`, runAttempt: 1, attempt: 1, pod: null, startedAt: 1, finishedAt: 2, outcome: outcome('succeeded', { outputs: { o: 'x'.repeat(300) } }), result: 'succeeded', fingerprint: taskFingerprint(task(`t${i}`), {}) });
      }
      await store.markFinished(1, 'success');
      return runStateName('nightly', run);
    };
    const old = await write('100', 8);
    const current = await write('500', 8);
    const shardsOf = (head: string) => sandbox.list('configmaps', NS).filter((cm) => cm.metadata.name.startsWith(`${head}.shard-`)).map((cm) => cm.metadata.name);
    const counted = shardsOf(old).length;
    expect(counted).toBeGreaterThan(1);
    // A shard created just before a crash, which the head does not count yet.
    const orphan = shardName(old, counted);
    await connect(sandbox).core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: orphan, labels: { ...runStateLabels('nightly', '100', REPO), 'pod-dag.io/state': 'shard' } }, data: { [TASKS_KEY]: '{}' } },
    });
    const listed: string[] = [];
    const { request } = recordingRequester();
    const result = await housekeep({
      request: async (what, fn) => {
        const answer = await request(what, fn);
        const items = (answer as { items?: { metadata?: { name?: string } }[] }).items;
        if (what.startsWith('list configmaps')) listed.push(...(items ?? []).map((i) => i.metadata?.name ?? ''));
        return answer;
      },
    });
    expect(result.errors).toEqual([]);
    expect(listed.sort()).toEqual([old, current].sort()); // heads only: no shard is read
    expect(result.configMaps.sort()).toEqual([old, ...Array.from({ length: counted + 1 }, (_, i) => shardName(old, i))].sort());
    expect(shardsOf(old)).toEqual([]);
    expect(exists('configmaps', old)).toBe(false);
    expect(shardsOf(current).length).toBeGreaterThan(1);
    expect(exists('configmaps', current)).toBe(true);
  });

  it('keeps runs younger than the retention', async () => {
    const p = await pod({ run: '100', image: 'sandbox/succeed' });
    const m = await state('100');
    await waitForPods(sandbox, NS, '', settled);
    const result = await housekeep({ now: () => Date.now() + 6 * DAY });
    expect(result).toEqual({ pods: [], configMaps: [], kept: [], errors: [] });
    expect(exists('pods', p) && exists('configmaps', m)).toBe(true);
  });

  it("takes a run whose runner died without a word for dead after 'staleAfterMs'", async () => {
    const m = await state('106', { ended: false });
    expect((await housekeep({ staleAfterMs: 7 * DAY })).configMaps).toEqual([m]);
  });

  it("with keep-pods 'always' leaves the pods and removes only the state", async () => {
    const p = await pod({ run: '100', image: 'sandbox/succeed' });
    const m = await state('100');
    await waitForPods(sandbox, NS, '', (pods) => pods.length === 1 && settled(pods));
    const result = await housekeep({ keepPods: 'always' });
    expect(result.pods).toEqual([]);
    expect(result.configMaps).toEqual([m]);
    expect(result.kept).toEqual([{ runId: '100', reason: "keep-pods is 'always': its 1 pod(s) stay" }]);
    expect(exists('pods', p)).toBe(true);
  });

  it('outside a workflow (no repository) only sees objects without a repository label', async () => {
    const withRepo = await state('100');
    const without = await state('101', { repository: null });
    const result = await housekeep({ repository: null });
    expect(result.configMaps).toEqual([without]);
    expect(exists('configmaps', withRepo)).toBe(true);
    expect(dagSelector('nightly', null)).toBe('app.kubernetes.io/managed-by=pod-dag-action,pod-dag.io/dag=nightly,!pod-dag.io/repository');
  });

  it('reports a refused list as an error instead of throwing', async () => {
    sandbox.addUser('no-rights', [], 'no-rights');
    const { KubeConfig, CoreV1Api } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromString(sandbox.kubeconfig({ token: 'no-rights' }));
    const result = await housekeep({ core: kc.makeApiClient(CoreV1Api) });
    expect(result.pods).toEqual([]);
    expect(result.errors).toEqual([expect.stringMatching(/^Could not list the old runs of DAG "nightly" in namespace data-jobs: .*forbidden/i)]);
  });
});
