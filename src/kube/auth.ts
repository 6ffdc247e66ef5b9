/**
 * Authentication to the user's cluster, and the preflight that checks, before any pod exists,
 * that the cluster can be reached, trusts us, has the namespace, and lets us do everything a run
 * needs. Nothing happens at import time: the KubeConfig is built only when `connect` is called.
 *
 * Precedence (first match wins; issue 4):
 *  1. the `kubeconfig` input: a kubeconfig's content, plain YAML or base64 (detected), plus `context`;
 *  2. `server` + `token` (+ `certificate-authority-data`), for a service-account token;
 *  3. `KUBECONFIG` or `~/.kube/config` as a previous step left it (azure/k8s-set-context,
 *     get-gke-credentials, `aws eks update-kubeconfig`); exec credential plugins run, and
 *     client-node runs them again when their credential expires;
 *  4. in-cluster service-account credentials (runners on actions-runner-controller).
 */
import type { spawn, SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { V1ResourceRule, V1SelfSubjectAccessReview, V1SelfSubjectRulesReview } from '@kubernetes/client-node';
import { createClient } from './client.ts';
import type { KubeClient } from './client.ts';
import { KubeError, classifyError, describeError } from './errors.ts';
import { missingServiceAccounts, SERVICE_ACCOUNT_READ, serviceAccountUses } from './preflight-service-accounts.ts';
import type { DagSpec } from '../spec/types.ts';
import { formatDuration } from '../common/duration.ts';
import { serverUrlProblem, shownServer } from './server-url.ts';
import { urlCredentials } from '../common/url-credentials.ts';

/** The authentication inputs of the action (all optional). */
export interface AuthInputs {
  kubeconfig?: string;
  context?: string;
  server?: string;
  token?: string;
  /** Base64 of the CA's PEM (a plain PEM is accepted too). */
  certificateAuthorityData?: string;
}

/** What `connect` found. */
export interface Connection {
  kubeConfig: KubeConfig;
  /** The namespace of the kubeconfig's context or of the in-cluster service account, if any. */
  namespace: string | null;
  /**
   * Every value that must be masked before anything is printed (tokens, keys, the kubeconfig, a
   * URL's password). Grows when an exec credential plugin hands out a new credential later.
   */
  secrets: string[];
  /** Calls `listener` with each credential found after connect (a renewed exec token or key), once it is in `secrets`. */
  onNewSecret(listener: (secret: string) => void): void;
  /** Where the credentials came from, for a log line (never a secret). */
  source: 'kubeconfig-input' | 'token-input' | 'kubeconfig-file' | 'in-cluster';
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Builds the KubeConfig from the inputs and environment, per the precedence above. Runs exec
 * credential plugins once (so their token can be masked). Makes no request to the cluster.
 * Throws a KubeError that says what is missing or malformed and how to fix it.
 */
export async function connect(
  auth: AuthInputs,
  env: NodeJS.ProcessEnv,
  options: { serviceAccountDir?: string; credentialPluginTimeoutMs?: number; cli?: boolean } = {},
): Promise<Connection> {
  const secrets = new Set<string>();
  const kc = new KubeConfig();
  let source: Connection['source'];
  let namespace: string | null = null;
  const kubeconfigInput = auth.kubeconfig?.trim();

  if (kubeconfigInput) {
    secrets.add(auth.kubeconfig!);
    secrets.add(kubeconfigInput);
    const text = decodeKubeconfig(kubeconfigInput);
    secrets.add(text);
    secrets.add(Buffer.from(text, 'utf8').toString('base64'));
    try {
      kc.loadFromString(text);
    } catch (err) {
      throw new KubeError(
        `The kubeconfig input is not a valid kubeconfig (${(err as Error).message.split('\n')[0]}). Give the file's content, as YAML or base64 (e.g. \`base64 -w0 ~/.kube/config\`), in a secret.`,
      );
    }
    source = 'kubeconfig-input';
  } else if (auth.server || auth.token) {
    if (!auth.server || !auth.token) {
      throw new KubeError(
        `Inputs \`server\` and \`token\` go together: got ${auth.server ? '`server` without `token`' : '`token` without `server`'}. Give both (and \`certificate-authority-data\`), or a \`kubeconfig\`.`,
      );
    }
    secrets.add(auth.token);
    let caData: string | undefined;
    const ca = auth.certificateAuthorityData?.trim();
    if (ca) caData = ca.startsWith('-----BEGIN') ? Buffer.from(ca, 'utf8').toString('base64') : ca.replace(/\s+/g, '');
    if (caData && !Buffer.from(caData, 'base64').toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
      throw new KubeError('Input `certificate-authority-data` is not a base64-encoded PEM certificate. Give the cluster CA as in a kubeconfig\'s `certificate-authority-data` (base64 of the PEM).');
    }
    const serverProblem = serverUrlProblem(auth.server, false);
    if (serverProblem !== null) throw new KubeError(`Input \`server\` is "${shownServer(auth.server)}", ${serverProblem}`);
    kc.loadFromClusterAndUser({ name: 'pod-dag', server: auth.server, caData, skipTLSVerify: false }, { name: 'pod-dag', token: auth.token });
    source = 'token-input';
  } else if (env.KUBECONFIG || (homeKubeconfig(env) && existsSync(homeKubeconfig(env)!))) {
    const files = kubeconfigFiles(env);
    if (files.length > 1 && !files.some((f) => existsSync(f))) {
      throw new KubeError(`KUBECONFIG lists ${files.join(', ')}, none of which exists. Check the step that should have written them.`);
    }
    for (const [i, file] of files.entries()) {
      if (!existsSync(file)) {
        if (i === 0 && files.length === 1) throw new KubeError(`KUBECONFIG points at ${file}, which does not exist. Check the step that should have written it.`);
        continue;
      }
      const one = new KubeConfig();
      try {
        one.loadFromFile(file);
      } catch (err) {
        throw new KubeError(`The kubeconfig file ${file} is not valid (${(err as Error).message.split('\n')[0]}).`);
      }
      secrets.add(readFileSync(file, 'utf8'));
      if (kc.clusters.length === 0) kc.loadFromFile(file);
      else kc.mergeConfig(one, true);
    }
    source = 'kubeconfig-file';
  } else {
    const dir = options.serviceAccountDir ?? SA_DIR;
    if ((!env.KUBERNETES_SERVICE_HOST || !existsSync(path.join(dir, 'token'))) && options.cli === true) {
      // `pod-dag run` has no inputs: only the kubeconfig kubectl would read.
      throw new KubeError(
        `No Kubernetes credentials found: KUBECONFIG is not set and ${homeKubeconfig(env) ?? '~/.kube/config'} does not exist. Point KUBECONFIG at a kubeconfig, or log in to the cluster the way kubectl needs (\`kubectl config current-context\` should name it).`,
      );
    }
    if (!env.KUBERNETES_SERVICE_HOST || !existsSync(path.join(dir, 'token'))) {
      throw new KubeError(
        'No Kubernetes credentials found. Give the `kubeconfig` input (a kubeconfig in a secret), or `server` + `token` + `certificate-authority-data`, or run a step before this one that writes ~/.kube/config (azure/k8s-set-context, google-github-actions/get-gke-credentials, `aws eks update-kubeconfig`), or run on a runner inside the cluster. If you did pass a secret (`kubeconfig: ${{ secrets.KUBECONFIG }}`), it reached the action empty: check its name and that it exists for this repository or environment; a pull request from a fork is given no secrets (use `mode: plan` there).',
      );
    }
    const host = env.KUBERNETES_SERVICE_HOST.includes(':') ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
    kc.loadFromClusterAndUser(
      { name: 'in-cluster', server: `https://${host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`, caFile: path.join(dir, 'ca.crt'), skipTLSVerify: false },
      { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: path.join(dir, 'token') } } },
    );
    secrets.add(readFileSync(path.join(dir, 'token'), 'utf8').trim());
    const nsFile = path.join(dir, 'namespace');
    if (existsSync(nsFile)) namespace = readFileSync(nsFile, 'utf8').trim() || null;
    source = 'in-cluster';
  }

  if (auth.context && source !== 'token-input' && source !== 'in-cluster') {
    if (!kc.getContextObject(auth.context)) {
      throw new KubeError(`Context "${auth.context}" is not in the kubeconfig; it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'no contexts'}.`);
    }
    kc.setCurrentContext(auth.context);
  }
  if (source !== 'token-input' && source !== 'in-cluster') {
    const problem = kubeconfigProblem(kc, source === 'kubeconfig-input' ? 'The kubeconfig input' : `The kubeconfig (${kubeconfigFiles(env).join(path.delimiter)})`);
    if (problem !== null) throw new KubeError(problem);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeError(
      `The kubeconfig has no usable current context (current-context: "${kc.getCurrentContext() ?? ''}"). Set current-context in it or give the \`context\` input; it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'no contexts'}.`,
    );
  }
  if (source !== 'in-cluster') namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? null;

  // A URL's user info (`https://user:password@host`): the password is a credential, and error
  // messages quote URLs whole.
  for (const cluster of kc.getClusters()) for (const v of [...urlCredentials(cluster.server), ...urlCredentials(cluster.proxyUrl)]) secrets.add(v);
  // Credentials an exec plugin hands out after connect (client-node runs it again when its token
  // expires) are new to the runner: they join `secrets` and the listeners mask them.
  const list: string[] = [];
  const listeners: ((secret: string) => void)[] = [];
  const credential = (values: string[]): void => {
    for (const v of values) {
      if (v.length < 4 || secrets.has(v)) continue;
      secrets.add(v);
      list.push(v);
      for (const l of listeners) l(v);
    }
  };
  guardCredentialPlugin(kc, options.credentialPluginTimeoutMs, credential);
  // Whatever authenticates a request (an exec plugin, an OIDC refresh, a token file the kubelet
  // rotates every hour), the header it sets is a credential, told as it first goes out.
  const applyAuthorization: unknown = Reflect.get(kc, 'applyAuthorizationHeader');
  if (typeof applyAuthorization === 'function') {
    Object.defineProperty(kc, 'applyAuthorizationHeader', {
      configurable: true,
      writable: true,
      async value(this: unknown, opts: { headers?: Record<string, unknown> }): Promise<void> {
        await (applyAuthorization as (o: unknown) => Promise<void>).call(this, opts);
        const header = opts.headers?.['Authorization'] ?? opts.headers?.['authorization'];
        if (typeof header === 'string') credential([header, header.replace(/^(Bearer|Basic)\s+/i, '')]);
      },
    });
  }
  for (const user of kc.getUsers()) {
    for (const v of [user.token, user.password, user.keyData, user.certData]) if (v) secrets.add(v);
    const cfg = user.authProvider?.config as Record<string, unknown> | undefined;
    for (const k of ['access-token', 'id-token', 'refresh-token', 'client-secret']) if (typeof cfg?.[k] === 'string') secrets.add(cfg[k]);
    for (const e of user.exec?.env ?? []) if (e.value) secrets.add(e.value);
  }
  // Run the credential plugin now (exec, oidc, token file), so the token it hands out is masked
  // before any log line; client-node re-runs it when the token expires.
  try {
    const opts: { headers?: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    const authz = opts.headers?.Authorization ?? opts.headers?.authorization;
    if (authz) {
      secrets.add(authz);
      secrets.add(authz.replace(/^(Bearer|Basic)\s+/i, ''));
    }
  } catch (err) {
    if (err instanceof CredentialPluginError) throw err;
    const user = kc.getCurrentUser();
    const reason = (err as Error).message.split('\n')[0];
    throw new KubeError(
      user?.exec || user?.authProvider
        ? `The kubeconfig's credential plugin failed (${reason}). Check that its command is installed on the runner and that the step which logged in to the cloud ran before this one.`
        : `The kubeconfig's credentials could not be read (${reason}). Check the user "${user?.name ?? ''}" and cluster "${kc.getCurrentCluster()?.name ?? ''}" of its current context: their certificate, key and token fields.`,
    );
  }
  list.splice(0, list.length, ...[...secrets].filter((s) => s.length >= 4));
  return { kubeConfig: kc, namespace, secrets: list, source, onNewSecret: (listener) => void listeners.push(listener) };
}

/** How long a run of the kubeconfig's exec credential plugin may take before it is stopped. */
export const CREDENTIAL_PLUGIN_TIMEOUT_MS = 60_000;

/**
 * A kubeconfig's exec credential plugin failed, was not found, or did not answer in time; the
 * message never holds what the plugin printed.
 */
export class CredentialPluginError extends KubeError {
  override name = 'CredentialPluginError';
}

/**
 * What an exec credential plugin prints can hold credentials (a token in a debug line, a half
 * written JSON credential), and client-node rejects with its stderr (or a JSON error quoting its
 * stdout) as the message, which would reach the step log unmasked: the token is new, the runner
 * has never been told to mask it. So every failure of the plugin, when the action connects and
 * whenever client-node runs it again for a fresh token, becomes a CredentialPluginError that
 * names the command and says how much it printed, never what.
 *
 * client-node keeps its authenticators in a list it does not export; the exec one is found by its
 * shape (`execFn`, `getCredential`). Should a later version change that shape, nothing is wrapped
 * and test/security/credentials.test.ts fails.
 */
export function guardCredentialPlugin(kc: KubeConfig, timeoutMs: number = CREDENTIAL_PLUGIN_TIMEOUT_MS, onCredential?: (values: string[]) => void): void {
  const list: unknown = Reflect.get(kc, 'authenticators');
  if (!Array.isArray(list)) return;
  for (const auth of list as Record<string, unknown>[]) {
    const original = auth['getCredential'];
    const spawnFn = auth['execFn'];
    if (typeof spawnFn !== 'function' || typeof original !== 'function' || auth['guarded'] === true) continue;
    auth['guarded'] = true;
    // client-node waits for the plugin without a limit: one that waits for a login prompt, or
    // hangs on the network, would hang the step with nothing in its log. Each run of it gets
    // `timeoutMs`, then SIGKILL (its children too would keep the pipes open: kill the group).
    let timedOut = 0;
    auth['execFn'] = (command: string, args: string[] | undefined, opts: SpawnOptions) => {
      const child = (spawnFn as typeof spawn)(command, args ?? [], { ...opts, detached: process.platform !== 'win32' });
      const timer = setTimeout(() => {
        timedOut++;
        try {
          if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
          else child.kill('SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, timeoutMs);
      child.once('close', () => clearTimeout(timer));
      child.once('error', () => clearTimeout(timer));
      return child;
    };
    auth['getCredential'] = async function (this: unknown, user: { name?: string; exec?: { command?: string }; authProvider?: { config?: { exec?: { command?: string } } } }) {
      const before = timedOut;
      try {
        const got = (await (original as (u: unknown) => Promise<unknown>).call(this, user)) as { status?: Record<string, unknown> } | null;
        // Its token and key, new each time it runs, are told before client-node uses them.
        const status = got?.status ?? {};
        onCredential?.(['token', 'clientKeyData', 'clientCertificateData'].map((k) => status[k]).filter((v): v is string => typeof v === 'string' && v !== ''));
        return got;
      } catch (err) {
        const command = user.exec?.command ?? user.authProvider?.config?.exec?.command ?? 'the exec plugin';
        if (timedOut > before) {
          throw new CredentialPluginError(
            `The kubeconfig's credential plugin \`${command}\` (user "${user.name ?? ''}") did not answer within ${formatDuration(timeoutMs)} and was stopped. It may be waiting for an interactive login, which a runner cannot give: run \`${command}\` in a step before this one to see what it waits for; check that the step which logged in to the cloud ran and that the plugin can reach its identity provider.`,
          );
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          throw new CredentialPluginError(`The kubeconfig's credential plugin \`${command}\` (user "${user.name ?? ''}") is not installed on the runner, or not on its PATH. Install it, or run the step that sets it up, before this one.`);
        }
        const printed = err instanceof Error ? err.message.length : 0;
        throw new CredentialPluginError(
          `The kubeconfig's credential plugin \`${command}\` (user "${user.name ?? ''}") failed${printed > 0 ? ` and printed ${printed} characters, not shown here because they may hold credentials` : ''}. Run \`${command}\` in a step before this one to see why; check that the step which logged in to the cloud ran and that its session has not expired.`,
        );
      }
    };
  }
}

/** The kubeconfig files read when no credential input is given: KUBECONFIG's list, else ~/.kube/config. */
function kubeconfigFiles(env: NodeJS.ProcessEnv): string[] {
  return env.KUBECONFIG ? env.KUBECONFIG.split(path.delimiter).filter((f) => f) : [homeKubeconfig(env)!];
}

const names = (list: { name: string }[]) => list.map((x) => `"${x.name}"`).join(', ') || 'none';

/**
 * What keeps the kubeconfig's current context from working, checked before any request, or null:
 * client-node would otherwise go on with a context whose user is missing (requests without
 * credentials, refused as if a permission were missing), send a server without a scheme to the
 * HTTP client (whose message names neither), and report a certificate file that is not there as
 * a failed credential plugin. `what` names the kubeconfig ("The kubeconfig input").
 */
export function kubeconfigProblem(kc: KubeConfig, what: string): string | null {
  if (kc.getContexts().length === 0 && kc.getClusters().length === 0) {
    return `${what} holds no contexts and no clusters: it is not a kubeconfig, or an empty one. Give the file \`kubectl config view --raw --minify\` prints (it has clusters, users, contexts and current-context).`;
  }
  const current = kc.getCurrentContext();
  const context = current ? kc.getContextObject(current) : null;
  if (!context) return null; // the message of connect() names the contexts there are
  const cluster = kc.getCluster(context.cluster);
  if (cluster === null) {
    return `${what}: context "${context.name}" names cluster "${context.cluster}", which is not among its clusters (${names(kc.getClusters())}). Correct the context's cluster, or add the cluster.`;
  }
  if (context.user && kc.getUser(context.user) === null) {
    return `${what}: context "${context.name}" names user "${context.user}", which is not among its users (${names(kc.getUsers())}); without it every request would go without credentials. Correct the context's user, or add the user.`;
  }
  const serverProblem = serverUrlProblem(cluster.server, cluster.skipTLSVerify === true);
  if (serverProblem !== null) return `${what}: cluster "${cluster.name}" has server "${shownServer(cluster.server)}", ${serverProblem}`;
  const user = context.user ? kc.getUser(context.user) : null;
  const files: [string, string | undefined][] = [
    [`cluster "${cluster.name}" certificate-authority`, cluster.caFile],
    [`user "${user?.name ?? ''}" client-certificate`, user?.certFile],
    [`user "${user?.name ?? ''}" client-key`, user?.keyFile],
  ];
  for (const [field, file] of files) {
    if (file && !existsSync(file)) return `${what}: ${field} is ${file}, which does not exist on this machine. Give the file's content inline instead (${field.split(' ').at(-1)}-data, base64), or write the file in a step before this one.`;
  }
  const pem: [string, string | undefined, string][] = [
    [`cluster "${cluster.name}" certificate-authority-data`, cluster.caData, 'CERTIFICATE'],
    [`user "${user?.name ?? ''}" client-certificate-data`, user?.certData, 'CERTIFICATE'],
    [`user "${user?.name ?? ''}" client-key-data`, user?.keyData, 'PRIVATE KEY'],
  ];
  for (const [field, data, kind] of pem) {
    if (data && !Buffer.from(data, 'base64').toString('utf8').includes(`-----BEGIN`)) {
      return `${what}: ${field} is not a base64-encoded PEM ${kind.toLowerCase()} (decoded, it has no "-----BEGIN" line). Copy it again from a working kubeconfig (\`kubectl config view --raw --minify\`).`;
    }
  }
  return null;
}

function homeKubeconfig(env: NodeJS.ProcessEnv): string | null {
  const home = env.HOME ?? env.USERPROFILE;
  return home ? path.join(home, '.kube', 'config') : null;
}

/** A kubeconfig given as YAML, or as base64 of it; which one is detected, not guessed from a flag. */
export function decodeKubeconfig(input: string): string {
  const t = input.trim();
  if (/^[A-Za-z0-9+/=\s_-]+$/.test(t) && !t.includes(':')) {
    const decoded = Buffer.from(t.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (/\b(apiVersion|clusters|contexts|current-context)\b/.test(decoded)) return decoded;
  }
  return t;
}

/** A permission a run needs, and the Role rule that grants it. */
export interface Permission {
  verb: string;
  resource: string;
  subresource?: string;
  /** The API group; '' (the default) is the core group. */
  group?: string;
  /**
   * Set for a permission the run can do without, at a cost this says (e.g. more requests): its
   * absence is a warning from the preflight, not an error, so a Role written for an earlier
   * release keeps working.
   */
  optional?: string;
}

const RUN_PERMISSIONS: Permission[] = [
  { verb: 'create', resource: 'pods' },
  { verb: 'get', resource: 'pods' },
  { verb: 'list', resource: 'pods' },
  { verb: 'watch', resource: 'pods' },
  { verb: 'delete', resource: 'pods' },
  // Finished pods are deleted in batches, by label selector (src/kube/reaper.ts). Optional: a
  // Role from before it was needed still runs, deleting the pods one by one.
  { verb: 'deletecollection', resource: 'pods', optional: 'the pods of finished tasks are deleted one request each instead of in batches' },
  { verb: 'get', resource: 'pods', subresource: 'log' },
  // The run's state (for re-runs and reattach) lives in a ConfigMap; housekeeping lists old ones.
  { verb: 'get', resource: 'configmaps' },
  { verb: 'create', resource: 'configmaps' },
  { verb: 'update', resource: 'configmaps' },
  { verb: 'list', resource: 'configmaps' },
  { verb: 'delete', resource: 'configmaps' },
];

const DRY_RUN_PERMISSIONS: Permission[] = [{ verb: 'create', resource: 'pods' }];

/** What the `concurrency` lock needs: a Lease it can create, renew and watch. */
export const LEASE_PERMISSIONS: Permission[] = ['get', 'create', 'update', 'watch'].map((verb) => ({
  verb,
  resource: 'leases',
  group: 'coordination.k8s.io',
}));

/** The permissions `preflight` checks for a mode (`concurrency` adds LEASE_PERMISSIONS). */
export function permissionsFor(needs: 'run' | 'dry-run', options: { concurrency?: boolean } = {}): Permission[] {
  if (needs === 'dry-run') return DRY_RUN_PERMISSIONS;
  return options.concurrency ? [...RUN_PERMISSIONS, ...LEASE_PERMISSIONS] : RUN_PERMISSIONS;
}

/** The smallest Role (and its binding) the action needs in its namespace; the README shows it. */
export const MINIMAL_ROLE_YAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-dag-action
  namespace: NAMESPACE
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["create", "get", "list", "watch", "delete", "deletecollection"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
  - apiGroups: [""]               # the run's state, for re-runs and reattach
    resources: ["configmaps"]
    verbs: ["get", "create", "update", "list", "delete"]
  - apiGroups: ["coordination.k8s.io"]   # only with the concurrency input
    resources: ["leases"]
    verbs: ["get", "create", "update", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: pod-dag-action
  namespace: NAMESPACE
subjects:
  - kind: ServiceAccount        # or User / Group: whoever the credentials authenticate as
    name: pod-dag-action
    namespace: NAMESPACE
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-dag-action
`;

function ruleFor(p: Permission): string {
  const res = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  return `- apiGroups: ["${p.group ?? ''}"]\n  resources: ["${res}"]\n  verbs: ["${p.verb}"]`;
}

/** What the preflight found that does not stop the run: optional permissions missing. */
export interface PreflightResult {
  /** One line per missing optional permission: what it costs, and the Role rule that grants it. */
  warnings: string[];
}

/**
 * Checks, before any pod is created: the server answers (network, TLS), the credentials are
 * accepted, the namespace exists, and every permission the mode needs is granted. One
 * SelfSubjectRulesReview lists the rules that apply in the namespace; a permission it does not
 * show granted (its list can be `incomplete`, and shows no rule of a webhook authorizer) is asked
 * of the authorizer itself with a SelfSubjectAccessReview, which decides. So a Role that grants
 * everything costs one request, and a missing permission is named exactly as before. For a run
 * given its `spec`, every ServiceAccount the spec names must exist (one read per name, only when
 * those rules grant `get serviceaccounts`). Throws one KubeError naming every problem and its fix.
 */
export async function preflight(
  target: KubeConfig | KubeClient,
  namespace: string,
  needs: 'run' | 'dry-run',
  options: { concurrency?: boolean; spec?: Pick<DagSpec, 'tasks' | 'file'> } = {},
): Promise<PreflightResult> {
  const client = target instanceof KubeConfig ? createClient(target) : target;
  const server = client.server;
  const perms = permissionsFor(needs, options);
  // Neither review needs a permission of its own (every authenticated user may ask), so their
  // answer separates "unreachable", "bad TLS" and "bad credentials" from "not allowed". A review
  // changes nothing, so a lost answer is asked again like any read: network errors, 5xx and 429
  // (after its Retry-After) within the retry budget (errors.ts).
  const granted = await rulesGranting(client, namespace, server);
  const reviews = await Promise.all(
    perms.map(async (p) => {
      if (granted.some((rule) => ruleGrants(rule, p))) return { p, allowed: true };
      const body: V1SelfSubjectAccessReview = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { namespace, verb: p.verb, resource: p.resource, subresource: p.subresource, group: p.group ?? '' } },
      };
      try {
        const r = await client.request(`SelfSubjectAccessReview ${p.verb} ${p.resource}`, () => client.authz.createSelfSubjectAccessReview({ body }));
        return { p, allowed: r.status?.allowed === true };
      } catch (err) {
        throw new KubeError(preflightMessage(err, server), classifyError(err), { cause: err });
      }
    }),
  );
  const missing = reviews.filter((r) => !r.allowed && r.p.optional === undefined);
  const warnings = reviews
    .filter((r) => !r.allowed && r.p.optional !== undefined)
    .map(
      (m) =>
        `The Kubernetes credentials lack ${m.p.verb} ${m.p.subresource ? `${m.p.resource}/${m.p.subresource}` : m.p.resource} in namespace "${namespace}": ${m.p.optional}. Add it to the Role with this rule (the README shows the minimal Role):\n${ruleFor(m.p)}`,
    );
  // A namespace that does not exist (a typo) grants nothing: said as such, not as missing rules.
  const namespaceKnown = await namespaceExists(client, namespace, server);
  if (missing.length) {
    const list = missing.map((m) => `  - ${m.p.verb} ${m.p.subresource ? `${m.p.resource}/${m.p.subresource}` : m.p.resource} in namespace "${namespace}"`).join('\n');
    const rules = missing.map((m) => ruleFor(m.p)).join('\n');
    // With a namespaced Role the namespace cannot be read, so a typo looks like no permission at all.
    const none = namespaceKnown === null && missing.length === perms.filter((p) => p.optional === undefined).length;
    throw new KubeError(
      `The Kubernetes credentials lack ${missing.length} permission${missing.length > 1 ? 's' : ''} this ${needs} needs:\n${list}\nGrant ${missing.length > 1 ? 'them' : 'it'} with a Role in namespace "${namespace}" bound to this identity, with these rules:\n${rules}\n(The README shows the minimal Role and RoleBinding.)` +
        (none
          ? `\nThey grant nothing at all in namespace "${namespace}": if it is not the namespace meant, or does not exist (they may not read namespaces, so the action cannot tell), set \`namespace\` in the spec or the action's input.`
          : ''),
    );
  }
  // A run (not a dry run, whose server-side dry run meets the plugin for each pod) checks the
  // ServiceAccounts the spec names, when the rules read above let it (src/kube/preflight-service-accounts.ts).
  if (needs === 'run' && options.spec !== undefined) {
    const canRead = granted.some((rule) => ruleGrants(rule, SERVICE_ACCOUNT_READ));
    const missing = await missingServiceAccounts(client, namespace, serviceAccountUses(options.spec), canRead, options.spec.file);
    if (missing.length > 0) throw new KubeError(`Nothing was run: ${missing.join('\n')}`);
  }
  return { warnings };
}

/**
 * Whether `namespace` exists: true, null when the credentials may not read namespaces (a
 * namespaced Role cannot grant it; the pod create will say if it is missing). One that does not
 * exist is a KubeError naming it and how to create it.
 */
async function namespaceExists(client: KubeClient, namespace: string, server: string): Promise<true | null> {
  try {
    await client.request(`get namespace ${namespace}`, () => client.core.readNamespace({ name: namespace }));
    return true;
  } catch (err) {
    const e = classifyError(err);
    if (e.kind === 'not-found') {
      throw new KubeError(`Namespace "${namespace}" does not exist on ${server}. Create it (kubectl create namespace ${namespace}) or set \`namespace\` in the spec or the action's input.`, e);
    }
    if (e.kind === 'forbidden') return null;
    throw new KubeError(preflightMessage(err, server), e, { cause: err });
  }
}

/**
 * The resource rules a SelfSubjectRulesReview shows granted in `namespace`: none if the server
 * does not serve the review or refuses it (then every permission is asked on its own).
 */
async function rulesGranting(client: KubeClient, namespace: string, server: string): Promise<V1ResourceRule[]> {
  const body: V1SelfSubjectRulesReview = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } };
  try {
    const r = await client.request(`SelfSubjectRulesReview in ${namespace}`, () => client.authz.createSelfSubjectRulesReview({ body }));
    // An incomplete list still grants what it shows; what it does not show is asked.
    return r.status?.resourceRules ?? [];
  } catch (err) {
    const e = classifyError(err);
    if (e.kind === 'forbidden' || e.kind === 'not-found' || e.kind === 'invalid') return [];
    throw new KubeError(preflightMessage(err, server), e, { cause: err });
  }
}

/**
 * Whether `rule` grants `p` on every object, as RBAC matches them (k8s.io/kubernetes
 * pkg/apis/rbac/v1 evaluation_helpers.go): `*` for verbs, groups and resources, `*\/<sub>` for a
 * subresource. A rule limited to resourceNames does not grant it on every object: not counted.
 */
export function ruleGrants(rule: V1ResourceRule, p: Permission): boolean {
  if (rule.resourceNames && rule.resourceNames.length > 0) return false;
  const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  const verbs = rule.verbs ?? [];
  const groups = rule.apiGroups ?? [];
  const resources = rule.resources ?? [];
  return (
    (verbs.includes('*') || verbs.includes(p.verb)) &&
    (groups.includes('*') || groups.includes(p.group ?? '')) &&
    resources.some((r) => r === '*' || r === resource || (p.subresource !== undefined && r === `*/${p.subresource}`))
  );
}

function preflightMessage(err: unknown, server: string): string {
  const e = classifyError(err);
  if (e.kind === 'unauthorized') {
    return `The Kubernetes API server at ${server} rejected the credentials (401 Unauthorized): the token or client certificate is wrong or expired. Check the kubeconfig/token secret, or that the login step before this one ran.`;
  }
  return describeError(err, 'check permissions (SelfSubjectRulesReview, SelfSubjectAccessReview)', server);
}
