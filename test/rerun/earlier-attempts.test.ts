/**
 * settleEarlierAttempts against the sandbox: before run attempt N plans, pods of earlier attempts
 * that ended unrecorded are recorded as the engine would have (a success is reused, a failure
 * says why it runs again), running ones are waited for (cancellable), and nothing already
 * recorded or of this attempt is touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRerun, taskFingerprint } from '../../src/dag/rerun.ts';
import { connect as connectAuth } from '../../src/kube/auth.ts';
import { createClient, type KubeClient } from '../../src/kube/client.ts';
import { settleEarlierAttempts, type RunningEarlierPod } from '../../src/kube/earlier-attempts.ts';
import { ANNOTATIONS, LABELS, MANAGED_BY, labelValue, podName } from '../../src/kube/pod.ts';
import { instanceId } from '../../src/spec/matrix.ts';
import { MAX_NAME_LENGTH } from '../../src/spec/names.ts';
import { RunStore } from '../../src/kube/run-store.ts';
import { PodProof } from '../../src/kube/pod-proof.ts';
import type { TaskUpdate } from '../../src/dag/rerun.ts';
import { parseSpec } from '../../src/spec/index.ts';
import type { DagSpec } from '../../src/spec/types.ts';
import { podManifest } from '../sandbox/helpers.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { waitForPods } from './helpers.ts';

const NS = 'earlier';
let sandbox: Sandbox;
let client: KubeClient;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
  client = createClient((await connectAuth({ kubeconfig: sandbox.kubeconfig() }, {})).kubeConfig, { retry: { baseMs: 20, maxMs: 200 } });
});
afterAll(async () => {
  await sandbox?.close();
});

const spec: DagSpec = parseSpec(['version: 1', 'name: settle', 'tasks:', '  a: {image: sandbox/succeed}', '  b: {image: sandbox/succeed}', ''].join('\n'), 'dag.yaml').spec!;

/** A pod of the run as the engine would have made it, with the given image. */
async function pod(runId: string, task: string, runAttempt: number, attempt: number, image: string, env: Record<string, string> = {}, proof?: PodProof, annotations?: Record<string, string>): Promise<string> {
  const name = `settle-${runId}-${runAttempt}-${task}-${attempt}`;
  const labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.dag]: 'settle', [LABELS.runId]: runId, [LABELS.runAttempt]: String(runAttempt), [LABELS.task]: task, [LABELS.taskAttempt]: String(attempt) };
  const body = podManifest(name, { image, env: Object.entries(env).map(([n, value]) => ({ name: n, value })) }, {}, labels);
  body.metadata!.namespace = NS;
  if (annotations) body.metadata!.annotations = { ...body.metadata!.annotations, ...annotations };
  await client.core.createNamespacedPod({ namespace: NS, body: proof ? proof.prove(body) : body });
  return name;
}

function store(runId: string): { store: RunStore; writes: TaskUpdate[] } {
  const s = new RunStore({ core: client.core, namespace: NS, dag: 'settle', runId, repository: 'octo-org/data-pipelines', request: (w, fn) => client.request(w, fn) });
  const writes: TaskUpdate[] = [];
  const record = s.recordTask.bind(s);
  s.recordTask = (u) => (writes.push(u), record(u));
  return { store: s, writes };
}

const ended = (runId: string, n: number) => waitForPods(sandbox, NS, `${LABELS.runId}=${runId}`, (pods) => pods.length === n && pods.every((p) => ['Succeeded', 'Failed'].includes(p.status?.phase ?? '')));

describe('settleEarlierAttempts', () => {
  it("with the run's keys: an earlier attempt's own pod is recorded; one planted with its labels is neither waited for nor recorded, and is named", async () => {
    const runId = '105';
    const attempt1 = new PodProof(); // the dead runner of run attempt 1 (its key is in the state)
    const own = await pod(runId, 'a', 1, 1, 'sandbox/succeed', { SANDBOX_TERMINATION_MESSAGE: 'rows=7' }, attempt1);
    // Planted: the labels of run attempt 1, forged outputs, and it never ends.
    const planted = await pod(runId, 'b', 1, 1, 'sandbox/sleep:forever', { SANDBOX_TERMINATION_MESSAGE: 'rows=666' });
    await waitForPods(sandbox, NS, `${LABELS.runId}=${runId},${LABELS.task}=a`, (pods) => pods.length === 1 && pods[0]!.status?.phase === 'Succeeded');
    const { store: s } = store(runId);
    const attempt2 = new PodProof();
    attempt2.trust([attempt1.publicKey]);
    const recorded: string[] = [];
    const refused: string[] = [];
    const waited: string[] = [];
    await settleEarlierAttempts({
      client, namespace: NS, spec, params: {}, runId, runAttempt: 2, store: s, proof: attempt2,
      onWait: (pods) => waited.push(...pods.map((p) => p.name)),
      onRecorded: (t, ra, at, o) => recorded.push(`${t} ${ra}/${at} ${o.class}`),
      onRefused: (p, problem) => refused.push(`${p.metadata?.name}: ${problem}`),
    });
    expect(recorded).toEqual(['a 1/1 succeeded']);
    expect(waited).toEqual([]);
    expect(refused).toEqual([`${planted}: carries no proof that pod-dag-action created it (annotations pod-dag.io/proof-hash and pod-dag.io/proof missing)`]);
    const plan = planRerun(spec, {}, await s.load(), 'failed', { runAttempt: 2 });
    expect(plan.previous).toEqual({ a: { outputs: { rows: '7' }, runAttempt: 1 } });
    expect(plan.rerun.map((r) => r.task)).toEqual(['b']);
    // Not ours: left alone.
    expect(sandbox.get('pods', NS, planted)?.metadata.deletionTimestamp).toBeUndefined();
    expect(own).toBe(`settle-${runId}-1-a-1`);
  });

  it('records the unrecorded ends of earlier attempts, so a success is reused and a failure runs again with its reason', async () => {
    const runId = '101';
    await pod(runId, 'a', 1, 1, 'sandbox/succeed', { SANDBOX_TERMINATION_MESSAGE: 'rows=7' });
    await pod(runId, 'b', 1, 1, 'sandbox/exit:3');
    await ended(runId, 2);
    const { store: s, writes } = store(runId);
    const recorded: string[] = [];
    await settleEarlierAttempts({ client, namespace: NS, spec, params: {}, runId, runAttempt: 2, store: s, onRecorded: (t, ra, at, o) => recorded.push(`${t} ${ra}/${at} ${o.class}`) });
    expect(recorded.sort()).toEqual(['a 1/1 succeeded', 'b 1/1 failed']);
    const plan = planRerun(spec, {}, await s.load(), 'failed', { runAttempt: 2 });
    expect(plan.previous).toEqual({ a: { outputs: { rows: '7' }, runAttempt: 1 } });
    expect(plan.rerun).toEqual([{ task: 'b', reason: expect.stringMatching(/exit code 3/) }]);

    // Settling again writes nothing: those ends are known now.
    writes.length = 0;
    await settleEarlierAttempts({ client, namespace: NS, spec, params: {}, runId, runAttempt: 2, store: s });
    expect(writes).toEqual([]);
  });

  it('the longest task id and the longest matrix instance id: their pods (names cut and hashed) are found, recorded under the whole ids and reused', async () => {
    const runId = '191';
    const long = 'l'.repeat(MAX_NAME_LENGTH);
    const fan = 'm'.repeat(MAX_NAME_LENGTH);
    const instance = instanceId(fan, { os: 'linuxwithaverylongname', v: '1.36' });
    expect(instance).toHaveLength(63);
    const longSpec = parseSpec(['version: 1', 'name: settle', 'tasks:', `  ${long}: {image: sandbox/succeed}`, `  ${fan}:`, '    image: sandbox/succeed', '    strategy: {matrix: {os: [linuxwithaverylongname], v: ["1.36"]}}', ''].join('\n'), 'dag.yaml').spec!;
    expect(longSpec, 'the spec parses').toBeDefined();
    const names: string[] = [];
    for (const task of [long, instance]) {
      const name = podName({ dag: 'settle', runId, runAttempt: 1, task, attempt: 1 });
      expect(name.length).toBeLessThanOrEqual(63);
      const labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.dag]: 'settle', [LABELS.runId]: runId, [LABELS.runAttempt]: '1', [LABELS.task]: labelValue(task), [LABELS.taskAttempt]: '1' };
      const body = podManifest(name, { image: 'sandbox/succeed', env: [{ name: 'SANDBOX_TERMINATION_MESSAGE', value: 'rows=9' }] }, {}, labels);
      body.metadata!.namespace = NS;
      await client.core.createNamespacedPod({ namespace: NS, body });
      names.push(name);
    }
    await ended(runId, 2);
    const { store: s, writes } = store(runId);
    const recorded: string[] = [];
    await settleEarlierAttempts({ client, namespace: NS, spec: longSpec, params: {}, runId, runAttempt: 2, store: s, onRecorded: (t, ra, at, o) => recorded.push(`${t} ${ra}/${at} ${o.class}`) });
    expect(recorded.sort()).toEqual([`${long} 1/1 succeeded`, `${instance} 1/1 succeeded`].sort());
    expect(writes.map((w) => [w.task, w.pod]).sort()).toEqual([[long, names[0]], [instance, names[1]]].sort());
    const plan = planRerun(longSpec, {}, await s.load(), 'failed', { runAttempt: 2 });
    expect(Object.keys(plan.previous).sort()).toEqual([long, instance].sort());
    writes.length = 0;
    await settleEarlierAttempts({ client, namespace: NS, spec: longSpec, params: {}, runId, runAttempt: 2, store: s });
    expect(writes).toEqual([]);
  });

  it("a sensor's attempt ends with its last poke, whatever order the pokes are listed in (p10 after p9)", async () => {
    const runId = '192';
    const sensorSpec = parseSpec(['version: 1', 'name: settle', 'tasks:', '  wait:', '    image: sandbox/succeed', '    sensor: {interval: 5m, timeout: 1h}', ''].join('\n'), 'dag.yaml').spec!;
    for (const [poke, image] of [[9, 'sandbox/exit:1'], [10, 'sandbox/succeed']] as const) {
      const name = podName({ dag: 'settle', runId, runAttempt: 1, task: 'wait', attempt: 1, poke });
      const labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.dag]: 'settle', [LABELS.runId]: runId, [LABELS.runAttempt]: '1', [LABELS.task]: 'wait', [LABELS.taskAttempt]: '1', [LABELS.poke]: String(poke) };
      const body = podManifest(name, { image }, {}, labels);
      body.metadata!.namespace = NS;
      await client.core.createNamespacedPod({ namespace: NS, body });
    }
    await ended(runId, 2);
    const { store: s } = store(runId);
    await settleEarlierAttempts({ client, namespace: NS, spec: sensorSpec, params: {}, runId, runAttempt: 2, store: s });
    const stored = await s.load();
    expect(stored?.tasks['wait']?.attempts.map((a) => [a.attempt, a.pod, a.class])).toEqual([[1, podName({ dag: 'settle', runId, runAttempt: 1, task: 'wait', attempt: 1, poke: 10 }), 'succeeded']]);
  });

  it('a success whose runner died is recorded as the task it ran (its pod says which): a spec changed since does not reuse it', async () => {
    const ran = parseSpec(['version: 1', 'name: settle', 'params: {day: mon}', 'tasks:', '  a: {image: sandbox/succeed, args: ["{{ params.day }}"]}', ''].join('\n'), 'dag.yaml').spec!;
    const imageChanged = parseSpec(['version: 1', 'name: settle', 'params: {day: mon}', 'tasks:', '  a: {image: "sandbox/succeed:v2", args: ["{{ params.day }}"]}', ''].join('\n'), 'dag.yaml').spec!;
    const settle = async (runId: string, now: DagSpec, params: Record<string, string>): Promise<ReturnType<typeof planRerun>> => {
      // As the engine made it, for the spec and params it ran (params day=mon), then the runner died.
      await pod(runId, 'a', 1, 1, 'sandbox/succeed', { SANDBOX_TERMINATION_MESSAGE: 'rows=7' }, undefined, {
        [ANNOTATIONS.fingerprint]: JSON.stringify(taskFingerprint(ran.tasks[0]!, { day: 'mon' })),
      });
      await ended(runId, 1);
      const { store: s } = store(runId);
      await settleEarlierAttempts({ client, namespace: NS, spec: now, params, runId, runAttempt: 2, store: s });
      return planRerun(now, params, await s.load(), 'failed', { runAttempt: 2 });
    };
    const same = await settle('108', ran, { day: 'mon' });
    expect(same.previous).toEqual({ a: { outputs: { rows: '7' }, runAttempt: 1 } });
    const image = await settle('109', imageChanged, { day: 'mon' });
    expect(image.previous).toEqual({});
    expect(image.rerun).toEqual([{ task: 'a', reason: 'image changed from sandbox/succeed to sandbox/succeed:v2 since run attempt 1' }]);
    const param = await settle('110', ran, { day: 'tue' });
    expect(param.previous).toEqual({});
    expect(param.rerun).toEqual([{ task: 'a', reason: 'args changed since run attempt 1' }]);
  });

  it('a pod whose task ended while a sidecar a webhook added runs on (phase Running) has ended: recorded, not waited for', async () => {
    const runId = '111';
    const name = `settle-${runId}-1-a-1`;
    const labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.dag]: 'settle', [LABELS.runId]: runId, [LABELS.runAttempt]: '1', [LABELS.task]: 'a', [LABELS.taskAttempt]: '1' };
    const body = podManifest(name, { image: 'sandbox/succeed', env: [{ name: 'SANDBOX_TERMINATION_MESSAGE', value: 'rows=7' }] }, {}, labels);
    body.metadata!.namespace = NS;
    body.spec!.containers.push({ name: 'istio-proxy', image: 'sandbox/sleep:forever' });
    await client.core.createNamespacedPod({ namespace: NS, body });
    await waitForPods(sandbox, NS, `${LABELS.runId}=${runId}`, (pods) => pods[0]?.status?.containerStatuses?.find((c) => c.name === 'main')?.state?.terminated !== undefined);
    expect(sandbox.get('pods', NS, name)?.status).toMatchObject({ phase: 'Running' });
    const { store: s } = store(runId);
    const abort = new AbortController();
    const recorded: string[] = [];
    await settleEarlierAttempts({
      client, namespace: NS, spec, params: {}, runId, runAttempt: 2, store: s, signal: abort.signal,
      onWait: () => abort.abort(), // waiting would be for ever: the sidecar never stops
      onRecorded: (t, ra, at, o) => recorded.push(`${t} ${ra}/${at} ${o.class}`),
    });
    expect(recorded).toEqual(['a 1/1 succeeded']);
    expect(planRerun(spec, {}, await s.load(), 'failed', { runAttempt: 2 }).previous).toEqual({ a: { outputs: { rows: '7' }, runAttempt: 1 } });
  });

  it("ignores this attempt's own pods (a restart of the same attempt adopts them itself)", async () => {
    const runId = '102';
    await pod(runId, 'a', 2, 1, 'sandbox/sleep:forever');
    const { store: s, writes } = store(runId);
    const waited: RunningEarlierPod[] = [];
    await settleEarlierAttempts({ client, namespace: NS, spec, params: {}, runId, runAttempt: 2, store: s, onWait: (p) => waited.push(...p) });
    expect(waited).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('waits for a running pod of an earlier attempt, says which, and can be cancelled', async () => {
    const runId = '103';
    const name = await pod(runId, 'a', 1, 1, 'sandbox/sleep:forever');
    await waitForPods(sandbox, NS, `${LABELS.runId}=${runId}`, (pods) => pods[0]?.status?.phase === 'Running');
    const { store: s, writes } = store(runId);
    const abort = new AbortController();
    const waited: RunningEarlierPod[] = [];
    const settling = settleEarlierAttempts({
      client, namespace: NS, spec, params: {}, runId, runAttempt: 3, store: s, signal: abort.signal,
      onWait: (pods) => {
        waited.push(...pods);
        abort.abort();
      },
    });
    await expect(settling).rejects.toThrow(/Cancelled while waiting for the pods of an earlier run attempt to end/);
    expect(waited).toEqual([{ name, task: 'a', runAttempt: 1, phase: 'Running' }]);
    expect(writes).toEqual([]);
  });

  it('resolves once the running pod ends, and records how it ended', async () => {
    const runId = '104';
    const name = await pod(runId, 'a', 1, 1, 'sandbox/sleep:forever');
    await waitForPods(sandbox, NS, `${LABELS.runId}=${runId}`, (pods) => pods[0]?.status?.phase === 'Running');
    const { store: s } = store(runId);
    const recorded: string[] = [];
    await settleEarlierAttempts({
      client, namespace: NS, spec, params: {}, runId, runAttempt: 2, store: s,
      onWait: () => void sandbox.evictPod(name, NS),
      onRecorded: (t, ra, at, o) => recorded.push(`${t} ${ra}/${at} ${o.class} ${o.reason}`),
    });
    expect(recorded).toEqual(['a 1/1 infrastructure Evicted']);
  });
});
