/**
 * Never twice, never lost, with real SIGKILLs: the bundled dist/index.js, driven as the runner
 * does (test/harness/action.ts), is killed with SIGKILL at random moments of random DAGs and
 * started again with the same run id and run attempt, until a start runs to the end. Then: every
 * task's result equals an uninterrupted run's, and every task attempt's container started exactly
 * as often as in that run (the sandbox counts container starts; on the real control plane, the
 * kubelet's Started events do). It runs on the cluster POD_DAG_TEST_CLUSTER picks.
 *
 * Each start is a whole process (about a second of loading), so this test kills a few times;
 * kill.test.ts kills the same main step hundreds of times in-process, at every request.
 *
 * POD_DAG_CRASH_DAGS (default 2), POD_DAG_CRASH_KILLS (kills per DAG, default 3) and
 * POD_DAG_CRASH_SEED tune a run; a longer one outside CI:
 * POD_DAG_CRASH_DAGS=20 POD_DAG_CRASH_KILLS=10 npx vitest run test/rerun/crash.test.ts
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KeepPods } from '../../src/action/settings.ts';
import { fileCluster } from '../helpers/e2e.ts';
import { runStep, stepScope } from '../harness/action.ts';
import { prng } from '../helpers/prng.ts';
import { randomDag, startsByTask } from './random-dag.ts';

const DAGS = Number(process.env['POD_DAG_CRASH_DAGS'] ?? 2);
/** Kills per DAG before it is let run to its end. */
const KILLS = Number(process.env['POD_DAG_CRASH_KILLS'] ?? 3);
const SEED = Number(process.env['POD_DAG_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const NS = 'crash';

interface Outcome {
  result: string | null;
  tasks: Record<string, string | null>;
}

/** Runs one start of the driver; kills it (SIGKILL) after `killAfterMs` unless it ended before. */
type Driver = (runId: string, killAfterMs: number | null) => Promise<{ killed: boolean; outcome: Outcome | null; log: string; ranMs: number }>;

const cluster = fileCluster({ namespaces: [NS] });
/** Container starts of one pod (the kubelet's Started events on a real cluster, the sandbox's count). */
const counter = { containerStarts: (pod: string) => cluster().containerStarts(NS, pod) };

/** The dist/index.js driver for one DAG (the action as the runner runs it). */
function actionDriver(yaml: string, keepPods: KeepPods, workspace: string): Driver {
  return async (runId, killAfterMs) => {
    let timer: NodeJS.Timeout | null = null;
    let killed = false;
    let firstLineAt = Date.now();
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), namespace: NS, 'keep-pods': keepPods, mode: 'run' },
      // RUNNER_TEMP outside the harness's own folder, which it deletes: summary-json is written there.
      env: { GITHUB_RUN_ID: runId, GITHUB_RUN_ATTEMPT: '1', RUNNER_TEMP: workspace },
      cwd: workspace,
      deadlineMs: 120_000,
      onLine: (_line, s) => {
        if (timer !== null) return;
        firstLineAt = Date.now();
        if (killAfterMs !== null) timer = setTimeout(() => ((killed = true), s.signal('SIGKILL')), killAfterMs);
        else timer = setTimeout(() => {}, 0);
      },
    });
    if (timer) clearTimeout(timer);
    const ranMs = Date.now() - firstLineAt;
    if (step.signal === 'SIGKILL') return { killed: true, outcome: null, log: step.stdout, ranMs };
    const doc = step.outputs['summary-json'] ? (JSON.parse(readFileSync(step.outputs['summary-json'], 'utf8')) as { result: string; tasks: { id: string; result: string }[] }) : null;
    if (doc === null) throw new Error(`the action ended (exit ${step.exitCode}, killed: ${killed}) without summary-json:\n${step.stdout}\n${step.stderr}`);
    return { killed: false, outcome: { result: doc.result, tasks: Object.fromEntries(doc.tasks.map((t) => [t.id, t.result])) }, log: step.stdout, ranMs };
  };
}

async function property(makeDriver: (yaml: string, keepPods: KeepPods, dag: string) => Promise<Driver>, label: string): Promise<number> {
  const rand = prng(SEED);
  let kills = 0;
  for (let d = 0; d < DAGS; d++) {
    const name = `${label}-${d}`;
    const { yaml, tasks } = randomDag(rand, name);
    const keepPods = (['never', 'on-failure', 'always'] as const)[Math.floor(rand() * 3)]!;
    const drive = await makeDriver(yaml, keepPods, name);
    const where = `seed ${SEED}, DAG ${d} (keep-pods ${keepPods}):\n${yaml}`;

    const baselineId = `${SEED % 100000}${d}x0`;
    const baseline = await drive(baselineId, null);
    expect(baseline.outcome, where).not.toBeNull();

    // Sequences of starts under fresh run ids, until this DAG had KILLS kills: each sequence
    // kills and restarts until one start runs to the end, then checks the run.
    let dagKills = 0;
    for (let seq = 1; dagKills < KILLS && seq <= KILLS; seq++) {
      const runId = `${SEED % 100000}${d}x${seq}`;
      let final: Outcome | null = null;
      const logs: string[] = [];
      for (let start = 0; final === null; start++) {
        // Kill anywhere from the first line (before the first request) to the time the whole
        // DAG took uninterrupted: most kills land while tasks run, some in the middle of a
        // request. After KILLS kills in a row, let it finish.
        const killAfter = start < KILLS ? Math.floor(rand() * baseline.ranMs) : null;
        const r = await drive(runId, killAfter);
        logs.push(r.log);
        if (r.killed) dagKills++;
        else final = r.outcome;
      }
      kills += logs.length - 1;
      const history = `${where}\nrun ${runId}, starts:\n${logs.map((l, i) => `--- start ${i + 1}\n${l}`).join('\n')}`;
      expect(final, history).toEqual(baseline.outcome);
      // Every attempt ran exactly as often as in the uninterrupted run: never twice, never lost.
      expect(await startsByTask(counter, name, runId, stepScope(), tasks), history).toEqual(await startsByTask(counter, name, baselineId, stepScope(), tasks));
    }
  }
  return kills;
}

describe(`SIGKILL at random moments, then start again (seed ${SEED})`, () => {
  it(`dist/index.js: ${DAGS} random DAGs end as if never interrupted, every attempt run once`, async () => {
    const dirs: string[] = [];
    try {
      const kills = await property(async (yaml, keepPods) => {
        const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-crash-'));
        dirs.push(dir);
        await writeFile(path.join(dir, 'dag.yaml'), yaml);
        return actionDriver(yaml, keepPods, dir);
      }, 'a');
      console.log(`seed ${SEED}: ${kills} kills of dist/index.js over ${DAGS} DAGs`);
    } finally {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
  }, 900_000);
});
