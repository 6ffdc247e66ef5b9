/**
 * Issue 13, item 3 and 4: nothing a task prints and no text of a spec, a param, the cluster or an
 * error becomes a workflow command, in any form the runner parses. The bundled action
 * (dist/index.js) is driven as the runner drives it and its whole stdout and stderr are read with
 * the model of the runner's parser (test/helpers/runner-commands.ts, after actions/runner's
 * ActionCommandManager): the only commands are the action's own.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { runStep, type StepResult } from '../harness/action.ts';
import { runCli } from '../../src/cli/commands.ts';
import { parseCommands } from '../helpers/runner-commands.ts';

/** Every way into a command we know of, as a task or a spec might write it. */
const HOSTILE = [
  '##[add-mask]failed',
  'text ##[stop-commands]pwned',
  '\r::add-mask::cr',
  '\n::warning::forged',
  ' \t::error title=forged::forged',
  '#\u200b#[add-mask]zw',
  '\u0000::add-mask::nul',
  '\u001b[2J##[group]x',
];

/** The commands the action itself issues; anything else is an injection. */
const OURS = new Set(['add-mask', 'error', 'warning', 'notice', 'debug']);

function expectOnlyOurCommands(step: StepResult): void {
  const all = [...parseCommands(step.stdout, { anyCommand: true }), ...parseCommands(step.stderr, { anyCommand: true })];
  // An injected command is one we never issue, a legacy one, or one carrying what HOSTILE wrote as
  // its own title, data or mask; the action's annotations may quote hostile text in their data.
  const foreign = all.filter(
    (c) => !OURS.has(c.command) || c.form !== 'v2' || c.properties['title'] === 'forged' || c.data.startsWith('forged') || /^(failed|cr|zw|nul|pwned|x)$/.test(c.data),
  );
  expect(foreign, step.stdout).toEqual([]);
}

async function workspace(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-sec-'));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return dir;
}

/** A YAML double-quoted string: JSON's escapes, and C1 controls (which YAML allows only escaped) as \xNN. */
const q = (s: string) => JSON.stringify(s).replace(/[\u0080-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);

describe('plan mode: text of the spec and params printed to the step log', () => {
  it('prints a hostile condition and param as text, never as a command', async () => {
    const yaml = [
      'version: 1',
      'name: hostile-plan',
      'params:',
      `  note: ${q(HOSTILE.join(' '))}`,
      'tasks:',
      '  a:',
      '    image: busybox',
      '    args: ["{{ params.note }}"]',
      '  b:',
      '    needs: [a]',
      '    image: busybox',
      `    if: ${q(`failure() || '${HOSTILE.join('').replace(/'/g, '')}' == 'x'`)}`,
    ].join('\n');
    const cwd = await workspace(yaml);
    const step = await runStep({ cwd, inputs: { dag: 'dag.yaml', mode: 'plan', params: `note: ${q(HOSTILE.join('\n'))}` } });
    expect(step.exitCode, step.stdout + step.stderr).toBe(0);
    expectOnlyOurCommands(step);
  });

  it('refuses a hostile image, written out or rendered from a param, printing it as text, never as a command', async () => {
    const yaml = [
      'version: 1',
      'name: hostile-plan',
      'params:',
      '  note: x',
      'tasks:',
      '  a:',
      `    image: ${q(`busybox${HOSTILE.join('')}`)}`,
      '  b:',
      '    needs: [a]',
      '    image: "busybox:{{ params.note }}"',
    ].join('\n');
    const cwd = await workspace(yaml);
    const written = await runStep({ cwd, inputs: { dag: 'dag.yaml', mode: 'plan' } });
    expect(written.exitCode).toBe(1);
    expect(written.stdout).toContain('# #[add-mask]failed');
    expect(written.commands.find((c) => c.command === 'error')?.properties).toMatchObject({ file: 'dag.yaml', line: '7', col: '12' });
    expectOnlyOurCommands(written);

    await writeFile(path.join(cwd, 'dag.yaml'), yaml.replace(/ {4}image: "busybox[^\n]*\n {2}b:/, '    image: busybox\n  b:'));
    const rendered = await runStep({ cwd, inputs: { dag: 'dag.yaml', mode: 'plan', params: `note: ${q(HOSTILE.join('\n'))}` } });
    expect(rendered.exitCode).toBe(1);
    expect(rendered.stdout).toMatch(/tasks\.b\.image: the image renders to .*, which is not an image reference/);
    expect(rendered.commands.find((c) => c.command === 'error')?.properties).toMatchObject({ file: 'dag.yaml', line: '10', col: '12' });
    expectOnlyOurCommands(rendered);
  });

  it('prints a hostile spec error (an unknown key, a bad value) as text', async () => {
    const key = 'x\n::add-mask::failed';
    const yaml = ['version: 1', 'name: hostile-errors', 'tasks:', '  a:', '    image: busybox', `    ${q(key)}: 1`, `    timeout: ${q(HOSTILE.join(''))}`].join('\n');
    const cwd = await workspace(yaml);
    const step = await runStep({ cwd, inputs: { dag: 'dag.yaml', mode: 'plan' } });
    expect(step.exitCode).toBe(1);
    expectOnlyOurCommands(step);
  });
});

describe('run mode: what tasks print and what the cluster says', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ namespaces: ['default', 'jobs'] });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('prints hostile task logs, outputs, failure messages and skip reasons as text, never as commands', async () => {
    const yaml = [
      'version: 1',
      'name: hostile-run',
      'namespace: jobs',
      'tasks:',
      '  talk:',
      '    image: sandbox/succeed',
      `    env: {SANDBOX_LOG: ${q(HOSTILE.join('\n'))}, SANDBOX_TERMINATION_MESSAGE: ${q(`out=${HOSTILE.join('').replace(/[\r\n]/g, '')}`)}}`,
      '  fail:',
      '    image: sandbox/exit:3',
      `    env: {SANDBOX_LOG: ${q(HOSTILE.join('\n'))}, SANDBOX_TERMINATION_MESSAGE: ${q(HOSTILE.join('\n'))}}`,
      '  skipped:',
      '    needs: [fail]',
      '    image: sandbox/succeed',
      `    if: ${q(`success() && '${HOSTILE.join('').replace(/'/g, '')}' == 'x'`)}`,
    ].join('\n');
    const cwd = await workspace(yaml);
    const step = await runStep({ cwd, inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: '1300001' } });
    expect(step.exitCode, step.stdout).toBe(1);
    expect(step.stdout).toContain('[talk] # #[add-mask]failed');
    expectOnlyOurCommands(step);
  });

  it('the CLI prints task logs and messages to the terminal without escape sequences or controls', async () => {
    const cwd = await workspace(
      [
        'version: 1',
        'name: hostile-cli',
        'namespace: jobs',
        'tasks:',
        '  talk:',
        '    image: sandbox/exit:2',
        `    env: {SANDBOX_LOG: ${q('\u001b]0;pwned\u0007\u001b[2J\u001b[31mred\rover\u009b1mwrite\u0000')}, SANDBOX_TERMINATION_MESSAGE: ${q('\u001b[2Jboom')}}`,
      ].join('\n'),
    );
    await writeFile(path.join(cwd, 'kubeconfig'), sandbox.kubeconfig());
    let out = '';
    const code = await runCli(['run', 'dag.yaml'], {
      cwd,
      env: { KUBECONFIG: path.join(cwd, 'kubeconfig'), HOME: cwd },
      stdout: (t) => void (out += t),
      stderr: (t) => void (out += t),
      signal: new AbortController().signal,
    });
    expect(code).toBe(1);
    expect(out).toContain('[talk] redoverwrite');
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
