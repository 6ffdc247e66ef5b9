/** Kubernetes API errors are classified in one place; retries and the rate limit. */
import { describe, expect, test } from 'vitest';
import { ApiException } from '@kubernetes/client-node';
import { TokenBucket, admissionRefusal, classifyError, describeError, isRetriable, withRetry } from '../../src/kube/errors.ts';
import { KUBERNETES_VERSION } from '../../src/spec/k8s/pod-openapi.ts';

const status = (code: number, reason: string, message: string, details?: object) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, details });

describe('classifyError', () => {
  test.each([
    [401, 'Unauthorized', 'unauthorized', false],
    [403, 'Forbidden', 'forbidden', false],
    [404, 'NotFound', 'not-found', false],
    [409, 'AlreadyExists', 'conflict', false],
    [410, 'Expired', 'gone', false],
    [422, 'Invalid', 'invalid', false],
    [429, 'TooManyRequests', 'throttled', true],
    [500, 'InternalError', 'server', true],
    [503, 'ServiceUnavailable', 'server', true],
    [504, 'Timeout', 'timeout', true],
  ])('HTTP %i %s → %s (retriable: %s)', (code, reason, kind, retriable) => {
    const err = new ApiException(code, 'Unknown API Status Code!', status(code, reason, `the ${reason} message`), {});
    const e = classifyError(err);
    expect(e.kind).toBe(kind);
    expect(e.retriable).toBe(retriable);
    expect(e.status).toBe(code);
    expect(e.reason).toBe(reason);
    expect(e.message).toBe(`the ${reason} message`);
  });

  test('422 keeps the causes that name the fields', () => {
    const err = new ApiException(422, 'x', status(422, 'Invalid', 'Pod "p" is invalid', { causes: [{ field: 'spec.containers[0].image', message: 'Required value' }] }), {});
    expect(classifyError(err).causes).toEqual(['spec.containers[0].image: Required value']);
    expect(describeError(err, 'create pod p', null)).toMatch(/spec.containers\[0\].image: Required value/);
  });

  // Messages as kube-apiserver v1.36 words them (test/e2e/real-server.test.ts meets them for real).
  test('403 from RBAC: names the missing permission and the Role', () => {
    const err = new ApiException(403, 'x', status(403, 'Forbidden', 'pods is forbidden: User "system:serviceaccount:ns:sa" cannot create resource "pods" in API group "" in the namespace "ns"'), {});
    expect(describeError(err, 'create pod p', null)).toMatch(/forbidden \(403\).*cannot create resource "pods".*Grant the permission with a Role/);
  });

  test.each([
    ['an exceeded ResourceQuota', 'pods "p" is forbidden: exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1'],
    ['PodSecurity', 'pods "p" is forbidden: violates PodSecurity "restricted:latest": privileged (container "main" must not set securityContext.privileged=true)'],
  ])('403 from admission (%s): the server\'s message as the namespace\'s policy, not a missing permission', (_, message) => {
    const text = describeError(new ApiException(403, 'x', status(403, 'Forbidden', message), {}), 'create pod p', null);
    expect(text).toContain(message);
    expect(text).toMatch(/refused by the namespace's admission policy/);
    expect(text).not.toMatch(/Grant the permission/);
  });

  test.each([
    ['pods "p" is forbidden: error looking up service account ns/etl: serviceaccount "etl" not found', 'the ServiceAccount admission plugin', false, /create it \(kubectl -n ns create serviceaccount etl\)/],
    ['pods "p" is forbidden: error looking up service account ns/default: serviceaccount "default" not found', 'the ServiceAccount admission plugin', false, /names no pod\.serviceAccountName, so it runs as "default".*missing from ns/],
    ['pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=4, limited: pods=4', 'ResourceQuota', true, /Other pods use up the ResourceQuota "q" now/],
    ['pods "p" is forbidden: exceeded quota: q, requested: requests.memory=8Gi,requests.cpu=500m, used: requests.memory=1Gi,requests.cpu=0, limited: requests.memory=4Gi,requests.cpu=2', 'ResourceQuota', false, /asks for more requests\.memory than the ResourceQuota "q" allows in all/],
    ['pods "p" is forbidden: exceeded quota: q, requested: requests.cpu=1500m, used: requests.cpu=1, limited: requests.cpu=2', 'ResourceQuota', true, /Other pods use up/],
    ['pods "p" is forbidden: failed quota: q: must specify limits.cpu for: main; limits.memory for: main', 'ResourceQuota', false, /requires every pod to set limits\.cpu for: main; limits\.memory for: main/],
    ['pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 3', 'LimitRange', false, /LimitRange/],
    ['pods "p" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)', 'PodSecurity', false, /level "baseline"/],
    ['admission webhook "deny.example.com" denied the request: no', 'the validating admission webhook "deny.example.com"', false, /webhook's owners/],
    ['pods "p" is forbidden: something else', 'admission', false, /fit the namespace's policy/],
  ])('admission refusal %s', (message, by, mayPassLater, todo) => {
    const a = admissionRefusal(message);
    expect(a).toMatchObject({ by, mayPassLater });
    expect(a.todo).toMatch(todo);
    expect(describeError(new ApiException(403, 'x', status(403, 'Forbidden', message), {}), 'create pod p', null)).toContain(`(403${by === 'admission' ? '' : `, ${by}`}). ${message}. ${a.todo}`);
  });

  test('400 from strict field validation: a configuration error that quotes the server and says what to check', () => {
    const message = 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.affinity.nodeAfinity"';
    const err = new ApiException(400, 'x', status(400, 'BadRequest', message), {});
    expect(classifyError(err)).toMatchObject({ kind: 'bad-request', retriable: false, reason: 'BadRequest' });
    expect(describeError(err, 'create pod p in namespace ns', null)).toBe(
      `Could not create pod p in namespace ns: the cluster does not know a field of it (400 BadRequest, field validation Strict). ${message}. The spec's pod: fields are checked offline against Kubernetes ${KUBERNETES_VERSION}: check that the cluster's version has this field.`,
    );
  });

  test('429 reads Retry-After', () => {
    const err = new ApiException(429, 'x', status(429, 'TooManyRequests', 'slow down'), { 'retry-after': '3' });
    expect(classifyError(err).retryAfterMs).toBe(3000);
  });

  test('a watch ERROR Status object (410 Gone) is classified like a response', () => {
    expect(classifyError({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (500)' }).kind).toBe('gone');
  });

  test('network errors behind fetch failed are retriable and name the server in the message', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
    expect(classifyError(err).kind).toBe('network');
    expect(isRetriable(err)).toBe(true);
    expect(describeError(err, 'list pods', 'https://127.0.0.1:6443')).toMatch(/https:\/\/127.0.0.1:6443 could not be reached.*ECONNREFUSED/);
  });

  test('TLS errors are not retried and point at the CA', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }) });
    expect(classifyError(err).kind).toBe('tls');
    expect(isRetriable(err)).toBe(false);
    expect(describeError(err, 'list pods', 'https://k8s.example.com')).toMatch(/certificate-authority-data/);
  });
});

describe('withRetry', () => {
  test('retries what is retriable, waiting Retry-After, and stops at success', async () => {
    const waits: number[] = [];
    let calls = 0;
    const got = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new ApiException(429, 'x', status(429, 'TooManyRequests', 'slow'), { 'retry-after': '2' });
        return 'ok';
      },
      { sleep: async (ms) => void waits.push(ms) },
    );
    expect(got).toBe('ok');
    expect(waits).toEqual([2000, 2000]);
  });

  test('does not retry what the predicate rejects', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new ApiException(403, 'x', status(403, 'Forbidden', 'no'), {});
        },
        { sleep: async () => {} },
      ),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });

  test('backs off exponentially and gives up after the attempts', async () => {
    const waits: number[] = [];
    await expect(
      withRetry(
        async () => {
          throw new ApiException(500, 'x', status(500, 'InternalError', 'boom'), {});
        },
        { attempts: 4, baseMs: 100, random: () => 0.999999, sleep: async (ms) => void waits.push(ms) },
      ),
    ).rejects.toThrow();
    expect(waits).toEqual([100, 200, 400]);
  });
});

test('TokenBucket lets a burst through, then paces at qps', async () => {
  let now = 0;
  const slept: number[] = [];
  const bucket = new TokenBucket({ qps: 10, burst: 3, now: () => now, sleep: async (ms) => { slept.push(ms); now += ms; } });
  for (let i = 0; i < 5; i++) await bucket.take();
  expect(slept).toEqual([100, 100]);
  expect(now).toBe(200);
});
