/**
 * The Kubernetes objects under `pod:` (affinity, tolerations, volumes, volumeMounts, the security
 * contexts) are checked offline against the pinned release's OpenAPI schema, with the same
 * `file:line:col` and did-you-mean as every other spec error, and without refusing anything a
 * real API server takes (int-or-string, quantities, null, every example and README snippet).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseSpec } from '../../src/spec/index.ts';
import { checkKubeObject, checkPodFields, KUBERNETES_VERSION } from '../../src/spec/k8s/check.ts';
import { podSchemas, SCHEMA_SOURCE } from '../../src/spec/k8s/pod-openapi.ts';
import { codeBlocks } from '../docs/markdown.ts';
import { ROOT } from '../harness/action.ts';
// @ts-expect-error: a plain .mjs script without type declarations
import { schemaText } from '../../scripts/gen-schema.mjs';

/** The issues of a spec whose only task has `pod` (YAML, indented under `pod:`), as `line:col path | message`. */
function podIssues(podYaml: string): string[] {
  const text = `version: 1\nname: k8s\ntasks:\n  a:\n    image: busybox\n    pod:\n${podYaml.replace(/^/gm, '      ')}\n`;
  return parseSpec(text, 'dag.yaml').issues.map((i) => `${i.line}:${i.col} ${i.path} | ${i.message}`);
}

describe('the Kubernetes objects under pod:', () => {
  it('a misspelt affinity field is an error at its key, with the field it was meant to be', () => {
    const issues = podIssues(['affinity:', '  nodeAfinity:', '    requiredDuringSchedulingIgnoredDuringExecution:', '      nodeSelectorTerms:', '        - matchExpressions: [{key: org, operator: In, values: [locale]}]'].join('\n'));
    expect(issues).toEqual(['8:9 tasks.a.pod.affinity.nodeAfinity | unknown key "nodeAfinity" in tasks.a.pod.affinity; did you mean "nodeAffinity"?']);
  });

  it('finds typos deep inside lists, and lists the fields when nothing is close', () => {
    const issues = podIssues(
      [
        'affinity:',
        '  nodeAffinity:',
        '    requiredDuringSchedulingIgnoredDuringExecution:',
        '      nodeSelectorTerms:',
        '        - matchExpresions: [{key: org, operator: In, values: [locale]}]',
        'securityContext: {runAsUser: 1000, zzz: 1}',
      ].join('\n'),
    );
    expect(issues).toEqual([
      '11:17 tasks.a.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpresions | unknown key "matchExpresions" in tasks.a.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]; did you mean "matchExpressions"?',
      `12:42 tasks.a.pod.securityContext.zzz | unknown key "zzz" in tasks.a.pod.securityContext; a Kubernetes PodSecurityContext (${KUBERNETES_VERSION}) has the fields: appArmorProfile, fsGroup, fsGroupChangePolicy, runAsGroup, runAsNonRoot, runAsUser, seLinuxChangePolicy, seLinuxOptions, seccompProfile, supplementalGroups, supplementalGroupsPolicy, sysctls, windowsOptions`,
    ]);
  });

  it('wrong types are errors at the value, saying how to write it', () => {
    const issues = podIssues(
      [
        'tolerations:',
        '  - {key: gpu, operator: Exists, effect: NoExecute, tolerationSeconds: "60"}',
        '  - {key: tier, operator: Equal, value: 1}',
        'affinity: {nodeAffinity: required}',
        'volumeMounts: [{name: data, mountPath: /data, readOnly: "true"}]',
        'volumes: [{name: data, emptyDir: {}}]',
      ].join('\n'),
    );
    expect(issues).toEqual([
      '8:78 tasks.a.pod.tolerations[0].tolerationSeconds | tasks.a.pod.tolerations[0].tolerationSeconds: expected a whole number, found "60" (write it without quotes: 60)',
      '9:47 tasks.a.pod.tolerations[1].value | tasks.a.pod.tolerations[1].value: expected a string, found 1 (quote it: "1")',
      '10:32 tasks.a.pod.affinity.nodeAffinity | tasks.a.pod.affinity.nodeAffinity: expected a map (a Kubernetes NodeAffinity), found "required"',
      '11:63 tasks.a.pod.volumeMounts[0].readOnly | tasks.a.pod.volumeMounts[0].readOnly: expected true or false, found "true" (write it without quotes: true)',
    ]);
  });

  it('a missing required field is an error at the object that lacks it', () => {
    const issues = podIssues(['affinity:', '  podAntiAffinity:', '    requiredDuringSchedulingIgnoredDuringExecution:', '      - labelSelector: {matchLabels: {app: db}}'].join('\n'));
    expect(issues).toEqual([
      '10:15 tasks.a.pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey | missing required key "topologyKey" in tasks.a.pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]; a Kubernetes PodAffinityTerm needs "topologyKey"',
    ]);
  });

  it('checks defaults.pod too, and a volume source and quantity inside a volume', () => {
    const text = 'version: 1\nname: k8s\ndefaults:\n  image: busybox\n  pod:\n    volumes:\n      - {name: scratch, emptyDir: {sizeLimit: 4 GB}}\n      - {name: creds, secrett: {secretName: db}}\ntasks:\n  a: {}\n';
    expect(parseSpec(text, 'dag.yaml').issues.map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual([
      '7:47 defaults.pod.volumes[0].emptyDir.sizeLimit: expected a Kubernetes quantity like "500m", "4Gi" or 2, found "4 GB"',
      '8:23 unknown key "secrett" in defaults.pod.volumes[1]; did you mean "secret"?',
    ]);
  });

  it('an unknown enum value is refused with the values the schema lists (when the schema lists them)', () => {
    // The enum values are in the schema only when it was read from a running API server (npm run openapi -- --kubeconfig).
    const toleration = podSchemas()['io.k8s.api.core.v1.Toleration']!;
    const operator = toleration.properties!['operator']!;
    if (operator.enum === undefined) {
      expect(checkKubeObject('io.k8s.api.core.v1.Toleration', { operator: 'Equals' })).toEqual([]);
      return;
    }
    expect(operator.enum).toContain('Equal');
    // "" is unset to the server (effect "" matches every effect): not refused.
    expect(checkKubeObject('io.k8s.api.core.v1.Toleration', { key: 'a', operator: '', effect: '' })).toEqual([]);
    expect(podIssues('tolerations: [{key: gpu, operator: Exists, effect: NoSchedul}]')).toEqual([
      '7:58 tasks.a.pod.tolerations[0].effect | tasks.a.pod.tolerations[0].effect: expected one of "NoExecute", "NoSchedule", "PreferNoSchedule", found "NoSchedul"; did you mean "NoSchedule"?',
    ]);
    expect(checkKubeObject('io.k8s.api.core.v1.Toleration', { key: 'a', operator: 'Equals' })).toEqual([
      { path: ['operator'], at: 'value', kind: 'enum', detail: `expected one of ${operator.enum.map((e) => JSON.stringify(e)).join(', ')}, found "Equals"; did you mean "Equal"?` },
    ]);
  });

  it('takes what the API server takes: int-or-string ports, numeric and string quantities, null, empty objects', () => {
    const pod = parse(`
volumes:
  - name: cache
    emptyDir: {medium: Memory, sizeLimit: 512Mi}
  - name: small
    emptyDir: {sizeLimit: 1}
  - name: cfg
    configMap: {name: app, defaultMode: 420, items: [{key: a, path: a.txt, mode: 256}]}
  - name: empty
    emptyDir: {}
  - name: proj
    projected:
      sources:
        - serviceAccountToken: {audience: vault, expirationSeconds: 3600, path: token}
        - downwardAPI: {items: [{path: cpu, resourceFieldRef: {containerName: main, resource: limits.cpu, divisor: 1m}}]}
  - name: eph
    ephemeral:
      volumeClaimTemplate:
        metadata: {labels: {a: b}}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
volumeMounts:
  - {name: cache, mountPath: /cache, subPathExpr: "$(POD_NAME)", readOnly: true}
securityContext:
  runAsUser: 1000
  runAsNonRoot: true
  fsGroup: 2000
  seccompProfile: {type: RuntimeDefault}
  sysctls: [{name: net.core.somaxconn, value: "1024"}]
containerSecurityContext:
  allowPrivilegeEscalation: false
  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
  seLinuxOptions: ~
tolerations:
  - {operator: Exists}
  - {key: spot, operator: Equal, value: "true", effect: NoExecute, tolerationSeconds: 30}
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 50
        preference: {matchFields: [{key: metadata.name, operator: NotIn, values: [n1]}]}
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector: {matchExpressions: [{key: app, operator: In, values: [db]}]}
        matchLabelKeys: [pod-template-hash]
`) as Record<string, unknown>;
    expect(checkPodFields(pod)).toEqual([]);
    // A probe's port is int-or-string: a number and a name are both fine, a list is not.
    for (const port of [8080, 'http']) expect(checkKubeObject('io.k8s.api.core.v1.Probe', { httpGet: { path: '/', port } })).toEqual([]);
    expect(checkKubeObject('io.k8s.api.core.v1.Probe', { httpGet: { path: '/', port: [1] } })).toEqual([
      { path: ['httpGet', 'port'], at: 'value', kind: 'type', detail: 'expected a whole number or a string, found a list' },
    ]);
  });

  it('a file mode written 0644 (octal in a YAML 1.1 manifest, decimal 644 in a spec) is an error that says both ways to write it', () => {
    const issues = podIssues(['volumes:', '  - {name: cfg, configMap: {name: app, defaultMode: 0644}}', '  - {name: ok, secret: {secretName: s, defaultMode: 0o644, items: [{key: k, path: p, mode: 256}]}}'].join('\n'));
    expect(issues).toEqual([
      '8:59 tasks.a.pod.volumes[0].configMap.defaultMode | tasks.a.pod.volumes[0].configMap.defaultMode: 0644 is the decimal number 644 here (a spec is YAML 1.2), not octal as in a YAML 1.1 manifest; write 0o644 for octal (420) or 644 for decimal',
    ]);
  });

  it('leaves a field of the wrong outer shape to the spec schema: one error, not two', () => {
    expect(podIssues('affinity: fast')).toEqual(['7:17 tasks.a.pod.affinity | tasks.a.pod.affinity: expected a map (a Kubernetes Affinity), found "fast"']);
  });
});

describe('the committed schemas', () => {
  const versions = path.join(ROOT, 'control-plane', 'versions.env');
  // Skipped only until the control plane's pin exists in the repository.
  it.skipIf(!existsSync(versions))('are of the release the real control plane pins (control-plane/versions.env): npm run openapi -- --kubeconfig FILE', () => {
    expect(`K8S_VERSION=${KUBERNETES_VERSION}`).toBe(/^K8S_VERSION=\S+$/m.exec(readFileSync(versions, 'utf8'))?.[0]);
  });

  it('were read from a running API server, which lists the enum values', () => {
    expect(SCHEMA_SOURCE).toBe(`GET /openapi/v3/api/v1 of kube-apiserver ${KUBERNETES_VERSION}`);
  });
});

describe('no false positives', () => {
  /** Every `pod:` map in a YAML document (a spec's defaults.pod and tasks.*.pod). */
  function podMaps(doc: unknown): Record<string, unknown>[] {
    const d = doc as { defaults?: { pod?: unknown }; tasks?: Record<string, { pod?: unknown }> } | null;
    const maps = [d?.defaults?.pod, ...Object.values(d?.tasks ?? {}).map((t) => t?.pod)];
    return maps.filter((m): m is Record<string, unknown> => typeof m === 'object' && m !== null);
  }

  const examples = readdirSync(path.join(ROOT, 'examples'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `examples/${d.name}/dag.yaml`);

  it.each(examples)('%s: every Kubernetes object in it is valid', (file) => {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    expect(parseSpec(text, file).issues).toEqual([]);
  });

  it('the examples do use Kubernetes objects under pod: (so the test above checks some)', () => {
    const objects = examples.flatMap((file) => podMaps(parse(readFileSync(path.join(ROOT, file), 'utf8')))).filter((pod) => pod.affinity !== undefined || pod.tolerations !== undefined);
    expect(objects.length).toBeGreaterThan(1);
  });

  it('the README: every Kubernetes object in its spec snippets is valid', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const pods = codeBlocks(readme)
      .filter((b) => b.lang === 'yaml')
      .flatMap((b) => parseAllDocuments(b.content).flatMap((d) => (d.errors.length ? [] : podMaps(d.toJS()))));
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) expect(checkPodFields(pod)).toEqual([]);
  });
});

describe("the editor's JSON Schema", () => {
  type Def = { $ref?: string; type?: string; properties?: Record<string, Def>; items?: Def; additionalProperties?: Def | boolean; required?: string[]; oneOf?: Def[]; description?: string };
  const schema = JSON.parse(schemaText()) as { $defs: Record<string, Def> };
  const def = (ref: string) => schema.$defs[ref.replace('#/$defs/', '')]!;

  it('points pod.affinity, tolerations, volumes, volumeMounts and the security contexts at the release schemas, strict', () => {
    const pod = schema.$defs['PodOverrides']!.properties!;
    expect(pod['affinity']!.$ref).toBe('#/$defs/io.k8s.api.core.v1.Affinity');
    expect(pod['tolerations']!.items!.$ref).toBe('#/$defs/io.k8s.api.core.v1.Toleration');
    expect(pod['volumes']!.items!.$ref).toBe('#/$defs/io.k8s.api.core.v1.Volume');
    const affinity = def(pod['affinity']!.$ref!);
    expect(affinity.additionalProperties).toBe(false);
    expect(Object.keys(affinity.properties!).sort()).toEqual(['nodeAffinity', 'podAffinity', 'podAntiAffinity']);
    expect(affinity.properties!['nodeAffinity']!.description).toBe('Describes node affinity scheduling rules for the pod.');
    expect(def(pod['tolerations']!.items!.$ref!).properties!['tolerationSeconds']!.type).toBe('integer');
    expect(def('io.k8s.api.core.v1.PodAffinityTerm').required).toEqual(['topologyKey']);
  });

  it('has every reference it makes, and quantities as the API server takes them (a string or a number)', () => {
    const refs = [...schemaText().matchAll(/"\$ref": "([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(100);
    for (const ref of refs) expect(def(ref), ref).toBeDefined();
    expect(def('io.k8s.apimachinery.pkg.api.resource.Quantity').oneOf!.map((o) => o.type)).toEqual(['string', 'number']);
  });

  it('stays a reasonable size for an editor to load', () => {
    expect(schemaText().length).toBeLessThan(150_000);
  });
});
