/**
 * `mode: run` end to end: the bundled action (dist/index.js) driven as the runner drives it,
 * on the cluster POD_DAG_TEST_CLUSTER picks (the sandbox by default), set up for the example DAG. Each test asserts what the runner
 * would see (exit code, outputs, summary, annotations, the masked log) and what the cluster saw
 * (pods left, container starts).
 */
import { describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { DEMO_IMAGES, DEMO_NODES, DEMO_PARAMS, DEMO_PASSWORD } from '../fixtures/demo-cluster.ts';
import { fileCluster, show, workspace } from '../helpers/e2e.ts';
import { runStep, stepScope, type StepResult } from '../harness/action.ts';

const EXAMPLE = 'examples/clickhouse-db-sync/dag.yaml';
const NS = 'data-jobs';

const cluster = fileCluster({ namespaces: [NS], sandbox: { nodes: DEMO_NODES, images: DEMO_IMAGES } }, (c) => c.createSecret(NS, 'clickhouse-creds', { password: DEMO_PASSWORD }));

/** Pods of one GitHub run still in the cluster (not being deleted). */
const podsOfRun = async (runId: string) => (await cluster().pods(NS)).filter((p) => p.metadata!.name!.includes(`-${runId}-`));
/** Containers started for one pod (the kubelet's Started events). */
const starts = (pod: string) => cluster().containerStarts(NS, pod);

/** Every place a secret must never reach. */
function expectNowhere(step: StepResult, secret: string): void {
  expect(step.maskedLog).not.toContain(secret);
  expect(step.summary).not.toContain(secret);
  for (const value of Object.values(step.outputs)) expect(value).not.toContain(secret);
  for (const c of step.commands.filter((c) => c.command !== 'add-mask')) expect(c.message).not.toContain(secret);
}

describe('mode: run', () => {
  it('runs the example DAG end to end: outputs, one start per container, no pod left with keep-pods never, no secret anywhere', async () => {
    const runId = '2000001';
    const kubeconfig = cluster().kubeconfig();
    cluster().resetRequests();
    const step = await runStep({
      inputs: { dag: EXAMPLE, params: DEMO_PARAMS, kubeconfig, 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: runId },
    });

    expect(step.exitCode, show(step)).toBe(0);
    expect(step.outputs['result']).toBe('success');
    expect(JSON.parse(step.outputs['failed-tasks']!)).toEqual([]);
    const outputs = JSON.parse(step.outputs['outputs']!) as Record<string, Record<string, string>>;
    expect(outputs['migrate-data']).toEqual({ rows_copied: '150000', tables: '5' });
    expect(outputs['report']).toEqual({ tables: '42' });

    // Each task ran exactly once: one container start per task, on attempt 1 only.
    for (const task of ['drop-destination-db', 'create-db', 'migrate-data', 'report']) {
      const name = (attempt: number) => podName({ dag: 'clickhouse-db-sync', runId, scope: stepScope(), runAttempt: 1, task, attempt });
      expect(await starts(name(1)), task).toBe(1);
      expect(await starts(name(2)), task).toBe(0);
    }
    expect(await podsOfRun(runId)).toEqual([]);
    // Watch, don't poll: one list and one watch for the run, plus one list by housekeeping at the
    // end (old runs of this DAG), no per-pod reads; one create per task, batched deletes; one
    // log stream per task: the follow stream ends with the container, whole, so no second read.
    const c = (verb: string, resource: string) => cluster().requests(verb, resource);
    expect([await c('list', 'pods'), await c('watch', 'pods'), await c('get', 'pods')]).toEqual([2, 1, 0]);
    expect([await c('create', 'pods'), await c('delete', 'pods')]).toEqual([4, 0]);
    // The finished pods go in batches (deletecollection by label selector), fewer than the tasks:
    // a run of seconds ends before the first batch is due (30 s), so its end sends them.
    expect(await c('deletecollection', 'pods')).toBeGreaterThanOrEqual(1);
    expect(await c('deletecollection', 'pods')).toBeLessThanOrEqual(2);
    // The state: one list (the claim's, reused by the re-run's plan); the head and one shard
    // created; the records written before a batch and the run's end, not one write per task.
    expect(await c('list', 'configmaps')).toBe(3); // the claim's, the history grid's, housekeeping's
    expect(await c('create', 'configmaps')).toBe(2);
    expect(await c('update', 'configmaps')).toBeLessThanOrEqual(3);
    expect(await c('get', 'pods/log')).toBe(4);
    // ...and no line lost or repeated: each of migrate-data's progress lines exactly once.
    for (let k = 1; k <= 5; k++) expect(step.maskedLog.match(new RegExp(`migrate-data.*\\[${k}/5\\]`, 'g')), `line ${k}/5`).toHaveLength(1);

    // The live log: each task's lines, prefixed with the task.
    expect(step.maskedLog).toMatch(/migrate-data.*\[5\/5\] payments: copied 50000 rows/);
    expect(step.summary).toContain('```mermaid');
    expect(step.summary).toContain('migrate-data');

    // Secrets: the database password (from a Kubernetes secret) and every credential.
    expect(step.stdout).not.toContain(DEMO_PASSWORD);
    expectNowhere(step, DEMO_PASSWORD);
    for (const secret of cluster().secrets) {
      expect(step.masks).toContain(secret);
      expectNowhere(step, secret);
    }
    expectNowhere(step, kubeconfig.trim());
    expect(step.stderr).toBe('');
  });

  it('a task that prints 5,000 lines as fast as it can and exits at once: each line exactly once, before its result line, from one log stream', async () => {
    // The follow stream ends with the container (the kubelet reads the log to its end first), so
    // it is the whole log: no second read, and nothing lost or repeated (src/kube/logs.ts).
    const runId = '2000004';
    const dir = await workspace(
      [
        'version: 1',
        'name: burst',
        'namespace: data-jobs',
        'tasks:',
        '  burst:',
        '    image: clickhouse/clickhouse-server:24.8',
        `    command: [node, -e, "for (let i = 1; i <= 5000; i++) console.log('burst line ' + i)"]`,
        '  next:',
        '    needs: [burst]',
        '    image: sandbox/succeed',
        '',
      ].join('\n'),
    );
    cluster().resetRequests();
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: runId }, cwd: dir });
    expect(step.exitCode, show(step)).toBe(0);
    const lines = step.maskedLog.split('\n');
    const numbers = lines.map((l) => /^\[burst\] burst line (\d+)$/.exec(l)?.[1]).filter((n) => n !== undefined).map(Number);
    expect(numbers.length).toBe(5000);
    expect(numbers).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    const result = lines.findIndex((l) => /burst.* succeeded/.test(l));
    expect(result).toBeGreaterThan(lines.indexOf('[burst] burst line 5000'));
    expect(await cluster().requests('get', 'pods/log')).toBe(2);
  });

  it('a failing task with retries: result failure, failed-tasks, every attempt ran once, annotations at the task in the spec', async () => {
    const runId = '2000002';
    const dir = await workspace(
      [
        'version: 1',
        'name: flaky',
        'namespace: data-jobs',
        'tasks:',
        '  ok:',
        '    image: sandbox/succeed',
        '  bad:', // line 7
        '    needs: [ok]',
        '    image: "sandbox/exit:3"',
        '    retries: {limit: 2, delay: 0s}',
        '  after:',
        '    needs: [bad]',
        '    image: sandbox/succeed',
        '',
      ].join('\n'),
    );
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'on-failure' },
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
    });

    expect(step.exitCode, show(step)).toBe(1);
    expect(step.outputs['result']).toBe('failure');
    expect(JSON.parse(step.outputs['failed-tasks']!)).toEqual(['bad']);
    const name = (task: string, attempt: number) => podName({ dag: 'flaky', runId, scope: stepScope(), runAttempt: 1, task, attempt });
    expect(await Promise.all([1, 2, 3, 4].map((a) => starts(name('bad', a))))).toEqual([1, 1, 1, 0]);
    expect(await starts(name('ok', 1))).toBe(1);
    expect(await starts(name('after', 1))).toBe(0); // skipped: its need failed

    // The failed task is annotated at its definition (line 7, col 3), with its attempts and what it blocked.
    const errors = step.commands.filter((c) => c.command === 'error' && c.properties['file'] === 'dag.yaml');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.properties['line']).toBe('7');
    // The title says how it ended (exit 3); the message does not say it again.
    expect(errors[0]!.properties['title']).toMatch(/: exit 3$/);
    expect(errors[0]!.message).toMatch(/^Failed after 3 attempts/);
    expect(errors[0]!.properties['col']).toBe('3');
    expect(errors[0]!.properties['title']).toMatch(/bad failed/);
    expect(errors[0]!.message).toMatch(/Failed after 3 attempts/);
    expect(errors[0]!.message).toMatch(/Not run because of it: after/);
    // The retry decisions in plain words in the log.
    expect(step.maskedLog).toMatch(/bad attempt 1 failed: exit code 3; retrying/);
    // The step's own failure names the task.
    expect(step.commands.filter((c) => c.command === 'error').at(-1)!.message).toMatch(/failed.*bad/);

    // keep-pods on-failure: the failed attempts' pods stay, the succeeded one is gone.
    const left = (await podsOfRun(runId)).map((p) => p.metadata!.name!).sort();
    expect(left).toEqual([name('bad', 1), name('bad', 2), name('bad', 3)].sort());
    expect(step.summary).toContain('bad');
  });

  it('an if: always() cleanup runs after a failure, and its dependants without it are skipped', async () => {
    const runId = '2000003';
    const dir = await workspace(
      [
        'version: 1',
        'name: with-cleanup',
        'namespace: data-jobs',
        'tasks:',
        '  work:',
        '    image: "sandbox/exit:1"',
        '    retries: {limit: 0}',
        '  publish:',
        '    needs: [work]',
        '    image: sandbox/succeed',
        '  cleanup:',
        '    needs: [work]',
        '    if: always()',
        '    image: sandbox/succeed',
        '',
      ].join('\n'),
    );
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
    });
    expect(step.exitCode, show(step)).toBe(1);
    expect(step.outputs['result']).toBe('failure');
    expect(JSON.parse(step.outputs['failed-tasks']!)).toEqual(['work']);
    const name = (task: string) => podName({ dag: 'with-cleanup', runId, scope: stepScope(), runAttempt: 1, task, attempt: 1 });
    expect(await starts(name('cleanup'))).toBe(1);
    expect(await starts(name('publish'))).toBe(0);
    expect(step.summary).toMatch(/skipped/i);
    expect(await podsOfRun(runId), show(step)).toEqual([]);
  });
});

describe('mode: dry-run', () => {
  it('submits every pod with dryRun=All: nothing exists afterwards, nothing started, verdicts in the summary', async () => {
    const runId = '2000101';
    cluster().resetRequests();
    const startsBefore = await cluster().containerStarts(NS);
    const step = await runStep({
      inputs: { dag: EXAMPLE, params: DEMO_PARAMS, kubeconfig: cluster().kubeconfig(), mode: 'dry-run' },
      env: { GITHUB_RUN_ID: runId },
    });
    expect(step.exitCode, show(step)).toBe(0);
    expect(step.outputs['result']).toBe('success');
    // One create per task, each a dry run: the store never held a pod of this run.
    expect(await cluster().requests('create', 'pods')).toBe(4);
    expect(await podsOfRun(runId)).toEqual([]);
    expect(await cluster().containerStarts(NS)).toBe(startsBefore);
    expect(await cluster().requests('get', 'pods/log')).toBe(0);
    for (const task of ['drop-destination-db', 'create-db', 'migrate-data', 'report']) expect(step.summary).toContain(task);
    expect(step.summary).toMatch(/dry.run/i);
    expect(step.summary).toMatch(/accept/i);
    expect(step.state).toEqual({}); // nothing for the post step to sweep
  });

  it('a user who may not create pods: refused before any submit, with the rule to grant', async () => {
    const runId = '2000102';
    const viewer = await cluster().userKubeconfig('viewer', [{ namespaces: [NS], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }], NS);
    cluster().resetRequests();
    const step = await runStep({
      inputs: { dag: EXAMPLE, params: DEMO_PARAMS, kubeconfig: viewer, mode: 'dry-run' },
      env: { GITHUB_RUN_ID: runId },
    });
    expect(step.exitCode, show(step)).toBe(1);
    expect(await podsOfRun(runId)).toEqual([]);
    const message = step.commands.filter((c) => c.command === 'error').map((c) => c.message).join('\n');
    expect(message).toMatch(/create pods in namespace "data-jobs"/);
    expect(message).toMatch(/verbs: \["create"\]/);
    expect(step.outputs['result']).toBe('failure');
  });

  it('a value the API server would refuse is refused from the spec, at its line, before the cluster is asked', async () => {
    const runId = '2000104';
    const dir = await workspace(
      ['version: 1', 'name: rejected', 'namespace: data-jobs', 'tasks:', '  fine: {image: sandbox/succeed}', '  odd:', '    image: sandbox/succeed', '    pod: {labels: {team: "not a label value!"}}', ''].join('\n'),
    );
    cluster().resetRequests();
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), mode: 'dry-run' }, env: { GITHUB_RUN_ID: runId }, cwd: dir });
    expect(step.exitCode, show(step)).toBe(1);
    expect(step.outputs['result']).toBe('failure');
    const refused = step.commands.find((c) => c.command === 'error' && c.properties['file'] === 'dag.yaml')!;
    expect([refused.properties['line'], refused.properties['col']]).toEqual(['8', '26']);
    expect(refused.message).toContain('label value "not a label value!" is not valid');
    expect([0, undefined]).toContain(await cluster().requests('create', 'pods'));
  });
});
