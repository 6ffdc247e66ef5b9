import { describe, expect, it } from 'vitest';
import type { RunState } from '../../src/dag/types.ts';
import {
  GITHUB_SUMMARY_LIMIT,
  renderDryRunSummary,
  renderPlanSummary,
  renderRunSummary,
  TABLE_MAX_ROWS,
} from '../../src/report/summary.ts';
import { formatDuration } from '../../src/report/format.ts';
import type { DryRunVerdict, HistoryRun, RunHistory } from '../../src/report/types.ts';
import { expectGolden } from './golden.ts';
import { mermaidBlocks, parseMermaid } from './mermaid-parse.ts';
import * as f from './fixtures.ts';

/** Every Mermaid block parses with the real parser; returns their diagram types. */
async function chartsParse(markdown: string): Promise<string[]> {
  const types: string[] = [];
  for (const chart of mermaidBlocks(markdown)) types.push(await parseMermaid(chart));
  return types;
}

/** The rendered pods of the example, as the pod builder would give them (trimmed). */
function pods(): Record<string, object> {
  return Object.fromEntries(
    f.clickhouseSpec().tasks.map((t) => [
      t.id,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `clickhouse-db-sync-plan-${t.id}-1`, namespace: 'data-jobs', labels: { 'pod-dag/task': t.id } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: t.image.replace('{{ params.destination_host }}', 'clickhouse.data.svc'), command: t.command, args: t.args }],
        },
      },
    ]),
  );
}

const tail = { 'migrate-data': f.migrateTail() };

describe('run summary golden files', () => {
  const scenarios: [string, () => string][] = [
    ['success.md', () => renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50 })],
    ['retries.md', () => renderRunSummary(f.info(), f.retriesState(), {}, { logTailLines: 50 })],
    ['failure.md', () => renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50 })],
    [
      'skips.md',
      () => renderRunSummary(f.info(f.skipsSpec()), f.skipsState(), { 'create-db': [] }, { logTailLines: 50 }),
    ],
    ['cancel.md', () => renderRunSummary(f.info(), f.cancelState(), {}, { logTailLines: 50 })],
    ['plan.md', () => renderPlanSummary(f.info(f.clickhouseSpec(), 'plan'), pods())],
    [
      'dry-run.md',
      () =>
        renderDryRunSummary(f.info(f.clickhouseSpec(), 'dry-run'), [
          { task: 'drop-destination-db', pod: 'clickhouse-db-sync-dry-drop-destination-db-1', accepted: true, message: null },
          { task: 'create-db', pod: 'clickhouse-db-sync-dry-create-db-1', accepted: true, message: null },
          {
            task: 'migrate-data',
            pod: 'clickhouse-db-sync-dry-migrate-data-1',
            accepted: false,
            message: 'pods "clickhouse-db-sync-dry-migrate-data-1" is forbidden: exceeded quota: compute, requested: requests.memory=4Gi, used: requests.memory=14Gi, limited: requests.memory=16Gi',
          },
          {
            task: 'report',
            pod: 'clickhouse-db-sync-dry-report-1',
            accepted: true,
            message: null,
            problems: ['Secret "clickhouse-creds" has no key "password" (it has "pass")', 'no node of 3 can run it: 3 nodes: the required node affinity does not match its labels'],
          },
        ], {
          checks: {
            done: ['every Secret the pods name exists, with its keys'],
            skipped: [{ check: 'a node can run each pod (selector, affinity, taints, resources)', why: 'RBAC does not let these credentials list nodes (a cluster-wide permission, granted by a ClusterRole)' }],
          },
        }),
    ],
    [
      'oversize.md',
      () => {
        const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(60)}`);
        return renderRunSummary(f.info(), f.failureState(), { 'migrate-data': lines }, { logTailLines: 400, maxBytes: 12_000 });
      },
    ],
  ];
  for (const [name, render] of scenarios) {
    it(`${name} matches its golden file and every chart parses`, async () => {
      const text = render();
      expectGolden(name, text);
      const types = await chartsParse(text);
      expect(types.length).toBeGreaterThan(0);
    });
  }
});

describe('run summary content', () => {
  it('colours each task by its result, with retried-then-succeeded apart from succeeded', async () => {
    const text = renderRunSummary(f.info(), f.retriesState(), {}, { logTailLines: 50 });
    expect(text).toContain('class t0,t1,t3 succeeded');
    expect(text).toContain('class t2 retried');
    expect(await chartsParse(text)).toEqual(['flowchart-v2', 'gantt']);
  });

  it('lists every attempt of a retried task with its class and reason', () => {
    const text = renderRunSummary(f.info(), f.retriesState(), {}, { logTailLines: 50 });
    expect(text).toMatch(/\| ↳ attempt 1 \| ✖️ failed \|.*OOMKilled, exit 137 — `The container used more memory/);
    expect(text).toMatch(/\| ↳ attempt 2 \| ✅ succeeded \|/);
  });

  it('draws a short pipeline left to right and a deep one top to bottom', async () => {
    expect(renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50 })).toContain('flowchart LR');
    const spec = f.clickhouseSpec();
    // Written in reverse order, so file order is not dependency order.
    spec.tasks = Array.from({ length: 8 }, (_, i) => f.taskSpec(`step-${i}`, 10 + i, { needs: i === 7 ? [] : [`step-${i + 1}`] }));
    const state = f.run(spec.tasks.map((t) => f.task(t.id, 'succeeded', [f.attempt(t.id, 1, 0, 1, f.outcome())])), 2, 'success');
    const text = renderRunSummary(f.info(spec), state, {}, { logTailLines: 50 });
    expect(text).toContain('flowchart TD');
    await chartsParse(text);
  });

  it('shows a task reused from an earlier run attempt (re-run failed jobs)', () => {
    const state = f.successState();
    state.tasks[0] = f.task('drop-destination-db', 'succeeded', [], { reusedFrom: { runAttempt: 1 } });
    const i = f.info();
    i.context = { ...i.context, runAttempt: 2 };
    const text = renderRunSummary(i, state, {}, { logTailLines: 50 });
    expect(text).toMatch(/\| \[drop-destination-db\]\(.*\) \| ✅ succeeded \| 0 \| — \| — \| — \| — \| reused from run attempt 1 \|/);
    expect(text).toContain('reused from run attempt 1"]');
    expect(text).toContain('[workflow run 12345678901, attempt 2](https://github.com/acme/data-pipelines/actions/runs/12345678901/attempts/2)');
  });

  it('links the spec at the commit and each task at its line', () => {
    const text = renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50 });
    const base = 'https://github.com/acme/data-pipelines/blob/4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d/.github/dags/clickhouse-db-sync.yaml';
    expect(text).toContain(`(${base})`);
    expect(text).toContain(`[migrate-data](${base}#L23)`);
    expect(text).toContain('[workflow run 12345678901](https://github.com/acme/data-pipelines/actions/runs/12345678901)');
  });

  it('writes plain names without links outside GitHub (the CLI)', () => {
    const i = f.info();
    i.context = { ...i.context, repository: null, sha: null, runId: null };
    const text = renderRunSummary(i, f.successState(), {}, { logTailLines: 50 });
    expect(text).not.toContain('https://');
    expect(text).toContain('Spec `.github/dags/clickhouse-db-sync.yaml`');
  });

  it('shows only the last logTailLines lines of a failed task', () => {
    const text = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 2 });
    expect(text).toContain('Last 2 log lines of attempt 3');
    expect(text).not.toContain('Traceback');
    expect(text).toContain('Memory limit (total) exceeded');
  });

  it('says why a failed task has no log', () => {
    const text = renderRunSummary(f.info(f.skipsSpec()), f.skipsState(), {}, { logTailLines: 50 });
    expect(text).toContain("_No log lines: the container never started; the cluster's message above says why._");
    expect(text).toContain('```text\nFailed to pull image "clickhouse/clickhouse-server:24.88"');
  });

  it('renders the same state to the same text', () => {
    const a = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50 });
    const b = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50 });
    expect(a).toBe(b);
  });

  it('describes an unfinished run without crashing (a runner that died)', async () => {
    const state = f.run(
      [f.task('drop-destination-db', null, [f.attempt('drop-destination-db', 1, 0, null, null)]), f.task('create-db', null, [])],
      null,
      null,
    );
    const text = renderRunSummary(f.info(), state, {}, { logTailLines: 50 });
    expect(text).toContain('## ⏳ clickhouse-db-sync did not finish');
    await chartsParse(text);
  });
});

describe('the failure comes first, and the summary scales', () => {
  it('puts each failed task, its reason and its open log tail before the graph', () => {
    const text = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50 });
    const failed = text.indexOf('### Failed task');
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(text.indexOf('### Graph'));
    expect(text).toContain('#### ❌ [migrate-data]');
    expect(text).toContain(': exit 1, after 3 attempts');
    // Open: not folded into a <details> the reader must click.
    expect(text).toContain('Last 7 log lines of attempt 3:\n\n```text\n2026-11-24 02:20:01 INFO copying table events (1/42)');
    expect(text).not.toMatch(/<details><summary>Last \d+ log/);
  });

  it('gives the kubectl commands for the kept pod, its logs and its events', () => {
    const text = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50, keepPods: 'on-failure' });
    const pod = 'clickhouse-db-sync-12345678901-migrate-data-3';
    expect(text).toContain('kept by `keep-pods: on-failure`');
    expect(text).toContain(`kubectl -n data-jobs describe pod ${pod}\nkubectl -n data-jobs logs ${pod}\nkubectl -n data-jobs get events --field-selector involvedObject.name=${pod}`);
    const gone = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50, keepPods: 'never' });
    expect(gone).toContain('The pod was deleted (`keep-pods: never`)');
    expect(gone).not.toContain(`kubectl -n data-jobs logs ${pod}`);
    expect(gone).toContain(`kubectl -n data-jobs get events --field-selector involvedObject.name=${pod}`);
  });

  it('never says the same thing twice in a row (exit 3 — exit code 3)', () => {
    const state = f.failureState();
    const o = f.outcome({ class: 'failed', reason: 'Error', exitCode: 3, message: 'exit code 3' });
    state.tasks[2] = f.task('migrate-data', 'failed', [f.attempt('migrate-data', 1, 9, 20, o), f.attempt('migrate-data', 2, 30, 40, o)]);
    const text = renderRunSummary(f.info(), state, {}, { logTailLines: 50 });
    expect(text).not.toContain('exit code 3');
    expect(text).toMatch(/\| ↳ attempt 1 \| ✖️ failed \|.*\| exit 3 \|/);
    expect(text).toContain('_No log lines: the container wrote nothing to stdout or stderr._');
  });

  it('draws a 32-shard fan-out as one node with counts, and folds the plain rows of the table', async () => {
    const spec = f.fanOutSpec(32);
    const text = renderRunSummary(f.info(spec), f.fanOutState(spec, ['shard-17']), { 'shard-17': f.shardTail() }, { logTailLines: 50 });
    const graph = mermaidBlocks(text)[0]!;
    expect(graph).toContain('t1["shard-00 #8230; shard-31<br/>32 tasks: 28 ✅ 3 🔁 1 ❌<br/>❌ shard-17"]');
    expect(graph.match(/^ {2}t\d+\[/gm)).toHaveLength(4); // split, the shards, merge, report
    expect(graph).toContain('class t1 failed');
    // The table opens with what needs a look (the retried shards and the failed one); the 31
    // plain rows are folded.
    expect(text).toMatch(/### Tasks\n\n\| Task .*\n.*\n\| \[shard-03\].*\n\| ↳ attempt 1 .*\n\| ↳ attempt 2 .*\n\| \[shard-13\]/);
    expect(text).toContain('<details><summary>The other 31 tasks (30 ✅ 1 ⏭️)</summary>');
    expect(await chartsParse(text)).toEqual(['flowchart-v2', 'gantt']);
  });

  it('keeps a 1,000-task DAG readable and under 1 MiB: failures first, a graph of a few nodes, a timeline per node', async () => {
    const spec = f.fanOutSpec(500, true);
    expect(spec.tasks).toHaveLength(1003);
    const state = f.fanOutState(spec, ['shard-211', 'load-042'], ['shard-137']);
    const text = renderRunSummary(f.info(spec), state, { 'shard-211': f.shardTail(), 'load-042': f.shardTail() }, { logTailLines: 50 });
    expect(Buffer.byteLength(text)).toBeLessThan(GITHUB_SUMMARY_LIMIT);
    expect(text).toContain('### Failed tasks (3)');
    // The configuration failure (the user's to fix) comes first.
    expect(text.indexOf('#### ❌ [shard-137]')).toBeLessThan(text.indexOf('#### ❌ [shard-211]'));
    const [graph, timeline] = mermaidBlocks(text);
    expect(graph!.match(/^ {2}t\d+\[/gm)).toHaveLength(5);
    expect(graph).toContain('shard-000 #8230; shard-499<br/>500 tasks');
    expect(timeline!.match(/^ {4}\S.*:/gm)!.length).toBeLessThanOrEqual(5);
    expect(await chartsParse(text)).toEqual(['flowchart-v2', 'gantt']);
  });

  it('colours Gantt bars by result: succeeded, failed, lost, cancelled, running', async () => {
    const state = f.retriesState();
    const text = renderRunSummary(f.info(), state, {}, { logTailLines: 50 });
    const timeline = mermaidBlocks(text)[1]!;
    expect(timeline).toMatch(/"themeCSS":".*\.task0.*fill:#4ac26b/);
    expect(timeline).toMatch(/attempt 1, OOMKilled, exit 137 :crit, b\d+/);
    expect(timeline).toMatch(/attempt 2 :b\d+/);
    expect(text).toContain('🟩 succeeded · 🟥 failed');
    const cancelled = mermaidBlocks(renderRunSummary(f.info(), f.cancelState(), {}, { logTailLines: 50 }))[1]!;
    expect(cancelled).toMatch(/:done, b\d+/);
    await chartsParse(text);
  });
});

describe('the history grid (last runs)', () => {
  const day = 86_400_000;
  const run = (n: number, result: 'success' | 'failure', migrate: string): HistoryRun => ({
    runId: String(12345678800 + n),
    runAttempt: 1,
    startedAt: f.T0 - (4 - n) * day,
    result,
    tasks: {
      'drop-destination-db': { result: 'succeeded', durationMs: 4000, runAttempt: 1 },
      'create-db': { result: 'succeeded', durationMs: 3000, runAttempt: 1 },
      'migrate-data': { result: migrate, durationMs: 3_600_000, runAttempt: 1 },
      ...(migrate === 'succeeded' ? { report: { result: 'succeeded', durationMs: 7000, runAttempt: 1 } } : {}),
    },
  });

  it('shows a row per task and a column per run, linking to each run, this run last; a task that started failing stands out', async () => {
    const history: RunHistory = { runs: [run(1, 'success', 'succeeded'), run(2, 'success', 'succeeded'), run(3, 'failure', 'failed')], unavailable: null };
    const text = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50, history });
    const grid = text.slice(text.indexOf('### Last runs'));
    expect(grid).toContain('| Task | ✅ [11-21 02:00](https://github.com/acme/data-pipelines/actions/runs/12345678801) | ✅ [11-22 02:00](https://github.com/acme/data-pipelines/actions/runs/12345678802) | ❌ [11-23 02:00](https://github.com/acme/data-pipelines/actions/runs/12345678803) | **this run** |');
    expect(grid).toMatch(/\| \*\*\[migrate-data\]\(.*#L23\)\*\* ❗ failing for 2 runs \| ✅ 1h \| ✅ 1h \| ❌ 1h \| ❌ 1h 5m 41s \|/);
    expect(grid).toMatch(/\| \[report\]\(.*\) \| ✅ 7s \| ✅ 7s \| · \| ✅ 7s \|/);
    await chartsParse(text);
  });

  it('reads a task a large run’s digest leaves out as succeeded there (its digest lists only what did not succeed)', () => {
    const digestOnly: HistoryRun = { ...run(1, 'failure', 'failed'), tasks: { 'migrate-data': { result: 'failed', durationMs: 3_600_000, runAttempt: 1 } }, othersSucceeded: true };
    const text = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50, history: { runs: [digestOnly], unavailable: null } });
    const grid = text.slice(text.indexOf('### Last runs'));
    expect(grid).toMatch(/\| \[create-db\]\(.*\) \| ✅ \| ✅ \S+ \|/);
    expect(grid).toMatch(/\| \[migrate-data\]\(.*\) \| ❌ 1h \| ❌ 1h 5m 41s \|/);
  });

  it('says once why there is no history when RBAC does not allow reading it', () => {
    const why = 'RBAC does not let these credentials list configmaps in namespace data-jobs, where the runs\' states are kept';
    const text = renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50, history: { runs: [], unavailable: why } });
    expect(text.split(why).length - 1).toBe(1);
    expect(text).toContain(`_The history of earlier runs is left out:_ \`${why}\``);
  });

  it('shows a server\'s error that kept the history out as written, where the runner\'s mask of a workflow secret finds it', () => {
    const why = 'the runs\' states could not be listed: proxy refused token ghs_live_key_0123';
    const text = renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50, history: { runs: [], unavailable: why } });
    expect(text).toContain('ghs_live_key_0123');
  });

  it('has no section when there is no earlier run', () => {
    expect(renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50, history: { runs: [], unavailable: null } })).not.toContain('### Last runs');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [12_000, '12s'],
    [1_500, '1.5s'],
    [83_000, '1m 23s'],
    [180_000, '3m'],
    [7_500_000, '2h 5m'],
    [2 * 86_400_000 + 3 * 3_600_000, '2d 3h'],
    [-5, '0ms'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('the size budget', () => {
  const huge = (n: number): string[] => Array.from({ length: n }, (_, i) => `${String(i).padStart(6, '0')} ${'y'.repeat(300)}`);

  it('stays under 1 MiB with megabytes of log tails, trimming the oldest lines and saying so', async () => {
    const state = f.failureState();
    state.tasks[0] = f.task('drop-destination-db', 'failed', [f.attempt('drop-destination-db', 1, 0, 4, f.outcome({ class: 'failed', reason: 'Error', exitCode: 2 }))]);
    const tails = { 'migrate-data': huge(6000), 'drop-destination-db': huge(6000) };
    const text = renderRunSummary(f.info(), state, tails, { logTailLines: 6000 });
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeLessThanOrEqual(GITHUB_SUMMARY_LIMIT);
    expect(bytes).toBeGreaterThan(GITHUB_SUMMARY_LIMIT / 2);
    expect(text).toMatch(/Log tails were trimmed to the last \d+ lines per task to keep this summary under GitHub's 1 MiB limit/);
    expect(text).toContain('005999 yyy'); // the newest line stays
    expect(text).not.toContain('000000 yyy'); // the oldest goes
    await chartsParse(text);
  });

  it('does not mention trimming when everything fits', () => {
    const text = renderRunSummary(f.info(), f.failureState(), tail, { logTailLines: 50 });
    expect(text).not.toContain('trimmed');
  });

  it('cuts a single enormous log line', () => {
    const text = renderRunSummary(f.info(), f.failureState(), { 'migrate-data': ['z'.repeat(3_000_000)] }, { logTailLines: 50 });
    expect(Buffer.byteLength(text)).toBeLessThan(20_000);
    expect(text).toContain(`${'z'.repeat(1999)}…`);
  });

  /** A chain of `n` tasks that all succeeded. */
  function chain(n: number): [ReturnType<typeof f.info>, RunState] {
    const spec = f.clickhouseSpec();
    spec.tasks = Array.from({ length: n }, (_, i) => f.taskSpec(`task-${i}`, 10 + i, { needs: i === 0 ? [] : [`task-${i - 1}`] }));
    const state = f.run(
      spec.tasks.map((t, i) => f.task(t.id, 'succeeded', [f.attempt(t.id, 1, i, i + 1, f.outcome())])),
      n + 1,
      'success',
    );
    return [f.info(spec), state];
  }

  it('leaves out a chart too big for Mermaid, and says so', async () => {
    const [i, state] = chain(1500);
    const text = renderRunSummary(i, state, {}, { logTailLines: 50 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(GITHUB_SUMMARY_LIMIT);
    expect(text).toMatch(/The graph is left out: .* over Mermaid's limit of 50,000/);
    expect(text).toMatch(/The timeline is left out: .* over Mermaid's limit of 50,000/);
    expect(text).toContain('task-999');
    expect(mermaidBlocks(text)).toEqual([]);
  });

  it('still fits with 20,000 tasks: the table stops at its cap (rows beyond it are never built) and counts the rest', () => {
    const [i, state] = chain(20_000);
    state.tasks[15_000] = f.task('task-15000', 'failed', [f.attempt('task-15000', 1, 0, 1, f.outcome({ class: 'failed', reason: 'Error', exitCode: 3 }))]);
    const text = renderRunSummary(i, state, {}, { logTailLines: 50 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(GITHUB_SUMMARY_LIMIT);
    expect(text).not.toContain('The summary was cut here');
    // What needs a look comes first, whatever its place in the run.
    expect(text).toMatch(/\| \[task-15000\]\(.*\) \| ❌ failed/);
    expect(text.match(/^\| \[task-\d+\]/gm)).toHaveLength(TABLE_MAX_ROWS);
    expect(text).toContain(`_19,000 more tasks are not listed (19000 ✅): the table stops at 1,000 rows to keep this summary under GitHub's 1 MiB limit. The \`summary-json\` output has every task._`);
  });
});

describe('plan and dry-run summaries', () => {
  it('dry-run says which checks beyond the server it skipped, instead of "every pod accepted"', () => {
    const verdicts: DryRunVerdict[] = f.clickhouseSpec().tasks.map((t) => ({ task: t.id, pod: `p-${t.id}`, accepted: true, message: null, problems: [] }));
    const skipped = { check: 'Secrets exist', why: 'RBAC does not let these credentials get secrets in namespace data-jobs' };
    const text = renderDryRunSummary(f.info(f.clickhouseSpec(), 'dry-run'), verdicts, { checks: { done: [], skipped: [skipped] } });
    expect(text.split('\n')[0]).toBe('## ⚠️ clickhouse-db-sync dry run: every pod accepted, 1 check skipped');
    expect(text).toContain('- ⏭️ **Skipped**: Secrets exist: RBAC does not let these credentials get secrets in namespace data-jobs.');
    expect(text).toContain('- No dry run can know whether each image exists and can be pulled');
    const clean = renderDryRunSummary(f.info(f.clickhouseSpec(), 'dry-run'), verdicts, { checks: { done: ['x'], skipped: [] } });
    expect(clean.split('\n')[0]).toBe('## ✅ clickhouse-db-sync dry run: every pod accepted');
  });

  it('plan shows each task with image, command, args, needs and if', () => {
    const text = renderPlanSummary(f.info(f.clickhouseSpec(), 'plan'), pods());
    expect(text).toContain(
      "| `registry.example.com/internal-scripts:2024-01` | `python clickhouse/migration.py --source-db '{{ params.source_db }}' --destination-db '{{ params.destination_db }}'` |",
    );
    expect(text).toMatch(/\| \[report\]\(.*#L32\) \| migrate-data \| `always\(\)` \|/);
  });

  it('dry-run counts a task without a verdict as not checked', async () => {
    const verdicts: DryRunVerdict[] = [{ task: 'drop-destination-db', pod: 'p-1', accepted: true, message: null }];
    const text = renderDryRunSummary(f.info(f.clickhouseSpec(), 'dry-run'), verdicts);
    expect(text).toContain('4 tasks: 1 ✅ accepted · 3 ⚪ not checked');
    expect(text.startsWith('## ❌')).toBe(true);
    await chartsParse(text);
  });
});
