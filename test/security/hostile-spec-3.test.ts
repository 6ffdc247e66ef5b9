/**
 * The third hostile pass (test/spec/hostile-3.test.ts holds one test per class) through the
 * bundled action (dist/index.js in `run` mode, against a loopback API server that counts every
 * connection) and the CLI: each spec is refused before anything reaches the cluster, with the
 * file, line and column an editor shows (characters, not UTF-16 code units or bytes), never an
 * internal error, a stack trace or a silent success.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../harness/action.ts';
import { runCli } from '../../src/cli/commands.ts';

const head = 'version: 1\nname: hostile\ntasks:\n  a:\n    image: busybox\n';

/** [what, spec, the error's line:col, words in it]. */
const CASES: [string, string, string, RegExp][] = [
  ['an error after emoji on its line', `${head}    env: {E: "😀😀", F: "{{ params.nope }}"}\n`, '6:24', /unknown param "nope"/],
  ['an error on line 1 after a byte order mark', '\ufeffversion: "1"\nname: hostile\ntasks:\n  a: {image: busybox}\n', '1:10', /drop the quotes/],
  ['an error in a file with CRLF line ends', `${head}    retries: {limit: abc}\n`.replace(/\n/g, '\r\n'), '6:22', /expected a whole number/],
  ['a tab indenting a line', 'version: 1\nname: hostile\ntasks:\n  a:\n\timage: busybox\n', '5:1', /Tabs are not allowed as indentation; indent with spaces/],
  ['lone CR line ends', 'version: 1\rname: hostile\rtasks:\r  a:\r    image: busybox\r', '1:11', /lone carriage return .*save the file with LF/],
  ['a %YAML 1.1 directive', `%YAML 1.1\n---\n${head}    env: {A: yes}\n`, '1:1', /"%YAML 1\.1" directive is not supported: a spec is YAML 1\.2/],
  ['a !!binary tag', `${head}    env: {A: !!binary aGk=}\n`, '6:14', /the YAML tag !!binary is not supported/],
  ['an alias with no anchor', 'version: 1\nname: hostile\ntasks:\n  a:\n    image: *img\n', '5:12', /the alias \*img names no anchor/],
  ['a task id 010 that YAML reads as 10', 'version: 1\nname: hostile\ntasks:\n  010: {image: busybox}\n', '4:3', /key 010 in tasks is read as the number 10.*"010"/],
  ['params that differ only in case', 'version: 1\nname: hostile\nparams:\n  DB: a\n  db: b\ntasks:\n  a: {image: busybox}\n', '5:3', /param "db" differs from param "DB" \(line 4, column 3\) only in case/],
  ['an error inside a literal block scalar', `${head}    command:\n      - |\n        echo hi\n        echo {{ params.nope }}\n`, '9:14', /unknown param "nope"/],
  ['a quote never closed', 'version: 1\nname: "hostile\ntasks:\n  a:\n    image: busybox\n', '2:7', /the quote opened here is never closed/],
  ['a value YAML reads as a number where an image was expected', 'version: 1\nname: hostile\ntasks:\n  a:\n    image: 1.10\n', '5:12', /found 1\.10 \(which YAML reads as the number 1\.1; write it in quotes/],
  ['two YAML documents', `${head}---\n${head}`, '6:1', /more than one YAML document/],
  ['an empty file', '', '1:1', /the spec is empty/],
  ['a file that is only a comment', '# nothing here yet\n', '1:1', /the spec is empty/],
  ['a JSON spec with an error', '{"version": 1, "name": "hostile", "tasks": {"a": {"image": "busybox", "retries": {"limit": "z"}}}}', '1:92', /expected a whole number/],
];

async function workspace(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-hostile3-'));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return dir;
}

/** A loopback "API server" that counts connections and answers none: nothing may reach it. */
let server: Server;
let connections = 0;
beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('the action refuses each before it connects to the cluster, at file:line:col', () => {
  it.each(CASES)('%s', async (_what, yaml, at, words) => {
    const before = connections;
    const port = (server.address() as AddressInfo).port;
    const step = await runStep({
      cwd: await workspace(yaml),
      inputs: { dag: 'dag.yaml', mode: 'run', server: `https://127.0.0.1:${port}`, token: 'not-a-real-token' },
      deadlineMs: 30_000,
    });
    const output = step.stdout + step.stderr + step.summary;
    expect(step.exitCode, output).toBe(1);
    expect(output).not.toMatch(/internal error|\n\s+at \S+ \(|TypeError|RangeError/);
    const [line, col] = at.split(':');
    expect(step.commands.filter((c) => c.command === 'error'), step.stdout).toContainEqual(
      expect.objectContaining({ properties: expect.objectContaining({ file: 'dag.yaml', line, col }), message: expect.stringMatching(words) }),
    );
    expect(step.summary).toMatch(words);
    expect(step.outputs['result']).toBe('failure');
    expect(connections - before, 'connections to the API server').toBe(0);
  });
});

describe('the connection count above', () => {
  it('sees a valid spec reach the server (so a zero above means the spec stopped the action)', async () => {
    const before = connections;
    const port = (server.address() as AddressInfo).port;
    await runStep({
      cwd: await workspace(head),
      inputs: { dag: 'dag.yaml', mode: 'run', server: `https://127.0.0.1:${port}`, token: 'not-a-real-token' },
      deadlineMs: 60_000,
    });
    expect(connections - before).toBeGreaterThan(0);
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
