/**
 * Run data for the report tests, built by hand from the types (no parser, no scheduler): the
 * example DAG of DESIGN.md and the run states of each scenario.
 *
 *   drop-destination-db ──▶ create-db ──▶ migrate-data ──▶ report (if: always())
 */
import type { AttemptOutcome, AttemptRecord, RunState, TaskState } from '../../src/dag/types.ts';
import type { RunInfo } from '../../src/report/types.ts';
import type { DagSpec, RetryPolicy, TaskSpec } from '../../src/spec/types.ts';

/** 2026-11-24T02:00:00Z, the nightly run's start. */
export const T0 = Date.UTC(2026, 10, 24, 2, 0, 0);

const retries: RetryPolicy = { limit: 2, delayMs: 180_000, backoff: 2, maxDelayMs: 1_800_000, on: ['failed'], infrastructure: 3 };

/** A task spec with the example's defaults. */
export function taskSpec(id: string, line: number, over: Partial<TaskSpec> = {}): TaskSpec {
  return {
    id,
    needs: [],
    if: null,
    image: 'clickhouse/clickhouse-server:24.8',
    command: ['clickhouse-client', '--host', '{{ params.destination_host }}'],
    args: null,
    env: [],
    envFrom: [],
    workingDir: null,
    resources: { requests: {}, limits: {} },
    retries,
    timeoutMs: 3_600_000,
    startTimeoutMs: 300_000,
    pod: {},
    pos: { line, col: 3 },
    ...over,
  };
}

/** The example DAG of DESIGN.md. */
export function clickhouseSpec(): DagSpec {
  return {
    version: 1,
    name: 'clickhouse-db-sync',
    namespace: 'data-jobs',
    params: [],
    timeoutMs: 14_400_000,
    file: '.github/dags/clickhouse-db-sync.yaml',
    tasks: [
      taskSpec('drop-destination-db', 16, {
        command: ['clickhouse-client', '--host', '{{ params.destination_host }}', '--query', 'DROP DATABASE IF EXISTS {{ params.destination_db }}'],
      }),
      taskSpec('create-db', 19, {
        needs: ['drop-destination-db'],
        command: ['clickhouse-client', '--host', '{{ params.destination_host }}', '--query', 'CREATE DATABASE {{ params.destination_db }}'],
      }),
      taskSpec('migrate-data', 23, {
        needs: ['create-db'],
        image: 'registry.example.com/internal-scripts:2024-01',
        command: ['python', 'clickhouse/migration.py'],
        args: ['--source-db', '{{ params.source_db }}', '--destination-db', '{{ params.destination_db }}'],
        timeoutMs: 10_800_000,
      }),
      taskSpec('report', 32, {
        needs: ['migrate-data'],
        if: { source: 'always()' },
        image: 'registry.example.com/internal-scripts:2024-01',
        command: ['python', 'report.py'],
      }),
    ],
  };
}

/** The run's GitHub context. */
export function info(spec: DagSpec = clickhouseSpec(), mode: RunInfo['mode'] = 'run'): RunInfo {
  return {
    mode,
    spec,
    namespace: 'data-jobs',
    params: {
      source_db: 'clickhouse_source_db',
      destination_db: 'clickhouse_destination_db',
      destination_host: 'clickhouse.data.svc',
    },
    context: {
      repository: 'acme/data-pipelines',
      runId: '12345678901',
      runAttempt: 1,
      sha: '4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d',
      ref: 'refs/heads/main',
      serverUrl: 'https://github.com',
      workflow: 'nightly-clickhouse-sync',
      job: 'sync',
      actor: 'github-actions[bot]',
      eventName: 'schedule',
    },
  };
}

/** An outcome; defaults describe a clean success. */
export function outcome(over: Partial<AttemptOutcome> = {}): AttemptOutcome {
  return { class: 'succeeded', reason: 'Completed', message: null, exitCode: 0, outputs: {}, node: 'pool-a-7f9c2', ...over };
}

/** An attempt from `start` to `end` seconds after T0. */
export function attempt(task: string, n: number, start: number, end: number | null, o: AttemptOutcome | null): AttemptRecord {
  return {
    attempt: n,
    pod: `clickhouse-db-sync-12345678901-${task}-${n}`,
    startedAt: T0 + start * 1000,
    finishedAt: end === null ? null : T0 + end * 1000,
    outcome: o,
  };
}

/** A task state. */
export function task(id: string, result: TaskState['result'], attempts: AttemptRecord[], over: Partial<TaskState> = {}): TaskState {
  return { id, result, attempts, outputs: {}, reason: null, reusedFrom: null, retryAt: null, ...over };
}

/** A run state. */
export function run(tasks: TaskState[], end: number | null, result: RunState['result'], over: Partial<RunState> = {}): RunState {
  return { dag: 'clickhouse-db-sync', startedAt: T0, finishedAt: end === null ? null : T0 + end * 1000, result, cancelled: null, tasks, ...over };
}

const ok = (node = 'pool-a-7f9c2'): AttemptOutcome => outcome({ node });

/** Every task succeeds at the first attempt. */
export function successState(): RunState {
  return run(
    [
      task('drop-destination-db', 'succeeded', [attempt('drop-destination-db', 1, 0, 4, ok())]),
      task('create-db', 'succeeded', [attempt('create-db', 1, 5, 8, ok())]),
      task('migrate-data', 'succeeded', [attempt('migrate-data', 1, 9, 2843, ok('pool-b-91d4e'))], {
        outputs: { rows: '18234112', tables: '42' },
      }),
      task('report', 'succeeded', [attempt('report', 1, 2844, 2851, ok())]),
    ],
    2852,
    'success',
  );
}

const oom = outcome({
  class: 'failed',
  reason: 'OOMKilled',
  exitCode: 137,
  node: 'pool-b-91d4e',
  message: 'The container used more memory than its limit (4Gi) and was killed.',
});

/** migrate-data is OOMKilled once, then succeeds. */
export function retriesState(): RunState {
  return run(
    [
      task('drop-destination-db', 'succeeded', [attempt('drop-destination-db', 1, 0, 4, ok())]),
      task('create-db', 'succeeded', [attempt('create-db', 1, 5, 8, ok())]),
      task(
        'migrate-data',
        'succeeded',
        [attempt('migrate-data', 1, 9, 1207, oom), attempt('migrate-data', 2, 1387, 4203, ok('pool-b-2c7aa'))],
        { outputs: { rows: '18234112', tables: '42' } },
      ),
      task('report', 'succeeded', [attempt('report', 1, 4204, 4211, ok())]),
    ],
    4212,
    'success',
  );
}

/** The log tail of migrate-data's last attempt when it fails. */
export function migrateTail(): string[] {
  return [
    '2026-11-24 02:20:01 INFO copying table events (1/42)',
    '2026-11-24 02:31:44 INFO copied 12000000 rows into events',
    '2026-11-24 02:31:45 INFO copying table sessions (2/42)',
    'Traceback (most recent call last):',
    '  File "/app/clickhouse/migration.py", line 118, in <module>',
    '    copy_table(src, dst, "sessions")',
    'clickhouse_driver.errors.ServerException: Code: 241. DB::Exception: Memory limit (total) exceeded',
  ];
}

/** migrate-data fails three times (OOM, OOM, exit 1); report still runs (always()). */
export function failureState(): RunState {
  return run(
    [
      task('drop-destination-db', 'succeeded', [attempt('drop-destination-db', 1, 0, 4, ok())]),
      task('create-db', 'succeeded', [attempt('create-db', 1, 5, 8, ok())]),
      task('migrate-data', 'failed', [
        attempt('migrate-data', 1, 9, 1207, oom),
        attempt('migrate-data', 2, 1387, 2512, oom),
        attempt('migrate-data', 3, 2872, 3950, outcome({ class: 'failed', reason: 'Error', exitCode: 1, node: 'pool-b-2c7aa', message: null })),
      ]),
      task('report', 'succeeded', [attempt('report', 1, 3951, 3958, ok())]),
    ],
    3959,
    'failure',
  );
}

/** A spec with a branch, so skips propagate past a failure: a ─▶ b ─▶ c, a ─▶ d. */
export function skipsSpec(): DagSpec {
  const spec = clickhouseSpec();
  spec.tasks = [
    spec.tasks[0]!,
    spec.tasks[1]!,
    spec.tasks[2]!,
    taskSpec('report', 32, { needs: ['migrate-data'] }),
    taskSpec('notify-on-failure', 36, {
      needs: ['migrate-data'],
      if: { source: 'failure()' },
    }),
  ];
  return spec;
}

/** create-db cannot pull its image: migrate-data and report are skipped. */
export function skipsState(): RunState {
  return run(
    [
      task('drop-destination-db', 'succeeded', [attempt('drop-destination-db', 1, 0, 4, ok())]),
      task('create-db', 'failed', [
        attempt(
          'create-db',
          1,
          5,
          71,
          outcome({
            class: 'configuration',
            reason: 'ErrImagePull',
            exitCode: null,
            node: 'pool-a-7f9c2',
            message:
              'Failed to pull image "clickhouse/clickhouse-server:24.88": rpc error: code = NotFound desc = failed to pull and unpack image: not found',
          }),
        ),
      ]),
      task('migrate-data', 'skipped', [], { reason: 'needs create-db, which failed' }),
      task('report', 'skipped', [], { reason: 'needs migrate-data, which was skipped' }),
      task('notify-on-failure', 'skipped', [], { reason: 'if: failure() was false' }),
    ],
    72,
    'failure',
  );
}

/** The workflow is cancelled while migrate-data runs. */
export function cancelState(): RunState {
  return run(
    [
      task('drop-destination-db', 'succeeded', [attempt('drop-destination-db', 1, 0, 4, ok())]),
      task('create-db', 'succeeded', [attempt('create-db', 1, 5, 8, ok())]),
      task('migrate-data', 'cancelled', [
        attempt('migrate-data', 1, 9, 1503, outcome({ class: 'cancelled', reason: 'Cancelled', exitCode: null, node: 'pool-b-91d4e', message: 'The workflow was cancelled; the pod was deleted.' })),
      ]),
      task('report', 'not-run', [], { reason: 'the run was cancelled' }),
    ],
    1504,
    'cancelled',
    { cancelled: 'signal' },
  );
}

/** Names and lines written to break things. */
export const HOSTILE = [
  '</details><script>alert(1)</script>',
  'a | b || c',
  '```` four backticks ` one',
  'x --> y; z[evil] %% comment',
  'quote " and \' and ] and [ and ( )',
  '%%{init: {"theme":"dark"}}%%',
  '# heading',
  '- list item',
  '<img src=x onerror=alert(1)>',
  '**bold** _it_ ~~strike~~ $x^2$',
  '[link](https://evil.example)',
  'line\nbreak\r\nand\u001b[31mred\u001b[0m\u0007bell',
  'colon: semi; hash # amp & lt <',
  'see https://evil.example/track.png and www.evil.example or mailto:x@evil.example',
  'bidi \u202eevil\u202c zero\u200bwidth \u2066isolate\u2069 line\u2028sep',
  '&lt;script&gt; &#60;b&#62; \\<b\\>',
];

/** The spec and state of a run whose every name, reason, message and log line is hostile. */
export function hostileRun(): [RunInfo, RunState, Record<string, string[]>] {
  const spec = clickhouseSpec();
  spec.name = HOSTILE[0]!;
  spec.file = '.github/dags/a (b) ]`.yaml';
  spec.tasks = HOSTILE.map((id, i) =>
    taskSpec(id, 10 + i, {
      needs: i === 0 ? [] : [HOSTILE[i - 1]!],
      if: { source: HOSTILE[(i + 1) % HOSTILE.length]! },
      image: HOSTILE[(i + 2) % HOSTILE.length]!,
      command: HOSTILE,
    }),
  );
  const tasks = HOSTILE.map((id, i) => {
    const o = outcome({
      class: i % 2 === 0 ? 'failed' : 'configuration',
      reason: HOSTILE[(i + 3) % HOSTILE.length]!,
      message: HOSTILE.join('\n'),
      exitCode: 1,
      node: HOSTILE[(i + 4) % HOSTILE.length]!,
    });
    const a1 = { ...attempt('x', 1, i, i + 1, o), pod: HOSTILE[(i + 5) % HOSTILE.length]! };
    const a2 = { ...attempt('x', 2, i + 2, i + 3, o), pod: HOSTILE[(i + 6) % HOSTILE.length]! };
    return task(id, 'failed', [a1, a2], { reason: HOSTILE[(i + 7) % HOSTILE.length]! });
  });
  const state = run(tasks, 100, 'failure', { dag: HOSTILE[0]! });
  const i = info(spec);
  i.params = Object.fromEntries(HOSTILE.map((h, n) => [h, HOSTILE[(n + 1) % HOSTILE.length]!]));
  const tails = Object.fromEntries(HOSTILE.map((h) => [h, HOSTILE]));
  return [i, state, tails];
}

/**
 * A fan-out like examples/fan-out: split ─▶ shard-00 … shard-NN ─▶ merge ─▶ report (always()).
 * With `perShard`, each shard also has a load-NN that needs it (a second stage of the fan-out).
 */
export function fanOutSpec(shards: number, perShard = false): DagSpec {
  const spec = clickhouseSpec();
  spec.name = 'fan-out';
  const width = String(shards - 1).length < 2 ? 2 : String(shards - 1).length;
  const ids = Array.from({ length: shards }, (_, i) => String(i).padStart(width, '0'));
  let line = 10;
  spec.tasks = [taskSpec('split', line++)];
  for (const n of ids) spec.tasks.push(taskSpec(`shard-${n}`, line++, { needs: ['split'] }));
  if (perShard) for (const n of ids) spec.tasks.push(taskSpec(`load-${n}`, line++, { needs: [`shard-${n}`] }));
  spec.tasks.push(taskSpec('merge', line++, { needs: ids.map((n) => (perShard ? `load-${n}` : `shard-${n}`)) }));
  spec.tasks.push(taskSpec('report', line, { needs: ['merge'], if: { source: 'always()' } }));
  return spec;
}

/**
 * The fan-out's run: every shard succeeds except `failing` ones (exit 2 after 2 attempts) and
 * `misconfigured` ones (a command not in the image); shards ending in 3 need a retry after an
 * eviction; merge is skipped, report runs.
 */
export function fanOutState(spec: DagSpec, failing: string[], misconfigured: string[] = []): RunState {
  const tasks: TaskState[] = [];
  const failed = new Set([...failing, ...misconfigured]);
  const done = new Set<string>();
  let clock = 0;
  for (const t of spec.tasks) {
    if (t.id === 'split') {
      tasks.push(task('split', 'succeeded', [attempt('split', 1, 0, 20, ok())]));
      done.add('split');
      continue;
    }
    if (t.id === 'report') {
      tasks.push(task('report', 'succeeded', [attempt('report', 1, 2000, 2010, ok())]));
      continue;
    }
    if (!t.needs.every((n) => done.has(n))) {
      const why = t.needs.find((n) => !done.has(n))!;
      tasks.push(task(t.id, 'skipped', [], { reason: `needs ${why}, which ${failed.has(why) ? 'failed' : 'was skipped'}` }));
      continue;
    }
    const start = 21 + (clock++ % 8) * 30;
    if (failed.has(t.id)) {
      if (misconfigured.includes(t.id)) {
        tasks.push(
          task(t.id, 'failed', [
            attempt(t.id, 1, start, start + 2, outcome({
              class: 'configuration',
              reason: 'StartError',
              exitCode: 128,
              message: 'the container could not start: exec: "clickhouse-clinet": executable file not found in $PATH; check the task\'s command, workingDir and image',
            })),
          ]),
        );
      } else {
        tasks.push(
          task(t.id, 'failed', [
            attempt(t.id, 1, start, start + 40, outcome({ class: 'failed', reason: 'Error', exitCode: 2, message: 'exit code 2' })),
            attempt(t.id, 2, start + 60, start + 100, outcome({ class: 'failed', reason: 'Error', exitCode: 2, message: 'exit code 2' })),
          ]),
        );
      }
      continue;
    }
    if (t.id.endsWith('3')) {
      tasks.push(
        task(t.id, 'succeeded', [
          attempt(t.id, 1, start, start + 10, outcome({ class: 'infrastructure', reason: 'Evicted', exitCode: null, message: 'The node was low on resource: memory.' })),
          attempt(t.id, 2, start + 20, start + 50, ok()),
        ]),
      );
    } else {
      tasks.push(task(t.id, 'succeeded', [attempt(t.id, 1, start, start + 25 + (clock % 5) * 3, ok())]));
    }
    done.add(t.id);
  }
  return run(tasks, 2011, 'failure', { dag: spec.name });
}

/** A log tail of a failing shard. */
export function shardTail(): string[] {
  return ['reading s3://lake/events/part-17.parquet', 'rows: 1200000', 'error: column "user_id" has nulls in 3 rows', 'exit status 2'];
}

/** Three earlier nightly runs of the example: two green, then migrate-data failing. */
export function history(): import('../../src/report/types.ts').RunHistory {
  const day = 86_400_000;
  const one = (n: number, result: 'success' | 'failure', migrate: string) => ({
    runId: String(12345678800 + n),
    runAttempt: 1,
    startedAt: T0 - (4 - n) * day,
    result,
    tasks: {
      'drop-destination-db': { result: 'succeeded', durationMs: 4000, runAttempt: 1 },
      'create-db': { result: 'succeeded', durationMs: 3000, runAttempt: 1 },
      'migrate-data': { result: migrate, durationMs: 3_540_000, runAttempt: 1 },
      report: { result: 'succeeded', durationMs: 7000, runAttempt: 1 },
    },
  });
  return { runs: [one(1, 'success', 'succeeded'), one(2, 'success', 'succeeded'), one(3, 'failure', 'failed')], unavailable: null };
}
