/**
 * The history of a DAG, as Airflow's grid shows it: the last runs of this DAG (and repository),
 * read from the run states the action already keeps in the cluster for `retention`
 * (src/kube/run-store.ts), with one list request that returns only the heads of the states (a
 * label selector leaves the shards out): each head carries a small digest of its run's tasks, so
 * the history costs the same for a run of 20 tasks or 20,000. States written by the released v1
 * (one ConfigMap, no part label) are listed too and read whole. A list RBAC does not allow, or
 * one that fails, gives no history and says why once; it never fails the run.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { parseRunState } from '../dag/rerun.ts';
import { parseDigest, parseHead, stateVersion } from '../dag/state-parts.ts';
import type { HistoryRun, RunHistory } from '../common/observed.ts';
import type { Requester } from './client.ts';
import { classifyError } from './errors.ts';
import { dagSelector } from './housekeeping.ts';
import { DIGEST_KEY, NOT_A_SHARD, STATE_KEY } from './run-store.ts';
import { LABELS } from './pod.ts';

/** The most earlier runs the history shows. */
export const HISTORY_RUNS = 20;

/** Options of `readHistory`. */
export interface HistoryOptions {
  core: CoreV1Api;
  request: Requester;
  namespace: string;
  dag: string;
  repository: string | null;
  /** This run's id: it is not history (the summary adds it from the live state). */
  runId: string;
  /** This run's scope (src/common/run.ts `runScope`): the history is that of the same job, step and matrix leg. */
  scope?: string | null;
  /** At most this many runs; default HISTORY_RUNS. */
  limit?: number;
}

/** The last runs before this one, oldest first; `unavailable` says why there are none, if not for lack of runs. */
export async function readHistory(o: HistoryOptions): Promise<RunHistory> {
  let items;
  try {
    const selector = `${dagSelector(o.dag, o.repository)},${NOT_A_SHARD}${o.scope ? `,${LABELS.runScope}=${o.scope}` : ''}`;
    items = (await o.request(`list configmaps in ${o.namespace}`, () => o.core.listNamespacedConfigMap({ namespace: o.namespace, labelSelector: selector }))).items;
  } catch (err) {
    const e = classifyError(err);
    const why =
      e.kind === 'forbidden'
        ? `RBAC does not let these credentials list configmaps in namespace ${o.namespace}, where the runs' states are kept`
        : `the runs' states could not be listed: ${(err as Error).message ?? String(err)}`;
    return { runs: [], unavailable: why };
  }
  const runs: HistoryRun[] = [];
  for (const cm of items) {
    const text = cm.data?.[STATE_KEY];
    if (text === undefined) continue;
    const where = `ConfigMap ${cm.metadata?.name ?? '?'}`;
    let run: Found | null;
    try {
      run = stateVersion(text, where) === 1 ? fromV1(parseRunState(text, where)) : fromHead(text, cm.data?.[DIGEST_KEY], where);
    } catch {
      continue; // a state this version cannot read is left out of the history, not an error
    }
    if (run === null || run.dag !== o.dag || run.runId === o.runId) continue;
    const { dag: _dag, ...shown } = run;
    runs.push(shown);
  }
  runs.sort((a, b) => a.startedAt - b.startedAt || a.runId.localeCompare(b.runId));
  return { runs: runs.slice(Math.max(0, runs.length - (o.limit ?? HISTORY_RUNS))), unavailable: null };
}

/** A run of the history, with its DAG (checked against the one asked for). */
type Found = HistoryRun & { dag: string };

/** A run from a head and its digest (a digest that cannot be read shows the run without its tasks). */
function fromHead(text: string, digestText: string | undefined, where: string): Found | null {
  const head = parseHead(text, where);
  const first = head.runAttempts[0];
  const last = head.runAttempts.at(-1);
  if (first === undefined || last === undefined) return null;
  const digest = digestText === undefined ? null : parseDigest(digestText);
  const tasks: HistoryRun['tasks'] = {};
  for (const [id, [result, durationMs, runAttempt]] of Object.entries(digest?.tasks ?? {})) tasks[id] = { result, durationMs, runAttempt };
  return { dag: head.dag, runId: head.runId, runAttempt: last.runAttempt, startedAt: first.startedAt, result: last.result, tasks, othersSucceeded: digest?.othersSucceeded ?? false };
}

/** A run from a whole state written by the released v1. */
function fromV1(state: ReturnType<typeof parseRunState>): Found | null {
  const first = state.runAttempts[0];
  const last = state.runAttempts.at(-1);
  if (first === undefined || last === undefined) return null;
  const tasks: HistoryRun['tasks'] = {};
  for (const [id, t] of Object.entries(state.tasks)) {
    const start = t.attempts[0]?.startedAt ?? null;
    tasks[id] = { result: t.result, durationMs: start === null ? null : Math.max(0, t.finishedAt - start), runAttempt: t.runAttempt };
  }
  return { dag: state.dag, runId: state.runId, runAttempt: last.runAttempt, startedAt: first.startedAt, result: last.result, tasks, othersSucceeded: false };
}
