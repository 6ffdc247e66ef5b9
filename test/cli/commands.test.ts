/**
 * The `pod-dag` CLI in process (`runCli` with captured output): validate, plan -o yaml|json, bad
 * usage; and once as a real process through the bundle (dist/cli.js), as a user runs it.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EXIT, runCli } from '../../src/cli/commands.ts';
import { ROOT } from '../harness/action.ts';
import { recordLoads } from '../helpers/record-loads.ts';

const EXAMPLE = 'examples/clickhouse-db-sync/dag.yaml';
const HELLO = 'examples/hello/dag.yaml';
const BAD = 'test/spec/fixtures/many-errors.yaml';

/** Runs one command line in process; returns its exit code and what it printed. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    cwd: ROOT,
    env,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

interface Pod {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { restartPolicy: string; containers: { image: string; command?: string[]; args?: string[] }[] };
}

describe('pod-dag validate', () => {
  it('a valid spec: exit 0 and a one-line verdict', async () => {
    const r = await cli(['validate', EXAMPLE]);
    expect(r).toEqual({ code: EXIT.ok, stdout: `${EXAMPLE}: valid (4 tasks)\n`, stderr: '' });
  });

  it('an invalid spec: every problem as FILE:LINE:COL: message, then a count; exit 2', async () => {
    const r = await cli(['validate', BAD]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.slice(0, 6).map((l) => /^([^:]+):(\d+):(\d+): /.exec(l)?.slice(1))).toEqual([
      [BAD, '2', '7'],
      [BAD, '3', '1'],
      [BAD, '7', '13'],
      [BAD, '8', '5'],
      [BAD, '11', '14'],
      [BAD, '12', '9'], // always(1): GitHub's parser points at the function, not at its argument
    ]);
    expect(lines[3]).toMatch(/did you mean "needs"\?$/);
    expect(lines[6]).toBe(`6 problems in ${BAD}`);
  });
});

describe('pod-dag plan', () => {
  it('-o yaml: one valid YAML document per task, the pods as kubectl --dry-run=client prints them', async () => {
    const r = await cli(['plan', EXAMPLE, '--params', 'destination_host: ch.example', '-o', 'yaml']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const docs = parseAllDocuments(r.stdout);
    for (const d of docs) expect(d.errors).toEqual([]);
    const pods = docs.map((d) => d.toJS() as Pod);
    expect(pods.map((p) => [p.kind, p.metadata.name])).toEqual([
      ['Pod', 'clickhouse-db-sync-plan-1-drop-destination-db-1'],
      ['Pod', 'clickhouse-db-sync-plan-1-create-db-1'],
      ['Pod', 'clickhouse-db-sync-plan-1-migrate-data-1'],
      ['Pod', 'clickhouse-db-sync-plan-1-report-1'],
    ]);
    for (const p of pods) {
      expect(p.apiVersion).toBe('v1');
      expect(p.metadata.namespace).toBe('data-jobs');
      expect(p.spec.restartPolicy).toBe('Never');
      expect(p.metadata.labels['pod-dag.io/dag']).toBe('clickhouse-db-sync');
    }
    const migrate = pods[2]!.spec.containers[0]!;
    expect(migrate.image).toBe('registry.example.com/internal-scripts:2024-01');
    expect(migrate.args).toEqual(['--source-db', 'clickhouse_source_db', '--destination-db', 'clickhouse_destination_db', '--destination-host', 'ch.example']);
  });

  it('-o json: a valid v1 List of the same pods; deterministic; --namespace and POD_DAG_RUN_ID are honoured', async () => {
    const a = await cli(['plan', HELLO, '-o', 'json', '--namespace', 'batch'], { POD_DAG_RUN_ID: 'try1' });
    const b = await cli(['plan', HELLO, '-o', 'json', '--namespace', 'batch'], { POD_DAG_RUN_ID: 'try1' });
    expect(a.code, a.stderr).toBe(EXIT.ok);
    expect(b.stdout).toBe(a.stdout);
    const list = JSON.parse(a.stdout) as { apiVersion: string; kind: string; items: Pod[] };
    expect([list.apiVersion, list.kind]).toEqual(['v1', 'List']);
    expect(list.items.map((p) => p.metadata.name)).toEqual(['hello-try1-1-greet-1', 'hello-try1-1-count-1', 'hello-try1-1-shout-1', 'hello-try1-1-wrap-up-1']);
    for (const p of list.items) expect(p.metadata.namespace).toBe('batch');
  });

  it('params override the defaults, in YAML or JSON', async () => {
    const r = await cli(['plan', HELLO, '-o', 'json', '--params', '{"who": "octocat"}']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toContain('octocat');
  });

  it('a missing required param: named, exit 2', async () => {
    const r = await cli(['plan', EXAMPLE]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/--params: param "destination_host" is required/);
    expect(r.stdout).toBe('');
  });
});

describe('bad usage: exit 2, the problem and the usage on stderr', () => {
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /usage:/],
    ['an unknown command', ['lint', EXAMPLE], /unknown command 'lint'/],
    ['no file', ['validate'], /expected exactly one spec FILE, found 0/],
    ['two files', ['validate', EXAMPLE, HELLO], /expected exactly one spec FILE, found 2/],
    ['an unknown option', ['plan', HELLO, '--output-format', 'yaml'], /Unknown option '--output-format'/],
    ['-o xml', ['plan', HELLO, '-o', 'xml'], /-o must be yaml or json, found 'xml'/],
    ['a bad --max-parallel', ['run', HELLO, '--max-parallel', 'many'], /--max-parallel must be a whole number >= 0, found 'many'/],
    // Plain digits, as the action's inputs: Number() would take these as 1000, 16, 5 and 0.
    ['--max-parallel 1e3', ['run', HELLO, '--max-parallel', '1e3'], /--max-parallel must be a whole number >= 0, found '1e3'/],
    ['--max-parallel 0x10', ['run', HELLO, '--max-parallel', '0x10'], /--max-parallel must be a whole number >= 0, found '0x10'/],
    ['--max-parallel " 5 "', ['run', HELLO, '--max-parallel', ' 5 '], /--max-parallel must be a whole number >= 0, found ' 5 '/],
    ['--max-parallel ""', ['run', HELLO, '--max-parallel', ''], /--max-parallel must be a whole number >= 0, found ''/],
    ['--max-parallel 2.0', ['run', HELLO, '--max-parallel', '2.0'], /--max-parallel must be a whole number >= 0, found '2.0'/],
    ['--max-parallel too big', ['run', HELLO, '--max-parallel', '99999999999999999999'], /--max-parallel must be a whole number >= 0 and at most 9,007,199,254,740,991, found '99999999999999999999'/],
    ['--api-qps 1e3', ['run', HELLO, '--api-qps', '1e3'], /--api-qps must be requests per second, a number from 0 to 10,000 \(e\.g\. 50, or 0\.5\), or 0 to send without a client-side limit .*, found '1e3'/],
    ['--api-qps -1', ['run', HELLO, '--api-qps=-1'], /--api-qps must be requests per second.*, found '-1'/],
    ['--api-qps above the bound', ['run', HELLO, '--api-qps', '20000'], /--api-qps must be .*from 0 to 10,000.*, found '20000'/],
    ['--api-burst 0', ['run', HELLO, '--api-burst', '0'], /--api-burst must be a whole number from 1 to 100,000: how many requests may go at once before --api-qps paces them, found '0'/],
    ['--api-burst 2.5', ['run', HELLO, '--api-burst', '2.5'], /--api-burst must be a whole number from 1 to 100,000.*, found '2.5'/],
    ['a bad --keep-pods', ['run', HELLO, '--keep-pods', 'sometimes'], /--keep-pods must be never, on-failure or always, found 'sometimes'/],
  ];
  for (const [what, argv, message] of cases) {
    it(what, async () => {
      const r = await cli(argv);
      expect(r.code).toBe(EXIT.usage);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }

  it('--help prints the usage on stdout, exit 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/pod-dag validate FILE/);
  });
});

describe('the bundled CLI as a real process', () => {
  const node = (args: string[], env?: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const options = { cwd: ROOT, timeout: 60_000, ...(env ? { env: { ...process.env, ...env } } : {}) };
      const child = execFile(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], options, (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr }),
      );
    });

  /** The files of dist/ a command line loads. */
  const distLoaded = async (args: string[], env: Record<string, string> = {}) => {
    const rec = recordLoads();
    const r = await node(args, { ...env, ...rec.env });
    const dist = path.join(ROOT, 'dist') + path.sep;
    return { ...r, files: rec.loaded().filter((f) => f.startsWith(dist)).map((f) => f.slice(dist.length)) };
  };

  it('validate and plan load no chunk of the bundle (the Kubernetes client); run does', async () => {
    const validate = await distLoaded(['validate', EXAMPLE]);
    expect(validate.code).toBe(0);
    expect(validate.files).toEqual(['cli.js', 'index.js']);
    const plan = await distLoaded(['plan', EXAMPLE, '--params', 'destination_host: clickhouse']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.files).toEqual(['cli.js', 'index.js']);
    // Without credentials the run stops at connecting, after loading what a run needs.
    const run = await distLoaded(['run', EXAMPLE, '--params', 'destination_host: clickhouse'], { HOME: '/nonexistent', KUBECONFIG: '' });
    expect(run.stderr).toMatch(/No Kubernetes credentials found/);
    const chunks = run.files.filter((f) => /^\d+\.index\.js$/.test(f));
    expect(chunks.length).toBeGreaterThan(0);
    // The client is in those chunks, not in index.js (a method of client-node's KubeConfig).
    const client = 'applySecurityAuthentication(context)';
    expect(chunks.some((c) => readFileSync(path.join(ROOT, 'dist', c), 'utf8').includes(client))).toBe(true);
    expect(readFileSync(path.join(ROOT, 'dist', 'index.js'), 'utf8')).not.toContain(client);
  });

  it('node dist/cli.js validate <example>: exit 0', async () => {
    const r = await node(['validate', EXAMPLE]);
    expect(r).toEqual({ code: 0, stdout: `${EXAMPLE}: valid (4 tasks)\n`, stderr: '' });
  });

  it('node dist/cli.js validate <bad spec>: FILE:LINE:COL lines, exit 2', async () => {
    const r = await node(['validate', BAD]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${BAD}:8:5: unknown key "need" in task "a"; did you mean "needs"?`);
  });

  it('node dist/cli.js validate <missing file>: one line naming the file, no stack trace, exit 2', async () => {
    const r = await node(['validate', 'no/such/dag.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pod-dag validate: DAG spec not found at 'no\/such\/dag\.yaml' \(resolved to .*\)\.\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // A workflow hint (actions/checkout) means nothing in a terminal.
    expect(r.stderr).not.toContain('actions/checkout');
  });

  it('runCli on a missing file returns 2 with the message (it does not throw)', async () => {
    const r = await cli(['plan', 'no/such/dag.yaml']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/^pod-dag plan: DAG spec not found at 'no\/such\/dag\.yaml'/);
  });
});
