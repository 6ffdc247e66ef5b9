/**
 * Bearer-token users and RBAC-style rules, evaluated as the RBAC authorizer does: a request is
 * allowed when any rule matches its verb, API group, resource (subresources as "pods/log"),
 * namespace and, if the rule names any, the object's name.
 */

/** One permission: like an RBAC PolicyRule bound in the listed namespaces ("*" = all and the cluster scope). */
export interface Rule {
  namespaces: string[];
  verbs: string[];
  resources: string[];
  /** API groups; default [""] (the core group) plus the group of any resource in a known group. "*" for all. */
  apiGroups?: string[];
  resourceNames?: string[];
}

/** A user known by bearer token. */
export interface User {
  name: string;
  groups: string[];
  rules: Rule[];
}

/** The attributes of one request that authorization decides on. */
export interface Attributes {
  verb: string;
  group: string;
  /** "pods" or "pods/log". */
  resource: string;
  namespace?: string;
  name?: string;
}

const GROUP_OF: Record<string, string> = { leases: 'coordination.k8s.io', selfsubjectaccessreviews: 'authorization.k8s.io', selfsubjectrulesreviews: 'authorization.k8s.io' };

function ruleGroups(rule: Rule): string[] {
  if (rule.apiGroups) return rule.apiGroups;
  return ['', ...new Set(rule.resources.map((r) => GROUP_OF[r.split('/')[0]!]).filter((g): g is string => !!g))];
}

/** Whether the user may do this. */
export function allowed(user: User, a: Attributes): boolean {
  // Every authenticated user may ask what it may do (system:basic-user).
  if (a.group === 'authorization.k8s.io' && a.verb === 'create' && a.resource.startsWith('selfsubject')) return true;
  return user.rules.some((r) => {
    const nsOk = r.namespaces.includes('*') || (a.namespace !== undefined && r.namespaces.includes(a.namespace));
    const verbOk = r.verbs.includes('*') || r.verbs.includes(a.verb);
    const groups = ruleGroups(r);
    const groupOk = groups.includes('*') || groups.includes(a.group);
    const resOk = r.resources.includes('*') || r.resources.includes(a.resource) || (a.resource.includes('/') && r.resources.includes(`${a.resource.split('/')[0]}/*`));
    const nameOk = !r.resourceNames?.length || (a.name !== undefined && r.resourceNames.includes(a.name));
    return nsOk && verbOk && groupOk && resOk && nameOk;
  });
}

/** The rules that apply in a namespace, as SelfSubjectRulesReview reports them. */
export function rulesIn(user: User, namespace: string): { verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }[] {
  return user.rules
    .filter((r) => r.namespaces.includes('*') || r.namespaces.includes(namespace))
    .map((r) => ({ verbs: r.verbs, apiGroups: ruleGroups(r), resources: r.resources, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
}
