/**
 * Authentication and preflight through the bundled action (dist/index.js), on the cluster
 * POD_DAG_TEST_CLUSTER picks (test/helpers/cluster.ts; the sandbox by default):
 * each way of giving credentials works, and each problem (wrong token, unreachable server, TLS,
 * missing namespace, missing RBAC permission) stops the step with a message that names the
 * problem and its fix, before a single pod is created.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { runStep, type StepResult } from '../harness/action.ts';

const NS = 'data-jobs';
const SPEC = ['version: 1', 'name: auth-check', `namespace: ${NS}`, 'tasks:', '  a: {image: sandbox/succeed}', '  b: {image: sandbox/succeed, needs: [a]}', ''].join('\n');

let cluster: TestCluster;
let admin: string;
let limited: string;
let dir: string;
let runs = 0;
beforeAll(async () => {
  cluster = await startTestCluster({ namespaces: [NS] });
  admin = cluster.token!;
  // Everything the action needs but `create pods`.
  limited = await cluster.userKubeconfig(
    'limited',
    [
      { namespaces: [NS], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
      { namespaces: [NS], resources: ['pods/log'], verbs: ['get'] },
    ],
    NS,
  );
  dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-auth-'));
  await writeFile(path.join(dir, 'dag.yaml'), SPEC);
});
afterAll(async () => {
  await cluster?.close();
});
beforeEach(() => cluster.resetRequests());

/** This file's pods (its DAG's name) in the namespace, not being deleted; other files may share the cluster. */
const myPods = async () => (await cluster.pods(NS)).filter((p) => p.metadata?.name?.startsWith('auth-check-'));

/** Runs the step in the workspace with these inputs and a fresh run id. */
function step(inputs: Record<string, string>, env: Record<string, string> = {}): Promise<StepResult> {
  runs += 1;
  return runStep({ inputs: { dag: 'dag.yaml', 'keep-pods': 'never', ...inputs }, env: { GITHUB_RUN_ID: `300000${runs}`, ...env }, cwd: dir });
}

/** The message the step failed with (its last ::error). */
const failure = (s: StepResult) => s.commands.filter((c) => c.command === 'error').at(-1)?.message ?? '';

/** The step stopped before any pod was created, with one error and no stack trace. */
async function expectStoppedBeforePods(s: StepResult): Promise<void> {
  expect(s.exitCode, s.stdout + s.stderr).toBe(1);
  expect(await cluster.requests('create', 'pods')).toBe(0);
  expect(await myPods()).toEqual([]);
  expect(s.stderr).not.toMatch(/\n\s+at /);
  expect(failure(s)).not.toMatch(/internal error/);
  expect(s.outputs['result']).toBe('failure');
}

/** The step ran both tasks: success, two pods created, none left. */
async function expectRan(s: StepResult): Promise<void> {
  expect(s.exitCode, s.stdout + s.stderr).toBe(0);
  expect(s.outputs['result']).toBe('success');
  expect(await cluster.requests('create', 'pods')).toBe(2);
  expect(await myPods()).toEqual([]);
}

/** The bearer token in the limited user's kubeconfig. */
const limitedToken = (): string => (parseYaml(limited) as { users: { user: { token: string } }[] }).users[0]!.user.token;

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('credentials', () => {
  it('a kubeconfig input in plain YAML: runs, and its token and text are masked', async () => {
    const kubeconfig = cluster.kubeconfig();
    const s = await step({ kubeconfig });
    await expectRan(s);
    expect(s.maskedLog).toContain("credentials: the 'kubeconfig' input");
    expect(s.masks).toContain(admin);
    expect(s.maskedLog).not.toContain(admin);
  });

  it('a kubeconfig input in base64: decoded, runs, and the decoded token is masked', async () => {
    const b64 = Buffer.from(cluster.kubeconfig()).toString('base64');
    const s = await step({ kubeconfig: b64 });
    await expectRan(s);
    expect(s.masks).toContain(b64);
    expect(s.masks).toContain(admin);
    expect(s.maskedLog).not.toContain(admin);
  });

  it('server, token and certificate-authority-data inputs', async () => {
    const s = await step({ server: cluster.url, token: admin, 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') });
    await expectRan(s);
    expect(s.maskedLog).toContain("credentials: the 'server' and 'token' inputs");
    expect(s.masks).toContain(admin);
    expect(s.maskedLog).not.toContain(admin);
  });

  it('KUBECONFIG left by an earlier step (no credential inputs)', async () => {
    const file = path.join(dir, 'kubeconfig-from-earlier-step');
    await writeFile(file, cluster.kubeconfig(), { mode: 0o600 });
    const s = await step({}, { KUBECONFIG: file });
    await expectRan(s);
    expect(s.maskedLog).toContain('credentials: the kubeconfig file of an earlier step');
    expect(s.masks).toContain(admin);
    expect(s.maskedLog).not.toContain(admin);
  });

  it('the context input picks a context of the kubeconfig; an unknown one is named with the ones there are', async () => {
    // current-context uses a wrong token; the `admin` context works.
    type Kc = { users: { name: string; user: { token: string } }[]; contexts: { name: string; context: Record<string, string> }[]; 'current-context': string };
    const doc = parseYaml(cluster.kubeconfigWithToken('stale-token-0123456789')) as Kc;
    doc.users.push({ name: 'admin', user: { token: admin } });
    doc.contexts.push({ name: 'admin', context: { cluster: doc.contexts[0]!.context['cluster']!, user: 'admin' } });
    const kubeconfig = stringify(doc);
    const s = await step({ kubeconfig, context: 'admin' });
    await expectRan(s);
    expect(s.maskedLog).not.toContain(admin);

    cluster.resetRequests();
    const bad = await step({ kubeconfig, context: 'prod' });
    await expectStoppedBeforePods(bad);
    expect(failure(bad)).toMatch(/prod/);
    expect(failure(bad)).toContain(doc.contexts[0]!.name);
    expect(failure(bad)).toMatch(/admin/);
  });

  it('no credentials at all: says every way to give them', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-home-'));
    const s = await step({}, { HOME: home });
    await expectStoppedBeforePods(s);
    expect(failure(s)).toMatch(/No Kubernetes credentials found/);
    expect(failure(s)).toMatch(/kubeconfig/);
  });

  it('a kubeconfig secret that does not exist (the runner passes it as an empty input): says so, and what to check', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-home-'));
    const s = await step({ kubeconfig: '' }, { HOME: home });
    await expectStoppedBeforePods(s);
    expect(failure(s)).toMatch(/reached the action empty: check its name and that it exists/);
    expect(failure(s)).toMatch(/fork is given no secrets/);
  });
});

describe('preflight: every problem before any pod', () => {
  // On a real kube-apiserver the 401 comes with an HTTP/2 GOAWAY that fails the requests beside it;
  // the client speaks HTTP/1.1 so the 401 is what the user reads (src/kube/client.ts, http1Only).
  it('a wrong token: 401, in words', async () => {
    const s = await step({ kubeconfig: cluster.kubeconfigWithToken('wrong-token-0123456789') });
    await expectStoppedBeforePods(s);
    expect(failure(s)).toMatch(/rejected the credentials \(401 Unauthorized\)/);
    expect(s.maskedLog).not.toContain('wrong-token-0123456789');
  });

  it('an unreachable server (a closed port): names the server and the cause', async () => {
    const port = await closedPort();
    const s = await step({ server: `https://127.0.0.1:${port}`, token: admin, 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') });
    await expectStoppedBeforePods(s);
    expect(failure(s)).toMatch(/could not be reached/);
    expect(failure(s)).toContain(`127.0.0.1:${port}`);
    expect(failure(s)).toMatch(/ECONNREFUSED/);
  });

  it('a TLS error (a kubeconfig whose CA did not sign the server certificate)', async () => {
    // Another CA, made by openssl: the server's certificate does not chain to it.
    const caDir = await mkdtemp(path.join(tmpdir(), 'pod-dag-e2e-ca-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=some-other-ca', '-keyout', path.join(caDir, 'key.pem'), '-out', path.join(caDir, 'ca.pem')], { stdio: 'ignore' });
    const otherCa = await readFile(path.join(caDir, 'ca.pem'), 'utf8');
    const doc = parseYaml(cluster.kubeconfig()) as { clusters: { cluster: Record<string, string> }[] };
    doc.clusters[0]!.cluster['certificate-authority-data'] = Buffer.from(otherCa).toString('base64');
    const s = await step({ kubeconfig: stringify(doc) });
    await expectStoppedBeforePods(s);
    expect(failure(s)).toMatch(/TLS/);
    expect(failure(s)).toContain(cluster.url);
    expect(failure(s)).toMatch(/certificate-authority/);
  });

  it('a namespace that does not exist: names it and how to create it', async () => {
    const s = await step({ kubeconfig: cluster.kubeconfig(), namespace: 'no-such-ns' });
    await expectStoppedBeforePods(s);
    expect(failure(s)).toMatch(/Namespace "no-such-ns" does not exist/);
    expect(failure(s)).toMatch(/kubectl create namespace no-such-ns/);
  });

  it('a user without create pods: names the verb, resource, namespace and the Role rule', async () => {
    const s = await step({ kubeconfig: limited });
    await expectStoppedBeforePods(s);
    const msg = failure(s);
    expect(msg).toMatch(/create pods in namespace "data-jobs"/);
    expect(msg).toMatch(/resources: \["pods"\]/);
    expect(msg).toMatch(/verbs: \[[^\]]*"create"/);
    expect(s.maskedLog).not.toContain(limitedToken());
  });
});
