/**
 * A stand-in for the action's main step, for the crash test: it wires the run store and the
 * engine exactly as the action must (startRerunSession → runDag's `previous`, `onAttemptEnd`,
 * `recorded`),
 * prints the live log, and at the end one line `RESULT <json>` with every task's result. The test
 * SIGKILLs it at random moments and starts it again.
 *
 * Usage: node test/rerun/crash-child.ts   with env CRASH_CHILD = JSON of ChildConfig.
 */
import { runDag } from '../../src/engine.ts';
import { connect } from '../../src/kube/auth.ts';
import { createClient } from '../../src/kube/client.ts';
import { RunStore, startRerunSession } from '../../src/kube/run-store.ts';
import { LiveLogReporter } from '../../src/report/live-log.ts';
import { parseSpec } from '../../src/spec/index.ts';
import type { KeepPods } from '../../src/settings.ts';

/** What the child is told to run. */
export interface ChildConfig {
  kubeconfig: string;
  specYaml: string;
  namespace: string;
  runId: string;
  runAttempt: number;
  keepPods: KeepPods;
}

const config = JSON.parse(process.env['CRASH_CHILD'] ?? '{}') as ChildConfig;
const { spec, issues } = parseSpec(config.specYaml, 'crash.yaml');
if (spec === null) {
  console.error(issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  process.exit(2);
}
const conn = await connect({ kubeconfig: config.kubeconfig }, {});
const client = createClient(conn.kubeConfig, { retry: { baseMs: 20, maxMs: 200 } });
const context = {
  repository: 'octo-org/data-pipelines',
  runId: config.runId,
  runAttempt: config.runAttempt,
  sha: null,
  ref: null,
  serverUrl: 'https://github.com',
  workflow: 'nightly',
  job: 'sync',
  actor: null,
  eventName: 'schedule',
};
const store = new RunStore({ core: client.core, namespace: config.namespace, dag: spec.name, runId: config.runId, repository: context.repository, request: client.request });
const session = await startRerunSession(store, { spec, params: {}, runAttempt: config.runAttempt, mode: 'failed' });
for (const r of session.plan.rerun) if (session.stored !== null) console.log(`rerun ${r.task}: ${r.reason}`);
const state = await runDag({
  spec,
  params: {},
  mode: 'run',
  namespace: config.namespace,
  maxParallel: 0,
  keepPods: config.keepPods,
  client,
  context,
  reporter: new LiveLogReporter({ write: (line) => console.log(line) }),
  imagePullGraceMs: 0,
  previous: session.plan.previous,
  onAttemptEnd: (end) => session.attemptEnded(end),
  recorded: (task, attempt) => session.recorded(task, attempt),
});
await session.finished(state.result!);
console.log(`RESULT ${JSON.stringify({ result: state.result, tasks: Object.fromEntries(state.tasks.map((t) => [t.id, t.result])) })}`);
process.exit(0);
