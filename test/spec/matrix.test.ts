/** strategy.matrix: GitHub's expansion (product, exclude, include), instance ids, and validation with positions. */
import { describe, expect, it } from 'vitest';
import { expandMatrix, instanceId } from '../../src/spec/matrix.ts';
import { parseSpec } from '../../src/spec/index.ts';

function values(task: string, matrix: unknown): Record<string, unknown>[] {
  const e = expandMatrix(task, matrix);
  if (!e.ok) throw new Error(e.problems.map((p) => p.message).join('; '));
  return e.instances.map((i) => i.values);
}

describe('expandMatrix, as GitHub expands strategy.matrix', () => {
  it('takes the product of the lists, the first key varying slowest', () => {
    expect(values('t', { version: [10, 12], os: ['ubuntu', 'windows'] })).toEqual([
      { version: 10, os: 'ubuntu' },
      { version: 10, os: 'windows' },
      { version: 12, os: 'ubuntu' },
      { version: 12, os: 'windows' },
    ]);
  });

  it('drops combinations matching an exclude entry, even partially', () => {
    expect(values('t', { os: ['macos', 'windows'], version: [12, 14, 16], env: ['dev'], exclude: [{ os: 'macos', version: 12 }, { os: 'windows', env: 'dev', version: 16 }] })).toEqual([
      { os: 'macos', version: 14, env: 'dev' },
      { os: 'macos', version: 16, env: 'dev' },
      { os: 'windows', version: 12, env: 'dev' },
      { os: 'windows', version: 14, env: 'dev' },
    ]);
  });

  it("applies include as GitHub's documentation example does", () => {
    // https://docs.github.com/en/actions/using-jobs/using-a-matrix-for-your-jobs#example-expanding-configurations
    const matrix = {
      fruit: ['apple', 'pear'],
      animal: ['cat', 'dog'],
      include: [{ color: 'green' }, { color: 'pink', animal: 'cat' }, { fruit: 'apple', shape: 'circle' }, { fruit: 'banana' }, { fruit: 'banana', animal: 'cat' }],
    };
    expect(values('t', matrix)).toEqual([
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' },
    ]);
  });

  it('takes a matrix of include entries only, with values of any JSON type', () => {
    expect(values('t', { include: [{ shard: 0, cfg: { a: 1 } }, { shard: 1, cfg: { a: 2 } }] })).toEqual([
      { shard: 0, cfg: { a: 1 } },
      { shard: 1, cfg: { a: 2 } },
    ]);
  });

  it.each([
    { name: 'not a map', matrix: ['a'], message: 'expected a map of key → list of values (with optional include and exclude), found a list' },
    { name: 'a key that is not a list', matrix: { os: 'linux' }, message: 'matrix key "os": expected a list of values, found "linux"' },
    { name: 'an empty list', matrix: { os: [] }, message: 'matrix key "os" has no values; give at least one, or remove the key' },
    { name: 'everything excluded', matrix: { os: ['a'], exclude: [{ os: 'a' }] }, message: 'the matrix has no combinations (every one was excluded, or it has no keys and no include); give at least one' },
    { name: 'exclude names an unknown key', matrix: { os: ['a', 'b'], exclude: [{ arch: 'x' }] }, message: '"exclude[0]" names "arch", which is not a key of the matrix (os)' },
    { name: 'too many combinations', matrix: { a: [...Array(20).keys()], b: [...Array(20).keys()] }, message: 'the matrix has 400 combinations; at most 256 are allowed (as on GitHub); split the task or use exclude' },
    { name: 'the same combination twice', matrix: { include: [{ a: 1 }, { a: 1 }] }, message: 'combinations 1 and 2 are the same ({"a":1}); each combination must differ' },
  ])('refuses $name', ({ matrix, message }) => {
    const e = expandMatrix('t', matrix);
    expect(e.ok).toBe(false);
    expect(!e.ok && e.problems.map((p) => p.message)).toContain(message);
  });
});

describe('instance ids', () => {
  it('are deterministic, readable, apart from task ids (a "."), and within 63 characters', () => {
    const id = instanceId('build', { os: 'Ubuntu 24.04', node: 20 });
    expect(id).toMatch(/^build\.ubuntu-24-04-20-[0-9a-f]{8}$/);
    expect(instanceId('build', { os: 'Ubuntu 24.04', node: 20 })).toBe(id);
    expect(instanceId('build', { os: 'Ubuntu 24.04', node: 21 })).not.toBe(id);
    const long = instanceId('a'.repeat(40), { name: 'x'.repeat(100), other: { deep: true } });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
    // Values that slug alike still differ by their hash.
    expect(instanceId('t', { v: 'a b' })).not.toBe(instanceId('t', { v: 'a-b' }));
  });
});

function issues(yaml: string): string[] {
  return parseSpec(yaml, 'm.yaml').issues.map((i) => `${i.line}:${i.col} ${i.message}`);
}

describe('strategy in a spec', () => {
  it('expands a matrix written out and keeps max-parallel and fail-fast', () => {
    const { spec, issues: found } = parseSpec(
      [
        'version: 1',
        'name: m',
        'tasks:',
        '  test:',
        '    image: "node:{{ matrix.node }}"',
        '    args: ["--os", "{{ matrix.os }}"]',
        '    strategy:',
        '      matrix: {node: [20, 22], os: [linux]}',
        '      max-parallel: 1',
        '      fail-fast: false',
      ].join('\n'),
      'm.yaml',
    );
    expect(found).toEqual([]);
    const strategy = spec!.tasks[0]!.strategy!;
    expect(strategy.maxParallel).toBe(1);
    expect(strategy.failFast).toBe(false);
    expect(strategy.matrix.kind === 'static' && strategy.matrix.instances.map((i) => i.values)).toEqual([
      { node: 20, os: 'linux' },
      { node: 22, os: 'linux' },
    ]);
  });

  it('defaults fail-fast to true and max-parallel to no limit, as GitHub does', () => {
    const { spec } = parseSpec('version: 1\nname: m\ntasks:\n  t:\n    image: busybox\n    strategy: {matrix: {a: [1]}}\n', 'm.yaml');
    expect(spec!.tasks[0]!.strategy).toMatchObject({ maxParallel: 0, failFast: true });
  });

  it('takes a dynamic matrix from an upstream output', () => {
    const { spec, issues: found } = parseSpec(
      'version: 1\nname: m\ntasks:\n  plan: {image: busybox}\n  shard:\n    needs: [plan]\n    image: busybox\n    args: ["{{ matrix.shard }}"]\n    strategy:\n      matrix: "{{ fromJSON(tasks.plan.outputs.shards) }}"\n',
      'm.yaml',
    );
    expect(found).toEqual([]);
    expect(spec!.tasks[1]!.strategy!.matrix).toEqual({ kind: 'dynamic', template: '{{ fromJSON(tasks.plan.outputs.shards) }}' });
  });

  it.each([
    {
      name: 'a matrix key that is not in the matrix, at its column',
      yaml: 'version: 1\nname: m\ntasks:\n  t:\n    image: busybox\n    args: ["{{ matrix.oss }}"]\n    strategy: {matrix: {os: [a]}}\n',
      want: ['6:13 tasks.t.args[0]: {{ matrix.oss }}: matrix key "oss" is not in the matrix of task "t"; did you mean "os"? (keys: os)'],
    },
    {
      name: 'matrix in a task without strategy',
      yaml: 'version: 1\nname: m\ntasks:\n  t:\n    image: busybox\n    args: ["x-{{ format(\'{0}\', matrix.os) }}"]\n',
      want: ['6:32 tasks.t.args[0]: matrix.os: task "t" has no strategy.matrix, so matrix has no values; add strategy: {matrix: {...}} to the task'],
    },
    {
      name: 'a dynamic matrix reading a task that is not upstream',
      yaml: 'version: 1\nname: m\ntasks:\n  plan: {image: busybox}\n  t:\n    image: busybox\n    strategy:\n      matrix: "{{ fromJSON(tasks.plan.outputs.m) }}"\n',
      want: [
        '8:28 tasks.t.strategy.matrix: tasks.plan.outputs.m: task "plan" is not upstream of "t", so it may not have run yet; add "plan" to tasks.t.needs (directly or through a task it needs)',
      ],
    },
    {
      name: 'a dynamic matrix that is not one {{ }}',
      yaml: 'version: 1\nname: m\ntasks:\n  t:\n    image: busybox\n    strategy:\n      matrix: "shards: {{ params.n }}"\nparams: {n: "3"}\n',
      want: [
        '7:15 tasks.t.strategy.matrix: a matrix given as text must be one {{ }} expression whose value is a matrix map, e.g. "{{ fromJSON(tasks.plan.outputs.matrix) }}"; found "shards: {{ params.n }}"',
      ],
    },
    {
      name: 'an exclude of an unknown key, at the key',
      yaml: 'version: 1\nname: m\ntasks:\n  t:\n    image: busybox\n    strategy:\n      matrix:\n        os: [a, b]\n        exclude:\n          - {arch: x}\n',
      want: ['10:14 tasks.t.strategy.matrix: "exclude[0]" names "arch", which is not a key of the matrix (os)'],
    },
    {
      name: 'strategy in defaults',
      yaml: 'version: 1\nname: m\ndefaults: {image: busybox, strategy: {matrix: {a: [1]}}}\ntasks:\n  t: {}\n',
      want: ['3:28 "strategy" cannot be set in defaults; set it on each task that needs it'],
    },
    {
      name: 'matrix in an if:',
      yaml: "version: 1\nname: m\ntasks:\n  t:\n    image: busybox\n    if: matrix.os == 'a'\n    strategy: {matrix: {os: [a]}}\n",
      want: [
        "6:9 tasks.t.if: unknown name \"matrix\"; expected params.…, tasks.…, run.…, a function call or a literal (as on GitHub, a task's if: is decided before its matrix is expanded, so it cannot read matrix) at column 1 of the expression \"matrix.os == 'a'\"",
      ],
    },
  ])('reports $name', ({ yaml, want }) => {
    expect(issues(yaml)).toEqual(want);
  });
});

describe('sensor in a spec', () => {
  it('normalizes durations and defaults (onTimeout fail, not-yet exit code 75)', () => {
    const { spec, issues: found } = parseSpec('version: 1\nname: s\ntasks:\n  wait:\n    image: busybox\n    sensor: {interval: 5m, timeout: 6h}\n', 's.yaml');
    expect(found).toEqual([]);
    expect(spec!.tasks[0]!.sensor).toEqual({ intervalMs: 300_000, timeoutMs: 21_600_000, onTimeout: 'fail', notYetExitCodes: [75] });
  });

  it.each([
    { yaml: 'sensor: {interval: 500ms, timeout: 1h}', want: '6:24 tasks.w.sensor.interval: a sensor pokes at most once a second; expected an interval of at least "1s", found "500ms"' },
    { yaml: 'sensor: {interval: 1m}', want: '6:5 missing required key "timeout" in tasks.w.sensor; expected a duration string like "90s", "3m" or "1h30m"' },
    { yaml: 'sensor: {interval: 1m, timeout: 1h, onTimeout: never}', want: '6:52 tasks.w.sensor.onTimeout: expected "fail" or "skip", found "never"' },
    { yaml: 'sensor: {interval: 1m, timeout: 1h, notYetExitCodes: [0]}', want: '6:59 tasks.w.sensor.notYetExitCodes[0]: expected an exit code from 1 to 255, found 0' },
  ])('reports $yaml', ({ yaml, want }) => {
    expect(issues(`version: 1\nname: s\ntasks:\n  w:\n    image: busybox\n    ${yaml}\n`)).toEqual([want]);
  });
});

describe('plan', () => {
  it('draws a matrix written out as one task per combination, and a computed one as one task', async () => {
    const { expandStaticMatrices } = await import('../../src/spec/matrix.ts');
    const { renderPlanPods } = await import('../../src/kube/pod.ts');
    const { spec } = parseSpec(
      'version: 1\nname: p\ntasks:\n  a:\n    image: busybox\n    args: ["{{ matrix.n }}"]\n    strategy: {matrix: {n: [1, 2]}}\n  b:\n    needs: [a]\n    image: busybox\n    args: ["{{ matrix.x }}", "{{ run.date }}"]\n    strategy: {matrix: "{{ fromJSON(tasks.a.outputs.m) }}"}\n',
      'p.yaml',
    );
    const ids = (expandMatrix('a', { n: [1, 2] }) as { ok: true; instances: { id: string }[] }).instances.map((i) => i.id);
    const shown = expandStaticMatrices(spec!);
    expect(shown.tasks.map((t) => [t.id, t.needs])).toEqual([
      [ids[0], []],
      [ids[1], []],
      ['b', ids],
    ]);
    const ctx = { repository: null, runId: null, runAttempt: 1, sha: null, ref: null, serverUrl: 'https://github.com', workflow: null, job: null, actor: null, eventName: null };
    const pods = renderPlanPods(spec!, {}, ctx);
    expect(pods.map((p) => p.spec!.containers[0]!.args)).toEqual([['1'], ['2'], ['<matrix.x>', '<run.date>']]);
    expect(pods.map((p) => p.metadata!.labels!['pod-dag.io/task'])).toEqual([...ids, 'b']);
  });
});
