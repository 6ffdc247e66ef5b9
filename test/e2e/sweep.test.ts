/**
 * The post step's sweep through the bundled action (dist/index.js, then dist/post.js with the
 * state the main step saved), as the runner runs them: what it deletes and what it must keep.
 *
 * - A main step that ended normally but could not write its last records: the ended pod whose end
 *   the run's state lacks is its task's only record; the post step keeps it, and the re-run of
 *   the job reuses the task instead of running it twice.
 * - A step refused at its claim (another step the action cannot tell from it runs the same run):
 *   its post step leaves the other step's pods alone.
 * - Such a step killed just before its claim: its post step leaves the running step's pods alone
 *   too (it saved no keys: the run's state tells whose they are).
 * - A re-run cancelled while it waits for the pods an earlier, killed attempt left running: its post
 *   step deletes them too.
 * - A backfill with backfill-parallel 2 whose main step is killed while two runs overlap: the
 *   post step deletes the live pods of both runs, not only the latest started.
 */
import { describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { fileCluster, show, workspace } from '../helpers/e2e.ts';
import { itOnSandbox } from '../helpers/cluster.ts';
import { runStep, stepScope, type StepResult } from '../harness/action.ts';

const NS = 'sweep';
const cluster = fileCluster({ namespaces: [NS] });

/** The names of the pods in the namespace whose names hold `part` (not being deleted), sorted. */
const podsWith = async (part: string) =>
  (await cluster().pods(NS))
    .map((p) => p.metadata!.name!)
    .filter((name) => name.includes(part))
    .sort();
const starts = (pod: string) => cluster().containerStarts(NS, pod);

/** A task that logs `line` as soon as it starts, then runs until stopped. */
const forever = (id: string, line: string) => `  ${id}:\n    image: "sandbox/sleep:forever"\n    env: {SANDBOX_LOG: "${line}"}\n`;

describe('the post step sweep', () => {
  itOnSandbox("a main step whose last records could not be written (sandbox fault): the post step keeps the ended pod that is its task's only record, and the re-run reuses the task", async () => {
    const sandbox = cluster().sandbox!;
    const dag = 'unwritten';
    const runId = '4100001';
    const dir = await workspace(['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'tasks:', '  ok: {image: sandbox/succeed}', '  bad: {image: "sandbox/exit:3", retries: {limit: 0}}', ''].join('\n'));
    const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'on-failure' };
    const name = (task: string, runAttempt: number) => podName({ dag, runId, scope: stepScope(), runAttempt, task, attempt: 1 });
    // Once the run's state exists (its claim and key are written before any pod is created), every
    // write of it fails: the ends of ok and bad, deferred while their pods stay, are never written.
    let faulted = false;
    let main;
    try {
      main = await runStep({
        inputs,
        env: { GITHUB_RUN_ID: runId },
        cwd: dir,
        deadlineMs: 120_000,
        onLine: (line) => {
          if (!faulted && / created pod /.test(line)) {
            faulted = true;
            sandbox.faults.serverErrors({ share: 1, verbs: ['create', 'update'], resources: ['configmaps'] });
          }
        },
      });
    } finally {
      sandbox.faults.clear();
    }
    expect(faulted, show(main)).toBe(true);
    // The run itself ended normally: bad failed, ok succeeded; only the records are missing.
    expect(main.signal, show(main)).toBeNull();
    expect(main.outputs['result'], show(main)).toBe('failure');
    // One warning for every record lost, naming the pods kept in their stead and what comes next.
    const unwritten = main.commands.filter((c) => c.command === 'warning' && /Could not record the end/.test(c.message));
    expect(unwritten, show(main)).toHaveLength(1);
    expect(unwritten[0]!.message).toMatch(/^Could not record the end of the run \(.*\), nor the end of 2 attempts in the run's state/);
    expect(unwritten[0]!.message).toContain(`bad attempt 1 (pod ${name('bad', 1)}), ok attempt 1 (pod ${name('ok', 1)})`);
    expect(unwritten[0]!.message).toContain('a re-run of this job records their ends from these pods');
    // The engine kept ok's pod: its end is recorded nowhere else.
    expect(await podsWith(`${dag}-${runId}-`)).toEqual([name('bad', 1), name('ok', 1)].sort());

    const post = await runStep({ entry: 'post', inputs, state: main.state, env: { GITHUB_RUN_ID: runId }, cwd: dir, deadlineMs: 60_000 });
    expect(post.exitCode, show(post)).toBe(0);
    expect(post.commands.filter((c) => c.command === 'warning' || c.command === 'error'), show(post)).toEqual([]);
    expect(post.maskedLog).toMatch(new RegExp(`Kept 1 ended pod of run ${runId}: the run's state does not record how its task ended[^\\n]*${name('ok', 1)}`));
    // bad's pod stays too (keep-pods on-failure).
    expect(await podsWith(`${dag}-${runId}-`)).toEqual([name('bad', 1), name('ok', 1)].sort());

    // The job re-run: ok's pod says it succeeded; it is recorded and reused, not run again.
    const rerun = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: dir, deadlineMs: 90_000 });
    expect(rerun.maskedLog, show(rerun)).toMatch(/ok: its pod of run attempt 1 \(attempt 1\) ended unseen by that attempt's runner: succeeded/);
    expect(rerun.maskedLog).toMatch(/ok: succeeded in run attempt 1; reusing its result and outputs/);
    expect(await starts(name('ok', 1))).toBe(1);
    expect(await starts(name('ok', 2))).toBe(0);
    expect(await starts(name('bad', 2))).toBe(1);
  });

  it('a backfill (backfill-parallel 2) killed while two runs overlap: the post step deletes the live pods of both runs', async () => {
    const dag = 'killed-backfill';
    const runId = '4100002';
    const dir = await workspace(['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'tasks:', forever('long', 'long is working'), ''].join('\n'));
    const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never', 'backfill-from': '2026-11-29', 'backfill-to': '2026-12-01', 'backfill-parallel': '2' };
    const name = (date: string) => podName({ dag, runId: `${runId}-${date}`, scope: stepScope(), runAttempt: 1, task: 'long', attempt: 1 });
    let working = 0;
    const main = await runStep({
      inputs,
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
      deadlineMs: 90_000,
      onLine: (line, step) => {
        // Both runs of the first two dates have their pod running: kill the step.
        if (/\[long\] long is working/.test(line) && ++working === 2) step.signal('SIGKILL');
      },
    });
    expect(main.signal, show(main)).toBe('SIGKILL');
    expect(await podsWith(`${dag}-${runId}-`)).toEqual([name('20261129t000000z'), name('20261130t000000z')]);

    const post = await runStep({ entry: 'post', inputs, state: main.state, env: { GITHUB_RUN_ID: runId }, cwd: dir, deadlineMs: 60_000 });
    expect(post.exitCode, show(post)).toBe(0);
    expect(post.commands.filter((c) => c.command === 'warning' || c.command === 'error'), show(post)).toEqual([]);
    expect(await podsWith(`${dag}-${runId}-`), show(post)).toEqual([]);
    expect(post.maskedLog).toContain(`Deleted 2 leftover pods of the 3 runs of the backfill: ${name('20261129t000000z')}, ${name('20261130t000000z')}`);
    expect(await podsWith(`${dag}-${runId}-`)).toEqual([]);
  });

  it("a step refused at its claim (one reusable workflow called twice): its post step leaves the pods of the step that runs alone", async () => {
    const dag = 'claimed';
    const runId = '4100003';
    const dir = await workspace(['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'params: {region: nowhere}', 'tasks:', forever('long', 'long is working'), ''].join('\n'));
    // The same job, step and no matrix: only the params and the job's check run tell them apart.
    const as = (region: string, checkRunId: number) => ({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never', params: `region: ${region}` },
      env: { GITHUB_RUN_ID: runId },
      job: { checkRunId },
      cwd: dir,
    });
    const name = podName({ dag, runId, scope: stepScope(as('eu', 1)), runAttempt: 1, task: 'long', attempt: 1 });
    let second: Promise<{ refused: StepResult; post: StepResult; left: string[] }> | null = null;
    const first = await runStep({
      ...as('eu', 701),
      deadlineMs: 120_000,
      onLine: (line, step) => {
        if (second !== null || !/\[long\] long is working/.test(line)) return;
        second = (async () => {
          try {
            const refused = await runStep({ ...as('us', 702), deadlineMs: 60_000 });
            const post = await runStep({ ...as('us', 702), entry: 'post', state: refused.state, deadlineMs: 60_000 });
            return { refused, post, left: await podsWith(`${dag}-${runId}-`) };
          } finally {
            step.signal('SIGINT');
          }
        })();
      },
    });
    expect(second, show(first)).not.toBeNull();
    const { refused, post, left } = await second!;
    expect(refused.exitCode, show(refused)).toBe(1);
    expect(refused.maskedLog).toContain("Give each its own 'run-key' input");
    expect(post.exitCode, show(post)).toBe(0);
    expect(post.maskedLog, show(post)).not.toMatch(/Deleted/);
    // The first step's pod ran on, until the first step itself was cancelled.
    expect(left, show(post)).toEqual([name]);
    expect(first.outputs['result'], show(first)).toBe('cancelled');
    expect(first.maskedLog).not.toMatch(/\[long\] .*(deleted by someone else|infrastructure)/);
  });

  itOnSandbox("a step killed just before its claim while a step the action cannot tell from it runs (sandbox hook): its post step leaves that step's pods alone", async () => {
    const sandbox = cluster().sandbox!;
    const dag = 'early-kill';
    const runId = '4100004';
    const dir = await workspace(['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'params: {region: nowhere}', 'tasks:', forever('long', 'long is working'), ''].join('\n'));
    const as = (region: string, checkRunId: number) => ({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never', params: `region: ${region}` },
      env: { GITHUB_RUN_ID: runId },
      job: { checkRunId },
      cwd: dir,
    });
    const name = podName({ dag, runId, scope: stepScope(as('eu', 1)), runAttempt: 1, task: 'long', attempt: 1 });
    let second: Promise<{ killed: StepResult; post: StepResult; left: string[] }> | null = null;
    const first = await runStep({
      ...as('eu', 801),
      deadlineMs: 120_000,
      onLine: (line, step) => {
        if (second !== null || !/\[long\] long is working/.test(line)) return;
        second = (async () => {
          try {
            // The second step is killed when it reads the run's state for its claim: after it
            // saved the post step its runs, before it saved any key (the first step reads no state
            // while its task runs, so this request is the second's).
            let kill: (() => void) | null = null;
            const stop = sandbox.onRequest((e) => {
              if (e.phase === 'received' && e.verb === 'list' && e.resource === 'configmaps') kill?.();
            });
            const killed = await runStep({
              ...as('us', 802),
              deadlineMs: 60_000,
              onLine: (_l, s) => {
                kill ??= () => s.signal('SIGKILL');
              },
            }).finally(stop);
            const post = await runStep({ ...as('us', 802), entry: 'post', state: killed.state, deadlineMs: 60_000 });
            return { killed, post, left: await podsWith(`${dag}-${runId}-`) };
          } finally {
            step.signal('SIGINT');
          }
        })();
      },
    });
    expect(second, show(first)).not.toBeNull();
    const { killed, post, left } = await second!;
    expect(killed.signal, show(killed)).toBe('SIGKILL');
    expect(JSON.parse(killed.state['runs']!)).toMatchObject({ runIds: [runId] });
    expect(killed.state['keys']).toBeUndefined();
    expect(post.exitCode, show(post)).toBe(0);
    expect(post.commands.filter((c) => c.command === 'warning' || c.command === 'error'), show(post)).toEqual([]);
    expect(post.maskedLog, show(post)).not.toMatch(/Deleted/);
    expect(left, show(post)).toEqual([name]);
    expect(first.outputs['result'], show(first)).toBe('cancelled');
  });

  it("a re-run cancelled while it waits for the pod a killed earlier attempt left running: its post step deletes that pod", async () => {
    const dag = 'killed-then-cancelled';
    const runId = '4100005';
    const dir = await workspace(['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'tasks:', forever('long', 'long is working'), ''].join('\n'));
    const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' };
    const name = (runAttempt: number) => podName({ dag, runId, scope: stepScope(), runAttempt, task: 'long', attempt: 1 });
    const first = await runStep({
      inputs,
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
      deadlineMs: 90_000,
      onLine: (line, step) => {
        if (/\[long\] long is working/.test(line)) step.signal('SIGKILL');
      },
    });
    expect(first.signal, show(first)).toBe('SIGKILL');
    // The runner died with the job: no post step ran for attempt 1. The job is re-run, and cancelled
    // while it waits for attempt 1's pod, which still runs.
    const rerun = await runStep({
      inputs,
      env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' },
      cwd: dir,
      deadlineMs: 90_000,
      onLine: (line, step) => {
        if (line.startsWith('Waiting for 1 pod of an earlier attempt of this run')) step.signal('SIGINT');
      },
    });
    expect(rerun.maskedLog, show(rerun)).toMatch(/Cancelled while waiting for the pods of an earlier run attempt/);
    expect(rerun.outputs['result']).toBe('cancelled');
    expect(await podsWith(`${dag}-${runId}-`)).toEqual([name(1)]);

    const post = await runStep({ entry: 'post', inputs, state: rerun.state, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: dir, deadlineMs: 60_000 });
    expect(post.exitCode, show(post)).toBe(0);
    expect(post.commands.filter((c) => c.command === 'warning' || c.command === 'error'), show(post)).toEqual([]);
    expect(post.maskedLog).toContain(`Deleted 1 leftover pod of run ${runId}: ${name(1)}`);
    expect(await podsWith(`${dag}-${runId}-`)).toEqual([]);
    expect(await starts(name(2))).toBe(0);
  });
});
