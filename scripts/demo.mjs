// `npm run demo`: runs the example DAG (examples/clickhouse-db-sync) with the bundled action
// (dist/index.js) against the embedded sandbox cluster, exactly as a GitHub runner would run the
// step: inputs as INPUT_* variables, the runner's files, workflow commands on stdout. The log is
// shown as the runner would show it (masked values as ***, annotations as "Error:" lines), then
// the step's outputs and where its job summary was written.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoCluster, DEMO_PARAMS } from '../test/fixtures/demo-cluster.ts';
import { parseFileCommand } from '../test/harness/action.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv.includes('--dry-run') ? 'dry-run' : process.argv.includes('--plan') ? 'plan' : 'run';
const dag = 'examples/clickhouse-db-sync/dag.yaml';

const sandbox = await startDemoCluster();
const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-demo-'));
const files = {
  GITHUB_OUTPUT: path.join(dir, 'output'),
  GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
  GITHUB_STATE: path.join(dir, 'state'),
  GITHUB_ENV: path.join(dir, 'env'),
  GITHUB_PATH: path.join(dir, 'path'),
};
for (const f of Object.values(files)) await writeFile(f, '');
await mkdir(path.join(dir, 'tmp'));

console.log(`Sandbox cluster at ${sandbox.url} (nodes pool-locale-1, pool-general-1; namespace data-jobs)`);
console.log(`Running ${dag} with mode=${mode} through dist/index.js, as the runner would\n`);

const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME ?? dir,
  GITHUB_ACTIONS: 'true',
  RUNNER_TEMP: path.join(dir, 'tmp'),
  GITHUB_WORKSPACE: root,
  GITHUB_REPOSITORY: 'octo-org/data-pipelines',
  GITHUB_RUN_ID: String(Date.now()),
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_WORKFLOW: 'nightly-clickhouse-sync',
  GITHUB_EVENT_NAME: 'workflow_dispatch',
  ...files,
  INPUT_DAG: dag,
  INPUT_MODE: mode,
  INPUT_PARAMS: DEMO_PARAMS,
  INPUT_KUBECONFIG: sandbox.kubeconfig(),
  'INPUT_KEEP-PODS': 'never',
  'INPUT_MAX-PARALLEL': '0',
  'INPUT_LOG-TAIL-LINES': '50',
};

const masks = [];
const show = (line) => {
  if (line.startsWith('::add-mask::')) {
    masks.push(line.slice('::add-mask::'.length));
    return;
  }
  let out = line;
  const cmd = /^::(error|warning|notice)( [^:]*)?::(.*)$/.exec(line);
  if (cmd) out = `${cmd[1][0].toUpperCase()}${cmd[1].slice(1)}:${cmd[2] ? ` [${cmd[2].trim()}]` : ''} ${cmd[3].replace(/%0A/g, '\n  ').replace(/%25/g, '%')}`;
  else if (/^::(debug|group|endgroup|save-state|set-output)/.test(line)) return;
  for (const m of masks) if (m.trim()) out = out.split(m).join('***');
  console.log(out);
};

const child = spawn(process.execPath, [path.join(root, 'dist', 'index.js')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
let pending = '';
child.stdout.setEncoding('utf8').on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    show(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
  }
});
const forward = (sig) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
if (pending) show(pending);

const outputs = parseFileCommand(await readFile(files.GITHUB_OUTPUT, 'utf8'));
console.log(`\nStep exit code: ${code}`);
for (const [name, value] of Object.entries(outputs)) console.log(`output ${name} = ${value}`);
console.log(`Job summary (Markdown, with Mermaid charts): ${files.GITHUB_STEP_SUMMARY}`);
await sandbox.close();
process.exit(code);
