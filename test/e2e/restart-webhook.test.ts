/**
 * A mutating admission webhook that sets the pod's restartPolicy to OnFailure, on both clusters
 * (driven through dist/index.js): on the real control plane a real webhook (an HTTPS server on
 * loopback that kube-apiserver calls, with a MutatingWebhookConfiguration for this file's DAG
 * only), on the sandbox its `mutatePods` fault. With that policy the kubelet would run a failed
 * task again, and its second run's exit 0 would pass for the task's: the action refuses the pod
 * the first time it sees it, as a configuration failure naming the field and the webhook, deletes
 * it, and does not retry.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createAuthority } from '../../sandbox/certs.ts';
import { LABELS, podName } from '../../src/kube/pod.ts';
import { CLUSTER } from '../helpers/cluster.ts';
import { fileCluster, show, workspace } from '../helpers/e2e.ts';
import { runStep, stepScope } from '../harness/action.ts';

const DAG = 'rerun-webhook';
const WEBHOOK = 'pod-dag-test-restart-policy.example.com';
let server: Server | undefined;
let reviews = 0;

const cluster = fileCluster({}, async (c) => {
  if (c.sandbox) {
    c.sandbox.faults.mutatePods((p) => {
      if ((p.metadata.labels as Record<string, string> | undefined)?.[LABELS.dag] === DAG) p.spec.restartPolicy = 'OnFailure';
    });
    return;
  }
  // A real webhook: kube-apiserver calls it over HTTPS (loopback), it answers with a JSON patch.
  const ca = createAuthority('restart-webhook-ca');
  const cert = ca.issue({ commonName: '127.0.0.1', ips: ['127.0.0.1'] });
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      reviews++;
      const review = JSON.parse(body) as { request: { uid: string } };
      const patch = Buffer.from(JSON.stringify([{ op: 'replace', path: '/spec/restartPolicy', value: 'OnFailure' }])).toString('base64');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch } }));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kc = new k8s.KubeConfig();
  kc.loadFromString(c.kubeconfig());
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  await admission.deleteMutatingWebhookConfiguration({ name: WEBHOOK }).catch(() => undefined);
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: WEBHOOK },
      webhooks: [
        {
          name: WEBHOOK,
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca.caPem).toString('base64') },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          // Only this file's pods: the control plane is shared by the other test files.
          objectSelector: { matchLabels: { [LABELS.dag]: DAG } },
        },
      ],
    },
  });
});

describe.skipIf(CLUSTER.kind === 'kubeconfig')('a webhook that sets restartPolicy: OnFailure', () => {
  it('the pod is refused at first sight (configuration: RestartPolicyChanged), deleted, not retried; the task never counts as succeeded', async () => {
    // A marker of this run's own (the sandbox's and the node agent's containers are local processes sharing /tmp).
    const marker = `/tmp/pod-dag-rerun-webhook-${process.pid}-${Date.now()}`;
    const dir = await workspace(
      [
        'version: 1',
        `name: ${DAG}`,
        'tasks:',
        // Fails on its first run; on a second it would "succeed".
        '  once:',
        '    image: busybox:1.37',
        `    command: [sh, -c, 'if [ -e "$1" ]; then echo second run; exit 0; fi; touch "$1"; sleep 1; exit 1', sh, '${marker}']`,
        '    retries: {limit: 2, delay: 10ms}',
        '',
      ].join('\n'),
    );
    try {
      const step = await runStep({ inputs: { dag: 'dag.yaml', kubeconfig: cluster().kubeconfig(), 'keep-pods': 'never' }, env: { GITHUB_RUN_ID: '8200001' }, cwd: dir, deadlineMs: 90_000 });
      expect(step.exitCode, show(step)).toBe(1);
      expect(step.outputs['result']).toBe('failure');
      const log = step.maskedLog.split('\n');
      expect(log.filter((l) => l.startsWith('once attempt ')), show(step)).toEqual([expect.stringMatching(/^once attempt 1 failed on configuration: RestartPolicyChanged: .*spec\.restartPolicy: "OnFailure", but pod-dag-action created it with restartPolicy "Never".*mutating admission webhook/)]);
      expect(step.maskedLog).not.toContain('second run');
      const name = podName({ dag: DAG, runId: '8200001', scope: stepScope(), runAttempt: 1, task: 'once', attempt: 1 });
      expect(await cluster().containerStarts('default', name)).toBeLessThanOrEqual(1);
      expect((await cluster().pods('default')).map((p) => p.metadata?.name)).not.toContain(name);
      if (!cluster().sandbox) expect(reviews).toBeGreaterThanOrEqual(1);
    } finally {
      if (server) {
        const kc = new k8s.KubeConfig();
        kc.loadFromString(cluster().kubeconfig());
        await kc.makeApiClient(k8s.AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: WEBHOOK }).catch(() => undefined);
        server.close();
      }
    }
  }, 100_000);
});
