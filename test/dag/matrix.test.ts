/**
 * The scheduler with strategy.matrix: one attempt chain per instance, each retried on its own;
 * dependants wait for every instance; the matrix task's result is GitHub's for a matrix job;
 * max-parallel, fail-fast, a dynamic matrix expanded when its upstream finishes, and outputs of
 * every instance readable downstream.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { Decision, SchedulerOptions } from '../../src/dag/types.ts';
import { expandMatrix } from '../../src/spec/matrix.ts';
import { renderTemplate } from '../../src/spec/template.ts';
import type { MatrixInstance, Strategy, TaskSpec } from '../../src/spec/types.ts';
import { cancelDecision, dag, done, finished, giveUp, retry, skip, start, started, task, type TaskOptions } from './builders.ts';

function instances(id: string, matrix: unknown): MatrixInstance[] {
  const e = expandMatrix(id, matrix);
  if (!e.ok) throw new Error(e.problems[0]!.message);
  return e.instances;
}

/** A task with a matrix written out (`matrix` as in YAML), or a dynamic one (a string). */
function matrixTask(id: string, matrix: unknown, options: TaskOptions & { maxParallel?: number; failFast?: boolean } = {}): TaskSpec {
  const strategy: Strategy = {
    matrix: typeof matrix === 'string' ? { kind: 'dynamic', template: matrix } : { kind: 'static', instances: instances(id, matrix) },
    maxParallel: options.maxParallel ?? 0,
    failFast: options.failFast ?? true,
  };
  return { ...task(id, options), strategy };
}

const ids = (d: Decision[]) => d.map((x) => (x.type === 'expand' ? `expand ${x.task}: ${x.instances.length}` : `${x.type} ${'task' in x ? x.task : ''}`.trim()));

function scheduler(tasks: TaskSpec[], options: Partial<SchedulerOptions> = {}): Scheduler {
  return new Scheduler(dag(tasks), { now: 0, maxParallel: 0, params: {}, ...options });
}

//  build[os × node] -- publish
const [L20, L22, W20, W22] = instances('build', { os: ['linux', 'windows'], node: [20, 22] }).map((i) => i.id) as [string, string, string, string];

describe('a static matrix', () => {
  it('starts one instance per combination, in matrix order; dependants wait for all of them', () => {
    const s = scheduler([matrixTask('build', { os: ['linux', 'windows'], node: [20, 22] }), task('publish', { needs: ['build'] })]);
    expect(s.start()).toEqual([{ type: 'expand', task: 'build', instances: [L20, L22, W20, W22] }, start(L20), start(L22), start(W20), start(W22)]);
    expect(s.unit(W22)).toMatchObject({ group: 'build', matrix: { os: 'windows', node: 22 } });
    for (const id of [L20, L22, W20]) {
      s.handle(started(id, 1, 1));
      expect(s.handle(finished(id, 1, 2))).toEqual([]);
    }
    s.handle(started(W22, 1, 3));
    expect(s.handle(finished(W22, 1, 4))).toEqual([start('publish')]);
    const state = s.taskState('build');
    expect(state.result).toBe('succeeded');
    expect(state.instances!.map((i) => [i.id, i.result, i.matrix])).toEqual([
      [L20, 'succeeded', { os: 'linux', node: 20 }],
      [L22, 'succeeded', { os: 'linux', node: 22 }],
      [W20, 'succeeded', { os: 'windows', node: 20 }],
      [W22, 'succeeded', { os: 'windows', node: 22 }],
    ]);
    // The run's state lists spec tasks; the instances are inside their matrix task.
    expect(s.state().tasks.map((t) => t.id)).toEqual(['build', 'publish']);
  });

  it('retries each instance on its own', () => {
    const s = scheduler([matrixTask('t', { n: [1, 2] }, { retries: { limit: 1, delayMs: 0 } })]);
    const [a, b] = instances('t', { n: [1, 2] }).map((i) => i.id) as [string, string];
    s.start();
    s.handle(started(a, 1, 1));
    expect(s.handle(finished(a, 1, 2, 'failed'))).toEqual([retry(a, 1, 2, 2, 0), start(a, 2)]);
    s.handle(started(b, 1, 3));
    s.handle(finished(b, 1, 4));
    s.handle(started(a, 2, 5));
    expect(s.handle(finished(a, 2, 6))).toEqual([done('success')]);
    expect(s.taskState(a).attempts.map((x) => x.outcome?.class)).toEqual(['failed', 'succeeded']);
    expect(s.taskState(b).attempts).toHaveLength(1);
  });

  it('bounds its running instances by max-parallel (a finished one lets the next start)', () => {
    const s = scheduler([matrixTask('t', { n: [1, 2, 3] }, { maxParallel: 2 })]);
    const [a, b, c] = instances('t', { n: [1, 2, 3] }).map((i) => i.id) as [string, string, string];
    expect(ids(s.start())).toEqual(['expand t: 3', `start ${a}`, `start ${b}`]);
    s.handle(started(a, 1, 1));
    expect(s.handle(finished(a, 1, 2))).toEqual([start(c)]);
  });

  it('with fail-fast, a failed instance cancels the running ones and the rest never start; the result is failure', () => {
    const s = scheduler([matrixTask('t', { n: [1, 2, 3] }, { maxParallel: 2 }), task('after', { needs: ['t'] })]);
    const [a, b, c] = instances('t', { n: [1, 2, 3] }).map((i) => i.id) as [string, string, string];
    s.start();
    s.handle(started(a, 1, 1));
    s.handle(started(b, 1, 1));
    expect(s.handle(finished(a, 1, 2, 'failed'))).toEqual([
      giveUp(a, 1, 'no retries configured (retries.limit is 0)'),
      skip(c, `cancelled because instance "${a}" failed (fail-fast)`),
      cancelDecision('fail-fast', [b, 1]),
    ]);
    expect(s.handle(finished(b, 1, 3, 'cancelled'))).toEqual([skip('after', 'needs "t", which failed'), done('failure')]);
    expect(s.taskState('t')).toMatchObject({ result: 'failed', reason: '1 of 3 instances failed' });
    expect(s.taskState(c).result).toBe('cancelled');
    expect(s.taskState(b).result).toBe('cancelled');
  });

  it('without fail-fast, the others run on; the result is still failure', () => {
    const s = scheduler([matrixTask('t', { n: [1, 2] }, { failFast: false })]);
    const [a, b] = instances('t', { n: [1, 2] }).map((i) => i.id) as [string, string];
    s.start();
    s.handle(started(a, 1, 1));
    expect(s.handle(finished(a, 1, 2, 'failed'))).toEqual([giveUp(a, 1, 'no retries configured (retries.limit is 0)')]);
    s.handle(started(b, 1, 3));
    expect(s.handle(finished(b, 1, 4))).toEqual([done('failure')]);
    expect(s.taskState(b).result).toBe('succeeded');
    expect(s.taskValue('t')!.result).toBe('failure');
  });

  it('judges its if: once, before expanding: a skipped matrix task has no instances', () => {
    const s = scheduler([task('a'), matrixTask('t', { n: [1, 2] }, { needs: ['a'] })]);
    s.start();
    s.handle(started('a', 1, 1));
    expect(s.handle(finished('a', 1, 2, 'failed'))).toEqual([giveUp('a', 1, 'no retries configured (retries.limit is 0)'), skip('t', 'needs "a", which failed'), done('failure')]);
    expect(s.taskState('t').instances).toBeUndefined();
  });

  it('reuses the instances that succeeded in an earlier run attempt and runs only the others', () => {
    const s = scheduler([matrixTask('t', { n: [1, 2] })], { previous: { [instances('t', { n: [1, 2] })[0]!.id]: { outputs: { x: '1' }, runAttempt: 1 } } });
    const [a, b] = instances('t', { n: [1, 2] }).map((i) => i.id) as [string, string];
    expect(s.start()).toEqual([{ type: 'expand', task: 't', instances: [a, b] }, start(b)]);
    expect(s.taskState(a)).toMatchObject({ result: 'succeeded', reusedFrom: { runAttempt: 1 }, outputs: { x: '1' } });
  });

  it('refuses events for the matrix task itself: they name instances', () => {
    const s = scheduler([matrixTask('t', { n: [1] })]);
    s.start();
    expect(() => s.handle(started('t', 1, 1))).toThrow(/it is a matrix task, which runs as its instances/);
  });
});

describe('a dynamic matrix', () => {
  const spec = () => [
    task('plan'),
    matrixTask('shard', '{{ fromJSON(tasks.plan.outputs.shards) }}', { needs: ['plan'] }),
    task('merge', { needs: ['shard'] }),
  ];

  it('is expanded from its upstream output when that task finishes', () => {
    const s = scheduler(spec());
    expect(s.start()).toEqual([start('plan')]);
    s.handle(started('plan', 1, 1));
    const d = s.handle(finished('plan', 1, 2, 'succeeded', { outputs: { shards: '{"part": [0, 1, 2]}' } }));
    const want = instances('shard', { part: [0, 1, 2] }).map((i) => i.id);
    expect(d).toEqual([{ type: 'expand', task: 'shard', instances: want }, ...want.map((id) => start(id))]);
    expect(s.unit(want[2]!).matrix).toEqual({ part: 2 });
  });

  it('fails the task, without running anything, when the output is not a matrix', () => {
    const s = scheduler(spec());
    s.start();
    s.handle(started('plan', 1, 1));
    const d = s.handle(finished('plan', 1, 2, 'succeeded', { outputs: { shards: '[1, 2]' } }));
    const reason =
      'its matrix "{{ fromJSON(tasks.plan.outputs.shards) }}" is not a valid matrix: expected a map of key → list of values (with optional include and exclude), found a list';
    expect(d).toEqual([{ type: 'fail', task: 'shard', reason }, skip('merge', 'needs "shard", which failed'), done('failure')]);
    expect(s.taskState('shard')).toMatchObject({ result: 'failed', reason, attempts: [] });
  });

  it('fails the task when the output is missing or is not JSON', () => {
    for (const outputs of [{}, { shards: 'nope' }] as Record<string, string>[]) {
      const s = scheduler(spec());
      s.start();
      s.handle(started('plan', 1, 1));
      const d = s.handle(finished('plan', 1, 2, 'succeeded', { outputs }));
      expect(d[0]).toMatchObject({ type: 'fail', task: 'shard' });
      expect(s.taskState('shard').reason).toMatch(/could not be computed: /);
    }
  });
});

describe('outputs of a matrix task downstream', () => {
  it('are lists of every instance\'s value, in matrix order (null where one wrote none)', () => {
    const s = scheduler([matrixTask('t', { n: [1, 2, 3] }, { failFast: false }), task('use', { needs: ['t'] })]);
    const [a, b, c] = instances('t', { n: [1, 2, 3] }).map((i) => i.id) as [string, string, string];
    s.start();
    for (const [id, out] of [
      [a, { part: 'p1', rows: '10' }],
      [b, { part: 'p2' }],
      [c, { part: 'p3', rows: '30' }],
    ] as const) {
      s.handle(started(id, 1, 1));
      s.handle(finished(id, 1, 2, 'succeeded', { outputs: out }));
    }
    const value = s.taskValue('t')!;
    expect(value).toEqual({ result: 'success', outputs: { part: ['p1', 'p2', 'p3'], rows: ['10', null, '30'] } });
    // As a downstream template reads them.
    expect(renderTemplate("{{ join(tasks.t.outputs.part, ',') }} {{ toJSON(tasks.t.outputs.rows) }}", { params: {}, outputs: {}, tasks: { t: value } })).toBe(
      'p1,p2,p3 [\n  "10",\n  null,\n  "30"\n]',
    );
  });
});
