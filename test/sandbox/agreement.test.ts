/**
 * The sandbox checked against the real kube-apiserver: one script of API requests (create, get,
 * list, watch from a resourceVersion, update, delete; 403, 404, 409, 422, 400; dry run; field
 * validation; the ServiceAccount admission plugin) goes to both, and their answers are compared: status codes, the `Status` bodies
 * (reason, code, details, message) and the types and order of watch events. Runs with
 * POD_DAG_TEST_CLUSTER=control-plane (it needs the real server); differences that do not matter
 * are listed, with why, in sandbox/README.md ("Checked against kube-apiserver").
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { ruleGrants, type Permission } from '../../src/kube/auth.ts';
import { CLUSTER, startTestCluster, type TestCluster } from '../helpers/cluster.ts';

const NS = 'agreement';

/** One server and credentials to ask it with. */
interface Target {
  url: string;
  ca: string;
  token: string;
}

interface Answer {
  code: number;
  body: Record<string, unknown> | undefined;
}

function call(t: Target, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.url}${path}`, { method, ca: t.ca, headers: { authorization: `Bearer ${t.token}`, accept: 'application/json', ...(body ? { 'content-type': contentType } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: Record<string, unknown> | undefined;
        try {
          parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        } catch {
          parsed = { unparsed: text };
        }
        resolve({ code: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Opens a watch and collects event types and object names until `count` events or the deadline. */
function watch(t: Target, path: string, count: number, during: () => Promise<void>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    const req = request(`${t.url}${path}`, { method: 'GET', ca: t.ca, headers: { authorization: `Bearer ${t.token}` } }, (res) => {
      let buf = '';
      const timer = setTimeout(() => {
        req.destroy();
        resolve(events);
      }, 10_000);
      res.setEncoding('utf8').on('data', (c: string) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const e = JSON.parse(buf.slice(0, nl)) as { type: string; object: { metadata?: { name?: string }; reason?: string; code?: number } };
          buf = buf.slice(nl + 1);
          if (e.type === 'BOOKMARK') continue;
          events.push(e.type === 'ERROR' ? `ERROR ${e.object.code} ${e.object.reason}` : `${e.type} ${e.object.metadata?.name}`);
          if (events.length >= count) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        }
      });
      void during().catch(reject);
    });
    req.on('error', (err) => (events.length >= count ? undefined : reject(err)));
    req.end();
  });
}

/** What is compared of an answer: the code, and of a Status its reason, details and message. */
function essence(a: Answer): Record<string, unknown> {
  const b = a.body ?? {};
  if (b['kind'] !== 'Status') return { code: a.code, kind: b['kind'] };
  const details = b['details'] as { name?: string; kind?: string; group?: string; causes?: { field?: string; reason?: string }[] } | undefined;
  return {
    code: a.code,
    status: b['status'],
    reason: b['reason'],
    details: details ? { name: details.name, kind: details.kind, group: details.group || undefined, causes: details.causes?.map((c) => `${c.reason} ${c.field}`) } : undefined,
    message: b['message'],
  };
}

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...((extra['metadata'] as object) ?? {}) },
  spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.37', command: ['true'], ...((extra['container'] as object) ?? {}) }] },
});

/** The request script: each step's answer, by name, from one server. */
async function script(t: Target, viewer: Target): Promise<Record<string, unknown>> {
  const cm = `/api/v1/namespaces/${NS}/configmaps`;
  const pods = `/api/v1/namespaces/${NS}/pods`;
  const out: Record<string, unknown> = {};
  const created = await call(t, 'POST', cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-a', labels: { set: 'one' } }, data: { a: '1' } });
  out['create'] = essence(created);
  out['create again: 409 AlreadyExists'] = essence(await call(t, 'POST', cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-a' } }));
  out['get'] = essence(await call(t, 'GET', `${cm}/cm-a`));
  out['get missing: 404 NotFound'] = essence(await call(t, 'GET', `${cm}/cm-missing`));
  out['list by label'] = essence(await call(t, 'GET', `${cm}?labelSelector=set%3Done`));
  const rv = (created.body?.['metadata'] as { resourceVersion: string }).resourceVersion;
  await call(t, 'PUT', `${cm}/cm-a`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-a', resourceVersion: rv, labels: { set: 'one' } }, data: { a: '2' } });
  out['update with a stale resourceVersion: 409 Conflict'] = essence(
    await call(t, 'PUT', `${cm}/cm-a`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-a', resourceVersion: rv }, data: { a: '3' } }),
  );
  out['invalid label: 422 Invalid'] = essence(await call(t, 'POST', pods, pod('bad-label', { metadata: { labels: { team: 'not a label value!' } } })));
  out['dry run create'] = essence(await call(t, 'POST', `${pods}?dryRun=All`, pod('dry')));
  out['dry run left nothing: 404'] = essence(await call(t, 'GET', `${pods}/dry`));
  out['unknown field, Strict: 400 BadRequest'] = essence(await call(t, 'POST', `${pods}?fieldValidation=Strict`, pod('typo', { container: { imagePullPolicyy: 'Always' } })));
  // The ServiceAccount admission plugin: a pod naming a ServiceAccount that does not exist is
  // refused, on a dry run too, before validation, named by its generateName when it has no name.
  const orphan = (metadata: Record<string, unknown>) => ({ ...pod('x'), metadata, spec: { ...pod('x').spec, serviceAccountName: 'no-such-sa' } });
  out['missing ServiceAccount: 403 Forbidden'] = essence(await call(t, 'POST', pods, orphan({ name: 'no-sa' })));
  out['missing ServiceAccount, dry run: 403'] = essence(await call(t, 'POST', `${pods}?dryRun=All`, orphan({ name: 'no-sa' })));
  out['missing ServiceAccount before validation, generateName: 403'] = essence(await call(t, 'POST', pods, orphan({ generateName: 'no-sa-', labels: { team: 'not a label value!' } })));
  out['the namespace\'s default ServiceAccount admits a pod naming none'] = essence(await call(t, 'POST', `${pods}?dryRun=All`, pod('default-sa')));
  out['forbidden: 403 Forbidden'] = essence(await call(viewer, 'POST', cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-v' } }));
  out['delete'] = essence(await call(t, 'DELETE', `${cm}/cm-a`));
  out['delete again: 404'] = essence(await call(t, 'DELETE', `${cm}/cm-a`));

  // deletecollection by a label selector with a set (`in`) and an absence (`!key`), as the engine
  // deletes settled pods in batches (src/kube/reaper.ts): exactly the matching objects go.
  for (const [name, labels] of [
    ['dc-a', { run: 'r', attempt: '1', task: 'a' }],
    ['dc-b', { run: 'r', attempt: '1', task: 'b' }],
    ['dc-b2', { run: 'r', attempt: '2', task: 'b' }],
    ['dc-c', { run: 'r', attempt: '1', task: 'c' }],
    ['dc-poke', { run: 'r', attempt: '1', task: 'a', poke: '2' }],
    ['dc-other', { run: 'other', attempt: '1', task: 'a' }],
  ] as const) {
    await call(t, 'POST', cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels } });
  }
  const batch = encodeURIComponent('run=r,attempt=1,!poke,task in (a,b)');
  out['deletecollection by selector'] = essence(await call(t, 'DELETE', `${cm}?labelSelector=${batch}&gracePeriodSeconds=0`));
  const left = await call(t, 'GET', `${cm}?labelSelector=run`);
  out['deletecollection left the others'] = ((left.body?.['items'] ?? []) as { metadata: { name: string } }[]).map((i) => i.metadata.name).sort();
  out['deletecollection forbidden: 403'] = essence(await call(viewer, 'DELETE', `${cm}?labelSelector=${batch}`));
  await call(t, 'DELETE', `${cm}?labelSelector=run`);

  // SelfSubjectRulesReview: what the preflight reads of it (src/kube/auth.ts), the same on both.
  const review = await call(viewer, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: NS } });
  const status = (review.body?.['status'] ?? {}) as { resourceRules?: Parameters<typeof ruleGrants>[0][]; incomplete?: boolean };
  const asked: Permission[] = [
    { verb: 'get', resource: 'configmaps' },
    { verb: 'list', resource: 'configmaps' },
    { verb: 'create', resource: 'configmaps' },
    { verb: 'deletecollection', resource: 'configmaps' },
    { verb: 'get', resource: 'pods', subresource: 'log' },
    { verb: 'create', resource: 'selfsubjectaccessreviews', group: 'authorization.k8s.io' },
  ];
  out['rules review'] = {
    ...essence(review),
    incomplete: status.incomplete ?? false,
    grants: asked.map((p) => `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}: ${(status.resourceRules ?? []).some((r) => ruleGrants(r, p))}`),
  };

  // A watch from the resourceVersion of a list: the changes after it, in order.
  const list = await call(t, 'GET', cm);
  const from = (list.body?.['metadata'] as { resourceVersion: string }).resourceVersion;
  out['watch from a resourceVersion'] = await watch(t, `${cm}?watch=1&resourceVersion=${from}&allowWatchBookmarks=true`, 3, async () => {
    await call(t, 'POST', cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-w' }, data: { a: '1' } });
    await call(t, 'PATCH', `${cm}/cm-w`, { data: { a: '2' } }, 'application/merge-patch+json');
    await call(t, 'DELETE', `${cm}/cm-w`);
  });
  return out;
}

let sandbox: Sandbox;
let cluster: TestCluster;
const credentials = (kubeconfig: string): Target => {
  const doc = parseYaml(kubeconfig) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
  return { url: doc.clusters[0]!.cluster['server']!, ca: Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString(), token: doc.users[0]!.user['token']! };
};

describe.runIf(CLUSTER.kind === 'control-plane')('the sandbox answers as kube-apiserver does', () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ namespaces: [NS] });
    sandbox = await startSandbox({ namespaces: ['default', NS] });
  });
  afterAll(async () => {
    await sandbox?.close();
    await cluster?.close();
  });

  it('the same request script gets the same codes, Status bodies and watch events', async () => {
    const rules = [{ namespaces: [NS], verbs: ['get', 'list'], resources: ['configmaps'] }];
    const real = await script({ url: cluster.url, ca: cluster.caPem, token: cluster.token! }, credentials(await cluster.userKubeconfig('viewer', rules, NS)));
    sandbox.addUser('viewer-token', rules, `system:serviceaccount:${NS}:viewer`);
    const fake = await script({ url: sandbox.url, ca: sandbox.caPem, token: sandbox.adminToken }, { url: sandbox.url, ca: sandbox.caPem, token: 'viewer-token' });
    expect(fake).toEqual(real);
  });
});
