/**
 * A namespace that is not the one meant (a typo), before any pod: credentials of a namespaced Role
 * (the README's minimal one) may not read namespaces, so the action cannot tell a typo from a
 * missing Role; the message says both. Credentials that may read namespaces are told it does not
 * exist, not that they lack permissions. Against the sandbox over HTTPS.
 */
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIMAL_ROLE_YAML, connect, preflight } from '../../src/kube/auth.ts';
import { createClient } from '../../src/kube/client.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: ['default', 'data-jobs'] });
  const minimal = (parseAllDocuments(MINIMAL_ROLE_YAML)[0]!.toJS() as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules;
  sandbox.addUser('minimal-token-0123456789', minimal.map((r) => ({ ...r, namespaces: ['data-jobs'] })), 'system:serviceaccount:data-jobs:pod-dag-action');
});
afterAll(() => sandbox.close());

const client = async (token: string) => createClient((await connect({ kubeconfig: sandbox.kubeconfig({ token }) }, {})).kubeConfig, { retry: { baseMs: 10, maxMs: 20 } });

describe('a namespace that is not the one meant', () => {
  it('with the minimal Role: the missing rules, and that a namespace they grant nothing in may be the wrong one', async () => {
    const err = await preflight(await client('minimal-token-0123456789'), 'data-jbos', 'run').catch((e: Error) => e);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^The Kubernetes credentials lack 11 permissions this run needs/);
    expect(msg).toMatch(/They grant nothing at all in namespace "data-jbos": if it is not the namespace meant, or does not exist \(they may not read namespaces, so the action cannot tell\), set `namespace` in the spec or the action's input\.$/);
  });

  it('not said when some permissions are granted there', async () => {
    sandbox.addUser('half-token-0123456789', [{ apiGroups: [''], namespaces: ['data-jobs'], resources: ['pods'], verbs: ['*'] }], 'half');
    const msg = ((await preflight(await client('half-token-0123456789'), 'data-jobs', 'run').catch((e: Error) => e)) as Error).message;
    expect(msg).toMatch(/lack 6 permissions/);
    expect(msg).not.toMatch(/grant nothing at all/);
  });

  it('credentials that may read namespaces are told it does not exist', async () => {
    const err = await preflight(await client(sandbox.adminToken), 'data-jbos', 'run').catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^Namespace "data-jbos" does not exist on https:\/\/127\.0\.0\.1:\d+\. Create it \(kubectl create namespace data-jbos\)/);
  });
});
