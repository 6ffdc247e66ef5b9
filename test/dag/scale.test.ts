/**
 * The scheduler's cost must not grow with the number of finished tasks. Work is counted by the
 * scheduler's own instrumentation (`stats().work`: heap moves, needs and dependants visited,
 * tasks evaluated), never by timing.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { Decision } from '../../src/dag/types.ts';
import type { DagSpec } from '../../src/spec/types.ts';
import { dag, finished, started, task } from './builders.ts';

//        m0
//      /    \
//  a  -- m1 -- z
//      \ ..  /
//       m(n-1)
function fanOutFanIn(n: number): DagSpec {
  const middles = Array.from({ length: n }, (_, i) => task(`m${i}`, { needs: ['a'] }));
  return dag([task('a'), ...middles, task('z', { needs: middles.map((m) => m.id) })]);
}

//  t0 -- t1 -- t2 -- … -- t(n-1)
function longChain(n: number): DagSpec {
  return dag(Array.from({ length: n }, (_, i) => task(`t${i}`, { needs: i === 0 ? [] : [`t${i - 1}`] })));
}

interface Trace {
  scheduler: Scheduler;
  /** Work done by each event, in order. */
  workPerEvent: number[];
  decisions: Decision[];
  /** The most attempts started and not yet finished at any time. */
  peakRunning: number;
}

/** Plays a driver that runs every started attempt to success, oldest first. */
function runToEnd(spec: DagSpec, maxParallel: number): Trace {
  const s = new Scheduler(spec, { now: 0, maxParallel, params: {} });
  const decisions: Decision[] = [];
  const workPerEvent: number[] = [];
  const running: { task: string; attempt: number }[] = [];
  const take = (ds: Decision[]) => {
    decisions.push(...ds);
    for (const d of ds) if (d.type === 'start') running.push({ task: d.task, attempt: d.attempt });
  };
  take(s.start());
  let clock = 0;
  let peakRunning = running.length;
  for (let head = 0; head < running.length; head++) {
    const { task: id, attempt } = running[head]!;
    clock++;
    take(s.handle(started(id, attempt, clock)));
    const before = s.stats().work;
    take(s.handle(finished(id, attempt, clock)));
    workPerEvent.push(s.stats().work - before);
    peakRunning = Math.max(peakRunning, running.length - head - 1);
  }
  return { scheduler: s, workPerEvent, decisions, peakRunning };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('Scheduler at scale', () => {
  it('fan-out/fan-in of 5,000 tasks completes with every task succeeded', () => {
    const { scheduler, decisions, peakRunning } = runToEnd(fanOutFanIn(5000), 50);
    expect(scheduler.isDone()).toBe(true);
    expect(decisions.filter((d) => d.type === 'start')).toHaveLength(5002);
    expect(decisions.at(-1)).toEqual({ type: 'done', result: 'success' });
    const state = scheduler.state();
    expect(state.tasks.every((t) => t.result === 'succeeded' && t.attempts.length === 1)).toBe(true);
    expect(peakRunning).toBe(50);
    // The first 50 middles start first, in spec order.
    expect(decisions.filter((d) => d.type === 'start').slice(1, 51).map((d) => (d as { task: string }).task)).toEqual(
      Array.from({ length: 50 }, (_, i) => `m${i}`),
    );
  });

  it('the work of finishing a task does not grow with the number already finished', () => {
    const n = 5000;
    const { workPerEvent } = runToEnd(fanOutFanIn(n), 50);
    // Events 1..n finish the middle tasks (event 0 finishes a; the one that completes the
    // fan-in visits z's n needs once, which is O(edges), not O(finished) per event).
    const middles = workPerEvent.slice(1, n);
    const early = sum(middles.slice(0, 1000));
    const late = sum(middles.slice(-1000));
    expect(late).toBeLessThanOrEqual(early);
    // Each finish: one dependant visited, one heap pop (≤ log2(5000) ≈ 13 moves), one start.
    expect(Math.max(...middles)).toBeLessThanOrEqual(20);
  });

  it('the average work per decision stays flat from 500 to 5,000 tasks', () => {
    const perDecision = (n: number) => {
      const { scheduler } = runToEnd(fanOutFanIn(n), 50);
      const stats = scheduler.stats();
      return stats.work / stats.decisions;
    };
    const small = perDecision(500);
    const large = perDecision(5000);
    // A heap adds log2(10) ≈ 3.3 moves at most; anything that scanned finished tasks would be 10x.
    expect(large).toBeLessThan(small + 5);
    expect(large).toBeLessThan(30);
  });

  it('a chain of 5,000 tasks costs the same small constant per event from first to last', () => {
    const { scheduler, workPerEvent } = runToEnd(longChain(5000), 0);
    expect(scheduler.state().result).toBe('success');
    expect(Math.max(...workPerEvent)).toBeLessThanOrEqual(6);
  });

  it('a signal cancel of 5,000 waiting tasks visits each once', () => {
    const s = new Scheduler(fanOutFanIn(5000), { now: 0, maxParallel: 10, params: {} });
    s.start();
    s.handle(finished('a', 1, 1));
    const before = s.stats().work;
    const out = s.handle({ type: 'cancel', at: 2, reason: 'signal' });
    expect(out[0]).toMatchObject({ type: 'cancel', reason: 'signal' });
    expect(out.filter((d) => d.type === 'skip')).toHaveLength(5000 - 10 + 1);
    // Each unfinished task: visited once, finished once (its one dependant told); z: 1 visit.
    expect(s.stats().work - before).toBeLessThanOrEqual(3 * 5000 + 50);
  });
});
