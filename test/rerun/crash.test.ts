/**
 * Never twice, never lost: the property test of issue 6.
 *
 * Random DAGs (seeded; the seed is printed with every failure) run to the end once without
 * interruption, and once more under a new run id while being killed with SIGKILL at random
 * moments and started again with the same run id and run attempt, until a start runs to the end.
 * Then: every task's result equals the uninterrupted run's, and every task attempt's container
 * started exactly as often as in the uninterrupted run (the sandbox counts container starts).
 *
 * Two drivers:
 * - `crash-child.ts`, a stand-in for the main step wired as the action must be (runs today);
 * - the bundled dist/index.js driven as the runner does (test/harness/action.ts), which needs the
 *   lead's wiring of the run store in src/main.ts: skipped until dist/index.js contains it.
 *
 * POD_DAG_CRASH_DAGS (default 3), POD_DAG_CRASH_KILLS (kills per DAG, default 4) and
 * POD_DAG_CRASH_SEED tune a run; a longer run outside CI:
 * POD_DAG_CRASH_DAGS=50 POD_DAG_CRASH_KILLS=20 npx vitest run test/rerun/crash.test.ts
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podName } from '../../src/kube/pod.ts';
import type { KeepPods } from '../../src/settings.ts';
import { startSandbox, type Sandbox } from '../sandbox/index.ts';
import { ROOT, runStep } from '../harness/action.ts';
import type { ChildConfig } from './crash-child.ts';
import { waitForPods } from './helpers.ts';
import { prng } from '../helpers/prng.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DAGS = Number(process.env['POD_DAG_CRASH_DAGS'] ?? 3);
/** Kills per DAG before it is let run to its end. */
const KILLS = Number(process.env['POD_DAG_CRASH_KILLS'] ?? 4);
const SEED = Number(process.env['POD_DAG_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const NS = 'crash';


/** A random DAG: 2..6 tasks, each needing some earlier ones; most sleep a little, some fail. */
export function randomDag(rand: () => number, name: string): { yaml: string; tasks: { id: string; retries: number }[] } {
  const n = 2 + Math.floor(rand() * 5);
  const tasks: { id: string; retries: number }[] = [];
  const lines = ['version: 1', `name: ${name}`, 'tasks:'];
  for (let i = 0; i < n; i++) {
    const id = `t${i}`;
    const needs = tasks.filter(() => rand() < 0.4).map((t) => t.id);
    const r = rand();
    const image = r < 0.15 ? 'sandbox/exit:3' : r < 0.3 ? 'sandbox/succeed' : `sandbox/sleep:${(0.1 + rand() * 0.6).toFixed(2)}`;
    const retries = image === 'sandbox/exit:3' && rand() < 0.5 ? 1 : 0;
    const cond = needs.length > 0 && rand() < 0.2 ? ', if: "always()"' : '';
    lines.push(`  ${id}: {image: "${image}", needs: [${needs.join(', ')}], retries: {limit: ${retries}, delay: 0s}${cond}}`);
    tasks.push({ id, retries });
  }
  return { yaml: lines.join('\n') + '\n', tasks };
}

interface Outcome {
  result: string | null;
  tasks: Record<string, string | null>;
}

/** Runs one start of the driver; kills it (SIGKILL) after `killAfterMs` unless it ended before. */
type Driver = (runId: string, killAfterMs: number | null) => Promise<{ killed: boolean; outcome: Outcome | null; log: string; ranMs: number }>;

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
});
afterAll(async () => {
  await sandbox?.close();
});

/** The crash-child driver for one DAG. */
function childDriver(yaml: string, keepPods: KeepPods, onLine?: (line: string, kill: () => void) => void): Driver {
  return (runId, killAfterMs) =>
    new Promise((resolve, reject) => {
      const config: ChildConfig = { kubeconfig: sandbox.kubeconfig(), specYaml: yaml, namespace: NS, runId, runAttempt: 1, keepPods };
      let killed = false;
      const child = spawn(process.execPath, [path.join(HERE, 'crash-child.ts')], {
        env: { ...process.env, CRASH_CHILD: JSON.stringify(config) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      let pending = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        log += c;
        pending += c;
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          onLine?.(pending.slice(0, nl), () => ((killed = true), child.kill('SIGKILL')));
          pending = pending.slice(nl + 1);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
      let timer: NodeJS.Timeout | null = null;
      let firstLineAt = Date.now();
      // The clock of a kill starts at the child's first line, when it is about to touch the cluster.
      child.stdout.once('data', () => {
        firstLineAt = Date.now();
        if (killAfterMs !== null) timer = setTimeout(() => ((killed = true), child.kill('SIGKILL')), killAfterMs);
      });
      const deadline = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        clearTimeout(deadline);
        const line = log.split('\n').find((l) => l.startsWith('RESULT '));
        const ranMs = Date.now() - firstLineAt;
        if (signal === 'SIGKILL' && line === undefined) return resolve({ killed: true, outcome: null, log, ranMs });
        // A kill after RESULT was printed came too late to matter: the run had ended.
        if ((code !== 0 && signal !== 'SIGKILL') || line === undefined) return reject(new Error(`the child ended with code ${code} (signal ${signal}, killed by us: ${killed}):\n${log}`));
        resolve({ killed: false, outcome: JSON.parse(line.slice('RESULT '.length)) as Outcome, log, ranMs });
      });
    });
}

/** The dist/index.js driver for one DAG (the action as the runner runs it). */
function actionDriver(yaml: string, keepPods: KeepPods, workspace: string): Driver {
  return async (runId, killAfterMs) => {
    let timer: NodeJS.Timeout | null = null;
    let killed = false;
    let firstLineAt = Date.now();
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), namespace: NS, 'keep-pods': keepPods, mode: 'run' },
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

/** Container starts of every attempt pod of a run, by task (attempts 1..3). */
function startsByTask(dag: string, runId: string, tasks: { id: string }[]): Record<string, number[]> {
  return Object.fromEntries(tasks.map((t) => [t.id, [1, 2, 3].map((attempt) => sandbox.containerStarts(podName({ dag, runId, runAttempt: 1, task: t.id, attempt })))]));
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
      expect(startsByTask(name, runId, tasks), history).toEqual(startsByTask(name, baselineId, tasks));
    }
  }
  return kills;
}

describe(`SIGKILL at random moments, then start again (seed ${SEED})`, () => {
  it(`crash-child: ${DAGS} random DAGs end as if never interrupted, every attempt run once`, async () => {
    const kills = await property(async (yaml, keepPods) => childDriver(yaml, keepPods), 'c');
    console.log(`seed ${SEED}: ${kills} kills over ${DAGS} DAGs`);
  }, 900_000);

  // The action itself, as the runner runs it. It needs src/main.ts to wire the run store
  // (startRerunSession, as crash-child.ts does) and a rebuilt dist/index.js: until then, skipped.
  const dist = path.join(ROOT, 'dist', 'index.js');
  const wired = existsSync(dist) && readFileSync(dist, 'utf8').includes('startRerunSession');
  it.skipIf(!wired)(`dist/index.js: ${DAGS} random DAGs end as if never interrupted, every attempt run once`, async () => {
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

describe('a kill after an attempt was recorded and its pod deleted (keep-pods never)', () => {
  // The restarted action must not create that attempt's pod again: the engine replays the
  // recorded end (RunDagOptions.recorded ← RerunSession.recorded) instead. Skipped only if an
  // engine without that hook is in the tree.
  const engineReplays = readFileSync(path.join(ROOT, 'src', 'engine.ts'), 'utf8').includes('recorded?.(');
  it.skipIf(!engineReplays)('the failed attempt is replayed from the state, not run again', async () => {
    const yaml = ['version: 1', 'name: replay', 'tasks:', '  t0: {image: "sandbox/exit:3"}', '  t1: {image: "sandbox/sleep:1", needs: [t0], if: "always()"}', ''].join('\n');
    const runId = `${SEED % 100000}replay`;
    const t0 = podName({ dag: 'replay', runId, runAttempt: 1, task: 't0', attempt: 1 });
    let armed = false;
    const killed = await childDriver(yaml, 'never', (line, kill) => {
      if (armed || !line.startsWith('[t1] started')) return;
      armed = true;
      // t0 ended, was recorded, and its pod is being deleted: kill once it is gone.
      void waitForPods(sandbox, NS, `pod-dag.io/run-id=${runId},pod-dag.io/task=t0`, (pods) => pods.length === 0).then(kill);
    })(runId, null);
    expect(killed.killed, killed.log).toBe(true);
    expect(sandbox.get('pods', NS, t0)).toBeUndefined();
    const again = await childDriver(yaml, 'never')(runId, null);
    expect(again.outcome).toEqual({ result: 'failure', tasks: { t0: 'failed', t1: 'succeeded' } });
    expect(sandbox.containerStarts(t0)).toBe(1);
  }, 120_000);
});
