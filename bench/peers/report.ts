/** Renders the head-to-head's section of BENCHMARKS.md from one run of bench/peers. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAGS, fmtMs, pct, sum, type PeersRun, type SideResult } from './index.ts';
import { SECTION_END, SECTION_START } from './section.ts';
import { DEFAULT_BURST, DEFAULT_QPS } from '../../src/kube/client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Lower is better for every figure: Airflow ÷ action, and whether the action is ahead, level or behind. */
function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) return '–';
  if (b === 0) return a === 0 ? 'level (both 0)' : 'action 0';
  const r = a / b;
  const txt = r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(r >= 2 ? 1 : 2)}×`;
  return r < 0.9 ? `**${txt} (action behind)**` : r <= 1.1 ? `${txt} (level)` : txt;
}

const mb = (x: number): string => `${x.toFixed(0)} MB`;

/** A failure in a few words: its first line, its error lines, and where its whole log is. */
function failureLines(f: string): string {
  const lines = f.split('\n');
  const keep = [lines[0]!, ...lines.slice(1).filter((l) => /^::error|the step log is in/.test(l))];
  return keep.map((l) => l.replace(/\|/g, '\\|').slice(0, 400)).join(' / ');
}

const per = (v: number, n: number): string => (v / n).toFixed(v / n >= 10 ? 0 : 2).replace(/\.00$/, '').replace(/(\.\d)0$/, '$1');

function perTask(r: SideResult): string {
  const parts = Object.entries(r.requests)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${per(v, r.tasks)} ${k}`);
  return parts.join(', ') || 'none';
}

/** The action's requests that each attempt makes; the rest are the run's, shared by its tasks. */
const ATTEMPT_REQUESTS = new Set(['create pods', 'delete pods', 'get pods/log']);

function attemptRequests(r: SideResult): number {
  return Object.entries(r.requests).reduce((a, [k, v]) => a + (ATTEMPT_REQUESTS.has(k) ? v : 0), 0);
}

/** The action's requests: those of each attempt per task, then the run's own, in total. */
function actionRequests(r: SideResult): string {
  const mine = Object.entries(r.requests).sort((a, b) => b[1] - a[1]);
  const attempt = mine.filter(([k]) => ATTEMPT_REQUESTS.has(k));
  const run = mine.filter(([k]) => !ATTEMPT_REQUESTS.has(k));
  const attemptSum = attempt.reduce((a, [, v]) => a + v, 0);
  const runSum = run.reduce((a, [, v]) => a + v, 0);
  return (
    `${(sum(r.requests) / r.tasks).toFixed(1)} = ${per(attemptSum, r.tasks)} per task (${attempt.map(([k, v]) => `${per(v, r.tasks)} ${k}`).join(', ')})` +
    ` + ${runSum} per run ÷ ${r.tasks} tasks (${run.map(([k, v]) => `${v} ${k}`).join(', ')})`
  );
}

/** Which DAGs this run left out (`--only`), and how to run them. */
function skippedNote(run: PeersRun): string {
  const left = DAGS.filter((d) => !run.airflow[d.key] && !run.action[d.key]);
  return left.length ? `\n**Not measured in this run** (it ran with \`--only\`): ${left.map((d) => d.title).join('; ')}. \`npm run bench -- --peers\` runs every DAG.\n` : '';
}

/** The section, from the heading to the end marker (inclusive of both markers). */
export function renderPeers(run: PeersRun): string {
  const a = run.airflow;
  const b = run.action;
  const v = run.versions;
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const airflowCol = `Airflow ${v.airflow} + KPO (provider ${v.provider})`;
  const rows: string[] = [`| DAG | figure | ${airflowCol} | pod-dag-action | Airflow ÷ action | what bounds the action's figure |`, '|---|---|---|---|---|---|'];
  const cell = (r: SideResult | undefined, f: (r: SideResult) => string): string => (r ? (r.ok ? f(r) : `failed: ${r.error?.split('\n')[0]?.slice(0, 120)}`) : run.airflowMissing ? 'not installed' : '–');
  const num = (r: SideResult | undefined, f: (r: SideResult) => number): number | undefined => (r?.ok ? f(r) : undefined);
  for (const dag of DAGS) {
    const ra = a[dag.key];
    const rb = b[dag.key];
    if (!rb && !ra) continue;
    const title = dag.title;
    const row = (figure: string, fa: string, fb: string, rat: string, bound: string): void => {
      rows.push(`| ${title} | ${figure} | ${fa} | ${fb} | ${rat} | ${bound} |`);
    };
    const start = rb ? pct(rb.podStartMs, 50) : NaN;
    const hand = rb ? pct(rb.handoffsMs, 50) : NaN;
    row(
      'makespan (trigger → run finished)',
      cell(ra, (r) => fmtMs(r.makespanMs)),
      cell(rb, (r) => fmtMs(r.makespanMs)),
      ratio(num(ra, (r) => r.makespanMs), num(rb, (r) => r.makespanMs)),
      rb
        ? `the tasks (${dag.taskSeconds}) on the critical path, each pod's start on the node (median ${fmtMs(start)} from creation to running), the hand-offs (median ${fmtMs(hand)}), and the process's start (Node, loading the spec and the client) and end (deleting the pods, recording the run)`
        : '',
    );
    if ((rb?.handoffsMs.length ?? 0) > 0 || (ra?.handoffsMs.length ?? 0) > 0) {
      row(
        `hand-off p50 / p99 (${rb?.handoffsMs.length ?? ra?.handoffsMs.length} samples)`,
        cell(ra, (r) => `${fmtMs(pct(r.handoffsMs, 50))} / ${fmtMs(pct(r.handoffsMs, 99))}`),
        cell(rb, (r) => `${fmtMs(pct(r.handoffsMs, 50))} / ${fmtMs(pct(r.handoffsMs, 99))}`),
        ratio(num(ra, (r) => pct(r.handoffsMs, 50)), num(rb, (r) => pct(r.handoffsMs, 50))) + ' (p50)',
        `the watch event saying the upstream's container ended; then the engine feeds the scheduler and creates the pod through the client's rate limit (${DEFAULT_QPS} requests/s, burst ${DEFAULT_BURST}), without waiting for the upstream's log to drain (the step log holds its result line until it has); recording the attempt in the run's ConfigMap and deleting the pod come after, off this path`,
      );
    }
    if ((rb?.retryGapsMs.length ?? 0) > 0 || (ra?.retryGapsMs.length ?? 0) > 0) {
      row(
        'retry gap: failed container end → next attempt\'s pod (delay 1 s)',
        cell(ra, (r) => r.retryGapsMs.map(fmtMs).join(', ')),
        cell(rb, (r) => r.retryGapsMs.map(fmtMs).join(', ')),
        ratio(num(ra, (r) => pct(r.retryGapsMs, 50)), num(rb, (r) => pct(r.retryGapsMs, 50))) + ' (p50)',
        'the 1 s retry delay, counted from when the engine learned of the failure (the watch event)',
      );
    }
    row(
      `API requests per task (${dag.key === 'long' ? '60 s' : dag.key === 'fanout' || dag.key === 'chain50' ? '1 s' : 'short'} tasks)`,
      cell(ra, (r) => `${(sum(r.requests) / r.tasks).toFixed(1)}: ${perTask(r)}`),
      cell(rb, actionRequests),
      `${ratio(num(ra, (r) => sum(r.requests) / r.tasks), num(rb, (r) => sum(r.requests) / r.tasks))}; against the action's per-task part alone ${ratio(
        num(ra, (r) => sum(r.requests) / r.tasks),
        num(rb, (r) => attemptRequests(r) / r.tasks),
      )}`,
      'per attempt: create the pod and follow its log (2; a second log read only if the stream was cut before the container ended), and a share of a batched delete (one deletecollection for up to 50 finished pods, due 30 s after the first) and of the one state write before it; per run, shared by its tasks: the permission check before any pod (one SelfSubjectRulesReview, and a SelfSubjectAccessReview for each permission it does not show), the namespace, one list and one watch of pods (renewed by the server every few minutes), the run\'s state in ConfigMaps (one list, the head and a shard created, written before each delete batch and at the end) and housekeeping lists; constant however long a task runs',
    );
    row(
      'peak memory: RSS summed over every process (PSS)',
      cell(ra, (r) => `${mb(r.memory.rssMB)} (${mb(r.memory.pssMB)}), ${r.memory.processes} processes`),
      cell(rb, (r) => `${mb(r.memory.rssMB)} (${mb(r.memory.pssMB)}), ${r.memory.processes} process`),
      `${ratio(num(ra, (r) => r.memory.rssMB), num(rb, (r) => r.memory.rssMB))} (PSS ${ratio(num(ra, (r) => r.memory.pssMB), num(rb, (r) => r.memory.pssMB))})`,
      'one Node process; loading the run path (@kubernetes/client-node and the action) takes Node from ~45 MB to ~150 MB before the first request (see "Wide DAG" above); the run itself adds little',
    );
    row(
      'pods left behind',
      cell(ra, (r) => `${r.left} of ${r.pods}`),
      cell(rb, (r) => `${r.left} of ${r.pods}`),
      '–',
      "keep-pods: never (as KPO's on_finish_action=delete_pod): each pod is deleted in a batch within 30 s of its task's end, and a run deletes what is left of it before it ends",
    );
  }
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1)).join(', ');
  const onSandbox = run.cluster.kind === 'sandbox';
  return `${SECTION_START}
## Head to head: Airflow + KubernetesPodOperator beside this action

Measured by \`npm run bench -- --peers\` (bench/peers/), ${run.started.toISOString().slice(0, 16).replace('T', ' ')} UTC, one run of each DAG on each side, on
${onSandbox ? `**the sandbox, not the real control plane** (${run.cluster.why ?? 'it was not usable'}): ${run.cluster.description}` : `the real control plane: ${run.cluster.description}`}.
Kubernetes ${run.cluster.kubernetesVersion}; Apache Airflow ${v.airflow} (LocalExecutor on SQLite: api-server, scheduler, dag-processor; \`[core] parallelism\` ${8}) with
apache-airflow-providers-cncf-kubernetes ${v.provider} (Python kubernetes client ${v.kubernetesClient}), Python ${v.python}; pod-dag-action ${pkg.version} (\`dist/index.js\`,
max-parallel 8, keep-pods never), Node ${v.node}. ${cpus.length} × ${cpus[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; load average at the end ${load}.
${run.airflowMissing ? `\n**Airflow was not installed**, so its column is empty: ${run.airflowMissing}.\n` : ''}${skippedNote(run)}
${rows.join('\n')}

${run.failures.length ? `Runs that failed:\n\n${run.failures.map((f) => `- ${failureLines(f)}`).join('\n')}\n\n` : ''}How it is measured (bench/peers/): the two sides run one after the other on the same cluster, Airflow first (its
components started once, before its first DAG, and stopped after its last), each as its own restricted user (\`airflow-kpo\`, \`pod-dag-action\`:
the same namespaced Role), with the same DAGs (bench/peers/dags/: the Python files as an Airflow user writes them with
\`KubernetesPodOperator(config_file=..., in_cluster=False)\`, the YAML as the action's users do), the same images mapped to the same local programs
by the node agent (the seed's clickhouse-client and migration stand-ins from test/fixtures/images, \`sandbox/sleep:N\`, and a flaky script that fails twice).
- **Makespan**: Airflow, from the DAG run's \`queued_at\` (the REST API's trigger) to its \`end_date\`, as Airflow records them; the action, from
  spawning \`node dist/index.js\` with the runner's environment to its exit.
- **Hand-off**: for each task, from the moment it could start (its last upstream's container ended; in the fan-out, when all 8 slots were
  taken, the moment the k-th container ended, which freed a slot) to its first pod being created; both ends as seen by one neutral watch on the
  namespace (the admin's, in the benchmark's process), so both sides are timed by the same clock and the same delay. The retry gap is the same
  from a failed attempt's container end to the next attempt's pod.
- **API requests**: every request each side's user sent while its run lasted (and 15 s after, while its pods were being deleted), by verb
  and resource, ${onSandbox ? 'recorded by the sandbox as it routed them (the same fields as an audit log)' : "from kube-apiserver's audit log (user.username, requestReceivedTimestamp)"}, divided by the DAG's tasks.
- **Peak memory**: every 0.5 s (0.25 s for the action), the resident set (VmRSS) and the proportional set (Pss, shared pages divided among
  the processes sharing them) of every process of the side, summed: for Airflow the api-server, the scheduler with its LocalExecutor
  workers and every task's supervisor and task process, the dag-processor, and what they fork; for the action its one Node process. Airflow's
  forked processes share much of their memory, so its RSS sum overstates what it takes and the PSS sum is the fairer figure.
- **Pods left behind**: the side's pods still there 15 s after its run ended.
${SECTION_END}`;
}
