// Scale mode: thousands of scripted pods, no processes, one watch, constant requests per pod.
import { Agent, request } from 'node:https';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { clients, type Clients } from './helpers.ts';

let sandbox: Sandbox;
let admin: Clients;
const ns = 'scale';
const count = 2000;

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [ns], scale: true, historyLimit: 50_000 });
  admin = clients(sandbox);
});
afterAll(async () => {
  await sandbox?.close();
});

/**
 * Creates pods over one keep-alive agent. client-node 2.x opens a new TLS connection per request,
 * which would make this test measure handshakes rather than the sandbox.
 */
async function createPods(names: string[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: sandbox.caPem });
  const post = (name: string) => new Promise<void>((resolve, reject) => {
    const req = request(new URL(`/api/v1/namespaces/${ns}/pods`, sandbox.url), {
      method: 'POST', agent, headers: { Authorization: `Bearer ${sandbox.adminToken}`, 'Content-Type': 'application/json' },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`create ${name}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    // Any image runs as sandbox/succeed in scale mode; no process is spawned.
    req.end(JSON.stringify({ metadata: { name, labels: { run: 'scale' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'registry.example.com/job:1' }] } }));
  });
  try {
    for (let i = 0; i < names.length; i += 200) await Promise.all(names.slice(i, i + 200).map(post));
  } finally {
    agent.destroy();
  }
}

it(`runs ${count} pods to completion, watched by one watch`, async () => {
  const list = await admin.core.listNamespacedPod({ namespace: ns });
  sandbox.counters.reset();
  const done = new Set<string>();
  let controller: AbortController | undefined;
  const allDone = new Promise<void>((resolve, reject) => {
    void new k8s.Watch(admin.kc)
      .watch(`/api/v1/namespaces/${ns}/pods`, { resourceVersion: list.metadata!.resourceVersion, labelSelector: 'run=scale' }, (_type, pod: k8s.V1Pod) => {
        if (pod.status?.phase === 'Succeeded') done.add(pod.metadata!.name!);
        if (done.size === count) resolve();
      }, (err) => (err ? reject(err) : undefined))
      .then((c) => (controller = c), reject);
  });
  await createPods(Array.from({ length: count }, (_, i) => `p-${i}`));
  await allDone;
  controller?.abort();
  expect(sandbox.containerStarts()).toBe(count);
  // One watch for all of them, and nothing else but the creates.
  expect(sandbox.counters.snapshot()).toEqual({ 'create pods': count, 'watch pods': 1 });
}, 120_000);
