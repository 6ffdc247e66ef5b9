/**
 * A watch that goes silent (its connection dropped without a FIN or RST by a NAT or load balancer,
 * or a server that hangs mid-stream) is cut after the client's idle time and resumed from the last
 * resourceVersion: the run ends right, no container starts twice, and the watch requests stay few
 * (one per cut, no tight reconnect loop). The idle time is shortened here (`watchIdleMs`); the
 * product's is WATCH_IDLE_MS (src/kube/client.ts).
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { connect } from '../../src/kube/auth.ts';
import { createClient } from '../../src/kube/client.ts';
import { startSandbox } from '../../sandbox/index.ts';
import { results, run, spec, type Cluster } from './helpers.ts';

let cluster: Cluster;
beforeAll(async () => {
  const sandbox = await startSandbox();
  const conn = await connect({ kubeconfig: sandbox.kubeconfig() }, {});
  const sent: string[] = [];
  const client = createClient(conn.kubeConfig, { onRequest: (w) => sent.push(w), retry: { baseMs: 20, maxMs: 200 }, watchIdleMs: 1500 });
  cluster = { sandbox, client, sent };
});
afterAll(() => cluster.sandbox.close());
beforeEach(() => {
  cluster.sandbox.faults.clear();
  cluster.sent.length = 0;
});

/** Three short tasks in a chain: each needs the watch to tell the one before it ended. */
const chain = (name: string) =>
  spec(`version: 1
name: ${name}
defaults:
  image: busybox
  retries: {limit: 0}
tasks:
  a:
    command: [sh, -c, 'echo a']
  b:
    needs: [a]
    command: [sh, -c, 'echo b']
  c:
    needs: [b]
    command: [sh, -c, 'echo c']
`);

async function runChecked(name: string): Promise<number> {
  const r = await run(cluster, chain(name));
  expect(results(r.state)).toEqual({ a: 'succeeded', b: 'succeeded', c: 'succeeded' });
  expect(r.out.created.length).toBe(3);
  for (const c of r.out.created) expect(cluster.sandbox.containerStarts(c.pod), c.pod).toBe(1);
  const watches = cluster.sent.filter((w) => w.startsWith('watch')).length;
  return watches;
}

test('the first watch is silent from the start: cut when idle, resumed, the run ends right', { timeout: 25_000 }, async () => {
  cluster.sandbox.faults.silenceWatches({ count: 1 });
  const watches = await runChecked('silent-start');
  // The silent one, the one that resumed; a server end or two at most (timeoutSeconds is 25 s).
  expect(watches).toBeGreaterThanOrEqual(2);
  expect(watches).toBeLessThanOrEqual(4);
});

test('watches stall mid-stream, one after another: each cut and resumed, nothing missed or run twice', { timeout: 60_000 }, async () => {
  cluster.sandbox.faults.silenceWatches({ count: 3, afterEvents: 2 });
  const watches = await runChecked('silent-stall');
  expect(watches).toBeGreaterThanOrEqual(2);
  expect(watches).toBeLessThanOrEqual(6);
});
