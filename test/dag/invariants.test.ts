/**
 * Invariants over many generated DAGs and event orders (a seeded generator, so every run of the
 * test plays the same cases): whatever happens, the scheduler keeps its promises.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { Decision, SchedulerEvent } from '../../src/dag/types.ts';
import type { AttemptClass, DagSpec, TaskSpec } from '../../src/spec/types.ts';
import { ALWAYS, CANCELLED, FAILURE, dag, finished, started, task } from './builders.ts';
import { prng } from '../helpers/prng.ts';

/** A random DAG: each task needs up to 3 earlier ones, some with conditions and retries. */
function randomDag(rand: () => number): DagSpec {
  const n = 1 + Math.floor(rand() * 25);
  const tasks: TaskSpec[] = [];
  for (let i = 0; i < n; i++) {
    const needs = new Set<string>();
    for (let k = 0; k < 3 && i > 0; k++) if (rand() < 0.5) needs.add(`t${Math.floor(rand() * i)}`);
    const r = rand();
    const condition = r < 0.1 ? ALWAYS : r < 0.2 ? FAILURE : r < 0.25 ? CANCELLED : null;
    tasks.push(
      task(`t${i}`, {
        needs: [...needs],
        if: condition,
        retries: {
          limit: Math.floor(rand() * 3),
          delayMs: rand() < 0.5 ? 0 : 100,
          backoff: 2,
          maxDelayMs: 350,
          on: rand() < 0.5 ? ['failed'] : ['failed', 'timeout'],
          infrastructure: Math.floor(rand() * 2),
        },
      }),
    );
  }
  return dag(tasks, { timeoutMs: rand() < 0.3 ? 500 + Math.floor(rand() * 1000) : undefined });
}

const CLASSES: AttemptClass[] = ['succeeded', 'succeeded', 'succeeded', 'failed', 'infrastructure', 'configuration', 'timeout'];

/** Plays one run with random outcomes; checks invariants as it goes; returns every decision. */
function play(spec: DagSpec, seed: number, maxParallel: number): Decision[] {
  const rand = prng(seed);
  const s = new Scheduler(spec, { now: 0, maxParallel, params: {} });
  const log: Decision[] = [];
  const running: { task: string; attempt: number; cancelAsked: boolean }[] = [];
  const final = new Set<string>();
  const needsOf = new Map(spec.tasks.map((t) => [t.id, t.needs]));
  const lastAttempt = new Map<string, number>();
  let clock = 0;
  let dones = 0;
  const take = (ds: Decision[]) => {
    for (const d of ds) {
      log.push(d);
      if (d.type === 'start') {
        // A task starts only once all its needs are final, with the next attempt number.
        for (const need of needsOf.get(d.task)!) expect(s.taskState(need).result, `${d.task} needs ${need}`).not.toBeNull();
        expect(d.attempt).toBe((lastAttempt.get(d.task) ?? 0) + 1);
        lastAttempt.set(d.task, d.attempt);
        running.push({ task: d.task, attempt: d.attempt, cancelAsked: false });
      }
      if (d.type === 'cancel') for (const a of d.attempts) running.find((r) => r.task === a.task && r.attempt === a.attempt)!.cancelAsked = true;
      if (d.type === 'done') dones++;
    }
    if (maxParallel > 0) expect(running.length).toBeLessThanOrEqual(maxParallel);
    for (const t of s.state().tasks) if (t.result !== null) final.add(t.id);
  };
  take(s.start());
  for (let step = 0; step < 10_000 && !s.isDone(); step++) {
    clock += Math.floor(rand() * 50);
    let event: SchedulerEvent;
    if (running.length > 0 && rand() < 0.9) {
      const [r] = running.splice(Math.floor(rand() * running.length), 1);
      take(s.handle(started(r!.task, r!.attempt, clock)));
      const cls = r!.cancelAsked && rand() < 0.8 ? 'cancelled' : CLASSES[Math.floor(rand() * CLASSES.length)]!;
      event = finished(r!.task, r!.attempt, clock, cls);
    } else if (rand() < 0.05) {
      event = { type: 'cancel', at: clock, reason: 'signal' };
    } else {
      const wake = s.nextWakeAt();
      // Nothing runs and nothing is due: the run must be done, or something is stuck.
      expect(running.length > 0 || wake !== null, 'the run is stuck: nothing runs and nothing is due').toBe(true);
      event = { type: 'tick', at: Math.max(clock, wake ?? clock) };
    }
    take(s.handle(event));
  }
  expect(s.isDone()).toBe(true);
  expect(dones).toBe(1);
  expect(log.at(-1)!.type).toBe('done');
  expect(final.size).toBe(spec.tasks.length);
  expect(running).toEqual([]);
  const state = s.state();
  expect(state.result).toBe(
    state.cancelled !== null ? 'cancelled' : state.tasks.some((t) => t.result === 'failed' || t.result === 'cancelled') ? 'failure' : 'success',
  );
  // After a signal, nothing starts.
  const signal = log.findIndex((d) => d.type === 'cancel' && d.reason === 'signal');
  if (signal >= 0) expect(log.slice(signal).some((d) => d.type === 'start')).toBe(false);
  return log;
}

describe('Scheduler invariants over generated runs', () => {
  const seeds = Array.from({ length: 300 }, (_, i) => i + 1);
  it('every run ends exactly once, with every task final, within max-parallel, and replays identically', () => {
    for (const seed of seeds) {
      const spec = randomDag(prng(seed * 7919));
      const maxParallel = seed % 4;
      const first = play(spec, seed, maxParallel);
      expect(play(spec, seed, maxParallel), `seed ${seed}`).toEqual(first);
    }
  });
});
