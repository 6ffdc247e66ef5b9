/**
 * The history of a DAG, as Airflow's grid shows it: the last runs of this DAG (and repository),
 * read from the run states the action already keeps in the cluster for `retention` (one
 * ConfigMap per GitHub run, src/kube/run-store.ts), with one list request. A list RBAC does not
 * allow, or one that fails, gives no history and says why once; it never fails the run.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { parseRunState } from '../dag/rerun.ts';
import type { HistoryRun, RunHistory } from '../common/observed.ts';
import type { Requester } from './client.ts';
import { classifyError } from './errors.ts';
import { dagSelector } from './housekeeping.ts';
import { STATE_KEY } from './run-store.ts';
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
    items = (await o.request(`list configmaps in ${o.namespace}`, () => o.core.listNamespacedConfigMap({ namespace: o.namespace, labelSelector: o.scope ? `${dagSelector(o.dag, o.repository)},${LABELS.runScope}=${o.scope}` : dagSelector(o.dag, o.repository) }))).items;
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
    let state;
    try {
      state = parseRunState(text, `ConfigMap ${cm.metadata?.name ?? '?'}`);
    } catch {
      continue; // a state this version cannot read is left out of the history, not an error
    }
    if (state.dag !== o.dag || state.runId === o.runId) continue;
    const first = state.runAttempts[0];
    const last = state.runAttempts[state.runAttempts.length - 1];
    if (first === undefined || last === undefined) continue;
    const tasks: HistoryRun['tasks'] = {};
    for (const [id, t] of Object.entries(state.tasks)) {
      const start = t.attempts[0]?.startedAt ?? null;
      tasks[id] = { result: t.result, durationMs: start === null ? null : Math.max(0, t.finishedAt - start), runAttempt: t.runAttempt };
    }
    runs.push({ runId: state.runId, runAttempt: last.runAttempt, startedAt: first.startedAt, result: last.result, tasks });
  }
  runs.sort((a, b) => a.startedAt - b.startedAt || a.runId.localeCompare(b.runId));
  return { runs: runs.slice(Math.max(0, runs.length - (o.limit ?? HISTORY_RUNS))), unavailable: null };
}
