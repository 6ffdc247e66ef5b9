/**
 * The driver loop: feeds the pure Scheduler what the cluster says and carries out what it decides.
 *
 * One run = one watch over the run's pods (src/kube/watch.ts), one pod per attempt created with a
 * deterministic name (a 409 adopts it), one log follower per started container, and one timer at
 * the earliest moment something is due (a retry, the DAG timeout, a start timeout or image pull
 * grace running out). Every change is handled on one serial queue, so the scheduler sees events
 * one at a time, in order, and every `started` precedes its `finished`.
 *
 * Invariants:
 * - an attempt succeeds only when its container terminated with exit code 0 (classifyPod);
 * - each attempt's pod is created at most once by us; a pod that exists already is adopted;
 * - a pod is deleted (keep-pods) only after its log was read to the end;
 * - a pod that is still Pending or running when its attempt is judged (start timeout, image pull
 *   error, cancel) is always deleted, so it can never run later untracked.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { Scheduler } from './dag/scheduler.ts';
import type { AttemptEnd, AttemptOutcome, Decision, PreviousSuccess, RunState, RunView, SchedulerEvent } from './dag/types.ts';
import { classifyPod, containerStarted, containerTerminated, recheckAt } from './kube/classify.ts';
import type { KubeClient } from './kube/client.ts';
import { KubeError, classifyError, describeError } from './kube/errors.ts';
import { LogFollower } from './kube/logs.ts';
import { CONTAINER, outputRefs, placeholderRender, podName, renderPod, runSelector } from './kube/pod.ts';
import { PodWatcher } from './kube/watch.ts';
import type { PodEvent } from './kube/watch.ts';
import type { DryRunVerdict, Reporter, RunContext } from './report/types.ts';
import { renderTemplate } from './spec/template.ts';
import type { DagSpec } from './spec/types.ts';

/** Time, behind an interface so tests can control it. */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Calls `fn` at (or soon after) epoch ms `at`; the returned function cancels it. */
  setTimer(at: number, fn: () => void): () => void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    const t = setTimeout(fn, Math.max(0, at - Date.now()));
    return () => clearTimeout(t);
  },
};

/** How long an attempt's end waits for its log to be read to the end before it is reported anyway. */
const LOG_WAIT_MS = 10_000;

/** What happens to the pods of finished attempts. */
export type KeepPods = 'never' | 'on-failure' | 'always';

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
  mode: 'run' | 'dry-run';
  namespace: string;
  /** At most this many attempts at once; 0: no limit. */
  maxParallel: number;
  keepPods: KeepPods;
  client: KubeClient;
  context: RunContext;
  reporter: Reporter;
  /** Aborting it cancels the run: live pods are deleted and the result is `cancelled`. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Tasks that succeeded in an earlier run attempt (re-run of failed jobs), reused as they are. */
  previous?: Record<string, PreviousSuccess>;
  /** The run id when `context.runId` is null (the CLI); default `local-<time>`. */
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
   * Called when an attempt ends, after the scheduler was told and before its pod is deleted
   * (awaited). If it rejects, the pod is kept (so a restart can still adopt it) and the run goes on.
   */
  onAttemptEnd?: (end: AttemptEnd) => void | Promise<void>;
  /**
   * Before creating the pod of (task, attempt): its recorded end, if this run attempt is a restart
   * after a crash and the attempt already ended. It is then fed to the scheduler as it was, and
   * no pod is created.
   */
  recorded?: (task: string, attempt: number) => RecordedAttempt | null;
  /** Debug lines (resumed watches and log streams, retried requests). */
  debug?: (line: string) => void;
  /**
   * A promise while whatever the reporter writes log lines to is backed up (the step log); the
   * log streams pause until it settles, so a slow reader of our output is not met by buffering.
   */
  logBacklog?: () => Promise<void> | undefined;
}

/** One attempt the engine is carrying out. */
interface Live {
  task: string;
  attempt: number;
  pod: string;
  /** Local time the pod was created or adopted (Pending time counts from here). */
  createdAt: number;
  /** The `started` event was fed (the create or adopt answered). */
  started: boolean;
  /** The `finished` event was fed. */
  finished: boolean;
  /** The outcome is known; `finished` is fed once the log was read to its end. */
  judged: boolean;
  /** The scheduler asked to cancel this attempt. */
  cancelAsked: boolean;
  /** We deleted the pod (so its DELETED event is ours, not someone else's). */
  deletedByUs: boolean;
  /** Deleted from the API (DELETED seen or 404). */
  gone: boolean;
  /** Replayed from the run store, not run by this process. */
  recorded?: boolean;
  follower: LogFollower | null;
  startTimeoutMs: number;
  /** `recheckAt` of the pod object last looked at (the watch replaces the object on every change). */
  recheck?: { pod: V1Pod; at: number | null };
}

/**
 * Runs the DAG (or, in `dry-run`, submits every pod with `dryRun=All`) and returns the final run
 * state. Reports through `options.reporter` (runStarted, decisions, pods, log lines, verdicts,
 * runFinished). Throws KubeError only when the run cannot go on at all (the watch was refused).
 */
export async function runDag(options: RunDagOptions): Promise<RunState> {
  if (options.mode === 'dry-run') {
    const { state } = await dryRunDag(options);
    return state;
  }
  return new Engine(options).run();
}

/** The run id used in pod names and labels. */
export function effectiveRunId(context: RunContext, fallback?: string, now: number = Date.now()): string {
  return context.runId ?? fallback ?? `local-${now.toString(36)}`;
}

class Engine {
  readonly #o: RunDagOptions;
  readonly #clock: Clock;
  readonly #runId: string;
  readonly #selector: string;
  readonly #scheduler: Scheduler;
  /** What reporters see of the run as it goes: asked for, never copied per event. */
  readonly #view: RunView;
  readonly #live = new Map<string, Live>();
  /** Attempts started and not finished: what the timer looks at (not every attempt ever made). */
  readonly #active = new Set<Live>();
  /** The last attempt of each task (for log tails). */
  readonly #lastAttempt = new Map<string, Live>();
  readonly #pending = new Set<Promise<unknown>>();
  /** The run was cancelled by a signal (kept here so checking it costs O(1), not a snapshot). */
  #cancelledBySignal = false;
  #watcher: PodWatcher | null = null;
  #queue: Promise<void> = Promise.resolve();
  #cancelTimer: (() => void) | null = null;
  #timerAt: number | null = null;
  #fatal: unknown = null;
  #finish!: () => void;
  readonly #finished = new Promise<void>((resolve) => (this.#finish = resolve));

  constructor(options: RunDagOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#runId = effectiveRunId(options.context, options.runId, this.#clock.now());
    this.#selector = runSelector(options.spec.name, this.#runId, options.context.runAttempt);
    this.#scheduler = new Scheduler(options.spec, {
      now: this.#clock.now(),
      maxParallel: options.maxParallel,
      params: options.params,
      previous: options.previous,
    });
    const scheduler = this.#scheduler;
    this.#view = { dag: options.spec.name, task: (id) => scheduler.taskState(id), state: () => scheduler.state() };
  }

  async run(): Promise<RunState> {
    const o = this.#o;
    await o.reporter.runStarted?.({ mode: 'run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
    // Watch first, so no change to a pod we are about to create can be missed.
    this.#watcher = new PodWatcher(o.client, o.namespace, this.#selector, (e) => this.#enqueue(() => this.#onPodEvent(e)), {
      timeoutSeconds: o.watchTimeoutSeconds,
      onRecover: (what) => o.debug?.(what),
    });
    try {
      await this.#watcher.start();
    } catch (err) {
      throw new KubeError(describeError(err, `list the run's pods (${this.#selector}) in namespace ${o.namespace}`, o.client.server), classifyError(err), { cause: err });
    }
    this.#watcher.done.catch((err: unknown) => this.#enqueue(() => this.#onFatal(err)));
    const onAbort = (): void => this.#enqueue(() => this.#feed({ type: 'cancel', at: this.#clock.now(), reason: 'signal' }));
    // The scheduler must start before it hears of a cancel.
    this.#enqueue(() => this.#apply(this.#scheduler.start()));
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    await this.#finished;
    o.signal?.removeEventListener('abort', onAbort);
    this.#cancelTimer?.();

    // Logs to their end, pods deleted per keep-pods: all before the report.
    const cancelled = this.#scheduler.state().cancelled === 'signal';
    if (cancelled) for (const l of this.#live.values()) l.follower?.stop();
    // Drain until quiet: an attempt that is still ending (a reporter awaiting I/O) queues its
    // pod's delete only afterwards, so wait for the serial queue as well as the tracked requests,
    // and again if either brought more work.
    for (;;) {
      const queue = this.#queue;
      await queue;
      if (this.#pending.size > 0) {
        await Promise.allSettled([...this.#pending]);
        continue;
      }
      if (queue === this.#queue) break;
    }
    await Promise.allSettled([...this.#live.values()].map((l) => l.follower?.done));
    this.#watcher.stop();
    const state = this.#scheduler.state();
    const tails: Record<string, string[]> = {};
    for (const t of state.tasks) {
      const live = this.#lastAttempt.get(t.id);
      if (live?.follower && t.result !== 'succeeded') tails[t.id] = live.follower.tail();
    }
    await o.reporter.runFinished?.(state, tails);
    if (this.#fatal) throw this.#fatal;
    return state;
  }

  /** Runs `fn` after everything queued before it; errors end the run instead of vanishing. */
  #enqueue(fn: () => void | Promise<void>): void {
    this.#queue = this.#queue
      .then(fn)
      .catch((err: unknown) => this.#onFatal(err))
      .catch((err: unknown) => {
        // Even the way out failed (a bug): end the run with the error rather than hang.
        this.#fatal ??= err;
        this.#finish();
      });
  }

  /** Keeps track of background work (creates, deletes) that must end before the run does. */
  #track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) => this.#o.debug?.(`background request failed: ${(err as Error).message}`)).finally(() => this.#pending.delete(q));
    this.#pending.add(q);
  }

  async #onFatal(err: unknown): Promise<void> {
    if (this.#fatal || this.#scheduler.isDone()) return;
    this.#fatal = err instanceof KubeError ? err : new KubeError(`The run stopped: ${(err as Error).message ?? String(err)}`, null, { cause: err });
    // The run cannot be followed any more: delete what runs, like a cancel.
    await this.#feed({ type: 'cancel', at: this.#clock.now(), reason: 'signal' });
    for (const live of this.#live.values()) {
      if (!live.finished) await this.#endAttempt(live, cancelledOutcome('the run stopped: the cluster can no longer be watched'));
    }
  }

  async #feed(event: SchedulerEvent): Promise<void> {
    if (event.type === 'cancel' && event.reason === 'signal') this.#cancelledBySignal = true;
    await this.#apply(this.#scheduler.handle(event));
  }

  async #apply(decisions: Decision[]): Promise<void> {
    for (const d of decisions) {
      await this.#o.reporter.decision?.(d, this.#view);
      switch (d.type) {
        case 'start':
          this.#startAttempt(d.task, d.attempt);
          break;
        case 'cancel':
          for (const a of d.attempts) {
            const live = this.#find(a.task, a.attempt);
            if (!live) continue;
            live.cancelAsked = true;
            // A pod whose create has not answered yet is deleted when it answers.
            if (live.started) await this.#cancelAttempt(live);
          }
          break;
        case 'done':
          this.#finish();
          break;
        default:
          break;
      }
    }
    this.#armTimer();
  }

  #find(task: string, attempt: number): Live | undefined {
    const l = this.#lastAttempt.get(task);
    return l && l.attempt === attempt ? l : undefined;
  }

  /** Renders and creates the attempt's pod (in the background); 409 adopts the existing pod. */
  #startAttempt(task: string, attempt: number): void {
    const o = this.#o;
    const spec = o.spec.tasks.find((t) => t.id === task)!;
    const name = podName({ dag: o.spec.name, runId: this.#runId, runAttempt: o.context.runAttempt, task, attempt });
    const live: Live = {
      task,
      attempt,
      pod: name,
      createdAt: this.#clock.now(),
      started: false,
      finished: false,
      judged: false,
      cancelAsked: false,
      deletedByUs: false,
      gone: false,
      follower: null,
      startTimeoutMs: spec.startTimeoutMs,
    };
    this.#live.set(name, live);
    this.#lastAttempt.set(task, live);
    const rec = o.recorded?.(task, attempt);
    if (rec) {
      // It ran before a restart: replay it, create nothing. (The post step sweeps its pod.)
      this.#enqueue(async () => {
        this.#markStarted(live);
        live.gone = true;
        live.recorded = true;
        await this.#feed({ type: 'started', at: this.#clock.now(), task, attempt, pod: rec.pod ?? name });
        await this.#endAttempt(live, rec.outcome);
      });
      return;
    }
    if (o.signal?.aborted) {
      // Cancelled before the pod was created: create nothing.
      this.#enqueue(() => this.#endAttempt(live, cancelledOutcome('the run was cancelled before the pod was created')));
      return;
    }
    // Only the outputs this task's templates refer to (O(references), not O(tasks): a wide DAG
    // would otherwise cost tasks² in snapshots).
    const outputs: Record<string, Record<string, string>> = {};
    for (const t of [spec.image, ...(spec.command ?? []), ...(spec.args ?? []), ...spec.env.map((e) => ('value' in e ? e.value : ''))]) {
      for (const ref of outputRefs(t)) {
        if (outputs[ref.task] !== undefined) continue;
        const upstream = this.#scheduler.taskState(ref.task);
        if (upstream.result === 'succeeded') outputs[ref.task] = upstream.outputs;
      }
    }
    let pod: V1Pod;
    try {
      pod = renderPod(spec, attempt, { spec: o.spec, namespace: o.namespace, runId: this.#runId, context: o.context, render: (t) => renderTemplate(t, { params: o.params, outputs }) });
    } catch (err) {
      // An output an `if: always()` task refers to is missing, for one: a configuration error.
      this.#enqueue(() => this.#endAttempt(live, failure('configuration', 'TemplateError', `task "${task}": ${(err as Error).message}`)));
      return;
    }
    this.#track(this.#create(live, pod));
  }

  async #create(live: Live, pod: V1Pod): Promise<void> {
    const o = this.#o;
    let adopted = false;
    try {
      // Retrying a create after a network error is safe: if the first one reached the server,
      // the retry answers 409 and we adopt the pod.
      await o.client.request(`create pod ${live.pod}`, () => o.client.core.createNamespacedPod({ namespace: o.namespace, body: pod }), { signal: undefined });
    } catch (err) {
      const e = classifyError(err);
      if (e.kind === 'conflict') {
        adopted = true;
      } else {
        const cls = e.kind === 'network' || e.kind === 'timeout' || e.kind === 'server' || e.kind === 'throttled' ? 'infrastructure' : 'configuration';
        const message = describeError(err, `create pod ${live.pod} in namespace ${o.namespace}`, o.client.server);
        this.#enqueue(() => this.#endAttempt(live, failure(cls, e.reason ?? e.kind, message)));
        return;
      }
    }
    if (adopted) {
      // Make sure the existing pod is this attempt's (same task and attempt labels), not a stranger.
      try {
        const existing = await o.client.request(`get pod ${live.pod}`, () => o.client.core.readNamespacedPod({ name: live.pod, namespace: o.namespace }));
        const labels = existing.metadata?.labels ?? {};
        if (labels['pod-dag.io/task'] !== live.task || labels['pod-dag.io/task-attempt'] !== String(live.attempt)) {
          const msg = `pod ${live.pod} already exists in namespace ${o.namespace} but is not attempt ${live.attempt} of task "${live.task}" (labels ${JSON.stringify(labels)}); delete it or rename the DAG`;
          this.#enqueue(() => this.#endAttempt(live, failure('configuration', 'AlreadyExists', msg)));
          return;
        }
      } catch (err) {
        const e = classifyError(err);
        if (e.kind !== 'not-found') {
          this.#enqueue(() => this.#endAttempt(live, failure('infrastructure', e.reason ?? e.kind, describeError(err, `read pod ${live.pod}`, o.client.server))));
          return;
        }
        // Deleted between the 409 and the read: its DELETED event tells the rest.
      }
    }
    this.#enqueue(async () => {
      if (live.finished) return;
      this.#markStarted(live);
      await this.#feed({ type: 'started', at: this.#clock.now(), task: live.task, attempt: live.attempt, pod: live.pod });
      await o.reporter.podCreated?.(live.task, live.attempt, live.pod, adopted);
      if (live.cancelAsked || this.#cancelledBySignal) {
        live.cancelAsked = true;
        await this.#cancelAttempt(live);
        return;
      }
      // Events about the pod may have come before the create answered: look at it now.
      const known = this.#watcher?.pods.get(live.pod);
      if (known) await this.#observe(live, known, false);
      else if (live.gone) await this.#endAttempt(live, failure('infrastructure', 'Deleted', 'the pod was deleted by someone else right after it was created'));
    });
  }

  async #onPodEvent(e: PodEvent): Promise<void> {
    const live = this.#live.get(e.pod.metadata?.name ?? '');
    if (!live) return; // a pod of this run we did not start in this process: adopted on 409 if ever needed
    if (e.type === 'DELETED') {
      live.gone = true;
      live.follower?.gone();
    }
    if (!live.started) return;
    await this.#observe(live, e.pod, e.type === 'DELETED');
  }

  /** Looks at the latest state of an attempt's pod: starts or ends its log, judges the attempt. */
  async #observe(live: Live, pod: V1Pod, deleted: boolean): Promise<void> {
    if (containerStarted(pod) && !live.follower && !deleted) {
      live.follower = new LogFollower({
        client: this.#o.client,
        namespace: this.#o.namespace,
        pod: live.pod,
        container: CONTAINER,
        tailLines: this.#o.logTailLines,
        onLine: (text, time) => this.#o.reporter.logLine?.({ task: live.task, attempt: live.attempt, text, time }),
        onResume: (why) => this.#o.debug?.(why),
        backlog: this.#o.logBacklog,
      });
      live.follower.start();
    }
    if (containerTerminated(pod)) live.follower?.terminated();
    if (live.finished || live.judged) return;
    const outcome = classifyPod(pod, {
      now: this.#clock.now(),
      createdAt: live.createdAt,
      startTimeoutMs: live.startTimeoutMs,
      imagePullGraceMs: this.#o.imagePullGraceMs ?? 30_000,
      deleted: deleted && !live.deletedByUs,
      task: live.task,
    });
    if (!outcome) return;
    if (live.follower && containerTerminated(pod) && !deleted) {
      // Let the log finish first, so the step log shows a task's last lines before its result.
      // Bounded: a log that cannot be read must not hold the run.
      live.judged = true;
      const follower = live.follower;
      this.#track(
        (async () => {
          let cancel = (): void => {};
          await Promise.race([follower.done, new Promise<void>((resolve) => (cancel = this.#clock.setTimer(this.#clock.now() + LOG_WAIT_MS, resolve)))]);
          cancel();
          this.#enqueue(() => this.#endAttempt(live, outcome, pod));
        })(),
      );
      return;
    }
    await this.#endAttempt(live, outcome, pod);
  }

  /** Feeds `finished` once, then cleans the pod up in the background per keep-pods. */
  async #endAttempt(live: Live, outcome: AttemptOutcome, pod?: V1Pod): Promise<void> {
    if (live.finished) return;
    live.finished = true;
    this.#active.delete(live);
    const at = this.#clock.now();
    await this.#feed({ type: 'finished', at, task: live.task, attempt: live.attempt, ...outcome });
    await this.#o.reporter.attemptFinished?.(live.task, live.attempt, outcome, this.#view);
    let recordFailed = false;
    if (!live.recorded && this.#o.onAttemptEnd) {
      const result = this.#scheduler.taskState(live.task).result;
      try {
        await this.#o.onAttemptEnd({ task: live.task, attempt: live.attempt, pod: live.started ? live.pod : null, startedAt: live.createdAt, finishedAt: at, outcome, result });
      } catch (err) {
        recordFailed = true;
        this.#o.debug?.(`could not record the end of ${live.task} attempt ${live.attempt} (${(err as Error).message}); keeping its pod`);
      }
    }
    if (!live.started || live.gone) return;
    const stillRunning = !pod || !containerTerminated(pod);
    const keep =
      !stillRunning && (recordFailed || this.#o.keepPods === 'always' || (this.#o.keepPods === 'on-failure' && outcome.class !== 'succeeded'));
    if (keep) return;
    this.#track(
      (async () => {
        // The log is read to its end before the pod goes (a Pending pod has none).
        if (!stillRunning) await live.follower?.done;
        else live.follower?.stop();
        await this.#deletePod(live, stillRunning ? (this.#o.cancelGraceSeconds ?? 2) : 0);
      })(),
    );
  }

  async #cancelAttempt(live: Live): Promise<void> {
    if (live.finished) return;
    live.follower?.stop();
    this.#track(this.#deletePod(live, this.#o.cancelGraceSeconds ?? 2));
    await this.#endAttempt(live, cancelledOutcome('the run was cancelled; the pod was deleted'));
  }

  async #deletePod(live: Live, graceSeconds: number): Promise<void> {
    if (live.deletedByUs) return;
    live.deletedByUs = true;
    const o = this.#o;
    try {
      await o.client.request(`delete pod ${live.pod}`, () =>
        o.client.core.deleteNamespacedPod({ name: live.pod, namespace: o.namespace, gracePeriodSeconds: graceSeconds, propagationPolicy: 'Background' }),
      );
    } catch (err) {
      if (classifyError(err).kind === 'not-found') return;
      o.debug?.(describeError(err, `delete pod ${live.pod}`, o.client.server));
    }
  }

  #markStarted(live: Live): void {
    live.started = true;
    if (!live.finished) this.#active.add(live);
  }

  /** One timer at the earliest due time: a retry, the DAG timeout, a grace or start timeout. */
  #armTimer(): void {
    let at = this.#scheduler.nextWakeAt();
    for (const live of this.#active) {
      const pod = this.#watcher?.pods.get(live.pod);
      let r: number | null;
      if (pod === undefined) r = live.createdAt + live.startTimeoutMs;
      else if (live.recheck?.pod === pod) r = live.recheck.at;
      else {
        r = recheckAt(pod, { createdAt: live.createdAt, startTimeoutMs: live.startTimeoutMs, imagePullGraceMs: this.#o.imagePullGraceMs ?? 30_000 });
        live.recheck = { pod, at: r };
      }
      if (r !== null && (at === null || r < at)) at = r;
    }
    if (at === this.#timerAt) return;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    this.#timerAt = at;
    if (at === null || this.#scheduler.isDone()) return;
    this.#cancelTimer = this.#clock.setTimer(at, () =>
      this.#enqueue(async () => {
        this.#timerAt = null;
        this.#cancelTimer = null;
        await this.#feed({ type: 'tick', at: this.#clock.now() });
        for (const live of [...this.#active]) {
          if (live.finished) continue; // ended by an earlier turn of this loop
          const pod = this.#watcher?.pods.get(live.pod);
          if (pod) await this.#observe(live, pod, false);
          else if (this.#clock.now() - live.createdAt >= live.startTimeoutMs) {
            // Not even seen by the watch within the start timeout.
            await this.#endAttempt(live, failure('timeout', 'StartTimeout', `pod ${live.pod} was not seen within the start timeout`));
          }
        }
        this.#armTimer();
      }),
    );
  }
}

function failure(cls: AttemptOutcome['class'], reason: string | null, message: string): AttemptOutcome {
  return { class: cls, reason, message, exitCode: null, outputs: {}, node: null };
}

function cancelledOutcome(message: string): AttemptOutcome {
  return failure('cancelled', 'Cancelled', message);
}

/** Result of `dryRunDag`: a verdict per task, and a run state that says the same. */
export interface DryRunResult {
  verdicts: DryRunVerdict[];
  state: RunState;
}

/**
 * `dry-run`: renders every task's pod (attempt 1; upstream outputs as `<tasks.x.outputs.y>`
 * placeholders) and submits it with `dryRun=All`, so the cluster's RBAC, admission, quota and
 * schema checks speak. Nothing runs. A task is `succeeded` in the returned state when the cluster
 * would accept its pod, `failed` (class configuration, the cluster's message) when not.
 */
export async function dryRunDag(options: Omit<RunDagOptions, 'mode' | 'maxParallel' | 'keepPods'> & Partial<Pick<RunDagOptions, 'maxParallel' | 'keepPods'>>): Promise<DryRunResult> {
  const o = options;
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const runId = effectiveRunId(o.context, o.runId, started);
  await o.reporter.runStarted?.({ mode: 'dry-run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
  const verdicts = await Promise.all(
    o.spec.tasks.map(async (task): Promise<DryRunVerdict> => {
      const name = podName({ dag: o.spec.name, runId, runAttempt: o.context.runAttempt, task: task.id, attempt: 1 });
      const render = placeholderRender(o.params);
      let verdict: DryRunVerdict;
      try {
        const pod = renderPod(task, 1, { spec: o.spec, namespace: o.namespace, runId, context: o.context, render });
        await o.client.request(`create pod ${name} (dry run)`, () => o.client.core.createNamespacedPod({ namespace: o.namespace, body: pod, dryRun: 'All' }));
        verdict = { task: task.id, pod: name, accepted: true, message: null };
      } catch (err) {
        const e = classifyError(err);
        const message = e.kind === 'unknown' && !e.status ? (err as Error).message : describeError(err, `create pod ${name} in namespace ${o.namespace}`, o.client.server);
        verdict = { task: task.id, pod: name, accepted: false, message };
      }
      await o.reporter.dryRunVerdict?.(verdict);
      return verdict;
    }),
  );
  const finishedAt = clock.now();
  const state: RunState = {
    dag: o.spec.name,
    startedAt: started,
    finishedAt,
    result: verdicts.every((v) => v.accepted) ? 'success' : 'failure',
    cancelled: null,
    tasks: verdicts.map((v) => ({
      id: v.task,
      result: v.accepted ? 'succeeded' : 'failed',
      attempts: [],
      outputs: {},
      reason: v.accepted ? 'the cluster would accept its pod (dry run)' : v.message,
      reusedFrom: null,
      retryAt: null,
    })),
  };
  await o.reporter.runFinished?.(state, {});
  return { verdicts, state };
}

/**
 * The post step's sweep: deletes every pod matching `selector` (this run's pods) in `namespace`
 * (with `keepPods`, the ended pods that policy keeps stay).
 * Never throws: problems come back as warnings for the caller to print.
 */
export async function cleanupRun(
  client: KubeClient,
  namespace: string,
  selector: string,
  options: { keepPods?: KeepPods } = {},
): Promise<{ deleted: string[]; warnings: string[] }> {
  const deleted: string[] = [];
  const warnings: string[] = [];
  let pods: V1Pod[];
  try {
    pods = (await client.request(`list pods ${selector}`, () => client.core.listNamespacedPod({ namespace, labelSelector: selector }))).items;
  } catch (err) {
    return { deleted, warnings: [describeError(err, `list the run's pods (${selector}) in namespace ${namespace}`, client.server)] };
  }
  await Promise.all(
    pods.map(async (p) => {
      const name = p.metadata?.name ?? '';
      if (p.metadata?.deletionTimestamp) return;
      // Pods kept on purpose have ended: failed ones with keep-pods on-failure, every ended one
      // with always. Live leftovers (and, with on-failure, succeeded pods a crash left) go.
      const phase = p.status?.phase;
      if (options.keepPods === 'always' && (phase === 'Succeeded' || phase === 'Failed')) return;
      if (options.keepPods === 'on-failure' && phase === 'Failed') return;
      try {
        await client.request(`delete pod ${name}`, () => client.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 2 }));
        deleted.push(name);
      } catch (err) {
        if (classifyError(err).kind !== 'not-found') warnings.push(describeError(err, `delete pod ${name} in namespace ${namespace}`, client.server));
      }
    }),
  );
  return { deleted: deleted.sort(), warnings };
}

/** The label selector of one run attempt's pods (what `cleanupRun` is given by the post step). */
export function runPodSelector(spec: Pick<DagSpec, 'name'>, context: RunContext, runId?: string): string {
  return runSelector(spec.name, effectiveRunId(context, runId), context.runAttempt);
}
