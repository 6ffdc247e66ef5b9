/**
 * What `pod-dag run`'s flags hand to the run: `runLocal` is replaced by a recorder, so these
 * check the parsing and its defaults without a cluster (test/cli/run.test.ts runs for real).
 */
import { describe, expect, it, vi } from 'vitest';
import type { LocalRun } from '../../src/cli/run.ts';

const runs: LocalRun[] = [];
vi.mock('../../src/cli/run.ts', () => ({
  runLocal: (run: LocalRun) => {
    runs.push(run);
    return Promise.resolve(0);
  },
}));

const { runCli } = await import('../../src/cli/commands.ts');
const { ROOT } = await import('../harness/action.ts');

async function run(flags: string[]): Promise<Omit<LocalRun, 'spec' | 'params'>> {
  runs.length = 0;
  let stderr = '';
  const code = await runCli(['run', 'examples/hello/dag.yaml', ...flags], {
    cwd: ROOT,
    env: {},
    stdout: () => {},
    stderr: (t) => void (stderr += t),
    signal: new AbortController().signal,
  });
  expect(code, stderr).toBe(0);
  expect(runs).toHaveLength(1);
  const { spec: _spec, params: _params, ...rest } = runs[0]!;
  return rest;
}

describe('pod-dag run flags', () => {
  it('defaults as the action inputs: no parallel limit, 50 requests/s, burst 300, keep failed pods', async () => {
    expect(await run([])).toEqual({ namespace: null, context: null, maxParallel: 0, keepPods: 'on-failure', api: { qps: 50, burst: 300 } });
  });

  it('passes --max-parallel, --api-qps (decimals too) and --api-burst to the run', async () => {
    expect(await run(['--max-parallel', '3', '--api-qps', '0.5', '--api-burst', '10'])).toMatchObject({ maxParallel: 3, api: { qps: 0.5, burst: 10 } });
  });

  it('--api-qps 0 sends without a client-side limit', async () => {
    expect((await run(['--api-qps', '0'])).api).toEqual({ qps: null, burst: 300 });
  });
});
