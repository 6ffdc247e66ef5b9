/**
 * Hostile and careless specs through the bundled action (dist/index.js, `plan`: no cluster) and
 * the CLI, one per class of defect found in a hostile pass: each is refused before any pod with
 * file:line:col in an annotation (the CLI: FILE:LINE:COL on stderr, exit 2), never an internal
 * error, a stack trace or a silent success, and nothing printed becomes a workflow command.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStep } from '../harness/action.ts';
import { runCli } from '../../src/cli/commands.ts';
import { parseCommands } from '../helpers/runner-commands.ts';

const head = 'version: 1\nname: hostile\n';
const bomb = Array.from({ length: 7 }).reduce<string>((inner) => `format(''${'{0}'.repeat(10)}'', ${inner})`, 'params.x');

/** [what, spec, params input, the error's line:col, words in it]. */
const CASES: [string, string, string, string, RegExp][] = [
  ['fromJSON of bad JSON in a template', `${head}params: {x: "{bad"}\ntasks:\n  a:\n    image: busybox\n    args: ["{{ fromJSON(params.x).a }}"]\n`, '', '7:12', /tasks\.a\.args\[0\]: .*JSON/],
  ['a template that is null with the params given', `${head}params: {x: "{}"}\ntasks:\n  a:\n    image: busybox\n    env: {A: "{{ fromJSON(params.x).b }}"}\n`, '', '7:14', /evaluated to null/],
  ['nested format() that would make 200 MB', `${head}params: {x: xxxxxxxxxxxxxxxxxxxx}\ntasks:\n  a:\n    image: busybox\n    args: ['{{ ${bomb} }}']\n`, '', '7:12', /more than the 131,072 a value may have/],
  ['an image rendered from the params input', `${head}params: {img: busybox}\ntasks:\n  a:\n    image: "{{ params.img }}"\n`, 'img: "busybox\\n::error::x"', '6:12', /not an image reference/],
  ['__proto__ as a matrix key', `${head}tasks:\n  a:\n    image: busybox\n    strategy: {matrix: {__proto__: [1, 2]}}\n`, '', '6:25', /key "__proto__" in tasks\.a\.strategy\.matrix is reserved/],
  ['__proto__ as an env variable', `${head}tasks:\n  a:\n    image: busybox\n    env: {__proto__: x}\n`, '', '6:11', /key "__proto__" .* is reserved/],
  ['a template in a nodeSelector', `${head}params: {pool: a}\ntasks:\n  a:\n    image: busybox\n    pod: {nodeSelector: {pool: "{{ params.pool }}"}}\n`, '', '7:33', /not rendered in this value/],
  ['a timeout of 0s', `${head}tasks:\n  a:\n    image: busybox\n    timeout: 0s\n`, '', '6:14', /at least 1s/],
  ['a start timeout of 0s', `${head}tasks:\n  a:\n    image: busybox\n    startTimeout: 0s\n`, '', '6:19', /a limit of 0s would end at once/],
  ['a timeout past ten years', `${head}tasks:\n  a:\n    image: busybox\n    timeout: 99999999999999999999d\n`, '', '6:14', /longer than 3650d/],
  ['a list as a task id', `${head}tasks:\n  a: {image: busybox}\n  ? [b]\n  : {image: busybox}\n`, '', '5:5', /a list as a key in tasks/],
];

async function workspace(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-hostile-'));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return dir;
}

describe('the action refuses each before any pod, at file:line:col', () => {
  it.each(CASES)('%s', async (_what, yaml, params, at, words) => {
    const step = await runStep({ cwd: await workspace(yaml), inputs: { dag: 'dag.yaml', mode: 'plan', params }, deadlineMs: 30_000 });
    const output = step.stdout + step.stderr + step.summary;
    expect(step.exitCode, output).toBe(1);
    expect(output).not.toMatch(/internal error|\n\s+at \S+ \(|TypeError|RangeError/);
    const errors = step.commands.filter((c) => c.command === 'error');
    const [line, col] = at.split(':');
    expect(errors, step.stdout).toContainEqual(expect.objectContaining({ properties: expect.objectContaining({ file: 'dag.yaml', line, col }), message: expect.stringMatching(words) }));
    expect(step.summary).toMatch(words);
    expect(step.outputs['result']).toBe('failure');
    const foreign = [...parseCommands(step.stdout, { anyCommand: true }), ...parseCommands(step.stderr, { anyCommand: true })].filter(
      (c) => c.form !== 'v2' || !['add-mask', 'error', 'warning', 'notice', 'debug'].includes(c.command) || (c.command === 'error' && c.data === 'x'),
    );
    expect(foreign).toEqual([]);
  });
});

describe('the CLI refuses each with FILE:LINE:COL and exit 2', () => {
  it.each(CASES)('%s', async (_what, yaml, params, at, words) => {
    const cwd = await workspace(yaml);
    let stderr = '';
    const code = await runCli(['plan', 'dag.yaml', '--params', params], { cwd, env: {}, stdout: () => {}, stderr: (t) => (stderr += t), signal: new AbortController().signal });
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(new RegExp(`^dag\\.yaml:${at}: .*${words.source}`, 'm'));
  });
});
