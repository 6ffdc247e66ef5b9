/**
 * Matrix instances, sensors and the run context through the engine, against the in-memory PodApi:
 * the pods it creates (names, labels, rendered values), what it deletes, what the live log says.
 * Time is virtual (a clock whose timers fire as soon as the event loop is free, moving its time
 * to theirs), so a sensor's five-minute interval costs nothing.
 */
import { expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../../src/common/clock.ts';
import { dryRunDag, runDag, type RunDagOptions } from '../../src/engine/index.ts';
import { runContext, runDates } from '../../src/dag/run-dates.ts';
import { LABELS } from '../../src/kube/pod.ts';
import { expandMatrix } from '../../src/spec/matrix.ts';
import { FakePods, scriptedKubelet } from '../helpers/fake-pods.ts';
import { capture, context, engineScope, results, spec } from './helpers.ts';

/** The run scope in pod names (`context` is job 'sync'). */
const S = engineScope()!;

/** Virtual time: `setTimer` runs its function once the event loop is free, with the clock moved to `at`. */
function virtualClock(start: number): Clock & { now(): number } {
  let t = start;
  return {
    now: () => t,
    setTimer(at, fn) {
      let cancelled = false;
      setImmediate(() => {
        if (cancelled) return;
        t = Math.max(t, at);
        fn();
      });
      return () => {
        cancelled = true;
      };
    },
  };
}

const START = Date.parse('2026-12-03T02:07:00Z');

async function go(fake: FakePods, s: ReturnType<typeof spec>, extra: Partial<RunDagOptions> = {}) {
  const { reporter, out } = capture();
  const state = await runDag({
    spec: s,
    params: {},
    mode: 'run',
    namespace: 'default',
    maxParallel: 0,
    keepPods: 'on-failure',
    pods: fake,
    context: context('4242'),
    reporter,
    imagePullGraceMs: 0,
    clock: virtualClock(START),
    ...extra,
  });
  return { state, out };
}

const label = (pod: V1Pod, key: string): string | undefined => pod.metadata?.labels?.[key];
const args = (pod: V1Pod): string => (pod.spec?.containers?.[0]?.args ?? []).join(' ');

const fanOut = spec(`version: 1
name: fan
tasks:
  plan:
    image: busybox
  shard:
    needs: [plan]
    image: busybox
    args: ["part={{ matrix.part }}", "of={{ tasks.plan.outputs.n }}", "day={{ run.date }}"]
    strategy:
      matrix: "{{ fromJSON(tasks.plan.outputs.parts) }}"
  merge:
    needs: [shard]
    image: busybox
    args: ["{{ join(tasks.shard.outputs.rows, '+') }}", "{{ tasks.shard.result }}"]
`);

test('a dynamic matrix: one pod per instance, named and labelled by instance, values rendered; merge reads every instance', async () => {
  const seen: V1Pod[] = [];
  const fake = new FakePods(
    scriptedKubelet((pod): { lines?: string[]; outputs?: Record<string, string> } => {
      seen.push(pod);
      const task = label(pod, LABELS.task)!;
      if (task === 'plan') return { outputs: { parts: '{"part":[0,1,2]}', n: '3' } };
      if (task.startsWith('shard.')) return { outputs: { rows: String(10 + Number(/part=(\d)/.exec(args(pod))![1])) } };
      return { lines: [args(pod)] };
    }),
  );
  const run = runContext(runDates({ start: START, schedule: '0 2 * * *', logicalDate: null }));
  const { state, out } = await go(fake, fanOut, { run });
  expect(state.result).toBe('success');
  expect(results(state)).toEqual({ plan: 'succeeded', shard: 'succeeded', merge: 'succeeded' });

  const ids = (expandMatrix('shard', { part: [0, 1, 2] }) as { ok: true; instances: { id: string }[] }).instances.map((i) => i.id);
  const shards = seen.filter((p) => label(p, LABELS.matrixTask) === 'shard');
  expect(shards.map((p) => label(p, LABELS.task))).toEqual(ids);
  expect(shards.map(args)).toEqual(['part=0 of=3 day=2026-12-03', 'part=1 of=3 day=2026-12-03', 'part=2 of=3 day=2026-12-03']);
  for (const p of shards) {
    expect(p.metadata!.name!.length).toBeLessThanOrEqual(63);
    expect(p.metadata!.name).toMatch(new RegExp(`^fan-4242-${S}-1-shard-0-[0-9a-f]{8}-1$|^fan-4242-${S}-1-shard-[12]-[0-9a-f]{8}-1$`));
  }
  expect(out.lines).toContain(`shard: 3 matrix instances: ${ids.join(', ')}`);
  expect(out.logs.find((l) => l.task === 'merge')?.text).toBe('10+11+12 success');
  expect(state.tasks.find((t) => t.id === 'shard')!.instances!.map((i) => i.result)).toEqual(['succeeded', 'succeeded', 'succeeded']);
});

const staticMatrix = spec(`version: 1
name: grid
tasks:
  test:
    image: "busybox:{{ matrix.v }}"
    args: ["{{ matrix.os }}"]
    strategy:
      matrix: {v: ["1.36"], os: [linux, arm, win]}
      max-parallel: 1
`);

test('fail-fast: the first instance that fails stops the rest, and its pod is kept (on-failure); the result is failure', async () => {
  const fake = new FakePods(scriptedKubelet((pod) => (args(pod) === 'arm' ? { lines: ['boom'], exitCode: 3 } : { lines: ['ok'] })));
  const { state, out } = await go(fake, staticMatrix);
  expect(state.result).toBe('failure');
  const instances = state.tasks[0]!.instances!;
  expect(instances.map((i) => [i.matrix!['os'], i.result])).toEqual([
    ['linux', 'succeeded'],
    ['arm', 'failed'],
    ['win', 'cancelled'],
  ]);
  // max-parallel 1: one at a time, and win never got a pod.
  expect(fake.calls.filter((c) => c.startsWith('create ')).length).toBe(2);
  expect(out.lines.some((l) => l.includes('skipped: cancelled because instance') && l.includes('(fail-fast)'))).toBe(true);
  expect(state.tasks[0]!.reason).toBe('1 of 3 instances failed');
});

const sensor = spec(`version: 1
name: wait
tasks:
  wait-for-data:
    image: busybox
    args: ["s3://lake/dt={{ run.date }}/_SUCCESS"]
    sensor: {interval: 5m, timeout: 1h}
  spark:
    needs: [wait-for-data]
    image: busybox
`);

test('a sensor: a new pod per poke, none kept between pokes (even with keep-pods on-failure), pokes counted and shown on one line each', async () => {
  let pokes = 0;
  const fake = new FakePods(
    scriptedKubelet((pod) => {
      if (label(pod, LABELS.task) !== 'wait-for-data') return {};
      pokes++;
      return pokes < 3 ? { lines: ['not there yet'], exitCode: 75 } : { lines: ['found it'] };
    }),
  );
  const run = runContext(runDates({ start: START, schedule: null, logicalDate: '2026-12-02' }));
  const { state, out } = await go(fake, sensor, { run });
  expect(state.result).toBe('success');
  const task = state.tasks[0]!;
  expect(task).toMatchObject({ result: 'succeeded', pokes: 3 });
  expect(task.attempts).toHaveLength(1);
  const creates = fake.calls.filter((c) => c.startsWith('create ')).map((c) => c.slice(7));
  expect(creates.slice(0, 3)).toEqual([`wait-4242-${S}-1-wait-for-data-1-p1`, `wait-4242-${S}-1-wait-for-data-1-p2`, `wait-4242-${S}-1-wait-for-data-1-p3`]);
  // Every poke's pod was deleted: a "not yet" is not a failure to keep.
  for (const p of creates.slice(0, 3)) expect(fake.calls).toContain(`delete ${p}`);
  expect(out.lines.filter((l) => l.includes('not yet (poke'))).toEqual(['[wait-for-data] not yet (poke 1); next poke at 02:12:00Z', '[wait-for-data] not yet (poke 2); next poke at 02:17:00Z']);
  expect(out.lines.filter((l) => l.includes('created pod')).length).toBe(2); // poke 1 and spark
  expect(out.logs.filter((l) => l.task === 'wait-for-data').map((l) => l.text)).toEqual(['not there yet', 'not there yet', 'found it']);
  expect(results(state)).toEqual({ 'wait-for-data': 'succeeded', spark: 'succeeded' });
});

test('a sensor that never sees its condition times out: class timeout, dependants skipped', async () => {
  const fake = new FakePods(scriptedKubelet((pod) => (label(pod, LABELS.task) === 'wait-for-data' ? { exitCode: 75 } : {})));
  // No run context given: the engine takes the start of the run as the logical date.
  const { state, out } = await go(fake, sensor);
  expect(results(state)).toEqual({ 'wait-for-data': 'failed', spark: 'skipped' });
  const task = state.tasks[0]!;
  // 02:07 + 0, 5, …, 55, and the last poke at the deadline (1h): 13 pokes.
  expect(task.pokes).toBe(13);
  expect(task.attempts[0]!.outcome).toMatchObject({ class: 'timeout', reason: 'SensorTimeout' });
  expect(out.lines).toContain("wait-for-data attempt 1 timed out: SensorTimeout: its condition did not hold within the sensor's timeout of 1h (13 pokes); its condition did not hold within the sensor's timeout of 1h (13 pokes)");
  expect(fake.calls.filter((c) => c.startsWith('create ')).at(0)).toBe(`create wait-4242-${S}-1-wait-for-data-1-p1`);
});

test('dry-run checks a matrix task with its first combination and a sensor with its first poke', async () => {
  const fake = new FakePods();
  const created: V1Pod[] = [];
  fake.refuse = (pod) => (created.push(pod), null);
  const { reporter } = capture();
  const common = { params: {}, namespace: 'default', pods: fake, context: context('4242'), reporter, clock: virtualClock(START) };
  const grid = await dryRunDag({ ...common, spec: staticMatrix });
  const first = (expandMatrix('test', { v: ['1.36'], os: ['linux', 'arm', 'win'] }) as { ok: true; instances: { id: string }[] }).instances[0]!.id;
  expect(grid.verdicts.map((v) => [v.task, v.accepted])).toEqual([['test', true]]);
  expect(label(created[0]!, LABELS.task)).toBe(first);
  expect([created[0]!.spec!.containers[0]!.image, args(created[0]!)]).toEqual(['busybox:1.36', 'linux']);
  const waiting = await dryRunDag({ ...common, spec: sensor, run: runContext(runDates({ start: START, schedule: null, logicalDate: '2026-12-02' })) });
  expect(waiting.verdicts[0]!.pod).toBe(`wait-4242-${S}-1-wait-for-data-1-p1`);
  expect(args(created[1]!)).toBe('s3://lake/dt=2026-12-02/_SUCCESS');
});
