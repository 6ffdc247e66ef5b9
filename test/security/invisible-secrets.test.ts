/**
 * A secret that a task prints with something invisible inside it: a colour code, a zero-width
 * space or joiner, a variation selector, a soft hyphen, a concealing colour, an OSC 8 link, or a
 * `##[` the step log must neutralise. The runner masks the exact characters of a line, and the log
 * viewer then renders colours and shows invisible characters as nothing: a mask the split defeats
 * shows the whole secret on the page. dist/index.js is driven as the runner drives it; the step
 * log, the annotations and the summary are read as a reader sees them, after the runner's masks.
 *
 * Two secrets: one the action knows (a param named like a credential, so it registers the mask)
 * and one only the runner knows (a workflow secret passed in a param with a plain name).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { maskLog, runStep } from '../harness/action.ts';
import { workspace } from '../helpers/e2e.ts';
import { parseCommands } from '../helpers/runner-commands.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: ['jobs'] });
});
afterAll(async () => {
  await sandbox?.close();
});

/** Text as a reader sees it: escape sequences rendered (so gone), invisible characters unseen. */
function seen(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g, '')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\p{Cf}|\p{Default_Ignorable_Code_Point}/gu, '')
  );
}

/** Markdown as GitHub shows it: numeric entities decoded, then as `seen`. */
function seenMarkdown(markdown: string): string {
  return seen(markdown.replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n))).replace(/&amp;/g, '&'));
}

/** What splits a secret without a reader noticing. */
const SPLITS = ['\u001b[0m', '\u001b[8m', '\u200b', '\u200d', '\ufe0f', '\u00ad', '\u034f', '\u001b]8;;https://example.com/\u001b\\'];

/** The secret with each split after its fifth character, one line each. */
const splitLines = (secret: string) => SPLITS.map((s, i) => `line ${i}: ${secret.slice(0, 5)}${s}${secret.slice(5)} end`).join('\n');

/** A YAML double-quoted string. */
const q = (s: string) => JSON.stringify(s);

it('shows no secret a colour code, an invisible character or a neutralised ##[ splits, in the log, the annotations or the summary', async () => {
  // Known to the action (the param's name says credential): it holds a `##[` the log rewrites.
  const known = 'tok##[Q7-v3ry-S3cret';
  // Known to the runner only: a workflow secret passed in a param with a plain name.
  const runnerOnly = 'wfS3cretValue99xyz';
  const yaml = [
    'version: 1',
    'name: invisible-secrets',
    'namespace: jobs',
    'params: {api_token: x, note: x}',
    'tasks:',
    '  talk:',
    '    image: sandbox/succeed',
    `    env: {SANDBOX_LOG: ${q(`${splitLines(known)}\n${splitLines(runnerOnly)}\nwhole ${known}`)}}`,
    '  fail:',
    '    image: sandbox/exit:3',
    `    env: {SANDBOX_LOG: ${q(`auth failed: ${known.slice(0, 5)}\u200b${known.slice(5)} and ${runnerOnly.slice(0, 5)}\u001b[0m${runnerOnly.slice(5)}`)}}`,
  ].join('\n');
  const cwd = await workspace(yaml);
  const step = await runStep({
    cwd,
    inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never', params: JSON.stringify({ api_token: known, note: runnerOnly }) },
    env: { GITHUB_RUN_ID: '1400002', RUNNER_TEMP: await mkdtemp(path.join(tmpdir(), 'pod-dag-invisible-tmp-')) },
  });
  expect(step.exitCode, step.stdout).toBe(1);
  expect(step.masks).toContain(known);
  // The runner masks what the action registered and the workflow's own secrets.
  const masks = [...step.masks, runnerOnly];
  const log = seen(maskLog(step.stdout, masks));
  // The task's lines are there, each secret masked.
  for (let i = 0; i < SPLITS.length; i++) expect(log).toContain(`[talk] line ${i}: *** end`);
  expect(log).toContain('[talk] whole ***');
  expect(log).not.toContain(known);
  expect(log).not.toContain(runnerOnly);
  // Annotations: the runner masks an annotation's message after decoding it (its title as given).
  for (const c of parseCommands(step.stdout).filter((c) => c.command === 'error' || c.command === 'warning')) {
    const text = seen(maskLog(`${c.properties['title'] ?? ''}\n${c.data}`, masks));
    expect(text).not.toContain(known);
    expect(text).not.toContain(runnerOnly);
  }
  // The failed task's last log lines are in the summary, and the params table.
  expect(step.summary).toContain('auth failed');
  expect(step.summary).toContain('`api_token`');
  // The runner masks the summary file as written, line by line, before GitHub renders it.
  const summary = seenMarkdown(maskLog(step.summary, masks));
  expect(summary).not.toContain(known);
  expect(summary).not.toContain(runnerOnly);
});
