/**
 * The sandbox's node agent: the scheduler, and the kubelet (kubelet.ts, shared with the node agent
 * for a real API server) for every sandbox node. It watches the store, binds new pods to nodes,
 * and hands them to the kubelet, whose status writes, events and deletions go to the store: one
 * store update, so one watch event with a new resourceVersion, per transition.
 *
 * Invariant: the agent never reacts inside a store listener; it defers with setImmediate, so
 * every watcher sees a change before the changes it causes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { EnvLookup } from './env.ts';
import { Kubelet, type KubeletHost, type PodRef } from './kubelet.ts';
import type { LogStore } from './logs.ts';
import { TERMINAL } from './pod-status.ts';
import { now, scriptedImage, type ImageSpec } from './runtime.ts';
import { Later } from './later.ts';
import { podRequests, schedule, type NodeSpec, type NodeUsage, type SchedPod } from './scheduler.ts';
import type { KObject } from './selectors.ts';
import type { Change, Store } from './store.ts';

export type { ImageSpec } from './runtime.ts';

/** How the agent is set up. */
export interface AgentOptions {
  store: Store;
  logs: LogStore;
  nodes: NodeSpec[];
  scale: boolean;
  images: Record<string, ImageSpec>;
  /** First CrashLoopBackOff delay; doubles per restart up to 10x. */
  restartBackoffMs: number;
  /** Whether to record core/v1 Events (Scheduled, Pulled, Started, Killing...). */
  events: boolean;
  /** The API's address, given to containers as KUBERNETES_SERVICE_HOST/PORT. */
  apiHost: string;
  apiPort: number;
}

interface Container {
  image: string;
}

/** Schedules and runs pods for the sandbox. */
export class NodeAgent {
  #o: AgentOptions;
  #kubelet: Kubelet;
  #host: KubeletHost;
  /** Pods waiting for a node: uid → namespace and name, in creation order. */
  #unschedulable = new Map<string, { ns: string; name: string }>();
  /** Pods bound to a node and not finished: uid → node and requests (the scheduler's cache). */
  #placed = new Map<string, { node: string; cpu: number; memory: number; extended: Record<string, number> }>();
  #retryQueued = false;
  #unsubscribe: () => void;
  #later = new Later();
  #ipCounter = 1;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#kubelet = new Kubelet(options);
    const store = options.store;
    this.#host = {
      pod: (ref) => this.#getPod(ref.ns, ref.name, ref.uid),
      writeStatus: (_ref, pod, status) => void store.update('pods', { ...pod, status }),
      event: (ref, node, type, reason, message, fieldPath) => this.#event(ref, type, reason, message, 'kubelet', fieldPath, node),
      remove: (ref) => this.#removeNow(ref.ns, ref.name, ref.uid),
      envSources: (ref): EnvLookup => ({
        secret: (n) => store.get('secrets', ref.ns, n),
        configMap: (n) => store.get('configmaps', ref.ns, n),
      }),
    };
    this.#unsubscribe = options.store.subscribe((c) => this.#onChange(c));
  }

  /** How many containers were started (per pod name, or in total). */
  containerStarts(podName?: string): number {
    return this.#kubelet.containerStarts(podName);
  }

  #defer(fn: () => void): void {
    this.#later.run(fn);
  }

  #onChange(c: Change): void {
    if (c.resource === 'pods') {
      const pod = c.object;
      const uid = pod.metadata.uid!;
      if (c.type === 'ADDED') {
        this.#defer(() => this.#admit(pod.metadata.namespace!, pod.metadata.name, uid));
      } else if (c.type === 'MODIFIED') {
        if (pod.metadata.deletionTimestamp && !c.prev?.metadata.deletionTimestamp) {
          const grace = Number(pod.metadata.deletionGracePeriodSeconds ?? 30);
          if (this.#kubelet.has(uid)) this.#kubelet.terminate(uid, grace);
          else this.#defer(() => this.#removeNow(pod.metadata.namespace!, pod.metadata.name, uid));
        } else if (!this.#kubelet.has(uid) && !(pod.spec as SchedPod & { nodeName?: string }).nodeName && this.#unschedulable.has(uid)) {
          // A spec change (tolerations added) may make it fit now.
          this.#defer(() => this.#admit(pod.metadata.namespace!, pod.metadata.name, uid));
        }
        const phase = (pod.status as { phase?: string } | undefined)?.phase;
        const prevPhase = (c.prev?.status as { phase?: string } | undefined)?.phase;
        if (phase && TERMINAL.has(phase) && !TERMINAL.has(prevPhase ?? '')) {
          this.#placed.delete(uid);
          this.#queueRetry();
        }
      } else {
        this.#unschedulable.delete(uid);
        this.#placed.delete(uid);
        this.#kubelet.discard(uid);
        this.#queueRetry();
      }
    } else if ((c.resource === 'secrets' || c.resource === 'configmaps') && c.type !== 'DELETED') {
      this.#kubelet.retryConfigErrors(c.object.metadata.namespace!);
    }
  }

  #getPod(ns: string, name: string, uid: string): KObject | undefined {
    const pod = this.#o.store.get('pods', ns, name);
    return pod && pod.metadata.uid === uid ? pod : undefined;
  }

  #event(pod: PodRef, type: 'Normal' | 'Warning', reason: string, message: string, component: string, fieldPath?: string, host?: string): void {
    if (!this.#o.events || this.#later.closed) return;
    const ts = now();
    const involvedObject: Record<string, string> = { kind: 'Pod', namespace: pod.ns, name: pod.name, uid: pod.uid, apiVersion: 'v1' };
    if (fieldPath) involvedObject.fieldPath = fieldPath;
    const source: Record<string, string> = { component };
    if (host) source.host = host;
    this.#o.store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.name}.${randomBytes(8).toString('hex')}`, namespace: pod.ns, uid: randomUUID(), creationTimestamp: ts },
      involvedObject, reason, message, source, type,
      firstTimestamp: ts, lastTimestamp: ts, count: 1,
      reportingComponent: component, reportingInstance: host ?? '',
    });
  }

  /** What is placed on `node`: pods bound to it that have not finished or gone. */
  #usage(node: string): NodeUsage {
    const u = { cpu: 0, memory: 0, pods: 0, extended: {} as Record<string, number> };
    for (const p of this.#placed.values()) {
      if (p.node !== node) continue;
      u.cpu += p.cpu;
      u.memory += p.memory;
      u.pods++;
      for (const [k, n] of Object.entries(p.extended)) u.extended[k] = (u.extended[k] ?? 0) + n;
    }
    return u;
  }

  /** Retries pending pods once per burst of freed capacity, not once per freed pod. */
  #queueRetry(): void {
    if (this.#retryQueued || this.#unschedulable.size === 0) return;
    this.#retryQueued = true;
    this.#defer(() => {
      this.#retryQueued = false;
      this.#retryUnschedulable();
    });
  }

  #retryUnschedulable(): void {
    for (const [uid, { ns, name }] of [...this.#unschedulable]) {
      if (!this.#getPod(ns, name, uid)) this.#unschedulable.delete(uid);
      else this.#admit(ns, name, uid);
    }
  }

  /** Schedules a new pod (or takes one created with spec.nodeName) and hands it to the kubelet. */
  #admit(ns: string, name: string, uid: string): void {
    let pod = this.#getPod(ns, name, uid);
    if (!pod || this.#kubelet.has(uid) || pod.metadata.deletionTimestamp) return;
    const spec = pod.spec as SchedPod & { nodeName?: string; containers: Container[]; initContainers?: Container[] };
    let node = spec.nodeName;
    const ref = { ns, name, uid };
    if (!node) {
      const neverFits = [...(spec.initContainers ?? []), ...spec.containers].some((c) => scriptedImage(c.image)?.kind === 'never-scheduled');
      const result = schedule(spec, this.#o.nodes, (n) => this.#usage(n), neverFits);
      if ('message' in result) {
        const already = this.#unschedulable.has(uid);
        this.#unschedulable.set(uid, { ns, name });
        const status = (pod.status ?? {}) as { conditions?: { type: string; message?: string }[] };
        const current = status.conditions?.find((c) => c.type === 'PodScheduled');
        if (current?.message !== result.message) {
          this.#o.store.update('pods', {
            ...pod,
            status: {
              ...status,
              phase: 'Pending',
              conditions: [{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: now(), reason: 'Unschedulable', message: result.message }],
            },
          });
        }
        if (!already || current?.message !== result.message) this.#event(ref, 'Warning', 'FailedScheduling', result.message, 'default-scheduler');
        return;
      }
      this.#unschedulable.delete(uid);
      node = result.node;
      pod = this.#o.store.update('pods', {
        ...pod,
        spec: { ...spec, nodeName: node },
        status: {
          ...(pod.status as object),
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() }],
        },
      });
      this.#event(ref, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node}`, 'default-scheduler');
    }
    if (!TERMINAL.has((pod.status as { phase?: string } | undefined)?.phase ?? '')) this.#placed.set(uid, { node, ...podRequests(spec) });
    const nodeIndex = Math.max(0, this.#o.nodes.findIndex((n) => n.name === node));
    const ip = this.#ipCounter++;
    this.#kubelet.run(pod, { node, hostIP: `10.0.0.${nodeIndex + 1}`, podIP: `10.244.${nodeIndex}.${(ip % 250) + 2}` }, this.#host);
  }

  #removeNow(ns: string, name: string, uid: string): void {
    if (this.#getPod(ns, name, uid)) this.#o.store.remove('pods', ns, name);
  }

  /** Evicts a running pod as the kubelet does under node pressure; false if it is not running here. */
  evict(ns: string, name: string): boolean {
    return this.#kubelet.evict(ns, name);
  }

  /** Kills every process, clears every timer, removes temp files. */
  async close(): Promise<void> {
    this.#later.close();
    this.#unsubscribe();
    await this.#kubelet.close();
  }
}
