/**
 * The one switch that picks the cluster under the shared suites (the tests that drive
 * dist/index.js and the CLI, the kubectl agreement tests, the minimal-Role tests):
 *
 *   POD_DAG_TEST_CLUSTER=sandbox              (default) a fresh sandbox per test file
 *   POD_DAG_TEST_CLUSTER=control-plane        the real control plane (control-plane/), one per
 *                                             test run, started by test/helpers/global-cluster.ts
 *   POD_DAG_TEST_CLUSTER=kubeconfig:<path>    any cluster, e.g. kind (real images only)
 *
 * The older POD_DAG_E2E_KUBECONFIG=<path> means kubeconfig:<path>. Tests that need a fault only the
 * sandbox can inject say "(sandbox fault)" in their name and use `itOnSandbox`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inject, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { startSandbox, type Sandbox, type SandboxOptions, type Rule } from '../../sandbox/index.ts';
import { clusterChoice, type ClusterChoice } from './cluster-choice.ts';

export { clusterChoice, type ClusterChoice } from './cluster-choice.ts';

/** The cluster this test run uses. */
export const CLUSTER = clusterChoice();

/** True unless the tests run on the sandbox. */
export const onRealCluster = CLUSTER.kind !== 'sandbox';

/** A test that needs a fault only the sandbox injects (429, a cut watch...): its name says "(sandbox fault)". */
export const itOnSandbox = it.skipIf(onRealCluster);

/** What the global setup hands the test files when it started the real control plane. */
export interface ProvidedControlPlane {
  adminKubeconfig: string;
  auditLogPath: string;
  url: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane?: ProvidedControlPlane;
  }
}

/** What a test file needs of its cluster. */
export interface ClusterSetup {
  /** Namespaces the file uses (created when missing; on kind they must exist). */
  namespaces?: string[];
  /** Sandbox only: the sandbox's own options (nodes, images...); the control plane's are set globally. */
  sandbox?: SandboxOptions;
}

/** A cluster under one test file, whichever CLUSTER is. */
export interface TestCluster {
  kind: ClusterChoice['kind'];
  /** The API server's URL. */
  url: string;
  /** The sandbox itself, when the file runs on it (for what only it can do). */
  sandbox: Sandbox | undefined;
  /** The CA (PEM) of the API server's certificate. */
  caPem: string;
  /** A kubeconfig with every permission (the file's own identity on a shared cluster). */
  kubeconfig(namespace?: string): string;
  /** The bearer token of `kubeconfig()`'s identity (undefined on a kubeconfig: cluster with other credentials). */
  token: string | undefined;
  /** A kubeconfig for this cluster with any bearer token (a wrong one, for the 401 tests). */
  kubeconfigWithToken(token: string, namespace?: string): string;
  /** The credential texts in `kubeconfig()` that must never be printed (token or client key). */
  secrets: string[];
  /** A kubeconfig for a new identity allowed exactly `rules` (a Role in `namespace`, or a ClusterRole). */
  userKubeconfig(name: string, rules: Rule[], namespace: string): Promise<string>;
  createSecret(namespace: string, name: string, stringData: Record<string, string>): Promise<void>;
  /** Deletes a pod as someone else would (kubectl delete pod), with an optional grace period. */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void>;
  /** Pods in a namespace, not yet deleted (deletion is asynchronous on a real cluster). */
  pods(namespace: string): Promise<k8s.V1Pod[]>;
  /** Containers started, by the kubelet's Started events, for one pod or in the namespace. */
  containerStarts(namespace: string, podName?: string): Promise<number>;
  /**
   * Requests this file's identities (kubeconfig()'s and userKubeconfig()'s) made since the last `resetRequests`, by verb and resource
   * ("pods", "pods/log"): the sandbox's counters or the control plane's audit log. Undefined on a
   * cluster whose requests cannot be seen (kubeconfig:).
   */
  requests(verb: string, resource: string): Promise<number | undefined>;
  resetRequests(): void;
  close(): Promise<void>;
}

const RULE_GROUPS: Record<string, string> = { leases: 'coordination.k8s.io', roles: 'rbac.authorization.k8s.io', rolebindings: 'rbac.authorization.k8s.io' };

function clientsOf(kubeconfig: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api) };
}

const ignoreConflict = (err: unknown): void => {
  if ((err as { code?: number }).code !== 409) throw err;
};

/** Starts (sandbox) or connects to (control plane, kubeconfig) the cluster for one test file. */
export async function startTestCluster(setup: ClusterSetup = {}): Promise<TestCluster> {
  const namespaces = setup.namespaces ?? ['default'];
  if (CLUSTER.kind === 'sandbox') return sandboxCluster(setup, namespaces);

  const provided = CLUSTER.kind === 'control-plane' ? inject('controlPlane') : undefined;
  if (CLUSTER.kind === 'control-plane' && !provided) throw new Error('POD_DAG_TEST_CLUSTER=control-plane but the global setup started no control plane (vitest.config.ts globalSetup)');
  const rootKubeconfig = provided ? provided.adminKubeconfig : readFileSync((CLUSTER as { path: string }).path, 'utf8');
  const root = clientsOf(rootKubeconfig);
  const url = root.kc.getCurrentCluster()?.server ?? '';

  if (provided) {
    for (const ns of namespaces) {
      if (ns !== 'default') await root.core.createNamespace({ body: { metadata: { name: ns } } }).catch(ignoreConflict);
      // No controller-manager: create the namespace's default ServiceAccount as it would.
      await root.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } }).catch(ignoreConflict);
    }
  }

  // On the control plane each test file gets its own identity (a ServiceAccount bound to
  // cluster-admin), so the audit log tells its requests from those of files running beside it.
  let kubeconfig = rootKubeconfig;
  let token: string | undefined = root.kc.getCurrentUser()?.token;
  // Whose requests `requests()` counts: this file's identity and the users it made.
  const usernames = new Set<string>();
  if (provided) {
    const name = `test-${randomBytes(4).toString('hex')}`;
    token = await serviceAccountToken(root, 'default', name, [{ namespaces: ['*'], verbs: ['*'], resources: ['*'], apiGroups: ['*'] }]);
    usernames.add(`system:serviceaccount:default:${name}`);
    kubeconfig = tokenKubeconfig(root.kc, token);
  }
  const cluster = root.kc.getCurrentCluster()!;
  const caPem = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : cluster.caFile ? readFileSync(cluster.caFile, 'utf8') : '';
  // The helper's own reads go as the root identity, so `requests()` counts only the test's.
  const mine = root;

  let auditOffset = 0;
  const auditSize = (): number => {
    try {
      return readFileSync(provided!.auditLogPath).length;
    } catch {
      return 0;
    }
  };
  if (provided) auditOffset = auditSize();

  return {
    kind: CLUSTER.kind,
    url,
    sandbox: undefined,
    caPem,
    kubeconfig: (namespace) => (namespace ? withNamespace(kubeconfig, namespace) : kubeconfig),
    token,
    kubeconfigWithToken: (t, namespace) => tokenKubeconfig(root.kc, t, namespace),
    secrets: provided && token ? [token] : credentialTexts(rootKubeconfig),
    userKubeconfig: async (name, rules, namespace) => {
      usernames.add(`system:serviceaccount:${namespace}:${name}`);
      return tokenKubeconfig(root.kc, await serviceAccountToken(root, namespace, name, rules), namespace);
    },
    createSecret: async (namespace, name, stringData) => {
      await mine.core.deleteNamespacedSecret({ namespace, name }).catch(() => {});
      await mine.core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } });
    },
    deletePod: async (namespace, name, gracePeriodSeconds) => {
      await mine.core.deleteNamespacedPod({ namespace, name, ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }) });
    },
    pods: async (namespace) => (await mine.core.listNamespacedPod({ namespace })).items.filter((p) => !p.metadata?.deletionTimestamp),
    containerStarts: async (namespace, podName) => {
      const fieldSelector = ['reason=Started', 'involvedObject.kind=Pod', ...(podName ? [`involvedObject.name=${podName}`] : [])].join(',');
      const events = await mine.core.listNamespacedEvent({ namespace, fieldSelector });
      return events.items.reduce((n, e) => n + (e.count ?? 1), 0);
    },
    requests: async (verb, resource) => {
      if (!provided) return undefined;
      const text = readFileSync(provided.auditLogPath).subarray(auditOffset).toString('utf8');
      let n = 0;
      for (const line of text.split('\n')) {
        if (!line.includes('"ResponseComplete"')) continue;
        const e = JSON.parse(line) as { stage: string; verb: string; user: { username: string }; objectRef?: { resource?: string; subresource?: string } };
        if (e.stage !== 'ResponseComplete' || !usernames.has(e.user.username) || e.verb !== verb || !e.objectRef) continue;
        const r = e.objectRef.subresource ? `${e.objectRef.resource}/${e.objectRef.subresource}` : e.objectRef.resource;
        if (r === resource) n++;
      }
      return n;
    },
    resetRequests: () => {
      if (provided) auditOffset = auditSize();
    },
    close: async () => {},
  };
}

async function sandboxCluster(setup: ClusterSetup, namespaces: string[]): Promise<TestCluster> {
  const sandbox = await startSandbox({ ...setup.sandbox, namespaces: [...new Set(['default', ...namespaces, ...(setup.sandbox?.namespaces ?? [])])] });
  let users = 0;
  return {
    kind: 'sandbox',
    url: sandbox.url,
    sandbox,
    caPem: sandbox.caPem,
    kubeconfig: (namespace) => sandbox.kubeconfig(namespace ? { namespace } : {}),
    token: sandbox.adminToken,
    kubeconfigWithToken: (token, namespace) => sandbox.kubeconfig({ token, ...(namespace ? { namespace } : {}) }),
    secrets: [sandbox.adminToken],
    userKubeconfig: async (name, rules, namespace) => {
      const token = `${name}-${++users}-${randomBytes(8).toString('hex')}`;
      sandbox.addUser(token, rules, `system:serviceaccount:${namespace}:${name}`);
      return sandbox.kubeconfig({ token, namespace, user: name });
    },
    createSecret: async (namespace, name, stringData) => sandbox.createSecret(namespace, name, stringData),
    deletePod: async (namespace, name, gracePeriodSeconds) => {
      if (!sandbox.deletePod(name, namespace, gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds })) throw new Error(`no pod ${namespace}/${name} to delete`);
    },
    pods: async (namespace) => sandbox.list('pods', namespace).filter((p) => !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp) as k8s.V1Pod[],
    containerStarts: async (_namespace, podName) => sandbox.containerStarts(podName),
    requests: async (verb, resource) => sandbox.counters.get(verb, resource),
    resetRequests: () => sandbox.counters.reset(),
    close: () => sandbox.close(),
  };
}

/**
 * A ServiceAccount `name` in `namespace` bound to exactly `rules` (a Role per namespace named in
 * them, a ClusterRole for "*"), and a token for it from the TokenRequest API.
 */
async function serviceAccountToken(root: ReturnType<typeof clientsOf>, namespace: string, name: string, rules: Rule[]): Promise<string> {
  await root.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch(ignoreConflict);
  const subject = { kind: 'ServiceAccount', name, namespace };
  const toPolicy = (r: Rule): k8s.V1PolicyRule => ({
    apiGroups: r.apiGroups ?? [...new Set(['', ...r.resources.map((res) => RULE_GROUPS[res.split('/')[0]!]).filter((g): g is string => !!g)])],
    resources: r.resources,
    verbs: r.verbs,
    ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  });
  const cluster = rules.filter((r) => r.namespaces.includes('*'));
  if (cluster.length > 0) {
    const roleName = `${namespace}-${name}`;
    await root.rbac.createClusterRole({ body: { metadata: { name: roleName }, rules: cluster.map(toPolicy) } }).catch(ignoreConflict);
    await root.rbac
      .createClusterRoleBinding({ body: { metadata: { name: roleName }, subjects: [subject], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName } } })
      .catch(ignoreConflict);
  }
  const byNamespace = new Map<string, Rule[]>();
  for (const r of rules) for (const ns of r.namespaces) if (ns !== '*') byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), r]);
  for (const [ns, nsRules] of byNamespace) {
    await root.rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name }, rules: nsRules.map(toPolicy) } }).catch(ignoreConflict);
    await root.rbac
      .createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name }, subjects: [subject], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name } } })
      .catch(ignoreConflict);
  }
  const tr = await root.core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 7200 } } });
  if (!tr.status?.token) throw new Error(`no token issued for ServiceAccount ${namespace}/${name}`);
  return tr.status.token;
}

/** A kubeconfig for the same cluster as `kc`, authenticating with `token`. */
function tokenKubeconfig(kc: k8s.KubeConfig, token: string, namespace?: string): string {
  const cluster = kc.getCurrentCluster()!;
  const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: test`,
    `  cluster: {server: "${cluster.server}"${ca ? `, certificate-authority-data: "${ca}"` : ''}}`,
    'users:',
    `- name: test`,
    `  user: {token: "${token}"}`,
    'contexts:',
    `- name: test`,
    `  context: {cluster: test, user: test${namespace ? `, namespace: "${namespace}"` : ''}}`,
    'current-context: test',
    '',
  ].join('\n');
}

function withNamespace(kubeconfig: string, namespace: string): string {
  const doc = parseYaml(kubeconfig) as { contexts: { context: Record<string, string> }[] };
  for (const c of doc.contexts) c.context['namespace'] = namespace;
  return JSON.stringify(doc);
}

function credentialTexts(kubeconfig: string): string[] {
  const doc = parseYaml(kubeconfig) as { users?: { user?: Record<string, string> }[] };
  return (doc.users ?? []).flatMap((u) => [u.user?.['token'], u.user?.['client-key-data']]).filter((v): v is string => !!v);
}
