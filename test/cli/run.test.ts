/**
 * `pod-dag run` in process on the cluster POD_DAG_TEST_CLUSTER picks (the sandbox by default), with KUBECONFIG pointing at a written kubeconfig
 * (as after `kind export kubeconfig` or `aws eks update-kubeconfig`): the same engine and live log
 * as the action, the exit code from the result, and a cancel (Ctrl-C) that leaves no pod.
 */
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../src/cli/commands.ts';
import { podName } from '../../src/kube/pod.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';

const NS = 'try-out';
let cluster: TestCluster;
let dir: string;
let kubeconfig: string;
beforeAll(async () => {
  cluster = await startTestCluster({ namespaces: [NS] });
  dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-cli-run-'));
  kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, cluster.kubeconfig(NS), { mode: 0o600 });
});
afterAll(async () => {
  await cluster?.close();
});

/** Runs `pod-dag run` in process; `onOut` sees stdout as it comes and may abort (Ctrl-C). */
async function run(file: string, yaml: string, args: string[], env: NodeJS.ProcessEnv, onOut?: (text: string, abort: () => void) => void) {
  await writeFile(path.join(dir, file), yaml);
  const controller = new AbortController();
  let stdout = '';
  let stderr = '';
  const code = await runCli(['run', file, ...args], {
    cwd: dir,
    env: { KUBECONFIG: kubeconfig, HOME: dir, ...env },
    stdout: (t) => {
      stdout += t;
      onOut?.(t, () => controller.abort('SIGINT'));
    },
    stderr: (t) => void (stderr += t),
    signal: controller.signal,
  });
  return { code, stdout, stderr };
}

const podsOfRun = async (runId: string) => (await cluster.pods(NS)).map((p) => p.metadata!.name!).filter((n) => n.includes(`-${runId}-`));
const starts = (dag: string, runId: string, task: string, attempt: number) => cluster.containerStarts(NS, podName({ dag, runId, runAttempt: 1, task, attempt }));

describe('pod-dag run', () => {
  it('runs a DAG on the current kubeconfig: live log with task prefixes, outputs feed templates, exit 0', async () => {
    const yaml = [
      'version: 1',
      'name: cli-try',
      'tasks:',
      '  first:',
      '    image: sandbox/succeed',
      '    env: {SANDBOX_LOG: "first says hi", SANDBOX_TERMINATION_MESSAGE: "count=7"}',
      '  second:',
      '    needs: [first]',
      '    image: sandbox/succeed',
      '    env: {SANDBOX_LOG: "second got {{ tasks.first.outputs.count }}"}',
      '',
    ].join('\n');
    const r = await run('ok.yaml', yaml, ['--keep-pods', 'never'], { POD_DAG_RUN_ID: 'cli1' });
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.ok);
    expect(r.stderr).toContain(`cluster ${cluster.url}, namespace ${NS}`);
    expect(r.stdout).toMatch(/\[first\] first says hi/);
    expect(r.stdout).toMatch(/\[second\] second got 7/);
    for (const task of ['first', 'second']) expect(await starts('cli-try', 'cli1', task, 1)).toBe(1);
    for (const secret of cluster.secrets) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  // Failed before the engine waited for its queue as well as its pending requests when draining
  // (see test/e2e/engine-drain.test.ts): the CLI exits at once, so the last task's pod was left.
  it('keep-pods never: no pod of the run is left when the command returns', async () => {
    const yaml = ['version: 1', 'name: cli-clean', 'tasks:', '  a: {image: sandbox/succeed}', '  b: {image: sandbox/succeed, needs: [a]}', ''].join('\n');
    const r = await run('clean.yaml', yaml, ['--keep-pods', 'never'], { POD_DAG_RUN_ID: 'cli5' });
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.ok);
    expect(await podsOfRun('cli5')).toEqual([]);
  });

  it('run again with the same POD_DAG_RUN_ID: adopts the pods of the first (its key kept in a file of the user), runs nothing twice', async () => {
    const yaml = ['version: 1', 'name: cli-again', 'tasks:', '  once: {image: sandbox/succeed, env: {SANDBOX_TERMINATION_MESSAGE: "n=1"}}', ''].join('\n');
    const state = path.join(dir, 'state');
    const first = await run('again.yaml', yaml, ['--keep-pods', 'always'], { POD_DAG_RUN_ID: 'cli6', XDG_STATE_HOME: state });
    expect(first.code, first.stdout + first.stderr).toBe(EXIT.ok);
    const again = await run('again.yaml', yaml, ['--keep-pods', 'always'], { POD_DAG_RUN_ID: 'cli6', XDG_STATE_HOME: state });
    expect(again.code, again.stdout + again.stderr).toBe(EXIT.ok);
    expect(again.stdout).toMatch(/\[once\] adopted existing pod/);
    expect(await starts('cli-again', 'cli6', 'once', 1)).toBe(1);
    // The key is the user's alone; without it (another machine, the file deleted) the pod is not ours.
    expect((await stat(path.join(state, 'pod-dag-action', 'keys', `${NS}_cli-again_cli6.pem`))).mode & 0o777).toBe(0o600);
    const elsewhere = await run('again.yaml', yaml, ['--keep-pods', 'always'], { POD_DAG_RUN_ID: 'cli6', XDG_STATE_HOME: path.join(dir, 'other-state') });
    expect(elsewhere.code).toBe(EXIT.failed);
    expect(elsewhere.stdout).toMatch(/is not this run's pod for attempt 1 of task "once"/);
    expect(await starts('cli-again', 'cli6', 'once', 1)).toBe(1);
  });

  it('a failing DAG: exit 1, the failure in plain words', async () => {
    const yaml = ['version: 1', 'name: cli-fail', 'tasks:', '  bad: {image: "sandbox/exit:3", retries: {limit: 1, delay: 0s}}', ''].join('\n');
    const r = await run('fail.yaml', yaml, ['--keep-pods', 'never'], { POD_DAG_RUN_ID: 'cli2' });
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.failed);
    expect(r.stdout).toMatch(/bad attempt 1 failed: exit code 3; retrying/);
    expect(await Promise.all([1, 2, 3].map((attempt) => starts('cli-fail', 'cli2', 'bad', attempt)))).toEqual([1, 1, 0]);
  });

  it('Ctrl-C while a task runs: exit 1 and no pod of the run left', async () => {
    const yaml = ['version: 1', 'name: cli-cancel', 'tasks:', '  long: {image: "sandbox/sleep:forever", env: {SANDBOX_LOG: "long started"}}', ''].join('\n');
    const r = await run('cancel.yaml', yaml, [], { POD_DAG_RUN_ID: 'cli3' }, (text, abort) => {
      if (text.includes('long started')) abort();
    });
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.failed);
    expect(await starts('cli-cancel', 'cli3', 'long', 1)).toBe(1);
    expect(await podsOfRun('cli3')).toEqual([]);
  });

  it('no access to the cluster: a clear message, exit 2, no pod created', async () => {
    const bad = path.join(dir, 'wrong-token.kubeconfig');
    await writeFile(bad, cluster.kubeconfigWithToken('not-a-valid-token-0123', NS));
    cluster.resetRequests();
    const r = await run('ok2.yaml', 'version: 1\nname: cli-denied\ntasks:\n  a: {image: sandbox/succeed}\n', [], { KUBECONFIG: bad, POD_DAG_RUN_ID: 'cli4' });
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/pod-dag run: .*401/);
    expect(await cluster.requests('create', 'pods')).toBe(0);
  });
});
