/**
 * One node's pods, as the kubelet's pod config and status manager see them through the API: a
 * list and watch of the pods bound to the node (field selector spec.nodeName), handed to the
 * shared kubelet; status written through pods/status (a merge patch carrying the uid, as the
 * kubelet's patch does, so it cannot land on a pod recreated under the same name), events as core
 * v1 Events, and the final delete with grace period 0 and a uid precondition. A pod's writes go
 * out one after another, in the order the kubelet made them.
 */
import { randomBytes } from 'node:crypto';
import { ApiError, type ApiClient, type KubeObject, type WatchHandle } from './client.ts';
import type { EnvLookup } from '../env.ts';
import type { Kubelet, KubeletHost, PodRef } from '../kubelet.ts';
import { TERMINAL } from '../pod-status.ts';
import type { KObject } from '../selectors.ts';

/** How one node's pods are watched and run. */
export interface NodePodsOptions {
  client: ApiClient;
  node: string;
  /** The node's place among the agent's nodes: pod IPs are 10.244.<index>.x. */
  nodeIndex: number;
  kubelet: Kubelet;
  onError: (err: Error) => void;
  /** Whether to send the kubelet's Events. */
  events: boolean;
}

/** How long to wait before watching again after a watch failed (not a 410). */
const REWATCH_MS = 1000;

interface PodSpecLike {
  containers: ContainerLike[];
  initContainers?: ContainerLike[];
}

interface ContainerLike {
  env?: { valueFrom?: { secretKeyRef?: { name: string }; configMapKeyRef?: { name: string } } }[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
}

/** Watches one node's pods and runs them with the kubelet. */
export class NodePods {
  readonly #o: NodePodsOptions;
  /** The pods bound to the node, by uid, as last seen. */
  readonly #pods = new Map<string, KubeObject>();
  /** "namespace/name" → the uid of the pod of that name seen last (for the kubelet API). */
  readonly #byName = new Map<string, string>();
  /** Each pod's writes (status, events, the delete), chained. */
  readonly #writes = new Map<string, Promise<void>>();
  readonly #terminating = new Set<string>();
  /** Pods an earlier agent started, reported lost. */
  readonly #lost = new Set<string>();
  readonly #host: KubeletHost;
  #rv = '';
  #watch?: WatchHandle;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #ips = 1;

  constructor(options: NodePodsOptions) {
    this.#o = options;
    this.#host = {
      pod: (ref) => this.#get(ref),
      writeStatus: (ref, _pod, status) => this.#chain(ref, () => this.#patchStatus(ref, status)),
      event: (ref, node, type, reason, message, fieldPath) => {
        if (options.events) this.#chain(ref, () => this.#event(ref, node, type, reason, message, fieldPath));
      },
      remove: (ref) => this.#chain(ref, () => this.#delete(ref)),
      envSources: (ref, pod) => this.#envSources(ref, pod),
    };
  }

  /** A pod on this node by namespace and name, as last seen. */
  get(ns: string, name: string): KObject | undefined {
    const uid = this.#byName.get(`${ns}/${name}`);
    return uid === undefined ? undefined : (this.#pods.get(uid) as KObject | undefined);
  }

  #get(ref: PodRef): KObject | undefined {
    return this.#pods.get(ref.uid) as KObject | undefined;
  }

  #path(ref: PodRef): string {
    return `/api/v1/namespaces/${encodeURIComponent(ref.ns)}/pods/${encodeURIComponent(ref.name)}`;
  }

  /** Lists the node's pods and watches them from there on; resolves after the list. */
  async start(): Promise<void> {
    await this.#list();
  }

  #collection(): string {
    return `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.#o.node}`)}`;
  }

  async #list(): Promise<void> {
    const list = await this.#o.client.request<{ metadata: { resourceVersion: string }; items: KubeObject[] }>('GET', this.#collection());
    if (this.#stopped) return;
    const present = new Set(list.items.map((p) => p.metadata.uid!));
    for (const uid of [...this.#pods.keys()]) if (!present.has(uid)) this.#gone(uid);
    for (const p of list.items) this.#seen(p);
    this.#rv = list.metadata.resourceVersion;
    this.#startWatch();
  }

  #startWatch(): void {
    if (this.#stopped) return;
    let expired = false;
    this.#watch = this.#o.client.watch(this.#collection(), this.#rv, (e) => {
      if (e.type === 'ERROR') {
        if (e.object.code === 410) expired = true;
        else this.#o.onError(new Error(`watch of node ${this.#o.node}'s pods: ${e.object.message ?? JSON.stringify(e.object)}`));
        return;
      }
      this.#rv = e.object.metadata.resourceVersion ?? this.#rv;
      if (e.type === 'BOOKMARK') return;
      if (e.type === 'DELETED') this.#gone(e.object.metadata.uid!);
      else this.#seen(e.object);
    }, (err) => {
      if (this.#stopped) return;
      if (expired || (err instanceof ApiError && err.code === 410)) {
        this.#retry(() => this.#list());
      } else if (err) {
        this.#o.onError(err);
        this.#timer = setTimeout(() => this.#retry(() => this.#list()), REWATCH_MS);
      } else {
        this.#startWatch();
      }
    });
  }

  #retry(fn: () => Promise<void>): void {
    if (this.#stopped) return;
    fn().catch((err: Error) => {
      this.#o.onError(err);
      if (!this.#stopped) this.#timer = setTimeout(() => this.#retry(fn), REWATCH_MS);
    });
  }

  /** A pod was added or changed: run it, or stop it when it is being deleted. */
  #seen(pod: KubeObject): void {
    const uid = pod.metadata.uid!;
    const known = this.#pods.get(uid);
    // A status patch's answer may have been taken in already: never go back to an older object.
    if (known && Number(known.metadata.resourceVersion) > Number(pod.metadata.resourceVersion)) return;
    this.#pods.set(uid, pod);
    this.#byName.set(`${pod.metadata.namespace}/${pod.metadata.name}`, uid);
    const ref = { ns: pod.metadata.namespace!, name: pod.metadata.name, uid };
    const phase = (pod.status as { phase?: string } | undefined)?.phase ?? '';
    const kubelet = this.#o.kubelet;
    if (pod.metadata.deletionTimestamp) {
      if (this.#terminating.has(uid)) return;
      this.#terminating.add(uid);
      if (kubelet.has(uid)) kubelet.terminate(uid, Number(pod.metadata.deletionGracePeriodSeconds ?? 30));
      // Never run here (or finished before this agent started): nothing to stop.
      else this.#chain(ref, () => this.#delete(ref));
      return;
    }
    if (!kubelet.has(uid) && !TERMINAL.has(phase)) {
      const status = (pod.status ?? {}) as { startTime?: string };
      if (status.startTime && (pod.spec as { restartPolicy?: string }).restartPolicy === 'Never') {
        // Started by an earlier agent, whose processes died with it (as containers die with a
        // rebooted node): report them lost, as the kubelet does, rather than run the pod twice.
        if (!this.#lost.has(uid)) {
          this.#lost.add(uid);
          this.#chain(ref, () => this.#patchStatus(ref, lostStatus(pod)));
        }
        return;
      }
      const ip = this.#ips++;
      kubelet.run(pod as KObject, { node: this.#o.node, hostIP: '127.0.0.1', podIP: `10.244.${this.#o.nodeIndex}.${(ip % 250) + 2}` }, this.#host);
    }
  }

  #gone(uid: string): void {
    const pod = this.#pods.get(uid);
    const key = pod && `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (key && this.#byName.get(key) === uid) this.#byName.delete(key);
    this.#pods.delete(uid);
    this.#terminating.delete(uid);
    this.#lost.delete(uid);
    this.#o.kubelet.discard(uid);
  }

  /** Runs `fn` after the pod's earlier writes; failures are reported, and do not stop later writes. */
  #chain(ref: PodRef, fn: () => Promise<void>): void {
    const prev = this.#writes.get(ref.uid) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: Error) => {
      // The pod is gone (404) or was replaced (409 on the uid): the kubelet's write no longer matters.
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
      this.#o.onError(err);
    });
    this.#writes.set(ref.uid, next);
    void next.then(() => {
      if (this.#writes.get(ref.uid) === next) this.#writes.delete(ref.uid);
    });
  }

  async #patchStatus(ref: PodRef, status: Record<string, unknown>): Promise<void> {
    if (this.#stopped) return;
    const pod = await this.#o.client.request('PATCH', `${this.#path(ref)}/status`, { metadata: { uid: ref.uid }, status }, 'application/merge-patch+json');
    if (this.#pods.has(ref.uid)) this.#seenQuietly(pod);
  }

  /** Takes in a pod from a write's answer (it may be newer than the watch's last event). */
  #seenQuietly(pod: KubeObject): void {
    const known = this.#pods.get(pod.metadata.uid!);
    if (known && Number(known.metadata.resourceVersion) >= Number(pod.metadata.resourceVersion)) return;
    if (pod.metadata.deletionTimestamp && !known?.metadata.deletionTimestamp) return this.#seen(pod);
    this.#pods.set(pod.metadata.uid!, pod);
  }

  async #event(ref: PodRef, node: string, type: string, reason: string, message: string, fieldPath: string): Promise<void> {
    if (this.#stopped) return;
    const ts = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.#o.client.request('POST', `/api/v1/namespaces/${encodeURIComponent(ref.ns)}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${ref.name}.${randomBytes(8).toString('hex')}`, namespace: ref.ns },
      involvedObject: { kind: 'Pod', namespace: ref.ns, name: ref.name, uid: ref.uid, apiVersion: 'v1', fieldPath },
      reason, message, type,
      source: { component: 'kubelet', host: node },
      firstTimestamp: ts, lastTimestamp: ts, count: 1,
      reportingComponent: 'kubelet', reportingInstance: node,
    });
  }

  async #delete(ref: PodRef): Promise<void> {
    if (this.#stopped) return;
    await this.#o.client.request('DELETE', this.#path(ref), {
      apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: ref.uid },
    });
  }

  /** Fetches the secrets and configmaps the pod's containers refer to; a missing one is simply absent. */
  async #envSources(ref: PodRef, pod: KObject): Promise<EnvLookup> {
    const spec = pod.spec as PodSpecLike;
    const secrets = new Set<string>();
    const configMaps = new Set<string>();
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
        if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
      }
      for (const e of c.envFrom ?? []) {
        if (e.secretRef) secrets.add(e.secretRef.name);
        if (e.configMapRef) configMaps.add(e.configMapRef.name);
      }
    }
    const fetch = async (resource: string, name: string): Promise<[string, KObject | undefined]> => {
      // The node authorizer learns that this pod is bound here from its own watch, a moment after
      // the agent does: until then it refuses (403) what the pod refers to. Ask again for a while,
      // as the kubelet waits for its secret and configmap caches to sync before it gives up.
      for (let wait = 25; ; wait *= 2) {
        try {
          return [name, await this.#o.client.request<KObject>('GET', `/api/v1/namespaces/${encodeURIComponent(ref.ns)}/${resource}/${encodeURIComponent(name)}`)];
        } catch (err) {
          // 404, or 403 after the waits: the node authorizer also refuses a missing object before it is looked up.
          if (err instanceof ApiError && err.code === 403 && wait <= 800) {
            await new Promise((resolve) => setTimeout(resolve, wait));
            continue;
          }
          if (err instanceof ApiError && (err.code === 404 || err.code === 403)) return [name, undefined];
          throw err;
        }
      }
    };
    const [s, cm] = await Promise.all([
      Promise.all([...secrets].map((n) => fetch('secrets', n))),
      Promise.all([...configMaps].map((n) => fetch('configmaps', n))),
    ]);
    const secretMap = new Map(s);
    const configMapMap = new Map(cm);
    return { secret: (n) => secretMap.get(n), configMap: (n) => configMapMap.get(n) };
  }

  /** Stops watching; writes still queued are dropped. */
  stop(): void {
    this.#stopped = true;
    this.#watch?.close();
    if (this.#timer) clearTimeout(this.#timer);
  }
}

/**
 * The status of a restartPolicy Never pod whose containers are gone (an earlier agent ran them):
 * each container not terminated is terminated with exit code 137 and reason
 * ContainerStatusUnknown, and the pod Failed, as pkg/kubelet/kubelet_pods.go reports containers
 * that could not be located.
 */
function lostStatus(pod: KubeObject): Record<string, unknown> {
  const status = (pod.status ?? {}) as { containerStatuses?: Record<string, unknown>[]; initContainerStatuses?: Record<string, unknown>[]; conditions?: { type: string }[] };
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const lost = (cs: Record<string, unknown>): Record<string, unknown> => {
    const state = cs.state as { terminated?: unknown } | undefined;
    if (state?.terminated) return cs;
    return {
      ...cs, ready: false, started: false,
      state: { terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', finishedAt: now } },
    };
  };
  const notReady = new Set(['Ready', 'ContainersReady', 'PodReadyToStartContainers']);
  return {
    phase: 'Failed',
    conditions: (status.conditions ?? []).map((c) => (notReady.has(c.type) ? { ...c, status: 'False', reason: c.type === 'PodReadyToStartContainers' ? undefined : 'PodCompleted', lastTransitionTime: now } : c)),
    ...(status.initContainerStatuses ? { initContainerStatuses: status.initContainerStatuses.map(lost) } : {}),
    containerStatuses: (status.containerStatuses ?? []).map(lost),
  };
}
