/**
 * A run's identity is the step's that runs it, through the bundled action (dist/index.js) as the
 * runner drives it: the legs of a matrix and the steps of a job that run the same DAG in one
 * workflow run each run their own tasks, with their own params, pods, state and outputs, one
 * after the other or at once; a re-run of one leg reuses that leg's successes only; two runs the
 * action cannot tell apart (one reusable workflow called twice) stop the second before it creates
 * anything, saying to set `run-key`; long job, step and leg names still give valid names.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyRunState, markRunAttempt, serializeRunState } from '../../src/dag/rerun.ts';
import { podName } from '../../src/kube/pod.ts';
import { runStateLabels, runStateName, STATE_KEY } from '../../src/kube/run-store.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { DEFAULT_STEP, runStep, stepScope, type JobContexts, type StepOptions, type StepResult } from '../harness/action.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

/*
 *   extract ──► load
 *
 * extract outputs the region it was given; load outputs what it read from extract. The images
 * are params, so a leg can fail (`load_image: sandbox/exit:3`) or take its time.
 */
const SPEC = [
  'version: 1',
  'name: ident',
  'params:',
  '  region: nowhere',
  '  extract_image: sandbox/succeed',
  '  load_image: sandbox/succeed',
  'tasks:',
  '  extract:',
  '    image: "{{ params.extract_image }}"',
  '    env: {SANDBOX_TERMINATION_MESSAGE: "region={{ params.region }}"}',
  '  load:',
  '    needs: [extract]',
  '    image: "{{ params.load_image }}"',
  '    env: {SANDBOX_TERMINATION_MESSAGE: "loaded={{ tasks.extract.outputs.region }}"}',
  '',
].join('\n');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-ident-'));
  await writeFile(path.join(dir, 'dag.yaml'), SPEC);
});

const show = (step: StepResult) => `exit ${step.exitCode}\n${step.maskedLog}\n${step.stderr}`;

/** One step's options: a matrix leg (`region`), or any other job contexts, params and env. */
function step(o: { runId: string; runAttempt?: number; params: Record<string, string>; job?: JobContexts; env?: Record<string, string>; inputs?: Record<string, string> }): StepOptions {
  return {
    inputs: {
      dag: 'dag.yaml',
      kubeconfig: sandbox.kubeconfig(),
      'keep-pods': 'never',
      params: Object.entries(o.params)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
      ...o.inputs,
    },
    env: { GITHUB_RUN_ID: o.runId, GITHUB_RUN_ATTEMPT: String(o.runAttempt ?? 1), ...o.env },
    job: o.job,
    cwd: dir,
  };
}

/** The leg `region` of a matrix over `region: [eu, us]`, with `params: "region: ${{ matrix.region }}"`. */
function leg(region: 'eu' | 'us', o: { runId: string; runAttempt?: number; params?: Record<string, string> }): StepOptions {
  const index = region === 'eu' ? 0 : 1;
  return step({ ...o, params: { region, ...o.params }, job: { matrix: { region }, checkRunId: 900 + index + 10 * (o.runAttempt ?? 1) } });
}

/** Container starts of a task's attempt-1 pod of run attempt `runAttempt`, for the step run with `options`. */
const starts = (options: StepOptions, task: string, runAttempt = 1): number =>
  sandbox.containerStarts(podName({ dag: 'ident', runId: options.env!['GITHUB_RUN_ID']!, scope: stepScope(options), runAttempt, task, attempt: 1 }));

const outputsOf = (s: StepResult): unknown => JSON.parse(s.outputs['outputs'] ?? 'null');

describe('two legs of a matrix running the same DAG in one workflow run', () => {
  it('one after the other: each runs its own tasks with its own params and outputs, and the summary names its leg', async () => {
    const eu = leg('eu', { runId: '7400001' });
    const us = leg('us', { runId: '7400001' });
    expect(stepScope(eu)).not.toBe(stepScope(us));
    const first = await runStep(eu);
    expect(first.exitCode, show(first)).toBe(0);
    const second = await runStep(us);
    expect(second.exitCode, show(second)).toBe(0);

    expect(outputsOf(first)).toEqual({ extract: { region: 'eu' }, load: { loaded: 'eu' } });
    expect(outputsOf(second)).toEqual({ extract: { region: 'us' }, load: { loaded: 'us' } });
    expect(second.maskedLog).not.toContain('already ran');
    for (const [options, s] of [
      [eu, first],
      [us, second],
    ] as const) {
      for (const task of ['extract', 'load']) expect(starts(options, task), `${task} ${show(s)}`).toBe(1);
    }
    expect(first.summary).toContain('ident (region: eu) succeeded');
    expect(second.summary).toContain('ident (region: us) succeeded');
  });

  it('at once: neither adopts the other pods, each runs its own tasks with its own outputs', async () => {
    const slow = { extract_image: 'sandbox/sleep:1' };
    const eu = leg('eu', { runId: '7400002', params: slow });
    const us = leg('us', { runId: '7400002', params: slow });
    const [a, b] = await Promise.all([runStep(eu), runStep(us)]);
    expect(a.exitCode, show(a)).toBe(0);
    expect(b.exitCode, show(b)).toBe(0);
    expect(outputsOf(a)).toEqual({ extract: { region: 'eu' }, load: { loaded: 'eu' } });
    expect(outputsOf(b)).toEqual({ extract: { region: 'us' }, load: { loaded: 'us' } });
    for (const options of [eu, us]) for (const task of ['extract', 'load']) expect(starts(options, task), task).toBe(1);
  });

  it('a re-run of the failed leg (run attempt 2) reuses that leg successes only and runs the rest', async () => {
    const runId = '7400003';
    const eu = await runStep(leg('eu', { runId }));
    expect(eu.exitCode, show(eu)).toBe(0);
    const usFailing = leg('us', { runId, params: { load_image: 'sandbox/exit:3' } });
    const us1 = await runStep(usFailing);
    expect(us1.exitCode, show(us1)).toBe(1);
    expect(us1.outputs['failed-tasks']).toBe('["load"]');

    // "Re-run failed jobs": only leg us runs again, as run attempt 2, with load fixed.
    const usFixed = leg('us', { runId, runAttempt: 2 });
    const us2 = await runStep(usFixed);
    expect(us2.exitCode, show(us2)).toBe(0);
    expect(us2.maskedLog).toContain('extract: succeeded in run attempt 1; reusing its result and outputs');
    expect(outputsOf(us2)).toEqual({ extract: { region: 'us' }, load: { loaded: 'us' } });
    expect(starts(usFixed, 'extract', 2)).toBe(0);
    expect(starts(usFixed, 'load', 2)).toBe(1);
    // Leg eu's pods ran once, in run attempt 1, and nothing of eu ran again.
    const euOptions = leg('eu', { runId });
    expect([starts(euOptions, 'extract', 1), starts(euOptions, 'load', 1), starts(euOptions, 'extract', 2)]).toEqual([1, 1, 0]);
  });
});

describe('two steps of one job running the same DAG', () => {
  it('with the same params: each runs its own tasks (GITHUB_ACTION tells them apart)', async () => {
    const runId = '7400011';
    const one = step({ runId, params: { region: 'eu' } });
    const two = step({ runId, params: { region: 'eu' }, env: { GITHUB_ACTION: `${DEFAULT_STEP}_2` } });
    const before = sandbox.containerStarts();
    const a = await runStep(one);
    const b = await runStep(two);
    expect(a.exitCode, show(a)).toBe(0);
    expect(b.exitCode, show(b)).toBe(0);
    expect(b.maskedLog).not.toContain('already ran');
    expect(sandbox.containerStarts() - before).toBe(4);
    for (const options of [one, two]) for (const task of ['extract', 'load']) expect(starts(options, task), task).toBe(1);
  });

  it('that the action cannot tell apart (one reusable workflow called twice): the second stops before creating anything and names run-key; with run-key it runs', async () => {
    const runId = '7400012';
    // The same job id, step id and no matrix: only the params and the job's check run differ.
    const first = await runStep(step({ runId, params: { region: 'eu' }, job: { checkRunId: 701 } }));
    expect(first.exitCode, show(first)).toBe(0);

    let creates = 0;
    const stop = sandbox.onRequest((e) => {
      if (e.phase === 'received' && e.verb === 'create' && e.resource === 'pods') creates++;
    });
    const second = await runStep(step({ runId, params: { region: 'us' }, job: { checkRunId: 702 } })).finally(stop);
    expect(second.exitCode, show(second)).toBe(1);
    expect(creates).toBe(0);
    const error = second.commands.find((c) => c.command === 'error');
    expect(error?.message, show(second)).toMatch(/another step already started run attempt 1 of this same run \(run 7400012, job 'sync', step '__octo-org_pod-dag-action'\), and it is not this step/);
    expect(error?.message).toContain("Give each its own 'run-key' input");
    expect(error?.message).toContain('its params');
    expect(second.outputs['outputs'] ?? '{}').toBe('{}');

    const keyed = step({ runId, params: { region: 'us' }, job: { checkRunId: 702 }, inputs: { 'run-key': 'us' } });
    const third = await runStep(keyed);
    expect(third.exitCode, show(third)).toBe(0);
    expect(outputsOf(third)).toEqual({ extract: { region: 'us' }, load: { loaded: 'us' } });
    expect(starts(keyed, 'extract')).toBe(1);
    expect(third.summary).toContain('ident (run-key: us) succeeded');
  });

  it('at once and indistinguishable but for their params: one runs, the other stops before creating anything', async () => {
    const runId = '7400013';
    const slow = { extract_image: 'sandbox/sleep:1' };
    const [a, b] = await Promise.all([
      runStep(step({ runId, params: { region: 'eu', ...slow }, job: { checkRunId: 801 } })),
      runStep(step({ runId, params: { region: 'us', ...slow }, job: { checkRunId: 802 } })),
    ]);
    expect([a.exitCode, b.exitCode].sort(), `${show(a)}\n---\n${show(b)}`).toEqual([0, 1]);
    const [ok, stopped] = a.exitCode === 0 ? [a, b] : [b, a];
    expect(stopped.maskedLog).toContain("Give each its own 'run-key' input");
    expect(stopped.maskedLog).not.toContain('created pod');
    const region = (outputsOf(ok) as { extract: { region: string } }).extract.region;
    expect(outputsOf(ok)).toEqual({ extract: { region }, load: { loaded: region } });
    // Each task ran once: the stopped step neither created nor adopted a pod.
    expect(starts(step({ runId, params: {} }), 'extract')).toBe(1);
  });
});

describe('a re-run of a run that an earlier version of the action started', () => {
  it('says that the state it kept for every leg cannot be used, and runs every task again', async () => {
    const runId = '7400031';
    // The state as versions before run scopes kept it: one ConfigMap per run of the DAG, named without the scope.
    const old = markRunAttempt(emptyRunState('ident', runId, Date.now() - 60_000), 1, Date.now() - 60_000, 'failure');
    // Labelled as they were (the run's labels, no scope): the run store finds a run's state by them.
    const kc = new KubeConfig();
    kc.loadFromString(sandbox.kubeconfig());
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: runStateName('ident', runId), labels: runStateLabels('ident', runId, 'octo-org/data-pipelines') }, data: { [STATE_KEY]: serializeRunState(old) } },
    });
    const rerun = leg('eu', { runId, runAttempt: 2 });
    const s = await runStep(rerun);
    expect(s.exitCode, show(s)).toBe(0);
    const warning = s.commands.find((c) => c.command === 'warning' && c.message.includes('earlier version of pod-dag-action'));
    expect(warning?.message, show(s)).toContain(`ConfigMap default/${runStateName('ident', runId)}`);
    expect(warning?.message).toContain('every task runs again');
    for (const task of ['extract', 'load']) expect(starts(rerun, task, 2), task).toBe(1);
  });
});

describe('names', () => {
  it('long job, step, matrix leg and run-key still give valid pod, label and ConfigMap names, distinct per leg', async () => {
    const runId = '7400021';
    const long = (region: string): StepOptions =>
      step({
        runId,
        params: { region },
        env: { GITHUB_JOB: `j${'-job'.repeat(24)}`, GITHUB_ACTION: `s${'_step'.repeat(19)}` },
        job: { matrix: { region: `${region}-${'x'.repeat(200)}`, nested: { list: [1, 2], flag: true } }, checkRunId: 1 },
        inputs: { 'run-key': `k${'ey'.repeat(49)}`, 'keep-pods': 'always' },
      });
    const eu = long('eu');
    const us = long('us');
    const a = await runStep(eu);
    const b = await runStep(us);
    expect(a.exitCode, show(a)).toBe(0);
    expect(b.exitCode, show(b)).toBe(0);
    expect(outputsOf(b)).toEqual({ extract: { region: 'us' }, load: { loaded: 'us' } });

    const pods = sandbox.list('pods', 'default').filter((p) => p.metadata.labels?.['pod-dag.io/run-id'] === runId);
    expect(pods).toHaveLength(4);
    for (const p of pods) {
      expect(p.metadata.name.length).toBeLessThanOrEqual(63);
      expect(p.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      for (const v of Object.values(p.metadata.labels ?? {})) expect(v.length).toBeLessThanOrEqual(63);
    }
    expect(new Set(pods.map((p) => p.metadata.labels?.['pod-dag.io/run-scope']))).toEqual(new Set([stepScope(eu), stepScope(us)]));
    expect(pods.find((p) => p.metadata.labels?.['pod-dag.io/run-scope'] === stepScope(us))?.metadata.annotations?.['pod-dag.io/matrix-leg']).toContain('"region":"us-xxx');
    // Each leg's state: its head and one shard.
    const states = sandbox.list('configmaps', 'default').filter((c) => c.metadata.labels?.['pod-dag.io/run-id'] === runId);
    const heads = [`pod-dag-ident-${runId}-${stepScope(eu)}`, `pod-dag-ident-${runId}-${stepScope(us)}`];
    expect(states.map((c) => c.metadata.name).sort()).toEqual([...heads, ...heads.map((h) => `${h}.shard-0`)].sort());
    for (const c of states) expect(c.metadata.name.length).toBeLessThanOrEqual(253);
  });
});
