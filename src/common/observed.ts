/**
 * What the cluster layer observes and the report layer shows, declared once at the bottom so
 * neither imports the other: why a pod waits (src/kube/classify.ts → the live log) and the last
 * runs of a DAG (src/kube/history.ts → the summary's grid).
 */

/** Why an attempt's pod is not running yet, as its status says it (for the live log). */
export interface PendingStatus {
  /** `Unschedulable`, `ContainerCreating`, `ErrImagePull`, `ImagePullBackOff`, `Scheduled`, `Pending`… */
  reason: string;
  /** The scheduler's or the kubelet's words, when they gave any. */
  message: string | null;
  /** The node the pod was bound to, once it was. */
  node: string | null;
}

/** One earlier run of the DAG, as its kept state tells it (src/kube/history.ts). */
export interface HistoryRun {
  runId: string;
  /** Its last GitHub run attempt. */
  runAttempt: number;
  /** When its first run attempt started, epoch ms. */
  startedAt: number;
  /** How its last run attempt ended; `null` if it did not say (still running, or its runner died). */
  result: 'success' | 'failure' | 'cancelled' | null;
  /** By task id: the task's result (`null`: unfinished) and how long its last run attempt's attempts took. */
  tasks: Record<string, { result: string | null; durationMs: number | null; runAttempt: number }>;
  /**
   * A large run's digest lists only the tasks that did not succeed: every other task it recorded
   * succeeded (its duration is not kept).
   */
  othersSucceeded?: boolean;
}

/** The last runs of this DAG before this one, oldest first, or why they could not be read. */
export interface RunHistory {
  runs: HistoryRun[];
  /** Why there is no history (RBAC, most often); `null` when it was read (even if empty). */
  unavailable: string | null;
}
