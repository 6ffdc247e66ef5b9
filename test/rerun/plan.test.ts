/**
 * planRerun and the stored run state, without a cluster: which tasks a re-run reuses, which run
 * again and the reason it gives; the fingerprint; the state's JSON form and updates.
 */
import { describe, expect, it } from 'vitest';
import {
  applyTaskUpdate,
  emptyRunState,
  fingerprintChange,
  fitRunState,
  markRunAttempt,
  parseRunState,
  planRerun,
  recordedAttempt,
  RunStateFormatError,
  serializeRunState,
  taskFingerprint,
  type RerunMode,
  type StoredRunState,
  type TaskUpdate,
} from '../../src/dag/rerun.ts';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { TaskResult } from '../../src/dag/types.ts';
import type { AttemptClass, DagSpec, TaskSpec } from '../../src/spec/types.ts';
import { dag, outcome, task } from '../dag/builders.ts';

/*
 * The DAG most cases use:
 *
 *   extract ──► transform ──► load
 *        └────► audit
 */
function pipeline(edit: (t: TaskSpec) => TaskSpec = (t) => t): DagSpec {
  return dag(
    [
      task('extract'),
      { ...task('transform', { needs: ['extract'] }), image: 'etl:{{ params.version }}', args: ['--db', '{{ params.db }}'] },
      task('load', { needs: ['transform'] }),
      task('audit', { needs: ['extract'] }),
    ].map(edit),
  );
}

const PARAMS = { version: '1', db: 'prod' };

/** A stored state in which each task ended as given, in run attempt 1, with the spec's fingerprints. */
function storedAfter(spec: DagSpec, results: Record<string, TaskResult | null>, params = PARAMS, runAttempt = 1): StoredRunState {
  let state = emptyRunState(spec.name, '1000001', 0);
  for (const t of spec.tasks) {
    const result = results[t.id];
    if (result === undefined) continue;
    const cls: AttemptClass = result === 'succeeded' ? 'succeeded' : 'failed';
    state = applyTaskUpdate(state, update(t, runAttempt, 1, cls, result, params), 10);
  }
  return state;
}

function update(t: TaskSpec, runAttempt: number, attempt: number, cls: AttemptClass, result: TaskResult | null, params = PARAMS): TaskUpdate {
  return {
    task: t.id,
    runAttempt,
    attempt,
    pod: `pod-${t.id}-${attempt}`,
    startedAt: attempt * 100,
    finishedAt: attempt * 100 + 50,
    outcome: outcome(cls, cls === 'succeeded' ? { outputs: { rows: `${t.id}-rows` } } : { exitCode: 3 }),
    result,
    fingerprint: taskFingerprint(t, params),
  };
}

const ALL_OK = { extract: 'succeeded', transform: 'succeeded', load: 'succeeded', audit: 'succeeded' } as const;

interface Case {
  name: string;
  /** The spec of run attempt 2 (default: the same as attempt 1). */
  spec?: DagSpec;
  params?: Record<string, string>;
  stored: StoredRunState | null;
  mode?: RerunMode;
  reused: string[];
  rerun: Record<string, RegExp>;
}

const cases: Case[] = [
  {
    name: 'first run attempt: nothing is recorded, everything runs',
    stored: null,
    reused: [],
    rerun: {
      extract: /^no earlier run attempt recorded it$/,
      transform: /^no earlier run attempt recorded it$/,
      load: /no earlier/,
      audit: /no earlier/,
    },
  },
  {
    name: 'every task succeeded: nothing runs again',
    stored: storedAfter(pipeline(), ALL_OK),
    reused: ['extract', 'transform', 'load', 'audit'],
    rerun: {},
  },
  {
    name: 'load failed (fixed since): only load runs',
    stored: storedAfter(pipeline(), { ...ALL_OK, load: 'failed' }),
    reused: ['extract', 'transform', 'audit'],
    rerun: { load: /^it failed in run attempt 1 \(exit code 3\)$/ },
  },
  {
    name: 'transform failed, so load was skipped: both run, audit and extract are reused',
    stored: storedAfter(pipeline(), { extract: 'succeeded', transform: 'failed', load: 'skipped', audit: 'succeeded' }),
    reused: ['extract', 'audit'],
    rerun: { transform: /failed in run attempt 1/, load: /^it (was skipped in run attempt 1|needs "transform", which runs again)$/ },
  },
  {
    name: 'a task the earlier attempt never reached runs',
    stored: storedAfter(pipeline(), { extract: 'succeeded', transform: 'failed' }),
    reused: ['extract'],
    rerun: { transform: /failed/, load: /^it did not run in run attempt 1 \(skipped there, or not reached\)$/, audit: /^it did not run in run attempt 1 \(skipped there, or not reached\)$/ },
  },
  {
    name: "transform's image changed (a param changed): it runs with the reason, and load after it",
    params: { version: '2', db: 'prod' },
    stored: storedAfter(pipeline(), ALL_OK),
    reused: ['extract', 'audit'],
    rerun: {
      transform: /^image changed from etl:1 to etl:2 since run attempt 1$/,
      load: /^it needs "transform", which runs again$/,
    },
  },
  {
    name: "extract's command changed: it and everything downstream runs",
    spec: pipeline((t) => (t.id === 'extract' ? { ...t, command: ['extract', '--full'] } : t)),
    stored: storedAfter(pipeline(), ALL_OK),
    reused: [],
    rerun: {
      extract: /^command added since run attempt 1$/,
      transform: /^it needs "extract", which runs again$/,
      load: /^it needs "transform", which runs again$/,
      audit: /^it needs "extract", which runs again$/,
    },
  },
  {
    name: 'args changed through a param, env and resources changed: each is named, values are not',
    params: { version: '1', db: 's3cr3t-db' },
    spec: pipeline((t) =>
      t.id === 'transform'
        ? { ...t, env: [{ name: 'TOKEN', secret: 'creds', key: 'token', optional: false }], resources: { requests: { cpu: '2' }, limits: {} } }
        : t,
    ),
    stored: storedAfter(pipeline(), ALL_OK),
    reused: ['extract', 'audit'],
    rerun: { transform: /^args changed; resources added; env TOKEN added since run attempt 1$/, load: /needs "transform"/ },
  },
  {
    name: 'rerun all: every task runs, saying so',
    mode: 'all',
    stored: storedAfter(pipeline(), ALL_OK),
    reused: [],
    rerun: { extract: /^rerun is 'all' \(it succeeded in run attempt 1\)$/, transform: /rerun is 'all'/, load: /rerun is 'all'/, audit: /rerun is 'all'/ },
  },
  {
    name: 'a task whose last attempt failed with a retry still due (the run died) runs',
    stored: storedAfter(pipeline(), { ...ALL_OK, audit: null }),
    reused: ['extract', 'transform', 'load'],
    rerun: { audit: /^it failed in run attempt 1 \(exit code 3\)$/ },
  },
  {
    name: 'changes in fields the container does not see (retries, timeout, if) do not re-run',
    spec: pipeline((t) => ({ ...t, timeoutMs: 5000, retries: { ...t.retries, limit: 5 } })),
    stored: storedAfter(pipeline(), ALL_OK),
    reused: ['extract', 'transform', 'load', 'audit'],
    rerun: {},
  },
];

describe('planRerun', () => {
  for (const c of cases) {
    it(c.name, () => {
      const spec = c.spec ?? pipeline();
      const plan = planRerun(spec, c.params ?? PARAMS, c.stored, c.mode ?? 'failed', { runAttempt: 2 });
      expect(Object.keys(plan.previous).sort()).toEqual([...c.reused].sort());
      expect(plan.rerun.map((r) => r.task).sort()).toEqual(Object.keys(c.rerun).sort());
      for (const r of plan.rerun) expect(r.reason, r.task).toMatch(c.rerun[r.task]!);
      // Every task is decided exactly once.
      expect(Object.keys(plan.previous).length + plan.rerun.length).toBe(spec.tasks.length);
      // No reason ever shows a value other than the image (params may be secrets).
      for (const r of plan.rerun) expect(r.reason).not.toContain('s3cr3t');
    });
  }

  it('reuses the outputs and the run attempt of the earlier success', () => {
    const plan = planRerun(pipeline(), PARAMS, storedAfter(pipeline(), { ...ALL_OK, load: 'failed' }), 'failed', { runAttempt: 2 });
    expect(plan.previous['transform']).toEqual({ outputs: { rows: 'transform-rows' }, runAttempt: 1 });
  });

  it('reuses a success of attempt 1 in attempt 3 when attempt 2 did not touch the task', () => {
    const spec = pipeline();
    let state = storedAfter(spec, { ...ALL_OK, load: 'failed' });
    state = applyTaskUpdate(state, update(spec.tasks[2]!, 2, 1, 'failed', 'failed'), 20);
    const plan = planRerun(spec, PARAMS, state, 'failed', { runAttempt: 3 });
    expect(plan.previous['transform']?.runAttempt).toBe(1);
    expect(plan.rerun).toEqual([{ task: 'load', reason: 'it failed in run attempt 2 (exit code 3)' }]);
  });

  it('after a crash in the same run attempt, its tasks are replayed, successes too, and the rest planned as usual', () => {
    const spec = pipeline();
    // Run attempt 2 (rerun: all) re-ran everything: extract failed once, then succeeded; transform
    // failed for good. Then the action was killed and started again as run attempt 2.
    let state = storedAfter(spec, ALL_OK);
    state = applyTaskUpdate(state, update(spec.tasks[0]!, 2, 1, 'failed', null), 20);
    state = applyTaskUpdate(state, update(spec.tasks[0]!, 2, 2, 'succeeded', 'succeeded'), 21);
    state = applyTaskUpdate(state, update(spec.tasks[1]!, 2, 1, 'failed', 'failed'), 22);
    const plan = planRerun(spec, PARAMS, state, 'all', { runAttempt: 2 });
    // Never twice: extract succeeded in this very run attempt, so even 'all' replays it (its
    // recorded attempts are fed to the scheduler; nothing runs).
    expect(plan.previous).toEqual({});
    expect(plan.rerun).toEqual([
      { task: 'extract', reason: 'it already ran in this run attempt (2) before the action restarted; its recorded attempts are replayed, not run again' },
      { task: 'transform', reason: 'it already ran in this run attempt (2) before the action restarted; its recorded attempts are replayed, not run again' },
      { task: 'load', reason: expect.stringMatching(/^rerun is 'all'/) },
      { task: 'audit', reason: expect.stringMatching(/^rerun is 'all'/) },
    ]);
    expect(recordedAttempt(state, 2, 'extract', 1)).toMatchObject({ class: 'failed', exitCode: 3, outputs: {}, pod: 'pod-extract-1' });
    expect(recordedAttempt(state, 2, 'extract', 2)).toMatchObject({ class: 'succeeded', outputs: { rows: 'extract-rows' }, pod: 'pod-extract-2' });
    expect(recordedAttempt(state, 2, 'transform', 2)).toBeNull();
    expect(recordedAttempt(state, 1, 'extract', 1)).toBeNull();
  });

  it('a success of this run attempt is replayed, not run, even when a task it needs runs again', () => {
    const spec = pipeline((t) => (t.id === 'load' ? { ...t, needs: ['transform'] } : t));
    let state = storedAfter(spec, { extract: 'succeeded', transform: 'failed' });
    // In run attempt 2, transform failed again and load ran anyway (say, if: always()) and succeeded.
    state = applyTaskUpdate(state, update(spec.tasks[1]!, 2, 1, 'failed', 'failed'), 20);
    state = applyTaskUpdate(state, update(spec.tasks[2]!, 2, 1, 'succeeded', 'succeeded'), 21);
    const plan = planRerun(spec, PARAMS, state, 'failed', { runAttempt: 2 });
    expect(Object.keys(plan.previous)).toEqual(['extract']);
    expect(plan.rerun.find((r) => r.task === 'load')?.reason).toMatch(/^it already ran in this run attempt \(2\)/);
    expect(recordedAttempt(state, 2, 'load', 1)).toMatchObject({ class: 'succeeded' });
  });

  it('decides needs before dependants whatever the order tasks are written in', () => {
    const reversed = { ...pipeline(), tasks: [...pipeline().tasks].reverse() };
    const plan = planRerun(reversed, PARAMS, storedAfter(pipeline(), { ...ALL_OK, extract: 'failed' }), 'failed', { runAttempt: 2 });
    expect(plan.previous).toEqual({});
    expect(plan.rerun.find((r) => r.task === 'load')?.reason).toBe('it needs "transform", which runs again');
  });

  it('a task reused by the plan is succeeded in the scheduler without running, with its outputs', () => {
    const spec = pipeline();
    const plan = planRerun(spec, PARAMS, storedAfter(spec, { ...ALL_OK, load: 'failed' }), 'failed', { runAttempt: 2 });
    const scheduler = new Scheduler(spec, { now: 0, maxParallel: 0, params: PARAMS, previous: plan.previous });
    expect(scheduler.start()).toEqual([{ type: 'start', task: 'load', attempt: 1 }]);
  });
});

describe('taskFingerprint', () => {
  it('is the same for the same task and params, whatever the key order of pod fields', () => {
    const a = { ...task('t'), pod: { nodeSelector: { a: '1', b: '2' }, serviceAccountName: 'x' } };
    const b = { ...task('t'), pod: { serviceAccountName: 'x', nodeSelector: { b: '2', a: '1' } } };
    expect(taskFingerprint(a, {})).toEqual(taskFingerprint(b, {}));
  });

  it('leaves upstream output references as written (they are known only when the task starts)', () => {
    const t = { ...task('t'), args: ['{{ tasks.up.outputs.path }}', '{{params.db}}'] };
    expect(taskFingerprint(t, { db: 'a' }).fields['args']).toBe(taskFingerprint({ ...t, args: ['{{ tasks.up.outputs.path }}', 'a'] }, {}).fields['args']);
    expect(taskFingerprint(t, { db: 'a' }).fields['args']).not.toBe(taskFingerprint(t, { db: 'b' }).fields['args']);
  });

  it('names removed and changed fields', () => {
    const before = taskFingerprint({ ...task('t'), env: [{ name: 'A', value: '1' }], pod: { nodeSelector: { a: '1' } } }, {});
    const after = taskFingerprint({ ...task('t'), image: 'alpine:3', env: [{ name: 'A', value: '2' }] }, {});
    expect(fingerprintChange(before, after)).toBe('image changed from busybox:1.36 to alpine:3; env A changed; pod field nodeSelector removed');
    expect(fingerprintChange(before, before)).toBeNull();
  });
});

describe('the stored state', () => {
  it('round-trips through JSON', () => {
    const state = storedAfter(pipeline(), { ...ALL_OK, load: 'failed' });
    expect(parseRunState(serializeRunState(state), 'test')).toEqual(state);
  });

  it('refuses a version it does not know, saying which and what to do', () => {
    const text = serializeRunState({ ...emptyRunState('d', '1', 0), version: 9 as 1 });
    expect(() => parseRunState(text, 'ConfigMap ns/x')).toThrow(RunStateFormatError);
    expect(() => parseRunState(text, 'ConfigMap ns/x')).toThrow(/ConfigMap ns\/x: state.json has version 9, but .* reads version 1.*delete the ConfigMap/);
  });

  it('refuses broken JSON and broken entries, naming the task', () => {
    expect(() => parseRunState('{', 'cm')).toThrow(/cm: state.json is not valid JSON/);
    const state = storedAfter(pipeline(), ALL_OK) as unknown as { tasks: Record<string, Record<string, unknown>> };
    state.tasks['load']!['outputs'] = { n: 1 };
    expect(() => parseRunState(JSON.stringify(state), 'cm')).toThrow(/bad entry for task "load": outputs/);
    const attempt = storedAfter(pipeline(), ALL_OK) as unknown as { tasks: Record<string, { attempts: Record<string, unknown>[] }> };
    attempt.tasks['load']!.attempts[0]!['class'] = 'exploded';
    expect(() => parseRunState(JSON.stringify(attempt), 'cm')).toThrow(/bad entry for task "load": attempts\[0\]\.class: .*delete the ConfigMap/);
    const run = { ...storedAfter(pipeline(), ALL_OK), runAttempts: [{ runAttempt: 1, startedAt: 0, finishedAt: null, result: 'maybe' }] };
    expect(() => parseRunState(JSON.stringify(run), 'cm')).toThrow(/cm: state.json has a bad runAttempts\[0\]\.result: /);
  });

  it('keeps every attempt of the current run attempt, and starts afresh in a new one', () => {
    const t = task('t');
    let state = emptyRunState('d', '1', 0);
    state = applyTaskUpdate(state, update(t, 1, 1, 'failed', null), 1);
    state = applyTaskUpdate(state, update(t, 1, 2, 'failed', 'failed'), 2);
    expect(state.tasks['t']).toMatchObject({ result: 'failed', attempt: 2, runAttempt: 1 });
    expect(state.tasks['t']!.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    state = applyTaskUpdate(state, update(t, 2, 1, 'succeeded', 'succeeded'), 3);
    expect(state.tasks['t']).toMatchObject({ result: 'succeeded', attempt: 1, runAttempt: 2, outputs: { rows: 't-rows' } });
    expect(state.tasks['t']!.attempts.map((a) => a.attempt)).toEqual([1]);
  });

  it('applying the same update twice changes nothing; an older run attempt never overwrites a newer one', () => {
    const t = task('t');
    const once = applyTaskUpdate(emptyRunState('d', '1', 0), update(t, 2, 1, 'failed', null), 5);
    expect(applyTaskUpdate(once, update(t, 2, 1, 'failed', null), 5)).toEqual(once);
    expect(applyTaskUpdate(once, update(t, 1, 3, 'succeeded', 'succeeded'), 6)).toBe(once);
  });

  it('drops the largest outputs first to fit, marks them, and a re-run runs those tasks again', () => {
    const spec = pipeline();
    let state = storedAfter(spec, ALL_OK);
    const big = { ...state.tasks['extract']!, outputs: { blob: 'x'.repeat(5000) } };
    state = { ...state, tasks: { ...state.tasks, extract: big } };
    const limit = Buffer.byteLength(serializeRunState(state)) - 1000;
    const fitted = fitRunState(state, limit);
    expect(fitted.dropped).toEqual(['extract']);
    expect(Buffer.byteLength(fitted.text)).toBeLessThanOrEqual(limit);
    expect(fitted.state.tasks['transform']!.outputs).toEqual({ rows: 'transform-rows' });
    const plan = planRerun(spec, PARAMS, parseRunState(fitted.text, 'cm'), 'failed', { runAttempt: 2 });
    expect(plan.rerun.find((r) => r.task === 'extract')?.reason).toMatch(/outputs from run attempt 1 were not kept/);
  });

  it('records each run attempt starting and ending; a restart of the same attempt keeps its start and reopens it', () => {
    let state = markRunAttempt(emptyRunState('d', '1', 0), 1, 100);
    state = markRunAttempt(state, 1, 200, 'failure');
    state = markRunAttempt(state, 2, 300);
    expect(state.runAttempts).toEqual([
      { runAttempt: 1, startedAt: 100, finishedAt: 200, result: 'failure' },
      { runAttempt: 2, startedAt: 300, finishedAt: null, result: null },
    ]);
    state = markRunAttempt(markRunAttempt(state, 2, 400, 'success'), 2, 500);
    expect(state.runAttempts[1]).toEqual({ runAttempt: 2, startedAt: 300, finishedAt: null, result: null });
    expect(parseRunState(serializeRunState(state), 'cm')).toEqual(state);
  });

  it('fails clearly when the state cannot fit even without outputs', () => {
    expect(() => fitRunState(storedAfter(pipeline(), ALL_OK), 100)).toThrow(/even without task outputs, more than the 100 bytes a ConfigMap can hold; split the DAG/);
  });
});
