/**
 * The run's state kept in the cluster, so a re-run (next GitHub run attempt) or a restart after a
 * crash (same run attempt) knows what already happened even when the pods are gone.
 *
 * One ConfigMap per GitHub run of a DAG, named from the DAG and the run id, labelled like the
 * run's pods (managed-by, dag, run id, repository), holding `state.json` (src/dag/rerun.ts's
 * StoredRunState). It is written after every attempt ends, BEFORE that attempt's pod may be
 * deleted: whatever the moment of a crash, either the pod or the record of its end exists.
 *
 * Writes use optimistic concurrency: each replace carries the resourceVersion read, a 409 means
 * someone else wrote in between (another process of the same run after a restart, a retried
 * request that reached the server), so the state is read again and the update, which is
 * idempotent, applied again. Transient errors (429, 5xx, network) are retried by `request`.
 *
 * Size: a ConfigMap holds at most 1 MiB. When the state would not fit, the largest task outputs
 * are dropped (and marked, so a later run attempt runs those tasks again instead of reusing them
 * without outputs), and `onNote` says so; if it still does not fit, `recordTask` fails clearly.
 */
import { taskOfInstance } from '../spec/matrix.ts';
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import {
  applyTaskUpdate,
  emptyRunState,
  fitRunState,
  markRunAttempt,
  parseRunState,
  planRerun,
  recordedAttempt,
  taskFingerprint,
  type RerunMode,
  type RerunPlan,
  type RunClaim,
  type StoredRunState,
  type TaskUpdate,
} from '../dag/rerun.ts';
import type { AttemptEnd, RunResult } from '../dag/types.ts';
import type { DagSpec } from '../spec/types.ts';
import { systemClock } from '../common/clock.ts';
import type { Requester } from './client.ts';
import { classifyError, KubeError } from './errors.ts';
import { LABELS, MANAGED_BY, labelValue } from './pod.ts';

/** The key of the state in the ConfigMap's data. */
export const STATE_KEY = 'state.json';

/**
 * The most bytes of state.json we write. Kubernetes refuses a ConfigMap whose data exceeds 1 MiB
 * (1,048,576 bytes); the margin leaves room for metadata and the key.
 */
export const STATE_LIMIT_BYTES = 1_000_000;

export type { Requester };

/**
 * The ConfigMap name of a run's state: `pod-dag-<dag>-<runId>-<scope>` (no `-<scope>` on the
 * CLI), a valid DNS subdomain. The scope (src/common/run.ts `runScope`) keeps the legs and steps
 * of one workflow run that run the same DAG apart.
 */
export function runStateName(dag: string, runId: string, scope: string | null = null): string {
  const id = runId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  if (id === '') throw new Error(`runStateName: run id ${JSON.stringify(runId)} has no letter or digit to name a ConfigMap with`);
  return `pod-dag-${dag}-${id}${scope ? `-${scope}` : ''}`;
}

/** The labels of a run's state ConfigMap (the pods' labels without task and attempts). */
export function runStateLabels(dag: string, runId: string, repository: string | null, scope: string | null = null): Record<string, string> {
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.dag]: labelValue(dag),
    [LABELS.runId]: labelValue(runId),
  };
  if (scope) labels[LABELS.runScope] = scope;
  if (repository) labels[LABELS.repository] = labelValue(repository);
  return labels;
}

/** Options of a RunStore. */
export interface RunStoreOptions {
  core: CoreV1Api;
  namespace: string;
  dag: string;
  runId: string;
  /** The run's scope (src/common/run.ts `runScope`), or null on the CLI. */
  scope?: string | null;
  /** `owner/name` of the GitHub repository, or null outside a workflow. */
  repository: string | null;
  /** The clock (epoch ms) for `updatedAt`; default the system's (src/common/clock.ts). */
  now?: () => number;
  /** How requests are sent: KubeClient.request, so they share the client's rate limit and retries. */
  request: Requester;
  /** The most bytes of state.json; default STATE_LIMIT_BYTES. */
  limitBytes?: number;
  /** Told when something worth a log line happened (outputs dropped to fit). */
  onNote?: (message: string) => void;
  /** How many 409 conflicts in a row one write tolerates before it fails; default 20. */
  maxConflicts?: number;
}

/** The run's state in its ConfigMap: read it once at the start, record every attempt's end. */
export class RunStore {
  /** The ConfigMap's name. */
  readonly name: string;
  readonly #o: Required<Omit<RunStoreOptions, 'repository' | 'scope'>> & { repository: string | null; scope: string | null };
  /** The last state read or written, and its resourceVersion; `null` until known. */
  #known: { state: StoredRunState; resourceVersion: string } | null = null;
  /** Writes of this process, one after the other (parallel tasks end at the same time). */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: RunStoreOptions) {
    this.name = runStateName(options.dag, options.runId, options.scope ?? null);
    this.#o = {
      scope: null,
      now: systemClock.now,
      limitBytes: STATE_LIMIT_BYTES,
      onNote: () => {},
      maxConflicts: 20,
      ...options,
    };
  }

  get #where(): string {
    return `ConfigMap ${this.#o.namespace}/${this.name}`;
  }

  /** The stored state, or `null` when the run has none yet (its first attempt). */
  async load(): Promise<StoredRunState | null> {
    return (await this.#read())?.state ?? null;
  }

  /**
   * Records the end of one attempt (and the task's result when final). Resolves once the state
   * is in the cluster; only then may the attempt's pod be deleted. Calls are applied in order.
   */
  recordTask(update: TaskUpdate): Promise<void> {
    return this.#enqueue(`record task "${update.task}"`, (state) => applyTaskUpdate(state, update, this.#o.now()));
  }

  /**
   * Records that run attempt `runAttempt` started (call once the lease, if any, is held), with
   * the claim of the step that starts it: AmbiguousRunError when another claim started it; and the
   * public key this process signs its pods with (src/kube/pod-proof.ts), before it creates any.
   */
  markStarted(runAttempt: number, claim?: RunClaim, key?: string): Promise<void> {
    return this.#enqueue(`record the start of run attempt ${runAttempt}`, (state) => markRunAttempt(state, runAttempt, this.#o.now(), undefined, claim, key));
  }

  /** Records that run attempt `runAttempt` ended with `result` (housekeeping then knows it is over). */
  markFinished(runAttempt: number, result: RunResult): Promise<void> {
    return this.#enqueue(`record the end of run attempt ${runAttempt}`, (state) => markRunAttempt(state, runAttempt, this.#o.now(), result));
  }

  #enqueue(what: string, change: (state: StoredRunState) => StoredRunState): Promise<void> {
    const write = this.#queue.then(() => this.#write(what, change));
    // The queue goes on after a failed write; the failure is the caller's to handle.
    this.#queue = write.catch(() => {});
    return write;
  }

  async #read(): Promise<{ state: StoredRunState; resourceVersion: string } | null> {
    const { core, namespace } = this.#o;
    let cm: V1ConfigMap;
    try {
      cm = await this.#o.request(`read ${this.#where}`, () => core.readNamespacedConfigMap({ name: this.name, namespace }));
    } catch (err) {
      if (classifyError(err).kind === 'not-found') {
        this.#known = null;
        return null;
      }
      throw new KubeError(`Could not read the run's state (${this.#where}): ${classifyError(err).message}`, classifyError(err), { cause: err });
    }
    const text = cm.data?.[STATE_KEY];
    if (text === undefined) {
      throw new KubeError(
        `${this.#where} has no "${STATE_KEY}" key. It is not a run state written by pod-dag-action (or was edited); delete it to start the run's state afresh.`,
      );
    }
    const state = parseRunState(text, this.#where);
    if (state.dag !== this.#o.dag || state.runId !== this.#o.runId) {
      throw new KubeError(
        `${this.#where} holds the state of DAG "${state.dag}" run ${state.runId}, not DAG "${this.#o.dag}" run ${this.#o.runId}; ` +
          'two DAGs whose names collide after sanitising? Rename one, or delete the ConfigMap.',
      );
    }
    this.#known = { state, resourceVersion: cm.metadata?.resourceVersion ?? '' };
    return this.#known;
  }

  async #write(what: string, change: (state: StoredRunState) => StoredRunState): Promise<void> {
    const { core, namespace } = this.#o;
    for (let conflicts = 0; ; ) {
      const base = this.#known ?? (await this.#read());
      const next = change(base?.state ?? emptyRunState(this.#o.dag, this.#o.runId, this.#o.now()));
      if (base !== null && next === base.state) return; // nothing changes (an older run attempt's update)
      let fitted: ReturnType<typeof fitRunState>;
      try {
        fitted = fitRunState(next, this.#o.limitBytes);
      } catch (err) {
        throw new KubeError(`Could not ${what} in ${this.#where}: ${(err as Error).message}`, null, { cause: err });
      }
      if (fitted.dropped.length > 0) {
        this.#o.onNote(
          `The run's state in ${this.#where} would exceed ${this.#o.limitBytes} bytes, so the outputs of ${fitted.dropped.map((t) => `"${t}"`).join(', ')} ` +
            'were not kept; a re-run of this run will run those tasks again instead of reusing them.',
        );
      }
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: this.name,
          namespace,
          labels: runStateLabels(this.#o.dag, this.#o.runId, this.#o.repository, this.#o.scope),
          annotations: this.#o.repository ? { 'pod-dag.io/repository': this.#o.repository } : {},
          ...(base !== null ? { resourceVersion: base.resourceVersion } : {}),
        },
        data: { [STATE_KEY]: fitted.text },
      };
      try {
        const written =
          base === null
            ? await this.#o.request(`create ${this.#where}`, () => core.createNamespacedConfigMap({ namespace, body }))
            : await this.#o.request(`replace ${this.#where}`, () => core.replaceNamespacedConfigMap({ name: this.name, namespace, body }));
        this.#known = { state: fitted.state, resourceVersion: written.metadata?.resourceVersion ?? '' };
        return;
      } catch (err) {
        const info = classifyError(err);
        // 409: AlreadyExists on create, a stale resourceVersion on replace; 404: deleted meanwhile.
        // Either way read the state again and apply the (idempotent) update to what is there now.
        if (info.kind === 'conflict' || (info.kind === 'not-found' && base !== null)) {
          this.#known = null;
          if (++conflicts > this.#o.maxConflicts) {
            throw new KubeError(
              `Could not ${what} in ${this.#where}: ${conflicts} write conflicts in a row; another process keeps writing it ` +
                '(two jobs running the same DAG with the same run id?)',
              info,
              { cause: err },
            );
          }
          continue;
        }
        throw new KubeError(`Could not ${what} in ${this.#where}: ${info.message}`, info, { cause: err });
      }
    }
  }
}

/** One run attempt's use of the stored state: the plan, and the hooks that keep the state. */
export interface RerunSession {
  /** The state as it was when this run attempt (or this restart of it) began. */
  stored: StoredRunState | null;
  /** Which tasks are reused (for SchedulerOptions.previous / RunDagOptions.previous) and why the others run. */
  plan: RerunPlan;
  /**
   * For RunDagOptions.onAttemptEnd: records the attempt. The engine must await it BEFORE it
   * deletes the attempt's pod, and keep the pod if it rejects (so a restart can still adopt it).
   */
  attemptEnded(end: AttemptEnd): Promise<void>;
  /**
   * For the engine, before it creates the pod of (task, attempt): the recorded end of that
   * attempt in this run attempt, if the action is a restart after a crash. Feed it to the
   * scheduler as `started` + `finished` instead of creating the pod: it already ran.
   */
  recorded(task: string, attempt: number): (Omit<AttemptEnd, 'result'> & { outputs: Record<string, string> }) | null;
  /** Records that this run attempt ended (housekeeping then knows the run is over). */
  finished(result: RunResult): Promise<void>;
}

/**
 * Starts a run attempt's session: reads the stored state, plans the re-run, and records that the
 * run attempt started. Call it after the concurrency lease (if any) is held, before `runDag`.
 */
export async function startRerunSession(
  store: RunStore,
  options: { spec: DagSpec; params: Record<string, string>; runAttempt: number; mode: RerunMode; claim?: RunClaim; key?: string },
): Promise<RerunSession> {
  const { spec, params, runAttempt, mode } = options;
  const stored = await store.load();
  const plan = planRerun(spec, params, stored, mode, { runAttempt });
  await store.markStarted(runAttempt, options.claim, options.key);
  const tasks = new Map(spec.tasks.map((t) => [t.id, t]));
  return {
    stored,
    plan,
    attemptEnded: (end) => {
      // A matrix instance (`<task>.<slug>-<hash>`) is recorded under its own id, with its task's fingerprint.
      const task = tasks.get(end.task) ?? tasks.get(taskOfInstance(end.task));
      if (task === undefined) return Promise.reject(new Error(`attemptEnded: task "${end.task}" is not in DAG "${spec.name}"`));
      return store.recordTask({ ...end, runAttempt, fingerprint: taskFingerprint(task, params) });
    },
    recorded: (task, attempt) => {
      const r = recordedAttempt(stored, runAttempt, task, attempt);
      if (r === null) return null;
      return {
        task,
        attempt,
        pod: r.pod,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        outcome: { class: r.class, reason: r.reason, message: r.message, exitCode: r.exitCode, outputs: r.outputs, node: r.node },
        outputs: r.outputs,
      };
    },
    finished: (result) => store.markFinished(runAttempt, result),
  };
}
