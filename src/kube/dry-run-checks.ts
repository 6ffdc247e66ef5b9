/**
 * What `dry-run` checks beyond the API server's own dry run, which accepts a pod whose Secret does
 * not exist or whose node selector matches no node (the kubelet and the scheduler would find out,
 * later): every Secret and ConfigMap a pod references exists, with the keys it names; its node
 * selector, required node affinity and tolerations let it onto at least one node; its resource
 * requests fit one of those nodes. Each check runs where the credentials allow it; where RBAC
 * forbids it, it is skipped and says so.
 *
 * The matching is pure (`podReferences`, `nodeProblems`); the reads go through the narrow
 * `ClusterReader`, one request per distinct Secret or ConfigMap and one list of nodes.
 */
import type { V1Node, V1Pod, V1Toleration } from '@kubernetes/client-node';
import { classifyError } from './errors.ts';
import type { KubeClient } from './client.ts';
import { parseQuantity } from './quantity.ts';

export { parseQuantity };

/** A Secret or ConfigMap a pod needs, and the keys it names. */
export interface ObjectRef {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  /** Keys named (env valueFrom, volume items); empty when the whole object is used. */
  keys: Set<string>;
  /** Every use of it is `optional: true`: a missing object is not a problem. */
  optional: boolean;
}

/** The reads the checks need; each call is one API request. */
export interface ClusterReader {
  /** The key names of a Secret (its values are dropped at once), or `null` when it does not exist. */
  secretKeys(namespace: string, name: string): Promise<string[] | null>;
  /** The key names of a ConfigMap, or `null` when it does not exist. */
  configMapKeys(namespace: string, name: string): Promise<string[] | null>;
  /** Every node of the cluster. */
  nodes(): Promise<V1Node[]>;
}

/** The reader of a connected client. */
export function kubeClusterReader(client: KubeClient): ClusterReader {
  const absent = (err: unknown): null => {
    if (classifyError(err).kind === 'not-found') return null;
    throw err;
  };
  return {
    secretKeys: (namespace, name) =>
      client
        .request(`get secret ${name}`, () => client.core.readNamespacedSecret({ name, namespace }))
        .then((s) => [...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})], absent),
    configMapKeys: (namespace, name) =>
      client
        .request(`get configmap ${name}`, () => client.core.readNamespacedConfigMap({ name, namespace }))
        .then((c) => [...Object.keys(c.data ?? {}), ...Object.keys(c.binaryData ?? {})], absent),
    nodes: () => client.request('list nodes', () => client.core.listNode()).then((l) => l.items),
  };
}

/** Every Secret and ConfigMap a pod references: env, envFrom, volumes, projected volumes, image pull secrets. */
export function podReferences(pod: V1Pod): ObjectRef[] {
  const refs = new Map<string, ObjectRef>();
  const add = (kind: ObjectRef['kind'], name: string | undefined, keys: string[], optional: boolean | undefined): void => {
    if (name === undefined || name === '') return;
    const id = `${kind}/${name}`;
    const ref = refs.get(id) ?? { kind, name, keys: new Set<string>(), optional: true };
    for (const k of keys) ref.keys.add(k);
    ref.optional &&= optional === true;
    refs.set(id, ref);
  };
  const spec = pod.spec;
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      if (s) add('Secret', s.name, [s.key], s.optional);
      const m = e.valueFrom?.configMapKeyRef;
      if (m) add('ConfigMap', m.name, [m.key], m.optional);
    }
    for (const f of c.envFrom ?? []) {
      if (f.secretRef) add('Secret', f.secretRef.name, [], f.secretRef.optional);
      if (f.configMapRef) add('ConfigMap', f.configMapRef.name, [], f.configMapRef.optional);
    }
  }
  for (const v of spec?.volumes ?? []) {
    if (v.secret) add('Secret', v.secret.secretName, (v.secret.items ?? []).map((i) => i.key), v.secret.optional);
    if (v.configMap) add('ConfigMap', v.configMap.name, (v.configMap.items ?? []).map((i) => i.key), v.configMap.optional);
    for (const p of v.projected?.sources ?? []) {
      if (p.secret) add('Secret', p.secret.name, (p.secret.items ?? []).map((i) => i.key), p.secret.optional);
      if (p.configMap) add('ConfigMap', p.configMap.name, (p.configMap.items ?? []).map((i) => i.key), p.configMap.optional);
    }
  }
  // A missing pull secret only stops private pulls, but it is almost always a typo.
  for (const s of spec?.imagePullSecrets ?? []) add('Secret', s.name, [], false);
  return [...refs.values()];
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

function matchesExpression(labels: Record<string, string>, r: Requirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case 'In':
      return has && (r.values ?? []).includes(value!);
    case 'NotIn':
      return !has || !(r.values ?? []).includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      const a = Number(value);
      const b = Number(r.values?.[0]);
      if (!has || !Number.isInteger(a) || !Number.isInteger(b)) return false;
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** Whether a toleration lets the pod onto a node with this taint. */
function tolerates(t: V1Toleration, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** Why a pod would fit on no node, or `[]`; what each node lacks is summed up per cause. */
export function nodeProblems(pod: V1Pod, nodes: V1Node[]): string[] {
  const spec = pod.spec ?? { containers: [] };
  const selector = spec.nodeSelector ?? {};
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const requests = new Map<string, number>();
  for (const c of spec.containers ?? []) {
    // A resource with a limit and no request is requested at its limit, as the API server defaults it.
    const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) } as Record<string, string>;
    for (const [k, v] of Object.entries(merged)) {
      const q = parseQuantity(v);
      if (q !== null) requests.set(k, (requests.get(k) ?? 0) + q);
    }
  }
  const causes = new Map<string, number>();
  const fail = (cause: string): void => void causes.set(cause, (causes.get(cause) ?? 0) + 1);
  let fits = 0;
  for (const node of nodes) {
    const labels = node.metadata?.labels ?? {};
    if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) {
      fail(`nodeSelector ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(', ')} does not match its labels`);
      continue;
    }
    if (terms.length > 0 && !terms.some((t) => (t.matchExpressions ?? []).every((r) => matchesExpression(labels, r)) && (t.matchFields ?? []).every((r) => r.key === 'metadata.name' && matchesExpression({ 'metadata.name': node.metadata?.name ?? '' }, r)))) {
      fail('the required node affinity does not match its labels');
      continue;
    }
    const blocking = (node.spec?.taints ?? []).filter((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !(spec.tolerations ?? []).some((tol) => tolerates(tol, t)));
    if (blocking.length > 0) {
      fail(`it has a taint the pod does not tolerate (${blocking.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ')})`);
      continue;
    }
    if (node.spec?.unschedulable === true) {
      fail('it is cordoned');
      continue;
    }
    const allocatable = node.status?.allocatable ?? {};
    const short = [...requests].filter(([k, need]) => {
      const have = parseQuantity(allocatable[k] ?? '0') ?? 0;
      return need > have;
    });
    if (short.length > 0) {
      fail(`its allocatable ${short.map(([k]) => `${k} (${allocatable[k] ?? '0'})`).join(', ')} is less than the pod requests`);
      continue;
    }
    fits++;
  }
  if (fits > 0) return [];
  if (nodes.length === 0) return ['the cluster has no nodes'];
  const total = nodes.length;
  return [`no node of ${total} can run it: ${[...causes].map(([c, n]) => `${n} ${n === 1 ? 'node' : 'nodes'}: ${c}`).join('; ')}`];
}

/** A check that could not run, and why. */
export interface SkippedCheck {
  check: string;
  why: string;
}

/** What the checks found: problems per task, the checks skipped, and the checks done. */
export interface ClusterCheckResult {
  problems: Map<string, string[]>;
  skipped: SkippedCheck[];
  done: string[];
}

/** Why a read failed, in words, for a skipped check. */
function skipReason(err: unknown, what: string, namespace: string | null): string {
  const e = classifyError(err);
  if (e.kind === 'forbidden') {
    return `RBAC does not let these credentials ${what}${namespace === null ? ' (a cluster-wide permission, granted by a ClusterRole)' : ` in namespace ${namespace}`}`;
  }
  return `${what} failed: ${(err as Error).message ?? String(err)}`;
}

/**
 * Runs the checks for each task's rendered pod. Never throws for a read the credentials do not
 * allow or the cluster does not answer: that check is skipped, and the result says so.
 */
export async function checkPods(pods: { task: string; pod: V1Pod }[], namespace: string, reader: ClusterReader): Promise<ClusterCheckResult> {
  const problems = new Map<string, string[]>(pods.map((p) => [p.task, []]));
  const skipped: SkippedCheck[] = [];
  const done: string[] = [];
  const note = (task: string, problem: string): void => void problems.get(task)!.push(problem);

  // Secrets and ConfigMaps: one read per distinct object.
  const refs = pods.flatMap((p) => podReferences(p.pod).map((ref) => ({ task: p.task, ref })));
  const reads = new Map<string, Promise<string[] | null | { error: unknown }>>();
  for (const { ref } of refs) {
    const id = `${ref.kind}/${ref.name}`;
    if (reads.has(id)) continue;
    const read = ref.kind === 'Secret' ? reader.secretKeys(namespace, ref.name) : reader.configMapKeys(namespace, ref.name);
    reads.set(id, read.catch((error: unknown) => ({ error })));
  }
  const forbidden = new Set<ObjectRef['kind']>();
  for (const { task, ref } of refs) {
    const got = await reads.get(`${ref.kind}/${ref.name}`)!;
    if (got !== null && !Array.isArray(got)) {
      if (!forbidden.has(ref.kind)) {
        forbidden.add(ref.kind);
        skipped.push({ check: `${ref.kind}s exist`, why: skipReason(got.error, `get ${ref.kind === 'Secret' ? 'secrets' : 'configmaps'}`, namespace) });
      }
      continue;
    }
    if (got === null) {
      if (!ref.optional) note(task, `${ref.kind} "${ref.name}" does not exist in namespace ${namespace}`);
      continue;
    }
    const missing = [...ref.keys].filter((k) => !got.includes(k));
    if (missing.length > 0 && !ref.optional) {
      note(task, `${ref.kind} "${ref.name}" has no key ${missing.map((k) => `"${k}"`).join(', ')} (it has ${got.length === 0 ? 'none' : got.map((k) => `"${k}"`).join(', ')})`);
    }
  }
  for (const kind of ['Secret', 'ConfigMap'] as const) {
    if (refs.some((r) => r.ref.kind === kind) && !forbidden.has(kind)) done.push(`every ${kind} the pods name exists, with its keys`);
  }

  // Nodes: one list for every pod.
  let nodes: V1Node[] | null = null;
  try {
    nodes = await reader.nodes();
  } catch (err) {
    skipped.push({ check: 'a node can run each pod (selector, affinity, taints, resources)', why: skipReason(err, 'list nodes', null) });
  }
  if (nodes !== null) {
    for (const p of pods) for (const problem of nodeProblems(p.pod, nodes)) note(p.task, problem);
    done.push(`a node can run each pod: node selector, required node affinity, taints and resource requests, against the ${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'}`);
  }
  return { problems, skipped, done };
}
