/**
 * Never twice, through the bundled action (dist/index.js) as the runner drives it: a GitHub re-run
 * (same run id, next run attempt) runs only what did not succeed, reusing earlier outputs; the
 * `concurrency` lock keeps a second run out (skip or fail) while another run holds it.
 */
import { CoordinationV1Api, KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { concurrencyLeaseName } from '../../src/kube/lease.ts';
import { fileCluster, show, workspace } from '../helpers/e2e.ts';
import { runStep, stepScope } from '../harness/action.ts';
import { waitForPods } from '../rerun/helpers.ts';

const NS = 'default';
const cluster = fileCluster({ namespaces: [NS] });
const starts = (pod: string) => cluster().containerStarts(NS, pod);
/** Pods created by this file's identities (the audit log on the control plane, the sandbox's counters). */
const creates = async () => (await cluster().requests('create', 'pods')) ?? Number.NaN;

/** The coordination API, as this file's identity. */
function leases(): CoordinationV1Api {
  const kc = new KubeConfig();
  kc.loadFromString(cluster().kubeconfig());
  return kc.makeApiClient(CoordinationV1Api);
}

/*
 *   extract ──► load
 *
 * extract writes an output that load reads; load fails in run attempt 1 and is fixed for attempt 2.
 */
const spec = (loadImage: string) =>
  [
    'version: 1',
    'name: rerun-e2e',
    'tasks:',
    '  extract:',
    '    image: sandbox/succeed',
    '    env: {SANDBOX_TERMINATION_MESSAGE: "rows=42"}',
    '  load:',
    '    needs: [extract]',
    `    image: ${loadImage}`,
    '    args: ["{{ tasks.extract.outputs.rows }}"]',
    '',
  ].join('\n');

describe('re-running a failed GitHub run', () => {
  it('runs only the failed task again and reuses the outputs of the one that succeeded', async () => {
    const runId = '7000001';
    const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' };
    const first = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1' }, cwd: await workspace(spec('sandbox/exit:3')) });
    expect(first.exitCode, show(first)).toBe(1);
    expect(first.outputs['failed-tasks']).toBe('["load"]');

    // The fix lands; the user clicks "Re-run failed jobs": same run id, run attempt 2.
    const second = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: await workspace(spec('sandbox/succeed')) });
    expect(second.exitCode, show(second)).toBe(0);
    expect(second.outputs['result']).toBe('success');
    expect(JSON.parse(second.outputs['outputs']!)).toMatchObject({ extract: { rows: '42' } });
    expect(second.maskedLog).toContain('extract: succeeded in run attempt 1; reusing its result and outputs');
    expect(second.maskedLog).toMatch(/load runs: .+/);

    const name = (task: string, runAttempt: number) => podName({ dag: 'rerun-e2e', runId, scope: stepScope(), runAttempt, task, attempt: 1 });
    // extract ran once in all (attempt 1 of the run); load once per run attempt.
    expect(await starts(name('extract', 1))).toBe(1);
    expect(await starts(name('extract', 2))).toBe(0);
    expect(await starts(name('load', 1))).toBe(1);
    expect(await starts(name('load', 2))).toBe(1);
  });

  it('with rerun: all, runs everything again', async () => {
    const runId = '7000002';
    const inputs = { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' };
    const first = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1' }, cwd: await workspace(spec('sandbox/exit:3')) });
    expect(first.exitCode, show(first)).toBe(1);
    const second = await runStep({ inputs: { ...inputs, rerun: 'all' }, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: await workspace(spec('sandbox/succeed')) });
    expect(second.exitCode, show(second)).toBe(0);
    const name = (task: string, runAttempt: number) => podName({ dag: 'rerun-e2e', runId, scope: stepScope(), runAttempt, task, attempt: 1 });
    expect(await starts(name('extract', 2))).toBe(1);
  });
});

describe('a re-run after the runner of an earlier attempt died', () => {
  const inputs = () => ({ dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' });
  const oneTask = (image: string) => ['version: 1', 'name: rerun-dead', 'tasks:', `  long: {image: "${image}"}`, ''].join('\n');
  const name = (runId: string, runAttempt: number) => podName({ dag: 'rerun-dead', runId, scope: stepScope(), runAttempt, task: 'long', attempt: 1 });

  /** Run attempt 1, whose runner dies (SIGKILL) once its task's pod was created: nobody sees the pod end. */
  async function dyingFirstAttempt(runId: string, image: string): Promise<void> {
    const first = await runStep({
      inputs: inputs(),
      env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1' },
      cwd: await workspace(oneTask(image)),
      onLine: (line, step) => {
        if (/\[long\] created pod/.test(line)) step.signal('SIGKILL');
      },
    });
    expect(first.signal, show(first)).toBe('SIGKILL');
  }

  it('a task whose pod succeeded after its runner died is reused, not run again', async () => {
    const runId = '7000003';
    await dyingFirstAttempt(runId, 'sandbox/sleep:0.5');
    await waitForPods(cluster(), NS, `pod-dag.io/run-id=${runId}`, (pods) => pods.length === 1 && pods[0]!.status?.phase === 'Succeeded');
    const before = await creates();

    const second = await runStep({ inputs: inputs(), env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: await workspace(oneTask('sandbox/sleep:0.5')) });
    expect(second.exitCode, show(second)).toBe(0);
    expect(second.maskedLog).toContain('long: its pod of run attempt 1 (attempt 1) ended unseen by that attempt\'s runner: succeeded');
    expect(second.maskedLog).toContain('long: succeeded in run attempt 1; reusing its result and outputs');
    expect(await creates()).toBe(before);
    expect(await starts(name(runId, 1))).toBe(1);
    expect(await starts(name(runId, 2))).toBe(0);
  });

  it('waits for a pod that still runs, naming it, and runs the task again only once it ended without success', async () => {
    const runId = '7000004';
    await dyingFirstAttempt(runId, 'sandbox/sleep:forever');
    const before = await creates();
    let waiting: Promise<number> | null = null;
    let deleted: Promise<void> | null = null;
    // The fix lands meanwhile (another image); the user re-runs the job while the old pod still runs.
    const second = await runStep({
      inputs: inputs(),
      env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' },
      cwd: await workspace(oneTask('sandbox/succeed')),
      onLine: (line) => {
        if (!line.includes(`${name(runId, 1)} (task long, run attempt 1, Running)`)) return;
        if (waiting) return;
        waiting = creates();
        // Someone stops the old pod, as the log says how to.
        deleted = waiting.then(() => cluster().deletePod(NS, name(runId, 1), 0));
      },
    });
    expect(second.exitCode, show(second)).toBe(0);
    expect(second.maskedLog).toMatch(/Waiting for 1 pod of an earlier attempt of this run/);
    expect(second.maskedLog).toContain(`kubectl delete pod -n default -l 'app.kubernetes.io/managed-by=pod-dag-action,pod-dag.io/dag=rerun-dead,pod-dag.io/run-id=7000004,pod-dag.io/run-scope=${stepScope()}'`);
    expect(second.maskedLog).toContain('long: its pod of run attempt 1 (attempt 1) ended unseen by that attempt\'s runner: infrastructure');
    await deleted;
    expect(await waiting).toBe(before);
    expect(await starts(name(runId, 2))).toBe(1);
  });
});

describe('the concurrency lock', () => {
  /** Another run holds the lock: a Lease renewed just now, for an hour. */
  async function holdLock(name: string): Promise<void> {
    // A MicroTime (six fractional digits): kube-apiserver refuses a plain Date's milliseconds.
    const now = new V1MicroTime();
    await leases().createNamespacedLease({
      namespace: NS,
      body: {
        metadata: { name: concurrencyLeaseName(name) },
        spec: { holderIdentity: 'octo-org/other/runs/1/attempts/1/sync#abcd', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
      },
    });
  }

  const oneTask = ['version: 1', 'name: locked', 'tasks:', '  only: {image: sandbox/succeed}', ''].join('\n');

  it('skip: the step succeeds with result skipped and runs nothing', async () => {
    await holdLock('nightly-skip');
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), concurrency: 'nightly-skip', 'concurrency-policy': 'skip' },
      env: { GITHUB_RUN_ID: '7100001' },
      cwd: await workspace(oneTask),
    });
    expect(step.exitCode, show(step)).toBe(0);
    expect(step.outputs['result']).toBe('skipped');
    expect(step.summary).toContain('Skipped');
    expect(await starts(podName({ dag: 'locked', runId: '7100001', scope: stepScope(), runAttempt: 1, task: 'only', attempt: 1 }))).toBe(0);
  });

  it('fail: the step fails, naming the lock and its holder, and runs nothing', async () => {
    await holdLock('nightly-fail');
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), concurrency: 'nightly-fail', 'concurrency-policy': 'fail' },
      env: { GITHUB_RUN_ID: '7100002' },
      cwd: await workspace(oneTask),
    });
    expect(step.exitCode, show(step)).toBe(1);
    expect(step.outputs['result']).toBe('failure');
    const error = step.commands.find((c) => c.command === 'error');
    expect(error?.message).toMatch(/concurrency lock 'nightly-fail'.*octo-org\/other/s);
    expect(await starts(podName({ dag: 'locked', runId: '7100002', scope: stepScope(), runAttempt: 1, task: 'only', attempt: 1 }))).toBe(0);
  });

  it('a free lock is taken, held for the run, and released at its end', async () => {
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), concurrency: 'nightly-free' },
      env: { GITHUB_RUN_ID: '7100003' },
      cwd: await workspace(oneTask),
    });
    expect(step.exitCode, show(step)).toBe(0);
    expect(step.maskedLog).toContain("Holding the concurrency lock 'nightly-free'");
    // Released: the Lease is gone or holds no one.
    const lease = await leases()
      .readNamespacedLease({ namespace: NS, name: concurrencyLeaseName('nightly-free') })
      .catch((err: { code?: number }) => (err.code === 404 ? undefined : Promise.reject(err as Error)));
    expect(lease?.spec?.holderIdentity ?? '').toBe('');
  });
});
