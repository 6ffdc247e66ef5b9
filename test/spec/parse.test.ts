/**
 * parseSpec on whole files: each invalid fixture under fixtures/ maps to the exact issues a
 * user sees (`line:col path: message`), so a change of wording or position is a visible diff.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/index.ts';

const fixtures = join(import.meta.dirname, 'fixtures');

function issuesOf(name: string): string[] {
  const { spec, issues } = parseSpec(readFileSync(join(fixtures, name), 'utf8'), `fixtures/${name}`);
  expect(spec).toBeNull();
  for (const i of issues) expect(i.file).toBe(`fixtures/${name}`);
  return issues.map((i) => `${i.line}:${i.col} ${i.path} | ${i.message}`);
}

function parseText(text: string) {
  return parseSpec(text, 'inline.yaml');
}

const cases: { name: string; file: string; want: string[] }[] = [
  {
    name: 'YAML syntax error, at its position',
    file: 'syntax-error.yaml',
    want: ['5:12  | YAML syntax error: Nested mappings are not allowed in compact mappings; a value that holds ": " must be quoted (key: "a: b"), a map under a key goes on the lines below it, indented, and a key on the line below that is indented more than this one must be aligned with it'],
  },
  {
    name: 'duplicate keys, in a task and among tasks, pointing at the second one',
    file: 'duplicate-key.yaml',
    want: [
      '8:5 tasks.b.image | duplicate key "image" in task "b" (first defined at line 7, column 5); YAML keys must be unique: remove one, or rename it',
      '9:3 tasks.a | duplicate key "a" in tasks (first defined at line 4, column 3); YAML keys must be unique: remove one, or rename it',
    ],
  },
  {
    name: 'unknown keys with a close match suggested, or the allowed keys listed',
    file: 'unknown-key.yaml',
    want: [
      '7:5 tasks.create-db.need | unknown key "need" in task "create-db"; did you mean "needs"?',
      '9:5 tasks.create-db.retires | unknown key "retires" in task "create-db"; did you mean "retries"?',
      '10:5 tasks.create-db.colour | unknown key "colour" in task "create-db"; expected one of: needs, if, strategy, sensor, image, command, args, env, envFrom, workingDir, resources, retries, timeout, startTimeout, pod',
    ],
  },
  {
    name: 'wrong types say what was expected and what was found',
    file: 'wrong-type.yaml',
    want: [
      '6:14 tasks.migrate-data.command | tasks.migrate-data.command: expected a list of strings (the entrypoint); values are never passed through a shell, found "echo hello" (write a list, e.g. [echo, hello], or [sh, -c, "echo hello"] if it needs a shell)',
      '8:14 tasks.migrate-data.retries.limit | tasks.migrate-data.retries.limit: expected a whole number >= 0, found "two"',
      '9:16 tasks.migrate-data.retries.backoff | tasks.migrate-data.retries.backoff: expected a number >= 1, found 0.5',
      '11:7 tasks.migrate-data.env.DEBUG.key | missing required key "key" in tasks.migrate-data.env.DEBUG; expected the key inside the Secret or ConfigMap',
    ],
  },
  {
    name: 'bad durations: a bare number, an unknown unit, units out of order',
    file: 'bad-duration.yaml',
    want: [
      '3:10 timeout | timeout: expected a duration string like "90s", "3m" or "1h30m", found 90 (a number has no unit: write "90s" for seconds or "90m" for minutes)',
      '7:14 tasks.a.timeout | tasks.a.timeout: expected a duration string like "90s", "3m" or "1h30m", found "3 minutes": units are d, h, m, s and ms, each after a whole number',
      '8:19 tasks.a.startTimeout | tasks.a.startTimeout: expected a duration string like "90s", "3m" or "1h30m", found "30m1h": each unit may appear once, largest first ("1h30m", not "30m1h")',
    ],
  },
  {
    name: 'unknown need with a suggestion, and a cycle spelled out',
    file: 'graph-errors.yaml',
    want: [
      '6:13 tasks.a.needs[0] | dependency cycle: a → c → b → a (each task needs the next, so none of them can ever start); remove one of these needs',
      '9:16 tasks.b.needs[1] | task "b" needs "creat-db", which is not a task; did you mean "create-db"?',
    ],
  },
  {
    name: 'DAG name and task ids that cannot be pod names or label values, with the fixed name',
    file: 'bad-names.yaml',
    want: [
      '2:7 name | DAG name "My_DAG" is not valid: it must be a lowercase RFC 1123 label: only a-z, 0-9 and "-", starting and ending with a letter or digit (it is used in pod names and labels); try "my-dag"',
      '4:3 tasks.Migrate_Data | task id "Migrate_Data" is not valid: it must be a lowercase RFC 1123 label: only a-z, 0-9 and "-", starting and ending with a letter or digit (task ids are used in pod names and label values); rename it to "migrate-data"',
      '6:3 tasks.this-task-id-is-far-too-long-to-fit-in-a-pod-name | task id "this-task-id-is-far-too-long-to-fit-in-a-pod-name" is not valid: it is 49 characters long, the limit is 40 (task ids are used in pod names and label values); rename it to "this-task-id-is-far-too-long-to-fit-in-a"',
    ],
  },
  {
    name: 'templates: unknown param, non-upstream task, unknown task, outputs in defaults, malformed',
    file: 'template-errors.yaml',
    want: [
      '6:19 defaults.image | defaults.image: {{ tasks.a.outputs.tag }}: defaults apply to every task, so they cannot use task outputs; move this value to the tasks that need it',
      '9:22 tasks.a.command[1] | tasks.a.command[1]: {{ params.destinaton_db }}: unknown param "destinaton_db"; did you mean "destination_db"? (declared params: destination_db)',
      '11:22 tasks.b.command[1] | tasks.b.command[1]: {{ tasks.c.outputs.x }}: task "c" is not upstream of "b", so it may not have run yet; add "c" to tasks.b.needs (directly or through a task it needs)',
      // `params` alone is now a valid expression (GitHub's whole context), but not text.
      '11:49 tasks.b.command[2] | tasks.b.command[2]: {{ params }} is a map, not text; write {{ params.<name> }}, or {{ toJSON(params) }} to pass it as JSON',
      '14:49 tasks.c.command[2] | tasks.c.command[2]: {{ tasks.nope.outputs.x }}: task "nope" does not exist',
    ],
  },
  {
    name: 'if: a parse error at the column inside the expression, non-upstream result, unknown param',
    file: 'if-errors.yaml',
    want: [
      '11:22 tasks.b.if | tasks.b.if: expected a value (a reference, a function call, a string in single quotes, a number, true, false or null), found "&&" at column 14 of the expression "success() && && params.env == \'prod\'"',
      '15:14 tasks.c.if | tasks.c.if: tasks.b.result: task "b" is not upstream of "c", so it may not have run yet; add "b" to tasks.c.needs (directly or through a task it needs)',
      '19:21 tasks.d.if | tasks.d.if: params.nope: unknown param "nope" (declared params: env)',
    ],
  },
  {
    name: 'several kinds of errors at once, sorted by position',
    file: 'many-errors.yaml',
    want: [
      '2:7 name | DAG name "Nightly" is not valid: it must be a lowercase RFC 1123 label: only a-z, 0-9 and "-", starting and ending with a letter or digit (it is used in pod names and labels); try "nightly"',
      '3:1 retires | unknown key "retires" at the top level; expected one of: version, name, namespace, params, defaults, tasks, timeout',
      '7:13 tasks.a.needs[0] | task "a" needs "bb", which is not a task; did you mean "b"?',
      '8:5 tasks.a.need | unknown key "need" in task "a"; did you mean "needs"?',
      '11:14 tasks.b.timeout | tasks.b.timeout: expected a duration string like "90s", "3m" or "1h30m", found 5 (a number has no unit: write "5s" for seconds or "5m" for minutes)',
      '12:9 tasks.b.if | tasks.b.if: always() takes no arguments at column 1 of the expression "always(1)"',
    ],
  },
];

describe('parseSpec reports every problem with its position', () => {
  it.each(cases)('$name', ({ file, want }) => {
    expect(issuesOf(file)).toEqual(want);
  });
});

describe('parseSpec edge cases', () => {
  it.each([
    { name: 'empty file', text: '', want: ['1:1  | the spec is empty; expected a map with version, name and tasks'] },
    {
      name: 'a list instead of a map',
      text: '- a\n- b\n',
      want: ['1:1  | the spec: expected a map with version, name, tasks…, found a list'],
    },
    {
      name: 'missing name and tasks',
      text: 'version: 1\n',
      want: [
        '1:1 name | missing required key "name" at the top level; expected the DAG name (a lowercase DNS label)',
        '1:1 tasks | missing required key "tasks" at the top level; expected a map of task id → task',
      ],
    },
    {
      name: 'wrong version',
      text: 'version: 2\nname: x\ntasks: {a: {image: busybox}}\n',
      want: ['1:10 version | version: expected 1 (the only spec version), found 2'],
    },
    {
      name: 'the version as a string says to drop the quotes',
      text: 'version: "1"\nname: x\ntasks: {a: {image: busybox}}\n',
      want: ['1:10 version | version: expected the number 1 (the only spec version), found the string "1"; drop the quotes: version: 1'],
    },
    {
      name: 'a task listed twice in needs, at the repeat, known or not',
      text: 'version: 1\nname: x\ndefaults: {image: busybox}\ntasks:\n  a: {}\n  b:\n    needs: [a, zz, a, zz]\n',
      want: [
        '7:16 tasks.b.needs[1] | task "b" needs "zz", which is not a task',
        '7:20 tasks.b.needs[2] | task "b" lists "a" twice in needs (as needs[0] and needs[2]); list each task once',
        '7:23 tasks.b.needs[3] | task "b" lists "zz" twice in needs (as needs[1] and needs[3]); list each task once',
      ],
    },
    {
      name: 'x- extension fields only at the top level; X- and x- inside a task are unknown keys',
      text: 'version: 1\nname: x\nX-base: {}\ntasks:\n  a:\n    image: busybox\n    x-note: n\n',
      want: [
        '3:1 X-base | unknown key "X-base" at the top level; expected one of: version, name, namespace, params, defaults, tasks, timeout',
        '7:5 tasks.a.x-note | unknown key "x-note" in task "a"; expected one of: needs, if, strategy, sensor, image, command, args, env, envFrom, workingDir, resources, retries, timeout, startTimeout, pod',
      ],
    },
    {
      name: 'what an x- field holds is checked where an alias uses it',
      text: 'version: 1\nname: x\nx-pod: &pod\n  nodeselector: {a: b}\ntasks:\n  a:\n    image: busybox\n    pod: *pod\n',
      want: ['4:3 tasks.a.pod.nodeselector | unknown key "nodeselector" in tasks.a.pod; did you mean "nodeSelector"?'],
    },
    {
      name: 'no tasks',
      text: 'version: 1\nname: x\ntasks: {}\n',
      want: ['3:8 tasks | tasks: the DAG has no tasks; expected at least one under "tasks:"'],
    },
    {
      name: 'a task without an image anywhere',
      text: 'version: 1\nname: x\ntasks:\n  a:\n    command: ["true"]\n',
      want: ['4:3 tasks.a | task "a" has no image; set tasks.a.image or defaults.image'],
    },
    {
      name: 'needs and if are not allowed in defaults',
      text: 'version: 1\nname: x\ndefaults:\n  needs: [a]\ntasks:\n  a: {image: busybox}\n',
      want: ['4:3 defaults.needs | "needs" cannot be set in defaults; set it on each task that needs it'],
    },
    {
      name: 'a task that needs itself',
      text: 'version: 1\nname: x\ntasks:\n  a: {image: busybox, needs: a}\n',
      want: ['4:30 tasks.a.needs | task "a" needs itself, so it can never start; remove "a" from its needs'],
    },
    {
      name: 'env reference with both secret and configMap',
      text: 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env:\n      A: {secret: s, configMap: c, key: k}\n',
      want: ['7:10 tasks.a.env.A | tasks.a.env.A: expected exactly one of "secret" or "configMap" next to "key", e.g. {secret: db-creds, key: password}'],
    },
    {
      name: 'an unquoted number in command',
      text: 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    command: [sleep, 5]\n',
      want: ['6:22 tasks.a.command[1] | tasks.a.command[1]: expected a string (quote numbers: "4"), found 5'],
    },
    {
      name: 'typos and wrong values inside pod and resources',
      text: 'version: 1\nname: x\ntasks:\n  a: {image: busybox, pod: {nodeselector: {a: b}, labels: {team: 1}}, resources: {requests: {memory: 4 GB}}}\n',
      want: [
        '4:29 tasks.a.pod.nodeselector | unknown key "nodeselector" in tasks.a.pod; did you mean "nodeSelector"?',
        '4:66 tasks.a.pod.labels.team | tasks.a.pod.labels.team: expected a string (quote numbers and booleans), found 1',
        '4:102 tasks.a.resources.requests.memory | tasks.a.resources.requests.memory: expected a Kubernetes quantity like "500m", "4Gi" or 2, found "4 GB"',
      ],
    },
    {
      name: 'the outputs variable is reserved',
      text: 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env: {POD_DAG_OUTPUT: /tmp/x}\n',
      want: ['6:11 tasks.a.env.POD_DAG_OUTPUT | environment variable "POD_DAG_OUTPUT" is set by pod-dag-action (the file a task writes its outputs to); use another name'],
    },
    {
      name: 'GitHub expression syntax in an argument, at the "$"',
      text: 'version: 1\nname: x\nparams: {db: d}\ntasks:\n  a:\n    image: busybox\n    args: ["--db=${{ params.db }}"]\n',
      want: ['7:18 tasks.a.args[0] | tasks.a.args[0]: "${{ params.db }}" uses GitHub\'s expression syntax; in a spec, write "{{ params.db }}" (without "$")'],
    },
    {
      name: 'two documents',
      text: 'version: 1\n---\nname: x\n',
      want: ['2:1  | YAML syntax error: the file holds more than one YAML document ("---"); a spec is one document'],
    },
  ])('$name', ({ text, want }) => {
    const { spec, issues } = parseText(text);
    expect(spec).toBeNull();
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path} | ${i.message}`)).toEqual(want);
  });
});

describe('resource limits', () => {
  it('refuses a document whose aliases would expand without bound', () => {
    let text = 'version: 1\nname: x\nparams:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n';
    let prev = 'a';
    for (const n of ['b', 'c', 'd', 'e', 'f', 'g']) {
      text += `  ${n}: &${n} [${Array(10).fill(`*${prev}`).join(', ')}]\n`;
      prev = n;
    }
    const { spec, issues } = parseText(`${text}tasks: {a: {image: busybox}}\n`);
    expect(spec).toBeNull();
    expect(issues.map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual([
      '9:9 the spec is too large to read: its aliases expand to more than 500,000 values; write the repeated parts out, or share them through `defaults`',
    ]);
  });
});

describe('valid specs', () => {
  it('builds a minimal spec with every built-in default', () => {
    const { spec, issues } = parseSpec(readFileSync(join(fixtures, 'valid-minimal.yaml'), 'utf8'), 'valid-minimal.yaml');
    expect(issues).toEqual([]);
    expect(spec).toEqual({
      version: 1,
      name: 'hello',
      namespace: null,
      params: [],
      timeoutMs: null,
      file: 'valid-minimal.yaml',
      tasks: [
        {
          id: 'say-hello',
          needs: [],
          if: null,
          image: 'busybox:1.36',
          command: ['echo', 'hello'],
          args: null,
          env: [],
          envFrom: [],
          workingDir: null,
          resources: { requests: {}, limits: {} },
          retries: { limit: 0, delayMs: 10_000, backoff: 2, maxDelayMs: 600_000, on: ['failed'], infrastructure: 3 },
          timeoutMs: null,
          startTimeoutMs: 300_000,
          pod: {},
          strategy: null,
          sensor: null,
          pos: { line: 4, col: 3 },
        },
      ],
    });
  });

  it('merges defaults into each task: the task wins, env/pod/resources key by key, retries field by field', () => {
    const { spec, issues } = parseSpec(readFileSync(join(fixtures, 'defaults-merge.yaml'), 'utf8'), 'defaults-merge.yaml');
    expect(issues).toEqual([]);
    const [plain, custom] = spec!.tasks;
    expect(plain).toMatchObject({
      image: 'busybox:1.36',
      env: [
        { name: 'SHARED', value: 'from-defaults' },
        { name: 'OVERRIDDEN', value: 'from-defaults' },
      ],
      retries: { limit: 2, delayMs: 180_000, backoff: 2, maxDelayMs: 600_000, on: ['failed'], infrastructure: 3 },
      timeoutMs: 3_600_000,
      resources: { requests: { cpu: '500m' }, limits: {} },
      pod: { nodeSelector: { org: 'locale' }, labels: { team: 'data' }, serviceAccountName: 'runner' },
    });
    expect(custom).toMatchObject({
      image: 'alpine:3',
      env: [
        { name: 'SHARED', value: 'from-defaults' },
        { name: 'OVERRIDDEN', value: 'from-task' },
        { name: 'PORT', value: '9000' },
      ],
      retries: { limit: 2, delayMs: 180_000, backoff: 3, on: ['failed', 'timeout'] },
      resources: { requests: { cpu: '500m', memory: '4Gi' }, limits: { 'nvidia.com/gpu': '1' } },
      pod: { nodeSelector: { org: 'locale' }, labels: { team: 'data', tier: 'batch' }, serviceAccountName: 'special' },
    });
  });

  it('keeps tasks in file order, even ids that look like numbers', () => {
    const { spec } = parseText('version: 1\nname: x\ndefaults: {image: busybox}\ntasks:\n  b: {}\n  "10": {}\n  a: {needs: ["10"]}\n');
    expect(spec!.tasks.map((t) => t.id)).toEqual(['b', '10', 'a']);
  });

  it('parses if: into a Condition, accepting ${{ }} and a plain boolean', () => {
    const { spec, issues } = parseText(
      'version: 1\nname: x\ndefaults: {image: busybox}\ntasks:\n  a: {}\n  b: {needs: a, if: "${{ failure() }}"}\n  c: {needs: [a], if: false}\n',
    );
    expect(issues).toEqual([]);
    expect(spec!.tasks[1]!.if).toEqual({ source: '${{ failure() }}' });
    expect(spec!.tasks[2]!.if).toEqual({ source: 'false' });
    expect(spec!.tasks[1]!.needs).toEqual(['a']);
  });

  it('accepts output templates of upstream tasks, transitively', () => {
    const { issues } = parseText(
      'version: 1\nname: x\ndefaults: {image: busybox}\ntasks:\n  a: {}\n  b: {needs: [a]}\n  c:\n    needs: [b]\n    args: ["{{ tasks.a.outputs.v }}-{{tasks.b.outputs.w}}"]\n    if: tasks.a.outputs.v == \'1\' && tasks.a.result == \'success\'\n',
    );
    expect(issues).toEqual([]);
  });

  it('resolves YAML anchors and merge keys', () => {
    const { spec, issues } = parseText(
      'version: 1\nname: x\ntasks:\n  a: &common\n    image: busybox\n    retries: {limit: 1}\n  b:\n    <<: *common\n    needs: [a]\n',
    );
    expect(issues).toEqual([]);
    expect(spec!.tasks[1]).toMatchObject({ id: 'b', image: 'busybox', needs: ['a'], retries: { limit: 1 } });
  });

  it('ignores top-level x- extension fields, whose anchors tasks use (as in Docker Compose)', () => {
    const { spec, issues } = parseText(
      'version: 1\nname: x\nx-notes: "{{ not rendered }}"\nx-base: &base\n  image: busybox\n  args: ["{{ params.p }}"]\nparams: {p: v}\ntasks:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    needs: [a]\n',
    );
    expect(issues).toEqual([]);
    expect(spec!.tasks.map((t) => [t.id, t.image, t.args])).toEqual([
      ['a', 'busybox', ['{{ params.p }}']],
      ['b', 'busybox', ['{{ params.p }}']],
    ]);
    expect(Object.keys(spec!)).not.toContain('x-base');
  });

  it('reads env references and envFrom sources', () => {
    const { spec } = parseText(
      'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n    env:\n      P: {secret: creds, key: password}\n      C: {configMap: cfg, key: k, optional: true}\n    envFrom: [{secret: all}, {configMap: cfg, prefix: CFG_}]\n',
    );
    expect(spec!.tasks[0]!.env).toEqual([
      { name: 'P', secret: 'creds', key: 'password', optional: false },
      { name: 'C', configMap: 'cfg', key: 'k', optional: true },
    ]);
    expect(spec!.tasks[0]!.envFrom).toEqual([
      { secret: 'all', prefix: null, optional: false },
      { configMap: 'cfg', prefix: 'CFG_', optional: false },
    ]);
  });
});
