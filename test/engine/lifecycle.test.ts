/**
 * The run's life cycle against the sandbox: cancellation leaves no pod, API requests per task stay
 * bounded however long a task runs, keep-pods, adopting an existing pod on 409, dry run, and the
 * post step's cleanup.
 */
import { afterAll, beforeAll, beforeEach, expect, test, vi } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import { dryRunDag, unrecordedWarning, type UnrecordedEnd } from '../../src/engine/index.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { applyTaskUpdate, emptyRunState } from '../../src/dag/rerun.ts';
import { PodProof } from '../../src/kube/pod-proof.ts';
import { cleanupRun, sweepTarget } from '../../src/kube/sweep.ts';
import { attempts, capture, context, results, run, spec, startCluster, until, type Cluster } from './helpers.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['default', 'locked'] });
});
afterAll(() => cluster.sandbox.close());
beforeEach(() => {
  cluster.sandbox.faults.clear();
  cluster.sandbox.counters.reset();
});

const podsOf = (dag: string) => cluster.sandbox.list('pods', 'default').filter((p) => p.metadata.labels?.['pod-dag.io/dag'] === dag);
const isRunning = (p: object) =>
  Boolean(((p as { status?: unknown }).status as { containerStatuses?: { state?: { running?: unknown } }[] } | undefined)?.containerStatuses?.[0]?.state?.running);

test('cancellation deletes every live pod of the run and reports cancelled', async () => {
  const s = spec(`version: 1
name: cancel-me
tasks:
  a: {image: "sandbox/sleep:forever"}
  b: {image: "sandbox/sleep:forever"}
  after: {needs: [a, b], image: sandbox/succeed}
`);
  const abort = new AbortController();
  const running = run(cluster, s, { signal: abort.signal });
  await until(() => podsOf('cancel-me').filter(isRunning).length === 2, 'both pods running');
  abort.abort();
  const r = await running;
  expect(r.state.result).toBe('cancelled');
  expect(results(r.state)).toEqual({ a: 'cancelled', b: 'cancelled', after: 'not-run' });
  // Every delete was sent before runDag returned; the pods go once their grace ends.
  expect(cluster.sandbox.counters.get('delete', 'pods')).toBe(2);
  await until(() => podsOf('cancel-me').length === 0, 'no pod of the run left');
  expect(r.out.lines.some((l) => /the run was cancelled: stopping a, b/.test(l))).toBe(true);
});

test('a cancel that arrives before any pod exists starts nothing', async () => {
  const s = spec(`version: 1
name: cancel-early
tasks:
  a: {image: "sandbox/sleep:forever"}
`);
  const abort = new AbortController();
  abort.abort();
  const r = await run(cluster, s, { signal: abort.signal });
  expect(r.state.result).toBe('cancelled');
  expect(cluster.sandbox.counters.get('create', 'pods')).toBe(0);
});

/** Requests the sandbox saw, by "verb resource". */
const requests = () => cluster.sandbox.counters.snapshot();

test('API requests per task are bounded and do not grow with how long a task runs; no per-pod polling', async () => {
  const short = spec(`version: 1
name: short
tasks:
  t: {image: sandbox/succeed}
`);
  const long = spec(`version: 1
name: long
tasks:
  t: {image: "sandbox/sleep:4"}
`);
  await run(cluster, short);
  const shortReqs = requests();
  cluster.sandbox.counters.reset();
  await run(cluster, long);
  const longReqs = requests();
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  expect(shortReqs['get pods'] ?? 0).toBe(0);
  expect(longReqs['get pods'] ?? 0).toBe(0);
  expect(total(shortReqs)).toBeLessThanOrEqual(8);
  expect(total(longReqs)).toBeLessThanOrEqual(total(shortReqs) + 1);
});

test('a wide fan-out costs a bounded number of requests per task', async () => {
  const n = 12;
  const s = spec(`version: 1
name: fan
tasks:
${Array.from({ length: n }, (_, i) => `  t${i}: {image: sandbox/succeed}`).join('\n')}
`);
  const r = await run(cluster, s);
  expect(r.state.result).toBe('success');
  const total = Object.values(requests()).reduce((a, b) => a + b, 0);
  // One list and one watch for the run; per task a create, a delete and its log reads.
  expect(total / n).toBeLessThanOrEqual(6);
  expect(cluster.sandbox.counters.get('watch', 'pods')).toBe(1);
});

test('keep-pods on-failure keeps the failed attempt and deletes the succeeded one', async () => {
  const s = spec(`version: 1
name: keep
tasks:
  ok: {image: sandbox/succeed}
  bad: {image: "sandbox/exit:2", retries: {limit: 0}}
`);
  const r = await run(cluster, s, { keepPods: 'on-failure' });
  expect(results(r.state)).toEqual({ ok: 'succeeded', bad: 'failed' });
  await until(() => podsOf('keep').length === 1, 'the succeeded pod deleted');
  expect(podsOf('keep')[0]!.metadata.labels!['pod-dag.io/task']).toBe('bad');
});

test('a pod that already exists (409) is adopted, not run again', async () => {
  const s = spec(`version: 1
name: adopt
tasks:
  once:
    image: busybox
    command: [sh, -c, 'echo ran; echo "n=1" > "$POD_DAG_OUTPUT"']
`);
  const ctx = context('777001');
  const crashed = new PodProof();
  const first = await run(cluster, s, { keepPods: 'always', context: ctx, proof: crashed });
  expect(first.out.created).toEqual([{ task: 'once', attempt: 1, pod: first.out.created[0]!.pod, adopted: false }]);
  // The same run attempt again (a crashed runner restarted, which trusts the key the run's state
  // recorded for the first process): the pod exists, it is adopted.
  const restarted = new PodProof();
  restarted.trust([crashed.publicKey]);
  const second = await run(cluster, s, { keepPods: 'always', context: ctx, proof: restarted });
  expect(second.out.created[0]!.adopted).toBe(true);
  expect(second.state.result).toBe('success');
  expect(second.state.tasks[0]!.outputs).toEqual({ n: '1' });
  expect(cluster.sandbox.containerStarts(first.out.created[0]!.pod)).toBe(1);
  expect(second.out.lines.some((l) => /\[once\] adopted existing pod/.test(l))).toBe(true);
  // A process that does not hold a key the run recorded finds the same pod: not its own, so a
  // configuration failure; nothing of it is used, and it is not deleted (even with keep-pods never).
  const other = await run(cluster, s, { keepPods: 'never', context: ctx, proof: new PodProof() });
  expect(attempts(other.state, 'once')).toEqual(['configuration:NotOurPod']);
  expect(other.state.tasks[0]!.outputs).toEqual({});
  expect(other.state.tasks[0]!.attempts[0]!.outcome?.message).toMatch(/carries a proof that no process of this run signed/);
  expect(cluster.sandbox.get('pods', 'default', first.out.created[0]!.pod)?.metadata.deletionTimestamp).toBeUndefined();
  expect(cluster.sandbox.containerStarts(first.out.created[0]!.pod)).toBe(1);
});

test('dry-run submits every pod with dryRun=All and reports per task whether the cluster accepts it', async () => {
  const s = spec(`version: 1
name: dry
tasks:
  fine: {image: sandbox/succeed}
  broken:
    image: sandbox/succeed
    pod:
      labels: {team: data}
`);
  // A value the spec's own checks refuse since they know the API server's rules; set behind
  // them, it shows what the cluster's dry run says of what the spec layer does not check.
  s.tasks[1]!.pod.labels = { team: 'data team!' };
  const { reporter, out } = capture();
  const { verdicts, state } = await dryRunDag({
    spec: s,
    params: {},
    namespace: 'default',
    pods: kubePodApi(cluster.client),
    context: context('888001'),
    reporter,
  });
  expect(verdicts.map((v) => [v.task, v.accepted])).toEqual([
    ['fine', true],
    ['broken', false],
  ]);
  expect(verdicts[1]!.message).toMatch(/metadata.labels/);
  expect(state.result).toBe('failure');
  expect(podsOf('dry')).toHaveLength(0);
  expect(out.lines.some((l) => /fine: the cluster would accept pod/.test(l))).toBe(true);
});

test("cleanupRun deletes the run's pods by label and only warns", async () => {
  const s = spec(`version: 1
name: sweep
tasks:
  a: {image: sandbox/succeed}
`);
  const ctx = context('999001');
  await run(cluster, s, { keepPods: 'always', context: ctx });
  expect(podsOf('sweep')).toHaveLength(1);
  // keep-pods always kept it; with never, and a state that records its end, the sweep deletes it.
  const pod = podsOf('sweep')[0]!.metadata.name;
  const outcome = { class: 'succeeded', reason: 'Completed', message: null, exitCode: 0, outputs: {}, node: null } as const;
  const state = applyTaskUpdate(emptyRunState(s.name, '999001', 0), { task: 'a', runAttempt: 1, attempt: 1, pod, startedAt: 0, finishedAt: 1, outcome, fingerprint: { image: 'x', fields: {} } }, 1);
  const res = await cleanupRun(kubePodApi(cluster.client), 'default', sweepTarget(s.name, ctx), { keepPods: 'never', readState: async () => state });
  expect(res.warnings).toEqual([]);
  expect(res.deleted).toHaveLength(1);
  await until(() => podsOf('sweep').length === 0, 'the pod deleted');
  // A namespace we may not list: a warning, not a throw.
  cluster.sandbox.addUser('nobody-token', []);
  const { connect } = await import('../../src/kube/auth.ts');
  const { createClient } = await import('../../src/kube/client.ts');
  const conn = await connect({ kubeconfig: cluster.sandbox.kubeconfig({ token: 'nobody-token' }) }, {});
  const res2 = await cleanupRun(kubePodApi(createClient(conn.kubeConfig)), 'locked', sweepTarget(s.name, ctx));
  expect(res2.warnings[0]).toMatch(/forbidden/);
});

test('after a restart, a recorded attempt is replayed instead of run; its outputs still flow', async () => {
  const s = spec(`version: 1
name: replay
tasks:
  first: {image: "sandbox/sleep:forever"}
  second:
    needs: [first]
    image: busybox
    command: [sh, -c, 'echo "got {{ tasks.first.outputs.v }}"']
`);
  const ends: string[] = [];
  const r = await run(cluster, s, {
    recorded: (task, attempt) =>
      task === 'first' && attempt === 1
        ? { pod: 'replay-x-1-first-1', outcome: { class: 'succeeded', reason: 'Completed', message: null, exitCode: 0, outputs: { v: 'from-before' }, node: null } }
        : null,
    onAttemptEnd: (e) => void ends.push(`${e.task}#${e.attempt}:${e.outcome.class}:${e.result}`),
  });
  expect(r.state.result).toBe('success');
  expect(r.out.created.map((c) => c.task)).toEqual(['second']);
  expect(r.out.lines).toContain('[second] got from-before');
  // Only what ran in this process is recorded again.
  expect(ends).toEqual(['second#1:succeeded:succeeded']);
});

test('when recording an attempt fails, its pod is kept so a restart can adopt it', async () => {
  const s = spec(`version: 1
name: unrecorded
tasks:
  a: {image: sandbox/succeed}
`);
  const told: UnrecordedEnd[][] = [];
  const r = await run(cluster, s, {
    onAttemptEnd: () => Promise.reject(new Error('configmap write refused')),
    onUnrecorded: (ends) => void told.push(ends),
  });
  expect(r.state.result).toBe('success');
  expect(podsOf('unrecorded')).toHaveLength(1);
  const kept = podsOf('unrecorded')[0]!.metadata.name;
  // Told once, at the end, naming the pod kept: the action words it as one warning.
  expect(told).toEqual([[{ task: 'a', attempt: 1, pod: kept, error: 'configmap write refused' }]]);
  const warning = unrecordedWarning(told[0]!, null)!;
  expect(warning).toContain(`a attempt 1 (pod ${kept})`);
  expect(warning).toMatch(/post step does not delete them, and a re-run of this job records their ends/);
});

test('the warning for unwritten records names the run, the pods kept and the attempts without a pod', () => {
  const ends: UnrecordedEnd[] = [
    { task: 'a', attempt: 1, pod: 'd-1-1-a-1', error: 'the server is down' },
    { task: 'b', attempt: 2, pod: null, error: 'the server is down' },
  ];
  expect(unrecordedWarning([], null)).toBeNull();
  expect(unrecordedWarning([], new Error('gone'))).toBe('Could not record the end of the run: gone');
  const both = unrecordedWarning(ends, new Error('gone'))!;
  expect(both).toMatch(/^Could not record the end of the run \(gone\), nor the end of 2 attempts in the run's state \(the server is down\)\./);
  expect(both).toContain('Kept, as the only record of how they ended: a attempt 1 (pod d-1-1-a-1).');
  expect(both).toContain('No pod is left of b attempt 2: a re-run runs it again.');
  expect(both).not.toContain('b attempt 2 (pod');
});

test('the DAG timeout stops running tasks and the run ends cancelled (timeout)', async () => {
  const s = spec(`version: 1
name: dag-timeout
timeout: 1s
tasks:
  forever: {image: "sandbox/sleep:forever"}
`);
  const r = await run(cluster, s);
  expect(r.state.result).toBe('cancelled');
  expect(r.state.cancelled).toBe('timeout');
  expect(results(r.state)).toEqual({ forever: 'cancelled' });
  await until(() => podsOf('dag-timeout').length === 0, 'no pod of the run left');
});

test('the engine takes a snapshot of the whole run a fixed number of times, not once per event', async () => {
  // A snapshot costs O(tasks); taken per decision or per attempt end it made a wide DAG cost
  // tasks² (bench row 2). Reporters get a live view and ask for one task.
  const lines = ['version: 1', 'name: snapshots', 'tasks:', '  root: {image: sandbox/succeed}'];
  for (let i = 0; i < 30; i++) lines.push(`  m${i}: {image: sandbox/succeed, needs: [root]}`);
  const s = spec(lines.join('\n') + '\n');
  const snapshots = vi.spyOn(Scheduler.prototype, 'state');
  try {
    const r = await run(cluster, s);
    expect(r.state.result).toBe('success');
    // The step log still says how long each attempt took (it asks the view for that one task).
    expect(r.out.lines.filter((l) => /^\[m\d+\] succeeded in \d/.test(l))).toHaveLength(30);
    expect(snapshots.mock.calls.length).toBeLessThanOrEqual(3);
  } finally {
    snapshots.mockRestore();
  }
});
