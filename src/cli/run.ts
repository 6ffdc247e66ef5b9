/**
 * `pod-dag run`: the action's engine against the current kubeconfig, with the same live log.
 * There is no GitHub run here: the run id is local (`local-<time>`, or POD_DAG_RUN_ID to re-attach
 * to an interrupted run), and the result is printed instead of a job summary.
 *
 * With POD_DAG_RUN_ID, the key that signs the run's pods (src/kube/pod-proof.ts) is kept in a file
 * of the user's (`$XDG_STATE_HOME/pod-dag-action/keys/`, else `~/.local/state/...`, mode 0600), so
 * a second `pod-dag run` with the same id adopts the pods of the first, and no one else's.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { UserError } from '../common/errors.ts';
import type { KeepPods } from '../common/run.ts';
import { runDag } from '../engine/index.ts';
import { connect, preflight } from '../kube/auth.ts';
import { createClient } from '../kube/client.ts';
import { kubePodApi } from '../kube/pod-api.ts';
import { PodProof } from '../kube/pod-proof.ts';
import { makeRedactor } from '../report/escape.ts';
import { LiveLogReporter } from '../report/live-log.ts';
import { withoutUrlCredentials } from '../common/url-credentials.ts';
import { sensitiveValues } from '../common/sensitive.ts';
import type { DagSpec } from '../spec/types.ts';
import { EXIT, localContext, type CliIO } from './io.ts';

/** What `pod-dag run` was asked to do. */
export interface LocalRun {
  spec: DagSpec;
  params: Record<string, string>;
  namespace: string | null;
  context: string | null;
  maxParallel: number;
  keepPods: KeepPods;
  /** The client's rate limit (`--api-qps`, `--api-burst`): `qps` null sends without a client-side limit. */
  api: { qps: number | null; burst: number };
}

/** Runs the DAG; resolves to the exit code (0 success, 1 failed or cancelled, 2 cannot start). */
export async function runLocal(run: LocalRun, given: CliIO): Promise<number> {
  let io = given;
  try {
    const connection = await connect({ context: run.context ?? undefined }, io.env, { cli: true });
    // No runner masks a terminal: the kubeconfig's credentials (and those its exec plugin hands
    // out later) are replaced by *** in everything printed from here on, as in the step log.
    // So are the values of params named like credentials (src/common/sensitive.ts).
    connection.secrets.push(...sensitiveValues(run.params));
    let redact = makeRedactor(connection.secrets);
    connection.onNewSecret(() => (redact = makeRedactor(connection.secrets)));
    io = { ...given, stdout: (text) => given.stdout(redact(text)), stderr: (text) => given.stderr(redact(text)) };
    const namespace = run.namespace ?? run.spec.namespace ?? connection.namespace ?? 'default';
    const client = createClient(connection.kubeConfig, run.api);
    io.stderr(`cluster ${withoutUrlCredentials(client.server)}, namespace ${namespace}\n`);
    const checked = await preflight(client, namespace, 'run', { spec: run.spec });
    for (const w of checked.warnings) io.stderr(`warning: ${w}\n`);
    const context = localContext(io.env);
    const proof = context.runId === null ? undefined : await runKey(io.env, namespace, run.spec.name, context.runId);
    const state = await runDag({
      spec: run.spec,
      params: run.params,
      mode: 'run',
      namespace,
      maxParallel: run.maxParallel,
      keepPods: run.keepPods,
      pods: kubePodApi(client),
      context,
      proof,
      reporter: new LiveLogReporter({ write: (line) => io.stdout(`${line}\n`), secrets: connection.secrets }),
      signal: io.signal,
    });
    return state.result === 'success' ? EXIT.ok : EXIT.failed;
  } catch (err) {
    if (err instanceof UserError) {
      io.stderr(`pod-dag run: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

/**
 * The key of a run re-attached by id: read from its file, or made and written there (0600) before
 * any pod is created. A file that is not a key is an error naming it.
 */
async function runKey(env: NodeJS.ProcessEnv, namespace: string, dag: string, runId: string): Promise<PodProof> {
  const base = env['XDG_STATE_HOME'] || path.join(env['HOME'] || homedir(), '.local', 'state');
  const file = path.join(base, 'pod-dag-action', 'keys', `${`${namespace}_${dag}_${runId}`.replace(/[^A-Za-z0-9._-]+/g, '_')}.pem`);
  let pem: string | null = null;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot read the run's key ${file}: ${(err as Error).message}`);
  }
  if (pem !== null) {
    try {
      return new PodProof(pem);
    } catch (err) {
      throw new UserError(`${file} does not hold the run's key (${(err as Error).message}); delete it, or use another POD_DAG_RUN_ID.`);
    }
  }
  const proof = new PodProof();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, proof.privateKeyPem(), { mode: 0o600 });
  return proof;
}

