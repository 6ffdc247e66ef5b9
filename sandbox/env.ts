/**
 * A container's environment as the kubelet builds it (pkg/kubelet/kubelet_pods.go
 * makeEnvironmentVariables): envFrom first, then env in order, with $(VAR) expansion against
 * what is defined so far, and the kubelet's own wording when a reference cannot be resolved.
 */
import type { KObject } from './selectors.ts';

/** The parts of a container spec the environment comes from. */
export interface EnvContainer {
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      secretKeyRef?: { name: string; key: string; optional?: boolean };
      configMapKeyRef?: { name: string; key: string; optional?: boolean };
      fieldRef?: { fieldPath: string };
      resourceFieldRef?: { resource: string; divisor?: string };
    };
  }[];
  envFrom?: { prefix?: string; secretRef?: { name: string; optional?: boolean }; configMapRef?: { name: string; optional?: boolean } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

/** Looks up secrets and configmaps of the pod's namespace. */
export interface EnvLookup {
  secret(name: string): KObject | undefined;
  configMap(name: string): KObject | undefined;
}

/** Thrown when a reference cannot be resolved; the message is the kubelet's. */
export class EnvError extends Error {}

/** Expands $(VAR) as Kubernetes does: unknown references stay literal, $$ escapes a dollar. */
export function expand(input: string, vars: Map<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close === -1) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += vars.has(name) ? vars.get(name)! : `$(${name})`;
      i = close;
    } else {
      out += ch;
    }
  }
  return out;
}

function fieldRef(path: string, pod: KObject): string {
  const meta = pod.metadata;
  const spec = (pod.spec ?? {}) as Record<string, string>;
  const status = (pod.status ?? {}) as Record<string, string>;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return ((m[1] === 'labels' ? meta.labels : meta.annotations) ?? {})[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name': return meta.name;
    case 'metadata.namespace': return meta.namespace ?? '';
    case 'metadata.uid': return meta.uid ?? '';
    case 'spec.nodeName': return spec.nodeName ?? '';
    case 'spec.serviceAccountName': return spec.serviceAccountName ?? '';
    case 'status.hostIP': return status.hostIP ?? '';
    case 'status.podIP': return status.podIP ?? '';
    default: throw new EnvError(`unsupported fieldPath: ${path}`);
  }
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Builds the environment; `base` holds what the image and the runtime define (PATH, HOSTNAME). */
export function buildEnv(c: EnvContainer, pod: KObject, lookup: EnvLookup, base: Map<string, string>): Map<string, string> {
  const ns = pod.metadata.namespace ?? '';
  const vars = new Map(base);
  const decode = (s: unknown): string => Buffer.from(String(s ?? ''), 'base64').toString();
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = lookup.configMap(from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new EnvError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
        if (ENV_NAME.test(prefix + k)) vars.set(prefix + k, v);
      }
    }
    if (from.secretRef) {
      const s = lookup.secret(from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new EnvError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries((s.data ?? {}) as Record<string, string>)) {
        if (ENV_NAME.test(prefix + k)) vars.set(prefix + k, decode(v));
      }
    }
  }
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      vars.set(e.name, expand(e.value ?? '', vars));
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const s = lookup.secret(ref.name);
      if (!s) {
        if (ref.optional) continue;
        throw new EnvError(`secret "${ref.name}" not found`);
      }
      const data = (s.data ?? {}) as Record<string, string>;
      if (!Object.hasOwn(data, ref.key)) {
        if (ref.optional) continue;
        throw new EnvError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
      }
      vars.set(e.name, decode(data[ref.key]));
    } else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const cm = lookup.configMap(ref.name);
      if (!cm) {
        if (ref.optional) continue;
        throw new EnvError(`configmap "${ref.name}" not found`);
      }
      const data = (cm.data ?? {}) as Record<string, string>;
      if (!Object.hasOwn(data, ref.key)) {
        if (ref.optional) continue;
        throw new EnvError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
      }
      vars.set(e.name, data[ref.key]!);
    } else if (vf.fieldRef) {
      vars.set(e.name, fieldRef(vf.fieldRef.fieldPath, pod));
    } else if (vf.resourceFieldRef) {
      const [kind, res] = vf.resourceFieldRef.resource.split('.') as [string, string];
      const q = (kind === 'limits' ? c.resources?.limits : c.resources?.requests)?.[res];
      vars.set(e.name, q ?? '0');
    }
  }
  return vars;
}
