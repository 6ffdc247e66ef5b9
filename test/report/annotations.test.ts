import { describe, expect, it } from 'vitest';
import {
  AnnotationReporter,
  annotateSpecIssues,
  commandAnnotationSink,
  emitAnnotations,
  formatAnnotationCommand,
  limitAnnotations,
  runAnnotations,
  type Annotation,
  type AnnotationPlace,
} from '../../src/report/annotations.ts';
import type { SpecIssue } from '../../src/spec/types.ts';
import * as f from './fixtures.ts';

/** Collects the exact workflow commands a step would print. */
function commands(): { lines: string[]; sink: ReturnType<typeof commandAnnotationSink> } {
  const lines: string[] = [];
  return { lines, sink: commandAnnotationSink((l) => lines.push(l)) };
}

const FILE = '.github/dags/clickhouse-db-sync.yaml';

function issue(line: number, col: number, path: string, message: string): SpecIssue {
  return { file: FILE, line, col, path, message };
}

describe('spec errors', () => {
  it('point at file, line and column, in file order', () => {
    const runner = { errors: [] as [string, AnnotationPlace | undefined][], error(m: string, p?: AnnotationPlace) { this.errors.push([m, p]); }, warning() {} };
    annotateSpecIssues(
      [
        issue(23, 12, 'tasks.migrate-data.retries.limit', 'Expected a whole number >= 0, found "two".'),
        issue(7, 3, 'params.destination_host', 'Required param with a default.'),
      ],
      runner,
    );
    expect(runner.errors).toEqual([
      ['Required param with a default.', { title: 'Invalid DAG spec: params.destination_host', file: FILE, startLine: 7, startColumn: 3 }],
      ['Expected a whole number >= 0, found "two".', { title: 'Invalid DAG spec: tasks.migrate-data.retries.limit', file: FILE, startLine: 23, startColumn: 12 }],
    ]);
  });

  it('come out as exact workflow commands, with properties and data escaped', () => {
    const a: Annotation = { level: 'error', title: 'Invalid DAG spec: a,b: c', message: '50% done\nnext line', file: 'dir/x,y.yaml', line: 4, col: 9 };
    expect(formatAnnotationCommand(a)).toBe('::error file=dir/x%2Cy.yaml,line=4,col=9,title=Invalid DAG spec%3A a%2Cb%3A c::50%25 done%0Anext line');
  });
});

describe('run annotations', () => {
  it('point a failed task at its definition with class and reason, and a retried success is a warning', () => {
    const { lines, sink } = commands();
    emitAnnotations(runAnnotations(f.clickhouseSpec(), f.failureState()), { sink });
    emitAnnotations(runAnnotations(f.clickhouseSpec(), f.retriesState()), { sink });
    expect(lines).toEqual([
      `::error file=${FILE},line=23,col=3,title=Task migrate-data failed%3A exit 1::Failed after 3 attempts; last pod clickhouse-db-sync-12345678901-migrate-data-3 on node pool-b-2c7aa.`,
      `::warning file=${FILE},line=23,col=3,title=Task migrate-data succeeded after 2 attempts::Attempt 1: OOMKilled, exit 137 — The container used more memory than its limit (4Gi) and was killed.`,
    ]);
  });

  it('name the tasks a failure kept from running, with the cluster message', () => {
    const [a] = runAnnotations(f.skipsSpec(), f.skipsState());
    expect(a).toMatchObject({
      level: 'error',
      title: 'Task create-db failed: configuration: ErrImagePull',
      line: 19,
    });
    expect(a!.message).toContain('Failed to pull image "clickhouse/clickhouse-server:24.88"');
    expect(a!.message).toContain('Not run because of it: migrate-data, report, notify-on-failure.');
  });

  it('put configuration errors before failures, timeouts and infrastructure, then spec order', () => {
    const spec = f.clickhouseSpec();
    spec.tasks = ['infra', 'slow', 'crash', 'badimage', 'crash2'].map((id, i) => f.taskSpec(id, 10 + i));
    const fail = (id: string, cls: 'failed' | 'timeout' | 'infrastructure' | 'configuration') =>
      f.task(id, 'failed', [f.attempt(id, 1, 0, 1, f.outcome({ class: cls, reason: 'R', exitCode: null }))]);
    const state = f.run([fail('infra', 'infrastructure'), fail('slow', 'timeout'), fail('crash', 'failed'), fail('badimage', 'configuration'), fail('crash2', 'failed')], 2, 'failure');
    expect(runAnnotations(spec, state).map((a) => a.title.split(' ')[1])).toEqual(['badimage', 'crash', 'crash2', 'slow', 'infra']);
  });

  it('lead with the DAG timeout when it cancelled the run', () => {
    const state = { ...f.cancelState(), cancelled: 'timeout' as const };
    const [a] = runAnnotations(f.clickhouseSpec(), state);
    expect(a).toMatchObject({ level: 'error', title: 'DAG clickhouse-db-sync timed out', file: FILE, line: null });
    expect(a!.message).toContain('timeout of 4h was reached');
  });

  it('never repeat the title in the message (exit 3, then exit code 3)', () => {
    const state = f.failureState();
    const o = f.outcome({ class: 'failed', reason: 'Error', exitCode: 3, message: 'exit code 3' });
    state.tasks[2] = f.task('migrate-data', 'failed', [f.attempt('migrate-data', 1, 9, 20, o)]);
    state.tasks[3] = f.task('report', 'succeeded', [f.attempt('report', 1, 21, 30, o), f.attempt('report', 2, 31, 40, f.outcome())]);
    const [error, warning] = runAnnotations(f.clickhouseSpec(), state);
    expect(error!.title).toBe('Task migrate-data failed: exit 3');
    expect(error!.message).toBe('Failed after 1 attempt; last pod clickhouse-db-sync-12345678901-migrate-data-1 on node pool-a-7f9c2.');
    expect(warning!.message).toBe('Attempt 1: exit 3');
  });

  it('say nothing about a clean success', () => {
    expect(runAnnotations(f.clickhouseSpec(), f.successState())).toEqual([]);
  });
});

describe('limits', () => {
  const many = (level: 'error' | 'warning', n: number): Annotation[] =>
    Array.from({ length: n }, (_, i) => ({ level, title: `${level} ${i}`, message: 'm', file: FILE, line: i + 1, col: 1 }));

  it('keep 10 of each level when there are 10', () => {
    expect(limitAnnotations([...many('error', 10), ...many('warning', 10)])).toHaveLength(20);
  });

  it('keep the first 9 and say how many more were left out', () => {
    const out = limitAnnotations([...many('error', 25), ...many('warning', 11)]);
    const errors = out.filter((a) => a.level === 'error');
    const warnings = out.filter((a) => a.level === 'warning');
    expect(errors).toHaveLength(10);
    expect(warnings).toHaveLength(10);
    expect(errors.slice(0, 9).map((a) => a.title)).toEqual(many('error', 9).map((a) => a.title));
    expect(errors[9]).toEqual({
      level: 'error',
      title: '16 more errors not shown',
      message: "GitHub shows at most 10 error annotations per step; the other 16 are listed in the step's log and the job summary.",
      file: null,
      line: null,
      col: null,
    });
    expect(warnings[9]!.title).toBe('2 more warnings not shown');
  });

  it('apply to what is sent', () => {
    const { lines, sink } = commands();
    emitAnnotations(many('error', 30), { sink });
    expect(lines).toHaveLength(10);
    expect(lines[9]).toBe("::error title=21 more errors not shown::GitHub shows at most 10 error annotations per step; the other 21 are listed in the step's log and the job summary.");
  });

  it('redact secrets from titles and messages', () => {
    const { lines, sink } = commands();
    emitAnnotations([{ level: 'error', title: 'bad hunter22', message: 'token hunter22', file: null, line: null, col: null }], { sink, secrets: ['hunter22'] });
    expect(lines).toEqual(['::error title=bad ***::token ***']);
  });
});

describe('AnnotationReporter', () => {
  it('annotates the run when it finishes', async () => {
    const { lines, sink } = commands();
    const r = new AnnotationReporter({ sink });
    r.runStarted(f.info());
    await r.runFinished(f.failureState());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^::error file=.*,line=23,col=3,title=Task migrate-data failed/);
  });

  it('annotates refused pods in a dry run', async () => {
    const { lines, sink } = commands();
    const r = new AnnotationReporter({ sink });
    r.runStarted(f.info(f.clickhouseSpec(), 'dry-run'));
    r.dryRunVerdict({ task: 'create-db', pod: 'p', accepted: false, message: 'forbidden: exceeded quota' });
    r.dryRunVerdict({ task: 'report', pod: 'q', accepted: true, message: null });
    await r.runFinished(f.successState());
    expect(lines).toEqual([`::error file=${FILE},line=19,col=3,title=Task create-db%3A the cluster refused its pod::forbidden: exceeded quota`]);
  });
});
