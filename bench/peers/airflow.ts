/**
 * Apache Airflow as its users run it beside a cluster: the LocalExecutor on SQLite, with the
 * components Airflow 3 needs (the api-server, which also serves the Execution API the task
 * processes report to; the scheduler, whose LocalExecutor runs the tasks in parallel worker
 * processes; the dag-processor), AIRFLOW_HOME in a temp dir, listening on loopback only. DAG runs
 * are triggered and read through the REST API (schedule=None DAGs, as a manual trigger).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REQUIREMENTS = path.join(HERE, 'airflow', 'requirements.txt');

/** The pinned versions, from requirements.txt. */
export function airflowVersions(): { airflow: string; provider: string; kubernetesClient: string } {
  const req = readFileSync(REQUIREMENTS, 'utf8');
  const pin = (name: string): string => new RegExp(`^${name}==(\\S+)$`, 'm').exec(req)?.[1] ?? '?';
  return { airflow: pin('apache-airflow'), provider: pin('apache-airflow-providers-cncf-kubernetes'), kubernetesClient: pin('kubernetes') };
}

/** Where install.sh puts the virtualenv, or null with why it cannot be used. */
export function airflowInstall(): { dir: string } | { missing: string } {
  const cache = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
  const dir = path.join(cache, 'pod-dag-action', `airflow-${airflowVersions().airflow}`);
  if (!existsSync(path.join(dir, '.installed')) || !existsSync(path.join(dir, 'bin', 'airflow'))) {
    return { missing: `Airflow is not installed in ${dir}: run \`bash bench/peers/airflow/install.sh\` (Python 3.11 and PyPI, a few minutes), then \`npm run bench -- --peers\` again` };
  }
  return { dir };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** One DAG run as the REST API reports it. */
export interface AirflowRun {
  state: string;
  queuedAtMs: number;
  startMs: number;
  endMs: number;
}

interface Component {
  name: string;
  child: ChildProcess;
  log: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running Airflow. */
export class AirflowStack {
  readonly home: string;
  readonly #venv: string;
  readonly #components: Component[] = [];
  readonly #env: NodeJS.ProcessEnv;
  readonly #api: string;

  private constructor(venv: string, home: string, port: number, env: NodeJS.ProcessEnv) {
    this.#venv = venv;
    this.home = home;
    this.#api = `http://127.0.0.1:${port}`;
    this.#env = env;
  }

  /**
   * Migrates a fresh SQLite database and starts the api-server, scheduler and dag-processor, then
   * waits until every DAG in `dagIds` is parsed and the scheduler reports healthy.
   */
  static async start(o: {
    venv: string;
    dagsFolder: string;
    dagIds: string[];
    parallelism: number;
    env: Record<string, string>;
    log: (line: string) => void;
  }): Promise<AirflowStack> {
    const home = mkdtempSync(path.join(os.tmpdir(), 'pod-dag-bench-airflow-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: `${path.join(o.venv, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: home,
      LANG: 'C.UTF-8',
      AIRFLOW_HOME: home,
      AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${path.join(home, 'airflow.db')}`,
      AIRFLOW__CORE__DAGS_FOLDER: o.dagsFolder,
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
      // At most this many task processes at once (the fan-out's max-parallel on the action's side).
      AIRFLOW__CORE__PARALLELISM: String(o.parallelism),
      AIRFLOW__API__HOST: '127.0.0.1',
      AIRFLOW__API__PORT: String(port),
      AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://127.0.0.1:${port}/execution/`,
      // The components must share the secret that signs the task processes' Execution API tokens.
      AIRFLOW__API_AUTH__JWT_SECRET: `pod-dag-bench-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`,
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: 'True',
      AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST: '127.0.0.1',
      NO_PROXY: '*',
      ...o.env,
    };
    const stack = new AirflowStack(o.venv, home, port, env);
    try {
      const t0 = performance.now();
      await stack.#run(['db', 'migrate'], 300_000);
      o.log(`  airflow: database migrated (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      for (const [name, args] of [
        ['api-server', ['api-server']],
        // --skip-serve-logs: its log server would listen on every interface; the logs are local files here.
        ['scheduler', ['scheduler', '--skip-serve-logs']],
        ['dag-processor', ['dag-processor']],
      ] as const) {
        stack.#components.push(stack.#spawn(name, [...args]));
      }
      await stack.#waitFor('every DAG parsed and the scheduler healthy', 300_000, async () => {
        const health = (await stack.#get('/api/v2/monitor/health')) as { scheduler?: { status?: string } };
        if (health.scheduler?.status !== 'healthy') return false;
        const dags = (await stack.#get('/api/v2/dags?limit=100')) as { dags: { dag_id: string }[] };
        const have = new Set(dags.dags.map((d) => d.dag_id));
        return o.dagIds.every((d) => have.has(d));
      });
      o.log(`  airflow: ready (${((performance.now() - t0) / 1000).toFixed(1)} s after the migration started)`);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  /** The pids of the components (their descendants are found from them). */
  pids(): number[] {
    return this.#components.map((c) => c.child.pid).filter((p): p is number => p !== undefined);
  }

  #spawn(name: string, args: string[]): Component {
    const log = path.join(this.home, `${name}.log`);
    const fd = openSync(log, 'a');
    // Its own process group, so stop() can end the component and everything it forked.
    // setpriv --pdeathsig: the kernel ends the component if the benchmark dies, even by SIGKILL.
    const airflow = path.join(this.#venv, 'bin', 'airflow');
    const [cmd, argv] = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', airflow, ...args]] : [airflow, args];
    const child = spawn(cmd, argv, { env: this.#env, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    return { name, child, log };
  }

  #run(args: string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const c = this.#spawn(args.join('-'), args);
      const timer = setTimeout(() => c.child.kill('SIGKILL'), timeoutMs);
      c.child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`airflow ${args.join(' ')} exited ${code}: ${tail(c.log)}`));
      });
    });
  }

  async #get(p: string): Promise<unknown> {
    const res = await fetch(`${this.#api}${p}`, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    return res.json();
  }

  async #waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      for (const c of this.#components) {
        if (c.child.exitCode !== null || c.child.signalCode !== null) {
          throw new Error(`airflow ${c.name} exited (${c.child.exitCode ?? c.child.signalCode}) before ${what}: ${tail(c.log)}`);
        }
      }
      try {
        if (await probe()) return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`airflow: no ${what} after ${timeoutMs / 1000} s${last ? ` (last: ${last})` : ''}`);
      // Airflow offers nothing to wait on for these (a DAG parsed, a run finished): poll its API.
      await sleep(250);
    }
  }

  /** Triggers a run of `dagId` through the REST API; returns its run id. */
  async trigger(dagId: string, conf: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${this.#api}/api/v2/dags/${dagId}/dagRuns`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ logical_date: null, conf }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`triggering ${dagId}: ${res.status} ${(await res.text()).slice(0, 500)}`);
    return ((await res.json()) as { dag_run_id: string }).dag_run_id;
  }

  /** Waits until the run has ended (success or failed); its times come from Airflow's own record. */
  async wait(dagId: string, runId: string, timeoutMs: number): Promise<AirflowRun> {
    let run: { state: string; queued_at: string; start_date: string; end_date: string } | undefined;
    await this.#waitFor(`end of ${dagId} ${runId}`, timeoutMs, async () => {
      run = (await this.#get(`/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`)) as typeof run;
      return run!.state === 'success' || run!.state === 'failed';
    });
    return { state: run!.state, queuedAtMs: isoMs(run!.queued_at), startMs: isoMs(run!.start_date), endMs: isoMs(run!.end_date) };
  }

  /** The states of a run's task instances, by try, for a failure message. */
  async taskStates(dagId: string, runId: string): Promise<string> {
    const tis = (await this.#get(`/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances?limit=200`)) as {
      task_instances: { task_id: string; state: string; try_number: number }[];
    };
    return tis.task_instances.map((t) => `${t.task_id}:${t.state}#${t.try_number}`).join(' ');
  }

  /** Stops every component and what it forked (SIGTERM, SIGKILL after 10 s), then removes AIRFLOW_HOME (kept with POD_DAG_BENCH_KEEP_AIRFLOW_HOME=1). */
  async stop(keepHome = false): Promise<void> {
    await Promise.all(
      this.#components.map(async (c) => {
        if (c.child.exitCode !== null || c.child.signalCode !== null || c.child.pid === undefined) return;
        const exited = new Promise((r) => c.child.once('exit', r));
        try {
          process.kill(-c.child.pid, 'SIGTERM');
        } catch {
          return;
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-c.child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
        }, 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    // Forked workers of a stopped component may outlive it for a moment: end its group.
    for (const c of this.#components) {
      try {
        if (c.child.pid) process.kill(-c.child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
    if (!keepHome && !process.env['POD_DAG_BENCH_KEEP_AIRFLOW_HOME']) rmSync(this.home, { recursive: true, force: true });
  }
}

/** An Airflow timestamp ("2026-12-03T15:14:49.681508Z") in ms since the epoch, with its microseconds. */
export function isoMs(stamp: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) throw new Error(`unexpected Airflow timestamp "${stamp}"`);
  return Date.parse(`${m[1]}${m[3]}`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}
