/**
 * connect(): the credential precedence and what must be masked; preflight(): every problem found
 * before a pod exists, in words that say what is wrong and the fix. Against the sandbox over HTTPS.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MINIMAL_ROLE_YAML, connect, decodeKubeconfig, preflight, ruleGrants } from '../../src/kube/auth.ts';
import { createClient } from '../../src/kube/client.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: ['default', 'data-jobs'] });
  // A service account bound to exactly the README's minimal Role (its rules, read from the YAML),
  // and one that may neither read logs nor delete pods.
  const minimal = (parseAllDocuments(MINIMAL_ROLE_YAML)[0]!.toJS() as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules;
  sandbox.addUser('minimal-token-0123456789', minimal.map((r) => ({ ...r, namespaces: ['data-jobs'] })), 'system:serviceaccount:data-jobs:pod-dag-action');
  const role = { apiGroups: [''], namespaces: ['data-jobs'] };
  sandbox.addUser('nolog-token-0123456789', [
    { ...role, resources: ['pods'], verbs: ['create', 'get', 'list', 'watch'] },
    { ...role, resources: ['configmaps'], verbs: ['get', 'create', 'update', 'list', 'delete'] },
  ], 'system:serviceaccount:data-jobs:half');
});
afterAll(() => sandbox.close());

describe('connect', () => {
  test('a kubeconfig input in plain YAML: its token and text are secrets, the namespace comes from the context', async () => {
    const text = sandbox.kubeconfig({ namespace: 'data-jobs' });
    const c = await connect({ kubeconfig: text }, {});
    expect(c.source).toBe('kubeconfig-input');
    expect(c.namespace).toBe('data-jobs');
    expect(c.secrets).toContain(sandbox.adminToken);
    expect(c.secrets).toContain(text.trim());
    expect(c.secrets).toContain(Buffer.from(text.trim()).toString('base64'));
    expect(c.secrets).toContain(`Bearer ${sandbox.adminToken}`);
  });

  test('a kubeconfig input in base64 is detected and decoded', async () => {
    const b64 = Buffer.from(sandbox.kubeconfig()).toString('base64');
    expect(decodeKubeconfig(b64)).toContain('current-context');
    const c = await connect({ kubeconfig: b64 }, {});
    expect(c.kubeConfig.getCurrentCluster()?.server).toBe(sandbox.url);
    expect(c.secrets).toContain(b64);
  });

  test('a kubeconfig input wins over server + token and over KUBECONFIG', async () => {
    const c = await connect({ kubeconfig: sandbox.kubeconfig(), server: 'https://other', token: 'x' }, { KUBECONFIG: '/nope' });
    expect(c.source).toBe('kubeconfig-input');
  });

  test('server + token + certificate-authority-data', async () => {
    const c = await connect({ server: sandbox.url, token: 'minimal-token-0123456789', certificateAuthorityData: Buffer.from(sandbox.caPem).toString('base64') }, {});
    expect(c.source).toBe('token-input');
    expect(c.secrets).toContain('minimal-token-0123456789');
    await preflight(createClient(c.kubeConfig), 'data-jobs', 'run');
  });

  test('server without token says both are needed', async () => {
    await expect(connect({ server: sandbox.url }, {})).rejects.toThrow(/`server` and `token` go together/);
  });

  test('KUBECONFIG from an earlier step, then ~/.kube/config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'config'), sandbox.kubeconfig({ namespace: 'data-jobs' }));
    const a = await connect({}, { KUBECONFIG: join(dir, 'config') });
    expect(a.source).toBe('kubeconfig-file');
    expect(a.namespace).toBe('data-jobs');
    mkdirSync(join(dir, 'home', '.kube'), { recursive: true });
    writeFileSync(join(dir, 'home', '.kube', 'config'), sandbox.kubeconfig());
    const b = await connect({}, { HOME: join(dir, 'home') });
    expect(b.source).toBe('kubeconfig-file');
  });

  test('an exec credential plugin (as cloud logins write) runs, and its token is masked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exec-'));
    const plugin = join(dir, 'get-token');
    writeFileSync(
      plugin,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-0123456789"}}'\n`,
      { mode: 0o755 },
    );
    sandbox.addUser('exec-token-0123456789', [{ apiGroups: ['*'], namespaces: ['*'], resources: ['*'], verbs: ['*'] }], 'exec-user');
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${sandbox.url}", certificate-authority-data: "${Buffer.from(sandbox.caPem).toString('base64')}"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: "${plugin}", interactiveMode: Never}}}]
contexts: [{name: cloud, context: {cluster: c, user: u, namespace: data-jobs}}]
current-context: cloud
`;
    writeFileSync(join(dir, 'config'), kubeconfig);
    const c = await connect({}, { KUBECONFIG: join(dir, 'config') });
    expect(c.secrets).toContain('exec-token-0123456789');
    await preflight(c.kubeConfig, 'data-jobs', 'run');
  });

  test('an unknown context names the ones there are', async () => {
    await expect(connect({ kubeconfig: sandbox.kubeconfig(), context: 'prod' }, {})).rejects.toThrow(/Context "prod" is not in the kubeconfig; it has: sandbox/);
  });

  test('in-cluster service account credentials when nothing else is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(dir, 'token'), 'minimal-token-0123456789\n');
    writeFileSync(join(dir, 'ca.crt'), sandbox.caPem);
    writeFileSync(join(dir, 'namespace'), 'data-jobs');
    const port = new URL(sandbox.url).port;
    const c = await connect({}, { HOME: '/nonexistent', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, { serviceAccountDir: dir });
    expect(c.source).toBe('in-cluster');
    expect(c.namespace).toBe('data-jobs');
    expect(c.secrets).toContain('minimal-token-0123456789');
    await preflight(c.kubeConfig, 'data-jobs', 'run');
  });

  test('no credentials at all: says every way to give them', async () => {
    await expect(connect({}, { HOME: '/nonexistent' })).rejects.toThrow(/No Kubernetes credentials found.*kubeconfig.*server.*~\/.kube\/config/s);
  });

  test('a kubeconfig input that is not one', async () => {
    await expect(connect({ kubeconfig: 'just: [text' }, {})).rejects.toThrow(/not a valid kubeconfig/);
  });
});

describe('preflight', () => {
  const client = async (token: string) => createClient((await connect({ kubeconfig: sandbox.kubeconfig({ token }) }, {})).kubeConfig, { retry: { baseMs: 10, maxMs: 20 } });

  test('the minimal Role is enough for a run, with or without the concurrency lock; one SelfSubjectRulesReview shows it all', async () => {
    sandbox.counters.reset();
    await preflight(await client('minimal-token-0123456789'), 'data-jobs', 'run');
    expect(sandbox.counters.get('create', 'selfsubjectrulesreviews')).toBe(1);
    expect(sandbox.counters.get('create', 'selfsubjectaccessreviews')).toBe(0);
    await preflight(await client('minimal-token-0123456789'), 'data-jobs', 'run', { concurrency: true });
    expect(MINIMAL_ROLE_YAML).toMatch(/resources: \["pods\/log"\]/);
  });

  test('a missing permission names verb, resource, namespace and the Role rule', async () => {
    const err = await preflight(await client('nolog-token-0123456789'), 'data-jobs', 'run').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/lack 2 permissions/);
    expect(msg).toMatch(/delete pods in namespace "data-jobs"/);
    // deletecollection is optional (a Role from before it was needed): a warning, not an error.
    expect(msg).not.toMatch(/deletecollection/);
    expect(msg).toMatch(/get pods\/log in namespace "data-jobs"/);
    expect(msg).toMatch(/resources: \["pods\/log"\]\n {2}verbs: \["get"\]/);
  });

  test('with the concurrency lock, a missing Lease permission names its API group in the rule', async () => {
    sandbox.addUser('nolease-token-0123456789', [{ apiGroups: [''], namespaces: ['data-jobs'], resources: ['*'], verbs: ['*'] }], 'no-lease');
    const err = await preflight(await client('nolease-token-0123456789'), 'data-jobs', 'run', { concurrency: true }).catch((e: Error) => e);
    const msg = (err as Error).message;
    expect(msg).toMatch(/lack 4 permissions/);
    expect(msg).toMatch(/watch leases in namespace "data-jobs"/);
    expect(msg).toMatch(/apiGroups: \["coordination.k8s.io"\]\n {2}resources: \["leases"\]\n {2}verbs: \["watch"\]/);
    // Without the lock, leases are not needed.
    await preflight(await client('nolease-token-0123456789'), 'data-jobs', 'run');
  });

  test('what the rules review does not show granted is asked with a SelfSubjectAccessReview, which decides', async () => {
    sandbox.counters.reset();
    await preflight(await client('nolog-token-0123456789'), 'data-jobs', 'run').catch(() => {});
    // The three permissions the rules do not show: delete, deletecollection, get pods/log.
    expect(sandbox.counters.get('create', 'selfsubjectrulesreviews')).toBe(1);
    expect(sandbox.counters.get('create', 'selfsubjectaccessreviews')).toBe(3);
  });

  test('a rule grants as RBAC matches: *, */subresource; a rule limited to resourceNames does not', () => {
    const log = { verb: 'get', resource: 'pods', subresource: 'log' };
    expect(ruleGrants({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, log)).toBe(true);
    expect(ruleGrants({ verbs: ['get'], apiGroups: [''], resources: ['*/log'] }, log)).toBe(true);
    expect(ruleGrants({ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, log)).toBe(false);
    expect(ruleGrants({ verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, log)).toBe(true);
    expect(ruleGrants({ verbs: ['get'], apiGroups: ['apps'], resources: ['pods/log'] }, log)).toBe(false);
    expect(ruleGrants({ verbs: ['delete'], apiGroups: [''], resources: ['pods'] }, { verb: 'deletecollection', resource: 'pods' })).toBe(false);
    expect(ruleGrants({ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['one'] }, { verb: 'get', resource: 'pods' })).toBe(false);
    expect(ruleGrants({ verbs: ['get'], apiGroups: ['coordination.k8s.io'], resources: ['leases'] }, { verb: 'get', resource: 'leases', group: 'coordination.k8s.io' })).toBe(true);
  });

  test('dry-run needs only create', async () => {
    await preflight(await client('nolog-token-0123456789'), 'data-jobs', 'dry-run');
  });

  test('a wrong token: 401 in words', async () => {
    await expect(preflight(await client('wrong-token'), 'data-jobs', 'run')).rejects.toThrow(/rejected the credentials \(401 Unauthorized\)/);
  });

  test('a namespace that does not exist', async () => {
    await expect(preflight(await client(sandbox.adminToken), 'nope', 'run')).rejects.toThrow(/Namespace "nope" does not exist.*kubectl create namespace nope/);
  });

  test('an untrusted server certificate: TLS error naming the server and the fix', async () => {
    const c = await connect({ server: sandbox.url, token: sandbox.adminToken }, {});
    await expect(preflight(c.kubeConfig, 'default', 'run')).rejects.toThrow(new RegExp(`TLS handshake with the API server at ${sandbox.url.replace(/[.]/g, '\\.')} failed.*certificate-authority-data`));
  });

  test('an unreachable server', async () => {
    // A port nothing listens on: bind one, then close it.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const c = await connect({ server: `https://127.0.0.1:${port}`, token: 'x' }, {});
    const kc = createClient(c.kubeConfig, { retry: { attempts: 1 } });
    await expect(preflight(kc, 'default', 'run')).rejects.toThrow(/could not be reached.*ECONNREFUSED/);
  });
});
