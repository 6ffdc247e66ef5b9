/**
 * What `dry-run` checks beyond the server's dry run: references to Secrets and ConfigMaps (and
 * their keys), a node the pod fits on (selector, required affinity, taints, resources), each
 * check skipped with its reason where RBAC forbids it. Pure matching first, then against the
 * sandbox through the real client, as an admin and as a user with only the minimal Role.
 */
import type { V1Node, V1Pod, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/kube/auth.ts';
import { createClient } from '../../src/kube/client.ts';
import { checkPods, kubeClusterReader, nodeProblems, parseQuantity, podReferences, type ClusterReader } from '../../src/kube/dry-run-checks.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { dryRunDag } from '../../src/engine/dry-run.ts';
import { runScope } from '../../src/common/run.ts';
import { LiveLogReporter } from '../../src/report/live-log.ts';
import { SummaryReporter } from '../../src/report/summary-reporter.ts';
import { CompositeReporter } from '../../src/report/types.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { context, spec } from '../engine/helpers.ts';

function pod(spec: NonNullable<V1Pod['spec']>): V1Pod {
  return { metadata: { name: 'p' }, spec };
}
function node(name: string, labels: Record<string, string>, extra: { taints?: { key: string; value?: string; effect: string }[]; cpu?: string; memory?: string; gpu?: string } = {}): V1Node {
  return {
    metadata: { name, labels },
    spec: extra.taints ? { taints: extra.taints } : {},
    status: { allocatable: { cpu: extra.cpu ?? '4', memory: extra.memory ?? '16Gi', ...(extra.gpu ? { 'nvidia.com/gpu': extra.gpu } : {}) } },
  };
}

describe('podReferences', () => {
  it('finds every Secret and ConfigMap: env, envFrom, volumes, projected, image pull secrets; optional only when every use is', () => {
    const refs = podReferences(
      pod({
        containers: [
          {
            name: 'main',
            env: [
              { name: 'A', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
              { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode', optional: true } } },
            ],
            envFrom: [{ secretRef: { name: 'creds' } }, { configMapRef: { name: 'extra', optional: true } }],
          },
        ],
        volumes: [
          { name: 'v', secret: { secretName: 'tls', items: [{ key: 'tls.crt', path: 'c' }] } },
          { name: 'w', projected: { sources: [{ configMap: { name: 'settings', items: [{ key: 'region', path: 'r' }] } }] } },
        ],
        imagePullSecrets: [{ name: 'regcred' }],
      }),
    );
    const show = refs.map((r) => `${r.kind}/${r.name} [${[...r.keys].join(',')}]${r.optional ? ' optional' : ''}`);
    expect(show).toEqual(['Secret/creds [password]', 'ConfigMap/settings [mode,region]', 'ConfigMap/extra [] optional', 'Secret/tls [tls.crt]', 'Secret/regcred []']);
  });
});

describe('parseQuantity', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    ['4Gi', 4 * 2 ** 30],
    ['1.5k', 1500],
    ['1e3', 1000],
    ['128Mi', 128 * 2 ** 20],
  ])('%s', (q, n) => expect(parseQuantity(q)).toBeCloseTo(n));
  it('refuses what is no quantity', () => expect(parseQuantity('lots')).toBeNull());
});

describe('nodeProblems', () => {
  const nodes = [
    node('pool-a-1', { org: 'locale', 'kubernetes.io/hostname': 'pool-a-1' }),
    node('gpu-1', { pool: 'gpu' }, { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }], gpu: '1', cpu: '16', memory: '64Gi' }),
  ];
  const main = (resources: V1ResourceRequirements = {}) => [{ name: 'main', resources }];

  it('is satisfied by one node that matches everything', () => {
    expect(nodeProblems(pod({ containers: main(), nodeSelector: { org: 'locale' } }), nodes)).toEqual([]);
  });

  it('says why no node matches a nodeSelector, node by node', () => {
    expect(nodeProblems(pod({ containers: main(), nodeSelector: { org: 'elsewhere' } }), nodes)).toEqual([
      'no node of 2 can run it: 2 nodes: nodeSelector org=elsewhere does not match its labels',
    ]);
  });

  it('reads required node affinity (In, NotIn, Exists, Gt) with terms ORed', () => {
    const affinity = (exprs: { key: string; operator: string; values?: string[] }[][]) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: exprs.map((e) => ({ matchExpressions: e })) } } });
    expect(nodeProblems(pod({ containers: main(), affinity: affinity([[{ key: 'org', operator: 'In', values: ['locale'] }]]) }), nodes)).toEqual([]);
    expect(nodeProblems(pod({ containers: main(), affinity: affinity([[{ key: 'org', operator: 'In', values: ['x'] }], [{ key: 'org', operator: 'Exists' }]]) }), nodes)).toEqual([]);
    expect(nodeProblems(pod({ containers: main(), affinity: affinity([[{ key: 'org', operator: 'NotIn', values: ['locale'] }, { key: 'pool', operator: 'DoesNotExist' }]]) }), nodes)[0]).toMatch(
      /^no node of 2 can run it: 2 nodes: the required node affinity does not match its labels$/,
    );
  });

  it('keeps a pod off a tainted node unless it tolerates the taint', () => {
    const gpuPod = (tolerations: V1Toleration[]) => pod({ containers: main({ limits: { 'nvidia.com/gpu': '1' } }), nodeSelector: { pool: 'gpu' }, tolerations });
    expect(nodeProblems(gpuPod([]), nodes)).toEqual([
      'no node of 2 can run it: 1 node: nodeSelector pool=gpu does not match its labels; 1 node: it has a taint the pod does not tolerate (nvidia.com/gpu=present:NoSchedule)',
    ]);
    expect(nodeProblems(gpuPod([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]), nodes)).toEqual([]);
  });

  it('compares resource requests (limits when no request) with the allocatable of matching nodes', () => {
    expect(nodeProblems(pod({ containers: main({ requests: { cpu: '8', memory: '4Gi' } }), nodeSelector: { org: 'locale' } }), nodes)).toEqual([
      'no node of 2 can run it: 1 node: its allocatable cpu (4) is less than the pod requests; 1 node: nodeSelector org=locale does not match its labels',
    ]);
    expect(nodeProblems(pod({ containers: main({ limits: { 'nvidia.com/gpu': '1' } }) }), [nodes[0]!])[0]).toContain('its allocatable nvidia.com/gpu (0) is less than the pod requests');
  });
});

describe('checkPods with a reader', () => {
  const forbidden = Object.assign(new Error('forbidden'), { code: 403, body: JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'secrets is forbidden' }) });
  const reader = (over: Partial<ClusterReader>): ClusterReader => ({
    secretKeys: async (_ns, name) => (name === 'creds' ? ['pass'] : null),
    configMapKeys: async () => null,
    nodes: async () => [node('pool-a-1', { org: 'locale' })],
    ...over,
  });
  const p = pod({ containers: [{ name: 'main', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } }, { name: 'B', valueFrom: { secretKeyRef: { name: 'gone', key: 'x' } } }] }] });

  it('finds a missing Secret and a missing key, one read per object', async () => {
    const reads: string[] = [];
    const r = await checkPods([{ task: 'a', pod: p }, { task: 'b', pod: p }], 'data-jobs', reader({ secretKeys: async (_ns, name) => (reads.push(name), name === 'creds' ? ['pass'] : null) }));
    expect(reads).toEqual(['creds', 'gone']);
    expect(r.problems.get('a')).toEqual(['Secret "creds" has no key "password" (it has "pass")', 'Secret "gone" does not exist in namespace data-jobs']);
    expect(r.skipped).toEqual([]);
  });

  it('skips a check RBAC forbids, once, saying why', async () => {
    const r = await checkPods([{ task: 'a', pod: p }], 'data-jobs', reader({ secretKeys: async () => Promise.reject(forbidden), nodes: async () => Promise.reject(forbidden) }));
    expect(r.problems.get('a')).toEqual([]);
    expect(r.skipped).toEqual([
      { check: 'Secrets exist', why: 'RBAC does not let these credentials get secrets in namespace data-jobs' },
      { check: 'a node can run each pod (selector, affinity, taints, resources)', why: 'RBAC does not let these credentials list nodes (a cluster-wide permission, granted by a ClusterRole)' },
    ]);
  });
});

describe('dry-run against the sandbox', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ namespaces: ['default', 'data-jobs'], nodes: [{ name: 'pool-a-1', labels: { org: 'locale' } }] });
    sandbox.createSecret('data-jobs', 'clickhouse-creds', { pass: 'x' });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const s = spec(`version: 1
name: checks
namespace: data-jobs
tasks:
  load:
    image: busybox
    env:
      PASSWORD: {secret: clickhouse-creds, key: password}
    pod:
      nodeSelector: {org: elsewhere}
  report:
    image: busybox
    pod:
      nodeSelector: {org: locale}
`);

  async function dryRun(kubeconfig: string) {
    const conn = await connect({ kubeconfig }, {});
    const client = createClient(conn.kubeConfig);
    const lines: string[] = [];
    let summary = '';
    const reporter = new CompositeReporter([new LiveLogReporter({ write: (l) => void lines.push(l) }), new SummaryReporter({ writer: { write: async (md) => void (summary += md) } })]);
    const r = await dryRunDag({ spec: s, params: {}, namespace: 'data-jobs', pods: kubePodApi(client), cluster: kubeClusterReader(client), context: context('5000001'), reporter });
    return { ...r, lines, summary };
  }

  it('catches what the server accepts but could never run: a missing key, a selector no node matches', async () => {
    const r = await dryRun(sandbox.kubeconfig());
    expect(r.verdicts.map((v) => [v.task, v.accepted, v.problems])).toEqual([
      ['load', true, ['Secret "clickhouse-creds" has no key "password" (it has "pass")', 'no node of 1 can run it: 1 node: nodeSelector org=elsewhere does not match its labels']],
      ['report', true, []],
    ]);
    expect(r.state.result).toBe('failure');
    expect(r.lines).toContain(`load: the cluster would accept pod checks-5000001-${runScope(context('5000001'))}-1-load-1, but it would not run: Secret "clickhouse-creds" has no key "password" (it has "pass"); no node of 1 can run it: 1 node: nodeSelector org=elsewhere does not match its labels`);
    expect(r.summary.split('\n')[0]).toBe('## ❌ checks dry run: 1 of 2 pods would not run');
  });

  it('with only the minimal Role, says which checks it skipped and why, instead of "every pod accepted"', async () => {
    const token = 'minimal-role-token';
    sandbox.addUser(token, [{ namespaces: ['data-jobs'], verbs: ['create', 'get', 'list', 'watch', 'delete'], resources: ['pods'] }, { namespaces: ['data-jobs'], verbs: ['get', 'create', 'update', 'list', 'delete'], resources: ['configmaps'] }], 'pod-dag-action');
    const r = await dryRun(sandbox.kubeconfig({ token, namespace: 'data-jobs' }));
    expect(r.verdicts.every((v) => v.accepted && (v.problems ?? []).length === 0)).toBe(true);
    expect(r.summary.split('\n')[0]).toBe('## ⚠️ checks dry run: every pod accepted, 2 checks skipped');
    expect(r.summary).toContain('- ⏭️ **Skipped**: Secrets exist: RBAC does not let these credentials get secrets in namespace data-jobs.');
    expect(r.summary).toContain('- ⏭️ **Skipped**: a node can run each pod (selector, affinity, taints, resources): RBAC does not let these credentials list nodes');
    expect(r.lines).toContain('dry run: skipped a check (Secrets exist): RBAC does not let these credentials get secrets in namespace data-jobs');
  });
});
