/**
 * The head-to-head benchmark (`npm run bench -- --peers`): Apache Airflow 3 + KubernetesPodOperator
 * and this action run the same DAGs on the same cluster, one run at a time, each side as its own
 * restricted user, measured the same way: makespan, hand-off, API requests per task (by verb and
 * resource, attributed by user), peak memory of everything the side runs, and pods left behind.
 * See BENCHMARKS.md, "Head to head", for what each figure means.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAction } from './action.ts';
import { AirflowStack, airflowInstall, airflowVersions } from './airflow.ts';
import { controlPlaneUnavailable, startBenchCluster, NAMESPACE, USERS, type ApiRequest, type BenchCluster } from './cluster.ts';
import { sampleMemory, type MemoryPeak } from './memory.ts';
import { PodObserver, type PodRecord } from './observer.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DAGS_DIR = path.join(HERE, 'dags');

/** The most task pods at once, on both sides (Airflow's [core] parallelism, the action's max-parallel). */
const PARALLEL = 8;
const DESTINATION = 'clickhouse.data-jobs.svc.cluster.local';

/** One DAG of the comparison, as both sides spell it. */
interface DagCase {
  key: string;
  title: string;
  airflowId: string;
  yaml: string;
  /** Each task's upstream tasks (names as the action's YAML has them). */
  needs: Record<string, string[]>;
  /** How long each task's container runs, for the "what bounds it" column. */
  taskSeconds: string;
  airflowConf?: (side: SideContext) => Record<string, unknown>;
  actionParams?: (side: SideContext) => string;
  deadlineMs: number;
}

interface SideContext {
  flakyState: string;
}

const chainNeeds = (names: string[]): Record<string, string[]> => Object.fromEntries(names.map((n, i) => [n, i ? [names[i - 1]!] : []]));
const shards = Array.from({ length: 32 }, (_, i) => `shard-${String(i).padStart(2, '0')}`);
const steps = Array.from({ length: 50 }, (_, i) => `step-${String(i + 1).padStart(2, '0')}`);

const DAGS: DagCase[] = [
  {
    key: 'seed',
    title: "The seed's ClickHouse chain (drop → create → migrate; Airflow adds its start and end EmptyOperators)",
    airflowId: 'clickhouse_db_sync',
    yaml: 'clickhouse-db-sync.yaml',
    needs: chainNeeds(['drop-destination-db', 'create-db', 'migrate-data']),
    taskSeconds: 'the stand-in clickhouse-client and migration script, ~0.4 s each',
    airflowConf: () => ({ destination_host: DESTINATION }),
    actionParams: () => `destination_host: ${DESTINATION}`,
    deadlineMs: 600_000,
  },
  {
    key: 'fanout',
    title: 'Fan-out: plan → 32 shards (at most 8 at once) → merge, 1 s tasks',
    airflowId: 'fan_out',
    yaml: 'fan-out.yaml',
    needs: { plan: [], ...Object.fromEntries(shards.map((s) => [s, ['plan']])), merge: shards },
    taskSeconds: '1 s each',
    deadlineMs: 900_000,
  },
  {
    key: 'chain50',
    title: 'Chain of 50 tasks of 1 s',
    airflowId: 'chain_50',
    yaml: 'chain-50.yaml',
    needs: chainNeeds(steps),
    taskSeconds: '1 s each',
    deadlineMs: 1_800_000,
  },
  {
    key: 'flaky',
    title: 'One task that fails twice, then succeeds (2 retries, 1 s apart)',
    airflowId: 'flaky_retry',
    yaml: 'flaky-retry.yaml',
    needs: { flaky: [] },
    taskSeconds: 'instant (a shell script)',
    actionParams: (s) => `state: ${s.flakyState}`,
    deadlineMs: 600_000,
  },
  {
    key: 'long',
    title: '4 parallel tasks of 60 s',
    airflowId: 'long_tasks',
    yaml: 'long-tasks.yaml',
    needs: Object.fromEntries(['long-0', 'long-1', 'long-2', 'long-3'].map((t) => [t, []])),
    taskSeconds: '60 s each',
    deadlineMs: 900_000,
  },
];

/** What one side did with one DAG. */
export interface SideResult {
  ok: boolean;
  error?: string;
  makespanMs: number;
  /** Seconds from the first pod's creation to the last container's end, as the cluster saw them. */
  clusterSpanMs: number;
  handoffsMs: number[];
  retryGapsMs: number[];
  /** Pod creation to container running, each attempt. */
  podStartMs: number[];
  requests: Record<string, number>;
  tasks: number;
  pods: number;
  memory: MemoryPeak;
  left: number;
}

type Side = 'airflow' | 'action';

const nowMs = (): number => performance.timeOrigin + performance.now();

/** The task a pod ran, as the action's YAML names it (Airflow's task_ids use underscores). */
function taskOf(r: PodRecord, side: Side): string | undefined {
  const t = side === 'action' ? r.labels['pod-dag.io/task'] : r.labels['task_id'];
  return side === 'airflow' ? t?.replace(/_/g, '-') : t;
}

/**
 * Hand-offs of one run: for each task, from the moment it could start to its first pod appearing.
 * It could start when its last upstream's container ended, or, when `parallel` pods were running
 * then, when the container end came that freed a slot for it (the last end before its pod at which
 * the pods running dropped below `parallel`). Retry gaps: a failed attempt's container end to the
 * next attempt's pod appearing.
 */
export function handoffs(pods: PodRecord[], side: Side, needs: Record<string, string[]>, parallel: number): { handoffs: number[]; retryGaps: number[] } {
  const attempts = new Map<string, PodRecord[]>();
  for (const p of pods) {
    const t = taskOf(p, side);
    if (!t) continue;
    if (!attempts.has(t)) attempts.set(t, []);
    attempts.get(t)!.push(p);
  }
  for (const a of attempts.values()) a.sort((x, y) => x.addedMs - y.addedMs);
  const finalEnd = (t: string): number | undefined => attempts.get(t)?.at(-1)?.terminatedMs;
  const all = [...attempts.values()].flat();
  const out: number[] = [];
  const retryGaps: number[] = [];
  for (const [task, a] of attempts) {
    const created = a[0]!.addedMs;
    const ups = needs[task] ?? [];
    const upEnds = ups.map(finalEnd);
    if (ups.length && upEnds.every((e) => e !== undefined)) {
      let gate = Math.max(...(upEnds as number[]));
      // The pods created before this one; a slot freed when one of them ended with all slots taken.
      const before = all.filter((p) => p.addedMs < created);
      for (const p of before) {
        const end = p.terminatedMs;
        if (end === undefined || end >= created || end <= gate) continue;
        const running = before.filter((q) => q.addedMs <= end && (q.terminatedMs === undefined || q.terminatedMs >= end)).length;
        if (running >= parallel) gate = end;
      }
      out.push(created - gate);
    }
    for (let i = 1; i < a.length; i++) if (a[i - 1]!.terminatedMs !== undefined) retryGaps.push(a[i]!.addedMs - a[i - 1]!.terminatedMs!);
  }
  return { handoffs: out, retryGaps };
}

function countRequests(all: ApiRequest[], user: string, fromMs: number, toMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of all) {
    if (r.user !== user || r.atMs < fromMs || r.atMs > toMs) continue;
    const k = `${r.verb} ${r.resource}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Runs every DAG on one side; returns the results by DAG key. */
async function runSide(
  side: Side,
  cluster: BenchCluster,
  observer: PodObserver,
  work: string,
  log: (line: string) => void,
  dags: DagCase[],
  airflow?: AirflowStack,
): Promise<Record<string, SideResult>> {
  const user = USERS[side];
  const ctx: SideContext = { flakyState: path.join(work, `${side}-flaky-state`) };
  const out: Record<string, SideResult> = {};
  for (const dag of dags) {
    rmSync(ctx.flakyState, { force: true });
    const isMine = (r: PodRecord): boolean => taskOf(r, side) !== undefined;
    const from = nowMs();
    let makespanMs = 0;
    let ok = true;
    let error: string | undefined;
    let memory: MemoryPeak;
    if (side === 'airflow') {
      const sampler = sampleMemory(() => airflow!.pids());
      try {
        const runId = await airflow!.trigger(dag.airflowId, dag.airflowConf?.(ctx) ?? {});
        const run = await airflow!.wait(dag.airflowId, runId, dag.deadlineMs);
        makespanMs = run.endMs - run.queuedAtMs;
        if (run.state !== 'success') {
          ok = false;
          error = `the DAG run ended ${run.state}: ${await airflow!.taskStates(dag.airflowId, runId)}`;
        }
      } catch (err) {
        ok = false;
        error = (err as Error).message;
      }
      memory = sampler.stop();
    } else {
      let pid: number | undefined;
      const sampler = sampleMemory(() => (pid ? [pid] : []), 250);
      try {
        const run = await runAction({
          dag: path.relative(path.join(HERE, '..', '..'), path.join(DAGS_DIR, dag.yaml)),
          kubeconfig: cluster.userKubeconfig(user),
          params: dag.actionParams?.(ctx),
          maxParallel: PARALLEL,
          onStart: (p) => (pid = p),
        });
        makespanMs = run.endMs - run.startMs;
        if (run.result !== 'success') {
          ok = false;
          error = `result ${run.result}, exit ${run.exitCode}: ${run.logTail}`;
        }
      } catch (err) {
        ok = false;
        error = (err as Error).message;
      }
      memory = sampler.stop();
    }
    const runPods = (r: PodRecord): boolean => isMine(r) && r.addedMs >= from;
    // Pods the side deletes go within moments of its run's end; what is still there after 15 s was left behind.
    const left = (await observer.settle(runPods, 15_000)).length;
    const to = nowMs();
    const pods = [...observer.pods.values()].filter(runPods);
    const { handoffs: hs, retryGaps } = handoffs(pods, side, dag.needs, PARALLEL);
    const firstAdded = Math.min(...pods.map((p) => p.addedMs));
    const lastEnd = Math.max(...pods.map((p) => p.terminatedMs ?? 0));
    const res: SideResult = {
      ok,
      error,
      makespanMs,
      clusterSpanMs: pods.length ? lastEnd - firstAdded : 0,
      handoffsMs: hs,
      retryGapsMs: retryGaps,
      podStartMs: pods.filter((p) => p.runningMs !== undefined).map((p) => p.runningMs! - p.addedMs),
      requests: countRequests(cluster.requests(), user, from, to),
      tasks: Object.keys(dag.needs).length,
      pods: pods.length,
      memory,
      left,
    };
    out[dag.key] = res;
    log(
      `  ${side} ${dag.key}: ${ok ? 'ok' : `FAILED (${error?.split('\n')[0]})`}; makespan ${(makespanMs / 1000).toFixed(1)} s; hand-off p50 ${fmtMs(pct(hs, 50))}; ` +
        `${(sum(res.requests) / res.tasks).toFixed(1)} requests/task; RSS ${res.memory.rssMB.toFixed(0)} MB (PSS ${res.memory.pssMB.toFixed(0)}); ${pods.length} pods, ${left} left`,
    );
  }
  return out;
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** The p-th percentile (nearest rank) of `xs`; NaN when empty. */
export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function fmtMs(ms: number): string {
  if (Number.isNaN(ms)) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

/** Everything the head-to-head measured, for the report. */
export interface PeersRun {
  started: Date;
  cluster: { kind: string; description: string; kubernetesVersion: string; why?: string };
  versions: { airflow: string; provider: string; kubernetesClient: string; python: string; node: string };
  /** Why Airflow did not run, when it did not. */
  airflowMissing?: string;
  airflow: Record<string, SideResult>;
  action: Record<string, SideResult>;
  failures: string[];
}

/**
 * Runs the head-to-head on the real control plane when it can be used (else on the sandbox, and
 * says why); `only` picks DAGs by key (seed, fanout, chain50, flaky, long).
 */
export async function runPeers(log: (line: string) => void, only?: Set<string>): Promise<PeersRun> {
  const started = new Date();
  const failures: string[] = [];
  const dags = only ? DAGS.filter((d) => only.has(d.key)) : DAGS;
  const why = await controlPlaneUnavailable().catch((e: unknown) => `control-plane/ failed to load: ${String(e)}`);
  if (why) log(`  the real control plane cannot be used (${why}): running on the sandbox`);
  const install = airflowInstall();
  const airflowMissing = 'missing' in install ? install.missing : process.env['POD_DAG_BENCH_SKIP_AIRFLOW'] ? 'POD_DAG_BENCH_SKIP_AIRFLOW is set' : undefined;
  if (airflowMissing) log(`  ${airflowMissing}; the Airflow rows are skipped`);
  const cluster = await startBenchCluster(!why, log);
  const work = await import('node:fs/promises').then((fs) => fs.mkdtemp(path.join(os.tmpdir(), 'pod-dag-bench-peers-')));
  const observer = new PodObserver(cluster.adminKubeconfig, NAMESPACE);
  const airflowRes: Record<string, SideResult> = {};
  const actionRes: Record<string, SideResult> = {};
  let python = '?';
  try {
    await observer.start();
    if (!airflowMissing && 'dir' in install) {
      const { execFileSync } = await import('node:child_process');
      python = execFileSync(path.join(install.dir, 'bin', 'python'), ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
      const kubeconfigFile = path.join(work, 'airflow.kubeconfig');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(kubeconfigFile, cluster.userKubeconfig(USERS.airflow), { mode: 0o600 });
      log('  airflow: starting (db migrate, api-server, scheduler, dag-processor)');
      const stack = await AirflowStack.start({
        venv: install.dir,
        dagsFolder: DAGS_DIR,
        dagIds: DAGS.map((d) => d.airflowId),

        parallelism: PARALLEL,
        env: { POD_DAG_BENCH_KUBECONFIG: kubeconfigFile, POD_DAG_BENCH_FLAKY_STATE: path.join(work, 'airflow-flaky-state') },
        log,
      });
      // Interrupted: Airflow's components and what they forked go too (their process groups).
      const onSignal = (sig: NodeJS.Signals): void => {
        void stack.stop().finally(() => process.kill(process.pid, sig));
      };
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        Object.assign(airflowRes, await runSide('airflow', cluster, observer, work, log, dags, stack));
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
        await stack.stop();
      }
    }
    Object.assign(actionRes, await runSide('action', cluster, observer, work, log, dags));
  } finally {
    observer.stop();
    await cluster.close();
    rmSync(work, { recursive: true, force: true });
  }
  for (const [side, res] of [['Airflow', airflowRes], ['the action', actionRes]] as const) {
    for (const [k, r] of Object.entries(res)) if (!r.ok) failures.push(`${side}, ${k}: ${r.error}`);
  }
  return {
    started,
    cluster: { kind: cluster.kind, description: cluster.description, kubernetesVersion: cluster.kubernetesVersion, why: why ?? undefined },
    versions: { ...airflowVersions(), python, node: process.version },
    airflowMissing,
    airflow: airflowRes,
    action: actionRes,
    failures,
  };
}

export { DAGS, fmtMs, sum };
