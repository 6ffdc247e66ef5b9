/**
 * The client reuses connections: a run's typed requests, watches and log streams do not each open
 * a TLS connection (the sandbox counts the connections it accepts), a client certificate that an
 * exec plugin renews gets new connections, and proxies keep client-node's own dispatchers.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { DEFAULT_BURST, MAX_CONNECTIONS, createClient } from '../../src/kube/client.ts';
import { makeCerts } from '../../sandbox/certs.ts';
import { run, spec, startCluster, type Cluster } from '../engine/helpers.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ scale: true });
});
afterAll(() => cluster.sandbox.close());

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

test('a chain of tasks opens far fewer connections than it makes requests', async () => {
  const n = 10;
  const s = spec(`version: 1
name: chain
tasks:
${Array.from({ length: n }, (_, i) => `  t${i}: {image: sandbox/succeed${i ? `, needs: [t${i - 1}]` : ''}}`).join('\n')}
`);
  cluster.sandbox.counters.reset();
  const before = cluster.sandbox.connections();
  const r = await run(cluster, s);
  expect(r.state.result).toBe('success');
  const requests = total(cluster.sandbox.counters.snapshot());
  const connections = cluster.sandbox.connections() - before;
  // Per task at least a create and a log stream; a connection each would be 2 per task.
  expect(requests).toBeGreaterThanOrEqual(2 * n);
  expect(connections).toBeLessThan(n);
});

test('many requests at once share at most MAX_CONNECTIONS connections (each TLS connection costs native memory)', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.sandbox.kubeconfig());
  const client = createClient(kc, { qps: 1e6, burst: 1e6 });
  const n = 4 * MAX_CONNECTIONS;
  const before = cluster.sandbox.connections();
  // All sent in one turn of the event loop: without a bound, each would open its own connection.
  const read = await Promise.all(Array.from({ length: n }, () => client.request('read namespace', () => client.core.readNamespace({ name: 'default' }))));
  expect(read.filter((ns) => ns.metadata?.name === 'default')).toHaveLength(n);
  const opened = cluster.sandbox.connections() - before;
  expect(opened).toBeGreaterThan(1);
  expect(opened).toBeLessThanOrEqual(MAX_CONNECTIONS);
});

test('watches take no connection from the requests: with more watches open than MAX_CONNECTIONS (a wide backfill), requests and watches still go', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.sandbox.kubeconfig());
  const client = createClient(kc, { qps: 1e6, burst: 1e6 });
  const deadline = <T,>(p: Promise<T>, what: string): Promise<T> =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: waited for a connection the watches hold`)), 10_000).unref())]);
  // Long-running: each holds its connection until the server ends it (the sandbox after 30 s,
  // kube-apiserver after its --min-request-timeout, 30 min or more).
  const opening = Array.from({ length: MAX_CONNECTIONS + 2 }, (_, i) =>
    client.watchRequest(`watch ${i}`, '/api/v1/namespaces/default/pods', { labelSelector: `w=${i}` }, () => {}, () => {}),
  );
  try {
    const read = await deadline(
      client.request('read namespace', () => client.core.readNamespace({ name: 'default' })),
      'a read',
    );
    expect(read.metadata?.name).toBe('default');
    expect(await deadline(Promise.all(opening), 'the watches')).toHaveLength(MAX_CONNECTIONS + 2);
  } finally {
    for (const w of await Promise.allSettled(opening)) if (w.status === 'fulfilled') w.value.abort();
  }
});

/** The dispatcher client-node would send a request with, through `kc`. */
async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  const ctx = new RequestContext(`${cluster.sandbox.url}/api/v1/namespaces`, HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getDispatcher();
}

/** A kubeconfig for the sandbox whose user is an exec plugin returning `status` (JSON). */
function execKubeconfig(script: string, extraCluster = ''): KubeConfig {
  const dir = mkdtempSync(join(tmpdir(), 'exec-cert-'));
  const plugin = join(dir, 'credential');
  writeFileSync(plugin, script);
  chmodSync(plugin, 0o755);
  const kc = new KubeConfig();
  kc.loadFromString(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${cluster.sandbox.url}", certificate-authority-data: "${Buffer.from(cluster.sandbox.caPem).toString('base64')}"${extraCluster}}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: "${plugin}", interactiveMode: Never}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  return kc;
}

/** An exec plugin that returns a new client certificate each time it runs (each one expired, so it runs each time). */
const ROTATING = `#!/bin/sh
n=$(cat "$0.n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$0.n"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"cert-'$n'","clientKeyData":"key-'$n'","expirationTimestamp":"2000-01-01T00:00:00Z"}}'
`;

test('log streams take no rate-limit token (kube-apiserver does not count long-running requests); other requests do', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.sandbox.kubeconfig());
  // One token, and the next one in ~3 hours: a request that needs a token now never gets one.
  const client = createClient(kc, { qps: 0.0001, burst: 1 });
  await client.request('read namespace', () => client.core.readNamespace({ name: 'default' }));
  let second = false;
  void client.request('read namespace', () => client.core.readNamespace({ name: 'default' })).then(() => (second = true), () => {});
  const streams = await Promise.all([1, 2, 3].map(() => client.openStream('/api/v1/namespaces/default', {}, new AbortController().signal)));
  for (const s of streams) {
    expect(s.statusCode).toBe(200);
    s.resume();
  }
  expect(second).toBe(false);
});

test('qps null sends without a client-side limit; the default burst lets a wave of 300 through at once', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.sandbox.kubeconfig());
  // With a bucket of one token refilled every ~3 hours, a second request would wait for hours.
  const unlimited = createClient(kc, { qps: null, burst: 1 });
  for (let i = 0; i < 3; i++) await unlimited.request('read namespace', () => unlimited.core.readNamespace({ name: 'default' }));
  // The shipped default: a slow sustained rate still lets DEFAULT_BURST requests through at once.
  const shipped = createClient(kc, { qps: 0.0001 });
  let sent = 0;
  await Promise.all(Array.from({ length: DEFAULT_BURST }, () => shipped.request('noop', async () => void sent++)));
  expect(sent).toBe(DEFAULT_BURST);
  let more = false;
  void shipped.request('noop', async () => void (more = true)).catch(() => {});
  await unlimited.request('read namespace', () => unlimited.core.readNamespace({ name: 'default' }));
  expect(more).toBe(false);
});

test('requests with the same TLS options share one dispatcher; a renewed client certificate gets a new one', async () => {
  const same = createClient(execKubeconfig(`#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-0123456789"}}'
`)).kubeConfig;
  const a = await dispatcherOf(same);
  expect(a).toBeDefined();
  expect(await dispatcherOf(same)).toBe(a);

  const rotating = createClient(execKubeconfig(ROTATING)).kubeConfig;
  const first = await dispatcherOf(rotating);
  const second = await dispatcherOf(rotating);
  expect(first).toBeDefined();
  expect(second).toBeDefined();
  expect(second).not.toBe(first);
});

test('through a proxy, every request gets client-node’s own dispatcher, as without the client', async () => {
  const kc = createClient(execKubeconfig(`#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-0123456789"}}'
`, ', proxy-url: "http://127.0.0.1:9"')).kubeConfig;
  const a = await dispatcherOf(kc);
  expect(a).toBeDefined();
  expect(await dispatcherOf(kc)).not.toBe(a);
});

test('the KubeConfig given to createClient is left as it was', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.sandbox.kubeconfig());
  const client = createClient(kc);
  expect(client.kubeConfig).toBeInstanceOf(KubeConfig);
  expect(client.kubeConfig.getCurrentCluster()?.server).toBe(cluster.sandbox.url);
  expect(await dispatcherOf(kc)).not.toBe(await dispatcherOf(kc));
});

test('typed requests speak HTTP/1.1 even to a server offering HTTP/2 (a 401 GOAWAY must not fail the requests beside it)', async () => {
  // kube-apiserver answers an unauthenticated HTTP/2 request with a GOAWAY before the 401, and
  // undici fails the requests in flight beside it as network errors (src/kube/client.ts,
  // http1Only). A loopback server that offers h2 and HTTP/1.1, as kube-apiserver does.
  const certs = makeCerts();
  const versions: string[] = [];
  const server = createSecureServer({ cert: certs.certPem, key: certs.keyPem, allowHTTP1: true }, (req, res) => {
    versions.push(req.httpVersion);
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromString(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", certificate-authority-data: "${Buffer.from(certs.caPem).toString('base64')}"}}]
users: [{name: u, user: {token: wrong-token-0123456789}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
    const client = createClient(kc);
    const results = await Promise.allSettled([1, 2, 3].map(() => client.core.readNamespace({ name: 'default' })));
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: unknown }).code : 'fulfilled'))).toEqual([401, 401, 401]);
    expect(versions).toEqual(['1.1', '1.1', '1.1']);
  } finally {
    server.close();
  }
});
