/**
 * Unknown-field detection for `fieldValidation` (Strict: 400, Warn: a Warning header, the
 * default since Kubernetes 1.27; Ignore), for the object kinds a pod runner sends. A Pod is
 * checked against the pinned release's OpenAPI schema (src/spec/k8s/pod-openapi.ts, taken from
 * the real API server), every field at every depth, as the real strict decoder does; the other
 * kinds against the field lists below (the v1 API types); anything not listed is not checked.
 */
import { checkKubeObject } from '../src/spec/k8s/check.ts';

type Shape = { [field: string]: Shape | 'any' | [Shape] };

const any = 'any' as const;
const meta: Shape = Object.fromEntries(['annotations', 'creationTimestamp', 'deletionGracePeriodSeconds', 'deletionTimestamp', 'finalizers', 'generateName', 'generation', 'labels', 'managedFields', 'name', 'namespace', 'ownerReferences', 'resourceVersion', 'selfLink', 'uid'].map((f) => [f, any]));
const SHAPES: Record<string, Shape> = {
  ConfigMap: { apiVersion: any, kind: any, metadata: meta, data: any, binaryData: any, immutable: any },
  Secret: { apiVersion: any, kind: any, metadata: meta, data: any, stringData: any, type: any, immutable: any },
  Lease: { apiVersion: any, kind: any, metadata: meta, spec: { acquireTime: any, holderIdentity: any, leaseDurationSeconds: any, leaseTransitions: any, preferredHolder: any, renewTime: any, strategy: any } },
  Namespace: { apiVersion: any, kind: any, metadata: meta, spec: any, status: any },
};

function walk(value: unknown, shape: Shape | 'any' | [Shape], path: string, out: string[]): void {
  if (shape === 'any' || value === null || typeof value !== 'object') return;
  if (Array.isArray(shape)) {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, shape[0], `${path}[${i}]`, out));
    return;
  }
  if (Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    const sub = shape[k];
    if (sub === undefined) out.push(p);
    else walk(v, sub, p, out);
  }
}

/** The unknown fields of an object of `kind`, as dotted paths ("spec.containers[0].imagee"). */
export function unknownFields(kind: string, obj: unknown): string[] {
  if (kind === 'Pod') return podUnknownFields(obj);
  const shape = SHAPES[kind];
  if (!shape) return [];
  const out: string[] = [];
  walk(obj, shape, '', out);
  return out;
}

/**
 * A Pod's unknown fields, in the order the strict decoder meets them, as it words their paths
 * (`spec.affinity.nodeAfinity`, `spec.containers[0].imagee`). Like the decoder it does not look
 * inside a field it does not know, nor (here) inside a value of the wrong type.
 */
function podUnknownFields(obj: unknown): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [];
  return checkKubeObject('io.k8s.api.core.v1.Pod', obj)
    .filter((i) => i.kind === 'unknown-field')
    .map((i) => i.path.map((seg, n) => (typeof seg === 'number' ? `[${seg}]` : n === 0 ? seg : `.${seg}`)).join(''));
}
