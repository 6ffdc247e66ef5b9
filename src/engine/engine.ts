/**
 * The driver loop: feeds the pure Scheduler what the cluster says and carries out what it decides
 * through the pod runner (src/kube/pod-runner.ts), which owns each attempt's pod from create to
 * delete over the narrow PodApi (src/kube/pod-api.ts): the real client, or a fake in tests.
 *
 * One run = one watch over the run's pods (src/kube/watch.ts), one pod per attempt created with a
 * deterministic name (a 409 adopts it), one log follower per started container, and one timer at
 * the earliest moment something is due (a retry, the DAG timeout, a start timeout or image pull
 * grace running out). Every change is handled on one serial queue, so the scheduler sees events
 * one at a time, in order, and every `started` precedes its `finished`.
 *
 * Invariants:
 * - an attempt succeeds only when its container terminated with exit code 0 (classifyPod);
 * - each attempt's pod is created at most once by us; a pod that exists already is adopted only
 *   when it proves to be this run's (src/kube/pod-proof.ts), and nothing of any other pod under
 *   an attempt's name (status, log, outputs) is used before the pod runner vetted it;
 * - a pod is deleted (keep-pods) only after its log was read to the end;
 * - an attempt's end is fed to the scheduler as soon as the watch shows its container ended: a
 *   dependant's pod does not wait for the log to drain (the reporters hear `logEnded` when it
 *   has, and the live log holds the result line till then);
 * - a pod that is still Pending or running when its attempt is judged (start timeout, image pull
 *   error, cancel) is always deleted, so it can never run later untracked.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../common/clock.ts';
import { boundHeapGrowth } from '../common/heap.ts';
import { effectiveRunId, runScope } from '../common/run.ts';
import { runContext, runDates } from '../dag/run-dates.ts';
import { taskFingerprint } from '../dag/rerun.ts';
import { Scheduler } from '../dag/scheduler.ts';
import type { AttemptOutcome, Decision, RunState, RunView, SchedulerEvent } from '../dag/types.ts';
import { classifyPod, containerStarted, containerTerminated, pendingStatus, recheckAt, restartPolicyChange } from '../kube/classify.ts';
import { KubeError, classifyError, describeError } from '../kube/errors.ts';
import { PodRunner, failure, type AttemptPod } from '../kube/pod-runner.ts';
import { ANNOTATIONS, podName, renderPod, runSelector } from '../kube/pod.ts';
import { PodReaper } from '../kube/reaper.ts';
import type { PodWatcher, PodEvent } from '../kube/watch.ts';
import type { TaskValue } from '../spec/expression.ts';
import type { TaskSpec } from '../spec/types.ts';
import { renderTemplate, templateExpressions } from '../spec/template.ts';
import { kubeTimeMs } from '../kube/time.ts';
import type { RunDagOptions, UnrecordedEnd } from './options.ts';

/**
 * How long after its container ended an attempt's log may take to be read to its end before the
 * reporters are told it ended anyway (`logEnded`: the live log holds the result line till then).
 */
const LOG_WAIT_MS = 10_000;

/**
 * How long a retry waits at most for the container of the attempt before it to stop when no
 * deletion of its pod is seen (a pod's default grace is 30 s).
 */
const RETRY_HOLD_MS = 31_000;

/** One attempt the engine is carrying out. */
interface Live {
  /** The task id, or a matrix instance id. */
  task: string;
  attempt: number;
  /** A sensor's poke (each poke is a pod of its own). */
  poke?: number;
  /** Its pod, from create to delete. */
  pod: AttemptPod;
  /** Local time the pod was created or adopted (Pending time counts from here). */
  createdAt: number;
  /** The `started` event was fed (the create or adopt answered). */
  started: boolean;
  /** The container was seen started (reporters were told once). */
  containerSeen?: boolean;
  /** The `finished` event was fed. */
  finished: boolean;
  /** Reporters are told (once) when its log has ended, or LOG_WAIT_MS after its container ended. */
  logEnd?: { told: boolean; cancelTimer?: () => void };
  /** The scheduler asked to cancel this attempt. */
  cancelAsked: boolean;
  /** Why, when it is not the run's cancel (a matrix's fail-fast). */
  cancelWords?: string;
  /** Replayed from the run store, not run by this process. */
  recorded?: boolean;
  /**
   * Settles once the attempt's end is in the run store: true when written, false when the write
   * failed. The pod is deleted only after it is true ("recorded up to here").
   */
  durable?: Promise<boolean>;
  startTimeoutMs: number;
  /** `recheckAt` of the pod object last looked at (the watch replaces the object on every change). */
  recheck?: { pod: V1Pod; at: number | null };
  /** Its pod's container may still run though the attempt ended: told of each change of the pod (`#afterPodStops`). */
  stopped?: (pod: V1Pod | null) => void;
  /** Its create waits for the previous attempt's container to stop: `cancel` ends the wait, creating nothing. */
  held?: { cancel(): void };
}

/**
 * Runs the DAG (mode `run`) and returns the final run state. Reports through `options.reporter`
 * (runStarted, decisions, pods, log lines, runFinished). Throws KubeError only when the run cannot
 * go on at all (the watch was refused).
 */
/**
 * The one warning for the records a run could not write: the attempts' ends (`unrecorded`, from
 * `onUnrecorded`) and the run's own end (`runEnd`, the error of writing it), with what becomes of
 * the pods kept; null when every record was written.
 */
export function unrecordedWarning(unrecorded: readonly UnrecordedEnd[], runEnd: Error | null): string | null {
  if (unrecorded.length === 0) return runEnd === null ? null : `Could not record the end of the run: ${runEnd.message}`;
  const kept = unrecorded.filter((u) => u.pod !== null);
  const lost = unrecorded.filter((u) => u.pod === null);
  const what = `${unrecorded.length} attempt${unrecorded.length === 1 ? '' : 's'} in the run's state`;
  const head =
    runEnd === null
      ? `Could not record the end of ${what} (${unrecorded[0]!.error})`
      : `Could not record the end of the run (${runEnd.message}), nor the end of ${what} (${unrecorded[0]!.error})`;
  const parts = [head + '.'];
  if (kept.length > 0) {
    parts.push(
      `Kept, as the only record of how they ended: ${kept.map((u) => `${u.task} attempt ${u.attempt} (pod ${u.pod})`).join(', ')}.` +
        ' The post step does not delete them, and a re-run of this job records their ends from these pods and reuses what succeeded instead of running it again.',
    );
  }
  if (lost.length > 0) {
    parts.push(`No pod is left of ${lost.map((u) => `${u.task} attempt ${u.attempt}`).join(', ')}: a re-run runs ${lost.length === 1 ? 'it' : 'them'} again.`);
  }
  return parts.join(' ');
}

export function runEngine(options: RunDagOptions): Promise<RunState> {
  return new Engine(options).run();
}

class Engine {
  readonly #o: RunDagOptions;
  readonly #clock: Clock;
  readonly #runId: string;
  readonly #selector: string;
  /** The `run` context: logical date and data interval. */
  readonly #run: Record<string, string> | null;
  readonly #scheduler: Scheduler;
  readonly #runner: PodRunner;
  /** Deletes settled pods in batches. */
  readonly #reaper: PodReaper;
  /** What reporters see of the run as it goes: asked for, never copied per event. */
  readonly #view: RunView;
  readonly #live = new Map<string, Live>();
  /** Attempts started and not finished: what the timer looks at (not every attempt ever made). */
  readonly #active = new Set<Live>();
  /** The last attempt of each task (for log tails). */
  readonly #lastAttempt = new Map<string, Live>();
  readonly #pending = new Set<Promise<unknown>>();
  /** The attempts whose end could not be recorded (their pods are kept): told once, at the run's end. */
  readonly #unrecorded: UnrecordedEnd[] = [];
  /** Each task's fingerprint annotation, by task id (`#fingerprint`). */
  readonly #fingerprints = new Map<string, string>();
  /** The spec's tasks by id (made when first needed). */
  #tasks: Map<string, TaskSpec> | null = null;
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
    // An explicit run id wins over GitHub's: each run of a backfill has its own (<run id>-<date>).
    this.#runId = options.runId ?? effectiveRunId(options.context, undefined, this.#clock.now());
    this.#selector = runSelector(options.spec.name, this.#runId, runScope(options.context), options.context.runAttempt);
    // Without a run context (the CLI), the logical date is the start of the run.
    this.#run = options.run === undefined ? runContext(runDates({ start: this.#clock.now(), schedule: null, logicalDate: null })) : options.run;
    this.#scheduler = new Scheduler(options.spec, {
      now: this.#clock.now(),
      maxParallel: options.maxParallel,
      params: options.params,
      previous: options.previous,
      run: this.#run,
    });
    this.#runner = new PodRunner({
      api: options.pods,
      namespace: options.namespace,
      logTailLines: options.logTailLines,
      logBacklog: options.logBacklog,
      debug: options.debug,
      proof: options.proof,
    });
    const flushRecords = options.flushRecords;
    this.#reaper = new PodReaper({
      api: options.pods,
      namespace: options.namespace,
      runSelector: this.#selector,
      clock: this.#clock,
      debug: options.debug,
      ...(options.reapDelayMs !== undefined ? { delayMs: options.reapDelayMs } : {}),
      ...(flushRecords ? { beforeSend: () => flushRecords().catch(() => {}) } : {}),
    });
    const scheduler = this.#scheduler;
    this.#view = { dag: options.spec.name, task: (id) => scheduler.taskState(id), state: () => scheduler.state() };
  }

  async run(): Promise<RunState> {
    const o = this.#o;
    // Thousands of pods' short-lived requests must not size the heap for the rest of the run.
    boundHeapGrowth();
    await o.reporter.runStarted?.({ mode: 'run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
    // Watch first, so no change to a pod we are about to create can be missed.
    this.#watcher = this.#runner.watch(this.#selector, (e) => this.#enqueue(() => this.#onPodEvent(e)), {
      timeoutSeconds: o.watchTimeoutSeconds,
      onRecover: (what) => o.debug?.(what),
      now: () => this.#clock.now(),
    });
    try {
      await this.#watcher.start();
    } catch (err) {
      throw new KubeError(describeError(err, `list the run's pods (${this.#selector}) in namespace ${o.namespace}`, o.pods.server), classifyError(err), { cause: err });
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
    if (cancelled) for (const l of this.#live.values()) l.pod.stopLog();
    // Drain until quiet: an attempt that is still ending (a reporter awaiting I/O) queues its
    // pod's delete only afterwards, so wait for the serial queue as well as the tracked requests,
    // and again if either brought more work.
    for (;;) {
      const queue = this.#queue;
      await queue;
      // Settled pods waiting for their batch go now, and later ones at once; first the logs
      // still being read end (the scheduler no longer waits for them), so their pods go together.
      await Promise.allSettled([...this.#live.values()].map((l) => l.pod.logDone));
      this.#reaper.drain();
      // The records deferred for pods that stay (keep-pods) are written now, with the last batch's.
      void this.#o.flushRecords?.().catch(() => {});
      if (this.#pending.size > 0) {
        await Promise.allSettled([...this.#pending]);
        continue;
      }
      if (queue === this.#queue) break;
    }
    await Promise.allSettled([...this.#live.values()].map((l) => l.pod.logDone));
    this.#watcher.stop();
    if (this.#unrecorded.length > 0) o.onUnrecorded?.([...this.#unrecorded].sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : a.attempt - b.attempt)));
    const state = this.#scheduler.state();
    const tails: Record<string, string[]> = {};
    // A matrix task's tails are its instances'.
    for (const t of state.tasks.flatMap((x) => x.instances ?? [x])) {
      const live = this.#lastAttempt.get(t.id);
      const tail = live?.pod.tail();
      if (tail && t.result !== 'succeeded') tails[t.id] = tail;
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
          this.#startAttempt(d.task, d.attempt, d.poke);
          break;
        case 'cancel':
          for (const a of d.attempts) {
            const live = this.#find(a.task, a.attempt);
            if (!live) continue;
            live.cancelAsked = true;
            live.cancelWords = d.reason === 'fail-fast' ? 'another instance of its matrix failed (fail-fast); the pod was deleted' : undefined;
            // A pod whose create has not answered yet is deleted when it answers.
            if (live.started) await this.#cancelAttempt(live);
            else if (live.held) {
              live.held.cancel();
              await this.#endAttempt(live, cancelledOutcome(live.cancelWords ?? 'the run was cancelled before the pod was created'));
            }
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

  /**
   * Renders and creates the attempt's pod (in the background); 409 adopts the existing pod.
   * `task` is a task id or a matrix instance id; `poke` is a sensor's poke (a pod of its own).
   */
  #startAttempt(task: string, attempt: number, poke?: number): void {
    const o = this.#o;
    const unit = this.#scheduler.unit(task);
    const spec = unit.spec;
    const instance = unit.group === null ? null : { id: task, group: unit.group };
    const name = podName({ dag: o.spec.name, runId: this.#runId, scope: runScope(o.context), runAttempt: o.context.runAttempt, task, attempt, poke });
    const live: Live = {
      task,
      attempt,
      poke,
      pod: this.#runner.attempt({ task, attempt, pod: name }, (text, time) => o.reporter.logLine?.({ task, attempt, text, time })),
      createdAt: this.#clock.now(),
      started: false,
      finished: false,
      cancelAsked: false,
      startTimeoutMs: spec.startTimeoutMs,
    };
    const previous = this.#lastAttempt.get(task);
    this.#live.set(name, live);
    this.#lastAttempt.set(task, live);
    // A sensor's later pokes are never replayed: only its attempt's end is recorded, and replaying
    // it for every poke would stand in for pokes that should run.
    const rec = poke === undefined || poke === 1 ? o.recorded?.(task, attempt) : null;
    if (rec) {
      // It ran before a restart: replay it, create nothing. (The post step sweeps its pod.)
      this.#enqueue(async () => {
        this.#markStarted(live);
        live.pod.markGone();
        live.recorded = true;
        await this.#feed({ type: 'started', at: this.#clock.now(), task, attempt, pod: rec.pod ?? name, poke });
        await this.#endAttempt(live, rec.outcome);
      });
      return;
    }
    if (o.signal?.aborted) {
      // Cancelled before the pod was created: create nothing.
      this.#enqueue(() => this.#endAttempt(live, cancelledOutcome('the run was cancelled before the pod was created')));
      return;
    }
    // Only the tasks this task's templates refer to (O(references), not O(tasks): a wide DAG
    // would otherwise cost tasks² in snapshots).
    const tasks: Record<string, TaskValue> = {};
    for (const t of [spec.image, ...(spec.command ?? []), ...(spec.args ?? []), ...spec.env.map((e) => ('value' in e ? e.value : ''))]) {
      for (const expr of templateExpressions(t)) {
        for (const { ref } of expr.refs) {
          if ((ref.kind !== 'output' && ref.kind !== 'outputs' && ref.kind !== 'result') || tasks[ref.task] !== undefined) continue;
          const value = this.#scheduler.taskValue(ref.task);
          if (value !== undefined && this.#scheduler.taskState(ref.task).result !== null) tasks[ref.task] = value;
        }
      }
    }
    let pod: V1Pod;
    try {
      const render = (t: string) => renderTemplate(t, { params: o.params, outputs: {}, tasks, matrix: unit.matrix, run: this.#run });
      pod = renderPod(spec, attempt, { spec: o.spec, namespace: o.namespace, runId: this.#runId, context: o.context, render, instance, poke });
      // What the pod runs, for a re-run that finds it ended unrecorded (its runner died): it must
      // compare the spec it runs with this one, not with its own (src/kube/earlier-attempts.ts).
      pod.metadata!.annotations = { ...pod.metadata!.annotations, [ANNOTATIONS.fingerprint]: this.#fingerprint(unit.group ?? task) };
    } catch (err) {
      // An output an `if: always()` task refers to is missing, for one: a configuration error.
      this.#enqueue(() => this.#endAttempt(live, failure('configuration', 'TemplateError', `task "${task}": ${(err as Error).message}`)));
      return;
    }
    const create = (): void => {
      live.held = undefined;
      if (live.finished) return;
      if (live.cancelAsked || this.#cancelledBySignal) {
        this.#enqueue(() => this.#endAttempt(live, cancelledOutcome(live.cancelWords ?? 'the run was cancelled before the pod was created')));
        return;
      }
      this.#track(this.#create(live, pod));
    };
    // A retry never runs beside the attempt before it: its pod is created once that one's
    // container stopped (a pod evicted, preempted, deleted or past its deadline may run on for
    // its grace period after the attempt was judged).
    if (previous && poke === undefined && previous.attempt < attempt) this.#afterPodStops(previous, live, create);
    else create();
  }

  /** Whether the container of `prev`'s pod may still run (seen started, not seen ended, the pod not gone). */
  #mayStillRun(prev: Live, pod: V1Pod | null | undefined): boolean {
    if (!prev.started || prev.recorded || prev.pod.gone || prev.pod.foreign || !pod) return false;
    return containerStarted(pod) && !containerTerminated(pod);
  }

  /**
   * Runs `create` (the next attempt's) once the container of `prev`'s pod stopped: its end or its
   * pod's DELETED seen, or the moment its deletion takes effect (the kubelet then kills it), or,
   * when no deletion is seen (our delete failed), RETRY_HOLD_MS, so a pod that cannot be followed
   * never holds the run for ever.
   */
  #afterPodStops(prev: Live, next: Live, create: () => void): void {
    if (!this.#mayStillRun(prev, this.#watcher?.pods.get(prev.pod.name))) return create();
    let cancelTimer: (() => void) | null = null;
    let at = 0;
    const release = (): void => {
      prev.stopped = undefined;
      next.held = undefined;
      cancelTimer?.();
    };
    const fire = (): void => {
      if (next.held === undefined) return;
      release();
      create();
    };
    const arm = (pod: V1Pod | undefined): void => {
      const deletion = kubeTimeMs(pod?.metadata?.deletionTimestamp);
      const until = Math.max(at, deletion === null ? this.#clock.now() + RETRY_HOLD_MS : deletion + 1000);
      if (until === at) return;
      at = until;
      cancelTimer?.();
      cancelTimer = this.#clock.setTimer(until, () => this.#enqueue(fire));
    };
    next.held = { cancel: release };
    prev.stopped = (pod) => {
      if (!this.#mayStillRun(prev, pod)) fire();
      else if (pod) arm(pod);
    };
    arm(this.#watcher?.pods.get(prev.pod.name));
    this.#o.debug?.(`${next.task} attempt ${next.attempt} waits for pod ${prev.pod.name} of attempt ${prev.attempt} to stop: its container still runs`);
  }

  /** The fingerprint of a task (a matrix instance's is its task's) as the pod's annotation holds it; once per task. */
  #fingerprint(taskId: string): string {
    let f = this.#fingerprints.get(taskId);
    if (f === undefined) {
      this.#tasks ??= new Map(this.#o.spec.tasks.map((t) => [t.id, t]));
      const task = this.#tasks.get(taskId);
      f = task === undefined ? '' : JSON.stringify(taskFingerprint(task, this.#o.params));
      this.#fingerprints.set(taskId, f);
    }
    return f;
  }

  async #create(live: Live, pod: V1Pod): Promise<void> {
    const o = this.#o;
    const created = await live.pod.create(pod);
    if (!created.ok) {
      this.#enqueue(() => this.#endAttempt(live, created.failure));
      return;
    }
    const adopted = created.adopted;
    // Now, not in the queue: a list that starts after this and lacks the pod proves it gone
    // (created and deleted while the watch was away), which no event would ever tell.
    const uid = live.pod.uid;
    if (uid !== null) this.#watcher?.created(live.pod.name, uid);
    this.#enqueue(async () => {
      if (live.finished) return;
      this.#markStarted(live);
      await this.#feed({ type: 'started', at: this.#clock.now(), task: live.task, attempt: live.attempt, pod: live.pod.name, poke: live.poke });
      await o.reporter.podCreated?.(live.task, live.attempt, live.pod.name, adopted, live.poke);
      if (live.cancelAsked || this.#cancelledBySignal) {
        live.cancelAsked = true;
        await this.#cancelAttempt(live);
        return;
      }
      // Events about the pod may have come before the create answered: look at it now.
      const known = this.#watcher?.pods.get(live.pod.name);
      if (known) await this.#observe(live, known, false);
      else if (live.pod.gone) await this.#endAttempt(live, failure('infrastructure', 'Deleted', 'the pod was deleted by someone else right after it was created'));
    });
  }

  async #onPodEvent(e: PodEvent): Promise<void> {
    const name = e.pod.metadata?.name ?? '';
    const live = this.#live.get(name);
    if (!live) return; // a pod of this run we did not start in this process: adopted on 409 if ever needed
    if (e.type === 'DELETED') {
      // The end of another pod of that name (one from before the attempt's own): not its end.
      if (!live.pod.markGone(e.pod.metadata?.uid)) return;
      // Nothing more can happen to a finished attempt whose pod is gone: forget it, so a run
      // holds what runs (and the tails of failures), not every attempt it ever made.
      if (live.finished) this.#live.delete(name);
    }
    live.stopped?.(e.type === 'DELETED' ? null : e.pod);
    if (!live.started) return;
    await this.#observe(live, e.pod, e.type === 'DELETED');
  }

  /** Looks at the latest state of an attempt's pod: starts or ends its log, judges the attempt. */
  async #observe(live: Live, pod: V1Pod, deleted: boolean): Promise<void> {
    // A pod under the attempt's name that is not this run's: nothing of it is used or touched.
    if (live.pod.foreign) return;
    const refused = await live.pod.vet(pod);
    // A pod of that name from before the attempt's own (an earlier process's, deleted since): wait for ours.
    if (refused === 'older') return;
    if (refused !== null) {
      await this.#endAttempt(live, refused);
      return;
    }
    // A pod the kubelet may run again is refused before anything of it is read or told.
    const rerunnable = live.finished ? null : restartPolicyChange(pod);
    if (rerunnable !== null) {
      await this.#endAttempt(live, failure('configuration', 'RestartPolicyChanged', `${rerunnable}. The pod was deleted`), pod);
      return;
    }
    const now = this.#clock.now();
    if (containerStarted(pod) && !deleted) {
      // "Created" and "started" are different moments: tell the second once, before its log.
      if (!live.containerSeen && !live.finished && (live.poke ?? 1) === 1) this.#o.reporter.containerStarted?.(live.task, live.attempt, pod.spec?.nodeName ?? null, now - live.createdAt);
      live.containerSeen = true;
      live.pod.followLog();
      this.#awaitLogEnd(live);
    }
    if (containerTerminated(pod)) {
      live.pod.containerTerminated();
      // A log that cannot be read to its end must not hold the result line for ever.
      if (live.logEnd && !live.logEnd.told && !live.logEnd.cancelTimer) {
        live.logEnd.cancelTimer = this.#clock.setTimer(this.#clock.now() + LOG_WAIT_MS, () => this.#enqueue(() => this.#tellLogEnded(live)));
      }
    }
    if (live.finished) return;
    const outcome = classifyPod(pod, {
      now,
      createdAt: live.createdAt,
      startTimeoutMs: live.startTimeoutMs,
      imagePullGraceMs: this.#o.imagePullGraceMs ?? 30_000,
      // Deleted by someone else: gone, or being deleted (a kubelet writes the container's end,
      // killed by the deletion, before the pod goes: a MODIFIED with deletionTimestamp first).
      deleted: (deleted || Boolean(pod.metadata?.deletionTimestamp)) && !live.pod.deletedByUs,
      task: live.task,
    });
    if (!outcome) {
      // Still waiting: say why (the reporter paces the lines), from the status the watch brought.
      const waiting = deleted || live.containerSeen ? null : pendingStatus(pod);
      if (waiting !== null) this.#o.reporter.podPending?.(live.task, live.attempt, waiting, now);
      return;
    }
    // Fed at once, though the log may still be draining: the dependants start now.
    await this.#endAttempt(live, outcome, pod);
  }

  /** Once the attempt's log (just followed) has ended, tells the reporters (`logEnded`). */
  #awaitLogEnd(live: Live): void {
    if (live.logEnd) return;
    live.logEnd = { told: false };
    this.#track(live.pod.logDone.then(() => this.#enqueue(() => this.#tellLogEnded(live))));
  }

  #tellLogEnded(live: Live): void {
    const end = live.logEnd;
    if (!end || end.told) return;
    end.told = true;
    end.cancelTimer?.();
    this.#o.reporter.logEnded?.(live.task, live.attempt);
  }

  /** Feeds `finished` once, then cleans the pod up in the background per keep-pods. */
  async #endAttempt(live: Live, outcome: AttemptOutcome, pod?: V1Pod): Promise<void> {
    if (live.finished) return;
    live.finished = true;
    live.held?.cancel();
    this.#active.delete(live);
    live.recheck = undefined;
    // Only failures' tails reach the summary, and a finished attempt is never cancelled.
    if (outcome.class === 'succeeded') {
      live.pod.releaseTail();
      if (this.#lastAttempt.get(live.task) === live) this.#lastAttempt.delete(live.task);
    }
    const at = this.#clock.now();
    await this.#feed({ type: 'finished', at, task: live.task, attempt: live.attempt, poke: live.poke, ...outcome });
    await this.#o.reporter.attemptFinished?.(live.task, live.attempt, outcome, this.#view);
    const hasPod = live.started && !live.pod.gone;
    // A pod whose container the kubelet may run again (its restart policy changed, or it did
    // restart) is deleted at once, as one still running, whatever its container's state now.
    const mayRunAgain = outcome.reason === 'RestartPolicyChanged' || outcome.reason === 'Restarted';
    const stillRunning = hasPod && (!pod || !containerTerminated(pod) || mayRunAgain);
    // A sensor's "not yet" is no failure: no pod is kept between pokes.
    const sensor = live.poke === undefined ? null : this.#scheduler.unit(live.task).spec.sensor;
    const notYet = sensor != null && outcome.class === 'failed' && outcome.exitCode !== null && sensor.notYetExitCodes.includes(outcome.exitCode);
    const keep = hasPod && !stillRunning && !notYet && (this.#o.keepPods === 'always' || (this.#o.keepPods === 'on-failure' && outcome.class !== 'succeeded'));
    // The pod is the record until it is deleted (a restart adopts it): the end of an attempt whose
    // ended pod stays (kept, or waiting for a delete batch) is written when a batch needs it or at
    // the run's end, with the others. Without such a pod (never created, gone, deleted now) it is
    // written at once.
    const reaped = hasPod && !stillRunning && live.poke === undefined;
    // The record is written in the background (the store batches the ends that come meanwhile):
    // the scheduler already knows the end, and nothing else waits for the write but the pod's delete.
    if (!live.recorded && this.#o.onAttemptEnd) {
      const result = this.#scheduler.taskState(live.task).result;
      const onAttemptEnd = this.#o.onAttemptEnd;
      const end = { task: live.task, attempt: live.attempt, pod: live.started ? live.pod.name : null, startedAt: live.createdAt, finishedAt: at, outcome, result };
      const defer = keep || reaped;
      const durable = (async () => onAttemptEnd(end, { defer }))().then(
        () => true,
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          this.#o.debug?.(`could not record the end of ${live.task} attempt ${live.attempt} (${message}); keeping its pod`);
          // Its pod is kept only if it ended (one still running is deleted, a sensor's "not yet"
          // is no end) and exists (one never created or gone keeps nothing).
          this.#unrecorded.push({ task: live.task, attempt: live.attempt, pod: hasPod && !stillRunning && !notYet ? live.pod.name : null, error: message });
          return false;
        },
      );
      live.durable = durable;
      // The run reports its end only once every record is written (or failed).
      this.#track(durable);
    }
    if (!hasPod || keep) return;
    const durable = live.durable ?? Promise.resolve(true);
    this.#track(
      (async () => {
        // The log is read to its end before the pod goes (a Pending pod has none). A settled
        // pod (ended, read) goes with a batch, which first writes its record; one still running
        // alone, at once.
        if (!stillRunning) await live.pod.logDone;
        else live.pod.stopLog();
        // Deleted only once its end is durably recorded: a crash after the delete must find the
        // record (else a restart would create the attempt's pod again). A pod whose end could not
        // be recorded is kept, so a restart can still adopt it, unless it still runs.
        if (reaped) return live.pod.delete(0, this.#reaper, durable);
        if (!(await durable) && !stillRunning && !notYet) return;
        await live.pod.delete(stillRunning ? (this.#o.cancelGraceSeconds ?? 2) : 0);
      })(),
    );
  }

  async #cancelAttempt(live: Live): Promise<void> {
    if (live.finished) return;
    live.pod.stopLog();
    this.#track(live.pod.delete(this.#o.cancelGraceSeconds ?? 2));
    await this.#endAttempt(live, cancelledOutcome(live.cancelWords ?? 'the run was cancelled; the pod was deleted'));
  }

  #markStarted(live: Live): void {
    live.started = true;
    if (!live.finished) this.#active.add(live);
  }

  /** One timer at the earliest due time: a retry, the DAG timeout, a grace or start timeout. */
  #armTimer(): void {
    let at = this.#scheduler.nextWakeAt();
    for (const live of this.#active) {
      const pod = this.#watcher?.pods.get(live.pod.name);
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
          const pod = this.#watcher?.pods.get(live.pod.name);
          if (pod) await this.#observe(live, pod, false);
          else if (this.#clock.now() - live.createdAt >= live.startTimeoutMs) {
            // Not even seen by the watch within the start timeout.
            await this.#endAttempt(live, failure('timeout', 'StartTimeout', `pod ${live.pod.name} was not seen within the start timeout`));
          }
        }
        this.#armTimer();
      }),
    );
  }
}

function cancelledOutcome(message: string): AttemptOutcome {
  return failure('cancelled', 'Cancelled', message);
}
