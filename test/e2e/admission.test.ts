/**
 * A pod the cluster's ServiceAccount admission refuses (its pod.serviceAccountName does not exist),
 * as the user sees it through dist/index.js, on the cluster POD_DAG_TEST_CLUSTER picks (the
 * sandbox models the plugin; kube-apiserver runs it): with credentials that may read
 * ServiceAccounts the preflight finds it before any pod exists; with the minimal Role (which may
 * not), the task fails at its create as a configuration failure, not retried, saying what to do,
 * the same in the log, the annotation and the summary; a dry run refuses that task's pod.
 * (PodSecurity and ResourceQuota on kube-apiserver: test/e2e/real-server.test.ts.)
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MINIMAL_ROLE_YAML } from '../../src/kube/auth.ts';
import type { Rule } from '../../sandbox/index.ts';
import { CLUSTER, startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { runStep, type StepResult } from '../harness/action.ts';

const NS = 'admission';
let cluster: TestCluster;
let runs = 0;

/** The spec: `load` names a ServiceAccount that does not exist; `ok` runs beside it, `after` needs it. */
const SPEC = [
  'version: 1',
  'name: no-sa',
  `namespace: ${NS}`,
  'tasks:',
  '  ok: {image: "busybox:1.37", command: ["true"]}',
  '  load:',
  '    image: "busybox:1.37"',
  '    command: ["true"]',
  '    retries: {limit: 2, delay: 1s, infrastructure: 2}',
  '    pod: {serviceAccountName: etl-runner}',
  '  after: {needs: [load], image: "busybox:1.37", command: ["true"]}',
  '',
].join('\n');

const HINT = `create it (kubectl -n ${NS} create serviceaccount etl-runner) or correct pod.serviceAccountName in the spec`;
const REFUSAL = `error looking up service account ${NS}/etl-runner: serviceaccount `;

async function step(inputs: Record<string, string>): Promise<StepResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-admission-'));
  await writeFile(path.join(dir, 'dag.yaml'), SPEC);
  return runStep({ inputs: { dag: 'dag.yaml', kubeconfig: cluster.kubeconfig(), 'keep-pods': 'never', ...inputs }, env: { GITHUB_RUN_ID: `73000${++runs}` }, cwd: dir });
}

const errors = (s: StepResult) => s.commands.filter((c) => c.command === 'error');
const show = (s: StepResult) => `exit ${s.exitCode}\n${s.maskedLog}\n${s.stderr}`;
/** The summary as text: GitHub renders its HTML entities. */
const text = (md: string) => md.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');

/** The README's minimal Role, which may not read ServiceAccounts. */
const MINIMAL: Rule[] = (parseAllDocuments(MINIMAL_ROLE_YAML)[0]!.toJS() as { rules: Omit<Rule, 'namespaces'>[] }).rules.map((r) => ({ ...r, namespaces: [NS] }));

beforeAll(async () => {
  cluster = await startTestCluster({ namespaces: [NS] });
});
afterAll(async () => {
  await cluster?.close();
});

describe('a pod whose ServiceAccount does not exist', () => {
  it('credentials that may read ServiceAccounts: the preflight refuses the run before any pod exists, naming the ServiceAccount, the task and its line', async () => {
    cluster.resetRequests();
    const s = await step({});
    expect(s.exitCode, show(s)).toBe(1);
    // One read for the one ServiceAccount the spec names (undefined: a cluster that cannot count).
    expect([1, undefined]).toContain(await cluster.requests('get', 'serviceaccounts'));
    const message = errors(s).map((c) => c.message).join('\n');
    expect(message).toContain(`ServiceAccount "etl-runner" does not exist in namespace "${NS}", and pod.serviceAccountName of task "load" (dag.yaml:6:3) names it`);
    expect(message).toContain(HINT.replace('create it', 'Create it'));
    expect(s.stdout).not.toMatch(/created pod/);
    expect(s.stderr).not.toMatch(/\n\s+at /);
    expect(await cluster.pods(NS)).toEqual([]);
    expect(await cluster.containerStarts(NS)).toBe(0);
  });

  // A kubeconfig: cluster cannot create identities.
  it.skipIf(CLUSTER.kind === 'kubeconfig')('the minimal Role (no read of ServiceAccounts): the task fails at its create, once, as configuration, saying what to do; log, annotation and summary agree', async () => {
    const kubeconfig = await cluster.userKubeconfig(`minimal-${++runs}`, MINIMAL, NS);
    cluster.resetRequests();
    const s = await step({ kubeconfig });
    expect(s.exitCode, show(s)).toBe(1);
    // The rules the preflight read do not grant the read: no request is spent on a 403.
    expect([0, undefined]).toContain(await cluster.requests('get', 'serviceaccounts'));
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['load']);
    const annotation = errors(s).find((c) => c.properties['title']?.startsWith('Task load failed'));
    expect(annotation, show(s)).toBeDefined();
    expect(annotation!.properties).toMatchObject({ file: 'dag.yaml', line: '6', col: '3' });
    expect(annotation!.properties['title']).toContain('configuration');
    for (const [where, said] of [['annotation', annotation!.message], ['log', s.stdout], ['summary', text(s.summary)]] as const) {
      expect(said, where).toContain(REFUSAL);
      expect(said, where).toContain(HINT);
      expect(said, where).toContain('ServiceAccount admission plugin');
      expect(said, where).not.toMatch(/Grant the permission|securityContext\.\.\./);
    }
    // Not retried: a configuration failure comes back until the spec or the cluster changes.
    expect(annotation!.message).toContain('Failed after 1 attempt');
    expect(s.stdout).not.toMatch(/load.*retrying in/);
    expect(s.summary).toMatch(/after.*skipped/);
    expect(s.stderr).not.toMatch(/\n\s+at /);
  });

  it('dry-run: that task\'s pod is refused with the same cause and what to do; the others are accepted', async () => {
    const s = await step({ mode: 'dry-run' });
    expect(s.exitCode, show(s)).toBe(1);
    expect(JSON.parse(s.outputs['failed-tasks']!)).toEqual(['load']);
    const message = errors(s).map((c) => c.message).join('\n');
    expect(message).toContain(REFUSAL);
    expect(message).toContain(HINT);
    expect(text(s.summary)).toContain(HINT);
    expect(s.summary).toMatch(/\| \[ok\].*accepted/);
    expect(await cluster.pods(NS)).toEqual([]);
  });
});
