/**
 * A neutral observer of the benchmark's pods: one watch on the namespace with the admin's
 * credentials (neither side's), recording for every pod when it appeared, when the watch first
 * showed its container terminated (and with which exit code), and when it was deleted. Both sides
 * are timed by the same watch, so the hand-off (an upstream's container ending to its dependant's
 * pod appearing) is measured the same way for both.
 */
import * as k8s from '@kubernetes/client-node';

/** What the observer saw of one pod. */
export interface PodRecord {
  name: string;
  labels: Record<string, string>;
  /** When the watch delivered the pod's creation (ms since the epoch, sub-millisecond). */
  addedMs: number;
  /** The pod's creationTimestamp (seconds resolution on a real API server). */
  createdAt: string | undefined;
  /** When the watch first showed its container running (or already terminated). */
  runningMs?: number;
  /** When the watch first showed the container terminated. */
  terminatedMs?: number;
  exitCode?: number;
  deletedMs?: number;
  deleting?: boolean;
}

const nowMs = (): number => performance.timeOrigin + performance.now();
// The list returns typed objects (Dates), the watch raw JSON (strings).
const stamp = (t: Date | string | undefined): string | undefined => (t instanceof Date ? t.toISOString() : t);

/** Watches pods in `namespace` until `stop()`; renews the watch when the server ends it. */
export class PodObserver {
  readonly pods = new Map<string, PodRecord>();
  #kc: k8s.KubeConfig;
  #namespace: string;
  #abort: AbortController | undefined;
  #stopped = false;
  #resourceVersion: string | undefined;
  #changed: (() => void)[] = [];

  constructor(adminKubeconfig: string, namespace: string) {
    this.#kc = new k8s.KubeConfig();
    this.#kc.loadFromString(adminKubeconfig);
    this.#namespace = namespace;
  }

  /** Lists the pods already there, then watches from that list's resourceVersion. */
  async start(): Promise<void> {
    const core = this.#kc.makeApiClient(k8s.CoreV1Api);
    const list = await core.listNamespacedPod({ namespace: this.#namespace });
    for (const p of list.items) this.#see('ADDED', p);
    this.#resourceVersion = list.metadata?.resourceVersion;
    await this.#watch();
  }

  async #watch(): Promise<void> {
    if (this.#stopped) return;
    const w = new k8s.Watch(this.#kc);
    this.#abort = await w.watch(
      `/api/v1/namespaces/${this.#namespace}/pods`,
      { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true },
      (phase, obj: k8s.V1Pod) => {
        if (obj?.metadata?.resourceVersion) this.#resourceVersion = obj.metadata.resourceVersion;
        if (phase !== 'BOOKMARK') this.#see(phase, obj);
      },
      (err: unknown) => {
        if (this.#stopped) return;
        // The server ends watches after a while (and a 410 means the version is gone: relist).
        if (err && /410|Gone|Expired/.test(String((err as Error).message ?? err))) this.#resourceVersion = undefined;
        void (this.#resourceVersion ? this.#watch() : this.start()).catch((e: unknown) => process.stderr.write(`observer: ${String(e)}\n`));
      },
    );
  }

  #see(phase: string, pod: k8s.V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const t = nowMs();
    let r = this.pods.get(uid);
    if (!r) {
      r = { name: pod.metadata!.name!, labels: pod.metadata?.labels ?? {}, addedMs: t, createdAt: stamp(pod.metadata?.creationTimestamp) };
      this.pods.set(uid, r);
    }
    const state = pod.status?.containerStatuses?.[0]?.state;
    if ((state?.running || state?.terminated) && r.runningMs === undefined) r.runningMs = t;
    const term = state?.terminated;
    if (term && r.terminatedMs === undefined) {
      r.terminatedMs = t;
      r.exitCode = term.exitCode;
    }
    if (pod.metadata?.deletionTimestamp) r.deleting = true;
    if (phase === 'DELETED' && r.deletedMs === undefined) r.deletedMs = t;
    for (const f of this.#changed.splice(0)) f();
  }

  /** Pods matching `pick` that exist and are not being deleted. */
  present(pick: (r: PodRecord) => boolean): PodRecord[] {
    return [...this.pods.values()].filter((r) => pick(r) && r.deletedMs === undefined && !r.deleting);
  }

  /** Resolves when no pod matching `pick` is present, or after `timeoutMs` (then with those left). */
  async settle(pick: (r: PodRecord) => boolean, timeoutMs: number): Promise<PodRecord[]> {
    const deadline = nowMs() + timeoutMs;
    for (;;) {
      const left = [...this.pods.values()].filter((r) => pick(r) && r.deletedMs === undefined);
      const remaining = deadline - nowMs();
      if (!left.length || remaining <= 0) return left;
      // Wait for the next pod event, or the deadline.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }
}
