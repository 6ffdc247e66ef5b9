/** SelfSubjectAccessReview and SelfSubjectRulesReview: what a user may do, from the sandbox's RBAC. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { allowed, rulesIn, type User } from './rbac.ts';

import { send } from './http.ts';
import { bodyObject } from './crud.ts';

export async function selfSubjectAccessReview(user: User, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await bodyObject(req);
  const spec = (body.spec ?? {}) as { resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string }; nonResourceAttributes?: unknown };
  const a = spec.resourceAttributes;
  let ok = false;
  if (a) {
    const resource = a.subresource ? `${a.resource ?? ''}/${a.subresource}` : (a.resource ?? '');
    ok = allowed(user, { verb: a.verb ?? '', group: a.group ?? '', resource, namespace: a.namespace || undefined, name: a.name || undefined });
  } else if (spec.nonResourceAttributes) {
    ok = true;
  }
  send(res, 201, {
    kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec,
    status: ok ? { allowed: true, reason: 'RBAC: allowed by sandbox rules' } : { allowed: false },
  });
}

export async function selfSubjectRulesReview(user: User, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await bodyObject(req);
  const ns = ((body.spec ?? {}) as { namespace?: string }).namespace ?? 'default';
  send(res, 201, {
    kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec ?? {},
    status: {
      resourceRules: [{ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] }, ...rulesIn(user, ns)],
      nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version', '/version/'] }],
      incomplete: false,
    },
  });
}
