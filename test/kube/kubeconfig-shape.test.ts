/**
 * A kubeconfig that cannot work is named, with the field and its fix, when the action connects:
 * before any request, so before any pod. Each case was, before, either a message about something
 * else (a certificate file that is not there blamed on a "credential plugin", a context naming a
 * missing cluster reported as "no usable current context"), the HTTP client's words ("You need to
 * define an absolute base url"), or no error at all (a context naming a missing user sent every
 * request without credentials, then reported the 403s as missing permissions).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connect } from '../../src/kube/auth.ts';
import { runStep } from '../harness/action.ts';
import { runCli } from '../../src/cli/commands.ts';
import { readSettings } from '../../src/action/settings.ts';
import { KubeError, describeError } from '../../src/kube/errors.ts';

const PEM = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

/** A kubeconfig with one context `x` → cluster `c`, user `u`, changed by `edit`. */
function kubeconfig(edit: (k: { clusters: { name: string; cluster: Record<string, unknown> }[]; users: { name: string; user: Record<string, unknown> }[]; contexts: { name: string; context: Record<string, unknown> }[] }) => void): string {
  const k = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'x',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': PEM } as Record<string, unknown> }],
    users: [{ name: 'u', user: { token: 'token-0123456789' } as Record<string, unknown> }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } as Record<string, unknown> }],
  };
  edit(k);
  return stringify(k);
}

async function failure(text: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const err = await connect({ kubeconfig: text }, env).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubeError);
  return (err as Error).message;
}

describe('a kubeconfig that cannot work, named when the action connects', () => {
  it('connects with the kubeconfig these cases change', async () => {
    expect((await connect({ kubeconfig: kubeconfig(() => {}) }, {})).source).toBe('kubeconfig-input');
  });

  it('YAML that is no kubeconfig (no clusters, no contexts)', async () => {
    expect(await failure('foo: bar\n')).toMatch(/^The kubeconfig input holds no contexts and no clusters: it is not a kubeconfig.*kubectl config view --raw --minify/);
  });

  it('a context naming a cluster that is not there', async () => {
    expect(await failure(kubeconfig((k) => (k.contexts[0]!.context.cluster = 'nope')))).toBe(
      'The kubeconfig input: context "x" names cluster "nope", which is not among its clusters ("c"). Correct the context\'s cluster, or add the cluster.',
    );
  });

  it('a context naming a user that is not there (instead of going on without credentials)', async () => {
    expect(await failure(kubeconfig((k) => (k.contexts[0]!.context.user = 'nope')))).toMatch(/^The kubeconfig input: context "x" names user "nope", which is not among its users \("u"\); without it every request would go without credentials/);
  });

  it.each([
    ['a host:port without a scheme', '127.0.0.1:6443', '(write "https://127.0.0.1:6443")'],
    ['a name without a scheme', 'my-cluster.example.com:6443', '(write "https://my-cluster.example.com:6443")'],
    ['another scheme', 'ftp://127.0.0.1:6443', 'which is not an https:// URL.'],
  ])('a server that is %s', async (_what, server, hint) => {
    const message = await failure(kubeconfig((k) => (k.clusters[0]!.cluster.server = server)));
    expect(message).toContain(`cluster "c" has server "${server}", which is not an https:// URL`);
    expect(message).toContain(hint);
  });

  it('a plain http:// server: refused unless TLS checks are off, as client-node refuses it (was blamed on a credential plugin)', async () => {
    expect(await failure(kubeconfig((k) => (k.clusters[0]!.cluster.server = 'http://127.0.0.1:8080')))).toMatch(
      /^The kubeconfig input: cluster "c" has server "http:\/\/127\.0\.0\.1:8080", which is plain http:\/\/: the API server is reached over https:\/\/ only/,
    );
    const insecure = kubeconfig((k) => {
      k.clusters[0]!.cluster = { server: 'http://127.0.0.1:8080', 'insecure-skip-tls-verify': true };
    });
    expect((await connect({ kubeconfig: insecure }, {})).source).toBe('kubeconfig-input');
  });

  it.each([
    ['the CA file', (k: Parameters<Parameters<typeof kubeconfig>[0]>[0], f: string) => { delete k.clusters[0]!.cluster['certificate-authority-data']; k.clusters[0]!.cluster['certificate-authority'] = f; }, 'cluster "c" certificate-authority'],
    ['the client certificate file', (k: Parameters<Parameters<typeof kubeconfig>[0]>[0], f: string) => { k.users[0]!.user = { 'client-certificate': f, 'client-key-data': PEM }; }, 'user "u" client-certificate'],
  ])('%s missing (not "the credential plugin failed")', async (_what, edit, field) => {
    const missing = path.join(mkdtempSync(path.join(tmpdir(), 'pod-dag-kc-')), 'nope.crt');
    const message = await failure(kubeconfig((k) => edit(k, missing)));
    expect(message).toBe(`The kubeconfig input: ${field} is ${missing}, which does not exist on this machine. Give the file's content inline instead (${field.split(' ').at(-1)}-data, base64), or write the file in a step before this one.`);
    expect(message).not.toMatch(/plugin/);
  });

  it('certificate-authority-data that is no base64 PEM', async () => {
    expect(await failure(kubeconfig((k) => (k.clusters[0]!.cluster['certificate-authority-data'] = Buffer.from('not a cert').toString('base64'))))).toMatch(
      /^The kubeconfig input: cluster "c" certificate-authority-data is not a base64-encoded PEM certificate/,
    );
  });

  it('names the KUBECONFIG files when the kubeconfig came from there, and each one when none of several exists', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pod-dag-kc-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfig((k) => (k.contexts[0]!.context.cluster = 'nope')));
    const fromFile = await connect({}, { KUBECONFIG: file }).catch((e: unknown) => e as Error);
    expect((fromFile as Error).message).toMatch(new RegExp(`^The kubeconfig \\(${file.replace(/[.]/g, '\\.')}\\): context "x" names cluster "nope"`));
    const none = [path.join(dir, 'a'), path.join(dir, 'b')];
    const noFile = await connect({}, { KUBECONFIG: none.join(path.delimiter) }).catch((e: unknown) => e as Error);
    expect((noFile as Error).message).toBe(`KUBECONFIG lists ${none.join(', ')}, none of which exists. Check the step that should have written them.`);
  });
});

describe('through the action (dist/index.js)', () => {
  it('a kubeconfig input whose context names a missing user fails the step with the fix, before any request', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'pod-dag-kc-'));
    writeFileSync(path.join(cwd, 'dag.yaml'), 'version: 1\nname: kc\ntasks:\n  a: {image: busybox}\n');
    const step = await runStep({ cwd, inputs: { dag: 'dag.yaml', kubeconfig: kubeconfig((k) => (k.contexts[0]!.context.user = 'nope')) }, deadlineMs: 30_000 });
    expect(step.exitCode, step.stdout + step.stderr).toBe(1);
    const error = step.commands.filter((c) => c.command === 'error').at(-1)?.message ?? '';
    expect(error).toMatch(/context "x" names user "nope", which is not among its users \("u"\)/);
    expect(step.stdout + step.stderr).not.toMatch(/internal error|\n\s+at \S+ \(/);
    expect(step.outputs['result']).toBe('failure');
  });
});

describe('pod-dag run without credentials', () => {
  it('says what the terminal needs (KUBECONFIG, ~/.kube/config), not the action inputs it has not got', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'pod-dag-kc-'));
    writeFileSync(path.join(cwd, 'dag.yaml'), 'version: 1\nname: kc\ntasks:\n  a: {image: busybox}\n');
    let stderr = '';
    const code = await runCli(['run', 'dag.yaml'], { cwd, env: { HOME: cwd }, stdout: () => {}, stderr: (t) => (stderr += t), signal: new AbortController().signal });
    expect(code).toBe(2);
    expect(stderr).toBe(
      `pod-dag run: No Kubernetes credentials found: KUBECONFIG is not set and ${path.join(cwd, '.kube', 'config')} does not exist. Point KUBECONFIG at a kubeconfig, or log in to the cluster the way kubectl needs (\`kubectl config current-context\` should name it).\n`,
    );
  });
});

describe('a TLS handshake that fails says what to check, by what failed', () => {
  const tls = (code: string, message: string) => describeError(new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) }), 'check permissions', 'https://127.0.0.1:8080');
  it('a port that does not speak TLS: the URL, not the CA, and none of OpenSSL\'s internals', () => {
    const text = tls('ERR_SSL_WRONG_VERSION_NUMBER', '407D452DEB7F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n');
    expect(text).toBe(
      "Could not check permissions: TLS handshake with the API server at https://127.0.0.1:8080 failed (ERR_SSL_WRONG_VERSION_NUMBER). What answers there does not speak TLS: check that the server URL is the API server's https:// address and port (not a plain-HTTP port, a proxy or a dashboard).",
    );
  });
  it.each([
    ['CERT_HAS_EXPIRED', 'certificate has expired', /has expired \(or the runner's clock is wrong\)/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", /does not name the host of the server URL/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate', /not trusted: give the cluster's CA/],
  ])('%s', (code, message, advice) => {
    expect(tls(code, message)).toMatch(advice);
  });
});

describe('a server URL that is refused is shown without the password it may carry', () => {
  it.each([
    ['with a scheme', 'ftp://admin:s3cret-pw@k8s:6443'],
    ['without one', 'admin:s3cret-pw@k8s:6443'],
  ])('%s', async (_what, server) => {
    const fromKubeconfig = await failure(kubeconfig((k) => (k.clusters[0]!.cluster.server = server)));
    const fromInput = await connect({ server, token: 'token-0123456789' }, {}).catch((e: Error) => e.message);
    let fromSettings = '';
    try {
      readSettings((name) => ({ dag: 'dag.yaml', server, token: 't' })[name] ?? '');
    } catch (err) {
      fromSettings = (err as Error).message;
    }
    for (const message of [fromKubeconfig, fromInput, fromSettings]) {
      expect(message).toMatch(/k8s:6443/);
      expect(message).not.toContain('s3cret-pw');
    }
  });
});
