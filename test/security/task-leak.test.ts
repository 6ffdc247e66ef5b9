/**
 * A task that prints the action's own credential (given to it through a param, as a careless
 * workflow would) in its log, its output and its failure message, as written, base64-encoded and
 * URL-encoded: the step log as the runner shows it (masks applied as the runner applies them:
 * exactly, per value) and everything else the step leaves (the job summary, the `summary-json`
 * file, the outputs) hold none of them. dist/index.js is driven as the runner drives it.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { runStep } from '../harness/action.ts';
import { workspace } from '../helpers/e2e.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: ['jobs'] });
});
afterAll(async () => {
  await sandbox?.close();
});

it('leaves no form of the credential in the log, the summary, summary-json or the outputs', async () => {
  const token = `${sandbox.adminToken}`;
  expect(token.length).toBeGreaterThanOrEqual(16);
  const b64 = Buffer.from(`admin:${token}`).toString('base64');
  const forms = `plain ${token} basic ${b64} url ${encodeURIComponent(`${token}/=`)}`;
  const yaml = [
    'version: 1',
    'name: task-leak',
    'namespace: jobs',
    'params: {leak: x}',
    'tasks:',
    '  talk:',
    '    image: sandbox/succeed',
    '    env: {SANDBOX_LOG: "{{ params.leak }}", SANDBOX_TERMINATION_MESSAGE: "token={{ params.leak }}"}',
    '  fail:',
    '    image: sandbox/exit:3',
    '    env: {SANDBOX_LOG: "{{ params.leak }}", SANDBOX_TERMINATION_MESSAGE: "{{ params.leak }}"}',
  ].join('\n');
  const cwd = await workspace(yaml);
  const step = await runStep({
    cwd,
    inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never', params: JSON.stringify({ leak: forms }) },
    // A temp dir of the test's own: the harness removes the step's when the step ends.
    env: { GITHUB_RUN_ID: '1400001', RUNNER_TEMP: await mkdtemp(path.join(tmpdir(), 'pod-dag-leak-tmp-')) },
  });
  expect(step.exitCode, step.stdout).toBe(1);
  // The task did print them: the log shows where, masked.
  expect(step.maskedLog).toContain('[talk] plain *** basic ');
  const summaryJson = await readFile(step.outputs['summary-json']!, 'utf8');
  for (const [where, text] of Object.entries({ log: step.maskedLog, stderr: step.stderr, summary: step.summary, summaryJson, outputs: JSON.stringify(step.outputs) })) {
    expect(text, where).not.toContain(token);
    expect(text, where).not.toContain(b64.slice(8, -4));
    expect(text, where).not.toContain(encodeURIComponent(token).slice(0, 20));
  }
});
