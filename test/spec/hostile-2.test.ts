/**
 * A second hostile pass over the spec (issue 13): what the first (hostile.test.ts) left open.
 * Each `describe` is one class of defect, each found failing before its fix.
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/parse.ts';

const parse = (text: string) => parseSpec(text, 'dag.yaml');
const messages = (text: string) => parse(text).issues.map((i) => `${i.line}:${i.col} ${i.message}`);

describe('{{ }} in a matrix written out (it would reach {{ matrix.<key> }} as written)', () => {
  const spec = (matrix: string) => `version: 1\nname: x\nparams: {p: v}\ntasks:\n  a:\n    image: busybox\n    args: ["{{ matrix.k }}"]\n    strategy:\n      matrix:\n${matrix}`;
  it.each([
    ['a value of a list', '        k: [1, "{{ params.p }}"]\n', '10:17', 'tasks.a.strategy.matrix.k[1]'],
    ['a value of an include entry', '        k: [1]\n        include:\n          - {k: 2, extra: "{{ params.p }}"}\n', '12:28', 'tasks.a.strategy.matrix.include[0].extra'],
    ['a value of an exclude entry', '        k: [1, 2]\n        exclude:\n          - {k: "{{ params.p }}"}\n', '12:18', 'tasks.a.strategy.matrix.exclude[0].k'],
    ['a key', '        "{{ params.p }}": [1]\n', '10:9', 'tasks.a.strategy.matrix["{{ params.p }}"]'],
  ])('refuses it in %s, at the braces, and says how to compute a matrix', (_what, matrix, at, path) => {
    const found = parse(spec(matrix));
    expect(found.spec).toBeNull();
    const all = messages(spec(matrix));
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^${at} ${path.replace(/[[\]{}.()]/g, '\\$&')}: a \\{\\{ \\}\\} template is not rendered in a matrix written out`)));
    expect(all.join('\n')).toContain('"{{ fromJSON(params.shards) }}"');
  });

  it('still takes a matrix that is one expression, and values with braces that are not templates', () => {
    expect(messages(`version: 1\nname: x\nparams: {m: '{"k": [1]}'}\ntasks:\n  a:\n    image: busybox\n    strategy:\n      matrix: "{{ fromJSON(params.m) }}"\n`)).toEqual([]);
    expect(messages(spec('        k: ["{a}", "}}"]\n'))).toEqual([]);
  });
});

describe('a value shared through an anchor or a merge key is reported where it is written', () => {
  it('through a merge key: at the value in the merged map, not at the task that merges it', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a:\n    <<: [{timeout: 5}, {image: busybox}]\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^5:20 tasks\.a\.timeout: expected a duration string/)]);
  });

  it('through a merge key of an anchored map, in a later task', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a: &base\n    image: busybox\n    startTimeout: 0s\n  b:\n    <<: *base\n    command: [echo]\n';
    expect(messages(text)).toEqual([
      expect.stringMatching(/^6:19 tasks\.a\.startTimeout: .*a limit of 0s would end at once/),
      expect.stringMatching(/^6:19 tasks\.b\.startTimeout: .*a limit of 0s would end at once/),
    ]);
  });

  it('through an alias: inside the anchored value, for each task that uses it', () => {
    const text = 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env: &env\n      X: {secret: 1, key: k}\n  b:\n    image: busybox\n    env: *env\n';
    expect(messages(text)).toEqual([
      expect.stringMatching(/^7:19 tasks\.a\.env\.X\.secret: expected the name of a Secret/),
      expect.stringMatching(/^7:19 tasks\.b\.env\.X\.secret: expected the name of a Secret/),
    ]);
  });

  it('tasks brought in by a merge key are tasks (an internal error before: the task order had "<<" in it)', () => {
    const text = 'version: 1\nname: x\ntasks:\n  <<: {a: {image: busybox}}\n  b: {image: busybox, needs: [a]}\n';
    const { spec, issues } = parse(text);
    expect(issues).toEqual([]);
    expect(spec?.tasks.map((t) => [t.id, t.needs])).toEqual([
      ['a', []],
      ['b', ['a']],
    ]);
  });

  it('a {{ }} brought by an alias where templates are not rendered is refused, at the anchored value', () => {
    const text = 'version: 1\nname: x\nparams: {p: v}\ntasks:\n  a:\n    image: busybox\n    env: &e {POOL: "{{ params.p }}"}\n    pod:\n      nodeSelector: *e\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^7:21 tasks\.a\.pod\.nodeSelector\.POOL: a \{\{ \}\} template is not rendered/)]);
  });

  it("a task's own key still wins over a merged one", () => {
    const text = 'version: 1\nname: x\ntasks:\n  a:\n    <<: {image: busybox, timeout: 5m}\n    timeout: 0s\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^6:14 tasks\.a\.timeout: .*at least 1s/)]);
  });
});

describe("what the API server checks across a pod's volumes and mounts, before the run gets there", () => {
  const spec = (defaults: string, pod: string) => `version: 1\nname: x\ndefaults:\n  image: busybox\n${defaults}tasks:\n  first: {}\n  a:\n    needs: [first]\n    pod:\n${pod}`;
  it('a mount that names no volume of the pod', () => {
    const text = spec('', '      volumes: [{name: data, emptyDir: {}}]\n      volumeMounts: [{name: dta, mountPath: /d}]\n');
    expect(messages(text)).toEqual([
      '11:29 tasks.a.pod.volumeMounts[0].name: volume mount "dta" names no volume of the pod; its volumes are "data". Add the volume under pod.volumes, or correct the name; did you mean "data"?',
    ]);
  });

  it("a mount of defaults whose volume the task's own volumes replace, reported for that task only", () => {
    const text = spec('  pod:\n    volumes: [{name: cache, emptyDir: {}}]\n    volumeMounts: [{name: cache, mountPath: /c}]\n', '      volumes: [{name: data, emptyDir: {}}]\n');
    expect(messages(text)).toEqual([
      `7:27 defaults.pod.volumeMounts[0].name: volume mount "cache" names no volume of task "a"'s pod, whose volumes are tasks.a.pod.volumes; its volumes are "data". Add the volume under pod.volumes, or correct the name`,
    ]);
  });

  it('a volume with no source, or two', () => {
    const text = spec('', '      volumes:\n        - {name: a}\n        - {name: b, emptyDir: {}, secret: {secretName: s}}\n');
    expect(messages(text)).toEqual([
      '11:11 tasks.a.pod.volumes[0]: volume "a" has no source; a Kubernetes Volume needs exactly one, such as emptyDir, configMap, secret or persistentVolumeClaim',
      '12:11 tasks.a.pod.volumes[1]: volume "b" has 2 sources (emptyDir, secret); a Kubernetes Volume needs exactly one, such as emptyDir, configMap, secret or persistentVolumeClaim',
    ]);
  });

  it('two volumes of one name, two mounts of one path', () => {
    const text = spec('', '      volumes: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]\n      volumeMounts: [{name: a, mountPath: /d}, {name: a, mountPath: /d}]\n');
    expect(messages(text)).toEqual([
      '10:49 tasks.a.pod.volumes[1].name: volume name "a" is used twice (also at line 10); each volume of a pod needs a name of its own',
      '11:69 tasks.a.pod.volumeMounts[1].mountPath: mount path "/d" is used twice (also by tasks.a.pod.volumeMounts[0]); each mount of a container needs a path of its own',
    ]);
  });

  it("takes a task's mount of a volume of defaults, and a source given as null next to one given", () => {
    expect(messages(spec('  pod:\n    volumes: [{name: cache, emptyDir: {}}]\n', '      volumeMounts: [{name: cache, mountPath: /c}]\n'))).toEqual([]);
    expect(messages(spec('', '      volumes: [{name: a, emptyDir: {}, secret: null}]\n      volumeMounts: [{name: a, mountPath: /a, readOnly: true}]\n'))).toEqual([]);
  });
});

describe("a container's resources as the API server checks them, once defaults are merged in", () => {
  const spec = (defaults: string, resources: string) => `version: 1\nname: x\ndefaults:\n  image: busybox\n${defaults}tasks:\n  first: {}\n  a:\n    needs: [first]\n    resources:\n${resources}`;
  it('a request of defaults above the limit a task gives, at the request, naming where the limit is', () => {
    expect(messages(spec('  resources: {requests: {cpu: "2"}}\n', '      limits: {cpu: "1"}\n'))).toEqual([
      '5:31 defaults.resources.requests.cpu: the cpu request 2 is more than its limit 1; a request must be at most the limit (task "a" gets its limit from tasks.a.resources.limits.cpu)',
    ]);
  });

  it('a request of defaults that a task makes right is no problem; one no task makes right is reported once', () => {
    expect(messages(spec('  resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}\n', '      limits: {cpu: "4"}\n'))).toEqual([
      '5:31 defaults.resources.requests.cpu: the cpu request 2 is more than its limit 1; a request must be at most the limit',
    ]);
    expect(messages(spec('  resources: {requests: {cpu: "2"}}\n', '      limits: {cpu: "4"}\n'))).toEqual([]);
  });

  it('an extended resource (a GPU) cannot be overcommitted: its request needs a limit, equal to it', () => {
    expect(messages(spec('', '      requests: {nvidia.com/gpu: 1}\n'))).toEqual([
      '10:34 tasks.a.resources.requests["nvidia.com/gpu"]: the nvidia.com/gpu request 1 has no limit; nvidia.com/gpu cannot be overcommitted, so its limit must be set, equal to the request (or give only the limit)',
    ]);
    expect(messages(spec('', '      requests: {nvidia.com/gpu: 1}\n      limits: {nvidia.com/gpu: 2}\n'))).toEqual([
      '10:34 tasks.a.resources.requests["nvidia.com/gpu"]: the nvidia.com/gpu request 1 is not its limit 2; nvidia.com/gpu cannot be overcommitted, so its request must equal its limit (or give only the limit)',
    ]);
    expect(messages(spec('', '      limits: {nvidia.com/gpu: 2}\n'))).toEqual([]);
  });

  it('a resource name that is neither standard nor an extended one with its domain', () => {
    expect(messages(spec('', '      requests: {cpus: "1", gpu: 1, hugepages-2Mi: 1Gi, example.com/foo: 1}\n      limits: {hugepages-2Mi: 1Gi, example.com/foo: 1}\n'))).toEqual([
      '10:18 tasks.a.resources.requests.cpus: resource name "cpus" is not valid: it is neither a standard resource (cpu, memory, ephemeral-storage, hugepages-<size>) nor an extended resource named with its domain (e.g. nvidia.com/gpu); did you mean "cpu"?',
      '10:29 tasks.a.resources.requests.gpu: resource name "gpu" is not valid: it is neither a standard resource (cpu, memory, ephemeral-storage, hugepages-<size>) nor an extended resource named with its domain (e.g. nvidia.com/gpu)',
    ]);
  });
});

describe("GitHub's secrets context in a template", () => {
  it('points to a Kubernetes Secret, never to passing the secret as a param (which writes it into the pod spec)', () => {
    const found = messages('version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    args: ["{{ secrets.TOKEN }}"]\n');
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('keep the secret in a Kubernetes Secret and read it with env: {NAME: {secret: <secret>, key: <key>}}');
    expect(found[0]).not.toContain('params input');
  });
});

describe('the rules the API server checks inside tolerations and selector requirements', () => {
  const pod = (body: string) => `version: 1\nname: x\ntasks:\n  first: {image: busybox}\n  a:\n    image: busybox\n    needs: [first]\n    pod:\n${body}`;
  it('tolerations: a value with Exists, no key without Exists, tolerationSeconds without NoExecute', () => {
    const text = pod('      tolerations:\n        - {key: gpu, operator: Exists, value: "true"}\n        - {operator: Equal, value: x}\n        - {key: k, operator: Exists, effect: NoSchedule, tolerationSeconds: 60}\n');
    expect(messages(text)).toEqual([
      '10:47 tasks.a.pod.tolerations[0].value: a toleration with operator Exists takes no value (it tolerates every value of the key); remove value "true", or use operator Equal',
      '11:22 tasks.a.pod.tolerations[1].operator: a toleration without a key must have operator Exists (it then tolerates every taint); give the key of the taint, or operator: Exists',
      '12:58 tasks.a.pod.tolerations[2].tolerationSeconds: tolerationSeconds goes with effect NoExecute (how long the pod stays once such a taint appears); found effect "NoSchedule"',
    ]);
  });

  it('node affinity: In without values, Exists with values, Gt with a value that is no number, a required affinity without terms', () => {
    const text = pod(
      [
        '      affinity:',
        '        nodeAffinity:',
        '          requiredDuringSchedulingIgnoredDuringExecution:',
        '            nodeSelectorTerms:',
        '              - matchExpressions:',
        '                  - {key: zone, operator: In, values: []}',
        '                  - {key: gpu, operator: Exists, values: ["a"]}',
        '                  - {key: cores, operator: Gt, values: ["many"]}',
        '',
      ].join('\n'),
    );
    expect(messages(text)).toEqual([
      '14:43 tasks.a.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: operator In needs at least one value in values',
      '15:58 tasks.a.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: operator Exists takes no values; remove them, or use operator In',
      '16:56 tasks.a.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values: operator Gt needs exactly one value, a whole number written as a string (e.g. ["4"])',
    ]);
    expect(messages(pod('      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}\n'))).toEqual([
      '9:82 tasks.a.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: a required node affinity needs at least one term in nodeSelectorTerms (a node matching any term qualifies)',
    ]);
  });

  it('pod anti-affinity: a label selector requirement', () => {
    const text = pod('      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - topologyKey: kubernetes.io/hostname\n              labelSelector: {matchExpressions: [{key: app, operator: NotIn}]}\n');
    expect(messages(text)).toEqual([
      '13:71 tasks.a.pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: operator NotIn needs at least one value in values',
    ]);
  });

  it('takes what the API server takes', () => {
    const text = pod(
      [
        '      tolerations:',
        '        - {operator: Exists}',
        '        - {key: gpu, operator: Equal, value: "true", effect: NoExecute, tolerationSeconds: 30}',
        '        - {key: k, value: v}',
        '      affinity:',
        '        nodeAffinity:',
        '          requiredDuringSchedulingIgnoredDuringExecution:',
        '            nodeSelectorTerms: [{matchExpressions: [{key: cores, operator: Gt, values: ["4"]}, {key: gpu, operator: DoesNotExist}]}]',
        '',
      ].join('\n'),
    );
    expect(messages(text)).toEqual([]);
  });
});

describe('security contexts the API server refuses', () => {
  const pod = (body: string) => `version: 1\nname: x\ntasks:\n  first: {image: busybox}\n  a:\n    image: busybox\n    needs: [first]\n    pod:\n${body}`;
  it('no privilege escalation with privileged or SYS_ADMIN; Localhost profiles without their name, a name without Localhost', () => {
    const text = pod(
      [
        '      containerSecurityContext: {privileged: true, allowPrivilegeEscalation: false}',
        '      securityContext:',
        '        seccompProfile: {type: Localhost}',
        '        appArmorProfile: {type: RuntimeDefault, localhostProfile: p}',
        '',
      ].join('\n'),
    );
    expect(messages(text)).toEqual([
      '9:78 tasks.a.pod.containerSecurityContext.allowPrivilegeEscalation: allowPrivilegeEscalation: false cannot go with privileged: true (a privileged container can always escalate); drop one of them',
      '11:32 tasks.a.pod.securityContext.seccompProfile.type: seccompProfile type Localhost needs localhostProfile: the profile\'s name on the node',
      '12:49 tasks.a.pod.securityContext.appArmorProfile.localhostProfile: localhostProfile goes only with appArmorProfile type Localhost; found type "RuntimeDefault"',
    ]);
    expect(messages(pod('      containerSecurityContext: {allowPrivilegeEscalation: false, capabilities: {add: [SYS_ADMIN]}}\n'))).toEqual([
      '9:60 tasks.a.pod.containerSecurityContext.allowPrivilegeEscalation: allowPrivilegeEscalation: false cannot go with the capability SYS_ADMIN; drop one of them',
    ]);
  });

  it('takes the usual hardened context', () => {
    const text = pod('      containerSecurityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}\n      securityContext: {runAsNonRoot: true, seccompProfile: {type: Localhost, localhostProfile: profiles/a.json}}\n');
    expect(messages(text)).toEqual([]);
  });
});

describe('a required param not given, from the terminal', () => {
  it('names --params, not the action input the CLI has not got', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { runCli } = await import('../../src/cli/commands.ts');
    const cwd = await mkdtemp(path.join(tmpdir(), 'pod-dag-params-'));
    await writeFile(path.join(cwd, 'dag.yaml'), 'version: 1\nname: x\nparams: {day: {required: true}}\ntasks:\n  a: {image: busybox, args: ["{{ params.day }}"]}\n');
    let stderr = '';
    const code = await runCli(['plan', 'dag.yaml'], { cwd, env: {}, stdout: () => {}, stderr: (t) => (stderr += t), signal: new AbortController().signal });
    expect(code).toBe(2);
    expect(stderr).toBe('--params: param "day" is required; give it in --params (e.g. "day: value")\n');
  });
});
