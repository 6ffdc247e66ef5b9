/**
 * Housekeeping: removes the pods and state ConfigMaps of THIS DAG's old runs in this namespace
 * once they are older than the retention, and reports what it removed.
 *
 * What it may touch, by construction:
 * - Only objects listed with the label selector managed-by=pod-dag-action, dag=<this DAG> and
 *   repository=<this repository> (or, outside a workflow, objects without a repository label):
 *   another DAG's objects, another repository's, and anything we did not create never match.
 * - Never the current run (any of its run attempts).
 * - Never a run that may be in progress: one with a pod that is not finished (Pending, Running,
 *   Unknown), or whose state says its last run attempt started and did not end, unless that
 *   attempt started more than `staleAfterMs` (default 3 days, beyond GitHub's longest job) ago:
 *   its runner died without a word.
 * - A run is old when its last sign of life (state written, pod created or finished) is older
 *   than the retention.
 * - With keep-pods `always`, pods are left alone (the user keeps them); state ConfigMaps still go.
 *
 * Deletes that answer 404 (someone else removed it first) count as done. Errors stop nothing:
 * each is reported in `errors`, for the caller to show as a warning.
 */
import type { CoreV1Api, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { parseRunState } from '../dag/rerun.ts';
import { parseHead, stateVersion } from '../dag/state-parts.ts';
import { systemClock } from '../common/clock.ts';
import { formatDuration } from '../common/duration.ts';
import type { KeepPods } from '../common/run.ts';
import type { Requester } from './client.ts';
import { classifyError } from './errors.ts';
import { LABELS, MANAGED_BY, labelValue } from './pod.ts';
import { NOT_A_SHARD, shardName, STATE_KEY } from './run-store.ts';
import { kubeTimeMs } from './time.ts';

/** Options of `removeOldRuns`. */
export interface HousekeepingOptions {
  core: CoreV1Api;
  namespace: string;
  dag: string;
  /** `owner/name`, or null outside a workflow (the CLI). */
  repository: string | null;
  /** The run in progress (never touched). */
  runId: string | null;
  /** Runs whose last sign of life is older than this are removed. */
  retentionMs: number;
  keepPods: KeepPods;
  /** A run that started and never said it ended is taken for dead after this; default 3 days. */
  staleAfterMs?: number;
  now?: () => number;
  /** How requests are sent: KubeClient.request (its rate limit, its retries). */
  request: Requester;
}

/** What housekeeping did, for the log. */
export interface HousekeepingResult {
  /** Removed pods and ConfigMaps, by name. */
  pods: string[];
  configMaps: string[];
  /** Old-enough runs left alone, and why ("pod x is Running"). */
  kept: { runId: string; reason: string }[];
  /** Requests that failed (the caller warns; nothing else depends on housekeeping). */
  errors: string[];
}

/** The label selector of everything of this DAG (and repository) that pod-dag-action created. */
export function dagSelector(dag: string, repository: string | null): string {
  const repo = repository ? `${LABELS.repository}=${labelValue(repository)}` : `!${LABELS.repository}`;
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.dag}=${labelValue(dag)},${repo}`;
}

const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

/** The latest moment a pod showed life: created, started or finished. */
function podActivity(pod: V1Pod): number {
  let latest = kubeTimeMs(pod.metadata?.creationTimestamp) ?? 0;
  for (const s of pod.status?.containerStatuses ?? []) {
    latest = Math.max(latest, kubeTimeMs(s.state?.terminated?.finishedAt) ?? 0, kubeTimeMs(s.state?.running?.startedAt) ?? 0);
  }
  return latest;
}

/** An age in its largest unit only (days from two days on, else hours, else minutes): `5d`, `3h`, `12m`. */
function formatAge(msAgo: number): string {
  const unit = msAgo >= 48 * 3_600_000 ? 24 * 3_600_000 : msAgo >= 3_600_000 ? 3_600_000 : 60_000;
  const age = Math.max(0, msAgo - (msAgo % unit));
  return age === 0 ? '0m' : formatDuration(age);
}

/** Removes old runs of this DAG; see the module comment for what it never touches. */
export async function removeOldRuns(options: HousekeepingOptions): Promise<HousekeepingResult> {
  const { core, namespace } = options;
  const { request } = options;
  const now = (options.now ?? systemClock.now)();
  const staleAfter = options.staleAfterMs ?? 3 * 24 * 3_600_000;
  const result: HousekeepingResult = { pods: [], configMaps: [], kept: [], errors: [] };
  const labelSelector = dagSelector(options.dag, options.repository);
  const current = options.runId === null ? null : labelValue(options.runId);

  let pods: V1Pod[];
  let maps: V1ConfigMap[];
  try {
    pods = (await request(`list pods in ${namespace}`, () => core.listNamespacedPod({ namespace, labelSelector }))).items;
    // The heads of the states only (and v1 states): their shards, the bulk of a large run's state,
    // are not read, only deleted by name with their head.
    maps = (await request(`list configmaps in ${namespace}`, () => core.listNamespacedConfigMap({ namespace, labelSelector: `${labelSelector},${NOT_A_SHARD}` }))).items;
  } catch (err) {
    result.errors.push(`Could not list the old runs of DAG "${options.dag}" in namespace ${namespace}: ${classifyError(err).message}`);
    return result;
  }

  interface Run {
    pods: V1Pod[];
    maps: V1ConfigMap[];
    /** How many shards its head counts. */
    shards: number;
    activity: number;
    live: string | null;
  }
  const runs = new Map<string, Run>();
  const runOf = (labels: Record<string, string> | undefined): Run | null => {
    const id = labels?.[LABELS.runId];
    // Our own label checks again, so a server that ignored part of the selector cannot widen it.
    if (id === undefined || id === current || labels?.[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.dag] !== labelValue(options.dag)) return null;
    if ((labels[LABELS.repository] ?? null) !== (options.repository ? labelValue(options.repository) : null)) return null;
    let run = runs.get(id);
    if (run === undefined) runs.set(id, (run = { pods: [], maps: [], shards: 0, activity: 0, live: null }));
    return run;
  };

  for (const pod of pods) {
    const run = runOf(pod.metadata?.labels);
    if (run === null) continue;
    run.pods.push(pod);
    run.activity = Math.max(run.activity, podActivity(pod));
    const phase = pod.status?.phase ?? 'Pending';
    if (!FINISHED_PHASES.has(phase) && !pod.metadata?.deletionTimestamp) run.live ??= `pod ${pod.metadata?.name} is ${phase}`;
  }
  for (const cm of maps) {
    const run = runOf(cm.metadata?.labels);
    if (run === null) continue;
    run.maps.push(cm);
    run.activity = Math.max(run.activity, kubeTimeMs(cm.metadata?.creationTimestamp) ?? 0);
    const text = cm.data?.[STATE_KEY];
    if (text === undefined) continue;
    try {
      const where = `ConfigMap ${namespace}/${cm.metadata?.name}`;
      const state = stateVersion(text, where) === 1 ? { ...parseRunState(text, where), shards: 0 } : parseHead(text, where);
      run.activity = Math.max(run.activity, state.updatedAt);
      run.shards = Math.max(run.shards, state.shards);
      const last = state.runAttempts.at(-1);
      if (last !== undefined && last.finishedAt === null && now - last.startedAt < staleAfter) {
        run.live ??= `its run attempt ${last.runAttempt} started ${formatAge(now - last.startedAt)} ago and has not ended`;
      }
    } catch {
      // An unreadable state says nothing about life; the timestamps decide.
    }
  }

  for (const [runId, run] of [...runs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (now - run.activity < options.retentionMs) continue;
    if (run.live !== null) {
      result.kept.push({ runId, reason: run.live });
      continue;
    }
    if (options.keepPods !== 'always') {
      for (const pod of run.pods) {
        const name = pod.metadata!.name!;
        if (await remove(`pod ${namespace}/${name}`, () => core.deleteNamespacedPod({ name, namespace }))) result.pods.push(name);
      }
    } else if (run.pods.length > 0) {
      result.kept.push({ runId, reason: `keep-pods is 'always': its ${run.pods.length} pod(s) stay` });
    }
    for (const cm of run.maps) {
      const name = cm.metadata!.name!;
      // The shards first, the head last: a head is what finds its shards. Those it counts, then
      // any a crash left past its count (they follow each other: the store creates them in order).
      let all = true;
      for (let i = 0; ; i++) {
        const shard = shardName(name, i);
        const probe = i >= run.shards;
        const gone = await remove(`ConfigMap ${namespace}/${shard}`, () => core.deleteNamespacedConfigMap({ name: shard, namespace }), probe);
        if (gone === 'absent') break;
        if (gone === false) {
          all = false;
          if (probe) break;
          continue;
        }
        result.configMaps.push(shard);
      }
      if (!all) continue; // the head stays, so the next housekeeping finds the shards left
      if (await remove(`ConfigMap ${namespace}/${name}`, () => core.deleteNamespacedConfigMap({ name, namespace }))) result.configMaps.push(name);
    }
  }
  return result;

  /** Deletes; true when deleted, 'absent' when there was nothing to delete (when `probe`, else true), false on an error. */
  async function remove(what: string, fn: () => Promise<unknown>, probe = false): Promise<boolean | 'absent'> {
    try {
      await request(`delete ${what}`, fn);
      return true;
    } catch (err) {
      const info = classifyError(err);
      if (info.kind === 'not-found') return probe ? 'absent' : true;
      result.errors.push(`Could not delete ${what}: ${info.message}`);
      return false;
    }
  }
}
