/**
 * The scheduler: given the validated spec and a stream of events, decides what runs next.
 *
 * Pure and deterministic: time comes in on every event (the clock is the largest time seen, so
 * it never goes backwards); there is no I/O, timer or randomness. The same spec, options and
 * events always give the same decisions.
 *
 * Semantics are GitHub's for jobs:
 * - A task is *ready* when every one of its `needs` has a final result. Its `if:` (default
 *   `success()`) then decides whether it runs or is skipped.
 * - `success()`: every ancestor succeeded (and the run is not cancelled); `failure()`: some
 *   ancestor failed; `always()`: true; `cancelled()`: the run was cancelled.
 * - Ready tasks start in spec order, at most `maxParallel` attempts at once (0: no limit).
 *   A task waiting for a retry holds no slot.
 * - Retries follow the task's RetryPolicy per failure class (see `#afterFailure`).
 * - Cancel with reason `signal`: nothing new starts; every task that is not running is
 *   `not-run`. Cancel with reason `timeout` (the DAG timeout, raised by the scheduler itself):
 *   tasks whose `if:` calls `always()` or `cancelled()` may still start when ready; the others
 *   are `not-run`. Running attempts are listed in a `cancel` decision and end when the driver
 *   reports them `finished`.
 * - The run's result is `cancelled` if the run was cancelled, else `failure` if a task failed
 *   (or was cancelled on its own), else `success`.
 *
 * - A task with `strategy.matrix` runs as one instance per combination, each with its own
 *   attempts and retries (events and decisions name the instance id). Its `if:` is judged once,
 *   before it is expanded (as on GitHub); a dynamic matrix is computed then, from its upstream's
 *   outputs. Its result, once every instance is final, is GitHub's for a matrix job: `failed` if
 *   an instance failed, else `cancelled` / `not-run` if one was, else `succeeded`. `max-parallel`
 *   bounds its running instances; `fail-fast` cancels its other instances when one fails.
 * - A sensor's attempt is a series of pokes (a pod each): an exit code in `notYetExitCodes`
 *   schedules the next poke `interval` later (holding no slot meanwhile) until `timeout`, counted
 *   from the task's first poke, has passed; then it fails with class `timeout` or is skipped.
 *   Pokes are not retries; any other failure is retried as usual.
 *
 * Order within one batch of decisions: what the event itself leads to (retry, give-up, cancel),
 * then skips as tasks become ready, then starts in spec order, then `done`.
 *
 * Cost: each task is made ready, evaluated and finished once, touching only its own needs and
 * dependants; the ready tasks and the pending retries sit in heaps. So one event costs
 * O(needs + dependants of the tasks it touches + log n), never O(finished tasks). The one
 * exception is a cancel, which visits every unfinished task once (at most twice per run).
 */
import { formatDuration } from '../common/duration.ts';
import type { ExprValue, TaskValue } from '../spec/expression.ts';
import { expandMatrix } from '../spec/matrix.ts';
import { evaluateTemplateValue } from '../spec/template.ts';
import type { Condition, DagSpec, JsonValue, MatrixInstance, TaskSpec } from '../spec/types.ts';
import { decide, runsWhenCancelled, type ConditionContext } from './condition.ts';
import { buildGraph } from '../spec/graph.ts';
import { MinHeap } from './heap.ts';
import type {
  AttemptCancelReason,
  AttemptOutcome,
  AttemptRecord,
  CancelReason,
  Decision,
  RunResult,
  RunState,
  SchedulerEvent,
  SchedulerOptions,
  TaskResult,
  TaskState,
} from './types.ts';

/** Counters of the scheduler's work, for tests that check its cost does not grow with the run. */
export interface SchedulerStats {
  /** Events handled (plus 1 for `start()`). */
  events: number;
  /** Decisions returned. */
  decisions: number;
  /** Elementary steps: heap moves, needs and dependants visited, tasks evaluated. */
  work: number;
}

/**
 * Where a task is in its life. Invariant: `result !== null` exactly when `status === 'final'`.
 * `poke-wait`: a sensor between two pokes of one attempt; `expanded`: a matrix task whose
 * instances run.
 */
type Status = 'waiting' | 'queued' | 'running' | 'retry-wait' | 'poke-wait' | 'expanded' | 'final';

/** The scheduler's record of one task or matrix instance. */
interface Node {
  /** The task id, or the matrix instance id. */
  id: string;
  spec: TaskSpec;
  /** Position in `#nodes`: spec tasks first (in spec order), then instances as they are made. */
  index: number;
  /** The order among ready nodes: spec index, then instance order. */
  rank: number;
  /** A matrix instance: its matrix task, and its combination. */
  group: Node | null;
  values: Record<string, JsonValue> | null;
  /** A matrix task, once expanded: its instances; and how many are not final yet. */
  instances: Node[] | null;
  pendingInstances: number;
  /** A matrix task: instances running now, instances held back by max-parallel, fail-fast fired. */
  runningInstances: number;
  held: number[];
  failFastFired: boolean;
  /** A sensor: the next poke of the open attempt (while `poke-wait` or queued for it), and the deadline. */
  nextPoke: number | null;
  pokeDeadline: number | null;
  pokes: number;
  needs: number[];
  dependants: number[];
  /** Needs without a final result yet; the task is ready when this reaches 0. */
  pendingNeeds: number;
  status: Status;
  result: TaskResult | null;
  reason: string | null;
  attempts: AttemptRecord[];
  outputs: Record<string, string>;
  reusedFrom: { runAttempt: number } | null;
  retryAt: number | null;
  /** Retries used from `retries.limit` and from `retries.infrastructure`. */
  limitUsed: number;
  infraUsed: number;
  /**
   * Propagated ancestor flags, set when the task becomes ready (its needs are final then, and so
   * are their flags): every ancestor succeeded / some ancestor failed. `blame` says, for a skip
   * by `success()`, which need (or which task upstream of it) did not succeed.
   */
  allSucceeded: boolean;
  someFailed: boolean;
  blame: string | null;
  /** The first upstream task that did not succeed, for the `blame` of tasks downstream. */
  culprit: Node | null;
  /** Whether the `started` event of the current attempt came. */
  startedSeen: boolean;
  /** Whether the current attempt was listed in a `cancel` decision. */
  cancelAsked: boolean;
  /**
   * The task's last snapshot, deep-frozen so it can be shared by every `state()` until the task
   * changes; `null` when it changed since (every change goes through `#touch`).
   */
  snap: TaskState | null;
}

/** Decides which tasks of one run start, retry, are skipped, and when the run is done. */
export class Scheduler {
  readonly #spec: DagSpec;
  readonly #options: SchedulerOptions;
  readonly #nodes: Node[];
  readonly #byId = new Map<string, Node>();
  /** Ready tasks by spec index. Entries whose task is no longer `queued` are stale and skipped. */
  readonly #ready: MinHeap<number>;
  /** Pending retries and sensor pokes by due time, then rank. Stale entries are skipped the same way. */
  readonly #retries: MinHeap<{ at: number; index: number; rank: number; attempt: number; poke: number | null }>;
  /** Tasks with an attempt running (started and not finished), in the order they started. */
  readonly #running = new Set<number>();
  /** Tasks without a final result, in spec order (a Set keeps insertion order). */
  readonly #unfinished = new Set<number>();
  /** Tasks whose needs just all became final, to evaluate (FIFO, so topological). */
  #newlyReady: number[] = [];
  #clock: number;
  readonly #deadline: number | null;
  #cancelled: CancelReason | null = null;
  #begun = false;
  #done = false;
  #result: RunResult | null = null;
  #finishedAt: number | null = null;
  #failedTasks = 0;
  #cancelledTasks = 0;
  #out: Decision[] = [];
  readonly #stats: SchedulerStats = { events: 0, decisions: 0, work: 0 };

  /** Builds the scheduler of one run; `spec` must be validated (acyclic, needs known). */
  constructor(spec: DagSpec, options: SchedulerOptions) {
    this.#spec = spec;
    this.#options = options;
    this.#clock = options.now;
    this.#deadline = spec.timeoutMs === null ? null : options.now + spec.timeoutMs;
    const count = () => void this.#stats.work++;
    this.#ready = new MinHeap<number>((a, b) => this.#nodes[a]!.rank < this.#nodes[b]!.rank, count);
    this.#retries = new MinHeap((a, b) => a.at < b.at || (a.at === b.at && a.rank < b.rank), count);
    const graph = buildGraph(spec.tasks);
    this.#nodes = spec.tasks.map((task, index) => ({
      id: task.id,
      spec: task,
      index,
      rank: index * RANK_STRIDE,
      group: null,
      values: null,
      instances: null,
      pendingInstances: 0,
      runningInstances: 0,
      held: [],
      failFastFired: false,
      nextPoke: null,
      pokeDeadline: null,
      pokes: 0,
      needs: graph.needs[index]!,
      dependants: graph.dependants[index]!,
      pendingNeeds: graph.needs[index]!.length,
      status: 'waiting',
      result: null,
      reason: null,
      attempts: [],
      outputs: {},
      reusedFrom: null,
      retryAt: null,
      limitUsed: 0,
      infraUsed: 0,
      allSucceeded: true,
      someFailed: false,
      blame: null,
      culprit: null,
      startedSeen: false,
      cancelAsked: false,
      snap: null,
    }));
    for (const node of this.#nodes) {
      this.#byId.set(node.spec.id, node);
      this.#unfinished.add(node.index);
    }
    for (const id of Object.keys(options.previous ?? {})) {
      const group = id.includes('.') ? this.#byId.get(id.slice(0, id.indexOf('.'))) : undefined;
      if (!this.#byId.has(id) && !(group !== undefined && group.spec.strategy)) {
        throw new Error(
          `scheduler: options.previous names task "${id}", which is not in DAG "${spec.name}"; ` +
            'previous successes must come from a run attempt of the same spec',
        );
      }
    }
  }

  /** The first decisions, at `options.now`: reused tasks succeed, tasks without needs start. */
  start(): Decision[] {
    if (this.#begun) throw new Error('scheduler: start() was called twice; call it once, then handle() events');
    this.#begun = true;
    this.#stats.events++;
    this.#out = [];
    const previous = this.#options.previous ?? {};
    for (const node of this.#nodes) {
      const reused = previous[node.id];
      if (reused === undefined || node.spec.strategy) continue; // a matrix task reuses instances
      // A reused success stands for itself and its ancestors: they were judged in the earlier
      // run attempt, so its flags say "all succeeded" whatever its needs do in this one.
      node.outputs = { ...reused.outputs };
      node.reusedFrom = { runAttempt: reused.runAttempt };
      this.#finish(node, 'succeeded', null);
    }
    for (const node of this.#nodes) {
      if (node.status === 'waiting' && node.pendingNeeds === 0) this.#newlyReady.push(node.index);
    }
    return this.#settle();
  }

  /** Feeds one event; returns the decisions it leads to, in the order to carry them out. */
  handle(event: SchedulerEvent): Decision[] {
    if (!this.#begun) throw new Error(`scheduler: got a "${event.type}" event before start(); call start() first`);
    if (typeof event.at !== 'number' || !Number.isFinite(event.at)) {
      throw new Error(`scheduler: event ${describeEvent(event)} has no valid time (at: ${String(event.at)})`);
    }
    this.#stats.events++;
    this.#out = [];
    this.#clock = Math.max(this.#clock, event.at);
    if (this.#done && (event.type === 'tick' || event.type === 'cancel')) return [];
    // The event first (an attempt that just ended is not then listed in a timeout's `cancel`),
    // then what the passing of time brings: the DAG timeout (before retries, so a retry due
    // after it never starts), then due retries. Tasks made ready are judged after both.
    switch (event.type) {
      case 'started':
        this.#started(event);
        break;
      case 'finished':
        this.#finished(event);
        break;
      case 'cancel':
        this.#cancel(event.reason);
        break;
      case 'tick':
        break;
      default:
        throw new Error(`scheduler: unknown event ${JSON.stringify(event)}`);
    }
    if (this.#deadline !== null && this.#cancelled === null && this.#clock >= this.#deadline) {
      this.#cancel('timeout');
    }
    this.#queueDueRetries();
    return this.#settle();
  }

  /** The earliest time at which a `tick` would change something (a due retry, the DAG timeout); `null`: none. */
  nextWakeAt(): number | null {
    if (this.#done) return null;
    this.#dropStaleRetries();
    const retry = this.#retries.peek()?.at ?? null;
    const deadline = this.#cancelled === null ? this.#deadline : null;
    if (retry === null) return deadline;
    if (deadline === null) return retry;
    return Math.min(retry, deadline);
  }

  /**
   * A snapshot of the run, in spec order; later events do not change it. Task snapshots are
   * deep-frozen and shared between calls until the task changes, so a call costs O(tasks)
   * references, and copies only what changed.
   */
  state(): RunState {
    return {
      dag: this.#spec.name,
      startedAt: this.#options.now,
      finishedAt: this.#finishedAt,
      result: this.#result,
      cancelled: this.#cancelled,
      // Spec tasks only: a matrix task's snapshot holds its instances.
      tasks: this.#nodes.slice(0, this.#spec.tasks.length).map(snapshot),
    };
  }

  /** A snapshot of one task or matrix instance (O(1), for a driver that reports as it goes); throws for an unknown id. */
  taskState(id: string): TaskState {
    const node = this.#byId.get(id);
    if (node === undefined) throw new Error(`scheduler: DAG "${this.#spec.name}" has no task "${id}" (nor a matrix instance of that id)`);
    return snapshot(node);
  }

  /**
   * What to run for a task or matrix instance id: its task's spec and, for an instance, its
   * combination (for `{{ matrix.<key> }}`) and matrix task id. Throws for an unknown id.
   */
  unit(id: string): { spec: TaskSpec; matrix: Record<string, JsonValue> | null; group: string | null } {
    const node = this.#byId.get(id);
    if (node === undefined) throw new Error(`scheduler: DAG "${this.#spec.name}" has no task "${id}" (nor a matrix instance of that id)`);
    return { spec: node.spec, matrix: node.values, group: node.group?.id ?? null };
  }

  /**
   * `tasks.<id>` as an expression reads it: the result in GitHub's words and the outputs. For a
   * matrix task, each output is the list of its instances' values, in matrix order (`null` for an
   * instance that did not write it).
   */
  taskValue(id: string): TaskValue | undefined {
    const node = this.#byId.get(id);
    if (node === undefined) return undefined;
    if (node.instances === null) return { result: githubResult(node.result), outputs: node.outputs };
    const names = new Set<string>();
    for (const i of node.instances) for (const k of Object.keys(i.outputs)) names.add(k);
    const outputs: Record<string, ExprValue> = {};
    for (const name of names) outputs[name] = node.instances.map((i) => (Object.hasOwn(i.outputs, name) ? i.outputs[name]! : null));
    return { result: githubResult(node.result), outputs };
  }

  /** Whether the `done` decision was given: every task has a final result and nothing runs. */
  isDone(): boolean {
    return this.#done;
  }

  /** Work counters (for tests: the work per decision must not grow with the run). */
  stats(): SchedulerStats {
    return { ...this.#stats };
  }

  // ---- events ------------------------------------------------------------------------------

  #started(event: Extract<SchedulerEvent, { type: 'started' }>): void {
    const node = this.#node(event);
    const record = node.attempts.at(-1);
    if (node.status !== 'running' || record?.attempt !== event.attempt) {
      throw this.#driverBug(event, node, `attempt ${event.attempt} is not the running attempt`);
    }
    if (event.poke !== undefined && event.poke !== (record.pokes ?? 1)) {
      throw this.#driverBug(event, node, `poke ${event.poke} is not the running poke (${record.pokes ?? 'none'})`);
    }
    if (node.startedSeen) throw this.#driverBug(event, node, `attempt ${event.attempt} was already reported started`);
    node.startedSeen = true;
    touch(node);
    record.pod = event.pod;
    // A sensor's attempt started with its first poke.
    if ((record.pokes ?? 1) === 1) record.startedAt = this.#clock;
  }

  #finished(event: Extract<SchedulerEvent, { type: 'finished' }>): void {
    const node = this.#node(event);
    const record = node.attempts.at(-1);
    if (node.status !== 'running' || record?.attempt !== event.attempt) {
      const why =
        event.attempt > node.attempts.length
          ? `attempt ${event.attempt} was never started`
          : `attempt ${event.attempt} already finished`;
      throw this.#driverBug(event, node, why);
    }
    if (event.poke !== undefined && event.poke !== (record.pokes ?? 1)) {
      throw this.#driverBug(event, node, `poke ${event.poke} is not the running poke (${record.pokes ?? 'none'})`);
    }
    // `finished` without `started` is allowed: a pod whose create was rejected has no pod.
    const outcome: AttemptOutcome = {
      class: event.class,
      reason: event.reason,
      message: event.message,
      exitCode: event.exitCode,
      outputs: { ...event.outputs },
      node: event.node,
    };
    touch(node);
    this.#leaveRunning(node);
    const sensor = node.spec.sensor;
    if (sensor && outcome.class === 'failed' && outcome.exitCode !== null && sensor.notYetExitCodes.includes(outcome.exitCode)) {
      if (this.#cancelled === null && !node.group?.failFastFired) {
        this.#notYet(node, record, outcome);
        return;
      }
      // "Not yet" when no further poke may come: the task was stopped, not failed.
      record.finishedAt = this.#clock;
      record.outcome = outcome;
      const why = this.#cancelled !== null ? `${this.#cancelWords()} while it waited for its condition` : 'cancelled by fail-fast while it waited for its condition';
      this.#finish(node, 'cancelled', why);
      return;
    }
    record.finishedAt = this.#clock;
    record.outcome = outcome;
    if (outcome.class === 'succeeded') {
      node.outputs = { ...outcome.outputs };
      this.#finish(node, 'succeeded', null);
    } else if (outcome.class === 'cancelled') {
      const why =
        this.#cancelled === null
          ? `attempt ${record.attempt} was cancelled`
          : `${this.#cancelWords()} while it ran (attempt ${record.attempt})`;
      this.#finish(node, 'cancelled', why);
    } else {
      this.#afterFailure(node, record.attempt, outcome);
    }
  }

  /**
   * Retry or give up after a failed attempt, per the task's RetryPolicy:
   * - `failed`, `timeout`: retried while `limit` lasts, if the class is listed in `on`;
   * - `infrastructure`: always retried, on its own budget `infrastructure`;
   * - `configuration` (and anything after the run was cancelled): never.
   * Retry n (n = the failed attempt's number: every retry counts, whatever its class) waits
   * `min(delayMs * backoff^(n-1), maxDelayMs)`.
   */
  #afterFailure(node: Node, attempt: number, outcome: AttemptOutcome): void {
    const policy = node.spec.retries;
    const cls = outcome.class;
    let giveUp: string | null = null;
    if (this.#cancelled !== null) {
      giveUp = `not retried because ${this.#cancelWords()}`;
    } else if (node.group?.failFastFired) {
      giveUp = 'not retried: another instance of its matrix failed (fail-fast)';
    } else if (cls === 'configuration') {
      giveUp = 'configuration errors are not retried';
    } else if (cls === 'infrastructure') {
      if (node.infraUsed < policy.infrastructure) node.infraUsed++;
      else giveUp = `no more infrastructure retries left (${node.infraUsed} of ${policy.infrastructure} used)`;
    } else if (cls === 'failed' || cls === 'timeout') {
      if (!policy.on.includes(cls)) {
        giveUp =
          cls === 'timeout'
            ? 'timeouts are not retried (add "timeout" to retries.on to retry them)'
            : `failures are not retried (retries.on is [${policy.on.join(', ')}])`;
      } else if (node.limitUsed < policy.limit) {
        node.limitUsed++;
      } else if (policy.limit === 0) {
        giveUp = 'no retries configured (retries.limit is 0)';
      } else {
        giveUp = `no more retries left (${attempt} of ${this.#maxAttempts(node)} attempts failed)`;
      }
    } else {
      giveUp = `an attempt that ended "${cls}" is not retried`;
    }
    if (giveUp !== null) {
      this.#emit({ type: 'give-up', task: node.id, attempt, reason: giveUp, outcome });
      this.#finish(node, 'failed', giveUp);
      return;
    }
    const delayMs = retryDelay(node.spec.retries, attempt);
    const at = this.#clock + delayMs;
    this.#emit({
      type: 'retry',
      task: node.id,
      failedAttempt: attempt,
      nextAttempt: attempt + 1,
      maxAttempts: this.#maxAttempts(node),
      at,
      delayMs,
      outcome,
    });
    if (delayMs === 0) {
      this.#queue(node);
    } else {
      touch(node);
      node.status = 'retry-wait';
      node.retryAt = at;
      this.#retries.push({ at, index: node.index, rank: node.rank, attempt: attempt + 1, poke: null });
    }
  }

  /**
   * A sensor's poke said "not yet": poke again `interval` later, or, once the sensor's timeout
   * (from its first poke) has passed, time out: fail with class `timeout`, or skip.
   */
  #notYet(node: Node, record: AttemptRecord, outcome: AttemptOutcome): void {
    const sensor = node.spec.sensor!;
    const deadline = node.pokeDeadline ?? this.#clock;
    const poke = record.pokes ?? 1;
    if (this.#clock >= deadline) {
      const words = `its condition did not hold within the sensor's timeout of ${formatDuration(sensor.timeoutMs)} (${node.pokes} poke${node.pokes === 1 ? '' : 's'})`;
      const timedOut: AttemptOutcome = { ...outcome, class: 'timeout', reason: 'SensorTimeout', message: words };
      record.finishedAt = this.#clock;
      record.outcome = timedOut;
      if (sensor.onTimeout === 'skip') {
        this.#skip(node, `${words}; onTimeout: skip`);
      } else {
        // A sensor's timeout is final: retrying would wait past the time the user allowed.
        this.#emit({ type: 'give-up', task: node.id, attempt: record.attempt, reason: words, outcome: timedOut });
        this.#finish(node, 'failed', words);
      }
      return;
    }
    const at = Math.min(this.#clock + sensor.intervalMs, deadline);
    this.#emit({ type: 'poke', task: node.id, attempt: record.attempt, poke, at });
    node.status = 'poke-wait';
    node.nextPoke = poke + 1;
    node.retryAt = at;
    this.#retries.push({ at, index: node.index, rank: node.rank, attempt: record.attempt, poke: poke + 1 });
  }

  /** Bookkeeping when an attempt (or a poke) stops running: the slot, and the matrix task's own limit. */
  #leaveRunning(node: Node): void {
    if (!this.#running.delete(node.index)) return;
    const group = node.group;
    if (group === null) return;
    group.runningInstances--;
    // Instances held back by max-parallel may start now.
    for (const i of group.held.splice(0)) this.#ready.push(i);
  }

  /**
   * The most attempts the task can have as things stand: the first, `limit` retries, and the
   * infrastructure retries used so far (they do not use up `limit`, so each adds an attempt).
   */
  #maxAttempts(node: Node): number {
    const policy = node.spec.retries;
    return 1 + (policy.on.length > 0 ? policy.limit : 0) + node.infraUsed;
  }

  /**
   * Cancels the run. Running attempts are listed in one `cancel` decision. With `signal` every
   * other unfinished task is `not-run` at once; with `timeout` pending retries and queued tasks
   * are, except queued tasks whose `if:` calls `always()`/`cancelled()` and is still true;
   * waiting tasks are judged when they become ready (see `#evaluate`). A `signal` after a
   * `timeout` escalates; any other repeat is ignored.
   */
  #cancel(reason: CancelReason): void {
    if (this.#done || this.#cancelled === 'signal' || this.#cancelled === reason) return;
    this.#cancelled = reason;
    this.#cancelRunning([...this.#running], reason);
    // Copy first: #notRun deletes from #unfinished while we walk it.
    for (const index of [...this.#unfinished]) {
      this.#stats.work++;
      const node = this.#nodes[index]!;
      if (node.status === 'final') continue; // an instance finished by its matrix task's end
      if (node.nextPoke !== null) {
        this.#closeOpenAttempt(node, `${this.#cancelWords()} while it waited for its next poke`);
        this.#finish(node, 'cancelled', `${this.#cancelWords()} while it waited for its next poke`);
      } else if (node.status === 'retry-wait' || (node.status === 'queued' && node.attempts.length > 0)) {
        // A retry due now (zero delay, waiting for a slot) is a retry all the same: not after a cancel.
        this.#notRun(node, `${this.#cancelWords()} while it waited to retry`);
      } else if (node.status === 'queued' || (node.status === 'waiting' && reason === 'signal')) {
        if (reason === 'timeout' && survivesTimeout(node.spec.if)) {
          // Its condition was true before the cancel; `!cancelled()` and the like may now be false.
          const verdict = this.#decide(node);
          if (verdict !== null && !verdict.run) this.#skip(node, `if: "${node.spec.if?.source}" is false after the run was cancelled`);
        } else {
          this.#notRun(node, `${this.#cancelWords()} before it started`);
        }
      }
    }
  }

  /** Lists running attempts not yet asked to stop in one `cancel` decision. */
  #cancelRunning(indexes: number[], reason: AttemptCancelReason): void {
    const attempts: { task: string; attempt: number }[] = [];
    for (const index of indexes.sort((a, b) => this.#nodes[a]!.rank - this.#nodes[b]!.rank)) {
      this.#stats.work++;
      const node = this.#nodes[index]!;
      if (node.cancelAsked || node.status !== 'running') continue;
      node.cancelAsked = true;
      attempts.push({ task: node.id, attempt: node.attempts.length });
    }
    if (attempts.length > 0) this.#emit({ type: 'cancel', attempts, reason });
  }

  /** Ends a sensor's attempt that waits for its next poke, as cancelled. */
  #closeOpenAttempt(node: Node, message: string): void {
    const record = node.attempts.at(-1);
    touch(node);
    node.nextPoke = null;
    if (record === undefined || record.outcome !== null) return;
    record.finishedAt = this.#clock;
    record.outcome = { class: 'cancelled', reason: 'Cancelled', message, exitCode: null, outputs: {}, node: null };
  }

  // ---- the core loop -----------------------------------------------------------------------

  /** Evaluates newly ready tasks, starts what fits, and checks whether the run is done. */
  #settle(): Decision[] {
    while (this.#newlyReady.length > 0) {
      const batch = this.#newlyReady;
      this.#newlyReady = [];
      for (const index of batch) {
        this.#stats.work++;
        const node = this.#nodes[index]!;
        // A reused success or a cancelled task may already be final.
        if (node.status === 'waiting') this.#evaluate(node);
      }
    }
    this.#fill();
    if (!this.#done && this.#unfinished.size === 0 && this.#running.size === 0) {
      this.#done = true;
      this.#finishedAt = this.#clock;
      this.#result =
        this.#cancelled !== null ? 'cancelled' : this.#failedTasks + this.#cancelledTasks > 0 ? 'failure' : 'success';
      this.#emit({ type: 'done', result: this.#result });
    }
    const out = this.#out;
    this.#out = [];
    this.#stats.decisions += out.length;
    return out;
  }

  /** Judges a task whose needs all have a final result: queue it, skip it, or mark it not run. */
  #evaluate(node: Node): void {
    // Propagate the ancestor flags from the direct needs: O(needs).
    let allSucceeded = true;
    let someFailed = false;
    let blame: string | null = null;
    let culprit: Node | null = null;
    for (const index of node.needs) {
      this.#stats.work++;
      const need = this.#nodes[index]!;
      if (need.result === 'failed' || need.someFailed) someFailed = true;
      if (allSucceeded && !(need.result === 'succeeded' && need.allSucceeded)) {
        allSucceeded = false;
        if (need.result !== 'succeeded') {
          culprit = need;
          blame = `needs "${need.spec.id}", which ${resultWords(need.result)}`;
        } else {
          culprit = need.culprit;
          const up = need.culprit;
          blame = up
            ? `needs "${need.spec.id}", whose upstream task "${up.spec.id}" ${resultWords(up.result)}`
            : `needs "${need.spec.id}", whose upstream tasks did not all succeed`;
        }
      }
    }
    node.allSucceeded = allSucceeded;
    node.someFailed = someFailed;
    node.blame = blame;
    node.culprit = culprit;

    if (this.#cancelled === 'signal' || (this.#cancelled === 'timeout' && !survivesTimeout(node.spec.if))) {
      this.#notRun(node, `${this.#cancelWords()} before it started`);
      return;
    }
    const verdict = this.#decide(node);
    if (verdict === null) return; // the condition could not be evaluated: the task failed
    if (verdict.run) {
      if (node.spec.strategy) this.#expand(node);
      else this.#queue(node);
    } else if (verdict.becauseOfSuccess) {
      this.#skip(node, blame ?? this.#cancelWords());
    } else {
      this.#skip(node, `if: "${node.spec.if?.source}" is false`);
    }
  }

  /** `decide` for a node, or `null` when its `if:` could not be evaluated (the task then failed). */
  #decide(node: Node): ReturnType<typeof decide> | null {
    try {
      return decide(node.spec.if, this.#context(node));
    } catch (err) {
      this.#fail(node, `if: "${node.spec.if?.source}" could not be evaluated: ${(err as Error).message}`);
      return null;
    }
  }

  /** A task that fails without running an attempt (its if: or its matrix could not be evaluated). */
  #fail(node: Node, reason: string): void {
    this.#emit({ type: 'fail', task: node.id, reason });
    this.#finish(node, 'failed', reason);
  }

  /**
   * Expands a matrix task whose `if:` holds into its instances, queued in matrix order (a dynamic
   * matrix is computed now, from its upstream's outputs). Instances reused from an earlier run
   * attempt succeed at once.
   */
  #expand(node: Node): void {
    const strategy = node.spec.strategy!;
    let instances: MatrixInstance[];
    if (strategy.matrix.kind === 'static') {
      instances = strategy.matrix.instances;
    } else {
      let value: unknown;
      try {
        value = evaluateTemplateValue(strategy.matrix.template, { params: this.#options.params, outputs: {}, tasks: this.#taskValues(), run: this.#options.run ?? null }, 'matrix');
      } catch (err) {
        this.#fail(node, `its matrix "${strategy.matrix.template}" could not be computed: ${(err as Error).message}`);
        return;
      }
      const expansion = expandMatrix(node.id, value);
      if (!expansion.ok) {
        const p = expansion.problems[0]!;
        this.#fail(node, `its matrix "${strategy.matrix.template}" is not a valid matrix: ${p.message}`);
        return;
      }
      instances = expansion.instances;
    }
    touch(node);
    node.status = 'expanded';
    node.instances = [];
    node.pendingInstances = instances.length;
    const previous = this.#options.previous ?? {};
    instances.forEach((inst, i) => {
      const child: Node = {
        ...node,
        id: inst.id,
        index: this.#nodes.length,
        rank: node.rank + i + 1,
        group: node,
        values: inst.values,
        instances: null,
        pendingInstances: 0,
        runningInstances: 0,
        held: [],
        failFastFired: false,
        needs: [],
        dependants: [],
        pendingNeeds: 0,
        status: 'waiting',
        result: null,
        reason: null,
        attempts: [],
        outputs: {},
        reusedFrom: null,
        retryAt: null,
        limitUsed: 0,
        infraUsed: 0,
        nextPoke: null,
        pokeDeadline: null,
        pokes: 0,
        startedSeen: false,
        cancelAsked: false,
        snap: null,
      };
      this.#nodes.push(child);
      this.#byId.set(child.id, child);
      this.#unfinished.add(child.index);
      node.instances!.push(child);
    });
    this.#emit({ type: 'expand', task: node.id, instances: instances.map((i) => i.id) });
    for (const child of [...node.instances]) {
      const reused = previous[child.id];
      if (reused !== undefined) {
        child.outputs = { ...reused.outputs };
        child.reusedFrom = { runAttempt: reused.runAttempt };
        this.#finish(child, 'succeeded', null);
      } else {
        this.#queue(child);
      }
    }
  }

  /** Every task's value for `tasks.<id>` (only final ones matter: validation allows upstream only). */
  #taskValues(): Record<string, TaskValue> {
    const out: Record<string, TaskValue> = {};
    for (const n of this.#nodes) if (n.group === null && n.status === 'final') out[n.id] = this.taskValue(n.id)!;
    return out;
  }

  /** Starts queued tasks in rank order while slots are free. Nothing starts after a `signal` cancel. */
  #fill(): void {
    if (this.#cancelled === 'signal') return;
    const limit = this.#options.maxParallel;
    while (this.#ready.size > 0 && (limit <= 0 || this.#running.size < limit)) {
      const index = this.#ready.pop()!;
      const node = this.#nodes[index]!;
      if (node.status !== 'queued') continue; // stale: skipped or not run since it was queued
      const group = node.group;
      if (group !== null && group.spec.strategy!.maxParallel > 0 && group.runningInstances >= group.spec.strategy!.maxParallel) {
        group.held.push(index); // back in the heap when one of its instances stops running
        continue;
      }
      touch(node);
      node.status = 'running';
      node.startedSeen = false;
      node.cancelAsked = false;
      this.#running.add(index);
      if (group !== null) group.runningInstances++;
      const record = node.attempts.at(-1);
      if (node.nextPoke !== null && record !== undefined && record.outcome === null) {
        // The next poke of a sensor's open attempt: a new pod, the same attempt.
        const poke = node.nextPoke;
        node.nextPoke = null;
        node.retryAt = null;
        node.pokes++;
        record.pokes = poke;
        record.pod = null;
        this.#emit({ type: 'start', task: node.id, attempt: record.attempt, poke });
        continue;
      }
      const attempt = node.attempts.length + 1;
      const sensor = node.spec.sensor;
      if (sensor) {
        node.pokes++;
        node.pokeDeadline ??= this.#clock + sensor.timeoutMs;
        node.attempts.push({ attempt, pod: null, startedAt: this.#clock, finishedAt: null, outcome: null, pokes: 1 });
        this.#emit({ type: 'start', task: node.id, attempt, poke: 1 });
      } else {
        node.attempts.push({ attempt, pod: null, startedAt: this.#clock, finishedAt: null, outcome: null });
        this.#emit({ type: 'start', task: node.id, attempt });
      }
    }
  }

  #queueDueRetries(): void {
    for (;;) {
      this.#dropStaleRetries();
      const top = this.#retries.peek();
      if (top === undefined || top.at > this.#clock) return;
      this.#retries.pop();
      const node = this.#nodes[top.index]!;
      touch(node);
      node.retryAt = null;
      this.#queue(node);
    }
  }

  #dropStaleRetries(): void {
    for (;;) {
      const top = this.#retries.peek();
      if (top === undefined) return;
      const node = this.#nodes[top.index]!;
      if (top.poke === null && node.status === 'retry-wait' && node.attempts.length + 1 === top.attempt) return;
      if (top.poke !== null && node.status === 'poke-wait' && node.attempts.length === top.attempt && node.nextPoke === top.poke) return;
      this.#retries.pop();
    }
  }

  #queue(node: Node): void {
    node.status = 'queued';
    this.#ready.push(node.index);
  }

  #skip(node: Node, reason: string): void {
    this.#emit({ type: 'skip', task: node.id, reason });
    this.#finish(node, 'skipped', reason);
  }

  #notRun(node: Node, reason: string): void {
    this.#emit({ type: 'skip', task: node.id, reason });
    this.#finish(node, 'not-run', reason);
  }

  /** Gives a task its final result and tells its dependants: O(dependants). */
  #finish(node: Node, result: TaskResult, reason: string | null): void {
    touch(node);
    node.status = 'final';
    node.result = result;
    node.reason = reason;
    node.retryAt = null;
    node.nextPoke = null;
    this.#unfinished.delete(node.index);
    if (node.group !== null) {
      this.#instanceFinished(node.group, node, result);
      return;
    }
    if (result === 'failed') this.#failedTasks++;
    if (result === 'cancelled') this.#cancelledTasks++;
    for (const index of node.dependants) {
      this.#stats.work++;
      const dependant = this.#nodes[index]!;
      if (--dependant.pendingNeeds === 0) this.#newlyReady.push(index);
    }
  }

  /**
   * An instance is final: with fail-fast, a failure stops its siblings; once every instance is
   * final, the matrix task gets GitHub's combined result and its dependants are told.
   */
  #instanceFinished(group: Node, instance: Node, result: TaskResult): void {
    touch(group);
    if (result === 'failed' && group.spec.strategy!.failFast && !group.failFastFired) {
      group.failFastFired = true;
      const why = `cancelled because instance "${instance.id}" failed (fail-fast)`;
      const running: number[] = [];
      for (const sibling of group.instances!) {
        if (sibling.status === 'final') continue;
        if (sibling.status === 'running') running.push(sibling.index);
        else {
          if (sibling.nextPoke !== null) this.#closeOpenAttempt(sibling, why);
          this.#emit({ type: 'skip', task: sibling.id, reason: why });
          this.#finish(sibling, 'cancelled', why);
        }
      }
      this.#cancelRunning(running, 'fail-fast');
    }
    if (--group.pendingInstances > 0) return;
    const all = group.instances!;
    const count = (r: TaskResult) => all.filter((i) => i.result === r).length;
    const failed = count('failed');
    const cancelled = count('cancelled');
    const notRun = count('not-run');
    const total = `${all.length} instance${all.length === 1 ? '' : 's'}`;
    if (failed > 0) this.#finish(group, 'failed', `${failed} of ${total} failed`);
    else if (cancelled > 0) this.#finish(group, 'cancelled', `${cancelled} of ${total} were cancelled`);
    else if (notRun > 0) this.#finish(group, 'not-run', `${notRun} of ${total} did not run`);
    else this.#finish(group, 'succeeded', null);
  }

  // ---- helpers -----------------------------------------------------------------------------

  #context(node: Node): ConditionContext {
    return {
      params: this.#options.params,
      task: (id) => this.taskValue(id),
      run: this.#options.run ?? null,
      success: node.allSucceeded && this.#cancelled === null,
      failure: node.someFailed,
      cancelled: this.#cancelled !== null,
    };
  }

  #cancelWords(): string {
    if (this.#cancelled === 'timeout') {
      return this.#spec.timeoutMs === null
        ? 'the run was cancelled: its time limit was reached'
        : `the run was cancelled: the DAG timeout of ${formatDuration(this.#spec.timeoutMs)} was reached`;
    }
    return 'the run was cancelled';
  }

  #emit(decision: Decision): void {
    this.#out.push(decision);
  }

  #node(event: { type: string; task: string; attempt: number }): Node {
    const node = this.#byId.get(event.task);
    if (node !== undefined && node.instances !== null) {
      throw this.#driverBug(event, node, 'it is a matrix task, which runs as its instances; events name an instance id');
    }
    if (node === undefined) {
      throw new Error(
        `scheduler: got ${describeEvent(event)}, but DAG "${this.#spec.name}" has no task "${event.task}". ` +
          'This is a bug in the driver: events must name tasks the scheduler started.',
      );
    }
    return node;
  }

  #driverBug(event: { type: string; task: string; attempt: number }, node: Node, why: string): Error {
    return new Error(
      `scheduler: got ${describeEvent(event)}, but ${why}: task "${node.id}" is ${describeNode(node)}. ` +
        'This is a bug in the driver: it must report each attempt the scheduler started exactly once as started and once as finished.',
    );
  }
}

/** Whether a task may still start after a DAG timeout: its `if:` calls `always()` or `cancelled()`. */
function survivesTimeout(condition: Condition | null): boolean {
  return condition !== null && runsWhenCancelled(condition.source);
}

/** Room in `rank` for the instances of one task (at most MAX_INSTANCES, 256). */
const RANK_STRIDE = 1024;

/** The delay before retry n (n = the number of the attempt that failed, 1-based). */
export function retryDelay(policy: TaskSpec['retries'], n: number): number {
  const raw = policy.delayMs * Math.pow(policy.backoff, n - 1);
  // A huge backoff overflows to Infinity; the cap still applies. NaN (0 * Infinity) means no delay.
  const capped = Math.min(raw, policy.maxDelayMs);
  return Number.isFinite(capped) ? Math.max(0, Math.round(capped)) : Number.isNaN(capped) ? 0 : policy.maxDelayMs;
}

/** A task result in GitHub's words, as `tasks.<id>.result` gives it. */
export function githubResult(result: TaskResult | null): string {
  switch (result) {
    case 'succeeded':
      return 'success';
    case 'failed':
      return 'failure';
    case 'skipped':
      return 'skipped';
    case 'cancelled':
    case 'not-run':
      return 'cancelled';
    case null:
      return '';
  }
}

function resultWords(result: TaskResult | null): string {
  switch (result) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return 'failed';
    case 'skipped':
      return 'was skipped';
    case 'cancelled':
      return 'was cancelled';
    case 'not-run':
      return 'did not run';
    case null:
      return 'has not finished';
  }
}

function describeEvent(event: { type: string; task?: string; attempt?: number; at?: unknown }): string {
  const what = event.task === undefined ? '' : ` for task "${event.task}" attempt ${event.attempt}`;
  return `"${event.type}"${what}`;
}

function describeNode(node: Node): string {
  const n = node.attempts.length;
  switch (node.status) {
    case 'waiting':
      return 'waiting for its needs (no attempt started)';
    case 'queued':
      return n === 0 ? 'queued to start (no attempt started)' : `queued to start attempt ${n + 1}`;
    case 'running':
      return `running attempt ${n}`;
    case 'retry-wait':
      return `waiting to retry (attempt ${n + 1} due at ${node.retryAt})`;
    case 'poke-wait':
      return `a sensor waiting for poke ${node.nextPoke} of attempt ${n} (due at ${node.retryAt})`;
    case 'expanded':
      return `a matrix task whose ${node.pendingInstances} instance(s) have not finished`;
    case 'final':
      return `finished (${node.result}) after ${n} attempt${n === 1 ? '' : 's'}`;
  }
}

/** Marks a task changed (and its matrix task, whose snapshot holds it): its next snapshot is built afresh. */
function touch(node: Node): void {
  node.snap = null;
  if (node.group !== null) node.group.snap = null;
}

function snapshot(node: Node): TaskState {
  node.snap ??= deepFreeze(buildSnapshot(node));
  return node.snap;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function buildSnapshot(node: Node): TaskState {
  const extra: Partial<TaskState> = {};
  if (node.spec.sensor) extra.pokes = node.pokes;
  if (node.instances !== null) extra.instances = node.instances.map(snapshot);
  if (node.group !== null) {
    extra.group = node.group.id;
    extra.matrix = node.values!;
  }
  return {
    ...extra,
    id: node.id,
    result: node.result,
    attempts: node.attempts.map((a) => ({
      ...a,
      outcome: a.outcome === null ? null : { ...a.outcome, outputs: { ...a.outcome.outputs } },
    })),
    outputs: { ...node.outputs },
    reason: node.reason,
    reusedFrom: node.reusedFrom === null ? null : { ...node.reusedFrom },
    retryAt: node.retryAt,
  };
}
