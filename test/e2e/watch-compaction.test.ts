/**
 * A watch resumed after etcd compacted its resourceVersion (POD_DAG_TEST_CLUSTER=control-plane
 * only): a control plane of its own whose kube-apiserver serves watches from etcd (no watch
 * cache) and compacts etcd every 2 s. The action's pod watch ends every 25 s (timeoutSeconds) and
 * resumes from the last resourceVersion it saw, which etcd has compacted away meanwhile (the node
 * agent's lease renewals and events keep etcd's revision moving): the server answers 410 Gone,
 * the action lists again, and the run ends with every task run once, none lost, none repeated.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control-plane/index.ts';
import { CLUSTER } from '../helpers/cluster.ts';
import { runStep } from '../harness/action.ts';

let cp: ControlPlane;

describe.runIf(CLUSTER.kind === 'control-plane')('a watch resumed after etcd compaction', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ namespaces: ['compaction'], etcdCompactionInterval: '2s', apiserverArgs: ['--watch-cache=false'] });
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
  });

  it('gets 410 Gone, lists again, and loses and repeats nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-compaction-'));
    await writeFile(
      path.join(dir, 'dag.yaml'),
      [
        'version: 1',
        'name: compaction',
        'namespace: compaction',
        'tasks:',
        // Outlives the watch's 25 s, so the watch resumes while this pod still runs.
        '  long: {image: "busybox:1.37", command: [sh, -c, "sleep 32; echo long done"]}',
        '  after: {image: "busybox:1.37", command: [sh, -c, "echo after ran"], needs: [long]}',
        '',
      ].join('\n'),
    );
    const step = await runStep({
      inputs: { dag: 'dag.yaml', kubeconfig: cp.kubeconfig(), 'keep-pods': 'never' },
      env: { GITHUB_RUN_ID: '7300001', RUNNER_DEBUG: '1' },
      cwd: dir,
      deadlineMs: 110_000,
    });
    expect(step.exitCode, step.stdout + step.stderr).toBe(0);
    const debug = step.commands.filter((c) => c.command === 'debug').map((c) => c.message);
    expect(debug.some((m) => m.includes('410 Gone')), debug.join('\n')).toBe(true);
    expect(step.stdout).toContain('long done');
    expect(step.stdout).toContain('after ran');
    // Each task's pod was created once (audit log: no attempt run twice, none skipped).
    const creates = readFileSync(cp.auditLogPath, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"ResponseComplete"') && l.includes('compaction-7300001'))
      .map((l) => JSON.parse(l) as { verb: string; objectRef: { resource?: string; subresource?: string } })
      .filter((e) => e.verb === 'create' && e.objectRef.resource === 'pods' && !e.objectRef.subresource);
    expect(creates.length).toBe(2);
  }, 120_000);
});
