// Real kubectl against the cluster POD_DAG_TEST_CLUSTER picks (test/helpers/cluster.ts): on the
// sandbox, where kubectl and the sandbox disagree, the sandbox is wrong; on the real control plane
// the same expectations hold, with the kubectl of the same release.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtBinary } from '../../control-plane/index.ts';
import { CLUSTER, itOnSandbox, startTestCluster, type TestCluster } from '../helpers/cluster.ts';

// SANDBOX_KUBECTL picks another binary (e.g. Debian bookworm's kubernetes-client 1.20) to check both.
// On the control plane the default is the kubectl built with it (control-plane/build.sh).
const binary = process.env.SANDBOX_KUBECTL || (CLUSTER.kind === 'control-plane' ? builtBinary('kubectl') : 'kubectl');
const probe = spawnSync(binary, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
const kubectl = probe.status === 0 ? binary : undefined;
if (!kubectl) console.warn(`SKIPPED: kubectl tests of the sandbox: no ${binary} on PATH (Debian: apt-get install kubernetes-client)`);
const minor = kubectl ? Number.parseInt((JSON.parse(probe.stdout) as { clientVersion: { minor: string } }).clientVersion.minor, 10) : 0;
// `kubectl wait --for=jsonpath` arrived in kubectl 1.23.
const hasWaitJsonpath = minor >= 23;
if (kubectl && !hasWaitJsonpath) console.warn(`SKIPPED: kubectl wait --for=jsonpath checks: kubectl 1.${minor} predates them (1.23)`);

let cluster: TestCluster;
let dir: string;
const ns = 'kubectl';

beforeAll(async () => {
  if (!kubectl) return;
  cluster = await startTestCluster({ namespaces: [ns] });
  dir = mkdtempSync(join(tmpdir(), 'sandbox-kubectl-'));
  writeFileSync(join(dir, 'admin'), cluster.kubeconfig(ns));
  writeFileSync(join(dir, 'viewer'), await cluster.userKubeconfig('viewer', [{ namespaces: [ns], verbs: ['get', 'list', 'watch'], resources: ['pods', 'pods/log'] }], ns));
});
afterAll(async () => {
  await cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs kubectl to completion; never throws, returns the exit code and outputs. */
function run(args: string[], opts: { as?: 'admin' | 'viewer'; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(kubectl!, args, { env: { ...process.env, KUBECONFIG: join(dir, opts.as ?? 'admin') }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Starts a long-running kubectl and resolves with its output once `until(stdout)` holds; then stops it. */
function runUntil(args: string[], until: (stdout: string) => boolean, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl!, args, { env: { ...process.env, KUBECONFIG: join(dir, 'admin') } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`kubectl ${args.join(' ')}: condition not met within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (until(out)) {
        clearTimeout(timer);
        child.kill();
        resolve(out);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', () => {
      clearTimeout(timer);
      if (until(out)) resolve(out);
      else reject(new Error(`kubectl ${args.join(' ')} exited before the condition; stdout: ${out}; stderr: ${err}`));
    });
  });
}

const podYaml = (name: string, image: string, extra = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: sandbox-test}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ${image}
${extra}`;

describe.skipIf(!kubectl)('kubectl', () => {
  it('applies and creates with --dry-run=server without storing anything', async () => {
    const applied = await run(['apply', '--dry-run=server', '-f', '-'], { input: podYaml('dry', 'sandbox/succeed') });
    expect(applied).toMatchObject({ code: 0, stdout: 'pod/dry created (server dry run)\n' });
    const created = await run(['create', '--dry-run=server', '-o', 'name', '-f', '-'], { input: podYaml('dry', 'sandbox/succeed') });
    expect(created).toMatchObject({ code: 0, stdout: 'pod/dry\n' });
    const get = await run(['get', 'pod', 'dry']);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toContain('Error from server (NotFound): pods "dry" not found');
  });

  it('reports a server-side validation error as kube-apiserver words it', async () => {
    const res = await run(['create', '-f', '-'], { input: podYaml('bad', '""') });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('The Pod "bad" is invalid: spec.containers[0].image: Required value');
  });

  it('catches a misspelt field: refused under fieldValidation=Strict (kubectl >= 1.25), warned about before', async () => {
    const res = await run(['create', '-f', '-'], { input: podYaml('typo', 'sandbox/succeed', '    imagePullPolicyy: Always\n') });
    expect(res.stderr).toContain('unknown field "spec.containers[0].imagePullPolicyy"');
    if (minor >= 25) {
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain('Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagePullPolicyy"');
    }
  });

  it('applies a pod, waits for Ready and for phase Succeeded, reads it as JSON, follows its log', async () => {
    const applied = await run(['apply', '-f', '-'], { input: podYaml('app', 'sandbox/sleep:1.5', '    env: [{name: SANDBOX_LOG, value: "hello from the sandbox"}]\n') });
    expect(applied).toMatchObject({ code: 0, stdout: 'pod/app created\n' });
    expect(await run(['wait', '--for=condition=Ready', 'pod/app', '--timeout=20s'])).toMatchObject({ code: 0, stdout: 'pod/app condition met\n' });
    const logs = await run(['logs', '-f', 'app']);
    expect(logs).toMatchObject({ code: 0, stdout: 'hello from the sandbox\n' });
    if (hasWaitJsonpath) expect(await run(['wait', "--for=jsonpath={.status.phase}=Succeeded", 'pod/app', '--timeout=20s'])).toMatchObject({ code: 0 });
    else await runUntil(['get', 'pod', 'app', '-w', '-o', 'jsonpath={.status.phase}{"\\n"}'], (s) => s.includes('Succeeded'));
    const json = await run(['get', 'pod', 'app', '-o', 'json']);
    const pod = JSON.parse(json.stdout) as { status: { phase: string; containerStatuses: { state: { terminated: { exitCode: number } } }[] } };
    expect(pod.status.phase).toBe('Succeeded');
    expect(pod.status.containerStatuses[0]!.state.terminated.exitCode).toBe(0);
    const reapplied = await run(['apply', '-f', '-'], { input: podYaml('app', 'sandbox/sleep:1.5', '    env: [{name: SANDBOX_LOG, value: "hello from the sandbox"}]\n') });
    expect(reapplied).toMatchObject({ code: 0, stdout: 'pod/app unchanged\n' });
  });

  itOnSandbox('watches with get -w: each change of the pod is a line, in order (sandbox fault: a kubelet eviction)', async () => {
    const sandbox = cluster.sandbox!;
    await run(['create', '-f', '-'], { input: podYaml('watched', 'sandbox/sleep:forever') });
    expect(await run(['wait', '--for=condition=Ready', 'pod/watched', '--timeout=20s'])).toMatchObject({ code: 0 });
    // kubectl prints the pod, then watches from resourceVersion 0 and skips that watch's first
    // (initial) event: a change made before its watch is open would be lost, in a real cluster too.
    // So the pod is evicted only once the watch request has arrived.
    const watchOpen = sandbox.counters.waitFor('watch', 'pods', sandbox.counters.get('watch', 'pods') + 1);
    void watchOpen.then(() => sandbox.evictPod('watched', ns));
    const out = await runUntil(['get', 'pod', 'watched', '-w', '-o', 'jsonpath={.status.phase}{"\\n"}'], (s) => s.split('\n').includes('Failed'));
    await watchOpen;
    const phases = out.trim().split('\n');
    expect(phases[0]).toBe('Running');
    expect(phases.at(-1)).toBe('Failed');
  });

  it('prints the columns of kubectl get from server-side Tables', async () => {
    await run(['create', '-f', '-'], { input: podYaml('table', 'sandbox/exit:3') });
    await runUntil(['get', 'pod', 'table', '-w', '-o', 'jsonpath={.status.phase}{"\\n"}'], (s) => s.includes('Failed'));
    const res = await run(['get', 'pod', 'table']);
    const [header, row] = res.stdout.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    expect(row!.split(/\s+/).slice(0, 4)).toEqual(['table', '0/1', 'Error', '0']);
  });

  it('deletes with --wait until the pod is gone', async () => {
    await run(['create', '-f', '-'], { input: podYaml('doomed', 'sandbox/sleep:forever') });
    expect(await run(['wait', '--for=condition=Ready', 'pod/doomed', '--timeout=20s'])).toMatchObject({ code: 0 });
    // kubectl 1.34 and later name the namespace.
    const deleted = await run(['delete', 'pod', 'doomed', '--wait=true', '--timeout=20s']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^pod "doomed" deleted( from kubectl namespace)?\n$/);
    const get = await run(['get', 'pod', 'doomed', '--ignore-not-found', '-o', 'name']);
    expect(get).toMatchObject({ code: 0, stdout: '' });
  });

  it('answers auth can-i from the user rules, and refuses with the apiserver 403', async () => {
    expect(await run(['auth', 'can-i', 'list', 'pods'], { as: 'viewer' })).toMatchObject({ code: 0, stdout: 'yes\n' });
    expect(await run(['auth', 'can-i', 'get', 'pods', '--subresource=log'], { as: 'viewer' })).toMatchObject({ code: 0, stdout: 'yes\n' });
    const no = await run(['auth', 'can-i', 'create', 'pods'], { as: 'viewer' });
    expect(no.stdout).toBe('no\n');
    expect(no.code).toBe(1);
    const create = await run(['create', '-f', '-'], { as: 'viewer', input: podYaml('nope', 'sandbox/succeed') });
    expect(create.stderr).toContain('Error from server (Forbidden): error when creating "STDIN": pods is forbidden: User "system:serviceaccount:kubectl:viewer" cannot create resource "pods" in API group "" in the namespace "kubectl"');
  });

  it('creates configmaps and secrets imperatively (protobuf bodies) and gets leases from their group', async () => {
    expect(await run(['create', 'configmap', 'cm1', '--from-literal=a=1'])).toMatchObject({ code: 0, stdout: 'configmap/cm1 created\n' });
    expect(await run(['get', 'configmap', 'cm1', '-o', 'jsonpath={.data.a}'])).toMatchObject({ code: 0, stdout: '1' });
    expect(await run(['create', 'secret', 'generic', 's1', '--from-literal=password=hunter2'])).toMatchObject({ code: 0 });
    expect(await run(['get', 'secret', 's1', '-o', 'jsonpath={.data.password}'])).toMatchObject({ code: 0, stdout: Buffer.from('hunter2').toString('base64') });
    expect(await run(['get', 'leases'])).toMatchObject({ code: 0 });
  });
});
