/**
 * The node agent for a real kube-apiserver: a kubelet for each of its nodes, as sigs.k8s.io/kwok
 * fakes one, but running the containers (local processes or the sandbox's scripted behaviours,
 * with the sandbox agent's own code). It registers the Nodes and keeps them Ready, runs the pods
 * the scheduler binds to them, writes their status through pods/status, sends the kubelet's
 * events, serves containerLogs over HTTPS for the API server's pods/log proxy, and honours
 * graceful deletion. See sandbox/README.md, "The node agent for a real API server".
 */
import { ApiClient, type Credentials } from './client.ts';
import { RegisteredNode, nodeObject } from './nodes.ts';
import { NodePods } from './pods.ts';
import { startKubeletServer, type KubeletServer } from './server.ts';
import { Kubelet } from '../kubelet.ts';
import { LogStore } from '../logs.ts';
import type { ImageSpec } from '../runtime.ts';
import type { NodeSpec } from '../scheduler.ts';

export type { Credentials } from './client.ts';

/**
 * Issues certificates signed by a CA the API server trusts (structurally sandbox/certs.ts's
 * CertificateAuthority): `client` for a client certificate, else a serving one.
 */
export interface CertificateIssuer {
  /** The CA's certificate (PEM). */
  caPem: string;
  issue(request: { commonName: string; organizations?: string[]; ips?: string[]; dnsNames?: string[]; client?: boolean }): { certPem: string; keyPem: string };
}

/** How often containers that lacked a secret or configmap are tried again (the kubelet re-syncs a pod that failed within seconds). */
const CONFIG_RETRY_MS = 2000;

/** How to start the node agent. */
export interface NodeAgentOptions {
  /** The API server's URL, e.g. https://127.0.0.1:6443. */
  server: string;
  /** The CA (PEM) that signed the API server's serving certificate. */
  caPem: string;
  /**
   * A CA the API server trusts for client certificates (its --client-ca-file): the agent issues
   * each node's certificate (CN=system:node:<name>, O=system:nodes) and the kubelet API's serving
   * certificate (127.0.0.1) with it. Give it, or both `nodeCredentials` and `kubeletServing`.
   */
  clientCa?: CertificateIssuer;
  /** Each node's own credentials, when the agent does not issue them from `clientCa`. */
  nodeCredentials?: (node: string) => Credentials;
  /**
   * Credentials for what kube-controller-manager would do for a new node (take off the
   * node.kubernetes.io/not-ready taint); an admin will do. Not needed when kube-apiserver runs
   * with --disable-admission-plugins=TaintNodesByCondition.
   */
  controller?: Credentials;
  /** The nodes: name, labels, taints, allocatable (default 64 CPU, 256Gi, 110 pods). Default one node "node-1". */
  nodes?: NodeSpec[];
  /**
   * The kubelet API (GET /containerLogs/...) over HTTPS on 127.0.0.1, one server for every node.
   * `port` default a free one; the serving certificate and key (default issued from `clientCa`);
   * `clientCaPem`: client certificates the server accepts (the API server's
   * --kubelet-client-certificate must be signed by it; default `clientCa`'s certificate).
   */
  kubeletServing?: { port?: number; certPem?: string; keyPem?: string; clientCaPem?: string };
  /** What a locally run image "contains" (working directory, PATH, env), as in the sandbox. */
  images?: Record<string, ImageSpec>;
  /** Every image that is not `sandbox/...` behaves as `sandbox/succeed`; no process is spawned. */
  scale?: boolean;
  /** Send the kubelet's Events (Pulled, Created, Started, Killing...); default true, false in scale mode. */
  events?: boolean;
  /** First CrashLoopBackOff delay (doubles per restart, up to 10x); default 10 s, as the kubelet. */
  restartBackoffMs?: number;
  /** Called with errors of the background work (heartbeats, status writes, watches) that the agent retried or gave up on; default prints to stderr. */
  onError?: (err: Error) => void;
}

/** A running node agent. */
export interface NodeAgent {
  /** The registered nodes' names. */
  nodes: string[];
  /** The kubelet API's port on 127.0.0.1 (every node's status.daemonEndpoints.kubeletEndpoint.Port). */
  kubeletPort: number;
  /** Containers started, for one pod name or in total (a task that ran twice shows 2). */
  containerStarts(podName?: string): number;
  /** Stops every container (SIGKILL), the watches, heartbeats and the kubelet API; Nodes stay registered. */
  close(): Promise<void>;
}

/**
 * Registers the nodes and runs the pods bound to them until `close()`. Resolves once every node
 * is Ready, untainted and watching its pods.
 */
export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const specs = options.nodes ?? [{ name: 'node-1' }];
  const report = options.onError ?? ((err: Error) => console.error(`node agent: ${err.message}`));
  let closing = false;
  // Requests cut short by close() are not failures worth reporting.
  const onError = (err: Error): void => {
    if (!closing) report(err);
  };
  const credentials = (node: string): Credentials => {
    if (options.nodeCredentials) return options.nodeCredentials(node);
    if (!options.clientCa) throw new Error('startNodeAgent: give clientCa (to issue node certificates) or nodeCredentials');
    return options.clientCa.issue({ commonName: `system:node:${node}`, organizations: ['system:nodes'], client: true });
  };
  let serving = options.kubeletServing ?? {};
  if (!serving.certPem || !serving.keyPem) {
    if (!options.clientCa) throw new Error('startNodeAgent: give clientCa (to issue the kubelet API\'s serving certificate) or kubeletServing.certPem and keyPem');
    serving = { ...serving, ...options.clientCa.issue({ commonName: 'pod-dag-action-kubelet', ips: ['127.0.0.1'], dnsNames: ['localhost', ...specs.map((s) => s.name)] }) };
  }
  const clientCaPem = serving.clientCaPem ?? options.clientCa?.caPem;
  if (!clientCaPem) throw new Error('startNodeAgent: give kubeletServing.clientCaPem (the CA of the API server\'s --kubelet-client-certificate) or clientCa');

  const logs = new LogStore();
  const clients = new Map(specs.map((s) => [s.name, new ApiClient(options.server, options.caPem, credentials(s.name))]));
  const controller = options.controller ? new ApiClient(options.server, options.caPem, options.controller) : undefined;
  const closers: (() => Promise<void> | void)[] = [];
  const close = async (): Promise<void> => {
    closing = true;
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const kubelet = new Kubelet({
      logs,
      scale: options.scale ?? false,
      images: options.images ?? {},
      restartBackoffMs: options.restartBackoffMs ?? 10_000,
      apiHost: new URL(options.server).hostname,
      apiPort: Number(new URL(options.server).port || 443),
    });
    closers.push(() => kubelet.close());
    // The kubelet retries a container that lacked a secret or configmap on its periodic sync.
    const resync = setInterval(() => {
      if (kubelet.hasConfigErrors()) kubelet.retryConfigErrors();
    }, CONFIG_RETRY_MS);
    closers.push(() => clearInterval(resync));
    const server: KubeletServer = await startKubeletServer({
      port: serving.port ?? 0, certPem: serving.certPem!, keyPem: serving.keyPem!, clientCaPem, logs,
      pod: (ns, name) => {
        for (const p of watchers) {
          const pod = p.get(ns, name);
          if (pod) return pod;
        }
        return undefined;
      },
    });
    closers.push(() => server.close());
    const watchers: NodePods[] = [];
    const first = clients.values().next().value!;
    const version = await first.request<{ gitVersion: string }>('GET', '/version');
    for (const [i, spec] of specs.entries()) {
      const client = clients.get(spec.name)!;
      closers.push(() => client.close());
      const node = new RegisteredNode(client, nodeObject(spec, { kubeletPort: server.port, kubeletVersion: version.gitVersion }), onError);
      closers.push(() => node.stop());
      await node.register(controller);
      const pods = new NodePods({ client, node: spec.name, nodeIndex: i, kubelet, onError, events: options.events ?? !options.scale });
      watchers.push(pods);
      closers.push(() => pods.stop());
      await pods.start();
    }
    if (controller) closers.push(() => controller.close());
    return {
      nodes: specs.map((s) => s.name),
      kubeletPort: server.port,
      containerStarts: (podName) => kubelet.containerStarts(podName),
      close,
    };
  } catch (err) {
    await close();
    controller?.close();
    throw err;
  }
}
