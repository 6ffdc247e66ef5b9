/**
 * One benchmark measurement, in a process of its own so that its peak RSS is the client's alone
 * (the sandbox API server runs in the parent, bench/main.ts, as a real API server would run
 * elsewhere). Usage: `node bench/child.ts <case> '<json params>'`, with the sandbox's kubeconfig
 * in BENCH_KUBECONFIG. Prints one line `RESULT <json>` on stdout; exits non-zero if the case
 * could not run.
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { connect } from '../src/kube/auth.ts';
import { createClient, type KubeClient } from '../src/kube/client.ts';
import { kubePodApi } from '../src/kube/pod-api.ts';
import { runDag, type RunDagOptions } from '../src/engine/index.ts';
import { RunStore, startRerunSession, type Requester, type RerunSession } from '../src/kube/run-store.ts';
import type { AttemptEnd } from '../src/dag/types.ts';
import { Scheduler } from '../src/dag/scheduler.ts';
import { LogFollower } from '../src/kube/logs.ts';
import { LiveLogReporter } from '../src/report/live-log.ts';
import { CompositeReporter, type LogLine, type Reporter, type RunContext } from '../src/report/types.ts';
import { StdoutLines } from '../src/action/github-runner.ts';
import { parseSpec } from '../src/spec/index.ts';
import type { DagSpec } from '../src/spec/types.ts';
import { NAMESPACE } from './common.ts';

const context = (runId: string): RunContext => ({
  repository: 'octo-org/bench',
  runId,
  runAttempt: 1,
  sha: 'abc123',
  ref: 'refs/heads/main',
  serverUrl: 'https://github.com',
  workflow: 'bench',
  job: 'bench',
  actor: 'bench',
  eventName: 'workflow_dispatch',
});

function spec(yaml: string): DagSpec {
  const { spec: s, issues } = parseSpec(yaml, 'bench.yaml');
  if (!s) throw new Error(`bench spec is invalid: ${issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('; ')}`);
  return s;
}

const pad = (i: number): string => String(i).padStart(4, '0');

/** A chain t0000 → t0001 → ... of `n` tasks. */
function chainSpec(name: string, n: number, image: string): DagSpec {
  const lines = [`version: 1`, `name: ${name}`, `tasks:`];
  for (let i = 0; i < n; i++) lines.push(`  t${pad(i)}: {image: "${image}"${i ? `, needs: [t${pad(i - 1)}]` : ''}}`);
  return spec(lines.join('\n'));
}

/** One root, n-2 middle tasks that need it, one sink that needs them all: n tasks. */
function wideSpec(name: string, n: number): DagSpec {
  const mids = Array.from({ length: n - 2 }, (_, i) => `m${pad(i)}`);
  const lines = [`version: 1`, `name: ${name}`, `tasks:`, `  root: {image: sandbox/succeed}`];
  for (const m of mids) lines.push(`  ${m}: {image: sandbox/succeed, needs: [root]}`);
  lines.push(`  sink: {image: sandbox/succeed, needs: [${mids.join(', ')}]}`);
  return spec(lines.join('\n'));
}

/** `n` independent tasks. */
function flatSpec(name: string, n: number, image: string): DagSpec {
  const lines = [`version: 1`, `name: ${name}`, `tasks:`];
  for (let i = 0; i < n; i++) lines.push(`  t${pad(i)}: {image: "${image}"}`);
  return spec(lines.join('\n'));
}

/** The step log's reporter, writing nowhere: what the action does per decision and line. */
const stepLogReporter = (): Reporter => new LiveLogReporter({ write: () => {} });

let runSeq = 0;
/** Requests the run store made (read and writes of the run's state), over all runs of this process. */
let stateRequests = 0;

/**
 * Runs `s` through the engine. With `store`, as the action does: the run's state kept in the
 * cluster (src/kube/run-store.ts), read before the run, each attempt's end recorded before its pod
 * goes, the run's end recorded after it.
 */
async function runEngine(client: KubeClient, s: DagSpec, reporter: Reporter, maxParallel = 0, extra: Partial<RunDagOptions> = {}, store = false): Promise<number> {
  const t0 = performance.now();
  const runId = `${process.pid}${++runSeq}`;
  let session: RerunSession | null = null;
  if (store) {
    const request: Requester = (what, fn) => {
      stateRequests++;
      return client.request(what, fn);
    };
    const runStore = new RunStore({ core: client.core, namespace: NAMESPACE, dag: s.name, runId, repository: 'octo-org/bench', request });
    session = await startRerunSession(runStore, { spec: s, params: {}, runAttempt: 1, mode: 'failed' });
  }
  const state = await runDag({
    spec: s,
    params: {},
    mode: 'run',
    namespace: NAMESPACE,
    maxParallel,
    keepPods: 'never',
    pods: kubePodApi(client),
    context: context(runId),
    reporter,
    ...(session === null ? {} : { previous: session.plan.previous, onAttemptEnd: (end: AttemptEnd) => session.attemptEnded(end), recorded: session.recorded }),
    ...extra,
  });
  if (session !== null && state.result !== null) await session.finished(state.result);
  const ms = performance.now() - t0;
  if (state.result !== 'success') {
    const bad = state.tasks.filter((t) => t.result !== 'succeeded').slice(0, 3);
    throw new Error(`run of ${s.name} ended ${state.result}: ${bad.map((t) => `${t.id} ${t.result} (${t.reason})`).join('; ')}`);
  }
  return ms;
}

/**
 * The floor: the least a client can do per task with @kubernetes/client-node on this server.
 * One watch for all pods (as the engine has), then per task: create the pod, wait for the watch
 * to say Succeeded, next. No log read, no delete, no rate limit.
 */
async function floorChain(kc: k8s.KubeConfig, n: number, tag: string): Promise<number> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const selector = `floor=${tag}`;
  const list = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: selector });
  const succeeded = new Set<string>();
  let wake: { name: string; resolve: () => void } | null = null;
  let failed: unknown = null;
  const controller = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${NAMESPACE}/pods`,
    { resourceVersion: list.metadata?.resourceVersion, labelSelector: selector },
    (_type: string, pod: k8s.V1Pod) => {
      const name = pod.metadata?.name ?? '';
      if (pod.status?.phase === 'Succeeded') succeeded.add(name);
      if (wake && succeeded.has(wake.name)) wake.resolve();
    },
    (err: unknown) => void (failed = err),
  );
  const t0 = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      const name = `floor-${tag}-${i}`;
      await core.createNamespacedPod({
        namespace: NAMESPACE,
        body: { metadata: { name, labels: { floor: tag } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'sandbox/succeed' }] } },
      });
      await new Promise<void>((resolve, reject) => {
        if (succeeded.has(name)) return resolve();
        if (failed) return reject(failed as Error);
        wake = { name, resolve };
      });
    }
    return performance.now() - t0;
  } finally {
    controller.abort();
  }
}

/**
 * Wraps the Scheduler's public methods to add up the time spent in them (outermost calls only).
 * The calls are synchronous and the process has one thread, so their wall time is CPU time (plus
 * any preemption by other processes: an upper bound). performance.now() costs ~0.1 µs a call;
 * process.cpuUsage() is a system call and cost more than what it measured here.
 */
function instrumentScheduler(): Record<string, { calls: number; ms: number }> {
  const acc: Record<string, { calls: number; ms: number }> = {};
  const proto = Scheduler.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  let depth = 0;
  for (const m of ['start', 'handle', 'state', 'nextWakeAt', 'isDone', 'taskState', 'stats']) {
    const orig = proto[m];
    if (typeof orig !== 'function') continue;
    const slot = (acc[m] = { calls: 0, ms: 0 });
    proto[m] = function (this: unknown, ...args: unknown[]): unknown {
      if (depth > 0) return orig.apply(this, args);
      depth++;
      const t0 = performance.now();
      try {
        return orig.apply(this, args);
      } finally {
        slot.ms += performance.now() - t0;
        depth--;
        slot.calls++;
      }
    };
  }
  return acc;
}

/**
 * The reference poller: per pod, create it, GET it every `intervalMs` until it has ended, read
 * its log once, delete it. The request pattern of Airflow's KubernetesPodOperator.
 */
async function pollerRun(kc: k8s.KubeConfig, n: number, image: string, intervalMs: number, tag: string): Promise<number> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const name = `poll-${tag}-${i}`;
      await core.createNamespacedPod({
        namespace: NAMESPACE,
        body: { metadata: { name }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image }] } },
      });
      for (;;) {
        await new Promise((r) => setTimeout(r, intervalMs));
        const pod = await core.readNamespacedPod({ name, namespace: NAMESPACE });
        if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') break;
      }
      await core.readNamespacedPodLog({ name, namespace: NAMESPACE, container: 'main' });
      await core.deleteNamespacedPod({ name, namespace: NAMESPACE, gracePeriodSeconds: 0 });
    }),
  );
  return performance.now() - t0;
}

/**
 * Counts log lines and checks their numbering: the writer prints `<9-digit number> <filler>`.
 * Cheap per line (no allocation, the clock read once per 1,024 lines and at the last line), so
 * that it measures the follower rather than itself.
 */
function countingReporter(expectedLines: number): { reporter: Reporter; stats: { lines: number; bytes: number; lost: number; repeated: number; outOfOrder: number; firstAt: number; lastAt: number; lastNumber: number } } {
  const stats = { lines: 0, bytes: 0, lost: 0, repeated: 0, outOfOrder: 0, firstAt: 0, lastAt: 0, lastNumber: -1 };
  const reporter: Reporter = {
    logLine(l: LogLine) {
      const t = l.text;
      if (stats.lines === 0) stats.firstAt = performance.now();
      stats.lines++;
      // The lines are ASCII: characters are bytes.
      stats.bytes += t.length + 1;
      let n = 0;
      for (let i = 0; i < 9; i++) n = n * 10 + t.charCodeAt(i) - 48;
      if (n === stats.lastNumber + 1) stats.lastNumber = n;
      else if (n <= stats.lastNumber) stats.repeated++;
      else {
        stats.lost += n - stats.lastNumber - 1;
        stats.outOfOrder++;
        stats.lastNumber = n;
      }
      if ((stats.lines & 1023) === 0 || n === expectedLines - 1) stats.lastAt = performance.now();
    },
  };
  return { reporter, stats };
}

/** The log writer's script: numbered 100-byte lines until `bytes` were written, as fast as the pipe takes them. */
const WRITER_SCRIPT = `
const total = Number(process.argv[1]);
const filler = 'x'.repeat(89);
let i = 0, written = 0;
function more() {
  while (written < total) {
    let chunk = '';
    for (let k = 0; k < 640 && written < total; k++) { chunk += String(i++).padStart(9, '0') + ' ' + filler + '\\n'; written += 100; }
    if (!process.stdout.write(chunk)) return process.stdout.once('drain', more);
  }
}
more();
`;

/**
 * Peak heap in use, sampled (RSS peaks come from the kernel: resourceUsage().maxRSS), and what
 * made up the largest RSS sampled: V8's heap (in use and reserved), memory outside it that JS
 * objects hold (Buffers: sockets, TLS, streams), and the rest (code, native allocations).
 */
const memory = { peakHeapMB: 0, atPeakRss: {} as Record<string, number> };
let peakRss = 0;
setInterval(() => {
  const m = process.memoryUsage();
  memory.peakHeapMB = Math.max(memory.peakHeapMB, m.heapUsed / 2 ** 20);
  if (m.rss > peakRss) {
    peakRss = m.rss;
    const mb = (b: number): number => Math.round(b / 2 ** 20);
    memory.atPeakRss = { rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) };
  }
}, 100).unref();

/**
 * The log follower alone, without a server: `bytes` of timestamped numbered lines handed to
 * LogFollower in 64 KiB chunks, as a fast server would send them. What the client can take.
 */
async function followerAlone(bytes: number): Promise<Record<string, unknown>> {
  const filler = 'x'.repeat(89);
  const base = Date.UTC(2026, 0, 1);
  const chunks: string[] = [];
  let chunk = '';
  let last = '';
  for (let i = 0; i < bytes / 100; i++) {
    // One line a microsecond, stamped as the kubelet does (RFC 3339, nanoseconds, zeros trimmed).
    const ts = `${new Date(base + Math.floor(i / 1e6) * 1000).toISOString().slice(0, 19)}.${String((i % 1e6) * 1000).padStart(9, '0').replace(/0+$/, '')}Z`.replace('.Z', 'Z');
    last = `${ts} ${String(i).padStart(9, '0')} ${filler}\n`;
    chunk += last;
    if (chunk.length >= 65536) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  let calls = 0;
  const fake = {
    // The first read sends everything; the next ones (the final read) only the last line again.
    openStream: async () => Readable.from(calls++ === 0 ? chunks : [last]) as unknown as IncomingMessage,
  } as unknown as KubeClient;
  const { reporter, stats } = countingReporter(bytes / 100);
  const follower = new LogFollower({ api: kubePodApi(fake), namespace: NAMESPACE, pod: 'p', container: 'main', onLine: (text, time) => reporter.logLine!({ task: 't', attempt: 1, text, time }) });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  follower.terminated();
  follower.start();
  await follower.done;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, lines: stats.lines, lost: stats.lost + Math.max(0, bytes / 100 - 1 - stats.lastNumber), repeated: stats.repeated };
}

/**
 * BENCH_HEAP_PROFILE=<file>: samples every allocation of the case (those collected since
 * included) with V8's sampling heap profiler and writes the profile (.heapprofile, for Chrome's
 * DevTools or bench/heap-top.mjs) to <file>: what allocates, not only what is held at the end.
 */
async function withHeapProfile<T>(fn: () => Promise<T>): Promise<T> {
  const file = process.env['BENCH_HEAP_PROFILE'];
  if (!file) return fn();
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  }
}

async function main(): Promise<void> {
  // BENCH_V8_FLAGS: V8 flags set at run time, as the action itself could (not at start-up).
  if (process.env['BENCH_V8_FLAGS']) (await import('node:v8')).setFlagsFromString(process.env['BENCH_V8_FLAGS']);
  const [name, raw] = process.argv.slice(2);
  const p = JSON.parse(raw ?? '{}') as Record<string, unknown>;
  if (name === 'follower') {
    const r = await followerAlone(p['bytes'] as number);
    process.stdout.write(`RESULT ${JSON.stringify({ ...r, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
    return;
  }
  const kubeconfig = process.env['BENCH_KUBECONFIG'];
  if (!kubeconfig) throw new Error('BENCH_KUBECONFIG is not set (run through bench/run.mjs)');
  const conn = await connect({ kubeconfig }, {});
  // qps/burst null: the shipped defaults (DEFAULT_QPS/DEFAULT_BURST); a number lifts or sets the client's rate limit.
  const limits = typeof p['qps'] === 'number' ? { qps: p['qps'], burst: (p['burst'] as number | undefined) ?? (p['qps'] as number) } : {};
  let requests = 0;
  const client = createClient(conn.kubeConfig, { ...limits, onRequest: () => void requests++ });
  const tag = `${process.pid}`;
  let result: Record<string, unknown>;
  switch (name) {
    case 'chain': {
      const n = p['tasks'] as number;
      // Alternate which goes first, so neither always meets a warmer server.
      const floorFirst = Boolean(p['floorFirst']);
      let floorMs = 0;
      const reporter = stepLogReporter();
      if (floorFirst) floorMs = await floorChain(conn.kubeConfig, n, tag);
      // The same with the client's rate limit lifted: the engine's own overhead, without the cap.
      // The two engine runs alternate too: the first in a child pays the JIT's warm-up.
      const unlimited = createClient(conn.kubeConfig, { qps: 1e6, burst: 1e6 });
      const shipped = (): Promise<number> => runEngine(client, chainSpec(`chain-${tag}`, n, 'sandbox/succeed'), reporter);
      const lifted = (): Promise<number> => runEngine(unlimited, chainSpec(`chain-u-${tag}`, n, 'sandbox/succeed'), reporter);
      let engineMs: number;
      let unlimitedMs: number;
      if (floorFirst) {
        unlimitedMs = await lifted();
        engineMs = await shipped();
      } else {
        engineMs = await shipped();
        unlimitedMs = await lifted();
      }
      if (!floorFirst) floorMs = await floorChain(conn.kubeConfig, n, tag);
      result = { floorMs, engineMs, unlimitedMs, clientRequests: requests };
      break;
    }
    case 'wide': {
      const n = p['tasks'] as number;
      const s = wideSpec(`wide-${tag}`, n);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      // Built only to time the construction, and let go before the run (not counted in its RSS).
      new Scheduler(s, { now: Date.now(), maxParallel: p['maxParallel'] as number, params: {} });
      const constructUs = ((d) => d.user + d.system)(process.cpuUsage(c0));
      const constructWallMs = performance.now() - t0;
      const acc = instrumentScheduler();
      const cpu0 = process.cpuUsage();
      const wallMs = await withHeapProfile(() => runEngine(client, s, stepLogReporter(), p['maxParallel'] as number, {}, true));
      const cpu = process.cpuUsage(cpu0);
      for (const v of Object.values(acc)) v.ms = Math.round(v.ms * 10) / 10;
      const schedMs = Object.values(acc).reduce((a, b) => a + b.ms, 0) + constructUs / 1000;
      result = { wallMs, schedulerCpuMs: schedMs, constructCpuMs: constructUs / 1000, constructWallMs, byMethod: acc, processCpuMs: (cpu.user + cpu.system) / 1000, clientRequests: requests, stateRequests };
      break;
    }
    case 'requests': {
      const n = p['tasks'] as number;
      const wallMs = await runEngine(client, flatSpec(`req-${tag}`, n, p['image'] as string), stepLogReporter());
      result = { wallMs, clientRequests: requests };
      break;
    }
    case 'poller': {
      const wallMs = await pollerRun(conn.kubeConfig, p['tasks'] as number, p['image'] as string, p['intervalMs'] as number, tag);
      result = { wallMs };
      break;
    }
    case 'logs': {
      const bytes = p['bytes'] as number;
      const s = spec(
        [`version: 1`, `name: logs-${tag}`, `tasks:`, `  writer:`, `    image: bench/log-writer`, `    command: ${JSON.stringify([process.execPath, '-e', WRITER_SCRIPT, String(bytes)])}`].join('\n'),
      );
      const { reporter, stats } = countingReporter(bytes / 100);
      // The step log as the action writes it: the live log's lines through the runner's stdout
      // writer (a burst of lines per write) into a pipe that another process reads (`cat`, as the
      // runner reads the action's stdout); a backed-up pipe pauses the log stream.
      // (`stepLog: false`: counted only, to see what the step log costs.)
      const withStepLog = p['stepLog'] !== false;
      const runner = withStepLog ? spawn('cat', [], { stdio: ['pipe', 'ignore', 'inherit'] }) : null;
      const stepLog = new StdoutLines(runner?.stdin ?? process.stdout);
      const both = withStepLog ? new CompositeReporter([reporter, new LiveLogReporter({ write: (line) => stepLog.line(line) })]) : reporter;
      const cpu0 = process.cpuUsage();
      const wallMs = await runEngine(client, s, both, 0, withStepLog ? { logBacklog: () => stepLog.backlog() } : {});
      stepLog.flush();
      runner?.stdin.end();
      const cpu = process.cpuUsage(cpu0);
      const expectedLines = bytes / 100;
      // Lines never seen at the end count as lost too.
      const lost = stats.lost + Math.max(0, expectedLines - 1 - stats.lastNumber);
      result = { wallMs, processCpuMs: (cpu.user + cpu.system) / 1000, streamMs: stats.lastAt - stats.firstAt, lines: stats.lines, expectedLines, bytes: stats.bytes, lost, repeated: stats.repeated, clientRequests: requests };
      break;
    }
    default:
      throw new Error(`unknown case ${JSON.stringify(name)}; expected chain, wide, requests, poller or logs`);
  }
  const ru = process.resourceUsage();
  result['maxRssMB'] = ru.maxRSS / 1024;
  result['peakHeapMB'] = memory.peakHeapMB;
  result['atPeakRssMB'] = memory.atPeakRss;
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench case failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
