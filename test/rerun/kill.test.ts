/**
 * Never twice, never lost, at volume: the property test of issue 6 with hundreds of kills.
 *
 * The action's main step (`runMain`, the whole of it: inputs, connect, preflight, the concurrency
 * lock, the run store, the engine, housekeeping) is started in this process against the sandbox
 * (scale mode) and killed at random points through a kill switch (./kill-switch.ts): its own
 * network path to the cluster is cut at once, which is what a SIGKILL does as far as the cluster
 * can tell. Kill points are drawn two ways, half each:
 * - at the k-th API request the server receives from that start, either as it arrives (before it
 *   is handled) or once it is answered (handled, the answer never read): every step of the run's
 *   conversation with the API server, including between a create and its answer;
 * - at a random time from 0 to the uninterrupted run's length (mid-watch, mid-log, mid-sleep).
 * Then it is started again with the same run id and attempt, until a start runs to its end, and
 * then: every task's result equals an uninterrupted run's, and every task attempt's container
 * started exactly as often as in that run (the sandbox counts starts). For DAGs whose tasks all
 * succeed, half the sequences start again as the next run attempt instead (a GitHub re-run after
 * the runner died): every task must still have run exactly once, over all run attempts.
 *
 * Starting in-process costs nothing, so hundreds of kills fit in seconds; crash.test.ts kills
 * real processes (SIGKILL, dist/index.js) beside it, fewer times.
 *
 * `npm test` runs one seed (a fixed one, 2 DAGs: seconds, and the same kills every time); the full
 * sweep (a random seed, 20 DAGs) runs with POD_DAG_KILL_FULL=1, which .ci/run sets. Either can be
 * tuned: POD_DAG_KILL_DAGS, POD_DAG_KILL_KILLS (kills per DAG, default 10), POD_DAG_KILL_PARALLEL
 * (DAGs at once, default 4), POD_DAG_KILL_SEED. A longer run:
 * POD_DAG_KILL_FULL=1 POD_DAG_KILL_DAGS=200 POD_DAG_KILL_KILLS=20 npx vitest run test/rerun/kill.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { prng } from '../helpers/prng.ts';
import { describeKill, InProcessAction, KILL_SCOPE, type KillPoint, type Outcome, type StartResult } from './kill-switch.ts';
import { randomDag, startsByTask } from './random-dag.ts';

/** The full sweep (CI): a random seed, 20 DAGs. Without it, one fixed seed of 2 DAGs. */
const FULL = process.env['POD_DAG_KILL_FULL'] === '1';
const DAGS = Number(process.env['POD_DAG_KILL_DAGS'] ?? (FULL ? 20 : 2));
const KILLS = Number(process.env['POD_DAG_KILL_KILLS'] ?? 10);
const PARALLEL = Number(process.env['POD_DAG_KILL_PARALLEL'] ?? 4);
const SEED = Number(process.env['POD_DAG_KILL_SEED'] ?? (FULL ? Math.floor(Math.random() * 2 ** 31) : 42));
const NS = 'kill';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS], scale: true });
});
afterAll(async () => {
  await sandbox?.close();
});

interface DagReport {
  kills: number;
  byKind: Record<string, number>;
}

/** One DAG: an uninterrupted run, then sequences of killed starts each ended by a full one. */
async function oneDag(d: number, faulty = false): Promise<DagReport> {
  const rand = prng(SEED * 1009 + d + (faulty ? 7919 : 0));
  const name = faulty ? `f${d}` : `k${d}`;
  const { yaml, tasks } = randomDag(rand, name);
  const keepPods = (['never', 'on-failure', 'always'] as const)[Math.floor(rand() * 3)]!;
  // A third of the DAGs also hold a concurrency lock (a Lease) while they run.
  const lock: Record<string, string> = rand() < 1 / 3 ? { concurrency: `kill-${d}` } : {};
  const action = await InProcessAction.create(sandbox, yaml, { namespace: NS, 'keep-pods': keepPods, ...lock });
  const where = `seed ${SEED}, DAG ${d} (keep-pods ${keepPods}${lock['concurrency'] ? `, concurrency ${lock['concurrency']}` : ''}):\n${yaml}`;
  const report: DagReport = { kills: 0, byKind: {} };
  try {
    const baselineId = `${SEED % 100000}k${d}x0`;
    const baseline = await action.start(baselineId, null);
    expect(baseline.outcome, `${where}\n${baseline.log.join('\n')}`).not.toBeNull();
    // The sandbox counts scripted containers too: every task that ran has a first attempt started once.
    const ran = Object.entries(baseline.outcome!.tasks).filter(([, r]) => r === 'succeeded' || r === 'failed');
    const baseStarts = await startsByTask(sandbox, name, baselineId, KILL_SCOPE, tasks);
    for (const [id] of ran) expect(baseStarts[id]![0], `${where}: ${id}`).toBe(1);

    // A DAG whose tasks all succeed may also be re-run as GitHub does after a dead runner: each
    // start after a kill is the next run attempt. Then every task still runs once in all.
    const canRerun = Object.values(baseline.outcome!.tasks).every((r) => r === 'succeeded');
    for (let seq = 1; report.kills < KILLS; seq++) {
      const runId = `${SEED % 100000}k${d}x${seq}`;
      const inARow = 1 + Math.floor(rand() * 4);
      const rerun = canRerun && rand() < 0.5;
      let runAttempt = 1;
      const starts: { kill: KillPoint; runAttempt: number; r: StartResult }[] = [];
      let final: Outcome | null = null;
      for (let i = 0; final === null; i++) {
        let kill: KillPoint = null;
        if (i < inARow) {
          if (rand() < 0.5) kill = { request: 1 + Math.floor(rand() * baseline.requests), phase: rand() < 0.5 ? 'received' : 'answered' };
          else kill = { ms: Math.floor(rand() * baseline.ms) };
        }
        // On a faulty network (DAGs run one at a time then: faults are the sandbox's, for all):
        // some answers of any request are lost, each followed by a burst of 503s, the killed
        // starts and the one that runs to its end alike.
        // A start on that network may also end early with an error that says what failed (the
        // issue allows it): it is then started again, as after a kill.
        const lossy = faulty && kill !== null;
        if (lossy) {
          const share = 0.03 + rand() * 0.1;
          const then503 = Math.floor(rand() * 9);
          sandbox.faults.loseAnswers({ share, then503, retryAfterSeconds: 0 });
          report.byKind['lost answers'] = (report.byKind['lost answers'] ?? 0) + 1;
        }
        const r: StartResult = await action
          .start(runId, kill, runAttempt)
          .catch((err: unknown) => {
            if (!lossy || !/ended without summary-json \(ActionError/.test(String(err))) throw err;
            return { killed: true, outcome: null, requests: 0, ms: 0, log: [`ended early on the faulty network: ${String(err).split('\n')[0]}`] };
          })
          .finally(() => sandbox.faults.clear());
        starts.push({ kill, runAttempt, r });
        if (r.killed) {
          report.kills++;
          const kind = kill === null ? 'none' : 'ms' in kill ? 'time' : `request ${kill.phase}`;
          report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
          if (rerun) {
            runAttempt++;
            report.byKind['then re-run'] = (report.byKind['then re-run'] ?? 0) + 1;
          }
        } else final = r.outcome;
      }
      const history = `${where}\nrun ${runId}, starts:\n${starts.map((s, i) => `--- start ${i + 1} (run attempt ${s.runAttempt}): ${describeKill(s.kill)} (${s.r.killed ? 'killed' : 'ran to its end'} after ${s.r.requests} requests)\n${s.r.log.join('\n')}`).join('\n')}`;
      expect(final, history).toEqual(baseline.outcome);
      // Every attempt ran exactly as often as in the uninterrupted run: never twice, never lost.
      expect(await startsByTask(sandbox, name, runId, KILL_SCOPE, tasks, runAttempt), history).toEqual(await startsByTask(sandbox, name, baselineId, KILL_SCOPE, tasks));
    }
  } finally {
    await action.close();
  }
  return report;
}

describe(`the action killed at random points, then started again (seed ${SEED})`, () => {
  it(`${DAGS} random DAGs × ${KILLS} kills end as if never interrupted, every attempt run once`, async () => {
    const reports: DagReport[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < DAGS) reports.push(await oneDag(next++));
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, DAGS) }, worker));
    const kills = reports.reduce((n, r) => n + r.kills, 0);
    const byKind: Record<string, number> = {};
    for (const r of reports) for (const [k, n] of Object.entries(r.byKind)) byKind[k] = (byKind[k] ?? 0) + n;
    console.log(`seed ${SEED}: ${kills} kills over ${DAGS} DAGs: ${JSON.stringify(byKind)}`);
    expect(kills).toBeGreaterThanOrEqual(DAGS * KILLS);
    // Both kinds of kill point were exercised, and kills between a request and its answer.
    expect(byKind['request answered'] ?? 0).toBeGreaterThan(0);
    expect(byKind['time'] ?? 0).toBeGreaterThan(0);
    expect(byKind['then re-run'] ?? 0).toBeGreaterThan(0);
  }, 900_000);
});

describe(`the action killed at random points on a network that loses answers (seed ${SEED})`, () => {
  // Issue 13: lost answers of any request, each followed by a burst of 503s, drawn with the
  // kills. The DAGs run one after the other (the faults are the whole sandbox's).
  const FAULTY_DAGS = Number(process.env['POD_DAG_KILL_FAULTY_DAGS'] ?? (FULL ? 6 : 2));
  it(`${FAULTY_DAGS} random DAGs × ${KILLS} kills with lost answers end as if never interrupted, every attempt run once`, async () => {
    let kills = 0;
    let faulty = 0;
    for (let d = 0; d < FAULTY_DAGS; d++) {
      const r = await oneDag(d, true);
      kills += r.kills;
      faulty += r.byKind['lost answers'] ?? 0;
    }
    expect(kills).toBeGreaterThanOrEqual(FAULTY_DAGS * KILLS);
    expect(faulty).toBeGreaterThan(0);
  }, 900_000);
});

describe('a kill after an attempt was recorded and its pod deleted (keep-pods never)', () => {
  // The restarted action must not create that attempt's pod again: the engine replays the end
  // the run store recorded (RunDagOptions.recorded ← RerunSession.recorded) instead.
  it('the failed attempt is replayed from the state, not run again', async () => {
    const yaml = ['version: 1', 'name: replay', 'tasks:', '  t0: {image: "sandbox/exit:3"}', '  t1: {image: "sandbox/sleep:0.5", needs: [t0], if: "always()"}', ''].join('\n');
    const action = await InProcessAction.create(sandbox, yaml, { namespace: NS, 'keep-pods': 'never' });
    try {
      const runId = `${SEED % 100000}replay`;
      const t0 = podName({ dag: 'replay', runId, scope: KILL_SCOPE, runAttempt: 1, task: 't0', attempt: 1 });
      // t0 failed, its end was recorded, then its pod deleted (keep-pods never): kill right then.
      const killed = await action.start(runId, { on: (e) => e.phase === 'answered' && (e.verb === 'delete' || e.verb === 'deletecollection') && e.resource === 'pods', what: "once t0's pod delete is answered" });
      expect(killed.killed, killed.log.join('\n')).toBe(true);
      expect(sandbox.get('pods', NS, t0)).toBeUndefined();
      const again = await action.start(runId, null);
      expect(again.outcome, again.log.join('\n')).toEqual({ result: 'failure', tasks: { t0: 'failed', t1: 'succeeded' } });
      expect(sandbox.containerStarts(t0)).toBe(1);
      expect(sandbox.containerStarts(podName({ dag: 'replay', runId, scope: KILL_SCOPE, runAttempt: 1, task: 't1', attempt: 1 }))).toBe(1);
    } finally {
      await action.close();
    }
  });
});

describe('a kill after the whole run ended, before the step did', () => {
  // The restart replays the run; a task that succeeded after its upstream failed (if: always())
  // must not let its own dependants run on the restart when they were skipped before.
  it('the restart reports the same run and runs nothing', async () => {
    const yaml = [
      'version: 1',
      'name: replay-skips',
      'tasks:',
      '  t0: {image: "sandbox/exit:3"}',
      '  t3: {image: sandbox/succeed, needs: [t0], if: "always()"}',
      '  t4: {image: sandbox/succeed, needs: [t3]}',
      '',
    ].join('\n');
    const action = await InProcessAction.create(sandbox, yaml, { namespace: NS, 'keep-pods': 'always' });
    try {
      const runId = `${SEED % 100000}skips`;
      const expected = { result: 'failure', tasks: { t0: 'failed', t3: 'succeeded', t4: 'skipped' } };
      // The state ConfigMaps are listed three times: the run's own state read by the run store
      // once (for the step's claim; the re-run's plan reuses it), the heads for the summary's
      // history before the run starts, then by housekeeping once the run has ended and been
      // recorded. Kill at the third.
      let lists = 0;
      const housekeeping = (e: { phase: string; verb: string; resource: string }) =>
        e.phase === 'received' && e.verb === 'list' && e.resource === 'configmaps' && ++lists === 3;
      const killed = await action.start(runId, { on: housekeeping, what: 'when housekeeping starts' });
      expect(killed.killed, killed.log.join('\n')).toBe(true);
      expect(killed.log.join('\n')).toContain('t4 skipped');
      const creates = sandbox.counters.get('create', 'pods');
      const again = await action.start(runId, null);
      expect(again.outcome, again.log.join('\n')).toEqual(expected);
      expect(sandbox.counters.get('create', 'pods')).toBe(creates);
    } finally {
      await action.close();
    }
  });
});
