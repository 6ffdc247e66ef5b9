/**
 * The README's minimal Role is exactly enough, on the cluster POD_DAG_TEST_CLUSTER picks (the
 * sandbox's RBAC, or the real kube-apiserver's): a whole run through dist/index.js, with the
 * concurrency lock, passes as an identity bound to just that Role; and with any one of its
 * permissions taken away, the preflight names that permission and the rule that grants it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MINIMAL_ROLE_YAML, connect, permissionsFor, preflight } from '../../src/kube/auth.ts';
import type { Rule } from '../../sandbox/index.ts';
import { CLUSTER, startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { runStep } from '../harness/action.ts';

const NS = 'minimal-role';
const SPEC = ['version: 1', 'name: minimal-role', `namespace: ${NS}`, 'tasks:', '  a: {image: sandbox/succeed}', '  b: {image: sandbox/succeed, needs: [a]}', ''].join('\n');

/** The README's Role's rules, as written there. */
const ROLE_RULES = (parseAllDocuments(MINIMAL_ROLE_YAML)[0]!.toJS() as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules;
const asRules = (rules: typeof ROLE_RULES): Rule[] => rules.map((r) => ({ ...r, namespaces: [NS] }));

/** Permissions the run can do without (a warning names them): src/kube/auth.ts `optional`. */
const OPTIONAL = new Set(permissionsFor('run').filter((p) => p.optional !== undefined).map((p) => `${p.verb} ${p.resource}`));
/** Every (rule, verb) of the Role: each one taken away in turn. */
const PERMISSIONS = ROLE_RULES.flatMap((rule, i) => rule.verbs.map((verb) => ({ i, verb, resource: rule.resources[0]!, group: rule.apiGroups[0]! })));

let cluster: TestCluster;
let users = 0;
beforeAll(async () => {
  cluster = await startTestCluster({ namespaces: [NS] });
});
afterAll(async () => {
  await cluster?.close();
});

// A kubeconfig: cluster cannot create identities (it holds whatever credentials it was given).
describe.skipIf(CLUSTER.kind === 'kubeconfig')('the minimal Role', () => {
  it('is enough for a whole run with the concurrency lock, through dist/index.js', async () => {
    const kubeconfig = await cluster.userKubeconfig('pod-dag-action', asRules(ROLE_RULES), NS);
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-minimal-role-'));
    await writeFile(path.join(dir, 'dag.yaml'), SPEC);
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig, concurrency: 'minimal-role', 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: '7100001' },
      cwd: dir,
    });
    expect(step.exitCode, step.stdout + step.stderr).toBe(0);
    expect(step.outputs['result']).toBe('success');
    expect(step.stdout).not.toMatch(/lack \d+ permission/);
  });

  it.each(PERMISSIONS.filter((p) => !OPTIONAL.has(`${p.verb} ${p.resource}`)).map((p) => [`${p.verb} ${p.resource}`, p] as const))('without %s, the preflight names it and the rule to add', async (_, { i, verb, resource, group }) => {
    const rules = ROLE_RULES.map((r, j) => (j === i ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r)).filter((r) => r.verbs.length > 0);
    const kubeconfig = await cluster.userKubeconfig(`without-${++users}`, asRules(rules), NS);
    const conn = await connect({ kubeconfig }, {});
    const err = await preflight(conn.kubeConfig, NS, 'run', { concurrency: true }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain(`lack 1 permission this run needs:\n  - ${verb} ${resource} in namespace "${NS}"`);
    expect(err?.message).toContain(`- apiGroups: ["${group}"]\n  resources: ["${resource}"]\n  verbs: ["${verb}"]`);
  });

  it.each([...OPTIONAL].map((name) => [name, PERMISSIONS.find((p) => `${p.verb} ${p.resource}` === name)!] as const))(
    'without %s (optional: a Role from an earlier release), the preflight passes with a warning naming the rule, and the run succeeds',
    async (_, { i, verb, resource, group }) => {
      const rules = ROLE_RULES.map((r, j) => (j === i ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r)).filter((r) => r.verbs.length > 0);
      const kubeconfig = await cluster.userKubeconfig(`without-${++users}`, asRules(rules), NS);
      const conn = await connect({ kubeconfig }, {});
      const checked = await preflight(conn.kubeConfig, NS, 'run', { concurrency: true });
      expect(checked.warnings).toHaveLength(1);
      expect(checked.warnings[0]).toContain(`lack ${verb} ${resource} in namespace "${NS}"`);
      expect(checked.warnings[0]).toContain(`- apiGroups: ["${group}"]\n  resources: ["${resource}"]\n  verbs: ["${verb}"]`);
      // The whole run, through dist/index.js, with that Role.
      const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-minimal-role-'));
      await writeFile(path.join(dir, 'dag.yaml'), SPEC);
      const step = await runStep({
        inputs: { dag: 'dag.yaml', kubeconfig, concurrency: 'minimal-role', 'keep-pods': 'never' },
        env: { GITHUB_RUN_ID: `71000${10 + users}` },
        cwd: dir,
      });
      expect(step.exitCode, step.stdout + step.stderr).toBe(0);
      expect(step.outputs['result']).toBe('success');
      expect(step.stdout).toMatch(new RegExp(`::warning[^\n]*lack ${verb} ${resource}`));
    },
  );
});
