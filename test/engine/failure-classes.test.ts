/**
 * One scenario per failure class, against the sandbox cluster through the real client: the final
 * result, the attempts, and that the sandbox started each attempt's container exactly once.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attempts, context, results, run, spec, startCluster, until, type Cluster } from './helpers.ts';
import { runAnnotations } from '../../src/report/annotations.ts';
import { renderRunSummary } from '../../src/report/summary.ts';
import type { RunInfo } from '../../src/report/types.ts';
import type { DagSpec } from '../../src/spec/types.ts';

function info(s: DagSpec): RunInfo {
  return { mode: 'run', spec: s, context: context('1'), namespace: 'default', params: {} };
}

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: [{ name: 'node-a', allocatable: { cpu: '4', memory: '8Gi' } }] });
});
afterAll(() => cluster.sandbox.close());
beforeEach(() => cluster.sandbox.faults.clear());

/** Every attempt's pod was started by the sandbox exactly once (0 for pods that never ran). */
function startsPerPod(r: Awaited<ReturnType<typeof run>>): Record<string, number> {
  return Object.fromEntries(r.out.created.map((c) => [c.pod, cluster.sandbox.containerStarts(c.pod)]));
}

test('a chain succeeds; outputs feed downstream templates and if: conditions; logs are prefixed', async () => {
  const s = spec(`version: 1
name: chain
tasks:
  extract:
    image: busybox
    command: [sh, -c, 'echo "extracting"; echo "rows=42" > "$POD_DAG_OUTPUT"; echo "table=events" >> "$POD_DAG_OUTPUT"']
  load:
    needs: [extract]
    if: tasks.extract.outputs.rows == '42'
    image: busybox
    command: [sh, -c, 'echo "loading $1 rows into $2"', sh, '{{ tasks.extract.outputs.rows }}', '{{ tasks.extract.outputs.table }}']
  never:
    needs: [extract]
    if: tasks.extract.outputs.rows == '0'
    image: sandbox/succeed
`);
  const r = await run(cluster, s);
  expect(r.state.result).toBe('success');
  expect(results(r.state)).toEqual({ extract: 'succeeded', load: 'succeeded', never: 'skipped' });
  expect(r.state.tasks[0]!.outputs).toEqual({ rows: '42', table: 'events' });
  expect(r.out.lines).toContain('[extract] extracting');
  expect(r.out.lines).toContain('[load] loading 42 rows into events');
  // The task's last log line comes before its result line.
  expect(r.out.lines.indexOf('[load] loading 42 rows into events')).toBeLessThan(r.out.lines.findIndex((l) => l.startsWith('[load] succeeded')));
  expect(Object.values(startsPerPod(r))).toEqual([1, 1]);
});

test('failed: a non-zero exit is retried per the policy, then the task fails with the exit code', async () => {
  const s = spec(`version: 1
name: exit3
tasks:
  migrate-data:
    image: sandbox/exit:3
    retries: {limit: 2, delay: 10ms, backoff: 2}
`);
  const r = await run(cluster, s);
  expect(r.state.result).toBe('failure');
  expect(attempts(r.state, 'migrate-data')).toEqual(['failed:Error', 'failed:Error', 'failed:Error']);
  expect(r.state.tasks[0]!.attempts.map((a) => a.outcome?.exitCode)).toEqual([3, 3, 3]);
  expect(r.out.lines).toContain('migrate-data attempt 1 failed: exit code 3; retrying in 10ms (attempt 2 of 3)');
  expect(r.out.lines).toContain('migrate-data attempt 2 failed: exit code 3; retrying in 20ms (attempt 3 of 3)');
  expect(Object.values(startsPerPod(r))).toEqual([1, 1, 1]);
});

test('failed: OOMKilled shows the reason', async () => {
  const s = spec(`version: 1
name: oom
tasks:
  train:
    image: sandbox/oomkilled
    retries: {limit: 0}
`);
  const r = await run(cluster, s);
  expect(attempts(r.state, 'train')).toEqual(['failed:OOMKilled']);
  expect(r.state.tasks[0]!.attempts[0]!.outcome!.message).toMatch(/OOMKilled/);
  expect(r.out.lines.some((l) => /train attempt 1 failed: OOMKilled/.test(l))).toBe(true);
  expect(Object.values(startsPerPod(r))).toEqual([1]);
});

test('infrastructure: an evicted pod is retried on the infrastructure budget, and the task fails when it runs out', async () => {
  const s = spec(`version: 1
name: evict
tasks:
  crunch:
    image: sandbox/evicted
    retries: {limit: 0, delay: 10ms, infrastructure: 1}
`);
  const r = await run(cluster, s);
  expect(r.state.result).toBe('failure');
  expect(attempts(r.state, 'crunch')).toEqual(['infrastructure:Evicted', 'infrastructure:Evicted']);
  expect(Object.values(startsPerPod(r))).toEqual([1, 1]);
});

test('configuration: an image that cannot be pulled fails fast with the kubelet message, not retried', async () => {
  const s = spec(`version: 1
name: pull
tasks:
  fetch:
    image: sandbox/image-pull-error
    retries: {limit: 3, delay: 10ms}
`);
  const r = await run(cluster, s);
  expect(attempts(r.state, 'fetch')).toEqual(['configuration:ErrImagePull']);
  expect(r.state.tasks[0]!.attempts[0]!.outcome!.message).toMatch(/failed to pull and unpack image/);
  expect(Object.values(startsPerPod(r))).toEqual([0]);
  // The pod that could never run is gone: it must not start later untracked.
  await expect.poll(() => cluster.sandbox.list('pods', 'default').filter((p) => p.metadata.name === r.out.created[0]!.pod).length).toBe(0);
});

test('configuration: a missing secret (CreateContainerConfigError) fails fast', async () => {
  const s = spec(`version: 1
name: nosecret
tasks:
  load:
    image: sandbox/succeed
    env:
      PASSWORD: {secret: does-not-exist, key: password}
`);
  const r = await run(cluster, s);
  expect(attempts(r.state, 'load')).toEqual(['configuration:CreateContainerConfigError']);
  expect(r.state.tasks[0]!.attempts[0]!.outcome!.message).toMatch(/does-not-exist/);
  expect(Object.values(startsPerPod(r))).toEqual([0]);
});

test('configuration: a command that is not in the image fails fast, and the runtime\'s words reach the log, the annotation and the summary', async () => {
  const s = spec(`version: 1
name: noexec
tasks:
  create-db:
    image: busybox
    command: [clickhouse-client-does-not-exist, --query, 'CREATE DATABASE x']
    retries: {limit: 2, delay: 3m}
`);
  const r = await run(cluster, s);
  expect(attempts(r.state, 'create-db')).toEqual(['configuration:StartError']);
  const cause = 'exec: "clickhouse-client-does-not-exist": executable file not found in $PATH';
  const outcome = r.state.tasks[0]!.attempts[0]!.outcome!;
  expect(outcome.message).toContain(cause);
  expect(outcome.exitCode).toBe(128);
  // Not retried: the three-minute delay would be lost on a typo.
  expect(r.out.lines.find((l) => l.startsWith('create-db attempt 1'))).toMatch(/failed on configuration: .*executable file not found in \$PATH.*; configuration errors are not retried/);
  const annotation = runAnnotations(s, r.state)[0]!;
  expect(annotation.title).toBe('Task create-db failed: configuration: StartError, exit 128');
  expect(annotation.message).toContain(cause);
  const summary = renderRunSummary(info(s), r.state, { 'create-db': [] }, { logTailLines: 50 });
  // A runtime's message is shown as written (a code block), where the runner's masks find what it quotes.
  expect(summary).toContain(cause);
  expect(summary).toContain('the container never started');
});

test('timeout: unschedulable past startTimeout quotes the scheduler', async () => {
  const s = spec(`version: 1
name: unsched
tasks:
  big:
    image: sandbox/succeed
    resources: {requests: {cpu: "64"}}
    startTimeout: 1s
`);
  const r = await run(cluster, s);
  expect(attempts(r.state, 'big')).toEqual(['timeout:Unschedulable']);
  expect(r.state.tasks[0]!.attempts[0]!.outcome!.message).toMatch(/Insufficient cpu/);
  expect(Object.values(startsPerPod(r))).toEqual([0]);
  // While it waited, the live log said why, from the first second; "created", never "started".
  const pod = r.out.created[0]!.pod;
  const mine = r.out.lines.filter((l) => l.startsWith('[big]') || l.startsWith('big '));
  expect(mine[0]).toBe(`[big] created pod ${pod}`);
  expect(mine[1]).toMatch(/^\[big\] waiting for a node: 0\/1 nodes are available: 1 Insufficient cpu/);
  expect(mine[2]).toMatch(/^big attempt 1 timed out: Unschedulable: not started within the start timeout \(1s\): 0\/1 nodes are available: 1 Insufficient cpu/);
  expect(mine).toHaveLength(3);
  // The summary's row of the task quotes the last reason.
  const summary = renderRunSummary(info(s), r.state, {}, { logTailLines: 50 });
  expect(summary).toMatch(/\| \[big\]\(.*\) \| ❌ failed \| 1 \|.*\| timeout: Unschedulable — `not started within the start timeout \(1s\): 0\/1 nodes are available: 1 Insufficient cpu/);
});

test('a pod that starts at once prints "created", then "started on <node>", and no waiting line', async () => {
  const s = spec(`version: 1
name: quick
tasks:
  hello:
    image: busybox
    command: [sh, -c, 'echo hi']
`);
  const r = await run(cluster, s);
  const mine = r.out.lines.filter((l) => l.startsWith('[hello]'));
  expect(mine).toEqual([`[hello] created pod ${r.out.created[0]!.pod}`, '[hello] started on node-a', '[hello] hi', expect.stringMatching(/^\[hello\] succeeded in /)]);
});

test('timeout: a task running past its timeout ends with DeadlineExceeded', async () => {
  const s = spec(`version: 1
name: deadline
tasks:
  slow:
    image: sandbox/sleep:60
    timeout: 1s
`);
  const r = await run(cluster, s);
  expect(attempts(r.state, 'slow')).toEqual(['timeout:DeadlineExceeded']);
  expect(Object.values(startsPerPod(r))).toEqual([1]);
});

test('infrastructure: a pod deleted by someone else is retried, and the retry runs', async () => {
  // Attempt 1 leaves a marker and sleeps; attempt 2 sees the marker and succeeds.
  const marker = join(mkdtempSync(join(tmpdir(), 'pod-dag-')), 'attempt-1-ran');
  const s = spec(`version: 1
name: deleted
tasks:
  victim:
    image: busybox
    command: [sh, -c, 'if [ -e "$0" ]; then echo second; exit 0; fi; touch "$0"; echo first; sleep 60', '${marker}']
    retries: {delay: 10ms}
`);
  const running = run(cluster, s);
  const isRunning = (): string | null => {
    const p = cluster.sandbox.list('pods', 'default').find((x) => x.metadata.labels?.['pod-dag.io/dag'] === 'deleted' && x.metadata.labels?.['pod-dag.io/task-attempt'] === '1');
    const st = p?.status as { containerStatuses?: { state?: { running?: unknown } }[] } | undefined;
    return p && st?.containerStatuses?.[0]?.state?.running ? p.metadata.name : null;
  };
  // Running is not enough: the shell may not have written its marker yet, and attempt 2 would
  // then sleep too (the test's race, not the engine's).
  await until(() => isRunning() !== null && existsSync(marker), 'attempt 1 running, its marker written');
  expect(cluster.sandbox.deletePod(isRunning()!, 'default', { gracePeriodSeconds: 0 })).toBe(true);
  const r = await running;
  expect(r.state.result).toBe('success');
  expect(attempts(r.state, 'victim')).toEqual(['infrastructure:Deleted', 'succeeded:Completed']);
  expect(Object.values(startsPerPod(r))).toEqual([1, 1]);
  expect(r.out.lines).toContain('[victim #2] second');
});

test('infrastructure: a pod deleted by someone else whose task traps SIGTERM and exits 1 is no task failure', async () => {
  const marker = join(mkdtempSync(join(tmpdir(), 'pod-dag-')), 'trap-set');
  const s = spec(`version: 1
name: trapped
tasks:
  victim:
    image: busybox
    command: [sh, -c, 'trap "echo stopping; exit 1" TERM; touch "$0"; while :; do sleep 0.05; done', '${marker}']
    retries: {limit: 2, delay: 10ms, infrastructure: 0}
`);
  const running = run(cluster, s);
  const pod = (): string | undefined => cluster.sandbox.list('pods', 'default').find((x) => x.metadata.labels?.['pod-dag.io/dag'] === 'trapped')?.metadata.name;
  // The trap is set once the marker exists (the shell sets it first).
  await until(() => pod() !== undefined && existsSync(marker), 'the task running, its trap set');
  expect(cluster.sandbox.deletePod(pod()!, 'default', { gracePeriodSeconds: 5 })).toBe(true);
  const r = await running;
  // One attempt (no infrastructure retries): not a "failed" one that `limit` would retry. (The
  // watch shows the deletion asked for before the container's end; when it shows only the end,
  // classifyPod reads the deletion from the pod's metadata: test/kube/classify.test.ts.)
  expect(attempts(r.state, 'victim')).toEqual(['infrastructure:Deleted']);
  expect(r.state.tasks[0]!.attempts[0]!.outcome?.message).toMatch(/deleted by someone else/);
  expect(r.state.result).toBe('failure');
});
