import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutputsReporter, setRunOutputs, summaryJson, type SummaryJson } from '../../src/report/outputs.ts';
import { SummaryReporter, coreSummaryWriter, fileSummaryWriter } from '../../src/report/summary-reporter.ts';
import { CompositeReporter } from '../../src/report/types.ts';
import * as f from './fixtures.ts';
import { runScope } from '../../src/common/run.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pod-dag-report-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Collects outputs as the runner would. */
function sink(): { outputs: Record<string, string>; setOutput(name: string, value: string): void } {
  const outputs: Record<string, string> = {};
  return { outputs, setOutput: (n, v) => void (outputs[n] = v) };
}

describe('outputs', () => {
  it('sets result, failed-tasks, outputs and the summary-json path', async () => {
    const s = sink();
    const path = await setRunOutputs(f.info(), f.failureState(), { sink: s, dir });
    expect(s.outputs).toEqual({
      result: 'failure',
      'failed-tasks': '["migrate-data"]',
      outputs: '{"drop-destination-db":{},"create-db":{},"migrate-data":{},"report":{}}',
      'summary-json': path,
    });
    // The run's scope (job, step) keeps apart the files of two steps of one job running the same DAG.
    expect(path).toBe(join(dir, `pod-dag-clickhouse-db-sync-12345678901-${runScope(f.info().context)}-1-summary.json`));
  });

  it('passes task outputs through as JSON', async () => {
    const s = sink();
    await setRunOutputs(f.info(), f.successState(), { sink: s, dir });
    expect(JSON.parse(s.outputs.outputs!)['migrate-data']).toEqual({ rows: '18234112', tables: '42' });
    expect(s.outputs.result).toBe('success');
    expect(s.outputs['failed-tasks']).toBe('[]');
  });

  it('writes the whole run as JSON: tasks, attempts, classes, reasons, ISO times, pods, nodes', async () => {
    const s = sink();
    const path = await setRunOutputs(f.info(), f.retriesState(), { sink: s, dir });
    const doc = JSON.parse(readFileSync(path, 'utf8')) as SummaryJson;
    expect(doc).toMatchObject({
      version: 1,
      dag: 'clickhouse-db-sync',
      mode: 'run',
      result: 'success',
      startedAt: '2026-11-24T02:00:00Z',
      finishedAt: '2026-11-24T03:10:12Z',
      durationMs: 4_212_000,
      failedTasks: [],
      run: { repository: 'acme/data-pipelines', runId: '12345678901', url: 'https://github.com/acme/data-pipelines/actions/runs/12345678901' },
    });
    const migrate = doc.tasks.find((t) => t.id === 'migrate-data')!;
    expect(migrate).toMatchObject({ result: 'succeeded', shown: 'retried', line: 23, needs: ['create-db'], outputs: { rows: '18234112', tables: '42' } });
    expect(migrate.attempts).toEqual([
      {
        attempt: 1,
        pod: 'clickhouse-db-sync-12345678901-migrate-data-1',
        node: 'pool-b-91d4e',
        startedAt: '2026-11-24T02:00:09Z',
        finishedAt: '2026-11-24T02:20:07Z',
        durationMs: 1_198_000,
        class: 'failed',
        reason: 'OOMKilled',
        message: 'The container used more memory than its limit (4Gi) and was killed.',
        exitCode: 137,
      },
      {
        attempt: 2,
        pod: 'clickhouse-db-sync-12345678901-migrate-data-2',
        node: 'pool-b-2c7aa',
        startedAt: '2026-11-24T02:23:07Z',
        finishedAt: '2026-11-24T03:10:03Z',
        durationMs: 2_816_000,
        class: 'succeeded',
        reason: 'Completed',
        message: null,
        exitCode: 0,
      },
    ]);
  });

  it('puts the file under RUNNER_TEMP by default', async () => {
    const s = sink();
    const path = await setRunOutputs(f.info(), f.successState(), { sink: s, env: { RUNNER_TEMP: dir } });
    expect(path.startsWith(dir)).toBe(true);
  });

  it('redacts secrets from the summary-json file', async () => {
    const state = f.failureState();
    state.tasks[2]!.attempts[0]!.outcome!.message = 'password=pa55word-xyz rejected';
    const s = sink();
    const path = await setRunOutputs(f.info(), state, { sink: s, dir, secrets: ['pa55word-xyz'] });
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('pa55word-xyz');
    expect(text).toContain('password=*** rejected');
  });

  it('adds the dry-run verdicts to the JSON in dry-run mode', async () => {
    const s = sink();
    const r = new OutputsReporter({ sink: s, dir });
    r.runStarted(f.info(f.clickhouseSpec(), 'dry-run'));
    r.dryRunVerdict({ task: 'create-db', pod: 'p', accepted: false, message: 'forbidden' });
    await r.runFinished(f.run([f.task('create-db', 'failed', [])], 1, 'failure'));
    const doc = JSON.parse(readFileSync(s.outputs['summary-json']!, 'utf8')) as SummaryJson;
    expect(doc.dryRun).toEqual([{ task: 'create-db', pod: 'p', accepted: false, message: 'forbidden' }]);
    expect(s.outputs.result).toBe('failure');
  });

  it('reports a plan as a success that ran nothing', async () => {
    const s = sink();
    await new OutputsReporter({ sink: s, dir }).planFinished(f.clickhouseSpec());
    expect(s.outputs.result).toBe('success');
    expect(s.outputs['failed-tasks']).toBe('[]');
    const doc = JSON.parse(readFileSync(s.outputs['summary-json']!, 'utf8')) as SummaryJson;
    expect(doc.tasks.map((t) => t.result)).toEqual(['not-run', 'not-run', 'not-run', 'not-run']);
  });

  it('summaryJson is plain data that survives a JSON round trip', () => {
    const doc = summaryJson(f.info(), f.cancelState());
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    expect(doc.cancelled).toBe('signal');
  });
});

describe('SummaryReporter', () => {
  it('writes the run summary once, at the end, through its writer', async () => {
    const written: string[] = [];
    const r = new SummaryReporter({ writer: { write: async (md) => void written.push(md) }, logTailLines: 3 });
    const all = new CompositeReporter([r]);
    await all.runStarted(f.info());
    expect(written).toEqual([]);
    await all.runFinished(f.failureState(), { 'migrate-data': f.migrateTail() });
    await all.runFinished(f.failureState(), {});
    expect(written).toHaveLength(1);
    expect(written[0]).toContain('Last 3 log lines of attempt 3');
  });

  it('writes the dry-run summary from the verdicts it saw', async () => {
    const written: string[] = [];
    const r = new SummaryReporter({ writer: { write: async (md) => void written.push(md) } });
    r.runStarted(f.info(f.clickhouseSpec(), 'dry-run'));
    r.dryRunVerdict({ task: 'create-db', pod: 'p', accepted: false, message: 'forbidden' });
    await r.runFinished(f.successState(), {});
    expect(written[0]).toMatch(/^## ❌ clickhouse-db-sync dry run: 1 of 4 pods refused/);
  });

  it('writes the plan summary through a runner seam', async () => {
    const written: string[] = [];
    const r = new SummaryReporter({ runner: { appendSummary: async (md) => void written.push(md) } });
    await new CompositeReporter([r]).planRendered(f.info(f.clickhouseSpec(), 'plan'), {});
    expect(written[0]).toMatch(/^## 📋 clickhouse-db-sync plan/);
  });

  it('appends to GITHUB_STEP_SUMMARY by default, byte for byte', async () => {
    const file = join(dir, 'step-summary.md');
    writeFileSync(file, 'earlier step\n');
    const old = process.env.GITHUB_STEP_SUMMARY;
    process.env.GITHUB_STEP_SUMMARY = file;
    try {
      await coreSummaryWriter.write('## hello\n');
    } finally {
      if (old === undefined) delete process.env.GITHUB_STEP_SUMMARY;
      else process.env.GITHUB_STEP_SUMMARY = old;
    }
    expect(readFileSync(file, 'utf8')).toBe('earlier step\n## hello\n');
  });

  it('fileSummaryWriter appends to a file', async () => {
    const file = join(dir, 'summary.md');
    await fileSummaryWriter(file).write('a\n');
    await fileSummaryWriter(file).write('b\n');
    expect(readFileSync(file, 'utf8')).toBe('a\nb\n');
  });
});
