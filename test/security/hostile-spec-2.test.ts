/**
 * The second hostile pass (test/spec/hostile-2.test.ts holds one test per class) through the
 * bundled action (dist/index.js, `plan`: no cluster) and the CLI: each spec is refused before any
 * pod with file:line:col, never an internal error, a stack trace or a silent success.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStep } from '../harness/action.ts';
import { runCli } from '../../src/cli/commands.ts';

const head = 'version: 1\nname: hostile\n';

/** [what, spec, the error's line:col, words in it]. */
const CASES: [string, string, string, RegExp][] = [
  ['a template in a matrix written out', `${head}params: {p: v}\ntasks:\n  a:\n    image: busybox\n    strategy: {matrix: {k: ["{{ params.p }}"]}}\n`, '7:30', /not rendered in a matrix written out/],
  ['tasks brought in by a merge key, one of them wrong', `${head}tasks:\n  <<: {a: {image: busybox, timeout: 0s}}\n  b: {image: busybox, needs: [a]}\n`, '4:37', /tasks\.a\.timeout: .*at least 1s/],
  ['a mount that names no volume', `${head}tasks:\n  a:\n    image: busybox\n    pod: {volumeMounts: [{name: data, mountPath: /d}]}\n`, '6:33', /volume mount "data" names no volume of the pod/],
  ['a request of defaults above the limit of a task', `${head}defaults: {resources: {requests: {memory: 2Gi}}}\ntasks:\n  a:\n    image: busybox\n    resources: {limits: {memory: 1Gi}}\n`, '3:43', /memory request 2Gi is more than its limit 1Gi.*tasks\.a\.resources\.limits\.memory/],
  ['a GPU request without its limit', `${head}tasks:\n  a:\n    image: busybox\n    resources: {requests: {nvidia.com/gpu: 1}}\n`, '6:44', /cannot be overcommitted/],
];

async function workspace(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-hostile-'));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return dir;
}

describe('the action refuses each before any pod, at file:line:col', () => {
  it.each(CASES)('%s', async (_what, yaml, at, words) => {
    const step = await runStep({ cwd: await workspace(yaml), inputs: { dag: 'dag.yaml', mode: 'plan' }, deadlineMs: 30_000 });
    const output = step.stdout + step.stderr + step.summary;
    expect(step.exitCode, output).toBe(1);
    expect(output).not.toMatch(/internal error|\n\s+at \S+ \(|TypeError|RangeError/);
    const [line, col] = at.split(':');
    expect(step.commands.filter((c) => c.command === 'error'), step.stdout).toContainEqual(
      expect.objectContaining({ properties: expect.objectContaining({ file: 'dag.yaml', line, col }), message: expect.stringMatching(words) }),
    );
    expect(step.outputs['result']).toBe('failure');
  });
});

describe('the CLI refuses each with FILE:LINE:COL and exit 2', () => {
  it.each(CASES)('%s', async (_what, yaml, at, words) => {
    const cwd = await workspace(yaml);
    let stderr = '';
    const code = await runCli(['plan', 'dag.yaml'], { cwd, env: {}, stdout: () => {}, stderr: (t) => (stderr += t), signal: new AbortController().signal });
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(new RegExp(`^dag\\.yaml:${at}: .*${words.source}`, 'm'));
  });
});
