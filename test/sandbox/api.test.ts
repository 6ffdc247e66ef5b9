// The sandbox's API, driven by @kubernetes/client-node over HTTPS: objects, errors, watches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { clients, failure, finished, podManifest, raw, waitForLog, watchPod, type Clients } from './helpers.ts';

let sandbox: Sandbox;
let admin: Clients;
const ns = 'api';

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: ['default', ns] });
  admin = clients(sandbox);
});
afterAll(async () => {
  await sandbox?.close();
});

describe('authentication and authorization', () => {
  it('answers an unknown token with 401 Unauthorized', async () => {
    expect(await failure(clients(sandbox, { token: 'nope' }).core.listNamespacedPod({ namespace: ns }))).toMatchObject({ code: 401 });
    const res = await raw(sandbox, 'GET', `/api/v1/namespaces/${ns}/pods`, { token: 'nope' });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    expect((await raw(sandbox, 'GET', '/api/v1/namespaces', { token: null })).status).toBe(401);
  });

  it('answers a verb outside the rules with 403 worded as kube-apiserver', async () => {
    sandbox.addUser('reader-token', [{ namespaces: [ns], verbs: ['get', 'list', 'watch'], resources: ['pods', 'pods/log'] }], 'system:serviceaccount:api:reader');
    const reader = clients(sandbox, { token: 'reader-token' });
    await expect(reader.core.listNamespacedPod({ namespace: ns })).resolves.toBeDefined();
    const create = await failure(reader.core.createNamespacedPod({ namespace: ns, body: podManifest('forbidden', {}) }));
    expect(create).toMatchObject({
      reason: 'Forbidden', code: 403,
      message: 'pods is forbidden: User "system:serviceaccount:api:reader" cannot create resource "pods" in API group "" in the namespace "api"',
    });
    const other = await failure(reader.core.readNamespacedPod({ name: 'x', namespace: 'default' }));
    expect(other.message).toBe('pods "x" is forbidden: User "system:serviceaccount:api:reader" cannot get resource "pods" in API group "" in the namespace "default"');
    const lease = await failure(reader.coordination.readNamespacedLease({ name: 'l', namespace: ns }));
    expect(lease.message).toBe('leases.coordination.k8s.io "l" is forbidden: User "system:serviceaccount:api:reader" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "api"');
  });

  it('tells a user what it may do through SelfSubjectAccessReview', async () => {
    sandbox.addUser('logs-token', [{ namespaces: [ns], verbs: ['get'], resources: ['pods/log'] }]);
    const authz = clients(sandbox, { token: 'logs-token' }).kc.makeApiClient(k8s.AuthorizationV1Api);
    const ask = (verb: string, subresource?: string) =>
      authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: ns, verb, resource: 'pods', subresource } } } });
    expect((await ask('get', 'log')).status?.allowed).toBe(true);
    expect((await ask('delete')).status?.allowed).toBe(false);
  });
});

describe('objects', () => {
  it('creates with generateName, fills defaults and gives a resourceVersion', async () => {
    const pod = await admin.core.createNamespacedPod({ namespace: ns, body: { metadata: { generateName: 'gen-' }, spec: { containers: [{ name: 'main', image: 'sandbox/sleep:forever' }] } } });
    expect(pod.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    expect(pod.metadata?.uid).toBeTruthy();
    expect(Number(pod.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(pod.spec?.restartPolicy).toBe('Always');
    expect(pod.spec?.containers[0]?.terminationMessagePath).toBe('/dev/termination-log');
    expect(pod.status?.phase).toBe('Pending');
    await admin.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
  });

  it('answers 409 AlreadyExists, 404 NotFound and 404 for a missing namespace', async () => {
    await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('twice', { image: 'sandbox/sleep:forever' }) });
    expect(await failure(admin.core.createNamespacedPod({ namespace: ns, body: podManifest('twice', {}) }))).toMatchObject({
      reason: 'AlreadyExists', code: 409, message: 'pods "twice" already exists', details: { name: 'twice', kind: 'pods' },
    });
    expect(await failure(admin.core.readNamespacedPod({ name: 'absent', namespace: ns }))).toMatchObject({ reason: 'NotFound', code: 404, message: 'pods "absent" not found' });
    expect(await failure(admin.core.createNamespacedPod({ namespace: 'no-such-ns', body: podManifest('x', {}) }))).toMatchObject({ code: 404, message: 'namespaces "no-such-ns" not found' });
    await admin.core.deleteNamespacedPod({ name: 'twice', namespace: ns, gracePeriodSeconds: 0 });
  });

  it('answers an invalid pod with 422 Invalid and a cause per field', async () => {
    const status = await failure(admin.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'Bad_Name' }, spec: { restartPolicy: 'Sometimes', containers: [{ name: 'main', image: '' }] } },
    }));
    expect(status.code).toBe(422);
    expect(status.reason).toBe('Invalid');
    expect(status.message).toMatch(/^Pod "Bad_Name" is invalid: \[metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    const causes = (status.details?.causes as { field: string; reason: string }[]).map((c) => `${c.field} ${c.reason}`);
    expect(causes).toEqual(['metadata.name FieldValueInvalid', 'spec.containers[0].image FieldValueRequired', 'spec.restartPolicy FieldValueNotSupported']);
  });

  it('refuses unknown fields under fieldValidation=Strict and warns about them by default', async () => {
    const body = { metadata: { name: 'typo' }, spec: { containers: [{ name: 'main', image: 'sandbox/succeed', imagee: 'x' }], restartPolicyy: 'Never' } };
    const strict = await raw(sandbox, 'POST', `/api/v1/namespaces/${ns}/pods?fieldValidation=Strict&dryRun=All`, { body });
    expect(strict.status).toBe(400);
    expect(strict.json()).toMatchObject({ reason: 'BadRequest', message: 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee", unknown field "spec.restartPolicyy"' });
    const warned = await raw(sandbox, 'POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, { body });
    expect(warned.status).toBe(201);
    expect(warned.headers.warning).toBe('299 - "unknown field \\"spec.containers[0].imagee\\"", 299 - "unknown field \\"spec.restartPolicyy\\""');
  });

  it('under Strict, checks every field of a Pod at every depth against the release schema, as the real decoder (affinity, tolerations, volumes, probes)', async () => {
    // The message is the real server's: handlers/rest.go words "<Kind> in version ... cannot be handled as a <Kind>: <err>",
    // runtime.strictDecodingError "strict decoding error: " + the errors joined by ", ", sigs.k8s.io/json `unknown field "<path>"`.
    const body = {
      metadata: { name: 'deep-typo' },
      spec: {
        containers: [{ name: 'main', image: 'sandbox/succeed', readinessProbe: { httpGet: { port: 8080, pathh: '/' } } }],
        affinity: { nodeAfinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
        tolerations: [{ key: 'gpu', operator: 'Exists' }, { key: 'x', operatr: 'Exists' }],
        volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Gi', medium: '' }, secrett: {} }],
      },
    };
    const strict = await raw(sandbox, 'POST', `/api/v1/namespaces/${ns}/pods?fieldValidation=Strict&dryRun=All`, { body });
    expect(strict.status).toBe(400);
    expect(strict.json()).toMatchObject({
      reason: 'BadRequest',
      message:
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].readinessProbe.httpGet.pathh", unknown field "spec.affinity.nodeAfinity", unknown field "spec.tolerations[1].operatr", unknown field "spec.volumes[0].secrett"',
    });
    // The same pod without the typos passes Strict: no field of it is unknown.
    const fixed = structuredClone(body) as typeof body & { spec: Record<string, unknown> };
    fixed.spec.containers[0]!.readinessProbe.httpGet = { port: 8080, path: '/' } as never;
    fixed.spec.affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } } as never;
    fixed.spec.tolerations = [{ key: 'gpu', operator: 'Exists' }];
    fixed.spec.volumes = [{ name: 'v', emptyDir: { sizeLimit: '1Gi', medium: '' } }] as never;
    const ok = await raw(sandbox, 'POST', `/api/v1/namespaces/${ns}/pods?fieldValidation=Strict&dryRun=All`, { body: fixed });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.headers.warning).toBeUndefined();
  });

  it('refuses a pod whose ServiceAccount does not exist with 403, worded as the ServiceAccount admission plugin, on a dry run too', async () => {
    const body = podManifest('orphan', {}, { serviceAccountName: 'nope' });
    const expected = {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
      message: `pods "orphan" is forbidden: error looking up service account ${ns}/nope: serviceaccount "nope" not found`,
      details: { name: 'orphan', kind: 'pods' },
    };
    for (const q of ['', '?dryRun=All']) {
      const res = await raw(sandbox, 'POST', `/api/v1/namespaces/${ns}/pods${q}`, { body });
      expect(res.status).toBe(403);
      expect(res.json()).toEqual(expected);
    }
    // Admission runs before validation, and names the pod by its generateName.
    const generated = await raw(sandbox, 'POST', `/api/v1/namespaces/${ns}/pods`, { body: { ...body, metadata: { generateName: 'g-', labels: { bad: 'not a value!' } } } });
    expect(generated.json()).toMatchObject({ code: 403, message: `pods "g-" is forbidden: error looking up service account ${ns}/nope: serviceaccount "nope" not found` });
    expect(await failure(admin.core.readNamespacedPod({ name: 'orphan', namespace: ns }))).toMatchObject({ code: 404 });
    sandbox.createServiceAccount(ns, 'nope');
    const created = await admin.core.createNamespacedPod({ namespace: ns, body, dryRun: 'All' });
    expect(created.spec?.serviceAccountName).toBe('nope');
  });

  it('gives every namespace its default ServiceAccount, those made through the API too, so a pod naming none is admitted', async () => {
    expect(sandbox.get('serviceaccounts', ns, 'default')).toBeDefined();
    await admin.core.createNamespace({ body: { metadata: { name: 'fresh' } } });
    expect((await admin.core.readNamespacedServiceAccount({ name: 'default', namespace: 'fresh' })).metadata?.name).toBe('default');
    const pod = await admin.core.createNamespacedPod({ namespace: 'fresh', body: podManifest('plain', {}), dryRun: 'All' });
    expect(pod.spec?.serviceAccountName).toBe('default');
    await admin.core.deleteNamespacedServiceAccount({ name: 'default', namespace: 'fresh' });
    expect(await failure(admin.core.createNamespacedPod({ namespace: 'fresh', body: podManifest('plain', {}), dryRun: 'All' }))).toMatchObject({
      code: 403,
      message: 'pods "plain" is forbidden: error looking up service account fresh/default: serviceaccount "default" not found',
    });
  });

  it('does not store a dry-run create', async () => {
    const pod = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('dry', {}), dryRun: 'All' });
    expect(pod.metadata?.uid).toBeTruthy();
    expect(await failure(admin.core.readNamespacedPod({ name: 'dry', namespace: ns }))).toMatchObject({ code: 404 });
  });

  it('refuses a stale update of a lease with 409 Conflict', async () => {
    const lease = await admin.coordination.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'run-lock' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 30 } } });
    const renewed = await admin.coordination.replaceNamespacedLease({ name: 'run-lock', namespace: ns, body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } });
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(lease.metadata?.resourceVersion));
    const stale = await failure(admin.coordination.replaceNamespacedLease({ name: 'run-lock', namespace: ns, body: { ...lease, spec: { ...lease.spec, holderIdentity: 'c' } } }));
    expect(stale).toMatchObject({
      reason: 'Conflict', code: 409,
      message: 'Operation cannot be fulfilled on leases.coordination.k8s.io "run-lock": the object has been modified; please apply your changes to the latest version and try again',
    });
  });

  it('replaces a pod read back through the client, and refuses a spec change outside the mutable fields', async () => {
    await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('mutable', { image: 'sandbox/sleep:forever' }) });
    const pod = await admin.core.readNamespacedPod({ name: 'mutable', namespace: ns });
    pod.metadata!.labels = { changed: 'yes' };
    const replaced = await admin.core.replaceNamespacedPod({ name: 'mutable', namespace: ns, body: pod });
    expect(replaced.metadata?.labels).toEqual({ changed: 'yes' });
    replaced.spec!.restartPolicy = 'OnFailure';
    const refused = await failure(admin.core.replaceNamespacedPod({ name: 'mutable', namespace: ns, body: replaced }));
    expect(refused).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(refused.message).toMatch(/^Pod "mutable" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);
    await admin.core.deleteNamespacedPod({ name: 'mutable', namespace: ns, gracePeriodSeconds: 0 });
  });

  it('stores lease times as MicroTime', async () => {
    const renewTime = new Date('2026-01-02T03:04:05.678Z');
    const lease = await admin.coordination.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'micro' }, spec: { holderIdentity: 'a', renewTime: renewTime as unknown as k8s.V1MicroTime } } });
    expect(sandbox.get('leases.coordination.k8s.io', ns, 'micro')?.spec).toMatchObject({ renewTime: '2026-01-02T03:04:05.678000Z' });
    expect(new Date(lease.spec!.renewTime as unknown as string).getTime()).toBe(renewTime.getTime());
  });

  it('merge-patches a configmap and keeps the resourceVersion of a no-op write', async () => {
    const cm = await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { a: '1' } } });
    const patched = await admin.core.patchNamespacedConfigMap(
      { name: 'cfg', namespace: ns, body: { data: { b: '2' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(patched.data).toEqual({ a: '1', b: '2' });
    const again = await admin.core.replaceNamespacedConfigMap({ name: 'cfg', namespace: ns, body: patched });
    expect(again.metadata?.resourceVersion).toBe(patched.metadata?.resourceVersion);
    const stale = await failure(admin.core.replaceNamespacedConfigMap({ name: 'cfg', namespace: ns, body: { ...cm, data: { c: '3' } } }));
    expect(stale.code).toBe(409);
  });

  it('lists with a label selector and the current resourceVersion', async () => {
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'l1', labels: { team: 'x' } } } });
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'l2', labels: { team: 'y' } } } });
    const list = await admin.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'team in (x),team!=z' });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['l1']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    const bad = await failure(admin.core.listNamespacedPod({ namespace: ns, fieldSelector: 'spec.color=red' }));
    expect(bad).toMatchObject({ code: 400, message: 'field label not supported: spec.color' });
  });
});

describe('lists, namespaces and eviction', () => {
  it('pages a list with limit and continue', async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) await admin.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name, labels: { page: 'yes' } }, stringData: { k: name } } });
    const first = await admin.core.listNamespacedSecret({ namespace: ns, labelSelector: 'page', limit: 2 });
    expect(first.items.map((i) => i.metadata?.name)).toEqual(['page-a', 'page-b']);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const rest = await admin.core.listNamespacedSecret({ namespace: ns, labelSelector: 'page', limit: 2, _continue: first.metadata!._continue! });
    expect(rest.items.map((i) => i.metadata?.name)).toEqual(['page-c']);
    expect(rest.metadata?._continue).toBeUndefined();
    expect(rest.items[0]?.data).toEqual({ k: Buffer.from('page-c').toString('base64') });
  });

  it('deletes a namespace: Terminating, then its objects and itself are gone', async () => {
    await admin.core.createNamespace({ body: { metadata: { name: 'doomed-ns' } } });
    await admin.core.createNamespacedConfigMap({ namespace: 'doomed-ns', body: { metadata: { name: 'c' } } });
    // A process that ignores SIGTERM keeps the namespace Terminating for its grace period.
    const stubborn = 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)';
    await admin.core.createNamespacedPod({ namespace: 'doomed-ns', body: podManifest('p', { image: 'local/node', command: [process.execPath, '-e', stubborn] }, { terminationGracePeriodSeconds: 2 }) });
    await waitForLog(admin.kc, 'doomed-ns', 'p', 'ready\n');
    const deleting = await admin.core.deleteNamespace({ name: 'doomed-ns' });
    expect((deleting as k8s.V1Namespace).status?.phase).toBe('Terminating');
    expect(await failure(admin.core.createNamespacedConfigMap({ namespace: 'doomed-ns', body: { metadata: { name: 'late' } } }))).toMatchObject({
      code: 403, message: 'configmaps "late" is forbidden: unable to create new content in namespace doomed-ns because it is being terminated',
    });
    const gone = await new Promise<string>((resolve, reject) => {
      void new k8s.Watch(admin.kc).watch('/api/v1/namespaces', { fieldSelector: 'metadata.name=doomed-ns' }, (type) => type === 'DELETED' && resolve(type), (err) => (err ? reject(err) : undefined));
    });
    expect(gone).toBe('DELETED');
    expect(sandbox.list('pods', 'doomed-ns')).toEqual([]);
    expect(sandbox.list('configmaps', 'doomed-ns')).toEqual([]);
  });

  it('evicts through the Eviction API: DisruptionTarget, then a graceful delete', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('evict-me', { image: 'sandbox/sleep:forever' }, { terminationGracePeriodSeconds: 1 }) });
    const running = await watchPod(admin.kc, ns, 'evict-me', (p) => p.status?.phase === 'Running', { fromResourceVersion: created.metadata!.resourceVersion! });
    await admin.core.createNamespacedPodEviction({ name: 'evict-me', namespace: ns, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'evict-me', namespace: ns } } });
    const { events } = await watchPod(admin.kc, ns, 'evict-me', (_p, type) => type === 'DELETED', { fromResourceVersion: running.pod.metadata!.resourceVersion! });
    const disrupted = events.find((e) => e.object.status?.conditions?.some((c) => c.type === 'DisruptionTarget'));
    expect(disrupted?.object.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'EvictionByEvictionAPI' });
  });
});

describe('watch', () => {
  it('reports an object leaving the label selector as DELETED and entering it as ADDED', async () => {
    const cm = await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'mover', labels: { stage: 'a' } } } });
    const seen: string[] = [];
    let controller: AbortController | undefined;
    const done = new Promise<void>((resolve, reject) => {
      void new k8s.Watch(admin.kc)
        .watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: cm.metadata!.resourceVersion, labelSelector: 'stage=b' }, (type, obj: k8s.V1ConfigMap) => {
          seen.push(`${type} ${obj.metadata?.labels?.stage}`);
          if (seen.length === 2) resolve();
        }, (err) => (err ? reject(err) : undefined))
        .then((c) => (controller = c), reject);
    });
    const patch = (stage: string) => admin.core.patchNamespacedConfigMap({ name: 'mover', namespace: ns, body: { metadata: { labels: { stage } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await patch('b');
    await patch('c');
    await done;
    controller?.abort();
    expect(seen).toEqual(['ADDED b', 'DELETED c']);
  });

  it('reports every pod transition as an event with a new resourceVersion', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('watched', { image: 'sandbox/exit:3' }) });
    const { pod, events } = await watchPod(admin.kc, ns, 'watched', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
    const rvs = events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(new Set(rvs).size).toBe(rvs.length);
    const states = events.map((e) => Object.keys(e.object.status?.containerStatuses?.[0]?.state ?? {})[0] ?? e.object.status?.phase);
    expect(states).toEqual(['Pending', 'waiting', 'running', 'terminated']);
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  });

  it('sends 410 Expired as an ERROR event when history no longer reaches back', async () => {
    const cm = await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'old' } } });
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'newer' } } });
    sandbox.faults.forgetHistory();
    const seen = await new Promise<{ type: string; object: { code?: number; reason?: string; message?: string } }>((resolve, reject) => {
      void new k8s.Watch(admin.kc).watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: cm.metadata!.resourceVersion }, (type, object) => resolve({ type, object }), (err) => (err ? reject(err) : undefined));
    });
    expect(seen.type).toBe('ERROR');
    expect(seen.object).toMatchObject({ code: 410, reason: 'Expired' });
    expect(seen.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
  });
});
