// The node agent: pods run as real processes or scripted behaviours, with status as a kubelet reports it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { clients, failure, finished, podManifest, waitForLog, watchPod, type Clients } from './helpers.ts';

let sandbox: Sandbox;
let admin: Clients;
const ns = 'agent';
const node = process.execPath;

beforeAll(async () => {
  sandbox = await startSandbox({
    namespaces: [ns],
    nodes: [
      { name: 'plain-1', labels: { pool: 'default' } },
      { name: 'gpu-1', labels: { pool: 'gpu' }, taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }], allocatable: { cpu: '4', memory: '8Gi' } },
    ],
  });
  admin = clients(sandbox);
});
afterAll(async () => {
  await sandbox?.close();
});

async function run(name: string, container: Parameters<typeof podManifest>[1], spec: Parameters<typeof podManifest>[2] = {}) {
  const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest(name, container, spec) });
  return watchPod(admin.kc, ns, name, finished, { fromResourceVersion: created.metadata!.resourceVersion! });
}

describe('real processes', () => {
  it('runs command and args without a shell, with env from secrets and configmaps, and reads the termination message', async () => {
    sandbox.createSecret(ns, 'creds', { password: 's3cr3t' });
    sandbox.createConfigMap(ns, 'settings', { MODE: 'fast', 'not valid name': 'skipped' });
    const script = `
      const fs = require('fs');
      console.log('argv', JSON.stringify(process.argv.slice(1)));
      console.error('to stderr');
      console.log('env', process.env.PASSWORD, process.env.MODE, process.env.GREETING, process.env.POD);
      fs.writeFileSync(process.env.OUT, 'rows=42\\n');`;
    const { pod } = await run('proc-ok', {
      image: 'local/node:24',
      command: [node, '-e', script],
      args: ['$(GREETING)', "it's", '$$(LITERAL)', '; echo not a shell'],
      env: [
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
        { name: 'GREETING', value: 'hi-$(MODE)' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'OUT', value: '/dev/termination-log' },
      ],
      envFrom: [{ configMapRef: { name: 'settings' } }],
    });
    expect(pod.status?.phase).toBe('Succeeded');
    const t = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(t).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'rows=42\n' });
    expect(t?.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    const log = await admin.core.readNamespacedPodLog({ name: 'proc-ok', namespace: ns });
    expect(log).toContain(`argv ["hi-fast","it's","$(LITERAL)","; echo not a shell"]`);
    expect(log).toContain('to stderr\n');
    expect(log).toContain('env s3cr3t fast hi-fast proc-ok\n');
    expect(sandbox.containerStarts('proc-ok')).toBe(1);
  });

  it('reports a non-zero exit as Error with the exit code, and a signal as 128+n', async () => {
    const { pod } = await run('proc-exit', { image: 'local/node', command: [node, '-e', 'process.exit(7)'] });
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 7, reason: 'Error' });
    const killed = await run('proc-signal', { image: 'local/node', command: [node, '-e', 'process.kill(process.pid, "SIGKILL")'] });
    expect(killed.pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
  });

  it('reports a command that cannot be found as StartError with exit code 128, as containerd does', async () => {
    const { pod } = await run('proc-missing', { image: 'local/none', command: ['no-such-binary-xyz', '--flag'] });
    expect(pod.status?.phase).toBe('Failed');
    const t = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(t).toMatchObject({ exitCode: 128, reason: 'StartError' });
    expect(t?.message).toContain('exec: "no-such-binary-xyz": executable file not found in $PATH');
  });

  it('falls back to the log tail for the message with FallbackToLogsOnError', async () => {
    const { pod } = await run('proc-fallback', { image: 'local/node', command: [node, '-e', 'console.log("boom: disk full"); process.exit(2)'], terminationMessagePolicy: 'FallbackToLogsOnError' });
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe('boom: disk full\n');
  });

  it('kills the process at activeDeadlineSeconds and fails the pod with DeadlineExceeded', async () => {
    const { pod } = await run('proc-deadline', { image: 'local/node', command: [node, '-e', 'setInterval(() => {}, 1000)'] }, { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 1 });
    expect(pod.status).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(143);
  });

  it('deletes gracefully: deletionTimestamp, SIGTERM, SIGKILL after the grace period, then DELETED', async () => {
    const ignoresTerm = 'process.on("SIGTERM", () => console.log("got SIGTERM")); console.log("ready"); setInterval(() => {}, 1000)';
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('proc-delete', { image: 'local/node', command: [node, '-e', ignoresTerm] }, { terminationGracePeriodSeconds: 1 }) });
    await watchPod(admin.kc, ns, 'proc-delete', (p) => p.status?.phase === 'Running', { fromResourceVersion: created.metadata!.resourceVersion! });
    // Running is reported at exec, before the script installs its handler: wait until it says so.
    await waitForLog(admin.kc, ns, 'proc-delete', 'ready\n');
    const deleted = await admin.core.deleteNamespacedPod({ name: 'proc-delete', namespace: ns });
    expect(deleted.metadata?.deletionTimestamp).toBeTruthy();
    expect(deleted.metadata?.deletionGracePeriodSeconds).toBe(1);
    const { events } = await watchPod(admin.kc, ns, 'proc-delete', (_p, type) => type === 'DELETED', { fromResourceVersion: deleted.metadata!.resourceVersion! });
    const last = events.at(-2)?.object;
    expect(last?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(137);
    expect(events.at(-1)?.type).toBe('DELETED');
    expect(await failure(admin.core.readNamespacedPod({ name: 'proc-delete', namespace: ns }))).toMatchObject({ code: 404 });
  });
});

describe('images, init containers and restarts', () => {
  it('takes PATH, working directory and env from the images option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-image-'));
    try {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(node, join(bin, 'node-in-image'));
      const other = await startSandbox({ namespaces: [ns], images: { 'local/tool:1': { path: [bin], workingDir: dir, env: { FROM_IMAGE: 'yes' } } } });
      try {
        const c = clients(other);
        const body = podManifest('image-env', { image: 'local/tool:1', command: ['node-in-image', '-e', 'console.log(process.cwd(), process.env.FROM_IMAGE, process.env.PATH)'] });
        const created = await c.core.createNamespacedPod({ namespace: ns, body });
        const { pod } = await watchPod(c.kc, ns, 'image-env', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
        expect(pod.status?.phase).toBe('Succeeded');
        expect(await c.core.readNamespacedPodLog({ name: 'image-env', namespace: ns })).toBe(`${dir} yes ${bin}\n`);
      } finally {
        await other.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the image\'s ENTRYPOINT with the container\'s args (or the image\'s CMD), and an absolute command from the image\'s root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-image-'));
    try {
      mkdirSync(join(dir, 'opt', 'bin'), { recursive: true });
      symlinkSync(node, join(dir, 'opt', 'bin', 'node'));
      const say = ['-e', 'console.log(process.argv.slice(1).join(" "))'];
      const other = await startSandbox({ namespaces: [ns], images: { 'local/entry:1': { entrypoint: [node, ...say], cmd: ['from', 'cmd'], root: dir } } });
      try {
        const c = clients(other);
        const logOf = async (name: string, container: Parameters<typeof podManifest>[1]): Promise<string> => {
          const created = await c.core.createNamespacedPod({ namespace: ns, body: podManifest(name, { image: 'local/entry:1', ...container }) });
          const { pod } = await watchPod(c.kc, ns, name, finished, { fromResourceVersion: created.metadata!.resourceVersion! });
          expect(pod.status?.phase, name).toBe('Succeeded');
          return c.core.readNamespacedPodLog({ name, namespace: ns });
        };
        expect(await logOf('entry-cmd', {})).toBe('from cmd\n');
        expect(await logOf('entry-args', { args: ['from', 'args'] })).toBe('from args\n');
        // A command replaces both; /opt/bin/node exists only under the image's root.
        expect(await logOf('entry-command', { command: ['/opt/bin/node', ...say], args: ['own'] })).toBe('own\n');
      } finally {
        await other.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs init containers first, in order, then the main container', async () => {
    const created = await admin.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'with-init' }, spec: { restartPolicy: 'Never', initContainers: [{ name: 'one', image: 'sandbox/succeed' }, { name: 'two', image: 'sandbox/sleep:0.1' }], containers: [{ name: 'main', image: 'sandbox/succeed' }] } },
    });
    const { pod, events } = await watchPod(admin.kc, ns, 'with-init', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(pod.status?.phase).toBe('Succeeded');
    const initializing = events.find((e) => e.object.status?.conditions?.some((c) => c.type === 'Initialized' && c.status === 'False'));
    expect(initializing?.object.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('PodInitializing');
    expect(pod.status?.initContainerStatuses?.map((c) => c.state?.terminated?.reason)).toEqual(['Completed', 'Completed']);
  });

  it('restarts a failing container under OnFailure: restartCount, lastState, CrashLoopBackOff', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('crashloop', { image: 'sandbox/exit:1' }, { restartPolicy: 'OnFailure' }) });
    const { pod, events } = await watchPod(admin.kc, ns, 'crashloop', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(events.some((e) => e.object.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff')).toBe(true);
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(pod.status?.phase).toBe('Running');
    expect(sandbox.containerStarts('crashloop')).toBeGreaterThanOrEqual(2);
    await admin.core.deleteNamespacedPod({ name: 'crashloop', namespace: ns, gracePeriodSeconds: 0 });
  });
});

describe('configuration errors', () => {
  it('deletes a pod stuck in CreateContainerConfigError after one last status', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('stuck', { envFrom: [{ secretRef: { name: 'never-there' } }] }) });
    await watchPod(admin.kc, ns, 'stuck', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError', { fromResourceVersion: created.metadata!.resourceVersion! });
    const deleted = await admin.core.deleteNamespacedPod({ name: 'stuck', namespace: ns });
    expect(deleted.metadata?.deletionTimestamp).toBeTruthy();
    const { events } = await watchPod(admin.kc, ns, 'stuck', (_p, type) => type === 'DELETED', { fromResourceVersion: deleted.metadata!.resourceVersion! });
    expect(events.at(-1)?.type).toBe('DELETED');
    expect(sandbox.containerStarts('stuck')).toBe(0);
  });

  it('keeps a pod with a missing secret Pending in CreateContainerConfigError, and starts it once the secret exists', async () => {
    const created = await admin.core.createNamespacedPod({
      namespace: ns,
      body: podManifest('needs-secret', { env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'late', key: 'password' } } }] }),
    });
    const { pod } = await watchPod(admin.kc, ns, 'needs-secret', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError', { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe('secret "late" not found');
    sandbox.createSecret(ns, 'late', { other: 'x' });
    const missingKey = await watchPod(admin.kc, ns, 'needs-secret', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.message !== 'secret "late" not found', { fromResourceVersion: pod.metadata!.resourceVersion! });
    expect(missingKey.pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe(`couldn't find key password in Secret ${ns}/late`);
    sandbox.createSecret(ns, 'late', { password: 'now' });
    const done = await watchPod(admin.kc, ns, 'needs-secret', finished, { fromResourceVersion: missingKey.pod.metadata!.resourceVersion! });
    expect(done.pod.status?.phase).toBe('Succeeded');
  });

  it('reports ErrImagePull, then ImagePullBackOff with the kubelet message', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('pull', { image: 'sandbox/image-pull-error' }) });
    const { events } = await watchPod(admin.kc, ns, 'pull', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff', { fromResourceVersion: created.metadata!.resourceVersion! });
    const reasons = events.map((e) => e.object.status?.containerStatuses?.[0]?.state?.waiting?.reason).filter(Boolean);
    expect(reasons).toContain('ErrImagePull');
    const waiting = events.at(-1)?.object.status?.containerStatuses?.[0]?.state?.waiting;
    expect(waiting?.message).toMatch(/^Back-off pulling image "sandbox\/image-pull-error": ErrImagePull: rpc error: code = NotFound/);
    expect(events.at(-1)?.object.status?.phase).toBe('Pending');
  });
});

describe('scripted images', () => {
  it('exit:N fails with that code; oomkilled reports OOMKilled 137; succeed writes SANDBOX_TERMINATION_MESSAGE', async () => {
    const [exit, oom, ok] = await Promise.all([
      run('s-exit', { image: 'sandbox/exit:42' }),
      run('s-oom', { image: 'sandbox/oomkilled' }),
      run('s-ok', { image: 'sandbox/succeed', env: [{ name: 'SANDBOX_TERMINATION_MESSAGE', value: 'a=1\nb=2\n' }, { name: 'SANDBOX_LOG', value: 'line one\nline two' }] }),
    ]);
    expect(exit.pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 42, reason: 'Error' });
    expect(oom.pod.status?.phase).toBe('Failed');
    expect(oom.pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
    expect(ok.pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'a=1\nb=2\n' });
    expect(await admin.core.readNamespacedPodLog({ name: 's-ok', namespace: ns })).toBe('line one\nline two\n');
  });

  it('evicted fails the pod with reason Evicted and a DisruptionTarget condition', async () => {
    const { pod } = await run('s-evicted', { image: 'sandbox/evicted' });
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.reason).toBe('Evicted');
    expect(pod.status?.message).toMatch(/^The node was low on resource: memory/);
    expect(pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'TerminationByKubelet' });
  });

  it('evictPod evicts a running pod as node pressure would', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('s-victim', { image: 'sandbox/sleep:forever' }) });
    await watchPod(admin.kc, ns, 's-victim', (p) => p.status?.phase === 'Running', { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(sandbox.evictPod('s-victim', ns)).toBe(true);
    const { pod } = await watchPod(admin.kc, ns, 's-victim', finished);
    expect(pod.status).toMatchObject({ phase: 'Failed', reason: 'Evicted' });
  });

  it('sleep:<seconds> runs, is Ready, then succeeds', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('s-sleep', { image: 'sandbox/sleep:0.2' }) });
    const { pod, events } = await watchPod(admin.kc, ns, 's-sleep', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
    const running = events.find((e) => e.object.status?.phase === 'Running')?.object;
    expect(running?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(running?.status?.containerStatuses?.[0]).toMatchObject({ ready: true, started: true });
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });
});

describe('scheduling', () => {
  it('leaves a pod that fits no node Pending with the scheduler message', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('unsched', {}, { nodeSelector: { pool: 'gpu' } }) });
    const { pod } = await watchPod(admin.kc, ns, 'unsched', (p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled') ?? false, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(pod.status?.conditions?.[0]).toMatchObject({
      type: 'PodScheduled', status: 'False', reason: 'Unschedulable',
      message: "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {gpu: true}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    });
  });

  it('schedules onto a tainted node with a toleration and reports Insufficient cpu beyond allocatable', async () => {
    const tolerations = [{ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }];
    const { pod } = await run('gpu-ok', {}, { nodeSelector: { pool: 'gpu' }, tolerations });
    expect(pod.spec?.nodeName).toBe('gpu-1');
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('gpu-big', { resources: { requests: { cpu: '8' } } }, { nodeSelector: { pool: 'gpu' }, tolerations }) });
    const big = await watchPod(admin.kc, ns, 'gpu-big', (p) => p.status?.conditions?.some((c) => c.reason === 'Unschedulable') ?? false, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(big.pod.status?.conditions?.[0]?.message).toBe("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.");
  });

  it('counts extended resources (nvidia.com/gpu, asked in limits) against the node\'s allocatable, as kube-scheduler does', async () => {
    const tolerations = [{ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }];
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('gpu-none', { resources: { limits: { 'nvidia.com/gpu': '1' } } }, { nodeSelector: { pool: 'gpu' }, tolerations }) });
    const { pod } = await watchPod(admin.kc, ns, 'gpu-none', (p) => p.status?.conditions?.some((c) => c.reason === 'Unschedulable') ?? false, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(pod.status?.conditions?.[0]?.message).toBe("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.");
  });

  it('never-scheduled stays Pending', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('never', { image: 'sandbox/never-scheduled' }) });
    const { pod } = await watchPod(admin.kc, ns, 'never', (p) => p.status?.conditions?.some((c) => c.reason === 'Unschedulable') ?? false, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
  });
});
