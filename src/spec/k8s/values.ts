/**
 * What the API server's validation of a pod refuses in the values a spec passes through (names
 * of Secrets, ConfigMaps, volumes and the service account, label and annotation keys, label
 * values, env keys, resource names; requests against limits: requestProblems), checked offline so that such a spec is refused at
 * file:line:col before any pod is created, not with a 422 when the task's turn comes.
 * The rules are those of k8s.io/apimachinery/pkg/util/validation and pkg/apis/core/validation.
 */

/** A path inside a task (or `defaults`), and what is wrong with the value there. */
export interface ValueProblem {
  path: (string | number)[];
  /** `key`: the problem is the map key at `path`; `value`: the value. */
  at: 'key' | 'value';
  message: string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Why `name` is not a DNS-1123 subdomain (the name of a Secret, ConfigMap, ServiceAccount…), or null. */
export function subdomainProblem(name: string): string | null {
  if (name.length > 253) return `it is ${name.length} characters long, at most 253 are allowed`;
  return DNS1123_SUBDOMAIN.test(name) ? null : 'a Kubernetes object name is lowercase a-z, 0-9, "-" and ".", starting and ending with a letter or digit';
}

/** Why `name` is not a DNS-1123 label (a volume's name), or null. */
function labelNameProblem(name: string): string | null {
  if (name.length > 63) return `it is ${name.length} characters long, at most 63 are allowed`;
  return DNS1123_LABEL.test(name) ? null : 'it must be lowercase a-z, 0-9 and "-", starting and ending with a letter or digit';
}

/** Why `key` is not a qualified name (`[prefix/]name`, a label or annotation key), or null. */
export function qualifiedNameProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash < 0 ? [null, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== null && (prefix === '' || subdomainProblem(prefix) !== null)) return `its prefix "${prefix}" must be a DNS subdomain (lowercase, e.g. "example.com")`;
  if (name.length === 0 || name.length > 63) return `its name part must be 1 to 63 characters long`;
  return QUALIFIED_NAME_PART.test(name) ? null : 'it must be letters, digits, "-", "_" and ".", starting and ending with a letter or digit, with an optional "prefix/"';
}

/** Why `value` is not a label value, or null. */
function labelValueProblem(value: string): string | null {
  if (value === '') return null;
  if (value.length > 63) return `it is ${value.length} characters long, at most 63 are allowed`;
  return QUALIFIED_NAME_PART.test(value) ? null : 'a label value is letters, digits, "-", "_" and ".", starting and ending with a letter or digit (or empty)';
}

const SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A quantity's value as a number (approximate past 2^53, enough to compare), or null. */
function quantityValue(q: unknown): number | null {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return null;
  const m = /^\+?((?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/.exec(q);
  if (m === null) return null;
  return Number(m[1]) * (m[2] !== undefined ? 10 ** Number(m[2]) : SUFFIX[m[3] ?? '']!);
}

const STANDARD_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'];

/**
 * Why a container's resource name is refused (pkg/apis/core/validation, validateContainerResourceName),
 * or null: a standard one (cpu, memory, ephemeral-storage, hugepages-<size>), or an extended one
 * with a domain (`nvidia.com/gpu`); `cpus` or `gpu` would be refused when the task's pod is created.
 */
export function resourceNameProblem(name: string): string | null {
  if (STANDARD_RESOURCES.includes(name) || name.startsWith('hugepages-')) return null;
  if (name.includes('/')) return null; // a qualified name; its syntax is checked with the label keys' rules
  const close = STANDARD_RESOURCES.find((r) => r.startsWith(name) || name.startsWith(r) || (name.length > 2 && r.includes(name)));
  return `it is neither a standard resource (cpu, memory, ephemeral-storage, hugepages-<size>) nor an extended resource named with its domain (e.g. nvidia.com/gpu)${close === undefined ? '' : `; did you mean "${close}"?`}`;
}

/**
 * What the API server refuses in a container's requests against its limits: a request above its
 * limit, and for a resource that cannot be overcommitted (an extended resource such as
 * nvidia.com/gpu, hugepages) a request without a limit or not equal to it.
 */
export function requestProblems(requests: Record<string, unknown>, limits: Record<string, unknown>): { resource: string; message: string }[] {
  const out: { resource: string; message: string }[] = [];
  for (const [r, request] of Object.entries(requests)) {
    const req = quantityValue(request);
    const lim = quantityValue(limits[r]);
    const overcommit = !r.startsWith('hugepages-') && (!r.includes('/') || r.includes('kubernetes.io/'));
    if (!overcommit && limits[r] === undefined) {
      out.push({ resource: r, message: `the ${r} request ${String(request)} has no limit; ${r} cannot be overcommitted, so its limit must be set, equal to the request (or give only the limit)` });
    } else if (!overcommit && req !== null && lim !== null && req !== lim) {
      out.push({ resource: r, message: `the ${r} request ${String(request)} is not its limit ${String(limits[r])}; ${r} cannot be overcommitted, so its request must equal its limit (or give only the limit)` });
    } else if (req !== null && lim !== null && req > lim) {
      out.push({ resource: r, message: `the ${r} request ${String(request)} is more than its limit ${String(limits[r])}; a request must be at most the limit` });
    }
  }
  return out;
}

/** Every problem of the Kubernetes values written in one task (or `defaults`), by path inside it. */
export function kubeValueProblems(fields: unknown): ValueProblem[] {
  if (!isRecord(fields)) return [];
  const out: ValueProblem[] = [];
  const name = (path: (string | number)[], value: unknown, what: string, problem: (s: string) => string | null = subdomainProblem) => {
    if (typeof value !== 'string' || value.includes('{{')) return;
    const p = problem(value);
    if (p !== null) out.push({ path, at: 'value', message: `${what} "${value}" is not valid: ${p}` });
  };
  if (isRecord(fields.env)) {
    for (const [env, v] of Object.entries(fields.env)) {
      if (!isRecord(v)) continue;
      if ('secret' in v) name(['env', env, 'secret'], v.secret, 'Secret name');
      if ('configMap' in v) name(['env', env, 'configMap'], v.configMap, 'ConfigMap name');
      name(['env', env, 'key'], v.key, 'key', (k) => (k.length <= 253 && CONFIG_KEY.test(k) ? null : 'a Secret or ConfigMap key is letters, digits, "-", "_" and "."'));
    }
  }
  if (Array.isArray(fields.envFrom)) {
    fields.envFrom.forEach((v: unknown, i) => {
      if (!isRecord(v)) return;
      if ('secret' in v) name(['envFrom', i, 'secret'], v.secret, 'Secret name');
      if ('configMap' in v) name(['envFrom', i, 'configMap'], v.configMap, 'ConfigMap name');
      name(['envFrom', i, 'prefix'], v.prefix, 'prefix', (p) => (p === '' || ENV_NAME.test(p) ? null : 'variable names start with a letter, "_", "-" or "." and hold letters, digits, "_", "-" and "."'));
    });
  }
  if (isRecord(fields.resources)) {
    const { requests, limits } = fields.resources;
    for (const [kind, map] of [['requests', requests], ['limits', limits]] as const) {
      if (!isRecord(map)) continue;
      for (const r of Object.keys(map)) {
        const p = qualifiedNameProblem(r) ?? resourceNameProblem(r);
        if (p !== null) out.push({ path: ['resources', kind, r], at: 'key', message: `resource name "${r}" is not valid: ${p}` });
      }
    }
    // Requests against limits: per task, once `defaults` is merged in (parse.ts, checkMergedRequests).
  }
  const pod = fields.pod;
  if (!isRecord(pod)) return out;
  name(['pod', 'serviceAccountName'], pod.serviceAccountName, 'service account name');
  name(['pod', 'priorityClassName'], pod.priorityClassName, 'priority class name');
  if (Array.isArray(pod.imagePullSecrets)) pod.imagePullSecrets.forEach((s: unknown, i) => isRecord(s) && name(['pod', 'imagePullSecrets', i, 'name'], s.name, 'Secret name'));
  for (const field of ['labels', 'annotations', 'nodeSelector'] as const) {
    const map = pod[field];
    if (!isRecord(map)) continue;
    for (const [k, v] of Object.entries(map)) {
      const p = qualifiedNameProblem(k);
      if (p !== null) out.push({ path: ['pod', field, k], at: 'key', message: `${field === 'annotations' ? 'annotation' : 'label'} key "${k}" is not valid: ${p}` });
      if (field !== 'annotations' && typeof v === 'string' && !v.includes('{{')) {
        const pv = labelValueProblem(v);
        if (pv !== null) out.push({ path: ['pod', field, k], at: 'value', message: `label value "${v}" is not valid: ${pv}` });
      }
    }
  }
  out.push(...podRuleProblems(pod));
  if (Array.isArray(pod.volumes)) {
    pod.volumes.forEach((v: unknown, i) => {
      if (!isRecord(v)) return;
      name(['pod', 'volumes', i, 'name'], v.name, 'volume name', labelNameProblem);
      if (isRecord(v.secret)) name(['pod', 'volumes', i, 'secret', 'secretName'], v.secret.secretName, 'Secret name');
      if (isRecord(v.configMap)) name(['pod', 'volumes', i, 'configMap', 'name'], v.configMap.name, 'ConfigMap name');
      if (isRecord(v.persistentVolumeClaim)) name(['pod', 'volumes', i, 'persistentVolumeClaim', 'claimName'], v.persistentVolumeClaim.claimName, 'claim name');
    });
  }
  return out;
}

/**
 * The rules the API server checks inside tolerations and selector requirements (pkg/apis/core/
 * validation: validateTolerations, validateNodeSelectorRequirement; apimachinery's
 * ValidateLabelSelectorRequirement), which the schema cannot say: what `operator` asks of `values`
 * and `value`, that `tolerationSeconds` goes with `effect: NoExecute`, that a required node
 * affinity has a term. Paths are inside the task (`['pod', 'tolerations', 0, 'value']`).
 */
function podRuleProblems(pod: Record<string, unknown>): ValueProblem[] {
  const out: ValueProblem[] = [];
  if (Array.isArray(pod.tolerations)) {
    pod.tolerations.forEach((t: unknown, i) => {
      if (!isRecord(t)) return;
      const at = ['pod', 'tolerations', i];
      const operator = t.operator ?? 'Equal';
      if (operator === 'Exists' && typeof t.value === 'string' && t.value !== '') {
        out.push({ path: [...at, 'value'], at: 'value', message: `a toleration with operator Exists takes no value (it tolerates every value of the key); remove value "${t.value}", or use operator Equal` });
      }
      if ((t.key === undefined || t.key === '') && operator !== 'Exists') {
        out.push({ path: [...at, 'operator'], at: t.operator === undefined ? 'key' : 'value', message: 'a toleration without a key must have operator Exists (it then tolerates every taint); give the key of the taint, or operator: Exists' });
      }
      if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
        out.push({ path: [...at, 'tolerationSeconds'], at: 'key', message: `tolerationSeconds goes with effect NoExecute (how long the pod stays once such a taint appears); found effect ${t.effect === undefined ? 'unset' : JSON.stringify(t.effect)}` });
      }
    });
  }
  const affinity = pod.affinity;
  if (!isRecord(affinity)) return out;
  const requirement = (r: unknown, at: (string | number)[], node: boolean) => {
    if (!isRecord(r) || typeof r.operator !== 'string') return;
    const values = Array.isArray(r.values) ? r.values : [];
    const op = r.operator;
    if ((op === 'In' || op === 'NotIn') && values.length === 0) {
      out.push({ path: [...at, 'operator'], at: 'value', message: `operator ${op} needs at least one value in values` });
    } else if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
      out.push({ path: [...at, 'values'], at: 'value', message: `operator ${op} takes no values; remove them, or use operator In` });
    } else if (node && (op === 'Gt' || op === 'Lt') && (values.length !== 1 || !/^-?\d+$/.test(String(values[0])))) {
      out.push({ path: [...at, 'values'], at: 'value', message: `operator ${op} needs exactly one value, a whole number written as a string (e.g. ["4"])` });
    }
  };
  const requirements = (list: unknown, at: (string | number)[], node: boolean) => {
    if (Array.isArray(list)) list.forEach((r: unknown, i) => requirement(r, [...at, i], node));
  };
  const nodeTerm = (term: unknown, at: (string | number)[]) => {
    if (!isRecord(term)) return;
    requirements(term.matchExpressions, [...at, 'matchExpressions'], true);
    requirements(term.matchFields, [...at, 'matchFields'], true);
  };
  const nodeAffinity = affinity.nodeAffinity;
  if (isRecord(nodeAffinity)) {
    const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    const at = ['pod', 'affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution'];
    if (isRecord(required)) {
      if (!Array.isArray(required.nodeSelectorTerms) || required.nodeSelectorTerms.length === 0) {
        out.push({ path: [...at, 'nodeSelectorTerms'], at: 'key', message: 'a required node affinity needs at least one term in nodeSelectorTerms (a node matching any term qualifies)' });
      } else {
        required.nodeSelectorTerms.forEach((term: unknown, i) => nodeTerm(term, [...at, 'nodeSelectorTerms', i]));
      }
    }
    if (Array.isArray(nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution)) {
      nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.forEach((p: unknown, i) => {
        if (isRecord(p)) nodeTerm(p.preference, ['pod', 'affinity', 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', i, 'preference']);
      });
    }
  }
  const podTerm = (term: unknown, at: (string | number)[]) => {
    if (!isRecord(term)) return;
    for (const selector of ['labelSelector', 'namespaceSelector'] as const) {
      const sel = term[selector];
      if (isRecord(sel)) requirements(sel.matchExpressions, [...at, selector, 'matchExpressions'], false);
    }
  };
  for (const kind of ['podAffinity', 'podAntiAffinity'] as const) {
    const a = affinity[kind];
    if (!isRecord(a)) continue;
    const base = ['pod', 'affinity', kind];
    const required = a.requiredDuringSchedulingIgnoredDuringExecution;
    if (Array.isArray(required)) required.forEach((term: unknown, i) => podTerm(term, [...base, 'requiredDuringSchedulingIgnoredDuringExecution', i]));
    const preferred = a.preferredDuringSchedulingIgnoredDuringExecution;
    if (Array.isArray(preferred)) {
      preferred.forEach((p: unknown, i) => {
        if (isRecord(p)) podTerm(p.podAffinityTerm, [...base, 'preferredDuringSchedulingIgnoredDuringExecution', i, 'podAffinityTerm']);
      });
    }
  }
  return out;
}
