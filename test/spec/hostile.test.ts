/**
 * A hostile pass over the spec layer (issue 13, "fix the classes"): every map key of the
 * document, every string that is not rendered, every duration and every quantity is checked,
 * wherever it sits, with file:line:col; nothing is dropped or passed through as written.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8, loadSpec } from '../../src/spec/load.ts';
import { parseSpec } from '../../src/spec/parse.ts';
import { parseDuration } from '../../src/spec/duration.ts';
import { templateProblems } from '../../src/spec/prerender.ts';
import { resolveParams } from '../../src/spec/params.ts';

const parse = (text: string) => parseSpec(text, 'dag.yaml');
const messages = (text: string) => parse(text).issues.map((i) => `${i.line}:${i.col} ${i.message}`);
const task = (body: string) => `version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n${body}`;

describe('keys JavaScript treats specially, anywhere in the spec', () => {
  it.each([
    ['an env variable', '    env:\n      __proto__: x\n', 7, 7],
    ['a matrix key', '    strategy:\n      matrix:\n        __proto__: [1, 2]\n', 8, 9],
    ['a matrix include entry', '    strategy:\n      matrix:\n        k: [1]\n        include: [{__proto__: 1}]\n', 9, 20],
    ['a pod label', '    pod:\n      labels: {__proto__: x}\n', 7, 16],
    ['a resource name', '    resources: {requests: {__proto__: "1"}}\n', 6, 28],
  ])('refuses __proto__ as %s, at its key, instead of dropping it or failing inside', (_what, body, line, col) => {
    const found = parse(task(body));
    expect(found.spec).toBeNull();
    expect(found.issues).toContainEqual(expect.objectContaining({ line, col, message: expect.stringContaining('"__proto__"') }));
    expect(found.issues.map((i) => i.message).join('\n')).not.toMatch(/internal|parse\.ts should/);
  });

  it('keeps other names of Object.prototype where they are plain names (an env variable "constructor")', () => {
    const { spec } = parse(task('    env:\n      constructor: x\n      toString: y\n'));
    expect(spec?.tasks[0]!.env.map((e) => e.name)).toEqual(['constructor', 'toString']);
  });
});

describe('keys that are not names', () => {
  it.each([
    ['a list', '  ? [b]\n  : {image: x}\n', '5:5 a list as a key'],
    ['a map', '  ? {b: 1}\n  : {image: x}\n', '5:5 a map as a key'],
    ['empty', '  "": {image: x}\n', '5:3 an empty key'],
  ])('refuses %s as a task id at its line, instead of "the DAG has no tasks"', (_what, tasks, words) => {
    const found = messages(`version: 1\nname: x\ntasks:\n  a: {image: x}\n${tasks}`);
    expect(found).toContainEqual(expect.stringMatching(new RegExp(`^${words} in tasks; keys must be names`)));
    expect(found.join('\n')).not.toContain('has no tasks');
  });
});

describe('{{ }} where templates are not rendered', () => {
  it.each([
    ['a nodeSelector value', '    pod:\n      nodeSelector: {pool: "{{ params.p }}"}\n', 7, 29, 'tasks.a.pod.nodeSelector.pool'],
    ['a Secret name', '    env:\n      A: {secret: "{{ params.p }}", key: k}\n', 7, 20, 'tasks.a.env.A.secret'],
    ['a working directory', '    workingDir: "/w/{{ params.p }}"\n', 6, 21, 'tasks.a.workingDir'],
    ['a label key', '    pod:\n      labels: {"{{ params.p }}": x}\n', 7, 16, 'tasks.a.pod.labels'],
  ])('refuses it in %s, at the braces, saying where templates work', (_what, body, line, col, path) => {
    const found = parse(task(body).replace('tasks:', 'params: {p: v}\ntasks:'));
    expect(found.spec).toBeNull();
    expect(found.issues).toContainEqual(
      expect.objectContaining({ line: line + 1, col, message: expect.stringMatching(new RegExp(`^${path.replace(/\./g, '\\.')}.*not rendered.*image, command, args and env values`)) }),
    );
  });

  it('still renders them in image, command, args and env values, and lets params and descriptions hold braces', () => {
    const text =
      'version: 1\nname: x\nparams:\n  p: {default: "{{ literal }}", description: "say {{ x }}"}\n' +
      'defaults: {image: "busybox:{{ params.p }}"}\n' +
      'tasks:\n  a:\n    command: ["{{ params.p }}"]\n    args: ["{{ params.p }}"]\n    env: {A: "{{ params.p }}"}\n    if: "${{ params.p != \'\' }}"\n';
    expect(messages(text)).toEqual([]);
  });
});

describe('durations', () => {
  it.each([
    ['a task timeout of 0s', '    timeout: 0s\n'],
    ['a task timeout under a second', '    timeout: 500ms\n'],
    ['a start timeout of 0s', '    startTimeout: 0s\n'],
    ['a sensor interval of 0s', '    sensor: {interval: 1s, timeout: 0s}\n'],
  ])('refuses %s (it would end or repeat at once)', (_what, body) => {
    expect(messages(task(body)).join('\n')).toMatch(/at least 1s|a limit of 0s would end at once/);
  });

  it('refuses a DAG timeout of 0s, and keeps sub-second limits that are not a pod deadline', () => {
    expect(messages(task('').replace('tasks:', 'timeout: 0s\ntasks:')).join('\n')).toMatch(/^3:10 timeout: .*a limit of 0s would end at once/);
    expect(messages(task('    startTimeout: 20ms\n').replace('tasks:', 'timeout: 500ms\ntasks:'))).toEqual([]);
  });

  it.each(['99999999999999999999d', '3651d', '87601h'])('refuses %s: longer than ten years, past exact milliseconds and valid dates', (text) => {
    expect(parseDuration(text)).toEqual({ ok: false, reason: 'it is longer than 3650d, the longest duration accepted' });
    expect(messages(task(`    timeout: ${text}\n`)).join('\n')).toMatch(/longer than 3650d/);
  });

  it('keeps 0s where waiting nothing makes sense (a retry delay), and long ones up to 3650d', () => {
    expect(messages(task('    retries: {limit: 1, delay: 0s, maxDelay: 3650d}\n    timeout: 30d\n'))).toEqual([]);
  });
});

describe('quantities', () => {
  it.each(['-1Gi', '-500m', '-1'])('refuses a negative quantity (%s), which the API server would refuse only when the pod is created', (q) => {
    expect(messages(task(`    resources: {requests: {memory: "${q}"}}\n`)).join('\n')).toMatch(/^6:36 .*Kubernetes quantity.*found "-/);
  });
});

describe('templates rendered before anything runs', () => {
  const spec = (body: string, params = '') => {
    const { spec: s, issues } = parse(`version: 1\nname: x\n${params}tasks:\n  up:\n    image: busybox\n  a:\n    needs: [up]\n${body}`);
    expect(issues).toEqual([]);
    return s!;
  };
  const problems = (body: string, params = '', values: Record<string, string> = {}) =>
    templateProblems(spec(body, params), { ...Object.fromEntries([...params.matchAll(/^ {2}(\w+): (.*)$/gm)].map((m) => [m[1]!, JSON.parse(m[2]!) as string])), ...values }).map(
      (i) => `${i.line}:${i.col} ${i.message}`,
    );

  it('reports a fromJSON of bad JSON at the field, instead of an internal error or a task that fails after its upstream ran', () => {
    expect(problems('    image: busybox\n    args: ["{{ fromJSON(params.x).a }}"]\n', 'params:\n  x: "{bad"\n')).toEqual([
      expect.stringMatching(/^11:12 tasks\.a\.args\[0\]: \{\{ fromJSON\(params\.x\)\.a \}\}: .*JSON/),
    ]);
  });

  it('reports a value that is null with the params given', () => {
    expect(problems('    image: busybox\n    env: {A: "{{ fromJSON(params.x).missing }}"}\n', 'params:\n  x: "{}"\n')).toEqual([
      expect.stringMatching(/^11:14 tasks\.a\.env\.A: .*evaluated to null; give a default with \|\|/),
    ]);
  });

  it('leaves what only the run knows (an upstream output) to the run', () => {
    expect(problems('    image: "busybox:{{ tasks.up.outputs.tag }}"\n    args: ["{{ fromJSON(tasks.up.outputs.j).a }}"]\n')).toEqual([]);
  });

  it('refuses a rendered image that is no image reference (a param with a line break), in each matrix leg that makes one', () => {
    expect(problems('    image: "{{ params.img }}"\n', 'params:\n  img: "busybox\\n::error::x"\n')).toEqual([
      expect.stringMatching(/^10:12 tasks\.a\.image: the image renders to "busybox\\n::error::x", which is not an image reference: it holds spaces, line breaks or control characters/),
    ]);
    expect(problems('    image: "{{ matrix.i }}"\n    strategy: {matrix: {i: [busybox, "Bad Image"]}}\n')).toEqual([
      expect.stringMatching(/^8:12 tasks\.a\.image: the image renders to "Bad Image".*\(matrix \{"i":"Bad Image"\}\)$/),
    ]);
  });

  it('shows a rendered image whole or not at all: never the first part of a param (a credential the runner masks only whole)', () => {
    const token = `ghp_${'A1b2C3d4'.repeat(10)}`;
    const [whole] = problems('    image: "registry.example/{{ params.token }} app"\n', `params:\n  token: "${token}"\n`);
    expect(whole).toContain(token);
    const [long] = problems('    image: "registry.example/{{ params.token }}{{ params.token }}{{ params.token }} app"\n', `params:\n  token: "${token}"\n`);
    expect(long).toMatch(/the image renders to \d{3} characters, which is not an image reference/);
    expect(long).not.toContain('ghp_');
  });

  it('bounds the text an expression may make: nested format() calls fail with a message, not gigabytes', () => {
    const bomb = Array.from({ length: 7 }).reduce<string>((inner) => `format('${'{0}'.repeat(10)}', ${inner})`, 'params.x');
    expect(problems(`    image: busybox\n    args: ["{{ ${bomb} }}"]\n`, 'params:\n  x: "xxxxxxxxxxxxxxxxxxxx"\n')).toEqual([
      expect.stringMatching(/format\(\) would make a text of 200,030 characters, more than the 131,072 a value may have/),
    ]);
    const join = `join(fromJSON(format('[{0}]', join(fromJSON('[${Array(300).fill('1').join(',')}]'), format('{0}{0}{0}{0}{0}{0}{0}{0}', params.x)))), params.x)`;
    expect(problems(`    image: busybox\n    args: ["{{ ${join} }}"]\n`, 'params:\n  x: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n').join('\n')).toMatch(/would make a text of .* characters, more than/);
  });
});

describe('image references written out', () => {
  it.each(['busybox', 'busybox:1.37', 'registry.example.com:5000/team/app:2.1', 'localhost/a_b/c-d', `ghcr.io/o/r@sha256:${'a'.repeat(64)}`, '[::1]:5000/a:B.1', 'Registry.Example.com/x'])(
    'accepts %s',
    (image) => expect(messages(`version: 1\nname: x\ntasks:\n  a:\n    image: "${image}"\n`)).toEqual([]),
  );
  it.each([
    ['', 'it is empty'],
    [' ', 'it is empty'],
    ['busy box', 'it holds spaces'],
    ['busybox\\n::error::x', 'it holds spaces, line breaks'],
    ['Busybox:1.37', 'repository names are lowercase; did you mean "busybox:1.37"?'],
    ['busybox::1', 'expected [registry/]repository[:tag][@digest]'],
  ])('refuses %j at its value: %s', (image, words) => {
    expect(messages(`version: 1\nname: x\ntasks:\n  a:\n    image: "${image}"\n`)).toEqual([expect.stringMatching(new RegExp(`^5:12 tasks\\.a\\.image: .* is not an image reference: ${words.replace(/[[\]()?.*]/g, '\\$&')}`))]);
  });
});

describe('numbers where the value becomes text keep the digits they were written with', () => {
  it('in params, env values and matrix values (a number printed as written stays a number)', () => {
    const { spec, issues } = parse(
      'version: 1\nname: x\nparams:\n  v: 1.10\n  id: {default: 0012}\ntasks:\n  a:\n    image: busybox\n' +
        '    env: {V: 1.10, O: 0o17, H: 0x1F, BIG: 123456789012345678901, E: 1e3}\n' +
        '    strategy: {matrix: {py: [3.10, 3.9, 20], include: [{py: 3.12, extra: 1.0}]}}\n',
    );
    expect(issues).toEqual([]);
    expect(spec!.params.map((p) => p.default)).toEqual(['1.10', '0012']);
    const a = spec!.tasks[0]!;
    expect(a.env.map((e) => ('value' in e ? e.value : null))).toEqual(['1.10', '0o17', '0x1F', '123456789012345678901', '1e3']);
    expect(a.strategy?.matrix.kind === 'static' && a.strategy.matrix.instances.map((i) => i.values)).toEqual([{ py: '3.10' }, { py: 3.9 }, { py: 20 }, { py: 3.12, extra: '1.0' }]);
  });

  it('keeps numbers where a number is meant (retries, exit codes, pod fields)', () => {
    const { spec } = parse('version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    retries: {limit: 2, backoff: 1.50}\n    pod: {securityContext: {runAsUser: 1000}}\n');
    expect(spec!.tasks[0]!.retries).toMatchObject({ limit: 2, backoff: 1.5 });
    expect(spec!.tasks[0]!.pod.securityContext).toEqual({ runAsUser: 1000 });
  });

  it('in the params input', () => {
    const spec = { params: ['v', 'id', 'big', 'flag'].map((name) => ({ name, default: 'd', required: false, description: null })) };
    expect(resolveParams(spec, 'v: 1.10\nid: 0012\nbig: 123456789012345678901\nflag: true').params).toEqual({ v: '1.10', id: '0012', big: '123456789012345678901', flag: 'true' });
    expect(resolveParams(spec, '{"v": 2.50, "id": "0012"}').params).toMatchObject({ v: '2.50', id: '0012' });
  });
});

describe('text that is not what YAML reads', () => {
  it('refuses a byte that is not UTF-8 at its line and column, instead of passing U+FFFD to a pod', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-utf8-'));
    await writeFile(path.join(dir, 'dag.yaml'), Buffer.concat([Buffer.from('version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env: {A: "caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    expect((await loadSpec('dag.yaml', dir)).issues.map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual([
      '6:18 the file is not UTF-8 text: byte 0xE9 here does not start a UTF-8 character (was it saved as Latin-1 or UTF-16?); save it as UTF-8',
    ]);
    await writeFile(path.join(dir, 'dag.yaml'), 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env: {A: "café 日本 🚀"}\n');
    expect((await loadSpec('dag.yaml', dir)).spec?.tasks[0]!.env).toEqual([{ name: 'A', value: 'café 日本 🚀' }]);
  });

  it.each<[number[], number | null, string]>([
    [[0x61, 0xc0, 0x80], 1, 'an overlong form'],
    [[0xed, 0xa0, 0x80], 0, 'a surrogate'],
    [[0xf5, 0x80, 0x80, 0x80], 0, 'past U+10FFFF'],
    [[0x61, 0xe6, 0x97], 1, 'a cut sequence'],
    [[0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x9a, 0x80], null, 'valid'],
  ])('firstInvalidUtf8(%j) is %s (%s)', (bytes, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(at);
  });

  it.each([
    ['NUL', '\u0000', '0000'],
    ['ESC', '\u001b[31m', '001B'],
    ['DEL', '\u007f', '007F'],
    ['a C1 control', '\u009b', '009B'],
  ])('refuses a raw %s at its line and column', (_what, char, code) => {
    expect(messages(`version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env: {A: "x${char}y"}\n`)).toEqual([
      expect.stringMatching(new RegExp(`^6:16 the file holds the control character U\\+${code}, which YAML does not allow`)),
    ]);
  });

  it('keeps tabs, CRLF line ends and escapes written in double quotes', () => {
    const { spec, issues } = parse('version: 1\r\nname: x\r\ntasks:\r\n  a:\r\n    image: busybox\r\n    env: {A: "\\x1b[1m\tb"}\r\n');
    expect(issues).toEqual([]);
    expect(spec!.tasks[0]!.env).toEqual([{ name: 'A', value: '\u001b[1m\tb' }]);
  });
});

describe('conditions that read only params, evaluated before anything runs', () => {
  const problems = (cond: string, x: string) => {
    const { spec, issues } = parse(`version: 1\nname: x\nparams: {x: "{}"}\ntasks:\n  up: {image: busybox}\n  a:\n    needs: [up]\n    image: busybox\n    if: ${JSON.stringify(cond)}\n`);
    expect(issues).toEqual([]);
    return templateProblems(spec!, { x }).map((i) => `${i.line}:${i.col} ${i.message}`);
  };
  it('reports bad JSON in fromJSON at the condition, also behind a status function', () => {
    expect(problems('fromJSON(params.x).a', '{bad')).toEqual([expect.stringMatching(/^9:9 tasks\.a\.if: "fromJSON\(params\.x\)\.a" cannot be evaluated: .*JSON/)]);
    expect(problems("failure() && fromJSON(params.x).a == 'y'", '{bad')).toHaveLength(1);
    expect(problems('fromJSON(params.x).a', '{"a": 1}')).toEqual([]);
  });
  it('leaves a condition that reads a task to the run', () => {
    expect(problems("tasks.up.outputs.v == fromJSON(params.x).a", '{bad')).toEqual([]);
  });
});

describe('values the API server would refuse when the task is created, refused before anything runs', () => {
  it.each([
    ['a Secret name', '    env: {A: {secret: Bad_Name, key: k}}\n', '6:23 tasks.a.env.A.secret: Secret name "Bad_Name" is not valid'],
    ['a ConfigMap key', '    env: {A: {configMap: cm, key: "a/b"}}\n', '6:35 tasks.a.env.A.key: key "a/b" is not valid'],
    ['an envFrom prefix', '    envFrom: [{secret: s, prefix: "1x"}]\n', '6:35 tasks.a.envFrom[0].prefix: prefix "1x" is not valid'],
    ['a service account', '    pod: {serviceAccountName: Bad_SA}\n', '6:31 tasks.a.pod.serviceAccountName: service account name "Bad_SA" is not valid'],
    ['an image pull Secret', '    pod: {imagePullSecrets: [{name: "Bad Name"}]}\n', '6:37 tasks.a.pod.imagePullSecrets[0].name: Secret name "Bad Name" is not valid'],
    ['a label key', '    pod: {labels: {"a b": x}}\n', '6:20 tasks.a.pod.labels["a b"]: label key "a b" is not valid'],
    ['a label value', '    pod: {labels: {team: "a b"}}\n', '6:26 tasks.a.pod.labels.team: label value "a b" is not valid'],
    ['an annotation key', '    pod: {annotations: {"::x": y}}\n', '6:25 tasks.a.pod.annotations["::x"]: annotation key "::x" is not valid'],
    ['a nodeSelector key', '    pod: {nodeSelector: {"Example.com/x": y}}\n', '6:26 tasks.a.pod.nodeSelector["Example.com/x"]: label key "Example.com/x" is not valid: its prefix'],
    ['a volume name', '    pod: {volumes: [{name: Data, emptyDir: {}}]}\n', '6:28 tasks.a.pod.volumes[0].name: volume name "Data" is not valid'],
    ['a resource name', '    resources: {requests: {"bad name": "1"}}\n', '6:28 tasks.a.resources.requests["bad name"]: resource name "bad name" is not valid'],
    ['a request above its limit', '    resources: {requests: {cpu: "1500m"}, limits: {cpu: "1"}}\n', '6:33 tasks.a.resources.requests.cpu: the cpu request 1500m is more than its limit 1'],
  ])('%s', (_what, body, want) => {
    expect(messages(task(body))).toContainEqual(expect.stringContaining(want));
  });

  it('accepts what Kubernetes accepts', () => {
    const body =
      '    env: {A: {secret: db.creds-1, key: .pass_word-1}}\n    envFrom: [{configMap: cm, prefix: APP_}]\n' +
      '    resources: {requests: {cpu: 500m, memory: 1Gi, nvidia.com/gpu: "1"}, limits: {cpu: "1", memory: 1Gi, nvidia.com/gpu: 1}}\n' +
      '    pod: {serviceAccountName: runner, labels: {app.kubernetes.io/part-of: x, team: ""}, annotations: {"example.com/Note_1": "any text: here"},\n' +
      '          nodeSelector: {kubernetes.io/arch: amd64}, volumes: [{name: data, secret: {secretName: tls.cert}}]}\n';
    expect(messages(task(body))).toEqual([]);
  });
});

describe('a spec path that names the folder itself', () => {
  it.each(['.', './', ''])('%j is a directory, not a file outside the folder', async (given) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-dot-'));
    await expect(loadSpec(given, dir)).rejects.toThrow(/is a directory; expected a YAML file/);
  });
});
