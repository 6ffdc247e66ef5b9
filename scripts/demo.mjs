// `npm run demo`: runs the example DAG (examples/clickhouse-db-sync) with the bundled action
// (dist/index.js) against the embedded sandbox cluster, exactly as a GitHub runner would run the
// step: inputs as INPUT_* variables, the runner's files, workflow commands on stdout. The log is
// shown as the runner would show it (masked values as ***, annotations as "Error:" lines), then
// the step's outputs and where its job summary was written.
//
// `npm run demo -- --bad-day` runs test/fixtures/bad-day/dag.yaml instead: a task fails once and
// is retried, another fails for good, its dependants are skipped and an `if: always()` task still
// runs. Then it fixes the failed task's input and re-runs the failed jobs, as GitHub's "Re-run
// failed jobs" does (same run id, run attempt 2): only the failed task and what follows it run.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoCluster, DEMO_PARAMS } from '../test/fixtures/demo-cluster.ts';
import { parseFileCommand } from '../test/harness/action.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const badDay = process.argv.includes('--bad-day');
const mode = process.argv.includes('--dry-run') ? 'dry-run' : process.argv.includes('--plan') ? 'plan' : 'run';

const sandbox = await startDemoCluster();
const runId = String(Date.now());
let child = null;
const forward = (sig) => child?.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

/** Runs dist/index.js once as the runner would; returns its exit code. */
async function step(title, dag, inputs, runAttempt) {
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
  console.log(`\n━━━ ${title}`);
  console.log(`Running ${dag} with mode=${inputs.mode ?? 'run'} through dist/index.js, as the runner would (run ${runId}, attempt ${runAttempt})\n`);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dir,
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: path.join(dir, 'tmp'),
    GITHUB_WORKSPACE: root,
    GITHUB_REPOSITORY: 'octo-org/data-pipelines',
    GITHUB_RUN_ID: runId,
    GITHUB_RUN_ATTEMPT: String(runAttempt),
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_WORKFLOW: badDay ? 'nightly-warehouse-load' : 'nightly-clickhouse-sync',
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    ...files,
    INPUT_DAG: dag,
    INPUT_KUBECONFIG: sandbox.kubeconfig(),
    'INPUT_KEEP-PODS': 'on-failure',
    'INPUT_MAX-PARALLEL': '0',
    'INPUT_LOG-TAIL-LINES': '50',
    INPUT_RERUN: 'failed',
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
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

  child = spawn(process.execPath, [path.join(root, 'dist', 'index.js')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      show(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  child = null;
  if (pending) show(pending);

  const outputs = parseFileCommand(await readFile(files.GITHUB_OUTPUT, 'utf8'));
  console.log(`\nStep exit code: ${code}`);
  for (const [name, value] of Object.entries(outputs)) console.log(`output ${name} = ${value}`);
  console.log(`Job summary (Markdown, with Mermaid charts): ${files.GITHUB_STEP_SUMMARY}`);
  return code;
}

let code;
if (!badDay) {
  console.log(`Sandbox cluster at ${sandbox.url} (nodes pool-locale-1, pool-general-1; namespace data-jobs)`);
  code = await step('The example DAG', 'examples/clickhouse-db-sync/dag.yaml', { mode, params: DEMO_PARAMS }, 1);
} else {
  const dag = 'test/fixtures/bad-day/dag.yaml';
  const scratch = await mkdtemp(path.join(tmpdir(), 'pod-dag-bad-day-'));
  const params = `scratch: ${scratch}\n`;
  console.log(`Sandbox cluster at ${sandbox.url}; the tasks share ${scratch}`);
  const first = await step('Run attempt 1: a bad day', dag, { params }, 1);
  console.log('\nload-users failed because its input was missing. Adding it, then re-running the failed jobs');
  console.log('(GitHub\'s "Re-run failed jobs": the same run id, run attempt 2, with rerun: failed).');
  await writeFile(path.join(scratch, 'users.csv'), 'id,name\n1,ada\n2,grace\n3,linus\n');
  code = await step('Run attempt 2: re-run of the failed jobs', dag, { params }, 2);
  console.log(`\nAttempt 1 ended with exit code ${first}, attempt 2 with ${code}.`);
}
await sandbox.close();
process.exit(code);
