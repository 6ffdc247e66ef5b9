/**
 * Cancellation as the runner does it, through the bundled action: SIGINT to the running
 * dist/index.js, then (7.5 s later) the runner's SIGTERM and kill, emulated here as a SIGKILL
 * deadline: a step still alive then has failed the test (it would have been killed). Then the post
 * step (dist/post.js) with the state the main step saved. And a main step SIGKILLed mid-run,
 * whose post step sweeps the live pods it left, keeping finished ones per keep-pods.
 */
import { describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { fileCluster, show, workspace } from '../helpers/e2e.ts';
import { runStep, stepScope } from '../harness/action.ts';

const NS = 'jobs';
/** The runner's window between SIGINT and SIGTERM (then it kills the step). */
const RUNNER_GRACE_MS = 7_500;

const cluster = fileCluster({ namespaces: [NS] });

/** The names of one GitHub run's pods still in the cluster (not being deleted), sorted. */
const podsOfRun = async (runId: string) =>
  (await cluster().pods(NS))
    .map((p) => p.metadata!.name!)
    .filter((name) => name.includes(`-${runId}-`))
    .sort();
const starts = (pod: string) => cluster().containerStarts(NS, pod);

/** A task that logs `line` as soon as it starts, then runs until stopped. */
const forever = (id: string, line: string, extra = '') => `  ${id}:\n    image: "sandbox/sleep:forever"\n    env: {SANDBOX_LOG: "${line}"}\n${extra}`;

describe('cancellation', () => {
  it('SIGINT while tasks run: the step ends within the runner\'s window, result cancelled, no pod left; the post step runs cleanly', async () => {
    const runId = '4000001';
    const dir = await workspace(['version: 1', 'name: cancel-me', `namespace: ${NS}`, 'tasks:', forever('long', 'long is working'), forever('wide', 'wide is working'), '  later: {image: sandbox/succeed, needs: [long]}', ''].join('\n'));
    const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'on-failure' };
    let seen = 0;
    let deadline: NodeJS.Timeout | null = null;
    let killedAtDeadline = false;
    const main = await runStep({
      inputs,
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
      deadlineMs: 90_000,
      onLine: (line, step) => {
        // Cancel once both tasks have logged their first line: both pods are running.
        if (/\[(long|wide)\] \w+ is working/.test(line)) seen += 1;
        if (seen === 2 && deadline === null) {
          step.signal('SIGINT');
          deadline = setTimeout(() => {
            killedAtDeadline = true;
            step.signal('SIGKILL');
          }, RUNNER_GRACE_MS);
        }
      },
    });
    if (deadline !== null) clearTimeout(deadline);

    expect(deadline, show(main)).not.toBeNull(); // the signal was sent while the tasks ran
    expect(killedAtDeadline, `the step outlived the runner's ${RUNNER_GRACE_MS} ms window:\n${show(main)}`).toBe(false);
    expect(main.signal).toBeNull();
    expect(main.exitCode, show(main)).toBe(1);
    expect(main.outputs['result']).toBe('cancelled');
    expect(main.commands.filter((c) => c.command === 'error').at(-1)!.message).toMatch(/cancelled/);
    expect(main.maskedLog).toMatch(/Received SIGINT/);
    expect(await podsOfRun(runId), show(main)).toEqual([]);
    const name = (task: string) => podName({ dag: 'cancel-me', runId, scope: stepScope(), runAttempt: 1, task, attempt: 1 });
    expect(await starts(name('long'))).toBe(1);
    expect(await starts(name('later'))).toBe(0);

    // The post step, as the runner runs it after a cancelled main step: nothing to do, no warning.
    expect(main.state['runs']).toBeTruthy();
    const post = await runStep({ entry: 'post', inputs, state: main.state, env: { GITHUB_RUN_ID: runId }, cwd: dir, deadlineMs: 60_000 });
    expect(post.exitCode, show(post)).toBe(0);
    expect(post.commands.filter((c) => c.command === 'warning' || c.command === 'error')).toEqual([]);
    for (const secret of cluster().secrets) expect(post.maskedLog).not.toContain(secret);
    expect(await podsOfRun(runId)).toEqual([]);
  });

  it('SIGINT then SIGTERM at once (a second signal changes nothing): still cancelled cleanly, no pod left', async () => {
    const runId = '4000002';
    const dir = await workspace(['version: 1', 'name: cancel-twice', `namespace: ${NS}`, 'tasks:', forever('long', 'long is working'), ''].join('\n'));
    let sent = false;
    const main = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
      deadlineMs: 90_000,
      onLine: (line, step) => {
        if (!sent && line.includes('[long] long is working')) {
          sent = true;
          step.signal('SIGINT');
          step.signal('SIGTERM');
        }
      },
    });
    expect(sent, show(main)).toBe(true);
    expect(main.signal, show(main)).toBeNull();
    expect(main.exitCode).toBe(1);
    expect(main.outputs['result']).toBe('cancelled');
    expect(await podsOfRun(runId)).toEqual([]);
  });

  it('SIGINT before any pod exists (while connecting): result cancelled, nothing created', async () => {
    const runId = '4000003';
    const dir = await workspace(['version: 1', 'name: cancel-early', `namespace: ${NS}`, 'tasks:', forever('long', 'long is working'), ''].join('\n'));
    cluster().resetRequests();
    let sent = false;
    const main = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
      deadlineMs: 90_000,
      onLine: (line, step) => {
        // The first line about the cluster comes before the preflight and before any create.
        if (!sent && line.startsWith('Cluster ')) {
          sent = true;
          step.signal('SIGINT');
        }
      },
    });
    expect(sent, show(main)).toBe(true);
    expect(main.exitCode, show(main)).toBe(1);
    expect(main.outputs['result']).toBe('cancelled');
    expect(await cluster().requests('create', 'pods')).toBe(0);
    expect(await podsOfRun(runId)).toEqual([]);
  });

  describe('a main step SIGKILLed mid-run: the post step deletes the live pods, and keeps the ended ones it had not recorded yet, whatever keep-pods says', () => {
    const cases = [
      // keep-pods, the finished task (its pod ended before the kill), its image, and whether keep-pods keeps its pod
      { keepPods: 'on-failure', finished: 'bad', image: 'sandbox/exit:3', runId: '4000011', kept: true },
      { keepPods: 'always', finished: 'ok', image: 'sandbox/succeed', runId: '4000012', kept: true },
      { keepPods: 'never', finished: 'bad', image: 'sandbox/exit:3', runId: '4000013', kept: false },
      // on-failure keeps failed pods only: a succeeded pod a crash left behind goes too.
      { keepPods: 'on-failure', finished: 'ok', image: 'sandbox/succeed', runId: '4000014', kept: false },
    ] as const;
    for (const c of cases) {
      it(`keep-pods ${c.keepPods}`, async () => {
        const dag = `killed-${c.keepPods}`;
        const dir = await workspace(
          ['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'tasks:', `  ${c.finished}: {image: "${c.image}", retries: {limit: 0}}`, forever('long', 'long is working', `    needs: [${c.finished}]\n    if: always()\n`), ''].join('\n'),
        );
        const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': c.keepPods };
        const main = await runStep({
          inputs,
          env: { GITHUB_RUN_ID: c.runId },
          cwd: dir,
          deadlineMs: 90_000,
          onLine: (line, step) => {
            if (/\[long\] long is working/.test(line)) step.signal('SIGKILL');
          },
        });
        expect(main.signal, show(main)).toBe('SIGKILL');
        const name = (task: string) => podName({ dag, runId: c.runId, scope: stepScope(), runAttempt: 1, task, attempt: 1 });
        // The kill left the long task's pod running.
        expect(await podsOfRun(c.runId)).toContain(name('long'));

        const post = await runStep({ entry: 'post', inputs, state: main.state, env: { GITHUB_RUN_ID: c.runId }, cwd: dir, deadlineMs: 60_000 });
        expect(post.exitCode, show(post)).toBe(0);
        expect(post.commands.filter((cmd) => cmd.command === 'warning' || cmd.command === 'error'), show(post)).toEqual([]);
        expect(post.maskedLog).toMatch(new RegExp(`Deleted \\d+ leftover pods? of run ${c.runId}: .*long`));
        const left = await podsOfRun(c.runId);
        expect(left).not.toContain(name('long'));
        // The finished task's end was not recorded yet (records go in batches with the deletes):
        // its pod is the only record, and stays for a re-run, whatever keep-pods says.
        expect(left).toEqual([name(c.finished)]);
        // keep-pods keeps it anyway (kept), or it stays because the run's state lacks its end.
        const unrecorded = new RegExp(`Kept 1 ended pod of run ${c.runId}: the run's state does not record how its task ended[^\\n]*${name(c.finished)}`);
        if (c.kept) expect(post.maskedLog).not.toMatch(/Kept \d+ ended pod/);
        else expect(post.maskedLog).toMatch(unrecorded);
        expect(await starts(name('long'))).toBe(1);
      });
    }

    it('keep-pods never: the re-run of the job reuses the task that succeeded before the kill, and does not run it again', async () => {
      const dag = 'killed-rerun';
      const runId = '4000015';
      const dir = await workspace(['version: 1', `name: ${dag}`, `namespace: ${NS}`, 'tasks:', '  ok: {image: sandbox/succeed}', forever('long', 'long is working', '    needs: [ok]\n'), ''].join('\n'));
      const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' };
      const name = (task: string, runAttempt: number) => podName({ dag, runId, scope: stepScope(), runAttempt, task, attempt: 1 });
      const main = await runStep({
        inputs,
        env: { GITHUB_RUN_ID: runId },
        cwd: dir,
        deadlineMs: 90_000,
        onLine: (line, step) => {
          if (/\[long\] long is working/.test(line)) step.signal('SIGKILL');
        },
      });
      expect(main.signal, show(main)).toBe('SIGKILL');
      const post = await runStep({ entry: 'post', inputs, state: main.state, env: { GITHUB_RUN_ID: runId }, cwd: dir, deadlineMs: 60_000 });
      expect(post.exitCode, show(post)).toBe(0);
      expect(await podsOfRun(runId)).toEqual([name('ok', 1)]);

      // The job re-run (run attempt 2, the failed tasks): ok ended unseen by attempt 1's runner,
      // its pod says it succeeded, so it is recorded and reused; long runs again.
      const rerun = await runStep({
        inputs,
        env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' },
        cwd: dir,
        deadlineMs: 90_000,
        onLine: (line, step) => {
          if (/\[long\] long is working/.test(line)) step.signal('SIGINT');
        },
      });
      expect(rerun.maskedLog, show(rerun)).toMatch(/ok: its pod of run attempt 1 \(attempt 1\) ended unseen by that attempt's runner: succeeded/);
      expect(rerun.maskedLog).toMatch(/ok: succeeded in run attempt 1; reusing its result and outputs/);
      expect(await starts(name('ok', 1))).toBe(1);
      expect(await starts(name('ok', 2))).toBe(0);
      expect(await starts(name('long', 2))).toBe(1);
    });
  });
});
