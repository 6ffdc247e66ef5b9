/**
 * planRerun with matrix tasks: a re-run of failed tasks runs only the instances that did not
 * succeed, reuses the others, and runs downstream tasks again only when an instance runs again.
 */
import { describe, expect, it } from 'vitest';
import { applyTaskUpdate, emptyRunState, planRerun, taskFingerprint, type StoredRunState } from '../../src/dag/rerun.ts';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { TaskResult } from '../../src/dag/types.ts';
import { expandMatrix } from '../../src/spec/matrix.ts';
import type { DagSpec, TaskSpec } from '../../src/spec/types.ts';
import { dag, outcome, task } from '../dag/builders.ts';

function ids(id: string, matrix: unknown): string[] {
  const e = expandMatrix(id, matrix);
  if (!e.ok) throw new Error('bad matrix');
  return e.instances.map((i) => i.id);
}

/*
 *   plan ──► shard[part: 0..2] ──► merge
 */
function pipeline(dynamic: boolean): DagSpec {
  const strategy = dynamic
    ? { matrix: { kind: 'dynamic' as const, template: '{{ fromJSON(tasks.plan.outputs.m) }}' }, maxParallel: 0, failFast: false }
    : { matrix: { kind: 'static' as const, instances: expandMatrixOk('shard', { part: [0, 1, 2] }) }, maxParallel: 0, failFast: false };
  const shard: TaskSpec = { ...task('shard', { needs: ['plan'] }), strategy };
  return dag([task('plan'), shard, task('merge', { needs: ['shard'] })]);
}

function expandMatrixOk(id: string, m: unknown) {
  const e = expandMatrix(id, m);
  if (!e.ok) throw new Error('bad matrix');
  return e.instances;
}

const [P0, P1, P2] = ids('shard', { part: [0, 1, 2] }) as [string, string, string];

/** The state after run attempt 1 where each key (task or instance id) ended as given. */
function stored(spec: DagSpec, results: Record<string, TaskResult>, outputs: Record<string, Record<string, string>> = {}): StoredRunState {
  let state = emptyRunState(spec.name, '1', 0);
  for (const [key, result] of Object.entries(results)) {
    const t = spec.tasks.find((x) => x.id === key.split('.')[0])!;
    state = applyTaskUpdate(
      state,
      {
        task: key,
        runAttempt: 1,
        attempt: 1,
        pod: null,
        startedAt: 0,
        finishedAt: 1,
        outcome: outcome(result === 'succeeded' ? 'succeeded' : 'failed', { outputs: outputs[key] ?? {} }),
        result,
        fingerprint: taskFingerprint(t, {}),
      },
      1,
    );
  }
  return state;
}

describe('planRerun with a matrix task', () => {
  for (const dynamic of [false, true]) {
    describe(dynamic ? 'dynamic' : 'static', () => {
      const spec = pipeline(dynamic);
      const plan = { m: '{"part":[0,1,2]}' };

      it('re-runs only the failed instance and the tasks downstream of the matrix task', () => {
        const state = stored(spec, { plan: 'succeeded', [P0]: 'succeeded', [P1]: 'failed', [P2]: 'succeeded' }, { plan, [P0]: { rows: '1' } });
        const result = planRerun(spec, {}, state, 'failed', { runAttempt: 2 });
        expect(Object.keys(result.previous).sort()).toEqual(['plan', P0, P2].sort());
        expect(result.previous[P0]).toEqual({ outputs: { rows: '1' }, runAttempt: 1 });
        expect(result.rerun).toEqual([
          {
            task: 'shard',
            reason: `1 of 3 matrix instances run again ("${P1}": it failed in run attempt 1 (exit code 1)); the 2 that succeeded are reused`,
          },
          { task: 'merge', reason: 'it did not run in run attempt 1 (skipped there, or not reached)' },
        ]);

        // The scheduler then starts only the failed instance.
        const s = new Scheduler(spec, { now: 0, maxParallel: 0, params: {}, previous: result.previous });
        expect(s.start()).toEqual([{ type: 'expand', task: 'shard', instances: [P0, P1, P2] }, { type: 'start', task: P1, attempt: 1 }]);
      });

      it('reuses the whole matrix task, and what is downstream, when every instance succeeded', () => {
        const state = stored(spec, { plan: 'succeeded', [P0]: 'succeeded', [P1]: 'succeeded', [P2]: 'succeeded', merge: 'failed' }, { plan });
        const result = planRerun(spec, {}, state, 'failed', { runAttempt: 2 });
        expect(result.rerun.map((r) => r.task)).toEqual(['merge']);
        expect(Object.keys(result.previous).sort()).toEqual(['plan', P0, P1, P2].sort());
      });
    });
  }

  it('runs every instance again when its upstream runs again', () => {
    const spec = pipeline(false);
    const state = stored(spec, { plan: 'failed', [P0]: 'succeeded' });
    const result = planRerun(spec, {}, state, 'failed', { runAttempt: 2 });
    expect(result.previous).toEqual({});
    expect(result.rerun.map((r) => r.reason)).toEqual([expect.stringContaining('failed'), 'it needs "plan", which runs again', 'it did not run in run attempt 1 (skipped there, or not reached)']);
  });
});
