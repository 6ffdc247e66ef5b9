/**
 * The proof that a pod is the run's own (issue 13, "adopt only our own pod"): signed by a key of
 * the run over the rendered pod's hash, name and labels; refused when signed by no key of the run,
 * when any signed part changed, and when the pod is not the pod rendered.
 */
import { describe, expect, test } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { applyDefaults } from '../../sandbox/admission.ts';
import { coreResource } from '../../sandbox/resources.ts';
import { markRunAttempt, emptyRunState, parseRunState, runKeys } from '../../src/dag/rerun.ts';
import { ANNOTATIONS, renderPod } from '../../src/kube/pod.ts';
import { canonicalJson } from '../../src/common/canonical-json.ts';
import { differsFromRendered, podHash, PodProof, sameProof } from '../../src/kube/pod-proof.ts';
import { parseSpec, renderTemplate } from '../../src/spec/index.ts';

const { spec } = parseSpec(
  `version: 1
name: proof
tasks:
  load:
    image: busybox:1.36
    command: [sh, -c, 'echo "rows=42" > "$POD_DAG_OUTPUT"']
    resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: "1"}}
    env: {MODE: full}
`,
  'dag.yaml',
);
const context = { repository: 'o/r', runId: '99', runAttempt: 1, sha: null, ref: null, serverUrl: 'https://github.com', workflow: null, job: null, actor: null, eventName: null };
const rendered = (): V1Pod =>
  renderPod(spec!.tasks[0]!, 1, { spec: spec!, namespace: 'jobs', runId: '99', context, render: (t) => renderTemplate(t, { params: {}, outputs: {} }) });

/** The pod as the API server stores it: defaults and admission added (the sandbox's model of kube-apiserver). */
const stored = (pod: V1Pod): V1Pod => applyDefaults(structuredClone(pod) as never, coreResource('pods'), '2026-12-03T18:00:00Z') as V1Pod;

describe('proof', () => {
  test('a pod proved by this process verifies, and names the hash of the pod as rendered', () => {
    const proof = new PodProof();
    const pod = proof.prove(rendered());
    const v = proof.verify(stored(pod));
    expect(v).toEqual({ ok: true, proof: { hash: podHash(rendered()) } });
    // The proof annotations are not part of what is hashed.
    expect(podHash(pod)).toBe(podHash(rendered()));
    expect(pod.metadata?.annotations?.[ANNOTATIONS.proof]).toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  test('a pod proved by another key is refused until that key is trusted (a restart reads the run keys from the state)', () => {
    const first = new PodProof();
    const pod = first.prove(rendered());
    const restart = new PodProof();
    const refused = restart.verify(pod);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.problem).toMatch(/no process of this run signed/);
    restart.trust([first.publicKey, 'not a key', '']);
    expect(restart.verify(pod).ok).toBe(true);
    expect(restart.trustedCount).toBe(2);
  });

  test('a pod with no proof, a malformed one, or a proof moved to other labels, another name or another hash is refused', () => {
    const proof = new PodProof();
    const pod = proof.prove(rendered());
    const edit = (f: (p: V1Pod) => void): V1Pod => {
      const p = structuredClone(pod);
      f(p);
      return p;
    };
    const problem = (p: V1Pod): string => {
      const v = proof.verify(p);
      return v.ok ? 'verified' : v.problem;
    };
    expect(problem(rendered())).toMatch(/carries no proof/);
    expect(problem(edit((p) => (p.metadata!.annotations![ANNOTATIONS.proof] = 'x')))).toMatch(/malformed/);
    expect(problem(edit((p) => (p.metadata!.labels!['pod-dag.io/task-attempt'] = '2')))).toMatch(/no process of this run signed/);
    expect(problem(edit((p) => (p.metadata!.labels!['pod-dag.io/run-id'] = '100')))).toMatch(/no process of this run signed/);
    expect(problem(edit((p) => (p.metadata!.name = 'proof-99-1-other-1')))).toMatch(/no process of this run signed/);
    expect(problem(edit((p) => (p.metadata!.namespace = 'elsewhere')))).toMatch(/no process of this run signed/);
    expect(problem(edit((p) => (p.metadata!.annotations![ANNOTATIONS.proofHash] = 'a'.repeat(64))))).toMatch(/no process of this run signed/);
    // Annotations others add do not matter: what runs is not changed by them.
    expect(problem(edit((p) => (p.metadata!.annotations!['someone/else'] = 'x')))).toBe('verified');
  });

  test('canonical JSON does not depend on key order, and leaves undefined members out', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: undefined, w: null }] })).toBe(canonicalJson({ a: [{ w: null, y: 2 }], b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });
});

describe('the pod found is the pod rendered', () => {
  const ours = (): V1Pod => new PodProof().prove(rendered());

  test('what the API server adds (defaults, admission, the token mount, tolerations, volumes) and equal quantities are the same pod', () => {
    const pod = stored(ours());
    pod.spec!.containers[0]!.resources!.requests!['cpu'] = '0.5';
    pod.spec!.containers[0]!.resources!.limits!['cpu'] = '1000m';
    pod.spec!.volumes = [{ name: 'kube-api-access-x', projected: { sources: [] } }];
    pod.spec!.containers[0]!.volumeMounts = [{ name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }];
    pod.spec!.nodeName = 'node-1';
    expect(differsFromRendered(pod, ours())).toBeNull();
  });

  test.each<[string, (p: V1Pod) => void, RegExp]>([
    ['another command', (p) => (p.spec!.containers[0]!.command = ['sh', '-c', 'echo rows=666 > $POD_DAG_OUTPUT']), /spec\.containers\[0\]\.command\[2\] is/],
    ['another image', (p) => (p.spec!.containers[0]!.image = 'evil:1'), /spec\.containers\[0\]\.image is "evil:1", not "busybox:1.36"/],
    ['an env var more', (p) => p.spec!.containers[0]!.env!.push({ name: 'X', value: '1' }), /spec\.containers\[0\]\.env has 3 entries, not 2/],
    ['args where we set none', (p) => (p.spec!.containers[0]!.args = ['x']), /spec\.containers\[0\]\.args is \["x"\], which the pod as rendered does not set/],
    ['a mount over the binaries', (p) => (p.spec!.containers[0]!.volumeMounts = [{ name: 'v', mountPath: '/bin' }]), /mounts "\/bin"/],
    ['an init container', (p) => (p.spec!.initContainers = [{ name: 'i', image: 'evil' }]), /spec\.initContainers is .*which the pod as rendered does not set/],
    ['a second container', (p) => p.spec!.containers.push({ name: 'side', image: 'evil' }), /spec\.containers has 2 entries, not 1/],
    ['a shared process namespace', (p) => (p.spec!.shareProcessNamespace = true), /spec\.shareProcessNamespace is true/],
    ['another cpu request', (p) => (p.spec!.containers[0]!.resources!.requests!['cpu'] = '2'), /requests\.cpu is "2", not "500m"/],
  ])('%s is another pod', (_what, change, message) => {
    const pod = stored(ours());
    change(pod);
    expect(differsFromRendered(pod, ours())).toMatch(message);
  });
});

describe('keys in the run state', () => {
  test('each start of a run attempt adds its key; the end keeps them; the state parses back; runKeys lists all attempts', () => {
    let s = emptyRunState('proof', '99', 1);
    s = markRunAttempt(s, 1, 2, undefined, undefined, 'k1');
    s = markRunAttempt(s, 1, 3, undefined, undefined, 'k2'); // a restart after a kill
    s = markRunAttempt(s, 1, 4, undefined, undefined, 'k2'); // the same start written twice (a retried write)
    s = markRunAttempt(s, 1, 5, 'failure');
    s = markRunAttempt(s, 2, 6, undefined, undefined, 'k3');
    expect(s.runAttempts.map((r) => r.keys)).toEqual([['k1', 'k2'], ['k3']]);
    expect(runKeys(parseRunState(JSON.stringify(s), 'test'))).toEqual(['k1', 'k2', 'k3']);
    expect(runKeys(null)).toEqual([]);
  });
});

describe('sameProof', () => {
  test('true only for the very proof sent, over the same name, namespace and signed labels', () => {
    const proof = new PodProof();
    const sent = proof.prove(rendered());
    expect(sameProof(stored(sent), sent)).toBe(true);
    const moved = structuredClone(sent);
    moved.metadata!.labels!['pod-dag.io/task-attempt'] = '2';
    expect(sameProof(moved, sent)).toBe(false);
    expect(sameProof(new PodProof().prove(rendered()), sent)).toBe(false);
    expect(sameProof(rendered(), rendered())).toBe(false);
  });
});
