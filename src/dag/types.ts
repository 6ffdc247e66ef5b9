/**
 * The scheduler's vocabulary: the events it is fed, the decisions it makes, and the run state
 * it keeps, which is also what every report (summary, annotations, outputs, summary-json) reads.
 *
 * The scheduler is pure: time comes in on every event as epoch milliseconds; it never reads a
 * clock, starts a timer or does I/O. The driver (src/engine/engine.ts) turns decisions into pods and
 * timers and turns what the cluster says back into events.
 */
import type { AttemptClass, JsonValue } from '../spec/types.ts';

/** The final result of a task. */
export type TaskResult = 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'not-run';

/** The result of a whole run, as the action's `result` output says it. */
export type RunResult = 'success' | 'failure' | 'cancelled';

/** Why a run is being cancelled. */
export type CancelReason = 'signal' | 'timeout';

/** Why running attempts are being cancelled: the run's cancel, or a matrix task's fail-fast. */
export type AttemptCancelReason = CancelReason | 'fail-fast';

/** What the cluster said about one attempt when it ended. */
export interface AttemptOutcome {
  class: AttemptClass;
  /** A short machine-ish reason: `Error`, `OOMKilled`, `Evicted`, `Unschedulable`, `DeadlineExceeded`, `ErrImagePull`… */
  reason: string | null;
  /** The cluster's own words (kubelet, scheduler), or ours where the cluster said nothing. */
  message: string | null;
  exitCode: number | null;
  /** `name=value` outputs the task wrote to POD_DAG_OUTPUT (only for `succeeded`). */
  outputs: Record<string, string>;
  /** The node the pod ran on, when known. */
  node: string | null;
}

/**
 * Events the driver feeds to the scheduler. `task` is the id of what runs: a task id, or a matrix
 * instance id (`<task>.<slug>-<hash>`). `poke` (1-based) is given for the pokes of a sensor.
 */
export type SchedulerEvent =
  /** The driver created (or adopted) the attempt's pod (for a sensor, this poke's pod). */
  | { type: 'started'; at: number; task: string; attempt: number; pod: string; poke?: number }
  /** The attempt (a sensor: its poke) ended; exactly one such event per started attempt or poke. */
  | ({ type: 'finished'; at: number; task: string; attempt: number; poke?: number } & AttemptOutcome)
  /** Time passed: due retries start, the DAG timeout fires. Harmless when nothing is due. */
  | { type: 'tick'; at: number }
  /** Stop the run. `signal`: nothing new starts. `timeout`: like GitHub, tasks whose `if:`
   * uses `always()` or `cancelled()` may still start. */
  | { type: 'cancel'; at: number; reason: CancelReason };

/** Decisions the scheduler returns; the driver carries them out in order. */
export type Decision =
  /**
   * Create the pod of this attempt now (attempt numbers start at 1). For a sensor, `poke` says
   * which poke of the attempt this is (1-based): each poke is a pod of its own.
   */
  | { type: 'start'; task: string; attempt: number; poke?: number }
  /** Informational: a matrix task was expanded into these instances (ids, in order). */
  | { type: 'expand'; task: string; instances: string[] }
  /** Informational: a sensor's condition does not hold yet; poke `poke + 1` is due at `at`. */
  | { type: 'poke'; task: string; attempt: number; poke: number; at: number }
  /** Informational: the task failed without running (its if: or its matrix could not be evaluated). */
  | { type: 'fail'; task: string; reason: string }
  /** Informational: the attempt failed and will be retried at `at` (the driver logs it). */
  | {
      type: 'retry';
      task: string;
      failedAttempt: number;
      nextAttempt: number;
      /** The attempt number out of the most this task can have under its policy. */
      maxAttempts: number;
      at: number;
      delayMs: number;
      outcome: AttemptOutcome;
    }
  /** Informational: the task will not run. */
  | { type: 'skip'; task: string; reason: string }
  /** Informational: the task failed for good. */
  | { type: 'give-up'; task: string; attempt: number; reason: string; outcome: AttemptOutcome }
  /** Delete the pods of these running attempts; each will come back as `finished` (cancelled). */
  | { type: 'cancel'; attempts: { task: string; attempt: number }[]; reason: AttemptCancelReason }
  /** Nothing more will happen: every task has a final result. */
  | { type: 'done'; result: RunResult };

/** One attempt of a task as the run state records it. */
export interface AttemptRecord {
  attempt: number;
  pod: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** `null` while the attempt runs. */
  outcome: AttemptOutcome | null;
  /** A sensor's attempt: how many pokes it has run (each a pod of its own); absent otherwise. */
  pokes?: number;
}

/** One task's state. */
export interface TaskState {
  id: string;
  /** `null` while the task is waiting or running. */
  result: TaskResult | null;
  attempts: AttemptRecord[];
  /** The outputs of the succeeded attempt (or reused from an earlier run attempt). */
  outputs: Record<string, string>;
  /** Why the task was skipped, not run or cancelled. */
  reason: string | null;
  /** Set when the task's success was taken from an earlier run attempt instead of running. */
  reusedFrom: { runAttempt: number } | null;
  /** When a retry (or a sensor's next poke) is due, while the task waits for it. */
  retryAt: number | null;
  /** A sensor: the pokes run so far, over all its attempts. */
  pokes?: number;
  /** A matrix task, once expanded: its instances, in matrix order. */
  instances?: TaskState[];
  /** A matrix instance: the id of its matrix task. */
  group?: string;
  /** A matrix instance: its combination (`matrix.<key>`). */
  matrix?: Record<string, JsonValue>;
}

/**
 * A live, read-only view of a run for reporters that are told of every event: one task's state
 * costs O(1), the whole run's O(tasks), so a reporter asks for what it needs and a run of
 * thousands of tasks does not copy its state per event.
 */
export interface RunView {
  readonly dag: string;
  /** One task's state now. */
  task(id: string): TaskState;
  /** The whole run's state now (O(tasks): not per event). */
  state(): RunState;
}

/** The state of a run: what the scheduler knows, in the spec's task order. */
export interface RunState {
  dag: string;
  startedAt: number;
  finishedAt: number | null;
  /** `null` until the run is done. */
  result: RunResult | null;
  cancelled: CancelReason | null;
  tasks: TaskState[];
}

/** A task that already succeeded in an earlier attempt of the same GitHub run (re-run failed jobs). */
export interface PreviousSuccess {
  outputs: Record<string, string>;
  runAttempt: number;
}

/** Options of one run. */
export interface SchedulerOptions {
  /** The run's start, epoch ms. */
  now: number;
  /** At most this many attempts run at once; `0` means no limit. */
  maxParallel: number;
  /** Resolved params (spec defaults overridden by the action's `params` input). */
  params: Record<string, string>;
  /**
   * Tasks to treat as succeeded without running them, by task id or matrix instance id (an
   * instance is reused when its matrix task is expanded and gives that instance again).
   */
  previous?: Record<string, PreviousSuccess>;
  /** The `run` context (logical date and data interval) that `if:` and a dynamic matrix may read. */
  run?: Record<string, string> | null;
}

/** The end of one attempt, as the engine reports it to the run store (for re-runs and replay). */
export interface AttemptEnd {
  task: string;
  attempt: number;
  pod: string | null;
  startedAt: number;
  finishedAt: number;
  outcome: AttemptOutcome;
  /** The task's result once the scheduler was told; `null` when a retry follows. */
  result: TaskResult | null;
}
