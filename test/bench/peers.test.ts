// The head-to-head benchmark's own arithmetic (bench/peers): which moment gates each task's
// hand-off, how an audit log is read, and how its section of BENCHMARKS.md is kept.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditTimeMs, readAuditLog } from '../../bench/peers/cluster.ts';
import { handoffs, pct } from '../../bench/peers/index.ts';
import type { PodRecord } from '../../bench/peers/observer.ts';
import { existingSection, spliceSection, SECTION_END, SECTION_START } from '../../bench/peers/section.ts';

const pod = (task: string, addedMs: number, terminatedMs: number, side: 'action' | 'airflow' = 'action'): PodRecord => ({
  name: `${task}-${addedMs}`,
  labels: side === 'action' ? { 'pod-dag.io/task': task } : { task_id: task.replace(/-/g, '_') },
  addedMs,
  createdAt: undefined,
  terminatedMs,
});

describe('hand-offs', () => {
  it('times each task from its last upstream container end to its first pod, for either side', () => {
    const needs = { a: [], b: ['a'], c: ['a', 'b'] };
    const pods = [pod('a', 0, 1000), pod('b', 1020, 2000), pod('c', 2500, 3000)];
    expect(handoffs(pods, 'action', needs, 8)).toEqual({ handoffs: [20, 500], retryGaps: [] });
    // Airflow's task_id label (underscores) names the same tasks.
    const af = [pod('a', 0, 1000, 'airflow'), pod('b', 4000, 5000, 'airflow'), pod('c', 9000, 9500, 'airflow')];
    expect(handoffs(af, 'airflow', needs, 8).handoffs).toEqual([3000, 4000]);
  });

  it('gates a task that waited for a free slot by the container end that freed it, not by its upstream', () => {
    // plan, then 3 shards at most 2 at a time: shard 3 waits for the first shard to end.
    const needs = { plan: [], 's-1': ['plan'], 's-2': ['plan'], 's-3': ['plan'], merge: ['s-1', 's-2', 's-3'] };
    const pods = [pod('plan', 0, 100), pod('s-1', 110, 1100), pod('s-2', 120, 1300), pod('s-3', 1150, 2200), pod('merge', 2260, 2300)];
    expect(handoffs(pods, 'action', needs, 2).handoffs).toEqual([10, 20, 50, 60]);
    // With 3 slots shard 3 never waited for one: its hand-off is from plan's end.
    expect(handoffs(pods, 'action', needs, 3).handoffs).toEqual([10, 20, 1050, 60]);
  });

  it('measures a retry from the failed container end to the next attempt, not as a hand-off', () => {
    const pods = [pod('flaky', 0, 100), pod('flaky', 1200, 1300), pod('flaky', 2350, 2400)];
    expect(handoffs(pods, 'action', { flaky: [] }, 8)).toEqual({ handoffs: [], retryGaps: [1100, 1050] });
  });

  it('takes nearest-rank percentiles', () => {
    expect(pct([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(pct([1, 2, 3, 4, 100], 99)).toBe(100);
    expect(pct([], 50)).toBeNaN();
  });
});

describe('the audit log', () => {
  it('keeps microseconds and counts each request once, whatever its stages', async () => {
    expect(auditTimeMs('2026-12-03T15:14:49.681508Z') - auditTimeMs('2026-12-03T15:14:49.681Z')).toBeCloseTo(0.508, 3);
    const dir = await mkdtemp(path.join(tmpdir(), 'peers-audit-'));
    const file = path.join(dir, 'audit.log');
    const ev = (id: string, stage: string, extra: object): string =>
      JSON.stringify({ auditID: id, stage, verb: 'get', user: { username: 'airflow-kpo' }, requestReceivedTimestamp: '2026-12-03T15:00:00.000001Z', ...extra });
    await writeFile(
      file,
      [
        ev('1', 'RequestReceived', { objectRef: { resource: 'pods', subresource: 'log' } }),
        ev('1', 'ResponseStarted', { objectRef: { resource: 'pods', subresource: 'log' } }),
        ev('1', 'ResponseComplete', { objectRef: { resource: 'pods', subresource: 'log' } }),
        ev('2', 'ResponseComplete', { verb: 'create', objectRef: { resource: 'pods' }, requestReceivedTimestamp: '2026-12-03T14:59:59.5Z' }),
        ev('3', 'ResponseComplete', { user: { username: 'system:node:pool-locale-1' } }),
      ].join('\n') + '\n',
    );
    try {
      expect(readAuditLog(file).map((r) => `${r.user} ${r.verb} ${r.resource}`)).toEqual([
        'airflow-kpo create pods',
        'airflow-kpo get pods/log',
        'system:node:pool-locale-1 get non-resource',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("BENCHMARKS.md's head-to-head section", () => {
  const section = (x: string): string => `${SECTION_START}\n${x}\n${SECTION_END}`;
  it('is appended once, then replaced in place, and found again for the other writer', () => {
    const first = spliceSection('# Benchmarks\n\nrows\n', section('one'));
    expect(first).toBe(`# Benchmarks\n\nrows\n\n${section('one')}\n`);
    const second = spliceSection(first, section('two'));
    expect(second).toBe(`# Benchmarks\n\nrows\n\n${section('two')}\n`);
    expect(existingSection(second)).toBe(section('two'));
    expect(existingSection('# Benchmarks\n')).toBeNull();
  });
});
