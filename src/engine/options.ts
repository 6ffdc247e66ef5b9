/** What `runDag` is given: the spec, where to run it, and the hooks of the action around it. */
import type { KeepPods, RunContext } from '../common/run.ts';
import type { Clock } from '../common/clock.ts';
import type { AttemptEnd, AttemptOutcome, PreviousSuccess } from '../dag/types.ts';
import type { ClusterReader } from '../kube/dry-run-checks.ts';
import type { PodApi } from '../kube/pod-api.ts';
import type { PodProof } from '../kube/pod-proof.ts';
import type { Reporter } from '../report/types.ts';
import type { DagSpec } from '../spec/types.ts';

export type { KeepPods };

/** What the engine records when an attempt ends (for the run store of re-runs). */
export type { AttemptEnd };

/** An attempt that already ended in this run attempt before a restart (from the run store). */
export interface RecordedAttempt {
  pod: string | null;
  outcome: AttemptOutcome;
}

/** Options of `runDag`. */
export interface RunDagOptions {
  spec: DagSpec;
  /** Resolved params (spec defaults overridden by the `params` input). */
  params: Record<string, string>;
  /** The `run` context (logical date and data interval, src/dag/run-dates.ts); `null`: not known. */
  run?: Record<string, string> | null;
  mode: 'run' | 'dry-run';
  namespace: string;
  /** At most this many attempts at once; 0: no limit. */
  maxParallel: number;
  keepPods: KeepPods;
  /** The cluster's pods: `kubePodApi(client)` (src/kube/pod-api.ts), or a fake in tests. */
  pods: PodApi;
  /**
   * `dry-run` only: reads Secrets, ConfigMaps and nodes to check what the server's dry run cannot
   * (`kubeClusterReader(client)`); without it, only the server's dry run speaks.
   */
  cluster?: ClusterReader;
  context: RunContext;
  reporter: Reporter;
  /** Aborting it cancels the run: live pods are deleted and the result is `cancelled`. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Tasks that succeeded in an earlier run attempt (re-run of failed jobs), reused as they are. */
  previous?: Record<string, PreviousSuccess>;
  /**
   * The run id in pod names, labels and the selector: default GitHub's (`context.runId`), else
   * `local-<time>` (the CLI). Given, it wins: each run of a backfill has its own.
   */
  runId?: string;
  /** How long an image pull error is tolerated before it is a configuration failure; default 30 s. */
  imagePullGraceMs?: number;
  /** Grace period, in seconds, of pods deleted on cancel; default 2 (the runner kills us 7.5 s after SIGINT). */
  cancelGraceSeconds?: number;
  /** Log lines kept per attempt for the summary; default 50. */
  logTailLines?: number;
  /** Watch request timeout, seconds (the server ends each watch; we resume). */
  watchTimeoutSeconds?: number;
  /**
   * Called when an attempt ends, after the scheduler was told; `defer`: its pod still exists and
   * is the record until deleted, so the write may wait for `flushRecords`. Not awaited on the way to the next
   * decision (the run store batches the ends that come meanwhile), but the attempt's pod is deleted
   * only once it resolved, and the run reports its end only once every call settled. If it rejects,
   * the pod is kept (so a restart can still adopt it) and the run goes on.
   */
  onAttemptEnd?: (end: AttemptEnd, options: { defer: boolean }) => void | Promise<void>;
  /**
   * With `onAttemptEnd`: writes the records it was told to `defer` (those of attempts whose ended
   * pod still exists, so a restart adopts the pod). Called before each batch of pod deletes and at
   * the run's end; the run's end waits for the deferred records as for the others.
   */
  flushRecords?: () => Promise<void>;
  /**
   * With `onAttemptEnd`: told once, at the run's end (before `runFinished`), of every attempt
   * whose `onAttemptEnd` rejected, sorted by task and attempt (`unrecordedWarning` words it).
   */
  onUnrecorded?: (ends: UnrecordedEnd[]) => void;
  /** How long a finished pod waits for others to be deleted with it; default 30 s (src/kube/reaper.ts REAP_DELAY_MS). */
  reapDelayMs?: number;
  /**
   * Before creating the pod of (task, attempt): its recorded end, if this run attempt is a restart
   * after a crash and the attempt already ended. It is then fed to the scheduler as it was, and
   * no pod is created.
   */
  recorded?: (task: string, attempt: number) => RecordedAttempt | null;
  /** Debug lines (resumed watches and log streams, retried requests). */
  debug?: (line: string) => void;
  /**
   * The run's keys (src/kube/pod-proof.ts): sign the pods created, and decide which existing pods
   * are the run's own. Its public key must be recorded where a restart finds it (the run state)
   * before the run starts. Default: a key of this process only (its own pods are adopted, no other).
   */
  proof?: PodProof;
  /**
   * A promise while whatever the reporter writes log lines to is backed up (the step log); the
   * log streams pause until it settles, so a slow reader of our output is not met by buffering.
   */
  logBacklog?: () => Promise<void> | undefined;
}

/** An attempt whose end the engine could not record (`onAttemptEnd` rejected). */
export interface UnrecordedEnd {
  task: string;
  attempt: number;
  /** Its ended pod, kept as the only record of how it ended; null when there is none to keep. */
  pod: string | null;
  /** Why the record failed. */
  error: string;
}
