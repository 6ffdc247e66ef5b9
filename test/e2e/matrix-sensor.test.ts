/**
 * strategy.matrix, sensors and run dates through the bundled action (dist/index.js) driven as the
 * runner drives it, against the sandbox: containers are real processes, pods real API objects.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { expandMatrix } from '../../src/spec/matrix.ts';
import { fileSandbox, show, workspace } from '../helpers/e2e.ts';
import { runStep, stepScope } from '../harness/action.ts';

const NS = 'jobs';

const sandbox = fileSandbox({ namespaces: ['default', NS] });

describe('the bundled action', () => {
  it('runs a matrix: one pod per combination, named by instance, values in args; merge reads every output; the summary groups nothing away', async () => {
    const runId = '7100001';
    const dir = await workspace(
      [
        'version: 1',
        'name: grid',
        `namespace: ${NS}`,
        'tasks:',
        '  build:',
        '    image: busybox',
        '    command: [sh, -c, \'echo "building $0/$1"; echo "artifact=$0-$1" > "$POD_DAG_OUTPUT"\', "{{ matrix.os }}", "{{ matrix.arch }}"]',
        '    strategy:',
        '      matrix: {os: [linux, darwin], arch: [amd64, arm64], exclude: [{os: darwin, arch: amd64}]}',
        '      max-parallel: 2',
        '  publish:',
        '    needs: [build]',
        '    image: busybox',
        '    command: [sh, -c, \'echo "publishing $0"; echo "n=3" > "$POD_DAG_OUTPUT"\', "{{ join(tasks.build.outputs.artifact, \',\') }}"]',
        '',
      ].join('\n'),
    );
    sandbox().counters.reset();
    const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: runId }, cwd: dir });
    expect(step.exitCode, show(step)).toBe(0);
    expect(step.outputs['result']).toBe('success');

    const ids = (expandMatrix('build', { os: ['linux', 'darwin'], arch: ['amd64', 'arm64'], exclude: [{ os: 'darwin', arch: 'amd64' }] }) as { ok: true; instances: { id: string }[] }).instances.map((i) => i.id);
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(sandbox().containerStarts(podName({ dag: 'grid', runId, scope: stepScope(), runAttempt: 1, task: id, attempt: 1 })), id).toBe(1);
    expect(step.maskedLog).toContain(`build: 3 matrix instances: ${ids.join(', ')}`);
    expect(step.maskedLog).toContain(`[${ids[0]}] building linux/amd64`);
    expect(step.maskedLog).toContain('[publish] publishing linux-amd64,linux-arm64,darwin-arm64');
    expect(sandbox().counters.get('create', 'pods')).toBe(4);
    // The action's outputs output: every instance's outputs under its instance id.
    const outputs = JSON.parse(step.outputs['outputs']!) as Record<string, Record<string, string>>;
    expect(ids.map((id) => outputs[id]?.['artifact'])).toEqual(['linux-amd64', 'linux-arm64', 'darwin-arm64']);
    // The summary's table: the matrix task's row says how many instances, then a row for each.
    expect(step.summary).toMatch(/\| \[build\]\([^)]*\) \| ✅ succeeded \| 3 instances \|/);
    for (const id of ids) expect(step.summary).toContain(`[${id}]`);
    expect(sandbox().list('pods', NS).filter((p) => (p.metadata as { name: string }).name.includes(`-${runId}-`))).toEqual([]);
  });

  it('runs a sensor: a pod per poke until the condition holds, then its dependant, with the run date in its args', async () => {
    const runId = '7100002';
    const dir = await workspace(
      [
        'version: 1',
        'name: waiter',
        `namespace: ${NS}`,
        'tasks:',
        '  wait-for-data:',
        '    image: busybox',
        // The third poke finds "the data": a counter file in the workspace.
        '    command: [sh, -c, \'n=$(cat "$0" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0"; echo "poke $n for $1"; [ "$n" -ge 3 ] || exit 75\', "{{ params.counter }}", "{{ run.date }}"]',
        '    sensor: {interval: 1s, timeout: 5m}',
        '  spark:',
        '    needs: [wait-for-data]',
        '    image: busybox',
        '    command: [echo, "processing {{ run.intervalStartDate }}"]',
        'params:',
        '  counter: {required: true}',
        '',
      ].join('\n'),
    );
    const counter = path.join(dir, 'pokes');
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'on-failure', params: `counter: ${counter}`, 'logical-date': '2026-12-02', schedule: '0 2 * * *' },
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
    });
    expect(step.exitCode, show(step)).toBe(0);
    expect(await readFile(counter, 'utf8')).toBe('3\n');
    for (const poke of [1, 2, 3]) expect(sandbox().containerStarts(podName({ dag: 'waiter', runId, scope: stepScope(), runAttempt: 1, task: 'wait-for-data', attempt: 1, poke })), `poke ${poke}`).toBe(1);
    expect(step.maskedLog).toContain('[wait-for-data] poke 1 for 2026-12-02');
    expect(step.maskedLog).toMatch(/\[wait-for-data\] not yet \(poke 1\); next poke at \d\d:\d\d:\d\dZ/);
    expect(step.maskedLog).toContain('[spark] processing 2026-12-01');
    expect(step.maskedLog).toContain('Logical date 2026-12-02T02:00:00Z, data interval 2026-12-01T02:00:00Z → 2026-12-02T02:00:00Z (from the inputs)');
    // No "not yet" poke pod is kept, even with keep-pods on-failure.
    expect(sandbox().list('pods', NS).filter((p) => (p.metadata as { name: string }).name.includes(`-${runId}-`))).toEqual([]);
    // The summary counts the pokes of the sensor's one attempt.
    expect(step.summary).toMatch(/\| \[wait-for-data\]\([^)]*\) \| ✅ succeeded \| 1 \(3 pokes\) \|/);
    // Pokes are not retries: no warning annotation.
    expect(step.commands.filter((c) => c.command === 'warning')).toEqual([]);
  });

  it('backfills a range of dates: one run each, with its own run id and summary section', async () => {
    const runId = '7100003';
    const dir = await workspace(['version: 1', 'name: daily', `namespace: ${NS}`, 'tasks:', '  load:', '    image: busybox', '    command: [echo, "loading {{ run.date }}"]', ''].join('\n'));
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never', 'backfill-from': '2026-11-29', 'backfill-to': '2026-12-01', 'backfill-parallel': '2' },
      env: { GITHUB_RUN_ID: runId },
      cwd: dir,
    });
    expect(step.exitCode, show(step)).toBe(0);
    expect(step.outputs['result']).toBe('success');
    for (const day of ['20261129', '20261130', '20261201']) {
      expect(sandbox().containerStarts(podName({ dag: 'daily', runId: `${runId}-${day}t000000z`, scope: stepScope(), runAttempt: 1, task: 'load', attempt: 1 })), day).toBe(1);
    }
    expect(step.maskedLog).toContain('[2026-11-30] [load] loading 2026-11-30');
    const headings = [...step.summary.matchAll(/^# Logical date (\S+)$/gm)].map((m) => m[1]);
    expect(headings.sort()).toEqual(['2026-11-29T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-01T00:00:00Z']);
    expect(step.maskedLog).toContain('Backfill of DAG daily: 3 of 3 runs succeeded');
    // Each run its own pod: none adopted another date's.
    expect(step.maskedLog).not.toContain('adopted existing pod');
  });
  it('re-running the failed job runs only the matrix instances that failed, and reuses the others with their outputs', async () => {
    const runId = '7100004';
    const dir = await workspace(
      [
        'version: 1',
        'name: regrid',
        `namespace: ${NS}`,
        'tasks:',
        '  part:',
        '    image: busybox',
        // Instance 2 fails while the file "broken" exists in the workspace.
        '    command: [sh, -c, \'echo "part $0 ran"; if [ "$0" = 2 ] && [ -e "$1" ]; then exit 3; fi; echo "rows=$0$0" > "$POD_DAG_OUTPUT"\', "{{ matrix.n }}", "{{ params.flag }}"]',
        '    strategy: {matrix: {n: [1, 2, 3]}, fail-fast: false}',
        '  total:',
        '    needs: [part]',
        '    image: busybox',
        '    command: [echo, "total {{ join(tasks.part.outputs.rows, \'+\') }}"]',
        'params:',
        '  flag: {required: true}',
        '',
      ].join('\n'),
    );
    const flag = path.join(dir, 'broken');
    await writeFile(flag, '');
    const inputs = { dag: 'dag.yaml', kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never', params: `flag: ${flag}` };
    const first = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1' }, cwd: dir });
    expect(first.exitCode, show(first)).toBe(1);
    expect(JSON.parse(first.outputs['failed-tasks']!)).toEqual(['part']);

    await rm(flag);
    const second = await runStep({ inputs, env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '2' }, cwd: dir });
    expect(second.exitCode, show(second)).toBe(0);
    const ids = (expandMatrix('part', { n: [1, 2, 3] }) as { ok: true; instances: { id: string }[] }).instances.map((i) => i.id);
    const starts = (attempt: number) => ids.map((id) => sandbox().containerStarts(podName({ dag: 'regrid', runId, scope: stepScope(), runAttempt: attempt, task: id, attempt: 1 })));
    expect(starts(1)).toEqual([1, 1, 1]);
    expect(starts(2)).toEqual([0, 1, 0]);
    expect(second.maskedLog).toContain(`${ids[0]}: succeeded in run attempt 1; reusing its result and outputs`);
    expect(second.maskedLog).toContain('[total] total 11+22+33');
  });
});
