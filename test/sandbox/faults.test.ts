// Injected faults and request counters, as the pod runner's tests and benchmarks use them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { clients, failure, finished, podManifest, raw, watchPod, type Clients } from './helpers.ts';

let sandbox: Sandbox;
let admin: Clients;
const ns = 'faults';

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [ns] });
  admin = clients(sandbox);
});
afterEach(() => sandbox.faults.clear());
afterAll(async () => {
  await sandbox?.close();
});

/** Watches configmaps of the namespace; resolves with the events seen when the server ends the watch. */
function watchUntilEnd(query: Record<string, string>): Promise<{ events: string[]; err: unknown }> {
  const events: string[] = [];
  return new Promise((resolve, reject) => {
    void new k8s.Watch(admin.kc)
      .watch(`/api/v1/namespaces/${ns}/configmaps`, query, (type, obj: k8s.V1ConfigMap) => events.push(`${type} ${obj.metadata?.name ?? ''}`), (err) => resolve({ events, err }))
      .catch(reject);
  });
}

describe('faults', () => {
  it('drops every watch after N events', async () => {
    sandbox.faults.dropWatches({ afterEvents: 2 });
    for (const name of ['a', 'b', 'c']) await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
    const { events, err } = await watchUntilEnd({ resourceVersion: '0' });
    expect(events).toEqual(['ADDED a', 'ADDED b']);
    expect(err).toBeNull();
  });

  it('drops a watch after N seconds with a reset connection when asked', async () => {
    sandbox.faults.dropWatches({ afterSeconds: 0.2, mode: 'reset' });
    const list = await admin.core.listNamespacedConfigMap({ namespace: ns });
    const { err } = await watchUntilEnd({ resourceVersion: list.metadata!.resourceVersion! });
    expect(err).toBeTruthy();
  });

  it('ends a watch at timeoutSeconds, with a final BOOKMARK when bookmarks are allowed', async () => {
    const cm = await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'bm' } } });
    const { events } = await watchUntilEnd({ resourceVersion: cm.metadata!.resourceVersion!, timeoutSeconds: '1', allowWatchBookmarks: 'true' });
    expect(events).toEqual(['BOOKMARK ']);
  });

  it('silences a watch: open, then nothing (no bookmark, no end at timeoutSeconds), until the client cuts it', async () => {
    sandbox.faults.silenceWatches({ count: 1 });
    const cm = await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'quiet' } } });
    const w = new k8s.Watch(admin.kc);
    // client-node's idle cut (private in its types), shortened: past the watch's 1 s timeout.
    (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 2500;
    const events: string[] = [];
    const err = await new Promise<unknown>((resolve, reject) => {
      w.watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: cm.metadata!.resourceVersion!, timeoutSeconds: '1', allowWatchBookmarks: 'true' }, (type) => events.push(type), resolve).catch(reject);
      void admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'unseen' } } });
    });
    expect(events).toEqual([]);
    expect((err as Error).name).toBe('TimeoutError');
    // Only `count` watches: the next one is served as usual.
    expect((await watchUntilEnd({ resourceVersion: cm.metadata!.resourceVersion!, timeoutSeconds: '1' })).events).toEqual(['ADDED unseen']);
  });

  it('silences a watch mid-stream after N events', async () => {
    sandbox.faults.silenceWatches({ count: 1, afterEvents: 1 });
    const list = await admin.core.listNamespacedConfigMap({ namespace: ns });
    const rv = list.metadata!.resourceVersion!;
    for (const name of ['s1', 's2']) await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
    const w = new k8s.Watch(admin.kc);
    (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 2500;
    const events: string[] = [];
    const err = await new Promise<unknown>((resolve, reject) => {
      w.watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: rv, timeoutSeconds: '1' }, (type, obj: k8s.V1ConfigMap) => events.push(`${type} ${obj.metadata?.name ?? ''}`), resolve).catch(reject);
    });
    expect(events).toEqual(['ADDED s1']);
    expect((err as Error).name).toBe('TimeoutError');
  });

  it('answers a share of matching requests with 429 and Retry-After', async () => {
    sandbox.faults.throttle({ share: 0.5, retryAfterSeconds: 3, verbs: ['list'], resources: ['pods'] });
    const first = await raw(sandbox, 'GET', `/api/v1/namespaces/${ns}/pods`);
    const second = await raw(sandbox, 'GET', `/api/v1/namespaces/${ns}/pods`);
    expect([first.status, second.status]).toEqual([200, 429]);
    expect(second.headers['retry-after']).toBe('3');
    expect(second.json()).toMatchObject({ reason: 'TooManyRequests', code: 429, message: 'Too many requests, please try again later.', details: { retryAfterSeconds: 3 } });
    expect((await raw(sandbox, 'GET', `/api/v1/namespaces/${ns}/configmaps`)).status).toBe(200);
  });

  it('answers a share of requests with 500 InternalError', async () => {
    sandbox.faults.serverErrors({ share: 1, verbs: ['create'] });
    expect(await failure(admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'e' } } }))).toMatchObject({ code: 500, reason: 'InternalError' });
  });

  it('cuts log streams after N bytes', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('chatty', { env: [{ name: 'SANDBOX_LOG', value: 'first line\nsecond line' }] }) });
    await watchPod(admin.kc, ns, 'chatty', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
    sandbox.faults.cutLogs({ afterBytes: 14 });
    expect(await admin.core.readNamespacedPodLog({ name: 'chatty', namespace: ns })).toBe('first line\nsec');
  });
});

describe('counters', () => {
  it('counts requests by verb and resource', async () => {
    sandbox.counters.reset();
    await admin.core.listNamespacedPod({ namespace: ns });
    await admin.core.listNamespacedPod({ namespace: ns });
    await failure(admin.core.readNamespacedPod({ name: 'nope', namespace: ns }));
    await raw(sandbox, 'GET', `/api/v1/namespaces/${ns}/pods/nope/log`);
    expect(sandbox.counters.get('list', 'pods')).toBe(2);
    expect(sandbox.counters.get('get', 'pods')).toBe(1);
    expect(sandbox.counters.get('get', 'pods/log')).toBe(1);
    expect(sandbox.counters.total()).toBe(4);
    expect(sandbox.counters.snapshot()).toEqual({ 'get pods': 1, 'get pods/log': 1, 'list pods': 2 });
  });
});

describe('onRequest', () => {
  it('reports each API request when it is received and when it is answered, with the client port, until unsubscribed', async () => {
    const seen: { phase: string; verb: string; resource: string; port: number | undefined; user: string }[] = [];
    const stop = sandbox.onRequest((e) => seen.push({ phase: e.phase, verb: e.verb, resource: e.resource, port: e.remotePort, user: e.user }));
    await admin.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'observed' } } });
    // The answer reached the client, so both moments were reported, in order.
    expect(seen.map((e) => `${e.phase} ${e.verb} ${e.resource}`)).toEqual(['received create configmaps', 'answered create configmaps']);
    expect(seen[0]!.port).toBeGreaterThan(0);
    expect(seen[1]!.port).toBe(seen[0]!.port);
    // Who sent it, as the audit log's user.username (the head-to-head benchmark separates clients by it).
    expect(seen.map((e) => e.user)).toEqual(['sandbox-admin', 'sandbox-admin']);
    stop();
    await admin.core.readNamespacedConfigMap({ namespace: ns, name: 'observed' });
    expect(seen).toHaveLength(2);
  });
});
