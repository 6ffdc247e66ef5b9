/**
 * The scheduler on the project's own example specs, parsed from their YAML by the spec layer:
 * the seed story (a migration retried 3 minutes apart) and the branching example.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/dag/scheduler.ts';
import type { Decision, SchedulerEvent } from '../../src/dag/types.ts';
import { parseSpec } from '../../src/spec/parse.ts';
import type { DagSpec } from '../../src/spec/types.ts';
import { done, finished, outcome, retry, skip, start, started } from './builders.ts';

function example(name: string): DagSpec {
  const file = `examples/${name}/dag.yaml`;
  const { spec, issues } = parseSpec(readFileSync(file, 'utf8'), file);
  expect(issues).toEqual([]);
  return spec!;
}

const MIN = 60_000;

function play(s: Scheduler, steps: [SchedulerEvent[], Decision[]][]): void {
  steps.forEach(([events, want], i) => {
    expect(events.flatMap((e) => s.handle(e)), `step ${i + 1}`).toEqual(want);
  });
}

describe('the scheduler on the examples', () => {
  //  drop-destination-db -- create-db -- migrate-data -- report (if: always())
  it('clickhouse-db-sync: migrate-data fails twice, is retried 3 minutes apart, then succeeds', () => {
    const s = new Scheduler(example('clickhouse-db-sync'), {
      now: 0,
      maxParallel: 0,
      params: { source_db: 'src', destination_db: 'dst', destination_host: 'ch' },
    });
    expect(s.start()).toEqual([start('drop-destination-db')]);
    const failed = { exitCode: 2, reason: 'Error' };
    play(s, [
      [[started('drop-destination-db', 1, 1), finished('drop-destination-db', 1, 10)], [start('create-db')]],
      [[finished('create-db', 1, 20)], [start('migrate-data')]],
      [
        [finished('migrate-data', 1, 100, 'failed', failed)],
        [retry('migrate-data', 1, 3, 100 + 3 * MIN, 3 * MIN, outcome('failed', failed))],
      ],
      [[{ type: 'tick', at: 100 + 3 * MIN }], [start('migrate-data', 2)]],
      [
        [finished('migrate-data', 2, 200 + 3 * MIN, 'failed', failed)],
        [retry('migrate-data', 2, 3, 200 + 6 * MIN, 3 * MIN, outcome('failed', failed))],
      ],
      [[{ type: 'tick', at: 200 + 6 * MIN }], [start('migrate-data', 3)]],
      [[finished('migrate-data', 3, 300 + 6 * MIN)], [start('report')]],
      [[finished('report', 1, 400 + 6 * MIN)], [done('success')]],
    ]);
    expect(s.state().tasks.map((t) => [t.id, t.result, t.attempts.length])).toEqual([
      ['drop-destination-db', 'succeeded', 1],
      ['create-db', 'succeeded', 1],
      ['migrate-data', 'succeeded', 3],
      ['report', 'succeeded', 1],
    ]);
  });

  //  check-arrival ──► process   (if: present == 'true')
  //         │     └──► notify    (if: present == 'false')
  //         └───────────► cleanup (if: always(), after both)
  it('branching: no export today, so process is skipped, notify runs, cleanup runs', () => {
    const s = new Scheduler(example('branching'), { now: 0, maxParallel: 0, params: { date: '2026-11-24' } });
    expect(s.start()).toEqual([start('check-arrival')]);
    play(s, [
      [
        [finished('check-arrival', 1, 10, 'succeeded', { outputs: { present: 'false' } })],
        [skip('process', `if: "tasks.check-arrival.outputs.present == 'true'" is false`), start('notify')],
      ],
      [[finished('notify', 1, 20)], [start('cleanup')]],
      [[finished('cleanup', 1, 30)], [done('success')]],
    ]);
  });
});
