/**
 * Deletes the pods of finished attempts in batches: one `deletecollection` of the pods matching
 * the run's selector, one task-attempt number, and a set of task ids
 * (`pod-dag.io/task in (a,b,c)`), in place of one DELETE per pod. A chain of short tasks so makes
 * two requests per task (the create and the log stream) instead of three.
 *
 * Invariants (the engine's, kept here):
 * - only settled pods are given: the container ended, its log was read to the end, its result is
 *   recorded, or will be: a pod's `durable` (its record's write) is awaited after `beforeSend`
 *   (which writes the records that wait for a batch) and before any request deletes it; a pod
 *   whose record failed is kept (a restart adopts it). A batch's selector matches exactly the pods given, because a task id is a
 *   DNS label (src/spec/names.ts) or a matrix instance id with a hash, each unique in the run and
 *   used as it is as the `pod-dag.io/task` label; each (task, attempt) has one pod; a sensor's
 *   pokes (several pods per attempt) are never batched (`!pod-dag.io/poke` in the selector too).
 *   A task whose label is not its id as it is (never, with today's ids) is deleted alone;
 * - a batch is sent when it is due: `maxBatch` pods, or `delayMs` after its first pod, or at
 *   once after `drain()` (the run's end or cancel). The delay is long (REAP_DELAY_MS): a finished
 *   pod takes no node resources and no `pods` quota (a ResourceQuota counts only pods not
 *   Succeeded or Failed), and each batch costs a state write and a deletecollection, so a chain
 *   of short tasks makes a few of each per run rather than one per task;
 * - a cluster that refuses deletecollection (403: a Role from before it was needed) gets single
 *   DELETEs, this batch and every later one; any other failure of a batch falls back to single
 *   DELETEs of its pods (404 counting as done). Nothing is lost: the post step sweeps.
 */
import type { Clock } from '../common/clock.ts';
import { classifyError, describeError } from './errors.ts';
import type { PodApi } from './pod-api.ts';
import { LABELS, labelValue } from './pod.ts';

/**
 * How long the first settled pod of a batch waits for others, by default: 30 s, so that a chain
 * of tasks (which ends one pod at a time) still fills batches. Bounded so that `keep-pods: never`
 * stays "deleted within seconds of its task's end", not "at the run's end".
 */
export const REAP_DELAY_MS = 30_000;

/** Options of a PodReaper. */
export interface PodReaperOptions {
  api: PodApi;
  namespace: string;
  /** The run attempt's label selector (the watch's): every batch's selector starts with it. */
  runSelector: string;
  clock: Clock;
  /** How long the first pod of a batch waits for others; default REAP_DELAY_MS. */
  delayMs?: number;
  /** Called before any delete request: makes the records of the pods waiting durable (never rejects). */
  beforeSend?: () => Promise<void>;
  /** The most pods in one request (bounds the URL's length: 63 characters per task id); default 50. */
  maxBatch?: number;
  debug?: (line: string) => void;
}

/** A settled pod to delete. */
export interface ReapedPod {
  name: string;
  task: string;
  attempt: number;
  /** Resolves true once the pod's end is durably recorded, false if it could not be: the pod is then kept. */
  durable?: Promise<boolean>;
}

interface Waiting extends ReapedPod {
  done: () => void;
}

/** Deletes settled pods in batches (see the module's header). */
export class PodReaper {
  readonly #o: PodReaperOptions;
  /** Pods waiting, by task-attempt number (one selector per number). */
  readonly #waiting = new Map<number, Waiting[]>();
  #count = 0;
  #cancelTimer: (() => void) | null = null;
  #draining = false;
  #flushQueued = false;
  #collectionRefused = false;

  constructor(options: PodReaperOptions) {
    this.#o = options;
  }

  /** Pods waiting to be deleted. */
  get size(): number {
    return this.#count;
  }

  /** Deletes `pod` with the next batch; resolves once that request (or its fallback) answered. Never rejects. */
  delete(pod: ReapedPod): Promise<void> {
    if (labelValue(pod.task) !== pod.task || this.#collectionRefused || !this.#o.api.deleteCollection) return this.#deleteOne(pod);
    return new Promise<void>((resolve) => {
      const list = this.#waiting.get(pod.attempt) ?? [];
      list.push({ ...pod, done: resolve });
      this.#waiting.set(pod.attempt, list);
      this.#count++;
      if (this.#draining || this.#count >= (this.#o.maxBatch ?? 50)) this.#soon();
      else this.#cancelTimer ??= this.#o.clock.setTimer(this.#o.clock.now() + (this.#o.delayMs ?? REAP_DELAY_MS), () => this.#flush());
    });
  }

  /** The run is ending: sends what waits now, and every later pod without waiting. */
  drain(): void {
    this.#draining = true;
    if (this.#count > 0) this.#soon();
  }

  /** Flushes after this turn of the event loop, so pods settled together go together. */
  #soon(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    const max = this.#o.maxBatch ?? 50;
    for (const [attempt, list] of this.#waiting) {
      for (let i = 0; i < list.length; i += max) void this.#send(attempt, list.slice(i, i + max));
    }
    this.#waiting.clear();
    this.#count = 0;
  }

  /** Writes the waiting records, then keeps the pods whose record failed (they are done at once). */
  async #recorded<T extends ReapedPod & { done?: () => void }>(pods: T[]): Promise<T[]> {
    await this.#o.beforeSend?.();
    const ok = await Promise.all(pods.map((p) => p.durable ?? true));
    const kept = pods.filter((_, i) => !ok[i]);
    for (const p of kept) p.done?.();
    return pods.filter((_, i) => ok[i]);
  }

  async #send(attempt: number, all: Waiting[]): Promise<void> {
    const { api, namespace } = this.#o;
    const pods = await this.#recorded(all);
    if (pods.length === 0) return;
    const selector = `${this.#o.runSelector},${LABELS.taskAttempt}=${attempt},!${LABELS.poke},${LABELS.task} in (${pods.map((p) => p.task).join(',')})`;
    try {
      if (this.#collectionRefused) throw Object.assign(new Error('deletecollection refused earlier'), { code: 403 });
      await api.deleteCollection!(namespace, selector, { gracePeriodSeconds: 0 });
    } catch (err) {
      if (classifyError(err).kind === 'forbidden' && !this.#collectionRefused) {
        this.#collectionRefused = true;
        this.#o.debug?.(`${describeError(err, `delete finished pods by label selector (deletecollection) in namespace ${namespace}`, api.server)}; deleting them one by one instead (grant deletecollection on pods to save requests)`);
      } else if (!this.#collectionRefused) {
        this.#o.debug?.(`${describeError(err, `delete ${pods.length} finished pods (${selector})`, api.server)}; deleting them one by one instead`);
      }
      await Promise.all(pods.map((p) => this.#deleteOne({ name: p.name, task: p.task, attempt: p.attempt })));
    }
    for (const p of pods) p.done();
  }

  async #deleteOne(pod: ReapedPod): Promise<void> {
    const { api, namespace } = this.#o;
    if (pod.durable !== undefined && (await this.#recorded([pod])).length === 0) return;
    try {
      await api.delete(namespace, pod.name, { gracePeriodSeconds: 0 });
    } catch (err) {
      if (classifyError(err).kind === 'not-found') return;
      this.#o.debug?.(describeError(err, `delete pod ${pod.name}`, api.server));
    }
  }
}
