/** Pod rendering, deterministic names and labels, and outputs parsing. */
import { describe, expect, test } from 'vitest';
import { labelValue, parseOutputs, podName, renderPlanPods, renderPod, runSelector } from '../../src/kube/pod.ts';
import { parseSpec, renderTemplate } from '../../src/spec/index.ts';
import type { DagSpec } from '../../src/spec/types.ts';
import type { RunContext, RunInfo } from '../../src/report/types.ts';
import { runUrl as summaryRunUrl } from '../../src/report/summary.ts';
import { runScope } from '../../src/common/run.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function spec(yaml: string): DagSpec {
  const { spec: s, issues } = parseSpec(yaml, 'dag.yaml');
  if (!s) throw new Error(issues.map((i) => i.message).join('\n'));
  return s;
}

const ctx: RunContext = {
  repository: 'Octo-Org/data.pipelines',
  runId: '12345678901',
  runAttempt: 2,
  sha: 'abc',
  ref: 'refs/heads/main',
  serverUrl: 'https://github.com',
  workflow: 'nightly',
  job: 'sync',
  actor: 'octocat',
  eventName: 'schedule',
};

const sync = spec(`version: 1
name: clickhouse-db-sync
params:
  destination_db: dest
defaults:
  image: clickhouse/clickhouse-server:24.8
  timeout: 1h
  pod:
    nodeSelector: {org: locale}
    tolerations: [{key: gpu, operator: Exists}]
tasks:
  create-db:
    command: [clickhouse-client, --query, "CREATE DATABASE {{ params.destination_db }}"]
  migrate-data:
    needs: [create-db]
    image: registry.example.com/internal-scripts:2024-01
    command: [python, migration.py]
    args: [--table, "{{ tasks.create-db.outputs.table }}"]
    env:
      CLICKHOUSE_PASSWORD: {secret: clickhouse-creds, key: password}
      MODE: full
    resources: {requests: {cpu: "2", memory: 4Gi}, limits: {memory: 8Gi}}
    timeout: 3h
`);

describe('podName', () => {
  test('is deterministic, a DNS-1123 label, and names DAG, run, run attempt, task and attempt', () => {
    const id = { dag: 'clickhouse-db-sync', runId: '12345678901', runAttempt: 1, task: 'migrate-data', attempt: 2 };
    expect(podName(id)).toBe('clickhouse-db-sync-12345678901-1-migrate-data-2');
    expect(podName(id)).toBe(podName({ ...id }));
  });

  test('too long: cut to 63 characters with a hash, still unique per input', () => {
    const id = { dag: 'a'.repeat(40), runId: '12345678901', runAttempt: 1, task: 'b'.repeat(40), attempt: 1 };
    const a = podName(id);
    const b = podName({ ...id, attempt: 2 });
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(DNS_LABEL);
    expect(b).toMatch(DNS_LABEL);
    expect(a).not.toBe(b);
    expect(podName(id)).toBe(a);
  });
});

test('labelValue makes any string a valid label value', () => {
  expect(labelValue('Octo-Org/data.pipelines')).toBe('Octo-Org_data.pipelines');
  expect(labelValue('-x-')).toBe('x');
  expect(labelValue('a'.repeat(80))).toHaveLength(63);
  for (const s of ['Octo-Org/data.pipelines', '__a__', `${'a'.repeat(62)}/b`]) expect(labelValue(s)).toMatch(LABEL_VALUE);
});

describe('renderPod', () => {
  const task = sync.tasks[1]!;
  const pod = renderPod(task, 2, {
    spec: sync,
    namespace: 'data-jobs',
    runId: '12345678901',
    context: ctx,
    render: (t) => renderTemplate(t, { params: { destination_db: 'dest' }, outputs: { 'create-db': { table: 'events' } } }),
  });
  const c = pod.spec!.containers[0]!;

  test('one container, never restarted by the kubelet, with a deadline from the timeout', () => {
    expect(pod.spec!.restartPolicy).toBe('Never');
    expect(pod.spec!.activeDeadlineSeconds).toBe(3 * 3600);
    expect(pod.spec!.containers).toHaveLength(1);
  });

  test('image, command, rendered args, env refs, resources', () => {
    expect(c.image).toBe('registry.example.com/internal-scripts:2024-01');
    expect(c.command).toEqual(['python', 'migration.py']);
    expect(c.args).toEqual(['--table', 'events']);
    expect(c.env).toContainEqual({ name: 'CLICKHOUSE_PASSWORD', valueFrom: { secretKeyRef: { name: 'clickhouse-creds', key: 'password', optional: false } } });
    expect(c.env).toContainEqual({ name: 'MODE', value: 'full' });
    expect(c.resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '8Gi' } });
  });

  test('outputs go to the termination message file that POD_DAG_OUTPUT names', () => {
    expect(c.terminationMessagePolicy).toBe('File');
    expect(c.env).toContainEqual({ name: 'POD_DAG_OUTPUT', value: c.terminationMessagePath });
  });

  test('merged pod fields from defaults', () => {
    expect(pod.spec!.nodeSelector).toEqual({ org: 'locale' });
    expect(pod.spec!.tolerations).toEqual([{ key: 'gpu', operator: 'Exists' }]);
  });

  test('labels for the run and the attempt, annotations back to the GitHub run', () => {
    const labels = pod.metadata!.labels!;
    expect(labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'pod-dag-action',
      'pod-dag.io/dag': 'clickhouse-db-sync',
      'pod-dag.io/task': 'migrate-data',
      'pod-dag.io/run-id': '12345678901',
      'pod-dag.io/run-attempt': '2',
      'pod-dag.io/task-attempt': '2',
      'pod-dag.io/repository': 'Octo-Org_data.pipelines',
      'pod-dag.io/run-scope': runScope(ctx),
    });
    expect(pod.metadata!.annotations!['pod-dag.io/job']).toBe('sync');
    for (const v of Object.values(labels)) expect(v).toMatch(LABEL_VALUE);
    expect(pod.metadata!.annotations!['pod-dag.io/run-url']).toBe('https://github.com/Octo-Org/data.pipelines/actions/runs/12345678901/attempts/2');
    expect(pod.metadata!.name).toBe(`clickhouse-db-sync-12345678901-${runScope(ctx)}-2-migrate-data-2`);
    expect(pod.metadata!.namespace).toBe('data-jobs');
  });

  test('the pod annotation links the same workflow run as the summary, for every run attempt', () => {
    for (const runAttempt of [1, 2]) {
      const context = { ...ctx, runAttempt };
      const p = renderPod(task, 1, { spec: sync, namespace: 'data-jobs', runId: '12345678901', context, render: (t) => renderTemplate(t, { params: { destination_db: 'dest' }, outputs: { 'create-db': { table: 'events' } } }) });
      const info: RunInfo = { mode: 'run', spec: sync, context, namespace: 'data-jobs', params: {} };
      expect(p.metadata!.annotations!['pod-dag.io/run-url']).toBe(summaryRunUrl(info));
    }
  });

  test('the run selector matches the pod labels', () => {
    const sel = runSelector('clickhouse-db-sync', '12345678901', runScope(ctx), 2);
    for (const pair of sel.split(',')) {
      const [k, v] = pair.split('=');
      expect(pod.metadata!.labels![k!]).toBe(v);
    }
    // Without a run attempt: every attempt of the run.
    expect(runSelector('clickhouse-db-sync', '12345678901', runScope(ctx))).toBe(sel.replace(/,pod-dag\.io\/run-attempt=2$/, ''));
  });
});

test('renderPlanPods shows upstream outputs as placeholders', () => {
  const pods = renderPlanPods(sync, { destination_db: 'dest' }, ctx, renderTemplate);
  expect(pods.map((p) => p.metadata!.labels!['pod-dag.io/task-attempt'])).toEqual(['1', '1']);
  expect(pods[0]!.spec!.containers[0]!.command).toEqual(['clickhouse-client', '--query', 'CREATE DATABASE dest']);
  expect(pods[1]!.spec!.containers[0]!.args).toEqual(['--table', '<tasks.create-db.outputs.table>']);
});

describe('parseOutputs', () => {
  test.each([
    ['name=value lines', 'a=1\nb=two words\n', { a: '1', b: 'two words' }],
    ['values may hold =', 'url=https://x/?a=b\n', { url: 'https://x/?a=b' }],
    ['blank lines ignored, CRLF accepted', '\r\na=1\r\n\r\n', { a: '1' }],
    ['heredoc form', 'notes<<EOF\nline 1\nline 2\nEOF\nx=1', { notes: 'line 1\nline 2', x: '1' }],
    ['empty message', '', {}],
  ])('%s', (_n, text, want) => {
    expect(parseOutputs(text, 't')).toEqual({ ok: true, outputs: want });
  });

  test('4 KiB or more is a clear task error', () => {
    const r = parseOutputs(`x=${'y'.repeat(4094)}`, 'export');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/task "export" wrote 4096 bytes to POD_DAG_OUTPUT.*at most 4096/);
  });

  test('a line that is not name=value says which and what is expected', () => {
    const r = parseOutputs('a=1\njust text\n', 't');
    expect(!r.ok && r.error).toMatch(/line 2 .*"just text".*expected name=value/);
  });

  test('an unterminated heredoc is an error', () => {
    const r = parseOutputs('notes<<EOF\nline\n', 't');
    expect(!r.ok && r.error).toMatch(/no line "EOF" ends it/);
  });
});
