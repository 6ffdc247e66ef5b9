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
  const created = await pods.create('default', pod);
  expect(created.metadata?.name).toBe('as-rendered');
  const stored = cluster.sandbox.list('pods', 'default').find((p) => (p.metadata as { name: string }).name === 'as-rendered') as unknown as V1Pod;
  expect(stored.spec?.affinity).toEqual(pod.spec!.affinity);
  // (admission adds the not-ready and unreachable tolerations, as DefaultTolerationSeconds does)
  expect(stored.spec?.tolerations).toContainEqual(pod.spec!.tolerations![0]);
});
