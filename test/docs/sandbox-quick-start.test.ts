/**
 * The README's "Local CLI" section says the Quick start example runs on `npm run sandbox` as
 * written. This test takes its two command lines from the README, parses the sandbox's flags
 * with the script's own parser (sandbox/cli-args.ts), starts that sandbox, and runs the second
 * command (`pod-dag run`) in process against it: the example must succeed unchanged.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { parseSandboxArgs, SandboxArgsError } from '../../sandbox/cli-args.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { ROOT } from '../harness/action.ts';
import { codeBlocks, section } from './markdown.ts';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const hostPath = [path.dirname(process.execPath), ...(process.env.PATH ?? '/usr/bin:/bin').split(':')];

/** Shell words of one command line: spaces split, single quotes group (all the README uses). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}

/** The commands of a ```sh block: continued lines joined, trailing `&` dropped. */
function commands(block: string): string[][] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .map((l) => words(l.replace(/\s*&\s*$/, '')));
}

let sandbox: Sandbox | undefined;
afterAll(async () => {
  await sandbox?.close();
});

describe('the Quick start example on `npm run sandbox`', () => {
  const block = codeBlocks(section(readme, 'Local CLI').body).find((b) => b.content.includes('--image clickhouse/clickhouse-server:24.8='));

  it('is in the README, as a sandbox command line and a pod-dag run', () => {
    expect(block).toBeDefined();
    const [start, run] = commands(block!.content);
    expect(start!.slice(0, 4)).toEqual(['npm', 'run', 'sandbox', '--']);
    expect(run!.slice(0, 4)).toEqual(['KUBECONFIG=/tmp/sandbox.kubeconfig', 'npx', 'pod-dag', 'run']);
  });

  it('runs as written: every task succeeds on the node labelled org=locale, with the secret', async () => {
    const [start, run] = commands(block!.content);
    const cmd = parseSandboxArgs(start!.slice(4), ROOT, hostPath);
    expect(cmd.options.namespaces).toContain('data-jobs');
    // The README's node and taint, as the sandbox's scheduler will see them.
    expect(cmd.options.nodes).toEqual([
      { name: 'pool-locale-1', labels: { 'kubernetes.io/hostname': 'pool-locale-1', org: 'locale' } },
      { name: 'pool-gpu-1', labels: { 'kubernetes.io/hostname': 'pool-gpu-1', pool: 'gpu' }, taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
    ]);
    sandbox = await startSandbox({ ...cmd.options, port: undefined });
    for (const s of cmd.secrets) sandbox.createSecret(s.namespace, s.name, s.data);

    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-quick-start-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, sandbox.kubeconfig(), { mode: 0o600 });
    let stdout = '';
    let stderr = '';
    const code = await runCli(run!.slice(3), {
      cwd: ROOT,
      env: { KUBECONFIG: kubeconfig, HOME: dir },
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      signal: new AbortController().signal,
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/^cluster https:\/\/127.0.0.1:\d+, namespace data-jobs\n$/) });
    expect(stdout).toContain('DAG clickhouse-db-sync finished: success (4 succeeded)');
    // The pods are gone (keep-pods on-failure); the scheduler's events say where each one ran.
    const scheduled = sandbox.list('events', 'data-jobs').map((e) => (e as { reason?: string; message?: string })).filter((e) => e.reason === 'Scheduled');
    expect(scheduled).toHaveLength(4);
    for (const e of scheduled) expect(e.message).toMatch(/ to pool-locale-1$/);
  });
});

describe('npm run sandbox flags', () => {
  const parse = (args: string[]) => parseSandboxArgs(['--kubeconfig-out', '/tmp/k', ...args], ROOT, []);

  it('takes nodes with labels, taints and allocatable resources, namespaces, secrets and configmaps', () => {
    const cmd = parse([
      '--node', 'gpu-1:pool=gpu,zone=a',
      '--taint', 'gpu-1:dedicated:NoExecute',
      '--allocatable', 'gpu-1:cpu=8,memory=32Gi',
      '--configmap', 'etl/settings:mode=full',
      '--namespace', 'other',
    ]);
    expect(cmd.options.nodes).toEqual([
      { name: 'gpu-1', labels: { 'kubernetes.io/hostname': 'gpu-1', pool: 'gpu', zone: 'a' }, taints: [{ key: 'dedicated', effect: 'NoExecute' }], allocatable: { cpu: '8', memory: '32Gi' } },
    ]);
    expect(cmd.options.namespaces).toEqual(['default', 'other', 'etl']);
    expect(cmd.configMaps).toEqual([{ namespace: 'etl', name: 'settings', data: { mode: 'full' } }]);
  });

  it.each([
    [['--taint', 'gpu-1:a=b:Sometimes'], /--taint: expected NODE:KEY\[=VALUE\]:EFFECT with EFFECT one of NoSchedule/],
    [['--node', 'a', '--taint', 'b:k=v:NoSchedule'], /--taint "b:k=v:NoSchedule" names node "b", which no --node declares \(declared: a\)/],
    [['--secret', 'creds:password=x'], /--secret: expected NAMESPACE\/NAME:KEY=VALUE,\.\.\., found "creds:password=x"/],
    [['--node', 'Pool_1'], /--node: expected NAME\[:KEY=VALUE,\.\.\.\] with a lowercase DNS name, found "Pool_1"/],
    [['--image', 'busybox=/does/not/exist'], /--image busybox=\/does\/not\/exist: directory \/does\/not\/exist does not exist/],
    [['--allocatable', 'x:gpu=1'], /names node "x", which no --node declares/],
  ])('refuses %j with a message that says what was expected', (args, message) => {
    expect(() => parse(args)).toThrow(SandboxArgsError);
    expect(() => parse(args)).toThrow(message);
  });

  it('requires --kubeconfig-out', () => {
    expect(() => parseSandboxArgs([], ROOT, [])).toThrow('--kubeconfig-out FILE is required');
  });
});
