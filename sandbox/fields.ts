/**
 * Unknown-field detection for `fieldValidation` (Strict: 400, Warn: a Warning header, the
 * default since Kubernetes 1.27; Ignore), for the object kinds a pod runner sends. The field
 * lists are those of the v1 API types (Kubernetes 1.32); anything not listed here is not checked.
 */

type Shape = { [field: string]: Shape | 'any' | [Shape] };

const any = 'any' as const;
const meta: Shape = Object.fromEntries(['annotations', 'creationTimestamp', 'deletionGracePeriodSeconds', 'deletionTimestamp', 'finalizers', 'generateName', 'generation', 'labels', 'managedFields', 'name', 'namespace', 'ownerReferences', 'resourceVersion', 'selfLink', 'uid'].map((f) => [f, any]));
const envVar: Shape = {
  name: any, value: any,
  valueFrom: { configMapKeyRef: { name: any, key: any, optional: any }, secretKeyRef: { name: any, key: any, optional: any }, fieldRef: { apiVersion: any, fieldPath: any }, resourceFieldRef: { containerName: any, divisor: any, resource: any } },
};
const container: Shape = {
  ...Object.fromEntries(['args', 'command', 'image', 'imagePullPolicy', 'lifecycle', 'livenessProbe', 'name', 'ports', 'readinessProbe', 'resizePolicy', 'restartPolicy', 'securityContext', 'startupProbe', 'stdin', 'stdinOnce', 'terminationMessagePath', 'terminationMessagePolicy', 'tty', 'volumeDevices', 'volumeMounts', 'workingDir'].map((f) => [f, any])),
  env: [envVar],
  envFrom: [{ prefix: any, configMapRef: { name: any, optional: any }, secretRef: { name: any, optional: any } }],
  resources: { claims: any, limits: any, requests: any },
};
const podSpec: Shape = {
  ...Object.fromEntries(['activeDeadlineSeconds', 'affinity', 'automountServiceAccountToken', 'dnsConfig', 'dnsPolicy', 'enableServiceLinks', 'ephemeralContainers', 'hostAliases', 'hostIPC', 'hostNetwork', 'hostPID', 'hostUsers', 'hostname', 'imagePullSecrets', 'nodeName', 'nodeSelector', 'os', 'overhead', 'preemptionPolicy', 'priority', 'priorityClassName', 'readinessGates', 'resourceClaims', 'resources', 'restartPolicy', 'runtimeClassName', 'schedulerName', 'schedulingGates', 'securityContext', 'serviceAccount', 'serviceAccountName', 'setHostnameAsFQDN', 'shareProcessNamespace', 'subdomain', 'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints', 'volumes'].map((f) => [f, any])),
  containers: [container],
  initContainers: [container],
};

const SHAPES: Record<string, Shape> = {
  Pod: { apiVersion: any, kind: any, metadata: meta, spec: podSpec, status: any },
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
  const shape = SHAPES[kind];
  if (!shape) return [];
  const out: string[] = [];
  walk(obj, shape, '', out);
  return out;
}
