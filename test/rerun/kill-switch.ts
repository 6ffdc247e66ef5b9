/**
 * A kill switch for an action started in this process, for the fast crash property test.
 *
 * What a SIGKILL does to the action, as the cluster sees it: every connection of the process is
 * gone at that instant (a request already handed to the server is handled, its answer is never
 * read), and nothing the process would have done next reaches the server. `Link` does exactly that
 * at the transport: the action's kubeconfig points at a TCP relay of its own in front of the
 * sandbox; `cut()` destroys every connection through it at once, and from then on the relay
 * accepts connections and never passes a byte (so the stopped action's retries hang instead of
 * spinning). TLS stays end to end between the real client and the sandbox.
 *
 * The action's JavaScript keeps running after the cut, as the process would not; what it can
 * still do is write to its own runner files (each start has its own, never read), so the next
 * start sees only what the cluster holds: the same as after a SIGKILL. Module state shared by
 * starts in one process would break that; the action keeps none (src/ has no module-level
 * mutable state on the run's path).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ActionError, runMain } from '../../src/action/steps.ts';
import type { AnnotationPlace, Runner } from '../../src/action/github-runner.ts';
import type { RequestEvent, Sandbox } from '../../sandbox/index.ts';
import { readRunContext } from '../../src/action/settings.ts';
import { runScope } from '../../src/common/run.ts';

/** Which job and step the killed action runs as (GITHUB_JOB, GITHUB_ACTION). */
const KILL_STEP_ENV = { GITHUB_JOB: 'nightly', GITHUB_ACTION: '__octo-org_pod-dag-action' };

/** The run scope of every start (src/common/run.ts `runScope`), for pod names in tests. */
export const KILL_SCOPE = runScope(readRunContext(KILL_STEP_ENV));

/** A cuttable network path from one client to the sandbox. */
export class Link {
  readonly url: string;
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  readonly #held = new Set<Socket>();
  /** The relay's own ports towards the sandbox: the `remotePort` the sandbox sees for this client. */
  readonly #ports = new Set<number>();
  #cut = false;

  private constructor(server: Server, targetPort: number) {
    this.#server = server;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (client) => {
      if (this.#cut) {
        // Accepted, never read, never answered: a dead process's peer, as far as the client knows.
        client.pause();
        client.unref();
        client.on('error', () => {});
        this.#held.add(client);
        return;
      }
      const upstream = netConnect(targetPort, '127.0.0.1');
      // Registered before any byte is written: the sandbox cannot see a request from an unknown port.
      upstream.once('connect', () => this.#ports.add(upstream.localPort!));
      for (const s of [client, upstream]) {
        this.#open.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.#open.delete(s);
          (s === client ? upstream : client).destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async open(sandboxUrl: string): Promise<Link> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new Link(server, Number(new URL(sandboxUrl).port));
  }

  /** Whether a request the sandbox saw came through this link. */
  owns(remotePort: number | undefined): boolean {
    return remotePort !== undefined && this.#ports.has(remotePort);
  }

  get isCut(): boolean {
    return this.#cut;
  }

  /** SIGKILL, as the cluster sees it: synchronous, every connection gone, nothing more passes. */
  cut(): void {
    this.#cut = true;
    for (const s of this.#open) s.destroy();
    this.#open.clear();
  }

  /** Ends the link for good (the test is over). */
  async close(): Promise<void> {
    this.cut();
    for (const s of this.#held) s.destroy();
    this.#held.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A runner that keeps everything in memory: one per start. */
export class MemoryRunner implements Runner {
  readonly inputs: Record<string, string>;
  readonly outputs: Record<string, string> = {};
  readonly state: Record<string, string> = {};
  readonly log: string[] = [];
  failed: string | null = null;

  constructor(inputs: Record<string, string>) {
    this.inputs = inputs;
  }
  getInput(name: string): string {
    return (this.inputs[name] ?? '').trim();
  }
  setSecret(): void {}
  info(line: string): void {
    this.log.push(line);
  }
  debug(): void {}
  warning(message: string, _place?: AnnotationPlace): void {
    this.log.push(`::warning::${message}`);
  }
  error(message: string, _place?: AnnotationPlace): void {
    this.log.push(`::error::${message}`);
  }
  setOutput(name: string, value: string): void {
    this.outputs[name] = value;
  }
  saveState(name: string, value: string): void {
    this.state[name] = value;
  }
  getState(name: string): string {
    return this.state[name] ?? '';
  }
  async appendSummary(): Promise<void> {}
  setFailed(message: string): void {
    this.failed = message;
  }
}

/** What one start of the action came to. */
export interface Outcome {
  result: string;
  tasks: Record<string, string>;
}

/** How one start ended: run to its end, or cut. */
export interface StartResult {
  killed: boolean;
  outcome: Outcome | null;
  /** API requests this start sent that the sandbox received. */
  requests: number;
  ms: number;
  log: string[];
}

/**
 * Where to kill a start: after `ms`, at its `request`-th API request as the server sees it, or at
 * the first request event `on` picks (`what` says which, for failure messages).
 */
export type KillPoint = { ms: number } | { request: number; phase: RequestEvent['phase'] } | { on: (e: RequestEvent) => boolean; what: string } | null;

/** Describes a kill point for a failure message. */
export function describeKill(k: KillPoint): string {
  if (k === null) return 'no kill';
  if ('ms' in k) return `kill after ${k.ms} ms`;
  if ('on' in k) return `kill ${k.what}`;
  return `kill when request ${k.request} is ${k.phase}`;
}

/** The action of one DAG, started in this process as often as the test likes. */
export class InProcessAction {
  readonly #sandbox: Sandbox;
  readonly #workspace: string;
  readonly #inputs: Record<string, string>;
  readonly #links: Link[] = [];

  private constructor(sandbox: Sandbox, workspace: string, inputs: Record<string, string>) {
    this.#sandbox = sandbox;
    this.#workspace = workspace;
    this.#inputs = inputs;
  }

  /** Writes the DAG into a workspace of its own; `inputs` are the step's `with:` beside `dag` and `kubeconfig`. */
  static async create(sandbox: Sandbox, yaml: string, inputs: Record<string, string>): Promise<InProcessAction> {
    const workspace = await mkdtemp(path.join(tmpdir(), 'pod-dag-kill-'));
    await writeFile(path.join(workspace, 'dag.yaml'), yaml);
    return new InProcessAction(sandbox, workspace, { dag: 'dag.yaml', mode: 'run', ...inputs });
  }

  /** Starts the action's main step with this GitHub run id and run attempt, and kills it at `kill`. */
  async start(runId: string, kill: KillPoint, runAttempt = 1): Promise<StartResult> {
    const link = await Link.open(this.#sandbox.url);
    this.#links.push(link);
    const kubeconfig = this.#sandbox.kubeconfig().replace(this.#sandbox.url, link.url);
    const runner = new MemoryRunner({ ...this.#inputs, kubeconfig });
    const temp = path.join(this.#workspace, `temp-${randomBytes(4).toString('hex')}`);
    const env = {
      GITHUB_RUN_ID: runId,
      GITHUB_RUN_ATTEMPT: String(runAttempt),
      GITHUB_REPOSITORY: 'octo-org/data-pipelines',
      ...KILL_STEP_ENV,
      GITHUB_WORKFLOW: 'nightly',
      GITHUB_WORKSPACE: this.#workspace,
      RUNNER_TEMP: temp,
    };

    let requests = 0;
    let timer: NodeJS.Timeout | null = null;
    let stopListening = (): void => {};
    const killed = new Promise<void>((resolve) => {
      const stop = this.#sandbox.onRequest((e) => {
        if (!link.owns(e.remotePort) || link.isCut) return;
        if (e.phase === 'received') requests++;
        const now = kill !== null && (('request' in kill && requests === kill.request && e.phase === kill.phase) || ('on' in kill && kill.on(e)));
        if (now) {
          link.cut();
          stop();
          resolve();
        }
      });
      if (kill !== null && 'ms' in kill) {
        timer = setTimeout(() => {
          link.cut();
          stop();
          resolve();
        }, kill.ms);
      }
      stopListening = () => {
        stop();
        if (timer) clearTimeout(timer);
      };
    });
    const started = Date.now();
    const main = runMain({ runner, env, signal: new AbortController().signal }).then(
      () => null,
      (err: unknown) => err,
    );
    const first = await Promise.race([main.then((err) => ({ ended: true as const, err })), killed.then(() => ({ ended: false as const, err: null }))]);
    const ms = Date.now() - started;
    stopListening();
    if (!first.ended) return { killed: true, outcome: null, requests, ms, log: runner.log };
    if (first.err !== null && !(first.err instanceof ActionError)) throw first.err;
    const file = runner.outputs['summary-json'];
    if (!file) throw new Error(`the action ended without summary-json (${String(first.err)}):\n${runner.log.join('\n')}`);
    const doc = JSON.parse(await readFile(file, 'utf8')) as { result: string; tasks: { id: string; result: string }[] };
    return { killed: false, outcome: { result: doc.result, tasks: Object.fromEntries(doc.tasks.map((t) => [t.id, t.result])) }, requests, ms, log: runner.log };
  }

  /** Cuts every link for good and removes the workspace. */
  async close(): Promise<void> {
    await Promise.all(this.#links.map((l) => l.close()));
    await rm(this.#workspace, { recursive: true, force: true });
  }
}
