/**
 * PodWatcher with a scripted API: list then watch from the list's resourceVersion, resume from the
 * last resourceVersion seen, and on 410 Gone list again and synthesize what was missed.
 */
import { expect, test } from 'vitest';
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/client.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { PodWatcher, type PodEvent } from '../../src/kube/watch.ts';

const pod = (name: string, rv: string, phase = 'Running'): V1Pod => ({ metadata: { name, resourceVersion: rv }, status: { phase } });

type WatchScript = (cb: (type: string, obj: unknown) => void, done: (err: unknown) => void, query: Record<string, unknown>) => void;

type FakeWatch = (path: string, query: Record<string, unknown>, cb: (type: string, obj: unknown) => void, done: (err: unknown) => void) => Promise<AbortController>;

function fakeClient(lists: V1PodList[], watches: WatchScript[]) {
  const calls: string[] = [];
  let held: ((err: unknown) => void) | null = null;
  const client = {
    server: 'https://fake',
    async request<T>(_what: string, fn: () => Promise<T>) {
      return fn();
    },
    async watchRequest(_what: string, path: string, query: Record<string, unknown>, cb: (type: string, obj: unknown) => void, done: (err: unknown) => void) {
      return (client as unknown as { watch: { watch: FakeWatch } }).watch.watch(path, query, cb, done);
    },
    core: {
      async listNamespacedPod() {
        calls.push('list');
        const l = lists.shift();
        if (!l) throw new Error('no more lists scripted');
        return l;
      },
    },
    watch: {
      async watch(_path: string, query: Record<string, unknown>, cb: (type: string, obj: unknown) => void, done: (err: unknown) => void) {
        calls.push(`watch@${String(query.resourceVersion)}`);
        const script = watches.shift();
        const controller = new AbortController();
        if (script) queueMicrotask(() => script(cb, done, query));
        else {
          // No more scripts: stay open until aborted.
          held = done;
          controller.signal.addEventListener('abort', () => held?.(null));
        }
        return controller;
      },
    },
  } as unknown as KubeClient;
  return { client: kubePodApi(client), calls, isHeld: () => held !== null };
}

async function settle(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

test('resumes from the last resourceVersion after a clean end, reporting each change once', async () => {
  const { client, calls, isHeld } = fakeClient(
    [{ metadata: { resourceVersion: '10' }, items: [pod('a', '9')] }],
    [
      (cb, done) => {
        cb('MODIFIED', pod('a', '11', 'Succeeded'));
        cb('BOOKMARK', { metadata: { resourceVersion: '15' } });
        done(null);
      },
    ],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  await settle(isHeld);
  w.stop();
  await w.done;
  expect(events.map((e) => `${e.type} ${e.pod.metadata!.name}@${e.pod.metadata!.resourceVersion}${e.synthetic ? ' (listed)' : ''}`)).toEqual(['ADDED a@9 (listed)', 'MODIFIED a@11']);
  expect(calls).toEqual(['list', 'watch@10', 'watch@15']);
});

test('410 Gone: lists again and synthesizes the DELETED and MODIFIED events it missed', async () => {
  const { client, calls, isHeld } = fakeClient(
    [
      { metadata: { resourceVersion: '10' }, items: [pod('a', '9'), pod('b', '8')] },
      { metadata: { resourceVersion: '30' }, items: [pod('b', '25', 'Succeeded'), pod('c', '29')] },
    ],
    [(cb, done) => {
      cb('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (20)' });
      done(null);
    }],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  await settle(isHeld);
  w.stop();
  expect(events.map((e) => `${e.type} ${e.pod.metadata!.name}`)).toEqual(['ADDED a', 'ADDED b', 'MODIFIED b', 'ADDED c', 'DELETED a']);
  expect(calls).toEqual(['list', 'watch@10', 'list', 'watch@30']);
  expect([...w.pods.keys()].sort()).toEqual(['b', 'c']);
});

test('403 on the watch stops the watcher with an error that says so', async () => {
  const { client } = fakeClient(
    [{ metadata: { resourceVersion: '1' }, items: [] }],
    [(_cb, done) => done(Object.assign(new Error('Forbidden'), { statusCode: 403 }))],
  );
  const w = new PodWatcher(client, 'ns', 'x=y', () => {}, { sleep: async () => {} });
  await w.start();
  await expect(w.done).rejects.toThrow(/forbidden \(403\)/);
});

test('errors back off and resume from where the watch was', async () => {
  const waits: number[] = [];
  const { client, calls, isHeld } = fakeClient(
    [{ metadata: { resourceVersion: '5' }, items: [] }],
    [
      (cb, done) => {
        cb('ADDED', pod('a', '6'));
        done(Object.assign(new TypeError('terminated'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
      },
      (_cb, done) => done(Object.assign(new Error('Internal Server Error'), { statusCode: 500 })),
    ],
  );
  const w = new PodWatcher(client, 'ns', 'x=y', () => {}, { sleep: async (ms) => void waits.push(ms) });
  await w.start();
  await settle(isHeld);
  w.stop();
  expect(calls).toEqual(['list', 'watch@5', 'watch@6', 'watch@6']);
  // Backoff doubles while no progress is made.
  expect(waits).toEqual([100, 200]);
});

const podU = (name: string, uid: string, rv: string, phase = 'Running'): V1Pod => ({ metadata: { name, uid, resourceVersion: rv }, status: { phase } });
const seen = (events: PodEvent[]): string[] => events.map((e) => `${e.type} ${e.pod.metadata!.name}/${e.pod.metadata!.uid}@${e.pod.metadata!.resourceVersion}`);

test('410 Gone: a pod deleted and created again under its name meanwhile is the old one DELETED, then the new one ADDED', async () => {
  const { client, isHeld } = fakeClient(
    [
      { metadata: { resourceVersion: '10' }, items: [podU('a', 'u1', '9')] },
      { metadata: { resourceVersion: '30' }, items: [podU('a', 'u2', '25', 'Succeeded')] },
    ],
    [(cb, done) => {
      cb('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (20)' });
      done(null);
    }],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  await settle(isHeld);
  w.stop();
  expect(seen(events)).toEqual(['ADDED a/u1@9', 'DELETED a/u1@9', 'ADDED a/u2@25']);
  expect(w.pods.get('a')?.metadata?.uid).toBe('u2');
});

test('a new uid under a known name without the old one’s DELETED: the DELETED is synthesized first; the late DELETED of the old one is dropped', async () => {
  const { client, isHeld } = fakeClient(
    [{ metadata: { resourceVersion: '10' }, items: [podU('a', 'u1', '9')] }],
    [
      (cb, done) => {
        cb('ADDED', podU('a', 'u2', '12'));
        cb('DELETED', podU('a', 'u1', '11'));
        cb('MODIFIED', podU('a', 'u2', '13', 'Succeeded'));
        done(null);
      },
    ],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  await settle(isHeld);
  w.stop();
  expect(seen(events)).toEqual(['ADDED a/u1@9', 'DELETED a/u1@9', 'ADDED a/u2@12', 'MODIFIED a/u2@13']);
  expect(events[1]!.synthetic).toBe(true);
  expect(w.pods.get('a')?.metadata?.uid).toBe('u2');
});

/** A promise and its resolve, to hold a scripted list or watch until the test lets it go. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}
const gone410 = { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (20)' };

test('410 Gone: a pod the run created that the watch never showed, absent from the next list, is reported DELETED (created and deleted while the watch was away)', async () => {
  const away = gate();
  const { client, isHeld } = fakeClient(
    [{ metadata: { resourceVersion: '10' }, items: [] }, { metadata: { resourceVersion: '30' }, items: [podU('b', 'u9', '29')] }],
    [(cb, done) => void away.promise.then(() => (cb('ERROR', gone410), done(null)))],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  w.created('a', 'u1');
  away.open();
  await settle(isHeld);
  w.stop();
  expect(seen(events)).toEqual(['DELETED a/u1@undefined', 'ADDED b/u9@29']);
  expect(events[0]!.synthetic).toBe(true);
});

test('a list that was in flight when the create answered proves nothing; the next one does', async () => {
  const secondList = gate<V1PodList>();
  const secondWatch = gate();
  const { client, calls, isHeld } = fakeClient(
    [{ metadata: { resourceVersion: '10' }, items: [] }, secondList.promise as unknown as V1PodList, { metadata: { resourceVersion: '40' }, items: [] }],
    [(cb, done) => (cb('ERROR', gone410), done(null)), (cb, done) => void secondWatch.promise.then(() => (cb('ERROR', gone410), done(null)))],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  // The relist after the first 410 is on its way when the create answers: it may have been read before the pod existed.
  await settle(() => calls.filter((c) => c === 'list').length === 2);
  w.created('a', 'u1');
  secondList.open({ metadata: { resourceVersion: '30' }, items: [] });
  await settle(() => calls.includes('watch@30'));
  expect(seen(events)).toEqual([]);
  secondWatch.open();
  await settle(isHeld);
  w.stop();
  expect(seen(events)).toEqual(['DELETED a/u1@undefined']);
});

test('a created pod the list holds, or one the watch showed, gets no synthesized DELETED of its own (the cache\'s diff tells its end, once)', async () => {
  const away = gate();
  const second = gate();
  const { client, calls, isHeld } = fakeClient(
    [
      { metadata: { resourceVersion: '10' }, items: [] },
      { metadata: { resourceVersion: '30' }, items: [podU('a', 'u1', '21')] },
      { metadata: { resourceVersion: '50' }, items: [podU('a', 'u1', '21')] },
    ],
    [
      (cb, done) => void away.promise.then(() => (cb('ERROR', gone410), done(null))),
      (cb, done) => void second.promise.then(() => (cb('ADDED', podU('c', 'u3', '41')), cb('ERROR', gone410), done(null))),
    ],
  );
  const events: PodEvent[] = [];
  const w = new PodWatcher(client, 'ns', 'x=y', (e) => events.push(e), { sleep: async () => {} });
  await w.start();
  w.created('a', 'u1');
  away.open();
  await settle(() => calls.includes('watch@30'));
  w.created('c', 'u3');
  second.open();
  await settle(isHeld);
  w.stop();
  expect(seen(events)).toEqual(['ADDED a/u1@21', 'ADDED c/u3@41', 'DELETED c/u3@41']);
});
