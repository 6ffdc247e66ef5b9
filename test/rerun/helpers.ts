/**
 * Helpers for the re-run, store, lease and housekeeping tests: a client-node connection to a
 * sandbox, a request wrapper that records what the API answered, a fake clock whose sleeps end
 * only when the test advances it, and a wait on a watch (never a sleep).
 */
import { CoordinationV1Api, CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';
import { classifyError, withRetry } from '../../src/kube/errors.ts';
import type { LeaseClock } from '../../src/kube/lease.ts';
import type { Requester } from '../../src/kube/run-store.ts';
import type { Sandbox } from '../../sandbox/index.ts';

/** The typed APIs of a cluster (a sandbox, or a TestCluster of test/helpers/cluster.ts), through the real client over HTTPS. */
export function connect(sandbox: Pick<Sandbox, 'kubeconfig'> | { kubeconfig(): string }): { kc: KubeConfig; core: CoreV1Api; coordination: CoordinationV1Api; watch: Watch } {
  const kc = new KubeConfig();
  kc.loadFromString(sandbox.kubeconfig());
  return { kc, core: kc.makeApiClient(CoreV1Api), coordination: kc.makeApiClient(CoordinationV1Api), watch: new Watch(kc) };
}

/** A Requester that retries like the real one (with short waits) and records every failed answer's kind. */
export function recordingRequester(): { request: Requester; failures: string[] } {
  const failures: string[] = [];
  const request: Requester = (what, fn) =>
    withRetry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          failures.push(`${what}: ${classifyError(err).kind}`);
          throw err;
        }
      },
      { baseMs: 5, maxMs: 50, attempts: 8 },
    );
  return { request, failures };
}

/**
 * A clock that only moves when the test says so. `sleeping()` resolves once some code is asleep
 * on it, so a test waits for the code under test to reach its sleep: an event, not a delay.
 */
export class FakeClock implements LeaseClock {
  #now: number;
  #sleepers: { until: number; resolve: () => void }[] = [];
  #waiters: (() => void)[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const entry = { until: this.#now + ms, resolve };
      this.#sleepers.push(entry);
      signal.addEventListener('abort', () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== entry);
        resolve();
      });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** How many sleeps are pending. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** Resolves when at least one sleep is pending. */
  sleeping(): Promise<void> {
    if (this.#sleepers.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Moves time forward and wakes every sleep that is due. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const s of due) s.resolve();
  }
}

/**
 * Resolves when `done(pods)` holds for the pods matching `labelSelector`, watching them (list,
 * then watch from its resourceVersion); rejects after `deadlineMs`.
 */
export async function waitForPods(
  sandbox: Pick<Sandbox, 'kubeconfig'> | { kubeconfig(): string },
  namespace: string,
  labelSelector: string,
  done: (pods: V1Pod[]) => boolean,
  deadlineMs = 30_000,
): Promise<V1Pod[]> {
  const { core, watch } = connect(sandbox);
  const list = await core.listNamespacedPod({ namespace, labelSelector });
  const pods = new Map(list.items.map((p) => [p.metadata!.name!, p]));
  if (done([...pods.values()])) return [...pods.values()];
  return new Promise<V1Pod[]>((resolve, reject) => {
    let req: { abort(): void } | null = null;
    const timer = setTimeout(() => {
      req?.abort();
      reject(new Error(`pods ${labelSelector} in ${namespace} did not reach the expected state within ${deadlineMs} ms: ${JSON.stringify([...pods.values()].map((p) => [p.metadata?.name, p.status?.phase]))}`));
    }, deadlineMs);
    void watch
      .watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { labelSelector, resourceVersion: list.metadata?.resourceVersion },
        (type: string, pod: V1Pod) => {
          if (type === 'DELETED') pods.delete(pod.metadata!.name!);
          else if (type !== 'BOOKMARK') pods.set(pod.metadata!.name!, pod);
          if (done([...pods.values()])) {
            clearTimeout(timer);
            req?.abort();
            resolve([...pods.values()]);
          }
        },
        () => {},
      )
      .then((r) => (req = r));
  });
}
