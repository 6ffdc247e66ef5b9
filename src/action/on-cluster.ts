/**
 * The action's `run` and `dry-run` modes, and the post step's sweep: everything that talks to the
 * cluster. `steps.ts` loads this module only when a mode needs it (`import()`), because it brings
 * in @kubernetes/client-node, most of the bundle: `plan` starts without it.
 */
import { describeLeg, effectiveRunId, runClaim, runScope, type KeepPods, type RunContext } from '../common/run.ts';
import { AmbiguousRunError } from '../dag/rerun.ts';
import type { RunState } from '../dag/types.ts';
import type { StoredRunState } from '../dag/rerun.ts';
import { runDag, unrecordedWarning, type AttemptEnd, type UnrecordedEnd } from '../engine/index.ts';
import { connect, preflight } from '../kube/auth.ts';
import { createClient, type KubeClient } from '../kube/client.ts';
import { settleEarlierAttempts } from '../kube/earlier-attempts.ts';
import { readHistory } from '../kube/history.ts';
import { removeOldRuns } from '../kube/housekeeping.ts';
import { acquireLease, concurrencyLeaseName, leaseHolder, type LeaseHandle } from '../kube/lease.ts';
import { kubePodApi } from '../kube/pod-api.ts';
import { kubeClusterReader } from '../kube/dry-run-checks.ts';
import { PodProof } from '../kube/pod-proof.ts';
import { runKeys } from '../dag/rerun.ts';
import { RunStore, startRerunSession } from '../kube/run-store.ts';
import { claimedKeys, cleanupRun, sweepTarget, type SweepTarget } from '../kube/sweep.ts';
import { AnnotationReporter } from '../report/annotations.ts';
import { LiveLogReporter } from '../report/live-log.ts';
import { OutputsReporter } from '../report/outputs.ts';
import { SummaryReporter } from '../report/summary-reporter.ts';
import { CompositeReporter, type Reporter } from '../report/types.ts';
import type { DagSpec } from '../spec/types.ts';
import { ActionError, STATE, withKubeErrors, type MainDeps } from './errors.ts';
import { maskSecret, type Runner } from './github-runner.ts';
import { withoutUrlCredentials } from '../common/url-credentials.ts';
import { sensitiveValues } from '../common/sensitive.ts';
import { readSettings, type Settings } from './settings.ts';
import type { RunDatesPlan } from './steps.ts';
import { runContext, runDates } from '../dag/run-dates.ts';

/**
 * `run` and `dry-run`: connect, check permissions, then hand over to the engine. A backfill runs
 * the DAG once per logical date, each a run of its own (run id `<run id>-<date>`: its own pods,
 * state and summary section), in order, `parallel` at a time.
 */
export async function runOnCluster(
  spec: DagSpec,
  params: Record<string, string>,
  settings: Settings,
  context: RunContext,
  deps: MainDeps,
  dates: RunDatesPlan,
): Promise<void> {
  const { runner, env, signal } = deps;
  const mode = settings.mode === 'dry-run' ? 'dry-run' : 'run';
  const connection = await withKubeErrors(() => connect(settings.auth, env));
  for (const secret of connection.secrets) maskSecret(runner, secret);
  connection.onNewSecret((secret) => maskSecret(runner, secret));
  const namespace = settings.namespace ?? spec.namespace ?? connection.namespace ?? 'default';
  const client = createClient(connection.kubeConfig, settings.api);
  runner.info(`Cluster ${withoutUrlCredentials(client.server)}, namespace ${namespace} (credentials: ${describeSource(connection.source)})`);
  // The post step's sweep is told which pods are this run's before anything may fail: a restart
  // after a SIGKILL that fails at the preflight must still let the post step clean up the pods
  // the killed run left. (Before any pod exists, the sweep finds none: harmless.)
  const runId = effectiveRunId(context);
  // The runs the post step sweeps; a run whose claim another step holds is not this step's.
  const sweepIds: string[] = [];
  const saveSweep = (): void => runner.saveState(STATE.runs, sweepIds.length === 0 ? '' : JSON.stringify(sweepTarget(spec.name, context, sweepIds, runClaim(context, settings.dag, params))));
  if (mode === 'run') {
    runner.saveState(STATE.namespace, namespace);
    // Every run this step may start, a backfill's all at once: when the step is killed, runs of
    // a backfill that overlap (backfill-parallel) may each have pods left, not only the latest.
    sweepIds.push(...(dates.backfill === null ? [runId] : dates.backfill.dates.map((date) => backfillRunId(runId, date))));
    saveSweep();
    runner.saveState(STATE.keepPods, settings.keepPods);
  }
  const checked = await withKubeErrors(() => preflight(client, namespace, mode, { concurrency: mode === 'run' && settings.concurrency !== null, spec }));
  for (const w of checked.warnings) runner.warning(w);

  // The values of params named like credentials are redacted as the connection's are (masked
  // already by steps.ts); the list is the connection's, which grows as an exec plugin renews.
  const secrets = connection.secrets;
  secrets.push(...sensitiveValues(params));
  /**
   * The reporters of one run; `prefix` marks its live log lines (a backfill's runs may overlap),
   * `heading` opens its summary section (written in the same append, so sections never mix).
   */
  // The runner's summary is one buffer: the runs of a backfill append to it one at a time.
  let summaries: Promise<void> = Promise.resolve();
  const appendSummary = (md: string): Promise<void> => (summaries = summaries.then(() => runner.appendSummary(md)));
  // The summary reporter is kept apart too: a run hands it the DAG's history before it starts.
  const summaryOf = new WeakMap<Reporter, SummaryReporter>();
  const reportersFor = (prefix: string, heading = ''): Reporter => {
    const summary = new SummaryReporter({
      runner: heading === '' ? runner : { appendSummary: (md: string) => appendSummary(`${heading}${md}`) },
      logTailLines: settings.logTailLines,
      keepPods: settings.keepPods,
      secrets,
    });
    const reporter = new CompositeReporter([
      new LiveLogReporter({ write: (line) => runner.info(`${prefix}${line}`), secrets }),
      summary,
      new AnnotationReporter({ runner, secrets }),
      new OutputsReporter({ runner, env, secrets }),
    ] satisfies Reporter[]);
    summaryOf.set(reporter, summary);
    return reporter;
  };
  const common = {
    spec,
    params,
    namespace,
    maxParallel: settings.maxParallel,
    keepPods: settings.keepPods,
    pods: kubePodApi(client),
    cluster: kubeClusterReader(client),
    context,
    signal,
    logTailLines: settings.logTailLines,
    debug: (line: string) => runner.debug(line),
    logBacklog: () => runner.logBacklog?.(),
  };
  runner.info(describeDates(dates));
  if (mode === 'dry-run') {
    const state = await withKubeErrors(() => runDag({ ...common, run: dates.run, reporter: reportersFor(''), mode }));
    finish(spec, state, mode);
    return;
  }

  // The run id was fixed once, above: pod names, labels, the state ConfigMap and the post
  // step's selector must all agree on it.
  const baseRunId = runId;
  // This process's key: its public half goes into each run's state before any pod is created,
  // so a restart after a crash and the next run attempt can tell the run's pods from others'.
  const proof = new PodProof();

  const lease = settings.concurrency === null ? null : await takeLock(settings, settings.concurrency, namespace, context, client, deps);
  if (lease !== null && !lease.acquired) return;
  try {
    if (dates.backfill === null) {
      const state = await runOne(baseRunId, dates.run, reportersFor(''));
      finish(spec, state, mode);
      return;
    }
    // A backfill: one run per logical date, in order, `parallel` at a time.
    const { dates: logical, parallel } = dates.backfill;
    runner.info(`Backfill of ${logical.length} logical date${logical.length === 1 ? '' : 's'} (${logical[0]} … ${logical.at(-1)}), ${parallel} at a time`);
    const results: { date: string; state: RunState }[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < logical.length && !signal.aborted) {
        const date = logical[next++]!;
        const run = runContext(runDates({ start: deps.now?.() ?? Date.now(), schedule: dates.schedule, logicalDate: date }));
        const runId = backfillRunId(baseRunId, date);
        const heading = `# Logical date ${run['ts']}\n\nRun \`${runId}\` of the backfill, data interval ${run['intervalStart']} → ${run['intervalEnd']}.\n\n`;
        results.push({ date, state: await runOne(runId, run, reportersFor(parallel > 1 ? `[${run['date']}] ` : '', heading)) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, logical.length) }, worker));
    results.sort((a, b) => (a.date < b.date ? -1 : 1));
    finishBackfill(spec, results, runner);
  } finally {
    await lease?.release();
  }

  /**
   * A re-run of a run whose earlier attempts an earlier version of the action ran: their state
   * (and pods) are named without the run's scope, shared by every leg and step, so nothing of
   * them can be known to be this leg's: every task runs again, and the user is told why.
   */
  async function warnOfUnscopedState(runId: string): Promise<void> {
    const legacy = new RunStore({ core: client.core, namespace, dag: spec.name, runId, repository: context.repository, request: client.request });
    const found = await legacy.load().then(
      (state) => state !== null,
      () => false,
    );
    if (!found) return;
    runner.warning(
      `The earlier attempts of this run were run by an earlier version of pod-dag-action, which kept one state for every matrix leg and step (ConfigMap ${namespace}/${legacy.name}). ` +
        "It cannot tell which of its tasks were this leg's, so every task runs again; pods of those attempts that still run are not waited for (kubectl get pods -l 'pod-dag.io/run-id=" +
        `${runId}' -n ${namespace}).`,
    );
  }

  /** One run of the DAG: its own run id, state ConfigMap, pods and reporters. */
  async function runOne(runId: string, run: Record<string, string>, reporter: Reporter): Promise<RunState> {
    const scope = runScope(context);
    const store = new RunStore({
      core: client.core,
      namespace,
      dag: spec.name,
      runId,
      scope,
      repository: context.repository,
      request: client.request,
      onNote: (note) => runner.warning(note),
    });
    // The claim comes first, before this run creates or waits for anything: a second step that
    // the run's identity cannot tell from another one stops here.
    await claimRun(store, spec, settings, params, context, runId, () => {
      // Another step runs it: its pods (same labels) are not this step's to sweep.
      sweepIds.splice(sweepIds.indexOf(runId), 1);
      saveSweep();
    });
    if (context.runAttempt > 1) {
      proof.trust(runKeys(await withKubeErrors(() => store.load())));
      await withKubeErrors(() =>
        settleEarlierAttempts({
          client,
          namespace,
          spec,
          params,
          runId,
          scope,
          runAttempt: context.runAttempt,
          store,
          signal,
          onWait: (pods, selector) => {
            runner.info(`Waiting for ${pods.length} pod${pods.length === 1 ? '' : 's'} of an earlier attempt of this run, whose runner stopped without seeing ${pods.length === 1 ? 'it' : 'them'} end, so that no task runs twice at once:`);
            for (const p of pods) runner.info(`  ${p.name} (task ${p.task}, run attempt ${p.runAttempt}, ${p.phase})`);
            runner.info(`Their results will be used as if that attempt had seen them. To stop waiting, delete them: kubectl delete pod -n ${namespace} -l '${selector}'`);
          },
          proof,
          onRefused: (pod, problem) =>
            runner.warning(
              `Pod ${pod.metadata?.name} in namespace ${namespace} has the labels of an earlier attempt of this run but is not this run's: it ${problem}. ` +
                "It was ignored (its task runs again) and not deleted (it is not this run's): delete it, and find out who creates pods with pod-dag-action's labels in this namespace.",
            ),
          onRecorded: (task, runAttempt, attempt, outcome) =>
            runner.info(`${task}: its pod of run attempt ${runAttempt} (attempt ${attempt}) ended unseen by that attempt's runner: ${outcome.class === 'succeeded' ? 'succeeded' : `${outcome.class}${outcome.message ? ` (${outcome.message})` : ''}`}`),
        }),
      );
    }
    const session = await withKubeErrors(() =>
      startRerunSession(store, { spec, params, runAttempt: context.runAttempt, mode: settings.rerun, claim: runClaim(context, settings.dag, params), key: proof.publicKey }),
    );
    proof.trust(runKeys(session.stored));
    runner.saveState(STATE.keys, JSON.stringify(proof.trustedKeys));
    if (context.runAttempt > 1 && scope !== null && (session.stored?.tasks === undefined || Object.keys(session.stored.tasks).length === 0)) {
      await warnOfUnscopedState(runId);
    }
    // The grid of the last runs, from the states kept for `retention`: one list, never fatal.
    summaryOf.get(reporter)?.setHistory(await readHistory({ core: client.core, request: client.request, namespace, dag: spec.name, repository: context.repository, runId, scope }));
    for (const [task, prev] of Object.entries(session.plan.previous)) {
      runner.info(`${task}: succeeded in run attempt ${prev.runAttempt}; reusing its result and outputs`);
    }
    if (session.stored !== null) for (const r of session.plan.rerun) runner.info(`${r.task} runs: ${r.reason}`);

    let unrecorded: UnrecordedEnd[] = [];
    const state: RunState = await withKubeErrors(() =>
      runDag({
        ...common,
        reporter,
        run,
        mode,
        runId,
        previous: session.plan.previous,
        onAttemptEnd: (end: AttemptEnd, opts: { defer: boolean }) => session.attemptEnded(end, opts),
        flushRecords: () => session.flush(),
        onUnrecorded: (ends: UnrecordedEnd[]) => void (unrecorded = ends),
        recorded: (task: string, attempt: number) => session.recorded(task, attempt),
        proof,
      }),
    );
    let runEnd: Error | null = null;
    if (state.result !== null) await session.finished(state.result).catch((err: unknown) => void (runEnd = err instanceof Error ? err : new Error(String(err))));
    // One warning for every record that failed, naming the pods kept in their stead.
    const unwritten = unrecordedWarning(unrecorded, runEnd);
    if (unwritten !== null) runner.warning(unwritten);
    const old = await removeOldRuns({
      core: client.core,
      namespace,
      dag: spec.name,
      repository: context.repository,
      runId,
      retentionMs: settings.retentionMs,
      keepPods: settings.keepPods,
      request: client.request,
    });
    if (old.pods.length + old.configMaps.length > 0) {
      runner.info(`Removed ${old.pods.length} pod(s) and ${old.configMaps.length} state ConfigMap(s) of runs older than the retention`);
    }
    for (const e of old.errors) runner.warning(`Housekeeping: ${e}`);
    return state;
  }
}

/** The run id of a backfill's run of logical date `date`: `<run id>-<date, letters and digits only>`. */
function backfillRunId(baseRunId: string, date: string): string {
  return `${baseRunId}-${date.replace(/[^0-9A-Za-z]/g, '').toLowerCase()}`;
}

/**
 * Records that this step starts this run attempt (src/dag/rerun.ts `RunClaim`), or fails, before
 * anything is created, when another step with the same run identity but another claim did so
 * (after `onRefused`).
 */
async function claimRun(store: RunStore, spec: DagSpec, settings: Settings, params: Record<string, string>, context: RunContext, runId: string, onRefused: () => void): Promise<void> {
  const started = store.markStarted(context.runAttempt, runClaim(context, settings.dag, params)).catch((err: unknown) => {
    if (!(err instanceof AmbiguousRunError)) throw err;
    onRefused();
    const leg = describeLeg(context.leg);
    const who = [
      `run ${runId}`,
      context.job ? `job '${context.job}'` : null,
      context.step ? `step '${context.step}'` : null,
      leg ? `matrix leg (${leg})` : null,
      context.runKey ? `run-key '${context.runKey}'` : null,
    ].filter((p) => p !== null);
    throw new ActionError(
      `DAG ${spec.name}: another step already started run attempt ${context.runAttempt} of this same run (${who.join(', ')}), and it is not this step: it differs in ${err.differences.join(' and ')}. ` +
        'The job, the step and the matrix leg do not tell the two apart (as with one reusable workflow called twice, or a composite action that runs the DAG twice), ' +
        "and sharing the run would replay or adopt the other's tasks, so this step stopped before creating anything. " +
        `Give each its own 'run-key' input, e.g. 'run-key: \${{ inputs.region }}' or any value that differs between them (${store.name} holds the run's state).`,
    );
  });
  await withKubeErrors(() => started);
}

/** "Logical date 2026-12-03 (…), data interval … → …, from the schedule "0 2 * * *"". */
function describeDates(dates: RunDatesPlan): string {
  const r = dates.run;
  const from = r['source'] === 'schedule' ? `the schedule "${r['schedule']}"` : r['source'] === 'input' ? 'the inputs' : 'the start of the run';
  return `Logical date ${r['ts']}, data interval ${r['intervalStart']} → ${r['intervalEnd']} (from ${from})`;
}

/** A backfill's outcome: the step fails if any of its runs did not succeed, naming them. */
function finishBackfill(spec: DagSpec, results: { date: string; state: RunState }[], runner: Runner): void {
  const bad = results.filter((r) => r.state.result !== 'success');
  const failedTasks = [...new Set(results.flatMap((r) => r.state.tasks.filter((t) => t.result === 'failed').map((t) => t.id)))];
  const result = bad.length === 0 ? 'success' : results.some((r) => r.state.result === 'failure') ? 'failure' : 'cancelled';
  // The last run's reporters set the outputs; these say the whole backfill.
  runner.setOutput('result', result);
  runner.setOutput('failed-tasks', JSON.stringify(failedTasks));
  runner.info(`Backfill of DAG ${spec.name}: ${results.length - bad.length} of ${results.length} runs succeeded${bad.length > 0 ? ` (not: ${bad.map((b) => b.date).join(', ')})` : ''}`);
  if (bad.length > 0) throw new ActionError(`Backfill of DAG ${spec.name}: ${bad.length} of ${results.length} runs did not succeed (${bad.map((b) => `${b.date}: ${b.state.result}`).join(', ')}).`);
}

/**
 * Takes the `concurrency` lock per its policy. Resolves to the held lease, or to a lease that was
 * not acquired after the step's outcome was set (skipped: success with result `skipped`).
 */
async function takeLock(
  settings: Settings,
  name: string,
  namespace: string,
  context: RunContext,
  client: KubeClient,
  deps: MainDeps,
): Promise<LeaseHandle> {
  const { runner, signal } = deps;
  const lease = await withKubeErrors(() =>
    acquireLease(client.coordination, {
      name: concurrencyLeaseName(name),
      namespace,
      holder: leaseHolder(context),
      policy: settings.concurrencyPolicy,
      waitTimeoutMs: settings.concurrencyTimeoutMs,
      request: client.request,
      watch: (path, query, onEvent, onDone) => client.watchRequest(`watch lease ${name}`, path, query, onEvent, onDone),
      signal,
      onWait: (holder, until) => runner.info(`Waiting for the concurrency lock '${name}': held by ${holder} (until ${new Date(until).toISOString()} unless renewed)`),
      onLost: (reason) => runner.warning(`Lost the concurrency lock '${name}': ${reason}`),
    }),
  );
  if (lease.acquired) {
    runner.info(`Holding the concurrency lock '${name}' (Lease ${namespace}/${concurrencyLeaseName(name)})`);
    return lease;
  }
  if (signal.aborted) throw new ActionError(`Cancelled while waiting for the concurrency lock '${name}'.`);
  if (settings.concurrencyPolicy === 'skip') {
    runner.info(`Skipped: ${lease.reason} (concurrency-policy: skip)`);
    runner.setOutput('result', 'skipped');
    runner.setOutput('failed-tasks', '[]');
    runner.setOutput('outputs', '{}');
    await runner.appendSummary(`## ⏭️ Skipped\n\nAnother run holds the concurrency lock \`${name}\`: ${lease.reason}.\n`);
    return lease;
  }
  throw new ActionError(`Another run holds the concurrency lock '${name}': ${lease.reason}. Nothing was run.`);
}

/** Turns the run's result into the step's: a failed DAG fails the step, with the tasks named. */
function finish(spec: DagSpec, state: RunState, mode: 'run' | 'dry-run'): void {
  if (state.result === 'success') return;
  const failed = state.tasks.filter((t) => t.result === 'failed').map((t) => t.id);
  if (state.result === 'cancelled') {
    throw new ActionError(`DAG ${spec.name} was cancelled${state.cancelled === 'timeout' ? ' (its timeout passed)' : ''}.`);
  }
  if (mode === 'dry-run') {
    throw new ActionError(`Dry run of DAG ${spec.name}: the cluster would refuse the pods of ${failed.join(', ')} (see the summary).`);
  }
  throw new ActionError(`DAG ${spec.name} failed: ${failed.length} task${failed.length === 1 ? '' : 's'} failed (${failed.join(', ')}).`);
}

function describeSource(source: string): string {
  switch (source) {
    case 'kubeconfig-input':
      return "the 'kubeconfig' input";
    case 'token-input':
      return "the 'server' and 'token' inputs";
    case 'kubeconfig-file':
      return 'the kubeconfig file of an earlier step (KUBECONFIG or ~/.kube/config)';
    case 'in-cluster':
      return 'the in-cluster service account';
    default:
      return source;
  }
}

/**
 * The post step's sweep, once the main step's state says which runs it started (`runs`, a JSON
 * SweepTarget): deletes their live pods, and the ended ones keep-pods does not keep whose ends the
 * runs' states record; the others stay, for a re-run. Never fails the job; only warns.
 */
export async function cleanUpRun(runner: Runner, env: NodeJS.ProcessEnv, namespace: string, runs: string, keepPods: KeepPods, keys: string | null = null): Promise<void> {
  const target = parseTarget(runs);
  if (target === null) {
    runner.warning(`Could not clean up this run's pods in namespace ${namespace}: the main step's saved state does not say which runs it started (${JSON.stringify(runs.slice(0, 200))}).`);
    return;
  }
  const what = target.runIds.length === 1 ? `run ${target.runIds[0]}` : `the ${target.runIds.length} runs of the backfill`;
  try {
    const settings = readSettings((name) => runner.getInput(name));
    const connection = await connect(settings.auth, env);
    for (const secret of connection.secrets) maskSecret(runner, secret);
    connection.onNewSecret((secret) => maskSecret(runner, secret));
    const client = createClient(connection.kubeConfig, settings.api);
    // Read with the main step's own store code: what it says is recorded is what a re-run reuses.
    // Each run's state is read at most once.
    const states = new Map<string, Promise<StoredRunState | null>>();
    const readState = (runId: string): Promise<StoredRunState | null> => {
      let s = states.get(runId);
      if (s === undefined) {
        s = new RunStore({ core: client.core, namespace, dag: target.dag, runId, scope: target.scope, repository: target.repository, request: client.request }).load();
        states.set(runId, s);
      }
      return s;
    };
    // Only pods signed by the step's processes are its to delete: the keys it saved, or, if it
    // stopped before saving them, those the runs' states record under its claim.
    const proof = new PodProof();
    if (keys !== null) proof.trust(parseKeys(keys));
    else {
      const started: string[] = [];
      for (const runId of target.runIds) {
        const stored = await readState(runId).catch((err: unknown) => err as Error);
        const claimed = stored instanceof Error ? null : claimedKeys(stored, target.runAttempt, target.claim);
        if (stored instanceof Error) runner.warning(`Left the pods of run ${runId} in namespace ${namespace} alone: could not read its state to tell which are this step's (${stored.message}).`);
        if (claimed === null) continue; // this step never started it: none of its pods are this step's
        proof.trust(claimed);
        started.push(runId);
      }
      if (started.length === 0) return;
      target.runIds = started;
    }
    const { deleted, warnings, foreign, unrecorded } = await cleanupRun(kubePodApi(client), namespace, target, { keepPods, proof, readState });
    if (deleted.length > 0) runner.info(`Deleted ${deleted.length} leftover pod${deleted.length === 1 ? '' : 's'} of ${what}: ${deleted.join(', ')}`);
    if (unrecorded.length > 0) {
      const one = unrecorded.length === 1;
      runner.info(
        `Kept ${unrecorded.length} ended pod${one ? '' : 's'} of ${what}: the run's state does not record how ${one ? 'its task' : 'their tasks'} ended (the main step stopped, or failed to write it, first), and ${one ? 'this pod is' : 'these pods are'} the only record. ` +
          `A re-run of this job records and reuses ${one ? 'it' : 'them'} (a task that succeeded does not run again); housekeeping removes ${one ? 'it' : 'them'} after the retention. ${unrecorded.join(', ')}`,
      );
    }
    for (const f of foreign) {
      runner.warning(
        `Left pod ${f.name} in namespace ${namespace} alone: it has this run's labels but is not this run's (it ${f.problem}). ` +
          "Delete it yourself, and find out who creates pods with pod-dag-action's labels in this namespace.",
      );
    }
    for (const w of warnings) runner.warning(w);
  } catch (err) {
    runner.warning(`Could not clean up the pods of ${what} in namespace ${namespace}: ${(err as Error).message}`);
  }
}

/** The runs the main step saved for the post step, or null when the text is not a SweepTarget. */
function parseTarget(text: string): SweepTarget | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const t = v as Record<string, unknown>;
  const str = (x: unknown): x is string => typeof x === 'string';
  const ok =
    str(t['dag']) &&
    (t['scope'] === null || str(t['scope'])) &&
    (t['repository'] === null || str(t['repository'])) &&
    Number.isInteger(t['runAttempt']) &&
    (t['claim'] === null || (typeof t['claim'] === 'object' && Object.values(t['claim'] as object).every((x) => x === null || str(x)))) &&
    Array.isArray(t['runIds']) &&
    t['runIds'].length > 0 &&
    t['runIds'].every(str);
  return ok ? (t as unknown as SweepTarget) : null;
}

/** The keys the main step saved for the post step (a JSON array of strings); anything else: none. */
function parseKeys(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
