/**
 * The history grid through dist/index.js as the runner runs it: three GitHub runs of the bad-day
 * DAG (test/fixtures/bad-day) in one namespace. The second run's summary shows the first as a
 * column; the third, whose load-users fails again after succeeding, makes that task stand out.
 * The runs' states kept in the cluster are read with one list request per run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CoreV1Api } from '@kubernetes/client-node';
import { readHistory } from '../../src/kube/history.ts';
import { startDemoCluster } from '../fixtures/demo-cluster.ts';
import { fileSandbox, show } from '../helpers/e2e.ts';
import { runStep } from '../harness/action.ts';

const sandbox = fileSandbox(startDemoCluster);
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pod-dag-history-'));
});
const runOnce = (runId: string) =>
  runStep({
    inputs: { dag: 'test/fixtures/bad-day/dag.yaml', params: `scratch: ${scratch}\n`, kubeconfig: sandbox().kubeconfig(), 'keep-pods': 'never' },
    env: { GITHUB_RUN_ID: runId },
  });
const grid = (summary: string) => summary.slice(summary.indexOf('### Last runs'));

describe('the history grid', () => {
  it('has no section on the first run, then a column per earlier run; a task that starts failing stands out', async () => {
    const first = await runOnce('6000001');
    expect(first.exitCode, show(first)).toBe(1);
    expect(first.summary).not.toContain('### Last runs');

    await writeFile(path.join(scratch, 'users.csv'), 'id\n1\n');
    sandbox().counters.reset();
    const second = await runOnce('6000002');
    expect(second.exitCode, show(second)).toBe(0);
    // One list of the runs' states for the history (their heads only), one of the run's own
    // state (the run store, for the step's claim: the re-run's plan reuses it), and one by
    // housekeeping at the end.
    expect(sandbox().counters.get('list', 'configmaps')).toBe(3);
    const g2 = grid(second.summary);
    expect(g2).toMatch(/^\| Task \| ❌ \[\d\d-\d\d \d\d:\d\d\]\(https:\/\/github\.com\/octo-org\/data-pipelines\/actions\/runs\/6000001\) \| \*\*this run\*\* \|$/m);
    expect(g2).toMatch(/^\| \[load-users\]\([^)]*\) \| ❌ \S+ \| ✅ \S+ \|$/m);
    expect(g2).toMatch(/^\| \[build-report\]\([^)]*\) \| · \| ✅ \S+ \|$/m);

    await rm(path.join(scratch, 'users.csv'));
    const third = await runOnce('6000003');
    expect(third.exitCode, show(third)).toBe(1);
    const g3 = grid(third.summary);
    expect(g3).toMatch(/runs\/6000001\) \| ✅ \[.*runs\/6000002\) \| \*\*this run\*\* \|$/m);
    expect(g3).toMatch(/^\| \*\*\[load-users\]\([^)]*\)\*\* ❗ failing since this run \| ❌ \S+ \| ✅ \S+ \| ❌ \S+ \|$/m);
    expect(g3).toMatch(/^\| \[extract\]\([^)]*\) \| ✅ \S+ \| ✅ \S+ \| ✅ \S+ \|$/m);
  });

  it('is left out, saying why once, when the states cannot be listed', async () => {
    const forbidden = Object.assign(new Error('configmaps is forbidden'), { code: 403, body: JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden' }) });
    const history = await readHistory({
      core: {} as CoreV1Api,
      request: () => Promise.reject(forbidden),
      namespace: 'data-jobs',
      dag: 'bad-day',
      repository: 'octo-org/data-pipelines',
      runId: '1',
    });
    expect(history).toEqual({ runs: [], unavailable: "RBAC does not let these credentials list configmaps in namespace data-jobs, where the runs' states are kept" });
  });
});
