/**
 * Test helpers for engine scenarios: a sandbox cluster, a client connected to it through the
 * real @kubernetes/client-node over HTTPS, a spec from YAML, a capturing reporter, and waiting on
 * conditions with a deadline (never a sleep).
 */
import { connect } from '../../src/kube/auth.ts';
import { createClient, type KubeClient } from '../../src/kube/client.ts';
import { runDag, dryRunDag, type RunDagOptions } from '../../src/engine/index.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { LiveLogReporter } from '../../src/report/live-log.ts';
import { CompositeReporter, type LogLine, type Reporter, type RunContext } from '../../src/report/types.ts';
import { parseSpec } from '../../src/spec/index.ts';
import type { DagSpec } from '../../src/spec/types.ts';
import type { RunState } from '../../src/dag/types.ts';
import { runScope } from '../../src/common/run.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.ts';

/** A sandbox and a client of it. */
export interface Cluster {
  sandbox: Sandbox;
  client: KubeClient;
  /** Requests our client sent, by what. */
  sent: string[];
}

/** Starts a sandbox and connects to it as the runner would, with a kubeconfig input. */
export async function startCluster(options: SandboxOptions = {}): Promise<Cluster> {
  const sandbox = await startSandbox(options);
  const conn = await connect({ kubeconfig: sandbox.kubeconfig() }, {});
  const sent: string[] = [];
  // Retries wait little in tests: the sandbox answers 429 with Retry-After 1 s at most.
  const client = createClient(conn.kubeConfig, { onRequest: (w) => sent.push(w), retry: { baseMs: 20, maxMs: 200 } });
  return { sandbox, client, sent };
}

/** Parses a spec from YAML text; fails the test with the issues if it is invalid. */
export function spec(yaml: string): DagSpec {
  const { spec: s, issues } = parseSpec(yaml, 'test.yaml');
  if (!s) throw new Error(`test spec is invalid:\n${issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n')}`);
  return s;
}

/** A RunContext like a workflow's. */
/** The run scope of every `context(…)` (src/common/run.ts `runScope`: it does not depend on the run id). */
export function engineScope(): string | null {
  return runScope(context('0'));
}

export function context(runId: string, runAttempt = 1): RunContext {
  return {
    repository: 'octo-org/data-pipelines',
    runId,
    runAttempt,
    sha: 'abc123',
    ref: 'refs/heads/main',
    serverUrl: 'https://github.com',
    workflow: 'nightly',
    job: 'sync',
    actor: 'octocat',
    eventName: 'schedule',
  };
}

/** What a run printed and reported. */
export interface Captured {
  lines: string[];
  logs: LogLine[];
  created: { task: string; attempt: number; pod: string; adopted: boolean }[];
  tails: Record<string, string[]>;
}

/** A reporter that keeps everything, plus the live log's text. */
export function capture(): { reporter: Reporter; out: Captured } {
  const out: Captured = { lines: [], logs: [], created: [], tails: {} };
  const keeper: Reporter = {
    logLine: (l) => void out.logs.push(l),
    podCreated: (task, attempt, pod, adopted) => void out.created.push({ task, attempt, pod, adopted }),
    runFinished: (_s, tails) => void (out.tails = tails),
  };
  return { reporter: new CompositeReporter([new LiveLogReporter({ write: (l) => void out.lines.push(l) }), keeper]), out };
}

let runCounter = 0;

/** Runs a DAG on the cluster and returns the final state and what was captured. */
export async function run(
  cluster: Cluster,
  s: DagSpec,
  extra: Partial<RunDagOptions> = {},
): Promise<{ state: RunState; out: Captured; runId: string }> {
  const { reporter, out } = capture();
  const runId = extra.context?.runId ?? `${Date.now() % 1e9}${++runCounter}`;
  const state = await runDag({
    spec: s,
    params: {},
    mode: 'run',
    namespace: 'default',
    maxParallel: 0,
    keepPods: 'never',
    pods: kubePodApi(cluster.client),
    context: context(runId),
    reporter,
    imagePullGraceMs: 0,
    ...extra,
  });
  return { state, out, runId };
}

export { dryRunDag };

/** Waits until `cond()` is true, checking on every turn of the event loop, up to `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** The attempts of a task as "class:reason" strings. */
export function attempts(state: RunState, task: string): string[] {
  const t = state.tasks.find((x) => x.id === task);
  if (!t) throw new Error(`no task ${task} in the run state`);
  return t.attempts.map((a) => `${a.outcome?.class ?? 'running'}${a.outcome?.reason ? `:${a.outcome.reason}` : ''}`);
}

/** The result of every task, by id. */
export function results(state: RunState): Record<string, string | null> {
  return Object.fromEntries(state.tasks.map((t) => [t.id, t.result]));
}
