/**
 * The post step's sweep: whatever happened to the main step (cancelled, crashed, killed, or ended
 * with some records unwritten), the pods of its runs that are still live are deleted, and an ended
 * pod is deleted only when keep-pods does not keep it AND the run's state records that attempt's
 * end. An ended pod whose end the state lacks is the only record of how its task ended: a re-run
 * of the job records and reuses it (src/kube/earlier-attempts.ts), so it stays. This is decided
 * per pod, from the state as it is in the cluster, never from how the main step ended: the
 * engine's last records may fail after the run ended normally, and the ones that did get written
 * may be all a killed step leaves.
 *
 * Cost: one list of pods per `SWEEP_CHUNK` runs (a backfill's runs share one), and one read of a
 * run's state only when one of its ended pods would otherwise be deleted.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { effectiveRunId, runScope, type KeepPods, type RunContext } from '../common/run.ts';
import { claimDifferences, type RunClaim, type StoredRunState } from '../dag/rerun.ts';
import type { AttemptOutcome } from '../dag/types.ts';
import { containerTerminated } from './classify.ts';
import { classifyError, describeError } from './errors.ts';
import type { PodApi } from './pod-api.ts';
import { LABELS, MANAGED_BY, labelValue } from './pod.ts';
import type { PodProof } from './pod-proof.ts';

/** How many run ids one list's selector names (`run-id in (…)`): keeps its URL far below any server's limit. */
export const SWEEP_CHUNK = 100;

/**
 * The runs one main step started and the post step sweeps: one, or every run of a backfill (all of
 * them, so that runs still going when the step was killed are swept too). Saved by the main step
 * before it creates anything.
 */
export interface SweepTarget {
  dag: string;
  /** The run's scope (src/common/run.ts `runScope`), null on the CLI. */
  scope: string | null;
  /** `owner/name`, for the state's labels; null outside a workflow. */
  repository: string | null;
  runAttempt: number;
  /** The run ids: one, or one per logical date of a backfill. */
  runIds: string[];
  /**
   * The step's claim on its runs (src/dag/rerun.ts `RunClaim`): when the main step stopped before
   * it saved its keys, the keys the runs' states record under this claim are the step's.
   */
  claim: RunClaim | null;
}

/** The SweepTarget of the run of `dag` in `context`'s run attempt, or with `runIds`, of those runs. */
export function sweepTarget(dag: string, context: RunContext, runIds: string[] = [effectiveRunId(context)], claim: RunClaim | null = null): SweepTarget {
  return { dag, scope: runScope(context), repository: context.repository, runAttempt: context.runAttempt, runIds, claim };
}

/**
 * The public keys a step's sweep trusts when the step stopped before it saved its own: when run
 * attempt `runAttempt` was started under `claim`, every key the run's state records (this
 * attempt's processes, and the earlier attempts' whose live pods the sweep also deletes), as the
 * main step trusts them; null when no process started it under that claim (the step never
 * started the run: another step that the action cannot tell from it did, or nobody yet). A state
 * written before claims (no claim recorded) counts as this step's.
 */
export function claimedKeys(stored: StoredRunState | null, runAttempt: number, claim: RunClaim | null): string[] | null {
  const attempts = stored?.runAttempts ?? [];
  const started = attempts.some((r) => r.runAttempt === runAttempt && (claim === null || r.claim === undefined || claimDifferences(r.claim, claim).length === 0));
  return started ? attempts.flatMap((r) => r.keys ?? []) : null;
}

/**
 * The label selectors that together match every pod of the target's runs, of its run attempt and
 * the earlier ones (a re-run cancelled while it waited for an earlier attempt's pods leaves them
 * running).
 */
export function sweepSelectors(target: SweepTarget): string[] {
  const selectors: string[] = [];
  const ids = [...new Set(target.runIds.map(labelValue))];
  for (let i = 0; i < ids.length; i += SWEEP_CHUNK) {
    const chunk = ids.slice(i, i + SWEEP_CHUNK);
    const run = chunk.length === 1 ? `${LABELS.runId}=${chunk[0]}` : `${LABELS.runId} in (${chunk.join(',')})`;
    let s = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.dag}=${labelValue(target.dag)},${run}`;
    if (target.scope) s += `,${LABELS.runScope}=${target.scope}`;
    selectors.push(target.runAttempt === 1 ? `${s},${LABELS.runAttempt}=1` : s);
  }
  return selectors;
}

/**
 * How the run's state records the end of the attempt `pod` ran, or null when it does not: the
 * record of the pod's task and attempt (its labels) in the pod's run attempt, if it names this pod,
 * or no pod (the attempt's pod never started), or the pod is a sensor's poke (only the attempt's
 * last poke is named). Task labels are the ids themselves (a task or matrix instance id is never
 * cut to fit a label: see src/kube/earlier-attempts.ts); a pod whose task label is no task of the
 * state (made by a version that cut long ids) is found by its name. The one test of "known" for
 * the post step's sweep and for a re-run settling the earlier attempts' pods, so both agree.
 */
export function recordedEnd(stored: StoredRunState | null, pod: V1Pod): AttemptOutcome['class'] | null {
  if (stored === null) return null;
  const labels = pod.metadata?.labels ?? {};
  const name = pod.metadata?.name ?? '';
  const runAttempt = Number(labels[LABELS.runAttempt]);
  const task = labels[LABELS.task];
  const attempt = Number(labels[LABELS.taskAttempt]);
  if (task !== undefined && Object.hasOwn(stored.tasks, task)) {
    const entry = stored.tasks[task]!;
    if (entry.runAttempt !== runAttempt) return null;
    const poke = labels[LABELS.poke] !== undefined;
    return entry.attempts.find((x) => x.attempt === attempt && (x.pod === name || x.pod === null || poke))?.class ?? null;
  }
  for (const entry of Object.values(stored.tasks)) {
    if (entry.runAttempt !== runAttempt) continue;
    const a = entry.attempts.find((x) => x.pod === name);
    if (a !== undefined) return a.class;
  }
  return null;
}

/** What the sweep did, for the caller to print. */
export interface SweepResult {
  deleted: string[];
  warnings: string[];
  /** Pods with the runs' labels but not their proof: not theirs, left alone. */
  foreign: { name: string; problem: string }[];
  /** Ended pods kept because the run's state does not record their attempts' ends (or could not be read). */
  unrecorded: string[];
}

/**
 * The post step's sweep: deletes the live pods of `target`'s runs in `namespace` (of its run
 * attempt, and left running by earlier ones), and its run attempt's ended
 * ones that `keepPods` does not keep and whose attempts' ends `readState(runId)` (the run's
 * stored state) records; every other ended pod stays, named in `unrecorded` (without `readState`,
 * every such pod). With `proof`, a pod that has the labels but not the proof of the run
 * (src/kube/pod-proof.ts) is not the run's: it is left alone and named in `foreign`, with why.
 * Never throws: problems come back as warnings for the caller to print.
 */
export async function cleanupRun(
  api: PodApi,
  namespace: string,
  target: SweepTarget,
  options: { keepPods?: KeepPods; proof?: PodProof; readState?: (runId: string) => Promise<StoredRunState | null> } = {},
): Promise<SweepResult> {
  const result: SweepResult = { deleted: [], unrecorded: [], warnings: [], foreign: [] };
  const runIdOf = new Map(target.runIds.map((id) => [labelValue(id), id]));
  // Each run's state, read once and only if one of its ended pods may go.
  const states = new Map<string, Promise<StoredRunState | null | Error>>();
  const stateOf = (runId: string): Promise<StoredRunState | null | Error> => {
    let s = states.get(runId);
    if (s === undefined) {
      const read = options.readState;
      s = read === undefined ? Promise.resolve(null) : read(runId).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
      states.set(runId, s);
    }
    return s;
  };
  for (const selector of sweepSelectors(target)) {
    let pods: V1Pod[];
    try {
      pods = (await api.list(namespace, selector)).items;
    } catch (err) {
      result.warnings.push(describeError(err, `list the run's pods (${selector}) in namespace ${namespace}`, api.server));
      continue;
    }
    await Promise.all(pods.map((p) => sweepPod(api, namespace, p, target.runAttempt, options, runIdOf, stateOf, result)));
  }
  for (const [runId, s] of states) {
    const state = await s;
    if (state instanceof Error) result.warnings.push(`Could not read the state of run ${runId} to tell which ended pods it records (${state.message}): they were kept.`);
  }
  result.deleted.sort();
  result.unrecorded.sort();
  result.foreign.sort((a, b) => (a.name < b.name ? -1 : 1));
  return result;
}

async function sweepPod(
  api: PodApi,
  namespace: string,
  p: V1Pod,
  runAttempt: number,
  options: { keepPods?: KeepPods; proof?: PodProof },
  runIdOf: Map<string, string>,
  stateOf: (runId: string) => Promise<StoredRunState | null | Error>,
  result: SweepResult,
): Promise<void> {
  const name = p.metadata?.name ?? '';
  if (p.metadata?.deletionTimestamp) return;
  const phase = p.status?.phase;
  const ended = phase === 'Succeeded' || phase === 'Failed' || containerTerminated(p);
  // An earlier run attempt's pod: that attempt's sweep judged its ended pods (a later re-run
  // records them); only one still running goes, as this attempt's own would.
  const podAttempt = Number(p.metadata?.labels?.[LABELS.runAttempt]);
  if (podAttempt !== runAttempt && (!(podAttempt < runAttempt) || ended)) return;
  const proven = options.proof?.verify(p);
  if (proven !== undefined && !proven.ok) {
    result.foreign.push({ name, problem: proven.problem });
    return;
  }
  if (ended) {
    // Kept on purpose, whatever the state says: every ended pod with always, failed ones with
    // on-failure (a pod the API calls Failed never held a succeeded attempt).
    if (options.keepPods === 'always' || (options.keepPods === 'on-failure' && phase === 'Failed')) return;
    const runId = runIdOf.get(p.metadata?.labels?.[LABELS.runId] ?? '');
    const state = runId === undefined ? null : await stateOf(runId);
    const recorded = state instanceof Error ? null : recordedEnd(state, p);
    if (recorded === null) {
      // Its end is nowhere else: deleting it would make a re-run run a task that may have succeeded.
      result.unrecorded.push(name);
      return;
    }
    // on-failure keeps the pod of an attempt that did not succeed, as the engine judged it.
    if (options.keepPods === 'on-failure' && recorded !== 'succeeded') return;
  }
  try {
    await api.delete(namespace, name, { gracePeriodSeconds: 2 });
    result.deleted.push(name);
  } catch (err) {
    if (classifyError(err).kind !== 'not-found') result.warnings.push(describeError(err, `delete pod ${name} in namespace ${namespace}`, api.server));
  }
}
