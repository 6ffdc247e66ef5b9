/**
 * ONE watch per run over its pods (a label selector), kept alive like client-go's RetryWatcher:
 *
 * - list, then watch from the list's resourceVersion, with bookmarks;
 * - when the watch ends (the server's timeoutSeconds, a dropped connection, or no byte for
 *   `WATCH_IDLE_MS`: a connection that died silently, src/kube/client.ts), watch again from the
 *   last resourceVersion seen: nothing is missed, nothing repeated;
 * - 410 Gone (the resourceVersion was compacted away): list again and diff the list against what
 *   we knew, synthesizing the ADDED / MODIFIED / DELETED events we missed;
 * - a pod is known by its uid, not only its name: one deleted and created again under its name
 *   (by someone else) is reported as the DELETED of the one we knew, then the new one, so nothing
 *   of the new pod is taken for the old one's;
 * - a pod the run created (`created`) that a later list does not hold is gone: created and
 *   deleted while the watch was away (410 Gone), so the cache never knew it, it gets its DELETED
 *   too. Only a list that started after the create answered proves it: one in flight then may
 *   have been read before the pod existed;
 * - other errors: back off and resume; 401/403 stop the watcher with the error.
 *
 * No per-pod polling ever: however long a task runs, the run costs one open watch.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { PodApi } from './pod-api.ts';
import { systemClock } from '../common/clock.ts';
import { KubeError, abortableSleep, classifyError, describeError } from './errors.ts';

/** A change to one of the run's pods. `synthetic` when derived from a re-list, not a watch event. */
export interface PodEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  pod: V1Pod;
  synthetic: boolean;
}

/** Options of `PodWatcher`. */
export interface PodWatcherOptions {
  /** Seconds after which the server ends each watch request (we then resume); default 25, under the client's idle cut (`WATCH_IDLE_MS`, 30 s) with room for the server's bookmark 2 s before it. */
  timeoutSeconds?: number;
  /** Waits between attempts after errors; tests inject a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about each recoverable problem (for debug lines). */
  onRecover?: (what: string) => void;
  /** The clock (epoch ms) that tells a watch that ended at once from one that ran; default the system's. */
  now?: () => number;
}

/** Watches the pods matching a selector and reports every change once, in order. */
export class PodWatcher {
  readonly #api: PodApi;
  readonly #namespace: string;
  readonly #selector: string;
  readonly #onEvent: (e: PodEvent) => void;
  readonly #options: PodWatcherOptions;
  readonly #cache = new Map<string, V1Pod>();
  /**
   * Pods the run created that no list or event has shown yet, by name: their uid and how many
   * lists had started when the create answered. A list started after that which lacks the pod
   * proves it gone.
   */
  readonly #unseen = new Map<string, { uid: string; listsBefore: number }>();
  /** Lists started so far (the first at `start`, one per 410 Gone). */
  #listsStarted = 0;
  readonly #stop = new AbortController();
  #rv = '';
  #controller: { abort(): void } | null = null;
  #loop: Promise<void> | null = null;

  constructor(api: PodApi, namespace: string, selector: string, onEvent: (e: PodEvent) => void, options: PodWatcherOptions = {}) {
    this.#api = api;
    this.#namespace = namespace;
    this.#selector = selector;
    this.#onEvent = onEvent;
    this.#options = options;
  }

  /** The last known state of every pod of the run that exists. */
  get pods(): ReadonlyMap<string, V1Pod> {
    return this.#cache;
  }

  /**
   * Lists the pods (reporting each as ADDED) and starts watching. Resolves after the first list;
   * the returned promise of `done` settles when the watcher stops (rejects on 401/403).
   */
  async start(): Promise<void> {
    await this.#list();
    this.#loop = this.#run();
    // Surface fatal errors through `done`; avoid an unhandled rejection meanwhile.
    this.#loop.catch(() => {});
  }

  /** Settles when the watcher stops: resolves after `stop()`, rejects with a fatal error. */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  /**
   * The run created pod `name` (its create answered with `uid`): if it is gone before the watch
   * shows it (created and deleted while the watch was away), the next list that started after
   * this call reports its DELETED, rather than the run waiting for a pod that no longer exists.
   */
  created(name: string, uid: string): void {
    if (this.#cache.get(name)?.metadata?.uid === uid) return; // shown already: the cache's diff covers it
    this.#unseen.set(name, { uid, listsBefore: this.#listsStarted });
  }

  /** Stops watching; no event is reported after this returns. */
  stop(): void {
    this.#stop.abort(new Error('watch stopped'));
    this.#controller?.abort();
  }

  async #list(): Promise<void> {
    // Counted before the request goes: a create that answers while it is in flight is not proved
    // gone by it (the list may have been read before the pod existed).
    const number = ++this.#listsStarted;
    const list = await this.#api.list(this.#namespace, this.#selector, { signal: this.#stop.signal });
    if (this.#stop.signal.aborted) return;
    this.#rv = list.resourceVersion;
    const seen = new Set<string>();
    const listed = new Map<string, string | undefined>();
    for (const pod of list.items) listed.set(pod.metadata?.name ?? '', pod.metadata?.uid);
    for (const [name, u] of [...this.#unseen]) {
      if (u.listsBefore >= number) continue; // this list may predate the pod: proves nothing
      this.#unseen.delete(name);
      // Listed under its uid: it exists, and the loop below reports it ADDED. Absent, or another
      // pod under its name: ours is gone, never seen.
      if (listed.get(name) === u.uid || this.#cache.get(name)?.metadata?.uid === u.uid) continue;
      this.#onEvent({ type: 'DELETED', pod: { metadata: { name, uid: u.uid } }, synthetic: true });
    }
    for (const pod of list.items) {
      const name = pod.metadata?.name ?? '';
      seen.add(name);
      if (this.#unseen.get(name)?.uid === pod.metadata?.uid) this.#unseen.delete(name);
      const old = this.#cache.get(name);
      this.#cache.set(name, pod);
      if (old && replaced(old, pod)) {
        // Deleted and created again under its name while we were not watching: two pods, two
        // stories. The one we knew is gone (it must not borrow the new one's end).
        this.#onEvent({ type: 'DELETED', pod: old, synthetic: true });
        this.#onEvent({ type: 'ADDED', pod, synthetic: true });
      } else if (!old) this.#onEvent({ type: 'ADDED', pod, synthetic: true });
      else if (old.metadata?.resourceVersion !== pod.metadata?.resourceVersion) this.#onEvent({ type: 'MODIFIED', pod, synthetic: true });
    }
    for (const [name, pod] of [...this.#cache]) {
      if (seen.has(name)) continue;
      this.#cache.delete(name);
      this.#onEvent({ type: 'DELETED', pod, synthetic: true });
    }
  }

  async #run(): Promise<void> {
    const sleep = this.#options.sleep ?? abortableSleep;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const result = await this.#watchOnce();
      if (this.#stop.signal.aborted) return;
      if (result.kind === 'ended') {
        failures = result.events > 0 ? 0 : failures;
        // A watch that ends at once with nothing in it, again and again, must not spin.
        if (result.events === 0 && result.quick) await this.#pause(sleep, ++failures);
        continue;
      }
      const e = classifyError(result.error);
      if (e.kind === 'unauthorized' || e.kind === 'forbidden') {
        throw new KubeError(describeError(result.error, `watch pods (${this.#selector}) in namespace ${this.#namespace}`, this.#api.server), e);
      }
      if (e.kind === 'gone') {
        this.#options.onRecover?.('watch resourceVersion expired (410 Gone); listing again');
        failures = 0;
        await this.#relist(sleep);
        continue;
      }
      this.#options.onRecover?.(`watch failed (${e.message}); resuming from resourceVersion ${this.#rv}`);
      // A watch that made progress before it failed starts the backoff afresh.
      if (result.events > 0) failures = 0;
      await this.#pause(sleep, ++failures, e.retryAfterMs);
    }
  }

  async #relist(sleep: (ms: number, signal?: AbortSignal) => Promise<void>): Promise<void> {
    for (let n = 1; !this.#stop.signal.aborted; n++) {
      try {
        await this.#list();
        return;
      } catch (err) {
        const e = classifyError(err);
        if (e.kind === 'unauthorized' || e.kind === 'forbidden') throw err;
        await this.#pause(sleep, n, e.retryAfterMs);
      }
    }
  }

  async #pause(sleep: (ms: number, signal?: AbortSignal) => Promise<void>, n: number, serverMs: number | null = null): Promise<void> {
    const ms = serverMs ?? Math.min(10_000, 100 * 2 ** Math.min(n - 1, 7));
    try {
      await sleep(ms, this.#stop.signal);
    } catch {
      // stopped while waiting
    }
  }

  /** One watch request; resolves when it ends, never rejects. */
  async #watchOnce(): Promise<{ kind: 'ended'; events: number; quick: boolean } | { kind: 'error'; error: unknown; events: number }> {
    const now = this.#options.now ?? systemClock.now;
    const started = now();
    let events = 0;
    let gone: unknown = null;
    return new Promise((resolve) => {
      const from = { resourceVersion: this.#rv, timeoutSeconds: this.#options.timeoutSeconds ?? 25 };
      const onEvent = (type: string, obj: unknown): void => {
        if (this.#stop.signal.aborted || gone) return;
        if (type === 'ERROR') {
          // A Status object: 410 Gone most often (the watch's resourceVersion is too old).
          gone = obj ?? new Error('watch ERROR event without a status');
          this.#controller?.abort();
          return;
        }
        const pod = obj as V1Pod;
        const rv = pod?.metadata?.resourceVersion;
        if (rv) this.#rv = rv;
        if (type === 'BOOKMARK') return;
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
        events++;
        const name = pod.metadata?.name ?? '';
        const old = this.#cache.get(name);
        if (this.#unseen.get(name)?.uid === pod.metadata?.uid) this.#unseen.delete(name);
        if (type === 'DELETED') {
          // The end of a pod already replaced under its name (its DELETED was synthesized when the
          // new one showed): not the end of the pod that has the name now.
          if (old && replaced(old, pod)) return;
          this.#cache.delete(name);
          this.#onEvent({ type, pod, synthetic: false });
          return;
        }
        this.#cache.set(name, pod);
        // A pod under a known name with another uid, whose predecessor's DELETED never came: that
        // one is gone first.
        if (old && replaced(old, pod)) this.#onEvent({ type: 'DELETED', pod: old, synthetic: true });
        this.#onEvent({ type, pod, synthetic: false });
      };
      const onDone = (err: unknown): void => {
        this.#controller = null;
        if (gone) resolve({ kind: 'error', error: gone, events });
        else if (err && !this.#stop.signal.aborted && classifyError(err).kind !== 'timeout') resolve({ kind: 'error', error: err, events });
        else resolve({ kind: 'ended', events, quick: now() - started < 1000 });
      };
      this.#api.watch(this.#namespace, this.#selector, from, onEvent, onDone).then(
        (controller) => {
          this.#controller = controller;
          if (this.#stop.signal.aborted) controller.abort();
        },
        (err: unknown) => onDone(err),
      );
    });
  }
}

/** Whether `now` is another pod than `before` under the same name (the API gave each its own uid). */
function replaced(before: V1Pod, now: V1Pod): boolean {
  const a = before.metadata?.uid;
  const b = now.metadata?.uid;
  return a !== undefined && b !== undefined && a !== b;
}
