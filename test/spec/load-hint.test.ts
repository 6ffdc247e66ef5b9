/**
 * A spec path with a typo names the YAML files beside it, the closest first, instead of only
 * "not found" and a hint about actions/checkout that does not apply.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec, SpecFileError } from '../../src/spec/load.ts';

async function workspace(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-load-'));
  await mkdir(path.join(dir, '.github', 'dags'), { recursive: true });
  for (const f of ['nightly.yaml', 'hourly.yml', 'notes.txt']) await writeFile(path.join(dir, '.github', 'dags', f), 'x: 1\n');
  return dir;
}

const refusal = (p: string, cwd: string, options: Parameters<typeof loadSpec>[2] = {}) =>
  loadSpec(p, cwd, options).then(
    () => '',
    (e: unknown) => (e instanceof SpecFileError ? e.message : `not a SpecFileError: ${String(e)}`),
  );

describe('a spec path that does not exist', () => {
  it('with a typo: the closest YAML file beside it, and the others', async () => {
    const cwd = await workspace();
    expect(await refusal('.github/dags/nigthly.yaml', cwd)).toBe(
      `DAG spec not found at '.github/dags/nigthly.yaml' (resolved to ${path.join(cwd, '.github/dags/nigthly.yaml')}). Did you mean '.github/dags/nightly.yaml'? The YAML files in ${path.join(cwd, '.github/dags')}: nightly.yaml, hourly.yml.`,
    );
  });

  it('in a folder that does not exist, in a workflow: the checkout hint', async () => {
    const cwd = await workspace();
    expect(await refusal('dags/nightly.yaml', cwd)).toMatch(/Did you run actions\/checkout before this step\?$/);
  });

  it('outside the workspace: nothing about the files there', async () => {
    const cwd = await workspace();
    const outside = path.join(cwd, '.github', 'dags', 'nigthly.yaml');
    expect(await refusal(outside, path.join(cwd, '.github', 'dags', '..', '..', 'elsewhere'), { root: path.join(cwd, 'elsewhere') })).not.toMatch(/nightly/);
  });
});
