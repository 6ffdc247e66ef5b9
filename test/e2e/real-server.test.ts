/**
 * What only the real control plane can settle (POD_DAG_TEST_CLUSTER=control-plane; skipped on the
 * sandbox, which has no PodSecurity, no ResourceQuota admission and no kube-scheduler): dry-run
 * meets real admission (and a run its refusals: which are retried, what each says to do), an
 * unschedulable pod quotes the real scheduler, a pod deleted by someone
 * else is an infrastructure failure, and the log follower reads kube-apiserver's pods/log proxy
 * (to the node agent's kubelet API) to the end. Through dist/index.js.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER, startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { runStep, type StepResult } from '../harness/action.ts';

const RESTRICTED = 'restricted-ns';
const QUOTA = 'quota-ns';
const CPU_QUOTA = 'cpu-quota-ns';
const LIMITED = 'limit-range-ns';
const PLAIN = 'real-server';

let cluster: TestCluster;
let core: k8s.CoreV1Api;
let runs = 0;

/** Runs the action on a spec written to a fresh workspace. */
async function step(yaml: string, inputs: Record<string, string>, onLine?: (line: string) => void): Promise<StepResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-real-server-'));
  await writeFile(path.join(dir, 'dag.yaml'), yaml);
  return runStep({
    inputs: { dag: 'dag.yaml', kubeconfig: cluster.kubeconfig(), 'keep-pods': 'never', ...inputs },
    env: { GITHUB_RUN_ID: `72000${++runs}` },
    cwd: dir,
    ...(onLine ? { onLine } : {}),
  });
}

const errors = (s: StepResult) => s.commands.filter((c) => c.command === 'error').map((c) => c.message);
const show = (s: StepResult) => `exit ${s.exitCode}\n${s.maskedLog}\n${s.stderr}`;

describe.runIf(CLUSTER.kind === 'control-plane')('the real control plane', () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ namespaces: [RESTRICTED, QUOTA, CPU_QUOTA, LIMITED, PLAIN] });
    const kc = new k8s.KubeConfig();
    kc.loadFromString(cluster.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    // PodSecurity admission enforces the namespace's label.
    const ns = await core.readNamespace({ name: RESTRICTED });
    ns.metadata!.labels = { ...ns.metadata!.labels, 'pod-security.kubernetes.io/enforce': 'restricted' };
    await core.replaceNamespace({ name: RESTRICTED, body: ns });
    // A quota of one pod, all used. No kube-controller-manager runs, so nothing computes the
    // quota's status: the test sets it, as the resource-quota controller would have.
    await core.createNamespacedResourceQuota({ namespace: QUOTA, body: { metadata: { name: 'one-pod' }, spec: { hard: { pods: '1' } } } });
    await core.replaceNamespacedResourceQuotaStatus({
      namespace: QUOTA,
      name: 'one-pod',
      body: { metadata: { name: 'one-pod' }, spec: { hard: { pods: '1' } }, status: { hard: { pods: '1' }, used: { pods: '1' } } },
    });
    // A LimitRange: no container may have more than one core.
    await core.createNamespacedLimitRange({ namespace: LIMITED, body: { metadata: { name: 'one-core' }, spec: { limits: [{ type: 'Container', max: { cpu: '1' } }] } } });
    // A CPU quota no single pod asking for more than 2 cores can ever fit.
    await core.createNamespacedResourceQuota({ namespace: CPU_QUOTA, body: { metadata: { name: 'cpu-limit' }, spec: { hard: { 'limits.cpu': '2' } } } });
    await core.replaceNamespacedResourceQuotaStatus({
      namespace: CPU_QUOTA,
      name: 'cpu-limit',
      body: { metadata: { name: 'cpu-limit' }, spec: { hard: { 'limits.cpu': '2' } }, status: { hard: { 'limits.cpu': '2' }, used: { 'limits.cpu': '0' } } },
    });
  });

  it('dry-run: PodSecurity "restricted" refuses the privileged task with the server\'s message, accepts the compliant one', async () => {
    const s = await step(
      [
        'version: 1',
        'name: pod-security',
        `namespace: ${RESTRICTED}`,
        'defaults:',
        '  pod:',
        '    securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}',
        '    containerSecurityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}',
        'tasks:',
        '  compliant: {image: "busybox:1.37", command: ["true"]}',
        '  privileged:',
        '    image: "busybox:1.37"',
        '    command: ["true"]',
        '    pod:',
        '      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}',
        '      containerSecurityContext: {privileged: true, allowPrivilegeEscalation: true}',
        '',
      ].join('\n'),
      { mode: 'dry-run' },
    );
    expect(s.exitCode, show(s)).toBe(1);
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['privileged']);
    const message = errors(s).join('\n');
    expect(message).toContain('violates PodSecurity "restricted:latest"');
    expect(message).toContain('privileged (container "main" must not set securityContext.privileged=true)');
    expect(s.summary).toMatch(/compliant.*accepted/);
    expect(await cluster.pods(RESTRICTED)).toEqual([]);
  });

  it('dry-run: an exceeded ResourceQuota refuses the pod with the server\'s message', async () => {
    const s = await step(['version: 1', 'name: over-quota', `namespace: ${QUOTA}`, 'tasks:', '  one: {image: "busybox:1.37", command: ["true"]}', ''].join('\n'), { mode: 'dry-run' });
    expect(s.exitCode, show(s)).toBe(1);
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['one']);
    expect(errors(s).join('\n')).toContain('exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1');
  });

  it('run: a quota other pods use up now is an infrastructure failure, retried on its own budget (not `limit`), with the server\'s message', async () => {
    const s = await step(['version: 1', 'name: over-quota-run', `namespace: ${QUOTA}`, 'tasks:', '  one: {image: "busybox:1.37", command: ["true"], retries: {limit: 0, delay: 1s, infrastructure: 1}}', ''].join('\n'), {});
    expect(s.exitCode, show(s)).toBe(1);
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['one']);
    const message = errors(s).join('\n');
    expect(message).toContain('refused by the namespace\'s admission policy (403, ResourceQuota)');
    expect(message).toContain('exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1');
    expect(message).toContain('Other pods use up the ResourceQuota "one-pod" now');
    expect(message).not.toMatch(/Grant the permission/);
    expect(message).toMatch(/Failed after 2 attempts/);
    expect(s.stdout).toMatch(/one attempt 1 was lost to an infrastructure problem: ExceededQuota: .*retrying in 1s/);
    expect(s.summary).toMatch(/infrastructure/);
    expect(await cluster.containerStarts(QUOTA)).toBe(0);
  });

  it('run: a pod that asks for more than the quota allows in all is a configuration error, not retried', async () => {
    const s = await step(
      ['version: 1', 'name: never-fits', `namespace: ${CPU_QUOTA}`, 'tasks:', '  big: {image: "busybox:1.37", command: ["true"], resources: {limits: {cpu: "3"}}, retries: {limit: 2, delay: 1s, infrastructure: 2}}', ''].join('\n'),
      {},
    );
    expect(s.exitCode, show(s)).toBe(1);
    const message = errors(s).join('\n');
    expect(message).toContain('exceeded quota: cpu-limit, requested: limits.cpu=3, used: limits.cpu=0, limited: limits.cpu=2');
    expect(message).toContain('asks for more limits.cpu than the ResourceQuota "cpu-limit" allows in all');
    expect(message).toMatch(/Failed after 1 attempt/);
    expect(s.summary).toMatch(/configuration/);
  });

  it('run: PodSecurity and LimitRange refusals are configuration failures, not retried, each saying what to do', async () => {
    const privileged = await step(
      ['version: 1', 'name: privileged-run', `namespace: ${RESTRICTED}`, 'tasks:', '  root:', '    image: "busybox:1.37"', '    command: ["true"]', '    retries: {limit: 2, delay: 1s, infrastructure: 2}', '    pod: {containerSecurityContext: {privileged: true}}', ''].join('\n'),
      {},
    );
    expect(privileged.exitCode, show(privileged)).toBe(1);
    const p = errors(privileged).join('\n');
    expect(p).toContain('(403, PodSecurity)');
    expect(p).toContain('violates PodSecurity "restricted:latest"');
    expect(p).toContain('enforces the PodSecurity level "restricted"');
    expect(p).toMatch(/Failed after 1 attempt/);
    const big = await step(
      ['version: 1', 'name: limit-range-run', `namespace: ${LIMITED}`, 'tasks:', '  big: {image: "busybox:1.37", command: ["true"], resources: {limits: {cpu: "3"}}, retries: {limit: 2, delay: 1s, infrastructure: 2}}', ''].join('\n'),
      {},
    );
    expect(big.exitCode, show(big)).toBe(1);
    const b = errors(big).join('\n');
    expect(b).toContain('(403, LimitRange)');
    expect(b).toContain('maximum cpu usage per Container is 1, but limit is 3');
    expect(b).toMatch(/Failed after 1 attempt/);
    expect(big.summary).toMatch(/configuration/);
  });

  it('an unschedulable pod: a timeout that quotes kube-scheduler\'s own message', async () => {
    const s = await step(
      ['version: 1', 'name: nowhere', `namespace: ${PLAIN}`, 'tasks:', '  lost:', '    image: "busybox:1.37"', '    command: ["true"]', '    startTimeout: 10s', '    retries: {limit: 0}', '    pod: {nodeSelector: {org: nowhere}}', ''].join('\n'),
      {},
    );
    expect(s.exitCode, show(s)).toBe(1);
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['lost']);
    // The scheduler's words, e.g. "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't
    // match Pod's node affinity/selector." (reasons sorted; the global control plane's GPU node is tainted).
    expect(errors(s).join('\n')).toMatch(/0\/\d+ nodes are available: (\d+ node\(s\) had untolerated taint[^,]*, )?\d+ node\(s\) didn't match Pod's node affinity\/selector/);
  });

  it('a pod deleted by someone else while it runs: an infrastructure failure, not a task failure', async () => {
    let deleting: Promise<unknown> | undefined;
    const s = await step(
      ['version: 1', 'name: deleted', `namespace: ${PLAIN}`, 'tasks:', '  victim:', '    image: "busybox:1.37"', '    command: [sh, -c, "echo victim is running; exec sleep 300"]', '    retries: {limit: 0, infrastructure: 0}', ''].join('\n'),
      {},
      (line) => {
        // Someone else (kubectl delete pod) removes the pod once its container runs.
        if (!deleting && line.includes('victim is running')) {
          deleting = core.listNamespacedPod({ namespace: PLAIN, labelSelector: 'pod-dag.io/dag=deleted' }).then((list) =>
            Promise.all(list.items.map((p) => core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: PLAIN, gracePeriodSeconds: 1 }))),
          );
        }
      },
    );
    await deleting;
    expect(deleting, 'the task never printed its line').toBeDefined();
    expect(s.exitCode, show(s)).toBe(1);
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['victim']);
    expect(s.summary).toMatch(/infrastructure/);
    expect(errors(s).join('\n')).toMatch(/deleted by someone else/);
  });

  it('the live log reads the pods/log proxy to the end: every line of a task that prints 20000, in order', async () => {
    const s = await step(
      ['version: 1', 'name: chatty', `namespace: ${PLAIN}`, 'tasks:', '  talk:', '    image: "busybox:1.37"', '    command: [sh, -c, "seq 1 20000; echo the last line"]', ''].join('\n'),
      {},
    );
    expect(s.exitCode, show(s)).toBe(0);
    const lines = s.stdout.split('\n').filter((l) => l.startsWith('[talk] ')).map((l) => l.slice('[talk] '.length));
    const numbers = lines.filter((l) => /^\d+$/.test(l)).map(Number);
    expect(numbers.length).toBe(20000);
    expect(numbers.every((n, i) => n === i + 1)).toBe(true);
    expect(lines).toContain('the last line');
  });
});
