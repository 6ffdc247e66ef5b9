/**
 * The pod API creates and dry-runs every pod with `fieldValidation=Strict`: a field the cluster
 * does not know is refused with the server's own message (a configuration error), instead of
 * being dropped with a warning as the default (Warn) would, which would run the pod without it.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { classifyError, describeError } from '../../src/kube/errors.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { startCluster, type Cluster } from '../engine/helpers.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster.sandbox.close());

/** A pod whose affinity has a field Kubernetes does not know, as a cluster older than the spec's release would see a newer field. */
const misspelt = (name: string): V1Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'sandbox/succeed' }], affinity: { nodeAfinity: {} } },
  }) as unknown as V1Pod;

const STRICT = 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.affinity.nodeAfinity"';

test.each([
  ['create', false],
  ['dry-run create', true],
])('%s: an unknown field is a 400 with the strict decoder message, and no pod exists', async (_what, dryRun) => {
  const pods = kubePodApi(cluster.client);
  const err = await pods.create('default', misspelt(`typo-${dryRun ? 'dry' : 'real'}`), { dryRun }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).not.toBeNull();
  expect(classifyError(err)).toMatchObject({ kind: 'bad-request', status: 400, reason: 'BadRequest', message: STRICT, retriable: false });
  expect(describeError(err, 'create pod x in namespace default', pods.server)).toContain(STRICT);
  expect(cluster.sandbox.list('pods', 'default').map((p) => (p.metadata as { name: string }).name)).not.toContain(`typo-${dryRun ? 'dry' : 'real'}`);
});

test('a valid pod is created as rendered: every field it has reaches the server (none dropped by the client), Strict passes', async () => {
  const pods = kubePodApi(cluster.client);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'as-rendered', labels: { a: 'b' } },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'sandbox/succeed', terminationMessagePolicy: 'File' }],
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'k', operator: 'Exists' }] } }] } },
      tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
  } as V1Pod;
  await pods.create('default', pod);
  const stored = cluster.sandbox.list('pods', 'default').find((p) => (p.metadata as { name: string }).name === 'as-rendered') as unknown as V1Pod;
  expect(stored.spec?.affinity).toEqual(pod.spec!.affinity);
  // (admission adds the not-ready and unreachable tolerations, as DefaultTolerationSeconds does)
  expect(stored.spec?.tolerations).toContainEqual(pod.spec!.tolerations![0]);
});

test('list and watch hand on each pod slimmed: metadata without managedFields, the node, the status; no container specs', async () => {
  const pods = kubePodApi(cluster.client);
  const pod = {
    metadata: { name: 'slim-1', labels: { slim: 'yes' } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'sandbox/succeed', env: [{ name: 'BIG', value: 'x'.repeat(10_000) }] }] },
  } as V1Pod;
  const list0 = await pods.list('default', 'slim=yes');
  const seen: V1Pod[] = [];
  let ended!: () => void;
  const succeeded = new Promise<void>((resolve) => (ended = resolve));
  const watch = await pods.watch('default', 'slim=yes', { resourceVersion: list0.resourceVersion, timeoutSeconds: 30 }, (type, obj) => {
    if (type === 'BOOKMARK') return;
    const p = obj as V1Pod;
    seen.push(p);
    if (p.status?.phase === 'Succeeded') ended();
  }, () => {});
  try {
    await pods.create('default', pod);
    await succeeded;
  } finally {
    watch.abort();
  }
  const listed = (await pods.list('default', 'slim=yes')).items;
  expect(listed).toHaveLength(1);
  for (const p of [...seen, ...listed]) {
    expect(p.metadata?.name).toBe('slim-1');
    expect(p.metadata?.labels).toEqual({ slim: 'yes' });
    expect(p.metadata?.resourceVersion).toBeTruthy();
    expect(p.metadata?.managedFields).toBeUndefined();
    expect(p.spec?.containers ?? []).toEqual([]);
    expect(JSON.stringify(p)).not.toContain('xxxxxxxxxx');
  }
  const last = seen.at(-1)!;
  expect(last.spec?.nodeName).toBeTruthy();
  expect(last.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
});

test('a created or deleted pod the server answers with is not kept, but for the created pod’s uid and restart policy; a refused delete still says why', async () => {
  const pods = kubePodApi(cluster.client);
  const created = await pods.create('default', { metadata: { name: 'no-echo' }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'sandbox/succeed' }] } });
  const uid = cluster.sandbox.get('pods', 'default', 'no-echo')?.metadata.uid;
  expect(uid).toMatch(/^[0-9a-f-]{36}$/);
  // The restart policy as admission left it: a webhook's change is refused as the create answers.
  expect(JSON.parse(JSON.stringify(created))).toEqual({ metadata: { uid }, spec: { containers: [], restartPolicy: 'Never' } });
  await pods.delete('default', 'no-echo', { gracePeriodSeconds: 0 });
  const err = await pods.delete('default', 'never-was', { gracePeriodSeconds: 0 }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(classifyError(err)).toMatchObject({ kind: 'not-found', status: 404 });
});
