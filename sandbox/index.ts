/**
 * The sandbox cluster: a Kubernetes API server over HTTPS with a node agent that runs pods as
 * local processes or scripted behaviours. Tests start one with `startSandbox()`; see README.md.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { stringify } from 'yaml';
import { applyDefaults, defaultServiceAccount } from './admission.ts';
import { NodeAgent, type ImageSpec } from './agent.ts';
import { makeCerts } from './certs.ts';
import { Counters, Faults } from './faults.ts';
import { LogStore } from './logs.ts';
import type { Rule, User } from './rbac.ts';
import { coreResource } from './resources.ts';
import { allocatable, extendedAllocatable, type NodeSpec } from './scheduler.ts';
import type { KObject } from './selectors.ts';
import { handle, type RequestObserver, type ServerContext } from './server.ts';
import { Store } from './store.ts';

export type { NodeSpec } from './scheduler.ts';
export type { Rule } from './rbac.ts';
export type { ImageSpec } from './agent.ts';
export type { Faults, Counters, FaultMatch } from './faults.ts';
export type { RequestEvent, RequestObserver } from './server.ts';

/** How to set up a sandbox. Every field is optional. */
export interface SandboxOptions {
  /** The cluster's nodes; default one node "sandbox-node-1" with 64 cores, 256Gi, 10000 pods, no taints. */
  nodes?: NodeSpec[];
  /** Namespaces that exist at start; default ["default"]. */
  namespaces?: string[];
  /** Scripted containers only: any image that is not a `sandbox/...` name behaves as `sandbox/succeed`. */
  scale?: boolean;
  /** Process mode: what an image "contains" (working directory, PATH, env) when run locally. */
  images?: Record<string, ImageSpec>;
  /** Changes kept for watch resumption before a watch gets 410 Expired; default 5000. */
  historyLimit?: number;
  /** BOOKMARK interval for watches that allow them; default 60 s, as kube-apiserver. */
  bookmarkIntervalSeconds?: number;
  /** First CrashLoopBackOff delay for restartPolicy Always/OnFailure; default 1000 ms (kubelet: 10 s). */
  restartBackoffMs?: number;
  /** Record core/v1 Events for pods; default true, false in scale mode. */
  events?: boolean;
  /** Port to listen on (loopback only); default a free one. */
  port?: number;
}

/** A running sandbox cluster. */
export interface Sandbox {
  /** https://127.0.0.1:<port> */
  url: string;
  /** The CA certificate (PEM) that signed the server certificate. */
  caPem: string;
  /** Bearer token of the all-powerful user "sandbox-admin". */
  adminToken: string;
  /** A kubeconfig (YAML) for this sandbox: admin by default, or the given token, user and namespace. */
  kubeconfig(opts?: { token?: string; namespace?: string; user?: string }): string;
  /** Adds a bearer-token user with RBAC-style rules; `name` is what 403 messages call it. */
  addUser(token: string, rules: Rule[], name?: string): void;
  /** Requests by verb and resource. */
  counters: Counters;
  /** TLS connections accepted since the start (a client that reuses connections opens few). */
  connections(): number;
  /** Fault injection. */
  faults: Faults;
  /**
   * Calls `listener` synchronously when an API request is received (routed and counted, before it
   * is handled) and when its response was handed to the socket; returns a function that stops it.
   */
  onRequest(listener: RequestObserver): () => void;
  /** Containers the node agent started, for one pod name or in total. */
  containerStarts(podName?: string): number;
  /** Creates a namespace and its `default` ServiceAccount (no-op if they exist). */
  createNamespace(name: string): void;
  /** Creates a ServiceAccount (no-op if it exists): a pod naming one that does not exist is refused (403). */
  createServiceAccount(namespace: string, name: string): void;
  /** Creates or replaces a secret from plain-text values. */
  createSecret(namespace: string, name: string, stringData: Record<string, string>): void;
  /** Creates or replaces a configmap. */
  createConfigMap(namespace: string, name: string, data: Record<string, string>): void;
  /**
   * Creates a pod at once, as another client (`manager`, its field manager) would; throws if one
   * of that name exists. For tests that must put a pod in place between two requests.
   */
  createPod(namespace: string, pod: KObject, manager?: string): KObject;
  /** Evicts a running pod as the kubelet does under memory pressure; false if it is not running. */
  evictPod(name: string, namespace?: string): boolean;
  /** Deletes a pod as another client would (graceful unless gracePeriodSeconds is 0); false if absent. */
  deletePod(name: string, namespace?: string, opts?: { gracePeriodSeconds?: number }): boolean;
  /** Reads any stored object, e.g. get("pods", "default", "x"), get("leases.coordination.k8s.io", ns, name). */
  get(resource: string, namespace: string | undefined, name: string): KObject | undefined;
  /** Lists stored objects of a resource, in one namespace or all. */
  list(resource: string, namespace?: string): KObject[];
  /** Stops serving, kills every container process, closes every connection. */
  close(): Promise<void>;
}

function nowTs(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Starts a sandbox cluster listening on 127.0.0.1. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const certs = makeCerts();
  const store = new Store(options.historyLimit ?? 5000);
  const logs = new LogStore();
  const nodes = options.nodes ?? [{ name: 'sandbox-node-1' }];
  const adminToken = randomBytes(24).toString('hex');
  const users = new Map<string, User>([[adminToken, { name: 'sandbox-admin', groups: ['system:masters'], rules: [{ namespaces: ['*'], verbs: ['*'], resources: ['*'], apiGroups: ['*'] }] }]]);
  const counters = new Counters();
  const faults = new Faults(() => store.forgetHistory());
  const streams = new Set<() => void>();
  const sockets = new Set<Socket>();
  let connections = 0;
  const holder: { ctx?: ServerContext } = {};
  const server: Server = createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    void handle(holder.ctx!, req, res);
  });
  server.on('secureConnection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  const agent = new NodeAgent({
    store, logs, nodes,
    scale: options.scale ?? false,
    images: options.images ?? {},
    restartBackoffMs: options.restartBackoffMs ?? 1000,
    events: options.events ?? !options.scale,
    apiHost: '127.0.0.1',
    apiPort: port,
  });
  holder.ctx = {
    store, logs, agent, users, faults, counters, streams,
    observers: new Set(),
    bookmarkIntervalMs: (options.bookmarkIntervalSeconds ?? 60) * 1000,
    kubernetesVersion: { major: '1', minor: '32', gitVersion: 'v1.32.0-sandbox' },
  };

  const create = (plural: string, obj: KObject): KObject => {
    const res = coreResource(plural);
    const full = applyDefaults(obj, res, nowTs());
    const existing = store.get(plural, obj.metadata.namespace, obj.metadata.name);
    if (existing) {
      return store.update(plural, { ...full, metadata: { ...full.metadata, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp } });
    }
    return store.create(plural, full);
  };
  const createNamespace = (name: string): void => {
    if (!store.get('namespaces', undefined, name)) create('namespaces', { metadata: { name } });
    // Its `default` ServiceAccount, as kube-controller-manager's service-account controller makes it.
    if (!store.get('serviceaccounts', name, 'default')) create('serviceaccounts', defaultServiceAccount(name));
  };
  for (const n of nodes) {
    const cap = allocatable(n);
    create('nodes', {
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...(n.labels ?? {}) } },
      spec: n.taints?.length ? { taints: n.taints } : {},
      status: {
        capacity: { cpu: String(cap.cpu), memory: n.allocatable?.memory ?? '256Gi', pods: String(cap.pods), ...extendedAllocatable(n) },
        allocatable: { cpu: n.allocatable?.cpu ?? String(cap.cpu), memory: n.allocatable?.memory ?? '256Gi', pods: String(cap.pods), ...extendedAllocatable(n) },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: nowTs(), lastTransitionTime: nowTs() }],
        addresses: [{ type: 'InternalIP', address: `10.0.0.${nodes.indexOf(n) + 1}` }, { type: 'Hostname', address: n.name }],
        nodeInfo: { kubeletVersion: 'v1.32.0-sandbox', containerRuntimeVersion: 'containerd://sandbox', operatingSystem: 'linux', architecture: 'amd64', osImage: 'sandbox', kernelVersion: '', kubeProxyVersion: '', machineID: '', systemUUID: '', bootID: '' },
      },
    });
  }
  for (const ns of options.namespaces ?? ['default']) createNamespace(ns);
  let userCount = 0;
  let closed: Promise<void> | undefined;

  return {
    url,
    caPem: certs.caPem,
    adminToken,
    kubeconfig(opts = {}) {
      const user = opts.user ?? (opts.token ? 'sandbox-user' : 'sandbox-admin');
      const context: Record<string, string> = { cluster: 'sandbox', user };
      if (opts.namespace) context.namespace = opts.namespace;
      return stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'sandbox', cluster: { server: url, 'certificate-authority-data': Buffer.from(certs.caPem).toString('base64') } }],
        users: [{ name: user, user: { token: opts.token ?? adminToken } }],
        contexts: [{ name: 'sandbox', context }],
        'current-context': 'sandbox',
        preferences: {},
      });
    },
    addUser(token, rules, name) {
      users.set(token, { name: name ?? `sandbox-user-${++userCount}`, groups: ['system:authenticated'], rules });
    },
    counters,
    connections: () => connections,
    faults,
    onRequest(listener) {
      const observers = holder.ctx!.observers;
      observers.add(listener);
      return () => void observers.delete(listener);
    },
    containerStarts: (podName) => agent.containerStarts(podName),
    createNamespace,
    createServiceAccount(namespace, name) {
      if (!store.get('serviceaccounts', namespace, name)) create('serviceaccounts', { metadata: { name, namespace } });
    },
    createSecret(namespace, name, stringData) {
      create('secrets', { metadata: { name, namespace }, stringData });
    },
    createConfigMap(namespace, name, data) {
      create('configmaps', { metadata: { name, namespace }, data });
    },
    createPod(namespace, pod, manager = 'sandbox-test') {
      if (store.get('pods', namespace, pod.metadata.name)) throw new Error(`createPod: pod ${namespace}/${pod.metadata.name} exists`);
      const full = applyDefaults({ ...pod, metadata: { ...pod.metadata, namespace } }, coreResource('pods'), nowTs());
      full.metadata.managedFields = [{ manager, operation: 'Update', apiVersion: 'v1', time: full.metadata.creationTimestamp, fieldsType: 'FieldsV1', fieldsV1: {} }];
      return store.create('pods', full);
    },
    evictPod: (name, namespace = 'default') => agent.evict(namespace, name),
    deletePod(name, namespace = 'default', opts = {}) {
      const pod = store.get('pods', namespace, name);
      if (!pod) return false;
      const spec = pod.spec as { nodeName?: string; terminationGracePeriodSeconds?: number };
      const phase = (pod.status as { phase?: string }).phase;
      let grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
      if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
      if (grace === 0) store.remove('pods', namespace, name);
      else if (!pod.metadata.deletionTimestamp) {
        store.update('pods', { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z'), deletionGracePeriodSeconds: grace } });
      }
      return true;
    },
    get: (resource, namespace, name) => store.get(resource, namespace, name),
    list: (resource, namespace) => store.list(resource, namespace),
    close() {
      closed ??= (async () => {
        for (const end of [...streams]) end();
        streams.clear();
        await agent.close();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        for (const s of sockets) s.destroy();
        await done;
      })();
      return closed;
    },
  };
}
