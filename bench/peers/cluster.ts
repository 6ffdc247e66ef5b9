/**
 * The cluster both sides of the head-to-head run on: the real control plane (control-plane/,
 * kube-apiserver + etcd + kube-scheduler and the project's node agent, with an audit log) when it
 * is there and built, else the sandbox (sandbox/). Either way: one node labelled org=locale and
 * one org=general, the data-jobs namespace with the seed's secret, the images both sides use
 * mapped to the same local programs, and one restricted user per side, so that every API request
 * is attributed to the side that sent it (the audit log's user.username, or the sandbox's own
 * record of the same).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const IMAGES = path.join(ROOT, 'test', 'fixtures', 'images');
const hostPath = [path.dirname(process.execPath), ...(process.env['PATH'] ?? '/usr/bin:/bin').split(':')];

/** The namespace every benchmark DAG runs in (the seed's). */
export const NAMESPACE = 'data-jobs';
/** The restricted users, one per side. */
export const USERS = { airflow: 'airflow-kpo', action: 'pod-dag-action' } as const;

/** What an image "contains", for the node agent's process mode (shared by both kinds of cluster). */
export const IMAGE_SPECS = {
  'clickhouse/clickhouse-server:24.8': { path: [path.join(IMAGES, 'clickhouse-server', 'bin'), ...hostPath] },
  'registry.example.com/internal-scripts:2024-01': {
    workingDir: path.join(IMAGES, 'internal-scripts', 'app'),
    path: [path.join(IMAGES, 'internal-scripts', 'bin'), ...hostPath],
  },
  'bench/flaky': { path: [path.join(ROOT, 'bench', 'peers', 'images', 'flaky', 'bin'), ...hostPath] },
};

const NODES = [
  { name: 'pool-locale-1', labels: { org: 'locale', 'kubernetes.io/hostname': 'pool-locale-1' } },
  { name: 'pool-general-1', labels: { org: 'general', 'kubernetes.io/hostname': 'pool-general-1' } },
];

/** The password in the seed's secret. */
const PASSWORD = 'bench-s3cret-Password';

/** One API request, as the audit log records it. */
export interface ApiRequest {
  user: string;
  verb: string;
  /** `pods`, `pods/log`, `configmaps`, ... */
  resource: string;
  /** When the API server received it, in ms since the epoch (microsecond precision). */
  atMs: number;
}

/** A running cluster for the benchmark. */
export interface BenchCluster {
  /** `control plane` or `sandbox`. */
  kind: 'control plane' | 'sandbox';
  /** What runs it, for the table's header (versions). */
  description: string;
  /** The Kubernetes version the API server reports (/version gitVersion). */
  kubernetesVersion: string;
  adminKubeconfig: string;
  /** A kubeconfig for one of USERS, default namespace data-jobs. */
  userKubeconfig(user: string): string;
  /** Every request the API server received since the start, in order (read from the audit log). */
  requests(): ApiRequest[];
  close(): Promise<void>;
}

/** What the two sides may do in data-jobs: the same for both (pods, logs, the action's state, events, leases). */
const RULE_RESOURCES = ['pods', 'pods/log', 'pods/status', 'configmaps', 'events', 'leases'];

/** The control plane's module, when control-plane/ exists (it is loaded by path, not imported statically). */
interface ControlPlaneModule {
  startControlPlane(opts: {
    nodes?: typeof NODES;
    namespaces?: string[];
    tokenUsers?: string[];
    images?: typeof IMAGE_SPECS;
    log?: (line: string) => void;
  }): Promise<{
    url: string;
    adminKubeconfig: string;
    userKubeconfig(name: string, namespace?: string): string;
    auditLogPath: string;
    runsPods: boolean;
    close(): Promise<void>;
  }>;
  pinnedVersions(): { kubernetes: string; etcd: string };
  binariesDir(): string;
}

const CONTROL_PLANE = path.join(ROOT, 'control-plane', 'index.ts');

/** Why the real control plane cannot be used here, or null when it can. */
export async function controlPlaneUnavailable(): Promise<string | null> {
  if (!existsSync(CONTROL_PLANE)) return 'control-plane/ is not in this checkout';
  if (!existsSync(path.join(ROOT, 'sandbox', 'node-agent', 'index.ts'))) return 'the node agent (sandbox/node-agent) is not in this checkout, so pods would never run';
  const cp = (await import(pathToFileURL(CONTROL_PLANE).href)) as ControlPlaneModule;
  const dir = cp.binariesDir();
  for (const b of ['kube-apiserver', 'kube-scheduler', 'etcd']) {
    if (!existsSync(path.join(dir, b))) return `${b} is not built in ${dir} (run bash control-plane/build.sh: tens of minutes, once)`;
  }
  return null;
}

/** Starts the real control plane (`real`) or the sandbox, set up for the benchmark. */
export async function startBenchCluster(real: boolean, log: (line: string) => void): Promise<BenchCluster> {
  return real ? startRealControlPlane(log) : startBenchSandbox();
}

async function startRealControlPlane(log: (line: string) => void): Promise<BenchCluster> {
  const cp = (await import(pathToFileURL(CONTROL_PLANE).href)) as ControlPlaneModule;
  const versions = cp.pinnedVersions();
  const plane = await cp.startControlPlane({
    nodes: NODES,
    namespaces: [NAMESPACE],
    tokenUsers: Object.values(USERS),
    images: IMAGE_SPECS,
    log: (l) => log(`  control plane: ${l}`),
  });
  if (!plane.runsPods) {
    await plane.close();
    throw new Error('the control plane started without its node agent, so no pod would run');
  }
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(plane.adminKubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: 'clickhouse-creds' }, stringData: { password: PASSWORD } } });
    await rbac.createNamespacedRole({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'bench-side' },
        rules: [
          { apiGroups: [''], resources: RULE_RESOURCES.filter((r) => r !== 'leases'), verbs: ['*'] },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['*'] },
        ],
      },
    });
    for (const user of Object.values(USERS)) {
      await rbac.createNamespacedRoleBinding({
        namespace: NAMESPACE,
        body: {
          metadata: { name: `bench-${user}` },
          subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
          roleRef: { kind: 'Role', name: 'bench-side', apiGroup: 'rbac.authorization.k8s.io' },
        },
      });
    }
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    return {
      kind: 'control plane',
      description: `kube-apiserver, etcd ${versions.etcd} and kube-scheduler ${versions.kubernetes} built from upstream (control-plane/), the project's node agent as the kubelet; requests from the audit log`,
      kubernetesVersion: version.gitVersion,
      adminKubeconfig: plane.adminKubeconfig,
      userKubeconfig: (user) => plane.userKubeconfig(user, NAMESPACE),
      requests: () => readAuditLog(plane.auditLogPath),
      close: () => plane.close(),
    };
  } catch (err) {
    await plane.close();
    throw err;
  }
}

/** An audit timestamp (RFC 3339 with microseconds) in ms since the epoch, keeping the microseconds. */
export function auditTimeMs(stamp: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(stamp);
  if (!m) throw new Error(`unexpected audit timestamp "${stamp}"`);
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

/** Reads an audit log (JSON lines, events of any stage): one entry per request (auditID), in order of receipt. */
export function readAuditLog(file: string): ApiRequest[] {
  const seen = new Set<string>();
  const out: ApiRequest[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as {
      auditID: string;
      verb: string;
      user?: { username?: string };
      objectRef?: { resource?: string; subresource?: string; apiGroup?: string };
      requestReceivedTimestamp: string;
    };
    if (seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const ref = e.objectRef;
    const resource = ref?.resource ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}` : 'non-resource';
    out.push({ user: e.user?.username ?? '', verb: e.verb, resource, atMs: auditTimeMs(e.requestReceivedTimestamp) });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

async function startBenchSandbox(): Promise<BenchCluster> {
  const sb: Sandbox = await startSandbox({ namespaces: ['default', NAMESPACE], nodes: NODES, images: IMAGE_SPECS, historyLimit: 200_000 });
  const requests: ApiRequest[] = [];
  // The sandbox has no audit log: it reports each request as it routes it, with the same fields.
  sb.onRequest((e) => {
    if (e.phase === 'received') requests.push({ user: e.user, verb: e.verb, resource: e.resource, atMs: performance.timeOrigin + performance.now() });
  });
  sb.createSecret(NAMESPACE, 'clickhouse-creds', { password: PASSWORD });
  const tokens: Record<string, string> = {};
  for (const user of Object.values(USERS)) {
    tokens[user] = `bench-${user}-token`;
    sb.addUser(tokens[user], [{ namespaces: [NAMESPACE], verbs: ['*'], resources: RULE_RESOURCES }], user);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromString(sb.kubeconfig());
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  return {
    kind: 'sandbox',
    description: `the project's sandbox API server (sandbox/, process mode, in the benchmark's process; it reports ${version.gitVersion}); requests counted by the sandbox per user`,
    kubernetesVersion: `${version.gitVersion} (sandbox)`,
    adminKubeconfig: sb.kubeconfig({ namespace: NAMESPACE }),
    userKubeconfig: (user) => sb.kubeconfig({ token: tokens[user]!, namespace: NAMESPACE }),
    requests: () => requests,
    close: () => sb.close(),
  };
}
