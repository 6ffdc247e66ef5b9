/**
 * The pod runner: one attempt's pod from create to delete, through the narrow PodApi.
 *
 * - create with the attempt's deterministic name; a 409 means the pod exists already (our own
 *   create that reached the server before a retry, or a restart of this run attempt): it is
 *   adopted, but only when its task and attempt labels are this attempt's;
 * - the log, followed once the container started, read to its end once it terminated;
 * - delete, at most once, 404 counting as done; a settled pod's delete goes with others in one
 *   request (src/kube/reaper.ts).
 *
 * The engine (src/engine/engine.ts) decides when; this module knows how, and what each answer of
 * the API means for the attempt. The run's one watch is opened here too (`watch`), so every call
 * the engine makes to the cluster goes through the same PodApi.
 */
import type { AttemptOutcome } from '../dag/types.ts';
import { classifyError, describeError } from './errors.ts';
import { LogFollower } from './logs.ts';
import type { PodApi } from './pod-api.ts';
import type { PodReaper } from './reaper.ts';
import { CONTAINER, LABELS } from './pod.ts';
import { PodWatcher, type PodEvent, type PodWatcherOptions } from './watch.ts';
import type { V1Pod } from '@kubernetes/client-node';

/** Options of a PodRunner: where the pods go, and where their logs go. */
export interface PodRunnerOptions {
  api: PodApi;
  namespace: string;
  /** Log lines kept per attempt for the summary; default 50. */
  logTailLines?: number;
  /** A promise while the log lines' reader is backed up: the log streams pause until it settles. */
  logBacklog?: () => Promise<void> | undefined;
  /** Debug lines (resumed log streams, failed deletes). */
  debug?: (line: string) => void;
}

/** One attempt's identity: its task, its number, and its pod's name. */
export interface AttemptId {
  task: string;
  attempt: number;
  pod: string;
}

/** What creating an attempt's pod came to: created, adopted (409, our labels), or a failure of the attempt. */
export type CreateResult = { ok: true; adopted: boolean } | { ok: false; failure: AttemptOutcome };

/** Runs the pods of one run's attempts in one namespace. */
export class PodRunner {
  readonly #o: PodRunnerOptions;

  constructor(options: PodRunnerOptions) {
    this.#o = options;
  }

  /** The API server's URL, for messages. */
  get server(): string {
    return this.#o.api.server;
  }

  /** The run's one watch over its pods (`selector`); call `start()` on it. */
  watch(selector: string, onEvent: (e: PodEvent) => void, options: PodWatcherOptions = {}): PodWatcher {
    return new PodWatcher(this.#o.api, this.#o.namespace, selector, onEvent, options);
  }

  /** The pod of one attempt (nothing is sent until `create`). `onLine` gets its log's lines. */
  attempt(id: AttemptId, onLine: (text: string, time: string | null) => void): AttemptPod {
    return new AttemptPod(this.#o, id, onLine);
  }
}

/** One attempt's pod: its create, its log and its delete. */
export class AttemptPod {
  readonly task: string;
  readonly attempt: number;
  /** The pod's name. */
  readonly name: string;
  readonly #o: PodRunnerOptions;
  readonly #onLine: (text: string, time: string | null) => void;
  #follower: LogFollower | null = null;
  #deletedByUs = false;
  #gone = false;
  #tailReleased = false;

  constructor(options: PodRunnerOptions, id: AttemptId, onLine: (text: string, time: string | null) => void) {
    this.#o = options;
    this.task = id.task;
    this.attempt = id.attempt;
    this.name = id.pod;
    this.#onLine = onLine;
  }

  /** We deleted the pod (so its DELETED event is ours, not someone else's). */
  get deletedByUs(): boolean {
    return this.#deletedByUs;
  }

  /** The pod is gone from the API (DELETED seen, or never to be created). */
  get gone(): boolean {
    return this.#gone;
  }

  /** Whether its log is being followed (the container started). */
  get following(): boolean {
    return this.#follower !== null;
  }

  /**
   * Creates the pod. A 409 adopts the existing pod if its labels are this attempt's. A create
   * whose answer never came (network, 5xx, 429 past the retries) is settled by reading the pod:
   * found, it is adopted; absent, the create is sent again (at most three rounds, then an
   * infrastructure failure); unreadable, it counts as created and the watch tells the rest. Any
   * other refusal is a configuration failure: the cluster refused the pod itself.
   */
  async create(manifest: V1Pod): Promise<CreateResult> {
    const { api, namespace } = this.#o;
    for (let round = 1; ; round++) {
      try {
        await api.create(namespace, manifest);
        return { ok: true, adopted: false };
      } catch (err) {
        const e = classifyError(err);
        if (e.kind === 'conflict') break;
        const ambiguous = e.kind === 'network' || e.kind === 'timeout' || e.kind === 'server' || e.kind === 'throttled';
        if (!ambiguous) {
          return { ok: false, failure: failure('configuration', e.reason ?? e.kind, describeError(err, `create pod ${this.name} in namespace ${namespace}`, api.server)) };
        }
        // The create (or one of its retries) may have reached the server though no answer came
        // back: it counts as done until a read proves otherwise. A pod that exists is this
        // attempt's (checked below) and is watched, read and deleted as any other; only a read
        // that finds none lets the create be sent again, so the task never runs twice.
        const settled = await this.#settle();
        if (settled === 'exists') break;
        if (settled === 'unknown') {
          this.#o.debug?.(`create of pod ${this.name} got no answer and the pod could not be read since; counting it as created: the watch tells whether it exists`);
          return { ok: true, adopted: true };
        }
        if (round >= 3) {
          return { ok: false, failure: failure('infrastructure', e.reason ?? e.kind, describeError(err, `create pod ${this.name} in namespace ${namespace}`, api.server)) };
        }
      }
    }
    // Make sure the existing pod is this attempt's (same task and attempt labels), not a stranger.
    try {
      const existing = await api.read(namespace, this.name);
      const labels = existing.metadata?.labels ?? {};
      if (labels[LABELS.task] !== this.task || labels[LABELS.taskAttempt] !== String(this.attempt)) {
        const msg = `pod ${this.name} already exists in namespace ${namespace} but is not attempt ${this.attempt} of task "${this.task}" (labels ${JSON.stringify(labels)}); delete it or rename the DAG`;
        return { ok: false, failure: failure('configuration', 'AlreadyExists', msg) };
      }
    } catch (err) {
      const e = classifyError(err);
      if (e.kind !== 'not-found') {
        return { ok: false, failure: failure('infrastructure', e.reason ?? e.kind, describeError(err, `read pod ${this.name}`, api.server)) };
      }
      // Deleted between the 409 and the read: its DELETED event tells the rest.
    }
    return { ok: true, adopted: true };
  }

  /** Whether the pod exists after a create whose answer was lost: a read decides, if it can. */
  async #settle(): Promise<'exists' | 'absent' | 'unknown'> {
    try {
      await this.#o.api.read(this.#o.namespace, this.name);
      return 'exists';
    } catch (err) {
      return classifyError(err).kind === 'not-found' ? 'absent' : 'unknown';
    }
  }

  /** The watch saw the pod deleted (or it will never exist): its log can no longer be read. */
  markGone(): void {
    this.#gone = true;
    this.#follower?.gone();
  }

  /** Starts following the log (once the container started). Idempotent. */
  followLog(): void {
    if (this.#follower) return;
    this.#follower = new LogFollower({
      api: this.#o.api,
      namespace: this.#o.namespace,
      pod: this.name,
      container: CONTAINER,
      tailLines: this.#o.logTailLines,
      onLine: this.#onLine,
      onResume: (why) => this.#o.debug?.(why),
      backlog: this.#o.logBacklog,
    });
    if (this.#tailReleased) this.#follower.releaseTail();
    this.#follower.start();
  }

  /** The container terminated: the log is read to its end, then `logDone` resolves. */
  containerTerminated(): void {
    this.#follower?.terminated();
  }

  /** Stops reading the log (the pod is being deleted while it runs). */
  stopLog(): void {
    this.#follower?.stop();
  }

  /** Resolves when the log was read to its end, or cannot be read any more; at once if it was never followed. */
  get logDone(): Promise<void> {
    return this.#follower?.done ?? Promise.resolve();
  }

  /** The log's last lines (for the summary); null if it was never followed or the tail was released. */
  tail(): string[] | null {
    return this.#tailReleased ? null : (this.#follower?.tail() ?? null);
  }

  /** The tail will not be asked for (the attempt succeeded): keep no lines of it from now on. */
  releaseTail(): void {
    this.#tailReleased = true;
    this.#follower?.releaseTail();
  }

  /**
   * Deletes the pod once (404: done already). Never throws: a failure is a debug line (the post
   * step sweeps). With `batch`, the pod goes with the batch's next request: only for a settled
   * pod (its container ended, its log read to the end, its result recorded), deleted at once.
   */
  async delete(gracePeriodSeconds: number, batch?: PodReaper): Promise<void> {
    if (this.#deletedByUs) return;
    this.#deletedByUs = true;
    if (batch && gracePeriodSeconds === 0) return batch.delete({ name: this.name, task: this.task, attempt: this.attempt });
    const { api, namespace } = this.#o;
    try {
      await api.delete(namespace, this.name, { gracePeriodSeconds });
    } catch (err) {
      if (classifyError(err).kind === 'not-found') return;
      this.#o.debug?.(describeError(err, `delete pod ${this.name}`, api.server));
    }
  }
}

/** An attempt's failure with no exit code (the pod could not be created, or was never seen). */
export function failure(cls: AttemptOutcome['class'], reason: string | null, message: string): AttemptOutcome {
  return { class: cls, reason, message, exitCode: null, outputs: {}, node: null };
}
