/**
 * The README's table "which reason lands in which class" is checked against classifyPod, reason
 * by reason: every reason the table names gets a pod status as a real cluster reports it, and
 * must land in the class its row says. A reason added to the code without a row, or a row whose
 * class the code does not give, fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { classifyPod } from '../../src/kube/classify.ts';

const T0 = Date.parse('2026-11-24T02:00:00Z');
const START_TIMEOUT = 300_000;
const GRACE = 30_000;

const containerd = (cause: string): string =>
  `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${cause}: unknown`;

const terminated = (exitCode: number, reason: string, message?: string, podStatus: object = {}): object => ({
  phase: exitCode === 0 ? 'Succeeded' : 'Failed',
  ...podStatus,
  containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { terminated: { exitCode, reason, message, startedAt: '2026-11-24T02:00:03Z', finishedAt: '2026-11-24T02:01:03Z' } } }],
});
const waiting = (reason: string, message?: string): object => ({
  phase: 'Pending',
  conditions: [{ type: 'PodScheduled', status: 'True' }],
  containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason, message } } }],
});
const running = { phase: 'Running', containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: '2026-11-24T02:00:03Z' } } }] };
const disrupted = (reason: string): object => ({ ...running, conditions: [{ type: 'DisruptionTarget', status: 'True', reason, message: `disrupted: ${reason}` }] });
const podFailed = (reason: string): object => ({ phase: 'Failed', reason, message: `pod failed: ${reason}` });

/** A status per reason, and how long after its creation the pod is looked at. */
interface Sample {
  status: object;
  after?: number;
  deleted?: boolean;
  /** More of the pod's metadata (when someone asked for its deletion). */
  metadata?: object;
  /** More of the pod's spec (a restart policy a webhook set). */
  spec?: object;
  /** Several statuses share a reason (StartError with different messages): the row says which. */
  variant?: string;
}

const START_CONFIG = [
  'exec: "clickhouse-client": executable file not found in $PATH',
  'exec: "/opt/run.sh": stat /opt/run.sh: no such file or directory',
  'exec: "/data/job": permission denied',
  'exec: "/app/job": exec format error',
  'error during container init: chdir to cwd ("/work") set in config.json failed: not a directory',
  'error during container init: no command specified',
];

/** Statuses for each reason; a reason with several samples is checked with each. */
const SAMPLES: Record<string, Sample[]> = {
  Completed: [{ status: terminated(0, 'Completed', 'rows=42\n') }],
  InvalidOutputs: [{ status: terminated(0, 'Completed', 'not a name value line') }],
  Error: [{ status: terminated(3, 'Error') }],
  OOMKilled: [{ status: terminated(137, 'OOMKilled') }],
  'StartError+config': START_CONFIG.map((c) => ({ status: terminated(128, 'StartError', containerd(c)) })),
  'ContainerCannotRun+config': [{ status: terminated(127, 'ContainerCannotRun', 'OCI runtime create failed: exec: "psql": executable file not found in $PATH') }],
  'StartError+other': [{ status: terminated(128, 'StartError', containerd('error during container init: error setting cgroup config for procHooks process: resource temporarily unavailable')) }],
  'ContainerCannotRun+other': [{ status: terminated(128, 'ContainerCannotRun', 'cannot start container: context deadline exceeded') }],
  InvalidImageName: [{ status: waiting('InvalidImageName', 'Failed to apply default image tag "Registry/UPPER": invalid reference format'), after: 0 }],
  ErrImageNeverPull: [{ status: waiting('ErrImageNeverPull', 'Container image "app:dev" is not present with pull policy of Never'), after: 0 }],
  ErrImagePull: [{ status: waiting('ErrImagePull', 'failed to pull and unpack image'), after: GRACE }],
  ImagePullBackOff: [{ status: waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"'), after: GRACE }],
  RegistryUnavailable: [{ status: waiting('RegistryUnavailable', 'registry.example.com: connection refused'), after: GRACE }],
  CreateContainerConfigError: [
    { status: waiting('CreateContainerConfigError', 'secret "clickhouse-creds" not found'), after: 0 },
    { status: waiting('CreateContainerConfigError', "couldn't find key password in Secret data-jobs/clickhouse-creds"), after: 0 },
    { status: waiting('CreateContainerConfigError', 'configmap "settings" not found'), after: 0 },
    // What the kubelet retries (the node authorizer has not seen the binding yet, a cache sync
    // timed out): the image pull's grace, then configuration.
    {
      status: waiting('CreateContainerConfigError', 'secret "clickhouse-creds" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "data-jobs": no relationship found between node \'n1\' and this object'),
      after: GRACE,
    },
    { status: waiting('CreateContainerConfigError', 'failed to sync secret cache: timed out waiting for the condition'), after: GRACE },
  ],
  CreateContainerError: [{ status: waiting('CreateContainerError', 'failed to generate container spec: failed to apply OCI options: mount /x: no such device'), after: 0 }],
  RunContainerError: [{ status: waiting('RunContainerError', 'failed to start container: error mounting "/host" to rootfs'), after: 0 }],
  Unschedulable: [{ status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 node(s) didn\'t match Pod\'s node affinity/selector.' }] }, after: START_TIMEOUT }],
  ContainerCreating: [{ status: waiting('ContainerCreating'), after: START_TIMEOUT }],
  DeadlineExceeded: [
    { status: podFailed('DeadlineExceeded') },
    { status: terminated(137, 'Error', undefined, { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' }) },
  ],
  Evicted: [{ status: podFailed('Evicted') }, { status: terminated(137, 'Error', undefined, { reason: 'Evicted', message: 'The node was low on resource: memory.' }) }],
  PreemptionByScheduler: [{ status: disrupted('PreemptionByScheduler') }],
  EvictionByEvictionAPI: [{ status: disrupted('EvictionByEvictionAPI') }],
  DeletionByTaintManager: [{ status: disrupted('DeletionByTaintManager') }],
  TerminationByKubelet: [{ status: disrupted('TerminationByKubelet') }],
  NodeLost: [{ status: podFailed('NodeLost') }],
  Shutdown: [{ status: podFailed('Shutdown') }],
  NodeShutdown: [{ status: podFailed('NodeShutdown') }],
  Terminated: [{ status: podFailed('Terminated') }],
  UnexpectedAdmissionError: [{ status: podFailed('UnexpectedAdmissionError') }],
  OutOfcpu: [{ status: podFailed('OutOfcpu') }],
  OutOfmemory: [{ status: podFailed('OutOfmemory') }],
  OutOfpods: [{ status: podFailed('OutOfpods') }],
  NodeAffinity: [{ status: podFailed('NodeAffinity') }],
  Deleted: [
    { status: running, deleted: true },
    // Deleted at 02:01:00 (30 s grace); the task trapped SIGTERM and exited 1 at 02:01:03.
    { status: terminated(1, 'Error'), deleted: true, metadata: { deletionTimestamp: '2026-11-24T02:01:30Z', deletionGracePeriodSeconds: 30 } },
  ],
  InitContainerFailed: [
    {
      status: {
        phase: 'Failed',
        initContainerStatuses: [{ name: 'istio-init', ready: false, restartCount: 0, image: 'proxy', imageID: '', state: { terminated: { exitCode: 1, reason: 'Error' } } }],
        containerStatuses: [{ name: 'main', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'PodInitializing' } } }],
      },
    },
  ],
  Restarted: [
    {
      status: {
        phase: 'Running',
        containerStatuses: [
          { name: 'main', ready: false, restartCount: 1, image: 'x', imageID: '', lastState: { terminated: { exitCode: 1, reason: 'Error' } }, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
        ],
      },
    },
  ],
  RestartPolicyChanged: [{ status: running, spec: { restartPolicy: 'OnFailure' } }, { status: terminated(0, 'Completed'), spec: { restartPolicy: 'Always' } }],
};

interface Row {
  reasons: string[];
  variant: 'config' | 'other' | null;
  cls: string;
  line: string;
}

/** The rows of the README's reason table. */
function readmeRows(): Row[] {
  const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
  const start = readme.indexOf('| reason in the pod\'s status | where it appears | class |');
  expect(start, 'the README has the reason table').toBeGreaterThan(0);
  const lines = readme.slice(start).split('\n');
  const rows: Row[] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const first = cells[0] ?? '';
    // "`StartError`, `ContainerCannotRun` with `executable file not found`, …": the reasons are
    // the code spans before " with "; what follows names the messages.
    const [head, tail] = first.split(' with ');
    const reasons = [...(head ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const variant = tail === undefined ? null : tail.startsWith('any other') ? 'other' : 'config';
    rows.push({ reasons, variant, cls: cells[2] ?? '', line });
  }
  return rows;
}

const rows = readmeRows();
const cases = rows.flatMap((row) =>
  row.reasons.flatMap((reason) => {
    const key = row.variant === null ? reason : `${reason}+${row.variant}`;
    return (SAMPLES[key] ?? [undefined]).map((sample, i) => ({ name: `${key}${i > 0 ? ` #${i + 1}` : ''} → ${row.cls}`, key, sample, row }));
  }),
);

describe('the README reason table matches classifyPod', () => {
  test('the table has rows', () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  test.each(cases)('$name', ({ key, sample, row }) => {
    expect(sample, `no sample status for ${key}; add one to SAMPLES`).toBeDefined();
    const pod: V1Pod = {
      metadata: { name: 'p', labels: { 'pod-dag.io/task': 'migrate-data' }, ...sample!.metadata },
      spec: { containers: [{ name: 'main', image: 'x' }], nodeName: 'node-a', ...sample!.spec },
      status: sample!.status as V1Pod['status'],
    };
    const got = classifyPod(pod, { now: T0 + (sample!.after ?? 0), createdAt: T0, startTimeoutMs: START_TIMEOUT, imagePullGraceMs: GRACE, deleted: sample!.deleted });
    expect(got, row.line).not.toBeNull();
    expect(got!.class).toBe(row.cls);
  });

  test('every reason with a sample has a row (a reason the code knows is in the table)', () => {
    const named = new Set(cases.map((c) => c.key));
    expect(Object.keys(SAMPLES).filter((k) => !named.has(k))).toEqual([]);
  });
});

describe('what a container that could not start said reaches the outcome', () => {
  test('executable not found: configuration, the runtime\'s cause without its wrappers', () => {
    const pod: V1Pod = {
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'main', image: 'x' }] },
      status: terminated(128, 'StartError', containerd('exec: "clickhouse-client": executable file not found in $PATH')) as V1Pod['status'],
    };
    const got = classifyPod(pod, { now: T0, createdAt: T0, startTimeoutMs: START_TIMEOUT, imagePullGraceMs: GRACE });
    expect(got).toMatchObject({ class: 'configuration', reason: 'StartError', exitCode: 128 });
    expect(got!.message).toBe('the container could not start: exec: "clickhouse-client": executable file not found in $PATH; check the task\'s command, workingDir and image');
  });

  test('an image pull error within its grace is still pending', () => {
    const pod: V1Pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'main', image: 'x' }] }, status: waiting('ErrImagePull', 'x') as V1Pod['status'] };
    expect(classifyPod(pod, { now: T0 + GRACE - 1, createdAt: T0, startTimeoutMs: START_TIMEOUT, imagePullGraceMs: GRACE })).toBeNull();
  });
});
