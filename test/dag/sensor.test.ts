/**
 * The scheduler with sensors: a poke per pod every interval until exit 0 or the timeout (from the
 * first poke); 75 means "not yet"; other codes are failures retried by `retries`; pokes are not
 * retries and hold no slot between them; on timeout, class `timeout` or `skipped`.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { Decision, SchedulerEvent, SchedulerOptions } from '../../src/dag/types.ts';
import type { SensorSpec, TaskSpec } from '../../src/spec/types.ts';
import { cancel, dag, done, finished, giveUp, outcome, retry, skip, start, task, tick, type TaskOptions } from './builders.ts';

const MIN = 60_000;

function sensorTask(id: string, sensor: Partial<SensorSpec> = {}, options: TaskOptions = {}): TaskSpec {
  return { ...task(id, options), sensor: { intervalMs: 5 * MIN, timeoutMs: 30 * MIN, onTimeout: 'fail', notYetExitCodes: [75], ...sensor } };
}

function scheduler(tasks: TaskSpec[], options: Partial<SchedulerOptions> = {}): Scheduler {
  return new Scheduler(dag(tasks), { now: 0, maxParallel: 0, params: {}, ...options });
}

const poked = (id: string, attempt: number, poke: number, at: number): SchedulerEvent => ({ type: 'started', at, task: id, attempt, poke, pod: `${id}-${attempt}-p${poke}` });
const pokeEnded = (id: string, attempt: number, poke: number, at: number, exitCode: number): SchedulerEvent => ({
  type: 'finished',
  at,
  task: id,
  attempt,
  poke,
  ...outcome(exitCode === 0 ? 'succeeded' : 'failed', { exitCode }),
});
const startPoke = (id: string, attempt: number, poke: number): Decision => ({ type: 'start', task: id, attempt, poke });
const pokeLater = (id: string, attempt: number, poke: number, at: number): Decision => ({ type: 'poke', task: id, attempt, poke, at });

//  wait-for-data -- spark
describe('a sensor', () => {
  it('pokes every interval until the condition holds, then its dependants run; pokes are counted, not retried', () => {
    const s = scheduler([sensorTask('wait'), task('spark', { needs: ['wait'] })]);
    expect(s.start()).toEqual([startPoke('wait', 1, 1)]);
    s.handle(poked('wait', 1, 1, 0));
    expect(s.handle(pokeEnded('wait', 1, 1, 1000, 75))).toEqual([pokeLater('wait', 1, 1, 1000 + 5 * MIN)]);
    expect(s.nextWakeAt()).toBe(1000 + 5 * MIN);
    expect(s.handle(tick(5 * MIN))).toEqual([]);
    expect(s.handle(tick(1000 + 5 * MIN))).toEqual([startPoke('wait', 1, 2)]);
    s.handle(poked('wait', 1, 2, 1000 + 5 * MIN));
    expect(s.handle(pokeEnded('wait', 1, 2, 2000 + 5 * MIN, 0))).toEqual([start('spark')]);
    const state = s.taskState('wait');
    expect(state).toMatchObject({ result: 'succeeded', pokes: 2 });
    expect(state.attempts).toHaveLength(1);
    expect(state.attempts[0]).toMatchObject({ attempt: 1, pokes: 2, pod: `wait-1-p2`, startedAt: 0, finishedAt: 2000 + 5 * MIN, outcome: { class: 'succeeded' } });
  });

  it('holds no slot between pokes: another task runs meanwhile', () => {
    const s = scheduler([sensorTask('wait'), task('other')], { maxParallel: 1 });
    expect(s.start()).toEqual([startPoke('wait', 1, 1)]);
    s.handle(poked('wait', 1, 1, 0));
    expect(s.handle(pokeEnded('wait', 1, 1, 10, 75))).toEqual([pokeLater('wait', 1, 1, 10 + 5 * MIN), start('other')]);
  });

  it('times out with class timeout, counted from the first poke; the last poke is at the deadline', () => {
    const s = scheduler([sensorTask('wait', { intervalMs: 20 * MIN }), task('spark', { needs: ['wait'] })]);
    s.start();
    s.handle(poked('wait', 1, 1, 0));
    expect(s.handle(pokeEnded('wait', 1, 1, MIN, 75))).toEqual([pokeLater('wait', 1, 1, 21 * MIN)]);
    s.handle(tick(21 * MIN));
    s.handle(poked('wait', 1, 2, 21 * MIN));
    // 21 + 20 > 30: the next poke is at the deadline itself.
    expect(s.handle(pokeEnded('wait', 1, 2, 22 * MIN, 75))).toEqual([pokeLater('wait', 1, 2, 30 * MIN)]);
    s.handle(tick(30 * MIN));
    s.handle(poked('wait', 1, 3, 30 * MIN));
    const words = "its condition did not hold within the sensor's timeout of 30m (3 pokes)";
    const timedOut = outcome('failed', { exitCode: 75, class: 'timeout', reason: 'SensorTimeout', message: words });
    expect(s.handle(pokeEnded('wait', 1, 3, 30 * MIN + 500, 75))).toEqual([giveUp('wait', 1, words, timedOut), skip('spark', 'needs "wait", which failed'), done('failure')]);
    expect(s.taskState('wait').attempts[0]!.outcome).toMatchObject({ class: 'timeout', reason: 'SensorTimeout' });
  });

  it('is skipped on timeout with onTimeout: skip, and its dependants are skipped as GitHub skips', () => {
    const s = scheduler([sensorTask('wait', { timeoutMs: 0 }), task('spark', { needs: ['wait'] })]);
    s.start();
    s.handle(poked('wait', 1, 1, 0));
    const reason = "its condition did not hold within the sensor's timeout of 0ms (1 poke); onTimeout: skip";
    expect(s.handle({ ...pokeEnded('wait', 1, 1, 10, 75) })).toEqual([giveUp('wait', 1, "its condition did not hold within the sensor's timeout of 0ms (1 poke)", outcome('failed', { exitCode: 75, class: 'timeout', reason: 'SensorTimeout', message: "its condition did not hold within the sensor's timeout of 0ms (1 poke)" })), skip('spark', 'needs "wait", which failed'), done('failure')]);

    const t = scheduler([sensorTask('wait', { timeoutMs: 0, onTimeout: 'skip' }), task('spark', { needs: ['wait'] })]);
    t.start();
    t.handle(poked('wait', 1, 1, 0));
    expect(t.handle(pokeEnded('wait', 1, 1, 10, 75))).toEqual([skip('wait', reason), skip('spark', 'needs "wait", which was skipped'), done('success')]);
    expect(t.taskState('wait')).toMatchObject({ result: 'skipped', reason });
  });

  it('treats other exit codes as failures, retried by retries: a new attempt whose pokes start again at 1', () => {
    const s = scheduler([sensorTask('wait', { notYetExitCodes: [3] }, { retries: { limit: 1, delayMs: 1000 } })]);
    s.start();
    s.handle(poked('wait', 1, 1, 0));
    expect(s.handle(pokeEnded('wait', 1, 1, 10, 3))).toEqual([pokeLater('wait', 1, 1, 10 + 5 * MIN)]);
    s.handle(tick(10 + 5 * MIN));
    s.handle(poked('wait', 1, 2, 10 + 5 * MIN));
    const failure = outcome('failed', { exitCode: 75 });
    expect(s.handle(pokeEnded('wait', 1, 2, 20 + 5 * MIN, 75))).toEqual([retry('wait', 1, 2, 1020 + 5 * MIN, 1000, failure)]);
    s.handle(tick(1020 + 5 * MIN));
    expect(s.taskState('wait').attempts.map((a) => a.pokes)).toEqual([2, 1]);
    s.handle(poked('wait', 2, 1, 1020 + 5 * MIN));
    expect(s.handle(pokeEnded('wait', 2, 1, 1030 + 5 * MIN, 0))).toEqual([done('success')]);
    expect(s.taskState('wait').pokes).toBe(3);
  });

  it('is cancelled while it waits for its next poke, closing its open attempt', () => {
    const s = scheduler([sensorTask('wait')]);
    s.start();
    s.handle(poked('wait', 1, 1, 0));
    s.handle(pokeEnded('wait', 1, 1, 10, 75));
    expect(s.handle(cancel('signal', 20))).toEqual([done('cancelled')]);
    expect(s.taskState('wait')).toMatchObject({ result: 'cancelled', reason: 'the run was cancelled while it waited for its next poke' });
    expect(s.taskState('wait').attempts[0]!.outcome).toMatchObject({ class: 'cancelled' });
    expect(s.nextWakeAt()).toBeNull();
  });

  it('rejects a poke number that is not the running one', () => {
    const s = scheduler([sensorTask('wait')]);
    s.start();
    expect(() => s.handle(poked('wait', 1, 2, 0))).toThrow(/poke 2 is not the running poke \(1\)/);
    s.handle(poked('wait', 1, 1, 0));
    expect(() => s.handle(finished('wait', 1, 5, 'succeeded', {}))).not.toThrow();
  });
});
