/**
 * A field Kubernetes does not know, inside `pod:` (`nodeAfinity`), through the bundle as a user
 * meets it: `plan` and `run` of the action (dist/index.js) and `pod-dag validate` (dist/cli.js)
 * stop at the spec with the field's file:line:col and a did-you-mean, before anything runs. On a
 * real cluster the default field validation (Warn) would drop the field and the pods would land
 * on any node.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.ts';
import { DEMO_PARAMS, startDemoCluster } from '../fixtures/demo-cluster.ts';
import { ROOT, runStep } from '../harness/action.ts';

const EXAMPLE = 'examples/clickhouse-db-sync/dag.yaml';
const NS = 'data-jobs';
const original = readFileSync(path.join(ROOT, EXAMPLE), 'utf8');
const typo = original.replace('nodeAffinity:', 'nodeAfinity:');
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
const LINE = lineOf(typo, 'nodeAfinity:');
const COL = typo.split('\n')[LINE - 1]!.indexOf('nodeAfinity') + 1;
const MESSAGE = 'unknown key "nodeAfinity" in defaults.pod.affinity; did you mean "nodeAffinity"?';

let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  expect(typo).not.toBe(original);
  dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-k8s-'));
  await writeFile(path.join(dir, 'dag.yaml'), typo);
  sandbox = await startDemoCluster();
});
afterAll(async () => {
  await sandbox?.close();
});

describe('a misspelt Kubernetes field under pod:', () => {
  it('fails plan with one ::error at its file:line:col and the field it was meant to be; no plan; the summary lists the problem', async () => {
    const step = await runStep({ inputs: { dag: 'dag.yaml', mode: 'plan', params: DEMO_PARAMS }, cwd: dir });
    expect(step.exitCode, step.stdout + step.stderr).toBe(1);
    const located = step.commands.filter((c) => c.command === 'error' && c.properties['file'] !== undefined);
    expect(located.map((c) => ({ file: c.properties['file'], line: c.properties['line'], col: c.properties['col'], message: c.message }))).toEqual([
      { file: 'dag.yaml', line: String(LINE), col: String(COL), message: MESSAGE },
    ]);
    expect(step.stdout).not.toContain('Plan of DAG');
    // Every problem of a spec is in the job summary too (issue 13).
    expect(step.summary).toContain(`dag.yaml:${LINE}:${COL}: ${MESSAGE}`);
    expect(step.outputs['result']).toBe('failure');
  });

  it('fails run the same way before any pod is created', async () => {
    const before = sandbox.list('pods', NS).length;
    sandbox.counters.reset();
    const step = await runStep({ inputs: { dag: 'dag.yaml', params: DEMO_PARAMS, kubeconfig: sandbox.kubeconfig() }, cwd: dir, env: { GITHUB_RUN_ID: '7000001' } });
    expect(step.exitCode, step.stdout + step.stderr).toBe(1);
    expect(step.commands.filter((c) => c.command === 'error' && c.properties['file'] === 'dag.yaml').map((c) => c.message)).toEqual([MESSAGE]);
    expect(sandbox.list('pods', NS)).toHaveLength(before);
    expect(sandbox.counters.get('create', 'pods')).toBe(0);
  });

  it('node dist/cli.js validate: FILE:LINE:COL: message, exit 2', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'validate', 'dag.yaml'], { cwd: dir, timeout: 60_000 }, (_err, _stdout, stderr) =>
        resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`dag.yaml:${LINE}:${COL}: ${MESSAGE}`);
  });
});
