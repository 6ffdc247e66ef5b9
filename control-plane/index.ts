/**
 * The real Kubernetes control plane for tests, the demo and the benchmarks: etcd, kube-apiserver
 * and kube-scheduler built from upstream by ./build.sh (cached), started as local processes on
 * loopback ports, plus the node agent that acts as the kubelet. `startControlPlane()` returns when
 * a Node is Ready and a pod has been scheduled on it. See README.md.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createAuthority, type CertificateAuthority } from '../sandbox/certs.ts';
import type { ImageSpec, NodeSpec } from '../sandbox/index.ts';
import { extendedAllocatable } from '../sandbox/scheduler.ts';

export type { ImageSpec, NodeSpec } from '../sandbox/index.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** How to start a control plane. Every field is optional. */
export interface ControlPlaneOptions {
  /** The nodes the node agent registers; default one node "node-1" with 64 cores, 256Gi, 110 pods. */
  nodes?: NodeSpec[];
  /** Namespaces to create (each with its `default` ServiceAccount); "default" always exists. */
  namespaces?: string[];
  /** Users authenticated by a bearer token (static token file), with no permissions until bound. */
  tokenUsers?: string[];
  /** Where the audit log goes (every request at Metadata level); default audit.log in the work dir. */
  auditLog?: string;
  /** How often kube-apiserver compacts etcd (a Go duration); default upstream's 5m. */
  etcdCompactionInterval?: string;
  /** More kube-apiserver flags (e.g. --watch-cache=false, so watches meet etcd's compaction). */
  apiserverArgs?: string[];
  /**
   * The kubelet: false registers the nodes by hand (Ready, no agent: pods are bound but never run);
   * default true, the node agent from sandbox/node-agent when it is there (else as false).
   */
  nodeAgent?: boolean;
  /** Process mode: what an image "contains" (working directory, PATH, env), as in the sandbox. */
  images?: Record<string, ImageSpec>;
  /** First CrashLoopBackOff delay; default the node agent's (10 s, as the kubelet). */
  restartBackoffMs?: number;
  /** Progress lines (which component started, how long it took); default silent. */
  log?: (line: string) => void;
}

/** A running control plane. */
export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  url: string;
  /** The CA (PEM) that signed every serving and client certificate. */
  caPem: string;
  /** The admin kubeconfig (client certificate, group system:masters). */
  adminKubeconfig: string;
  /** A kubeconfig (YAML): the admin's, or the named token user's, with an optional default namespace. */
  kubeconfig(opts?: { user?: string; namespace?: string }): string;
  /** The kubeconfig of a token user given in `tokenUsers`. */
  userKubeconfig(name: string, namespace?: string): string;
  /** A kubeconfig authenticating by a new client certificate for `name` in `groups` (no permissions until bound). */
  certificateKubeconfig(name: string, groups?: string[], namespace?: string): string;
  /** The audit log (JSON lines, one event per request stage). */
  auditLogPath: string;
  /** The directory holding certificates, etcd's data and the components' logs. */
  dir: string;
  /** Whether the node agent runs pods (false: nodes registered by hand, pods never start). */
  runsPods: boolean;
  /** Creates a namespace and its default ServiceAccount (no-op if they exist). */
  createNamespace(name: string): Promise<void>;
  /** Stops every component (SIGTERM, then SIGKILL after 5 s) and removes the work dir. */
  close(): Promise<void>;
}

/** The versions build.sh pins, read from versions.env and go.mod. */
export function pinnedVersions(): { kubernetes: string; etcd: string } {
  const env = readFileSync(path.join(HERE, 'versions.env'), 'utf8');
  const gomod = readFileSync(path.join(HERE, 'go.mod'), 'utf8');
  const kubernetes = /^K8S_VERSION=(\S+)/m.exec(env)?.[1];
  const etcd = /go\.etcd\.io\/etcd\/server\/v3 (v\S+)/.exec(gomod)?.[1];
  if (!kubernetes || !etcd) throw new Error(`control-plane: cannot read the pinned versions from ${HERE}/versions.env and go.mod`);
  return { kubernetes, etcd };
}

/** Where build.sh puts the binaries (it prints the same path); they may not be built yet. */
export function binariesDir(): string {
  if (process.env['POD_DAG_CONTROL_PLANE_DIR']) return process.env['POD_DAG_CONTROL_PLANE_DIR'];
  const { kubernetes, etcd } = pinnedVersions();
  const cache = process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache');
  return path.join(cache, 'pod-dag-action', 'control-plane', `${kubernetes}-etcd${etcd.replace(/^v/, '')}`);
}

/** The path of one built binary (kube-apiserver, kube-scheduler, kubectl, etcd). */
export function builtBinary(name: 'kube-apiserver' | 'kube-scheduler' | 'kubectl' | 'etcd'): string {
  return path.join(binariesDir(), name);
}

/**
 * The directory with kube-apiserver, kube-scheduler, kubectl and etcd: runs ./build.sh, which
 * returns at once when the cache has them and otherwise builds them (tens of minutes, once).
 */
export async function ensureBinaries(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', [path.join(HERE, 'build.sh')], { maxBuffer: 1 << 20 });
    const dir = stdout.trim().split('\n').pop() ?? '';
    if (!existsSync(path.join(dir, 'kube-apiserver'))) throw new Error(`build.sh printed "${dir}", which holds no kube-apiserver`);
    return dir;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`control-plane: building the binaries failed (control-plane/build.sh): ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Component {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a component whose stdout and stderr go to <dir>/<name>.log. `setpriv --pdeathsig` makes
 * the kernel kill it when this process dies, even by SIGKILL, so nothing outlives a crashed test.
 */
async function startComponent(dir: string, name: string, binary: string, args: string[]): Promise<Component> {
  const logFile = path.join(dir, `${name}.log`);
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'a');
  const usePdeath = existsSync('/usr/bin/setpriv');
  const child = usePdeath
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', binary, ...args], { stdio: ['ignore', fd, fd] })
    : spawn(binary, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(-1));
  });
  return { name, child, logFile, exited };
}

async function stopComponent(c: Component): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 5000);
  await c.exited;
  clearTimeout(timer);
}

/** Calls `probe` until it returns true, failing when `component` exits or `timeoutMs` passes. */
async function waitUntil(what: string, component: Component | undefined, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (component && (component.child.exitCode !== null || component.child.signalCode !== null)) {
      throw new Error(`control-plane: ${component.name} exited (${component.child.exitCode ?? component.child.signalCode}) before ${what}; the end of ${component.logFile}:\n${tail(component.logFile)}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      const logs = component ? `; the end of ${component.logFile}:\n${tail(component.logFile)}` : '';
      throw new Error(`control-plane: timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last})` : ''}${logs}`);
    }
    // Readiness of a process we just started: nothing to watch yet, so poll briefly.
    await new Promise((r) => setTimeout(r, 100));
  }
}

function httpsStatus(url: string, tls: { ca: string; cert: string; key: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ...tls, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
  });
}

function kubeconfigYaml(server: string, caPem: string, user: string, auth: Record<string, string>, namespace?: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'control-plane', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: user, user: auth }],
    contexts: [{ name: user, context: { cluster: 'control-plane', user, ...(namespace ? { namespace } : {}) } }],
    'current-context': user,
  });
}

function certAuth(cert: { certPem: string; keyPem: string }): Record<string, string> {
  return {
    'client-certificate-data': Buffer.from(cert.certPem).toString('base64'),
    'client-key-data': Buffer.from(cert.keyPem).toString('base64'),
  };
}

const AUDIT_POLICY = stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata' }] });

/** The node agent's module, when helper code has landed it; its absence means nodes are registered by hand. */
const NODE_AGENT_MODULE = path.join(HERE, '..', 'sandbox', 'node-agent', 'index.ts');

/** What the node agent module exports (sandbox/node-agent/index.ts), as far as it is used here. */
interface NodeAgentModule {
  startNodeAgent(opts: {
    server: string;
    caPem: string;
    clientCa: CertificateAuthority;
    controller: { certPem: string; keyPem: string };
    nodes: NodeSpec[];
    images?: Record<string, ImageSpec>;
    restartBackoffMs?: number;
    onError?: (err: Error) => void;
  }): Promise<{ close(): Promise<void>; containerStarts(podName?: string): number }>;
}

/** The prefix of every control plane's work dir in the temporary directory. */
const DIR_PREFIX = 'pod-dag-control-plane-';
/** The file in a work dir naming the process that owns it: `<pid> <start time in clock ticks since boot>`. */
const OWNER_FILE = 'owner';

/** When a process started (field 22 of /proc/<pid>/stat), so a pid the system reused is not taken for the owner; undefined if it is gone. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process an owner file names still runs: the same pid, started at the same time where /proc tells. */
function isAlive(pid: number, started: string): boolean {
  if (existsSync('/proc/self/stat')) {
    const now = processStart(pid);
    return now !== undefined && (started === '?' || now === started);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process, as an owner file names it. */
export function ownerLine(pid = process.pid): string {
  return `${pid} ${processStart(pid) ?? '?'}`;
}

/**
 * Removes the work dirs (etcd's data, certificates, logs) that control planes left behind in `tmp`
 * when their process was killed (SIGKILL, a crash: no close() ran; setpriv's pdeathsig took the
 * components down with it). A dir is stale when the process its owner file names is gone, or the
 * pid now belongs to a process that started at another time. A dir without an owner file is left
 * alone (a control plane still starting, or one from before owner files). Returns what it removed.
 */
export function removeStaleDirs(tmp = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    let owner: string;
    try {
      owner = readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim();
    } catch {
      continue;
    }
    const [pid, started] = owner.split(' ');
    if (/^\d+$/.test(pid ?? '') && isAlive(Number(pid), started ?? '?')) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Starts etcd, kube-apiserver, kube-scheduler and the node agent; see ControlPlaneOptions. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const bin = await ensureBinaries();
  // What earlier control planes left when they were killed goes first (their etcd data is ~100 MB).
  for (const stale of removeStaleDirs()) log(`removed ${stale}, left by a control plane whose process is gone`);
  const dir = mkdtempSync(path.join(tmpdir(), DIR_PREFIX));
  writeFileSync(path.join(dir, OWNER_FILE), `${ownerLine()}\n`);
  const components: Component[] = [];
  const closers: (() => Promise<void>)[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const c of closers.reverse()) await c().catch(() => {});
    // Stop in reverse order: scheduler, then the API server, then etcd.
    for (const c of [...components].reverse()) await stopComponent(c);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const ca: CertificateAuthority = createAuthority('pod-dag-control-plane-ca');
    const file = (name: string, text: string): string => {
      const p = path.join(dir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const caFile = file('ca.crt', ca.caPem);
    const serving = ca.issue({ commonName: 'kube-apiserver', ips: ['127.0.0.1'], dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] });
    const apiserverKubeletClient = ca.issue({ commonName: 'kube-apiserver-kubelet-client', organizations: ['kube-apiserver-kubelet-client'], client: true });
    const admin = ca.issue({ commonName: 'admin', organizations: ['system:masters'], client: true });
    const scheduler = ca.issue({ commonName: 'system:kube-scheduler', client: true });
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const tokens = new Map<string, string>((opts.tokenUsers ?? []).map((u) => [u, randomBytes(24).toString('hex')]));
    const tokenLines = [...tokens].map(([user, token]) => `${token},${user},${user}`);
    const auditLogPath = opts.auditLog ? path.resolve(opts.auditLog) : path.join(dir, 'audit.log');

    // etcd: loopback only, data in the work dir, no fsync (a test cluster's data is thrown away).
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = await startComponent(dir, 'etcd', path.join(bin, 'etcd'), [
      '--name=control-plane',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=control-plane=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    components.push(etcd);
    await waitUntil('etcd to serve', etcd, 30_000, async () => (await fetch(`${etcdUrl}/health`)).ok);
    log(`etcd ready after ${Date.now() - t0} ms`);

    const apiserver = await startComponent(dir, 'kube-apiserver', path.join(bin, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${file('apiserver.crt', serving.certPem)}`,
      `--tls-private-key-file=${file('apiserver.key', serving.keyPem)}`,
      `--client-ca-file=${caFile}`,
      `--token-auth-file=${file('tokens.csv', tokenLines.join('\n') + '\n')}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction,PodSecurity,ResourceQuota,ServiceAccount',
      '--allow-privileged=true',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${file('sa.pub', sa.publicKey.export({ type: 'spki', format: 'pem' }).toString())}`,
      `--service-account-signing-key-file=${file('sa.key', sa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())}`,
      `--kubelet-client-certificate=${file('apiserver-kubelet-client.crt', apiserverKubeletClient.certPem)}`,
      `--kubelet-client-key=${file('apiserver-kubelet-client.key', apiserverKubeletClient.keyPem)}`,
      `--kubelet-certificate-authority=${caFile}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      `--audit-policy-file=${file('audit-policy.yaml', AUDIT_POLICY)}`,
      `--audit-log-path=${auditLogPath}`,
      '--audit-log-maxage=1',
      ...(opts.etcdCompactionInterval ? [`--etcd-compaction-interval=${opts.etcdCompactionInterval}`] : []),
      ...(opts.apiserverArgs ?? []),
      '--v=0',
    ]);
    components.push(apiserver);
    const url = `https://127.0.0.1:${apiPort}`;
    const adminKubeconfig = kubeconfigYaml(url, ca.caPem, 'admin', certAuth(admin));
    // Also in the work dir, to look at a control plane that fails to become ready.
    file('admin.kubeconfig', adminKubeconfig);
    const kc = new k8s.KubeConfig();
    kc.loadFromString(adminKubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await waitUntil('kube-apiserver to be ready (/readyz)', apiserver, 90_000, async () => {
      // /readyz: every post-start hook (RBAC bootstrap roles, priority levels...) has run.
      return (await httpsStatus(`${url}/readyz`, { ca: ca.caPem, cert: admin.certPem, key: admin.keyPem })) === 200;
    });
    log(`kube-apiserver ready after ${Date.now() - t0} ms`);

    const createNamespace = async (name: string): Promise<void> => {
      if (name !== 'default') {
        await core.createNamespace({ body: { metadata: { name } } }).catch((err: unknown) => {
          if ((err as { code?: number }).code !== 409) throw err;
        });
      }
      // What the controller-manager's service-account controller would do for a new namespace.
      await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } }).catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    };
    for (const ns of ['default', ...(opts.namespaces ?? [])]) await createNamespace(ns);

    const schedulerConfig = file('kube-scheduler.kubeconfig', kubeconfigYaml(url, ca.caPem, 'system:kube-scheduler', certAuth(scheduler)));
    components.push(
      await startComponent(dir, 'kube-scheduler', path.join(bin, 'kube-scheduler'), [
        `--kubeconfig=${schedulerConfig}`,
        `--authentication-kubeconfig=${schedulerConfig}`,
        `--authorization-kubeconfig=${schedulerConfig}`,
        '--leader-elect=false',
        '--secure-port=0',
        '--v=2',
      ]),
    );
    const schedulerComponent = components[components.length - 1]!;

    const nodes: NodeSpec[] = opts.nodes && opts.nodes.length > 0 ? opts.nodes : [{ name: 'node-1' }];
    const useAgent = opts.nodeAgent !== false && existsSync(NODE_AGENT_MODULE);
    if (useAgent) {
      const mod = (await import(pathToFileURL(NODE_AGENT_MODULE).href)) as NodeAgentModule;
      const agent = await mod.startNodeAgent({
        server: url,
        caPem: ca.caPem,
        clientCa: ca,
        // What kube-controller-manager would do for a new node (take off the not-ready taint).
        controller: admin,
        nodes,
        ...(opts.images ? { images: opts.images } : {}),
        ...(opts.restartBackoffMs !== undefined ? { restartBackoffMs: opts.restartBackoffMs } : {}),
        onError: (err) => log(`node agent: ${err.message}`),
      });
      closers.push(() => agent.close());
    } else {
      for (const n of nodes) await registerNode(core, n);
    }

    // Ready when a Node is Ready and a pod gets scheduled (and, with the agent, runs to completion).
    await waitUntil('a Node to be Ready', schedulerComponent, 60_000, async () => {
      const list = await core.listNode();
      return list.items.some((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    });
    await readinessPod(core, nodes, useAgent, schedulerComponent);
    log(`kube-scheduler${useAgent ? ' and the node agent' : ''} ready after ${Date.now() - t0} ms`);

    const userKubeconfig = (name: string, namespace?: string): string => {
      const token = tokens.get(name);
      if (!token) throw new Error(`control-plane: no token user "${name}" (tokenUsers: ${[...tokens.keys()].join(', ') || 'none'})`);
      return kubeconfigYaml(url, ca.caPem, name, { token }, namespace);
    };
    return {
      url,
      caPem: ca.caPem,
      adminKubeconfig,
      kubeconfig: (o = {}) => (o.user ? userKubeconfig(o.user, o.namespace) : kubeconfigYaml(url, ca.caPem, 'admin', certAuth(admin), o.namespace)),
      userKubeconfig,
      certificateKubeconfig: (name, groups = [], namespace) =>
        kubeconfigYaml(url, ca.caPem, name, certAuth(ca.issue({ commonName: name, organizations: groups, client: true })), namespace),
      auditLogPath,
      dir,
      runsPods: useAgent,
      createNamespace,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Registers a Node as its kubelet would (used when no node agent runs): Ready, with capacity. */
async function registerNode(core: k8s.CoreV1Api, n: NodeSpec): Promise<void> {
  const resources = { cpu: n.allocatable?.cpu ?? '64', memory: n.allocatable?.memory ?? '256Gi', pods: n.allocatable?.pods ?? '110', ...extendedAllocatable(n) };
  await core.createNode({
    body: {
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', ...n.labels } },
      spec: { taints: n.taints },
    },
  });
  const now = new Date();
  // A status update takes the whole object (metadata included): start from the stored one.
  const created = await core.readNode({ name: n.name });
  created.status = {
    capacity: resources,
    allocatable: resources,
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: n.name }],
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'registered by hand: no node agent runs', lastHeartbeatTime: now, lastTransitionTime: now }],
  };
  await core.replaceNodeStatus({ name: n.name, body: created });
  // The TaintNodesByCondition admission plugin taints every new Node not-ready; with no
  // controller-manager to take it off once Ready, take it off here.
  const node = await core.readNode({ name: n.name });
  node.spec = { ...node.spec, taints: (node.spec?.taints ?? []).filter((t) => t.key !== 'node.kubernetes.io/not-ready') };
  await core.replaceNode({ name: n.name, body: node });
}

/** Creates a pod that fits the first node, waits (by watch) until it is scheduled, or has run, then deletes it. */
async function readinessPod(core: k8s.CoreV1Api, nodes: NodeSpec[], runs: boolean, scheduler: Component): Promise<void> {
  const name = `control-plane-ready-${randomBytes(3).toString('hex')}`;
  const node = nodes[0]!;
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        nodeName: undefined,
        nodeSelector: { 'kubernetes.io/hostname': node.name },
        tolerations: [{ operator: 'Exists' }],
        containers: [{ name: 'ready', image: 'busybox:1.37', command: ['true'] }],
      },
    },
  });
  await waitUntil(runs ? 'the readiness pod to run' : 'the readiness pod to be scheduled', scheduler, 60_000, async () => {
    const pod = await core.readNamespacedPod({ name, namespace: 'default' });
    return runs ? pod.status?.phase === 'Succeeded' : Boolean(pod.spec?.nodeName);
  });
  await core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: runs ? undefined : 0 });
}
