/**
 * The runner reads workflow commands on stderr as on stdout. What a library writes with
 * console.*, what Node prints for a warning, and an uncaught error's message and stack bypass the
 * step log's choke point (src/report/workflow-commands.ts) unless the action's entry points route
 * them through it (`ownProcessOutput`). A child process does exactly what main.ts does, then lets
 * hostile text out each of those ways; its whole output is read with the model of the runner.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../harness/action.ts';
import { parseCommands } from '../helpers/runner-commands.ts';

const SCRIPT = (runner: string) => `
import { githubRunner, ownProcessOutput } from ${JSON.stringify(runner)};
const runner = githubRunner();
ownProcessOutput(runner);
const hostile = 'from the cluster\\n::add-mask::pwned-console\\n##[stop-commands]pwned-token';
console.log(hostile);
console.error(hostile);
console.warn('%s', hostile);
console.debug(hostile);
process.emitWarning(hostile);
setTimeout(() => Promise.reject(new Error(hostile)), 10);
`;

it('console lines, Node warnings and an uncaught error leave as inert lines, and the step fails', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-process-output-'));
  const file = path.join(dir, 'entry.ts');
  await writeFile(file, SCRIPT(path.join(ROOT, 'src/action/github-runner.ts')));
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const commands = [...parseCommands(stdout, { anyCommand: true }), ...parseCommands(stderr, { anyCommand: true })];
  // Only the action's own: debug lines and the one error annotation of the failure.
  expect(commands.filter((c) => c.form !== 'v2' || !['debug', 'error'].includes(c.command)), stdout + stderr).toEqual([]);
  expect(commands.filter((c) => c.command === 'error')).toHaveLength(1);
  expect(stdout).toContain(': :add-mask::pwned-console');
  expect(stdout).toContain('# #[stop-commands]pwned-token');
  expect(stderr).toBe('');
  expect(code).toBe(1);
});
