/**
 * Scenario tests of the scheduler: each drives it with events and compares every batch of
 * decisions and the final task results. The graph of each scenario is drawn above its builder.
 *
 * Within one batch the order is: retries / give-ups / cancel (from the event), then skips (as
 * tasks become ready), then starts (in spec order), then `done`.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { Decision, RunResult, SchedulerEvent, SchedulerOptions, TaskResult } from '../../src/dag/types.ts';
import type { AttemptClass, DagSpec, RetryPolicy } from '../../src/spec/types.ts';
import type { AttemptOutcome } from '../../src/dag/types.ts';
import {
  ALWAYS,
  CANCELLED,
  FAILURE,
  and,
  call,
  cancel,
  cancelDecision,
  cond,
  dag,
  done,
  eq,
  finished,
  giveUp,
  lit,
  ne,
  not,
  or,
  outcome,
  output,
  param,
  result,
  retry,
  skip,
  start,
  started,
  task,
  tick,
} from './builders.ts';

// ---- graphs ------------------------------------------------------------------------------

//  a -- b -- c
function chain(): DagSpec {
  return dag([task('a'), task('b', { needs: ['a'] }), task('c', { needs: ['b'] })]);
}

//  a -- b -- c -- d
function chain4(): DagSpec {
  return dag([task('a'), task('b', { needs: ['a'] }), task('c', { needs: ['b'] }), task('d', { needs: ['c'] })]);
}

//      b
//    /   \
//  a       d
//    \   /
//      c
function diamond(): DagSpec {
  return dag([task('a'), task('b', { needs: ['a'] }), task('c', { needs: ['a'] }), task('d', { needs: ['b', 'c'] })]);
}

//      x3
//    /    \
//  a - x1 - z        (spec order: a, x3, x1, x2, z)
//    \    /
//      x2
function fan(): DagSpec {
  return dag([
    task('a'),
    task('x3', { needs: ['a'] }),
    task('x1', { needs: ['a'] }),
    task('x2', { needs: ['a'] }),
    task('z', { needs: ['x3', 'x1', 'x2'] }),
  ]);
}

//  a -- b -- cleanup  (if: failure())
//         \
//          - report   (if: always())
function withCleanup(): DagSpec {
  return dag([
    task('a'),
    task('b', { needs: ['a'] }),
    task('cleanup', { needs: ['b'], if: FAILURE }),
    task('report', { needs: ['b'], if: ALWAYS }),
  ]);
}

//  a -- b (if: always()) -- c
function alwaysInTheMiddle(): DagSpec {
  return dag([task('a'), task('b', { needs: ['a'], if: ALWAYS }), task('c', { needs: ['b'] })]);
}

//  a -- b, c, d, e, f  (conditions on a's outputs and result, and on params)
function conditions(): DagSpec {
  return dag([
    task('a'),
    task('b', { needs: ['a'], if: cond("tasks.a.outputs.mode == 'full'", eq(output('a', 'mode'), lit('full'))) }),
    task('c', { needs: ['a'], if: cond("params.env == 'prod'", eq(param('env'), lit('prod'))) }),
    task('d', {
      needs: ['a'],
      if: cond("always() && tasks.a.result == 'success'", and(call('always'), eq(result('a'), lit('success')))),
    }),
    task('e', { needs: ['a'], if: cond("tasks.a.outputs.missing == ''", eq(output('a', 'missing'), lit(''))) }),
    task('f', { needs: ['a'], if: cond('tasks.a.outputs.count == 3', eq(output('a', 'count'), lit(3))) }),
  ]);
}

//  a (retries) ; b      (two independent tasks)
function retrying(retries: Partial<RetryPolicy>): DagSpec {
  return dag([task('a', { retries }), task('b')]);
}

//  a -- b -- report (if: always())  , with a DAG timeout of 1s
function timed(): DagSpec {
  return dag([task('a'), task('b', { needs: ['a'] }), task('report', { needs: ['b'], if: ALWAYS })], { timeoutMs: 1000 });
}

// ---- the driver of a scenario ------------------------------------------------------------

/** One step: the events fed, and every decision they should give, in order. */
type Step = [SchedulerEvent[], Decision[]];

interface Scenario {
  name: string;
  spec: DagSpec;
  options?: Partial<SchedulerOptions>;
  /** What `start()` gives. */
  first: Decision[];
  steps: Step[];
  results: Record<string, TaskResult>;
  run: RunResult;
}

/** An attempt that starts and ends at `at`, with this class. */
function ran(taskId: string, attempt: number, at: number, cls: AttemptClass = 'succeeded', extra: Partial<AttemptOutcome> = {}): SchedulerEvent[] {
  return [started(taskId, attempt, at), finished(taskId, attempt, at, cls, extra)];
}


const scenarios: Scenario[] = [
  {
    name: 'chain: a-b-c all succeed, one after the other',
    spec: chain(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 10), [start('b')]],
      [ran('b', 1, 20), [start('c')]],
      [ran('c', 1, 30), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded', c: 'succeeded' },
    run: 'success',
  },
  {
    name: 'chain: b fails without retries, c is skipped naming b',
    spec: chain(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 10), [start('b')]],
      [
        ran('b', 1, 20, 'failed'),
        [
          giveUp('b', 1, 'no retries configured (retries.limit is 0)'),
          skip('c', 'needs "b", which failed'),
          done('failure'),
        ],
      ],
    ],
    results: { a: 'succeeded', b: 'failed', c: 'skipped' },
    run: 'failure',
  },
  {
    name: 'diamond: d waits for both b and c',
    spec: diamond(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 10), [start('b'), start('c')]],
      [ran('c', 1, 20), []],
      [ran('b', 1, 30), [start('d')]],
      [ran('d', 1, 40), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded', c: 'succeeded', d: 'succeeded' },
    run: 'success',
  },
  {
    name: 'diamond: c fails, d is skipped only once b also finished',
    spec: diamond(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 10), [start('b'), start('c')]],
      [ran('c', 1, 20, 'failed'), [giveUp('c', 1, 'no retries configured (retries.limit is 0)')]],
      [ran('b', 1, 30), [skip('d', 'needs "c", which failed'), done('failure')]],
    ],
    results: { a: 'succeeded', b: 'succeeded', c: 'failed', d: 'skipped' },
    run: 'failure',
  },
  {
    name: 'fan-out/fan-in without a limit: all three start together, z after the last',
    spec: fan(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 10), [start('x3'), start('x1'), start('x2')]],
      [ran('x2', 1, 20), []],
      [ran('x3', 1, 21), []],
      [ran('x1', 1, 22), [start('z')]],
      [ran('z', 1, 30), [done('success')]],
    ],
    results: { a: 'succeeded', x3: 'succeeded', x1: 'succeeded', x2: 'succeeded', z: 'succeeded' },
    run: 'success',
  },
  {
    name: 'max-parallel 2: ready tasks start in spec order (x3, x1, then x2), not name order',
    spec: fan(),
    options: { maxParallel: 2 },
    first: [start('a')],
    steps: [
      [ran('a', 1, 10), [start('x3'), start('x1')]],
      [ran('x1', 1, 20), [start('x2')]],
      [ran('x3', 1, 21), []],
      [ran('x2', 1, 22), [start('z')]],
      [ran('z', 1, 30), [done('success')]],
    ],
    results: { a: 'succeeded', x3: 'succeeded', x1: 'succeeded', x2: 'succeeded', z: 'succeeded' },
    run: 'success',
  },
  {
    name: 'max-parallel 1: a task waiting for its retry holds no slot',
    spec: retrying({ limit: 1, delayMs: 10_000 }),
    options: { maxParallel: 1 },
    first: [start('a')],
    steps: [
      [ran('a', 1, 5, 'failed'), [retry('a', 1, 2, 10_005, 10_000), start('b')]],
      [[tick(10_004)], []],
      [[started('b', 1, 10_004), tick(10_005)], []], // due, but b holds the only slot
      [[finished('b', 1, 10_006)], [start('a', 2)]],
      [ran('a', 2, 10_010), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded' },
    run: 'success',
  },
  {
    name: 'retry: delays grow by backoff and stop at maxDelay; the last failure gives up',
    spec: retrying({ limit: 3, delayMs: 1000, backoff: 3, maxDelayMs: 5000 }),
    first: [start('a'), start('b')],
    steps: [
      [ran('b', 1, 0), []],
      [ran('a', 1, 0, 'failed'), [retry('a', 1, 4, 1000, 1000)]],
      [[tick(999)], []],
      [[tick(1000)], [start('a', 2)]],
      [ran('a', 2, 1500, 'failed'), [retry('a', 2, 4, 4500, 3000)]],
      [[tick(4500)], [start('a', 3)]],
      [ran('a', 3, 5000, 'failed'), [retry('a', 3, 4, 10_000, 5000)]], // 9000 capped at 5000
      [[tick(12_000)], [start('a', 4)]], // a late tick still starts it
      [ran('a', 4, 12_001, 'failed'), [giveUp('a', 4, 'no more retries left (4 of 4 attempts failed)'), done('failure')]],
    ],
    results: { a: 'failed', b: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'retry: a retry without delay starts in the same batch',
    spec: retrying({ limit: 1 }),
    first: [start('a'), start('b')],
    steps: [
      [ran('a', 1, 5, 'failed'), [retry('a', 1, 2, 5, 0), start('a', 2)]],
      [ran('a', 2, 6), []],
      [ran('b', 1, 7), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded' },
    run: 'success',
  },
  {
    name: 'retry: infrastructure failures use their own budget, not limit',
    spec: retrying({ limit: 1, infrastructure: 1 }),
    first: [start('a'), start('b')],
    steps: [
      [ran('b', 1, 0), []],
      [ran('a', 1, 1, 'infrastructure'), [retry('a', 1, 3, 1, 0, outcome('infrastructure')), start('a', 2)]],
      [ran('a', 2, 2, 'failed'), [retry('a', 2, 3, 2, 0), start('a', 3)]],
      [
        ran('a', 3, 3, 'infrastructure'),
        [giveUp('a', 3, 'no more infrastructure retries left (1 of 1 used)', outcome('infrastructure')), done('failure')],
      ],
    ],
    results: { a: 'failed', b: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'retry: a timeout is not retried unless retries.on lists it',
    spec: retrying({ limit: 2 }),
    first: [start('a'), start('b')],
    steps: [
      [ran('b', 1, 0), []],
      [
        ran('a', 1, 1, 'timeout'),
        [giveUp('a', 1, 'timeouts are not retried (add "timeout" to retries.on to retry them)', outcome('timeout')), done('failure')],
      ],
    ],
    results: { a: 'failed', b: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'retry: a timeout is retried when retries.on lists it, and uses up limit',
    spec: retrying({ limit: 1, on: ['failed', 'timeout'], delayMs: 100 }),
    first: [start('a'), start('b')],
    steps: [
      [ran('b', 1, 0), []],
      [ran('a', 1, 1, 'timeout'), [retry('a', 1, 2, 101, 100, outcome('timeout'))]],
      [[tick(101)], [start('a', 2)]],
      [
        ran('a', 2, 102, 'timeout'),
        [giveUp('a', 2, 'no more retries left (2 of 2 attempts failed)', outcome('timeout')), done('failure')],
      ],
    ],
    results: { a: 'failed', b: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'retry: failures are not retried when retries.on lists only timeout',
    spec: retrying({ limit: 2, on: ['timeout'] }),
    first: [start('a'), start('b')],
    steps: [
      [ran('b', 1, 0), []],
      [ran('a', 1, 1, 'failed'), [giveUp('a', 1, 'failures are not retried (retries.on is [timeout])'), done('failure')]],
    ],
    results: { a: 'failed', b: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'retry: configuration errors fail fast whatever the limit, and skip what follows',
    //  a (limit 5) -- b
    spec: dag([task('a', { retries: { limit: 5 } }), task('b', { needs: ['a'] })]),
    first: [start('a')],
    steps: [
      [
        ran('a', 1, 1, 'configuration', { reason: 'ErrImagePull' }),
        [
          giveUp('a', 1, 'configuration errors are not retried', outcome('configuration', { reason: 'ErrImagePull' })),
          skip('b', 'needs "a", which failed'),
          done('failure'),
        ],
      ],
    ],
    results: { a: 'failed', b: 'skipped' },
    run: 'failure',
  },
  {
    name: 'skips propagate down a chain, each naming its own need',
    spec: chain4(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 1), [start('b')]],
      [
        ran('b', 1, 2, 'failed'),
        [
          giveUp('b', 1, 'no retries configured (retries.limit is 0)'),
          skip('c', 'needs "b", which failed'),
          skip('d', 'needs "c", which was skipped'),
          done('failure'),
        ],
      ],
    ],
    results: { a: 'succeeded', b: 'failed', c: 'skipped', d: 'skipped' },
    run: 'failure',
  },
  {
    name: 'failure() cleanup and always() report run when an ancestor failed',
    spec: withCleanup(),
    first: [start('a')],
    steps: [
      [
        ran('a', 1, 1, 'failed'),
        [giveUp('a', 1, 'no retries configured (retries.limit is 0)'), skip('b', 'needs "a", which failed'), start('cleanup'), start('report')],
      ],
      [ran('cleanup', 1, 2), []],
      [ran('report', 1, 3), [done('failure')]],
    ],
    results: { a: 'failed', b: 'skipped', cleanup: 'succeeded', report: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'failure() cleanup is skipped when everything succeeded; always() report runs',
    spec: withCleanup(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 1), [start('b')]],
      [ran('b', 1, 2), [skip('cleanup', 'if: "failure()" is false'), start('report')]],
      [ran('report', 1, 3), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded', cleanup: 'skipped', report: 'succeeded' },
    run: 'success',
  },
  {
    name: 'success() looks at every ancestor: c is skipped after b ran by always() past a failed a',
    spec: alwaysInTheMiddle(),
    first: [start('a')],
    steps: [
      [ran('a', 1, 1, 'failed'), [giveUp('a', 1, 'no retries configured (retries.limit is 0)'), start('b')]],
      [ran('b', 1, 2), [skip('c', 'needs "b", whose upstream task "a" failed'), done('failure')]],
    ],
    results: { a: 'failed', b: 'succeeded', c: 'skipped' },
    run: 'failure',
  },
  {
    name: 'conditions read outputs (ignoring case, numbers loosely), results and params',
    spec: conditions(),
    options: { params: { env: 'staging' } },
    first: [start('a')],
    steps: [
      [
        ran('a', 1, 1, 'succeeded', { outputs: { mode: 'FULL', count: '3' } }),
        [skip('c', `if: "params.env == 'prod'" is false`), start('b'), start('d'), start('e'), start('f')],
      ],
      [[...ran('b', 1, 2), ...ran('d', 1, 2), ...ran('e', 1, 2)], []],
      [ran('f', 1, 2), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded', c: 'skipped', d: 'succeeded', e: 'succeeded', f: 'succeeded' },
    run: 'success',
  },
  {
    name: 'a condition without status functions is implicitly success() && …',
    //  a -- b (if: params.env != 'prod')
    //    \- c (if: failure() && params.env != 'prod')
    spec: dag([
      task('a'),
      task('b', { needs: ['a'], if: cond("params.env != 'prod'", ne(param('env'), lit('prod'))) }),
      task('c', { needs: ['a'], if: cond("failure() && params.env != 'prod'", and(call('failure'), ne(param('env'), lit('prod')))) }),
    ]),
    options: { params: { env: 'dev' } },
    first: [start('a')],
    steps: [
      [
        ran('a', 1, 1, 'failed'),
        [giveUp('a', 1, 'no retries configured (retries.limit is 0)'), skip('b', 'needs "a", which failed'), start('c')],
      ],
      [ran('c', 1, 2), [done('failure')]],
    ],
    results: { a: 'failed', b: 'skipped', c: 'succeeded' },
    run: 'failure',
  },
  {
    name: 'cancel by signal: running attempts are cancelled, the rest does not run, nothing new starts',
    //  a -- b
    //    \- d (if: always())      c (if: always())
    spec: dag([task('a'), task('b', { needs: ['a'] }), task('c', { if: ALWAYS }), task('d', { needs: ['a'], if: ALWAYS })]),
    first: [start('a'), start('c')],
    steps: [
      [[started('a', 1, 1), started('c', 1, 1)], []],
      [
        [cancel('signal', 5)],
        [
          cancelDecision('signal', ['a', 1], ['c', 1]),
          skip('b', 'the run was cancelled before it started'),
          skip('d', 'the run was cancelled before it started'),
        ],
      ],
      [[finished('a', 1, 6)], []], // a still succeeded (its container exited 0), and starts nothing
      [[finished('c', 1, 7, 'cancelled')], [done('cancelled')]],
    ],
    results: { a: 'succeeded', b: 'not-run', c: 'cancelled', d: 'not-run' },
    run: 'cancelled',
  },
  {
    name: 'cancel by signal: a pending retry does not run',
    spec: retrying({ limit: 2, delayMs: 1000 }),
    first: [start('a'), start('b')],
    steps: [
      [ran('a', 1, 1, 'failed'), [retry('a', 1, 3, 1001, 1000)]],
      [
        [cancel('signal', 2)],
        [cancelDecision('signal', ['b', 1]), skip('a', 'the run was cancelled while it waited to retry')],
      ],
      [[tick(5000)], []],
      [[finished('b', 1, 5001, 'cancelled')], [done('cancelled')]],
    ],
    results: { a: 'not-run', b: 'cancelled' },
    run: 'cancelled',
  },
  {
    name: 'DAG timeout: the scheduler cancels on the tick, and always() tasks still run',
    spec: timed(),
    first: [start('a')],
    steps: [
      [[started('a', 1, 1), tick(999)], []],
      [[tick(1000)], [cancelDecision('timeout', ['a', 1])]],
      [
        [finished('a', 1, 1001, 'cancelled')],
        [skip('b', 'the run was cancelled: the DAG timeout of 1s was reached before it started'), start('report')],
      ],
      [ran('report', 1, 1002), [done('cancelled')]],
    ],
    results: { a: 'cancelled', b: 'not-run', report: 'succeeded' },
    run: 'cancelled',
  },
  {
    name: 'DAG timeout: a pending retry is not run, even for an always() task',
    //  a (if: always(), retried after 5s) , DAG timeout 1s
    spec: dag([task('a', { if: ALWAYS, retries: { limit: 1, delayMs: 5000 } })], { timeoutMs: 1000 }),
    first: [start('a')],
    steps: [
      [ran('a', 1, 10, 'failed'), [retry('a', 1, 2, 5010, 5000)]],
      [
        [tick(1000)],
        [skip('a', 'the run was cancelled: the DAG timeout of 1s was reached while it waited to retry'), done('cancelled')],
      ],
    ],
    results: { a: 'not-run' },
    run: 'cancelled',
  },
  {
    name: 'DAG timeout: a failure() cleanup does not run (only always() and cancelled() do)',
    //  a -- cleanup (if: failure()) , DAG timeout 1s
    spec: dag([task('a'), task('cleanup', { needs: ['a'], if: FAILURE })], { timeoutMs: 1000 }),
    first: [start('a')],
    steps: [
      [[tick(1000)], [cancelDecision('timeout', ['a', 1])]],
      [
        [finished('a', 1, 1001, 'failed')],
        [
          giveUp('a', 1, 'not retried because the run was cancelled: the DAG timeout of 1s was reached'),
          skip('cleanup', 'the run was cancelled: the DAG timeout of 1s was reached before it started'),
          done('cancelled'),
        ],
      ],
    ],
    results: { a: 'failed', cleanup: 'not-run' },
    run: 'cancelled',
  },
  {
    name: 'DAG timeout noticed on a finished event: the attempt that ended is not listed to cancel',
    //  a -- c
    //    \- d (if: always())      b , DAG timeout 1s
    spec: dag([task('a'), task('b'), task('c', { needs: ['a'] }), task('d', { needs: ['a'], if: ALWAYS })], { timeoutMs: 1000 }),
    first: [start('a'), start('b')],
    steps: [
      [
        [finished('a', 1, 1500)],
        [
          cancelDecision('timeout', ['b', 1]),
          skip('c', 'the run was cancelled: the DAG timeout of 1s was reached before it started'),
          start('d'),
        ],
      ],
      [[finished('b', 1, 1501, 'cancelled'), ...ran('d', 1, 1502)], [done('cancelled')]],
    ],
    results: { a: 'succeeded', b: 'cancelled', c: 'not-run', d: 'succeeded' },
    run: 'cancelled',
  },
  {
    name: 'a cancel asked by the driver with reason timeout, on a DAG without a timeout',
    //  a -- b
    spec: dag([task('a'), task('b', { needs: ['a'] })]),
    first: [start('a')],
    steps: [
      [[cancel('timeout', 5)], [cancelDecision('timeout', ['a', 1])]],
      [
        [finished('a', 1, 6, 'cancelled')],
        [skip('b', 'the run was cancelled: its time limit was reached before it started'), done('cancelled')],
      ],
    ],
    results: { a: 'cancelled', b: 'not-run' },
    run: 'cancelled',
  },
  {
    name: 'an attempt cancelled without a run cancel makes the run a failure',
    //  a -- b
    spec: dag([task('a'), task('b', { needs: ['a'] })]),
    first: [start('a')],
    steps: [[ran('a', 1, 1, 'cancelled'), [skip('b', 'needs "a", which was cancelled'), done('failure')]]],
    results: { a: 'cancelled', b: 'skipped' },
    run: 'failure',
  },
  {
    name: 'DAG timeout: cancelled() and !cancelled() are judged after the cancel',
    //  a -- on-cancel     (if: cancelled())
    //    |- not-on-cancel (if: !cancelled())
    //    \- either        (if: success() || cancelled())   , DAG timeout 100ms
    spec: dag(
      [
        task('a'),
        task('on-cancel', { needs: ['a'], if: CANCELLED }),
        task('not-on-cancel', { needs: ['a'], if: cond('!cancelled()', not(call('cancelled'))) }),
        task('either', { needs: ['a'], if: cond('success() || cancelled()', or(call('success'), call('cancelled'))) }),
      ],
      { timeoutMs: 100 },
    ),
    first: [start('a')],
    steps: [
      [[tick(100)], [cancelDecision('timeout', ['a', 1])]],
      [
        [finished('a', 1, 101, 'cancelled')],
        [skip('not-on-cancel', 'if: "!cancelled()" is false'), start('on-cancel'), start('either')],
      ],
      [[...ran('on-cancel', 1, 102), ...ran('either', 1, 102)], [done('cancelled')]],
    ],
    results: { a: 'cancelled', 'on-cancel': 'succeeded', 'not-on-cancel': 'skipped', either: 'succeeded' },
    run: 'cancelled',
  },
  {
    name: 'DAG timeout, then a signal: the always() task that started is cancelled too',
    spec: timed(),
    first: [start('a')],
    steps: [
      [[tick(2000)], [cancelDecision('timeout', ['a', 1])]],
      [
        [finished('a', 1, 2001, 'cancelled')],
        [skip('b', 'the run was cancelled: the DAG timeout of 1s was reached before it started'), start('report')],
      ],
      [[cancel('signal', 2002)], [cancelDecision('signal', ['report', 1])]],
      [[finished('report', 1, 2003, 'cancelled')], [done('cancelled')]],
    ],
    results: { a: 'cancelled', b: 'not-run', report: 'cancelled' },
    run: 'cancelled',
  },
  {
    name: 'previous successes are reused: they never start, and their outputs feed conditions',
    //  a (reused) -- b (if: tasks.a.outputs.go == 'yes') -- c
    spec: dag([
      task('a'),
      task('b', { needs: ['a'], if: cond("tasks.a.outputs.go == 'yes'", eq(output('a', 'go'), lit('yes'))) }),
      task('c', { needs: ['b'] }),
    ]),
    options: { previous: { a: { outputs: { go: 'yes' }, runAttempt: 1 } } },
    first: [start('b')],
    steps: [
      [ran('b', 1, 1), [start('c')]],
      [ran('c', 1, 2), [done('success')]],
    ],
    results: { a: 'succeeded', b: 'succeeded', c: 'succeeded' },
    run: 'success',
  },
  {
    name: 'previous successes of every task: done at once',
    spec: chain(),
    options: {
      previous: { a: { outputs: {}, runAttempt: 2 }, b: { outputs: {}, runAttempt: 2 }, c: { outputs: {}, runAttempt: 1 } },
    },
    first: [done('success')],
    steps: [],
    results: { a: 'succeeded', b: 'succeeded', c: 'succeeded' },
    run: 'success',
  },
  {
    name: 'an empty DAG is done at once',
    spec: dag([]),
    first: [done('success')],
    steps: [],
    results: {},
    run: 'success',
  },
];

function newScheduler(spec: DagSpec, options: Partial<SchedulerOptions> = {}): Scheduler {
  return new Scheduler(spec, { now: 0, maxParallel: 0, params: {}, ...options });
}

describe('Scheduler scenarios', () => {
  it.each(scenarios)('$name', (scenario) => {
    const s = newScheduler(scenario.spec, scenario.options);
    expect(s.start()).toEqual(scenario.first);
    scenario.steps.forEach(([events, want], i) => {
      const got = events.flatMap((e) => s.handle(e));
      expect(got, `step ${i + 1}: ${events.map((e) => `${e.type}@${e.at}`).join(', ')}`).toEqual(want);
    });
    const state = s.state();
    expect(Object.fromEntries(state.tasks.map((t) => [t.id, t.result]))).toEqual(scenario.results);
    expect(state.result).toBe(scenario.run);
    expect(s.isDone()).toBe(true);
    expect(s.nextWakeAt()).toBeNull();
  });
});

describe('Scheduler state', () => {
  it('records attempts, pods, outcomes, retry times and reasons', () => {
    const s = newScheduler(dag([task('a', { retries: { limit: 1, delayMs: 50 } }), task('b', { needs: ['a'] })]), {
      now: 1000,
    });
    s.start();
    s.handle(started('a', 1, 1010));
    s.handle(finished('a', 1, 1020, 'failed', { message: 'exit 1' }));
    const waiting = s.state();
    expect(waiting.tasks[0]).toMatchObject({ id: 'a', result: null, retryAt: 1070 });
    expect(s.nextWakeAt()).toBe(1070);
    s.handle(tick(1070));
    s.handle(started('a', 2, 1075));
    s.handle(finished('a', 2, 1080, 'succeeded', { outputs: { rows: '42' } }));
    s.handle(finished('b', 1, 1090, 'configuration', { reason: 'CreateContainerConfigError' }));
    const state = s.state();
    expect(state).toMatchObject({ dag: 'test-dag', startedAt: 1000, finishedAt: 1090, result: 'failure', cancelled: null });
    expect(state.tasks[0]).toEqual({
      id: 'a',
      result: 'succeeded',
      attempts: [
        { attempt: 1, pod: 'test-dag-a-1', startedAt: 1010, finishedAt: 1020, outcome: outcome('failed', { message: 'exit 1' }) },
        { attempt: 2, pod: 'test-dag-a-2', startedAt: 1075, finishedAt: 1080, outcome: outcome('succeeded', { outputs: { rows: '42' } }) },
      ],
      outputs: { rows: '42' },
      reason: null,
      reusedFrom: null,
      retryAt: null,
    });
    // b failed before a pod existed: no `started`, so no pod, and its start time is the decision's.
    expect(state.tasks[1]).toMatchObject({ result: 'failed', reason: 'configuration errors are not retried' });
    expect(state.tasks[1]!.attempts).toEqual([
      { attempt: 1, pod: null, startedAt: 1080, finishedAt: 1090, outcome: outcome('configuration', { reason: 'CreateContainerConfigError' }) },
    ]);
    // The waiting snapshot was not changed by what came after it.
    expect(waiting.tasks[0]!.attempts).toHaveLength(1);
    expect(waiting.result).toBeNull();
  });

  it('snapshots are frozen, so a kept one cannot be changed by anyone, and stay correct as tasks change', () => {
    const s = newScheduler(chain());
    s.start();
    const first = s.state();
    expect(Object.isFrozen(first.tasks[0])).toBe(true);
    expect(Object.isFrozen(first.tasks[0]!.attempts[0])).toBe(true);
    expect(() => {
      (first.tasks[0]!.outputs as Record<string, string>).x = 'y';
    }).toThrow(TypeError);
    s.handle(finished('a', 1, 5, 'succeeded', { outputs: { k: 'v' } }));
    const second = s.state();
    expect(second.tasks[0]).toMatchObject({ result: 'succeeded', outputs: { k: 'v' } });
    expect(first.tasks[0]).toMatchObject({ result: null, outputs: {} });
    expect(second.tasks[2]).toBe(first.tasks[2]); // c did not change: the same frozen object
  });

  it('marks reused tasks with reusedFrom and their outputs', () => {
    const s = newScheduler(chain(), { previous: { a: { outputs: { x: '1' }, runAttempt: 3 } } });
    s.start();
    expect(s.state().tasks[0]).toEqual({
      id: 'a',
      result: 'succeeded',
      attempts: [],
      outputs: { x: '1' },
      reason: null,
      reusedFrom: { runAttempt: 3 },
      retryAt: null,
    });
  });

  it('never lets time go backwards: a late event with an old time is stamped with the latest time', () => {
    const s = newScheduler(chain());
    s.start();
    s.handle(started('a', 1, 500));
    s.handle(finished('a', 1, 400));
    expect(s.state().tasks[0]!.attempts[0]).toMatchObject({ startedAt: 500, finishedAt: 500 });
  });

  it('nextWakeAt gives the earliest of a due retry and the DAG timeout, and null once cancelled', () => {
    const s = newScheduler(dag([task('a', { retries: { limit: 1, delayMs: 5000 } }), task('b')], { timeoutMs: 3000 }));
    s.start();
    expect(s.nextWakeAt()).toBe(3000);
    s.handle(finished('a', 1, 10, 'failed'));
    expect(s.nextWakeAt()).toBe(3000); // the retry (5010) is later than the timeout
    s.handle(tick(3000));
    expect(s.nextWakeAt()).toBeNull(); // the pending retry is not-run, the timeout has fired
    expect(s.state().cancelled).toBe('timeout');
  });

  it('taskState gives one task without building the whole state', () => {
    const s = newScheduler(chain());
    s.start();
    s.handle(finished('a', 1, 5, 'succeeded', { outputs: { k: 'v' } }));
    expect(s.taskState('a')).toMatchObject({ id: 'a', result: 'succeeded', outputs: { k: 'v' } });
    expect(s.taskState('b')).toMatchObject({ id: 'b', result: null, attempts: [{ attempt: 1, pod: null }] });
    expect(() => s.taskState('zz')).toThrow(/has no task "zz"/);
  });

  it('a tick or cancel after done changes nothing', () => {
    const s = newScheduler(dag([task('a')]));
    s.start();
    s.handle(finished('a', 1, 1));
    expect(s.isDone()).toBe(true);
    expect(s.handle(tick(10))).toEqual([]);
    expect(s.handle(cancel('signal', 11))).toEqual([]);
    expect(s.state().result).toBe('success');
  });
});

describe('Scheduler driver bugs', () => {
  const cases: { name: string; events: SchedulerEvent[]; error: RegExp }[] = [
    {
      name: 'an event for an unknown task',
      events: [finished('nope', 1, 1)],
      error: /got "finished" for task "nope" attempt 1, but DAG "test-dag" has no task "nope"/,
    },
    {
      name: 'finished for an attempt never started',
      events: [finished('a', 2, 1)],
      error: /got "finished" for task "a" attempt 2, but attempt 2 was never started: task "a" is running attempt 1/,
    },
    {
      name: 'a second finished for the same attempt',
      events: [finished('a', 1, 1), finished('a', 1, 2)],
      error: /got "finished" for task "a" attempt 1, but attempt 1 already finished: task "a" is finished \(succeeded\) after 1 attempt/,
    },
    {
      name: 'finished for a task still waiting for its needs',
      events: [finished('b', 1, 1)],
      error: /task "b" is waiting for its needs/,
    },
    {
      name: 'started twice',
      events: [started('a', 1, 1), started('a', 1, 2)],
      error: /attempt 1 was already reported started/,
    },
    {
      name: 'started for an attempt that is not running',
      events: [started('a', 3, 1)],
      error: /got "started" for task "a" attempt 3, but attempt 3 is not the running attempt/,
    },
  ];
  it.each(cases)('$name throws an error naming the event and the state', ({ events, error }) => {
    const s = newScheduler(chain());
    s.start();
    const last = events.pop()!;
    for (const e of events) s.handle(e);
    expect(() => s.handle(last)).toThrow(error);
  });

  it('handle() before start() and start() twice throw', () => {
    const s = newScheduler(chain());
    expect(() => s.handle(tick(1))).toThrow(/before start\(\)/);
    s.start();
    expect(() => s.start()).toThrow(/called twice/);
  });

  it('previous successes naming an unknown task throw', () => {
    expect(() => newScheduler(chain(), { previous: { zz: { outputs: {}, runAttempt: 1 } } })).toThrow(
      /options.previous names task "zz", which is not in DAG "test-dag"/,
    );
  });
});
