/**
 * The resources the sandbox serves, with what discovery says about each. One table drives
 * routing, RBAC, discovery and error wording, so they cannot disagree.
 */

/** What the server knows about one resource. */
export interface ResourceInfo {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  /** Subresources served, e.g. ["log", "status"]. */
  subresources: string[];
  /** Fields besides metadata.name/namespace that fieldSelector accepts. */
  fieldLabels: string[];
}

const crud = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Every resource the sandbox serves. */
export const RESOURCES: ResourceInfo[] = [
  {
    group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'], subresources: ['status'],
    fieldLabels: ['status.phase'],
  },
  {
    group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false,
    verbs: ['get', 'list', 'watch'], shortNames: ['no'], subresources: [], fieldLabels: ['spec.unschedulable'],
  },
  {
    group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, verbs: crud,
    shortNames: ['po'], subresources: ['log', 'status', 'eviction'],
    fieldLabels: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  },
  {
    group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, verbs: crud,
    shortNames: ['ev'], subresources: [],
    fieldLabels: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  },
  {
    group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, verbs: crud,
    shortNames: ['cm'], subresources: [], fieldLabels: [],
  },
  {
    group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, verbs: crud,
    subresources: [], fieldLabels: ['type'],
  },
  {
    group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true,
    verbs: crud, shortNames: ['sa'], subresources: [], fieldLabels: [],
  },
  {
    group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true,
    verbs: crud, subresources: [], fieldLabels: [],
  },
  {
    group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectaccessreviews', singular: 'selfsubjectaccessreview',
    kind: 'SelfSubjectAccessReview', namespaced: false, verbs: ['create'], subresources: [], fieldLabels: [],
  },
  {
    group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectrulesreviews', singular: 'selfsubjectrulesreview',
    kind: 'SelfSubjectRulesReview', namespaced: false, verbs: ['create'], subresources: [], fieldLabels: [],
  },
];

/** Finds a resource by group and plural name. */
export function findResource(group: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.plural === plural);
}

/** The resource with this plural in the core group; throws if the table lacks it (a sandbox bug). */
export function coreResource(plural: string): ResourceInfo {
  const r = findResource('', plural);
  if (!r) throw new Error(`sandbox: no core resource "${plural}"`);
  return r;
}

/** "v1" or "coordination.k8s.io/v1". */
export function apiVersionOf(r: ResourceInfo): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The groups served under /apis, in discovery order. */
export function apiGroups(): string[] {
  return [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
}
