/**
 * Node registration and heartbeats, as the kubelet does them (pkg/kubelet/kubelet_node_status.go,
 * nodelease): create the Node with its status, keep a Lease in kube-node-lease renewed, post the
 * status again now and then. And what kube-controller-manager's node lifecycle controller would
 * do for a new node, since none runs: take off the `node.kubernetes.io/not-ready` taint that the
 * TaintNodesByCondition admission plugin puts on every new Node (NodeRestriction forbids a node
 * to change its own taints, so that takes the controller's credentials).
 */
import { randomUUID } from 'node:crypto';
import { release } from 'node:os';
import { ApiError, type ApiClient, type KubeObject } from './client.ts';
import { extendedAllocatable, type NodeSpec } from '../scheduler.ts';

/** The taint the TaintNodesByCondition admission plugin adds to every new Node. */
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';

/** The Lease's duration and how often it is renewed (the kubelet's defaults: 40 s, a quarter of it). */
const LEASE_SECONDS = 40;
const RENEW_MS = 10_000;
/** How often the status is posted when nothing changed (the kubelet: every 5 minutes). */
const STATUS_MS = 5 * 60_000;

/** Go's metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function seconds(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** What the node reports about itself besides its spec. */
export interface NodeFacts {
  /** The kubelet API's port (status.daemonEndpoints.kubeletEndpoint.Port). */
  kubeletPort: number;
  /** The version the node reports as its kubelet's (the API server's, as a kubelet of the same release). */
  kubeletVersion: string;
}

/** The Node object the kubelet registers: labels, taints, capacity, addresses, conditions, node info. */
export function nodeObject(spec: NodeSpec, facts: NodeFacts): KubeObject {
  const arch = ARCH[process.arch] ?? process.arch;
  const resources = {
    cpu: spec.allocatable?.cpu ?? '64',
    memory: spec.allocatable?.memory ?? '256Gi',
    pods: spec.allocatable?.pods ?? '110',
    'ephemeral-storage': '100Gi',
    ...extendedAllocatable(spec),
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': arch,
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': arch,
        ...spec.labels,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: spec.taints?.length ? { taints: spec.taints } : {},
    status: nodeStatus(spec.name, resources, facts, arch),
  };
}

function nodeStatus(name: string, resources: Record<string, string>, facts: NodeFacts, arch: string): Record<string, unknown> {
  const t = seconds();
  const cond = (type: string, status: string, reason: string, message: string): Record<string, string> => ({
    type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t,
  });
  return {
    capacity: resources,
    allocatable: resources,
    conditions: [
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ],
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: name }],
    daemonEndpoints: { kubeletEndpoint: { Port: facts.kubeletPort } },
    nodeInfo: {
      machineID: randomUUID().replaceAll('-', ''),
      systemUUID: randomUUID(),
      bootID: randomUUID(),
      kernelVersion: release(),
      osImage: 'pod-dag-action node agent (containers run as local processes)',
      containerRuntimeVersion: 'pod-dag-action://1',
      kubeletVersion: facts.kubeletVersion,
      operatingSystem: 'linux',
      architecture: arch,
    },
  };
}

/** A node registered by the agent: keeps its Lease renewed and its status posted until stopped. */
export class RegisteredNode {
  readonly name: string;
  readonly #client: ApiClient;
  readonly #object: KubeObject;
  #uid = '';
  #timers: NodeJS.Timeout[] = [];
  #onError: (err: Error) => void;

  constructor(client: ApiClient, object: KubeObject, onError: (err: Error) => void) {
    this.name = object.metadata.name;
    this.#client = client;
    this.#object = object;
    this.#onError = onError;
  }

  /**
   * Creates the Node (or takes over one of that name), posts its status, takes off the not-ready
   * taint with `controller` and creates its Lease. Resolves when the Node is Ready and untainted.
   */
  async register(controller: ApiClient | undefined): Promise<void> {
    try {
      await this.#client.request('POST', '/api/v1/nodes', this.#object);
    } catch (err) {
      // A Node of that name exists (an earlier run): take it over, as a restarted kubelet does.
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
    // Create keeps the status on a real API server, but a Node that existed keeps its old one.
    const node = await this.#postStatus();
    this.#uid = node.metadata.uid ?? '';
    const taints = ((node.spec as { taints?: { key: string }[] } | undefined)?.taints ?? []);
    if (taints.some((t) => t.key === NOT_READY_TAINT)) {
      if (!controller) {
        throw new Error(`node ${this.name} has the taint ${NOT_READY_TAINT} (the TaintNodesByCondition admission plugin adds it to every new Node, and kube-controller-manager would take it off once the node is Ready), and the node may not change its own taints (NodeRestriction): give startNodeAgent \`controller\` credentials allowed to patch nodes, or start kube-apiserver with --disable-admission-plugins=TaintNodesByCondition`);
      }
      await controller.request('PATCH', `/api/v1/nodes/${this.name}`, {
        metadata: { resourceVersion: node.metadata.resourceVersion },
        spec: { taints: taints.filter((t) => t.key !== NOT_READY_TAINT) },
      }, 'application/merge-patch+json');
    }
    await this.#renewLease();
    this.#timers.push(setInterval(() => void this.#renewLease().catch(this.#onError), RENEW_MS));
    this.#timers.push(setInterval(() => void this.#postStatus().catch(this.#onError), STATUS_MS));
    for (const t of this.#timers) t.unref();
  }

  #postStatus(): Promise<KubeObject> {
    const status = this.#object.status as Record<string, unknown>;
    const t = seconds();
    status.conditions = (status.conditions as Record<string, string>[]).map((c) => ({ ...c, lastHeartbeatTime: t }));
    return this.#client.request('PATCH', `/api/v1/nodes/${this.name}/status`, { status }, 'application/merge-patch+json');
  }

  async #renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.name}`;
    const spec = { holderIdentity: this.name, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime() };
    try {
      await this.#client.request('PATCH', path, { spec }, 'application/merge-patch+json');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
      await this.#client.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: this.name,
          namespace: 'kube-node-lease',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.name, uid: this.#uid }],
        },
        spec,
      });
    }
  }

  /** Stops the heartbeats (the Node and its Lease stay, as a stopped kubelet leaves them). */
  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
