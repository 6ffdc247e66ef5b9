/**
 * The node agent (sandbox/node-agent) as the kubelet of a real control plane: etcd, kube-apiserver
 * and kube-scheduler built from upstream (control-plane/build.sh). Skipped, with a notice, when the
 * binaries are not built. Every wait is on a watch event or a process's exit, with a deadline.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { builtBinary, startControlPlane, type ControlPlane } from '../../control-plane/index.ts';
import { makeCerts } from '../../sandbox/certs.ts';
import { startNodeAgent, type NodeAgentOptions } from '../../sandbox/node-agent/index.ts';
import { statusOf, waitForLog, watchPod, type SeenEvent } from '../sandbox/helpers.ts';

const built = (['kube-apiserver', 'kube-scheduler', 'etcd', 'kubectl'] as const).every((b) => existsSync(builtBinary(b)));
if (!built) {
  console.warn(`node-agent tests skipped: the control plane is not built (${builtBinary('kube-apiserver')} is missing); run control-plane/build.sh`);
}

const NS = 'kubelet-test';

/** Node "kubelet-a" takes pods with nodeSelector org=a; "kubelet-b" is tainted and small. */
const NODES = [
  { name: 'kubelet-a', labels: { org: 'a' } },
  { name: 'kubelet-b', labels: { org: 'b' }, taints: [{ key: 'dedicated', value: 'b', effect: 'NoSchedule' as const }], allocatable: { cpu: '4', memory: '8Gi', pods: '20' } },
];

describe.skipIf(!built)('the node agent as the kubelet of a real kube-apiserver', () => {
  let cp: ControlPlane;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  /** What the agent reported of its background work (status writes, events, heartbeats, watches). */
  const agentErrors: string[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({
      nodes: NODES, namespaces: [NS], restartBackoffMs: 200,
      log: (line) => {
        if (line.startsWith('node agent')) agentErrors.push(line);
      },
    });
    kc = new k8s.KubeConfig();
    kc.loadFromString(cp.kubeconfig({ namespace: NS }));
    core = kc.makeApiClient(k8s.CoreV1Api);
  }, 180_000);
  afterAll(async () => {
    await cp?.close();
  });

  /** A pod on node kubelet-a running `script` with sh (a local process). */
  function shPod(name: string, script: string, spec: Partial<k8s.V1PodSpec> = {}, container: Partial<k8s.V1Container> = {}): k8s.V1Pod {
    return {
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: { org: 'a' },
        containers: [{ name: 'main', image: 'busybox:1.37', command: ['sh', '-c', script], ...container }],
        ...spec,
      },
    };
  }

  async function run(pod: k8s.V1Pod, done: (p: k8s.V1Pod, type: string) => boolean, timeoutMs = 30_000): Promise<{ pod: k8s.V1Pod; events: SeenEvent[] }> {
    const created = await core.createNamespacedPod({ namespace: NS, body: pod });
    return watchPod(kc, NS, pod.metadata!.name!, done, { fromResourceVersion: created.metadata!.resourceVersion!, timeoutMs });
  }

  const terminal = (pod: k8s.V1Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

  it('registers each node Ready, with its labels, taints, capacity, addresses, kubelet endpoint and Lease, without the not-ready taint', async () => {
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    for (const spec of NODES) {
      const node = await core.readNode({ name: spec.name });
      const ready = node.status!.conditions!.find((c) => c.type === 'Ready')!;
      expect(ready).toMatchObject({ status: 'True', reason: 'KubeletReady' });
      expect(node.metadata!.labels).toMatchObject({ ...spec.labels, 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux' });
      expect(node.spec!.taints ?? []).toEqual(spec.taints ?? []);
      expect(node.status!.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
      expect(node.status!.daemonEndpoints!.kubeletEndpoint!.Port).toBeGreaterThan(0);
      expect(node.status!.nodeInfo!.kubeletVersion).toBe(version.gitVersion);
      const lease = await kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: spec.name, namespace: 'kube-node-lease' });
      expect(lease.spec!.holderIdentity).toBe(spec.name);
      expect(lease.metadata!.ownerReferences![0]).toMatchObject({ kind: 'Node', name: spec.name, uid: node.metadata!.uid });
    }
    const b = await core.readNode({ name: 'kubelet-b' });
    expect(b.status!.allocatable).toMatchObject({ cpu: '4', memory: '8Gi', pods: '20' });
    expect(b.status!.capacity).toMatchObject({ cpu: '4', memory: '8Gi', pods: '20' });
  });

  it('runs a pod the scheduler binds as a local process and reports it as a kubelet does: states, conditions, termination message, events', async () => {
    const { pod, events } = await run(
      shPod('hello', 'echo "hello from $HOSTNAME"; printf "answer=42\\n" > "$OUT"', {}, { env: [{ name: 'OUT', value: '/dev/termination-log' }] }),
      terminal,
    );
    expect(pod.spec!.nodeName).toBe('kubelet-a');
    expect(pod.status!.phase).toBe('Succeeded');
    expect(pod.status!.hostIP).toBe('127.0.0.1');
    expect(pod.status!.podIP).toMatch(/^10\.244\.0\.\d+$/);
    expect(pod.status!.startTime).toBeDefined();
    const cs = pod.status!.containerStatuses![0]!;
    expect(cs.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'answer=42\n' });
    expect(cs.containerID).toMatch(/^containerd:\/\//);
    const conditions = Object.fromEntries(pod.status!.conditions!.map((c) => [c.type, c.status]));
    expect(conditions).toEqual({ PodScheduled: 'True', PodReadyToStartContainers: 'False', Initialized: 'True', Ready: 'False', ContainersReady: 'False' });
    // Every transition is its own write: the watch saw the container running before it ended.
    expect(events.some((e) => e.object.status?.containerStatuses?.[0]?.state?.running)).toBe(true);

    const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.uid=${pod.metadata!.uid}` });
    const reasons = list.items.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Scheduled', 'Pulled', 'Created', 'Started']));
    const started = list.items.find((e) => e.reason === 'Started')!;
    expect(started).toMatchObject({ type: 'Normal', source: { component: 'kubelet', host: 'kubelet-a' }, involvedObject: { fieldPath: 'spec.containers{main}' } });
  });

  it('places pods by the real scheduler: a pod tolerating the taint lands on the tainted node; exit codes and scripted behaviours', async () => {
    const tolerating = await run({
      metadata: { name: 'exit-3' },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: { org: 'b' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'b', effect: 'NoSchedule' }],
        containers: [{ name: 'main', image: 'sandbox/exit:3' }],
      },
    }, terminal);
    expect(tolerating.pod.spec!.nodeName).toBe('kubelet-b');
    expect(tolerating.pod.status!.phase).toBe('Failed');
    expect(tolerating.pod.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });

    const oom = await run({ metadata: { name: 'oom' }, spec: { restartPolicy: 'Never', nodeSelector: { org: 'a' }, containers: [{ name: 'main', image: 'sandbox/oomkilled' }] } }, terminal);
    expect(oom.pod.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });

    const evicted = await run({ metadata: { name: 'evicted' }, spec: { restartPolicy: 'Never', nodeSelector: { org: 'a' }, containers: [{ name: 'main', image: 'sandbox/evicted' }] } }, terminal);
    expect(evicted.pod.status).toMatchObject({ phase: 'Failed', reason: 'Evicted' });
    expect(evicted.pod.status!.conditions).toContainEqual(expect.objectContaining({ type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet' }));

    const init = await run({
      metadata: { name: 'init' },
      spec: {
        restartPolicy: 'Never', nodeSelector: { org: 'a' },
        initContainers: [{ name: 'setup', image: 'sandbox/succeed' }],
        containers: [{ name: 'main', image: 'sandbox/succeed' }],
      },
    }, terminal);
    expect(init.pod.status!.phase).toBe('Succeeded');
    expect(init.pod.status!.initContainerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    // The app container waited for the init container: PodInitializing first.
    expect(init.events.some((e) => e.object.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'PodInitializing')).toBe(true);

    const pull = await run(
      { metadata: { name: 'pull' }, spec: { restartPolicy: 'Never', nodeSelector: { org: 'a' }, containers: [{ name: 'main', image: 'sandbox/image-pull-error' }] } },
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
    );
    expect(pull.events.some((e) => e.object.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull')).toBe(true);
    expect(pull.pod.status!.phase).toBe('Pending');
    // The kubelet API's answer for a container that never started, through the API server's proxy.
    const err = statusOf(await core.readNamespacedPodLog({ name: 'pull', namespace: NS }).then(() => undefined, (e: unknown) => e));
    expect(err.code).toBe(400);
    expect(err.message ?? JSON.stringify(err)).toMatch(/container "main" in pod "pull" is waiting to start: trying and failing to pull image/);
  });

  it('restarts under OnFailure with CrashLoopBackOff, and serves the previous instance\'s log', async () => {
    const { pod } = await run(
      shPod('crash', 'echo "attempt"; exit 1', { restartPolicy: 'OnFailure' }),
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 && Boolean(p.status?.containerStatuses?.[0]?.lastState?.terminated),
    );
    expect(pod.status!.containerStatuses![0]!.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    const previous = await core.readNamespacedPodLog({ name: 'crash', namespace: NS, previous: true });
    expect(previous).toBe('attempt\n');
    await core.deleteNamespacedPod({ name: 'crash', namespace: NS, gracePeriodSeconds: 0 });
  });

  it('serves logs through the API server\'s pods/log proxy: kubectl logs -f follows to the container\'s end; timestamps, tailLines, limitBytes, sinceTime', async () => {
    const created = await core.createNamespacedPod({ namespace: NS, body: shPod('logs', 'for i in 1 2 3; do echo "line $i"; sleep 0.3; done') });
    await watchPod(kc, NS, 'logs', (p) => Boolean(p.status?.containerStatuses?.[0]?.state?.running), { fromResourceVersion: created.metadata!.resourceVersion! });
    const kubeconfigFile = `${cp.dir}/kubelet-test.kubeconfig`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(kubeconfigFile, cp.kubeconfig({ namespace: NS }), { mode: 0o600 });
    // kubectl logs -f returns when the kubelet ends the stream, which it does when the container exits.
    const followed = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(builtBinary('kubectl'), ['--kubeconfig', kubeconfigFile, 'logs', '-f', 'logs'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`kubectl logs -f did not end within 20 s; it printed: ${out}`));
      }, 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    expect(followed).toEqual({ code: 0, out: 'line 1\nline 2\nline 3\n' });
    // The stream ends with the container; the status that says so reaches the API server after
    // (a kubelet's status manager too): the pod then succeeds.
    await watchPod(kc, NS, 'logs', (p) => p.status?.phase === 'Succeeded', { fromResourceVersion: created.metadata!.resourceVersion! });

    const stamped = await core.readNamespacedPodLog({ name: 'logs', namespace: NS, timestamps: true });
    const lines = stamped.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const [i, line] of lines.entries()) expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{1,9})?Z line ${i + 1}$`));
    expect(await core.readNamespacedPodLog({ name: 'logs', namespace: NS, tailLines: 1 })).toBe('line 3\n');
    expect(await core.readNamespacedPodLog({ name: 'logs', namespace: NS, limitBytes: 3 })).toBe('lin');
    // sinceTime has second precision in the API (metav1.Time); line 1 may share line 2's second, never line 3's.
    const kubectl = async (...args: string[]): Promise<string> =>
      (await promisify(execFile)(builtBinary('kubectl'), ['--kubeconfig', kubeconfigFile, 'logs', 'logs', ...args])).stdout;
    const since = lines[2]!.split(' ')[0]!;
    expect((await kubectl(`--since-time=${since}`)).endsWith('line 3\n')).toBe(true);
    // A time after the last line: nothing.
    expect(await kubectl(`--since-time=${new Date(Date.parse(since) + 2000).toISOString()}`)).toBe('');
    expect(await kubectl('--tail=2')).toBe('line 2\nline 3\n');
  });

  it('honours graceful deletion: SIGTERM, the last status, then the kubelet deletes the pod (grace 0, uid precondition)', async () => {
    const created = await core.createNamespacedPod({
      namespace: NS,
      body: shPod('graceful', 'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.1; done'),
    });
    await watchPod(kc, NS, 'graceful', (p) => Boolean(p.status?.containerStatuses?.[0]?.state?.running), { fromResourceVersion: created.metadata!.resourceVersion! });
    // "ready" comes after the trap is set: a SIGTERM before it would kill the shell outright.
    await waitForLog(kc, NS, 'graceful', 'ready\n');
    const deleting = await core.deleteNamespacedPod({ name: 'graceful', namespace: NS, gracePeriodSeconds: 30 }) as unknown as k8s.V1Pod;
    const { events } = await watchPod(kc, NS, 'graceful', (_p, type) => type === 'DELETED', { fromResourceVersion: created.metadata!.resourceVersion!, timeoutMs: 20_000 });
    const marked = events.findIndex((e) => e.object.metadata?.deletionTimestamp);
    const last = events.findLastIndex((e) => e.type === 'MODIFIED' && e.object.status?.containerStatuses?.[0]?.state?.terminated);
    expect(marked).toBeGreaterThanOrEqual(0);
    expect(last).toBeGreaterThan(marked);
    expect(events[last]!.object.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 7 });
    expect(events.at(-1)!.type).toBe('DELETED');
    expect(deleting.metadata!.deletionGracePeriodSeconds).toBe(30);
    const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.uid=${created.metadata!.uid}` });
    expect(list.items.map((e) => e.reason)).toContain('Killing');
  });

  it('kills a process that ignores SIGTERM when its grace period ends (exit code 137)', async () => {
    const created = await core.createNamespacedPod({
      namespace: NS,
      body: shPod('stubborn', 'trap "" TERM; echo ready; while true; do sleep 0.1; done'),
    });
    await watchPod(kc, NS, 'stubborn', (p) => Boolean(p.status?.containerStatuses?.[0]?.state?.running), { fromResourceVersion: created.metadata!.resourceVersion! });
    // "ready" comes after the trap is set: a SIGTERM before it would kill the shell outright.
    await waitForLog(kc, NS, 'stubborn', 'ready\n');
    await core.deleteNamespacedPod({ name: 'stubborn', namespace: NS, gracePeriodSeconds: 1 });
    const { events } = await watchPod(kc, NS, 'stubborn', (_p, type) => type === 'DELETED', { fromResourceVersion: created.metadata!.resourceVersion!, timeoutMs: 20_000 });
    const terminated = events.map((e) => e.object.status?.containerStatuses?.[0]?.state?.terminated).filter(Boolean);
    expect(terminated.at(-1)).toMatchObject({ exitCode: 137 });
  });

  it('takes env from a secret the pod refers to, and reports CreateContainerConfigError for a missing one until it exists', async () => {
    const pod = shPod('secret-env', 'printf "%s" "$PASSWORD" > /dev/termination-log', {}, {
      env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } }],
    });
    await run(pod, (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError');
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'creds' }, stringData: { password: 's3cret' } } });
    const { pod: done } = await watchPod(kc, NS, 'secret-env', terminal, { timeoutMs: 30_000 });
    expect(done.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 0, message: 's3cret' });
  });

  it('a restarted agent reports the containers of a Never pod its predecessor ran as lost (ContainerStatusUnknown), and does not run them again', async () => {
    const certOf = (kubeconfig: string): { certPem: string; keyPem: string } => {
      const user = (parseYaml(kubeconfig) as { users: { user: Record<string, string> }[] }).users[0]!.user;
      return { certPem: Buffer.from(user['client-certificate-data']!, 'base64').toString(), keyPem: Buffer.from(user['client-key-data']!, 'base64').toString() };
    };
    const serving = makeCerts();
    const options: NodeAgentOptions = {
      server: cp.url,
      caPem: cp.caPem,
      nodeCredentials: (node) => certOf(cp.certificateKubeconfig(`system:node:${node}`, ['system:nodes'])),
      controller: certOf(cp.adminKubeconfig),
      kubeletServing: { certPem: serving.certPem, keyPem: serving.keyPem, clientCaPem: cp.caPem },
      nodes: [{ name: 'kubelet-c', labels: { org: 'c' } }],
      onError: (err) => agentErrors.push(`node agent (kubelet-c): ${err.message}`),
    };
    const first = await startNodeAgent(options);
    const created = await core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'orphan' }, spec: { restartPolicy: 'Never', nodeSelector: { org: 'c' }, containers: [{ name: 'main', image: 'sandbox/sleep:forever' }] } },
    });
    await watchPod(kc, NS, 'orphan', (p) => Boolean(p.status?.containerStatuses?.[0]?.state?.running), { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(first.containerStarts('orphan')).toBe(1);
    await first.close();
    const second = await startNodeAgent(options);
    try {
      const { pod } = await watchPod(kc, NS, 'orphan', terminal);
      expect(pod.status!.phase).toBe('Failed');
      expect(pod.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 137, reason: 'ContainerStatusUnknown' });
      expect(second.containerStarts()).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('acted as each node above: the audit log shows the requests made by system:node:<name>, none refused', () => {
    const seen = new Map<string, Set<string>>();
    const refused: string[] = [];
    for (const line of readFileSync(cp.auditLogPath, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { stage: string; verb: string; user: { username: string; groups?: string[] }; objectRef?: { resource?: string; subresource?: string }; responseStatus?: { code?: number } };
      // A watch is logged when its response starts (it completes only when it ends).
      if ((e.stage !== 'ResponseComplete' && e.stage !== 'ResponseStarted') || !e.user.username.startsWith('system:node:') || !e.objectRef) continue;
      expect(e.user.groups).toContain('system:nodes');
      const what = `${e.verb} ${e.objectRef.resource}${e.objectRef.subresource ? `/${e.objectRef.subresource}` : ''}`;
      if (!seen.has(e.user.username)) seen.set(e.user.username, new Set());
      seen.get(e.user.username)!.add(what);
      if (e.responseStatus?.code === 403) refused.push(`${e.user.username}: ${what}`);
    }
    expect(refused).toEqual([]);
    for (const node of ['kubelet-a', 'kubelet-b']) {
      expect([...seen.get(`system:node:${node}`) ?? []]).toEqual(expect.arrayContaining(['create nodes', 'patch nodes/status', 'create leases', 'list pods', 'watch pods', 'patch pods/status', 'create events']));
    }
    // The pods above that ran on kubelet-a: deleted by their node, their secret read by it.
    expect([...seen.get('system:node:kubelet-a')!]).toEqual(expect.arrayContaining(['delete pods', 'get secrets']));
  });

  it('wrote every status, event and delete above without an error from the API server', () => {
    expect(agentErrors).toEqual([]);
  });
});
