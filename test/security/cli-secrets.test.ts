/**
 * `pod-dag run` prints to a terminal, where no runner masks anything: the kubeconfig's
 * credentials are replaced by `***` in everything it prints once it connected, in their encoded
 * forms too, as in the step log.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';

const NS = 'cli-secrets';
let cluster: TestCluster;
let dir: string;
beforeAll(async () => {
  cluster = await startTestCluster({ namespaces: [NS] });
  dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-cli-secrets-'));
  await writeFile(path.join(dir, 'kubeconfig'), cluster.kubeconfig(NS), { mode: 0o600 });
}, 120_000);
afterAll(async () => {
  await cluster?.close();
});

it('never prints the kubeconfig credentials, as written or base64-encoded, even when a task does', async () => {
  const secret = cluster.secrets.find((s) => s.length >= 16);
  expect(secret, 'the test cluster kubeconfig has a credential').toBeDefined();
  const b64 = Buffer.from(secret!).toString('base64');
  // The task prints what it was given (a param, here): the credential and its base64.
  const yaml = ['version: 1', 'name: cli-secrets', 'params: {tok: x, enc: y}', 'tasks:', '  leak:', '    image: sandbox/succeed', '    env: {SANDBOX_LOG: "token {{ params.tok }} encoded {{ params.enc }}"}', ''].join('\n');
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  let stdout = '';
  let stderr = '';
  const code = await runCli(['run', 'dag.yaml', '--params', JSON.stringify({ tok: secret, enc: b64 })], {
    cwd: dir,
    env: { KUBECONFIG: path.join(dir, 'kubeconfig'), HOME: dir },
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    signal: new AbortController().signal,
  });
  expect(code, stdout + stderr).toBe(0);
  expect(stdout).toContain('[leak] token *** encoded ***');
  expect(stdout + stderr).not.toContain(secret);
  expect(stdout + stderr).not.toContain(b64.slice(4, -4));
});
