/**
 * Issue 13, item 5: the `dag` input (and the CLI's FILE) is a regular file inside the workspace
 * (the current directory for the CLI) once symlinks are resolved, at most 1 MiB; anything else is
 * a clear error that shows none of the file's content. No `../`, no symlink out, no device, no FIFO.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpec, MAX_SPEC_BYTES, SpecFileError } from '../../src/spec/load.ts';
import { runCli } from '../../src/cli/commands.ts';
import { runStep } from '../harness/action.ts';

const SECRET = 'root:x:0:0:SECRET-CONTENT-LINE';
const VALID = 'version: 1\nname: ok\ntasks: {a: {image: busybox}}\n';

let outside: string;
let ws: string;
beforeAll(async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'pod-dag-file-'));
  outside = path.join(base, 'outside');
  ws = path.join(base, 'ws');
  await mkdir(outside);
  await mkdir(path.join(ws, '.github', 'dags'), { recursive: true });
  await writeFile(path.join(outside, 'passwd'), `${SECRET}\n`);
  await writeFile(path.join(ws, '.github', 'dags', 'ok.yaml'), VALID);
  await symlink(path.join(outside, 'passwd'), path.join(ws, '.github', 'dags', 'evil.yaml'));
  await symlink('ok.yaml', path.join(ws, '.github', 'dags', 'alias.yaml'));
  await symlink('/dev/zero', path.join(ws, 'zero.yaml'));
  await writeFile(path.join(ws, 'huge.yaml'), `# ${SECRET}\n${'x'.repeat(MAX_SPEC_BYTES)}`);
  execFileSync('mkfifo', [path.join(ws, 'fifo.yaml')]);
});

async function refusal(file: string, options: Parameters<typeof loadSpec>[2] = {}): Promise<string> {
  const err = await loadSpec(file, ws, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SpecFileError);
  const message = (err as Error).message;
  expect(message).not.toContain('SECRET-CONTENT');
  return message;
}

describe('the spec file', () => {
  it('refuses a ../ path out of the workspace', async () => {
    expect(await refusal('../outside/passwd')).toMatch(/^DAG spec '\.\.\/outside\/passwd' is outside the workspace/);
  });

  it('refuses an absolute path out of the workspace', async () => {
    expect(await refusal(path.join(outside, 'passwd'))).toMatch(/is outside the workspace/);
  });

  it('refuses a committed symlink that points out of the workspace, naming where it leads', async () => {
    expect(await refusal('.github/dags/evil.yaml')).toMatch(/is outside the workspace .* \(it resolves to .*passwd through a symlink\)/);
  });

  it('follows a symlink that stays inside the workspace', async () => {
    expect((await loadSpec('.github/dags/alias.yaml', ws)).spec?.name).toBe('ok');
  });

  it('refuses a device, even where a path outside is allowed', async () => {
    expect(await refusal('zero.yaml')).toMatch(/is outside the workspace/);
    expect(await refusal('zero.yaml', { root: null })).toMatch(/is a device, not a regular file/);
  });

  it('refuses a FIFO at once, without waiting for a writer', async () => {
    expect(await refusal('fifo.yaml')).toMatch(/is a FIFO \(named pipe\), not a regular file/);
  });

  it('refuses a file over 1 MiB without reading it', async () => {
    expect(await refusal('huge.yaml')).toMatch(/is 1048\d+ bytes; the limit is 1048576 bytes \(1 MiB\)/);
  });
});

describe('the action', () => {
  it("fails a 'dag' outside the workspace with an error that shows none of the file", async () => {
    const step = await runStep({ cwd: ws, inputs: { dag: '.github/dags/evil.yaml', mode: 'plan' } });
    expect(step.exitCode).toBe(1);
    expect(step.stdout + step.stderr + step.summary).not.toContain('SECRET-CONTENT');
    expect(step.stdout).toMatch(/::error::DAG spec '\.github\/dags\/evil\.yaml' is outside the workspace/);
  });
});

describe('the CLI', () => {
  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { cwd: ws, env: {}, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), signal: new AbortController().signal });
    return { code, stdout, stderr };
  }

  it('reads files inside the current directory only, unless --allow-outside', async () => {
    const out = await cli(['validate', '.github/dags/evil.yaml']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/is outside the current directory, .*--allow-outside/);
    expect(out.stderr).not.toContain('SECRET-CONTENT');
    await writeFile(path.join(outside, 'spec.yaml'), VALID);
    expect((await cli(['validate', '../outside/spec.yaml'])).code).toBe(2);
    expect(await cli(['validate', '../outside/spec.yaml', '--allow-outside'])).toMatchObject({ code: 0, stdout: '../outside/spec.yaml: valid (1 task)\n' });
  });
});
