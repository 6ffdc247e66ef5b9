/**
 * Validation and defaulting on create/update, as kube-apiserver's registry strategies and the
 * default admission plugins do it for the fields a pod runner touches. Messages follow
 * k8s.io/apimachinery/pkg/util/validation.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, cause, invalid, type StatusCause } from './status.ts';
import type { KObject } from './selectors.ts';
import type { ResourceInfo } from './resources.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const subdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const labelValueMsg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const envNameMsg = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

function q(v: unknown): string {
  return JSON.stringify(v);
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Five random characters as apiserver's name generator appends to generateName. */
export function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return s;
}

function validateMeta(obj: KObject, res: ResourceInfo, causes: StatusCause[]): void {
  const name = obj.metadata.name;
  const nameRe = res.plural === 'namespaces' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (!name) {
    causes.push(cause('FieldValueRequired', 'metadata.name', 'Required value: name or generateName is required'));
  } else if (!nameRe.test(name) || name.length > (res.plural === 'namespaces' ? 63 : 253)) {
    causes.push(cause('FieldValueInvalid', 'metadata.name', `Invalid value: ${q(name)}: ${res.plural === 'namespaces' ? labelMsg : subdomainMsg}`));
  }
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    const key = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
    if (!QUALIFIED_NAME.test(key) || key.length > 63) {
      causes.push(cause('FieldValueInvalid', 'metadata.labels', `Invalid value: ${q(k)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`));
    }
    if (typeof v !== 'string' || !LABEL_VALUE.test(v)) {
      causes.push(cause('FieldValueInvalid', `metadata.labels`, `Invalid value: ${q(v)}: ${labelValueMsg}`));
    } else if (v.length > 63) {
      causes.push(cause('FieldValueInvalid', `metadata.labels`, `Invalid value: ${q(v)}: must be no more than 63 characters`));
    }
  }
}

interface Container {
  name?: string;
  image?: string;
  command?: unknown;
  args?: unknown;
  env?: { name?: string; value?: string; valueFrom?: unknown }[];
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  imagePullPolicy?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  [k: string]: unknown;
}

function validateContainers(list: Container[] | undefined, path: string, required: boolean, causes: StatusCause[], names: Set<string>): void {
  if (list === undefined || list.length === 0) {
    if (required) causes.push(cause('FieldValueRequired', path, 'Required value'));
    return;
  }
  list.forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (!c.name) causes.push(cause('FieldValueRequired', `${p}.name`, 'Required value'));
    else if (!DNS1123_LABEL.test(c.name)) causes.push(cause('FieldValueInvalid', `${p}.name`, `Invalid value: ${q(c.name)}: ${labelMsg}`));
    else if (names.has(c.name)) causes.push(cause('FieldValueDuplicate', `${p}.name`, `Duplicate value: ${q(c.name)}`));
    if (c.name) names.add(c.name);
    if (!c.image || !c.image.trim()) causes.push(cause('FieldValueRequired', `${p}.image`, 'Required value'));
    for (const [j, e] of (c.env ?? []).entries()) {
      if (!e.name) causes.push(cause('FieldValueRequired', `${p}.env[${j}].name`, 'Required value'));
      else if (!ENV_NAME.test(e.name)) causes.push(cause('FieldValueInvalid', `${p}.env[${j}].name`, `Invalid value: ${q(e.name)}: ${envNameMsg}`));
      if (e.value !== undefined && e.valueFrom !== undefined) {
        causes.push(cause('FieldValueInvalid', `${p}.env[${j}].valueFrom`, `Invalid value: "": may not be specified when \`value\` is not empty`));
      }
    }
    if (c.terminationMessagePolicy && !['File', 'FallbackToLogsOnError'].includes(c.terminationMessagePolicy)) {
      causes.push(cause('FieldValueNotSupported', `${p}.terminationMessagePolicy`, `Unsupported value: ${q(c.terminationMessagePolicy)}: supported values: "File", "FallbackToLogsOnError"`));
    }
  });
}

/** Validates a pod on create; throws 422 Invalid with every cause found. */
function validatePod(pod: KObject, res: ResourceInfo, causes: StatusCause[]): void {
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const names = new Set<string>();
  validateContainers(spec.initContainers as Container[] | undefined, 'spec.initContainers', false, causes, names);
  validateContainers(spec.containers as Container[] | undefined, 'spec.containers', true, causes, names);
  const rp = spec.restartPolicy;
  if (rp !== undefined && !['Always', 'OnFailure', 'Never'].includes(rp as string)) {
    causes.push(cause('FieldValueNotSupported', 'spec.restartPolicy', `Unsupported value: ${q(rp)}: supported values: "Always", "OnFailure", "Never"`));
  }
  const ads = spec.activeDeadlineSeconds;
  if (ads !== undefined && (typeof ads !== 'number' || !Number.isInteger(ads) || ads < 1 || ads > 2147483647)) {
    causes.push(cause('FieldValueInvalid', 'spec.activeDeadlineSeconds', `Invalid value: ${q(ads)}: must be between 1 and 2147483647, inclusive`));
  }
  const tgp = spec.terminationGracePeriodSeconds;
  if (tgp !== undefined && (typeof tgp !== 'number' || tgp < 0)) {
    causes.push(cause('FieldValueInvalid', 'spec.terminationGracePeriodSeconds', `Invalid value: ${q(tgp)}: must be greater than or equal to 0`));
  }
  void res;
}

/** Validates any object on create or update; throws 422 Invalid listing every cause. */
export function validate(obj: KObject, res: ResourceInfo): void {
  const causes: StatusCause[] = [];
  validateMeta(obj, res, causes);
  if (res.plural === 'pods') validatePod(obj, res, causes);
  if (res.plural === 'leases') {
    const spec = (obj.spec ?? {}) as Record<string, unknown>;
    const d = spec.leaseDurationSeconds;
    if (d !== undefined && (typeof d !== 'number' || d <= 0)) {
      causes.push(cause('FieldValueInvalid', 'spec.leaseDurationSeconds', `Invalid value: ${q(d)}: must be greater than 0`));
    }
  }
  if (res.plural === 'secrets' || res.plural === 'configmaps') {
    const data = (obj.data ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(data)) {
      if (!/^[-._a-zA-Z0-9]+$/.test(k)) {
        causes.push(cause('FieldValueInvalid', `data[${k}]`, `Invalid value: ${q(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`));
      }
    }
  }
  if (causes.length) throw invalid(res.kind, res.group, obj.metadata.name ?? '', causes);
}

/** The ServiceAccount a pod runs as: `serviceAccountName`, else the deprecated `serviceAccount`, else "default". */
export function podServiceAccount(pod: KObject): string {
  const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown; serviceAccount?: unknown };
  if (typeof spec.serviceAccountName === 'string' && spec.serviceAccountName) return spec.serviceAccountName;
  if (typeof spec.serviceAccount === 'string' && spec.serviceAccount) return spec.serviceAccount;
  return 'default';
}

/**
 * The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a pod whose
 * ServiceAccount does not exist in its namespace is refused with 403, before validation (it is a
 * mutating plugin) and on a dry run too, named as the request named it (`generateName` when the
 * name is still to be generated). `exists` looks the ServiceAccount up.
 */
export function admitServiceAccount(pod: KObject, namespace: string, exists: (name: string) => boolean): void {
  const sa = podServiceAccount(pod);
  if (exists(sa)) return;
  const generateName = typeof pod.metadata['generateName'] === 'string' ? pod.metadata['generateName'] : '';
  const name = pod.metadata.name || generateName;
  throw new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `pods "${name}" is forbidden: error looking up service account ${namespace}/${sa}: serviceaccount "${sa}" not found`,
    reason: 'Forbidden',
    details: { name, kind: 'pods' },
    code: 403,
  });
}

/** The ServiceAccount a new namespace gets, as kube-controller-manager's service-account controller creates it. */
export function defaultServiceAccount(namespace: string): KObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } };
}

function parseImageTag(image: string): string | undefined {
  const lastSlash = image.lastIndexOf('/');
  const afterSlash = image.slice(lastSlash + 1);
  const at = afterSlash.indexOf('@');
  if (at !== -1) return '@digest';
  const colon = afterSlash.indexOf(':');
  return colon === -1 ? undefined : afterSlash.slice(colon + 1);
}

/** The QoS class kubelet and apiserver compute from requests and limits. */
export function qosClass(containers: Container[]): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) {
      const l = lim[r];
      const rq = req[r] ?? l;
      if (l === undefined || rq !== l) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Fills in what apiserver defaulting and the default admission plugins add to a new object. */
export function applyDefaults(obj: KObject, res: ResourceInfo, now: string): KObject {
  const out = structuredClone(obj);
  out.apiVersion = res.group ? `${res.group}/${res.version}` : res.version;
  out.kind = res.kind;
  out.metadata.uid = randomUUID();
  out.metadata.creationTimestamp = now;
  delete out.metadata.deletionTimestamp;
  delete out.metadata.deletionGracePeriodSeconds;
  if (res.plural === 'pods') {
    const spec = (out.spec ?? {}) as Record<string, unknown>;
    out.spec = spec;
    spec.restartPolicy ??= 'Always';
    spec.terminationGracePeriodSeconds ??= 30;
    spec.dnsPolicy ??= 'ClusterFirst';
    spec.schedulerName ??= 'default-scheduler';
    spec.securityContext ??= {};
    spec.serviceAccountName ??= (spec.serviceAccount as string | undefined) ?? 'default';
    spec.serviceAccount ??= spec.serviceAccountName;
    spec.enableServiceLinks ??= true;
    spec.priority ??= 0;
    spec.preemptionPolicy ??= 'PreemptLowerPriority';
    const tolerations = (spec.tolerations ?? []) as { key?: string }[];
    // DefaultTolerationSeconds admission.
    for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
      if (!tolerations.some((t) => t.key === key)) {
        tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 } as { key: string });
      }
    }
    spec.tolerations = tolerations;
    const all = [...((spec.initContainers ?? []) as Container[]), ...((spec.containers ?? []) as Container[])];
    for (const c of all) {
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      c.resources ??= {};
      if (!c.imagePullPolicy && c.image) {
        const tag = parseImageTag(c.image);
        c.imagePullPolicy = tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
      }
    }
    out.status = { phase: 'Pending', qosClass: qosClass((spec.containers ?? []) as Container[]) };
  }
  if (res.plural === 'namespaces') {
    out.metadata.labels = { ...(out.metadata.labels ?? {}), 'kubernetes.io/metadata.name': out.metadata.name };
    out.spec = { finalizers: ['kubernetes'] };
    out.status = { phase: 'Active' };
  }
  if (res.plural === 'secrets') {
    const data = { ...((out.data ?? {}) as Record<string, string>) };
    for (const [k, v] of Object.entries((out.stringData ?? {}) as Record<string, string>)) {
      data[k] = Buffer.from(v).toString('base64');
    }
    delete out.stringData;
    out.data = data;
    out.type ??= 'Opaque';
  }
  if (res.plural === 'leases') normalizeLease(out);
  return out;
}

/** Formats a time as metav1.MicroTime serializes (six fraction digits); unparseable input is kept. */
function microTime(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(v);
  if (!m) return v;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return v;
  return `${new Date(ms).toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
}

/** Lease times are MicroTime: apiserver stores and returns them with microseconds, in UTC. */
export function normalizeLease(obj: KObject): void {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (!spec) return;
  for (const f of ['acquireTime', 'renewTime']) if (spec[f] !== undefined) spec[f] = microTime(spec[f]);
}
