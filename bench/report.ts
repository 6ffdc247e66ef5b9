/** Writes BENCHMARKS.md: the machine, the table of one run, and what each row measures and how. */
import { readFile, writeFile } from 'node:fs/promises';
import { existingSection } from './peers/section.ts';
import { DEFAULT_BURST, DEFAULT_QPS } from '../src/kube/rate-limit.ts';
import os from 'node:os';

/** What one run of bench/main.ts produced. */
export interface BenchRun {
  table: string;
  notes: string[];
  started: Date;
  /** `os.loadavg()` as the run started: whether other work was running (at the end, the bench's own load counts too). */
  loadAtStart: number[];
  quick: boolean;
  sizes: Record<string, number | string>;
}

/** Renders BENCHMARKS.md for a run and writes it to `file`. */
export async function writeBenchmarksMd(file: string, run: BenchRun): Promise<void> {
  // The head-to-head section is written by `npm run bench -- --peers`; a run of these rows keeps it.
  const peers = existingSection(await readFile(file, 'utf8').catch(() => ''));
  const cpus = os.cpus();
  const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(1)).join(', ');
  const busy = (run.loadAtStart[0] ?? 0) > 1;
  const text = `# Benchmarks

${run.quick ? '**Quick run** (`--quick`: fewer, smaller repetitions; see the sizes below).\n\n' : ''}Measured by \`npm run bench\` (bench/), ${run.started.toISOString().slice(0, 16).replace('T', ' ')} UTC, on:
${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}, ${os.type()} ${os.release()}.
Load average as the run started: ${fmtLoad(run.loadAtStart)} (${busy ? '**the machine was busy** with other work, so absolute times are pessimistic' : 'nothing else was running'}); at its end: ${fmtLoad(os.loadavg())} (the bench's own load included); the ratios are
measured in the same run, side by side, and suffer less from other load.

${run.table}

Every figure is the median of the repetitions (sizes: ${Object.entries(run.sizes).map(([k, v]) => `${k} ${v}`).join(', ')}).
Rerun with \`npm run bench\` (full, writes this file) or \`npm run bench -- --quick\` (CI; prints only).

${run.notes.length ? `Details of this run:\n\n${run.notes.map((n) => `- ${n}`).join('\n')}\n\n` : ''}${EXPLANATION}`;
  await writeFile(file, peers ? `${text.trimEnd()}\n\n${peers}\n` : text);
}

const EXPLANATION = `## What each row measures, and how

All runs use the sandbox API server (sandbox/) in **scale mode** (scripted pods, no processes;
row 4 uses process mode because a real process writes the log), served over real HTTPS in the
benchmark's own process, and the real \`@kubernetes/client-node\` 2.x. Each measurement runs in a
child process (bench/child.ts), so its peak RSS (\`process.resourceUsage().maxRSS\`) is the
client's alone, as on a runner where the API server is elsewhere.

1. **Chain overhead.** A chain of instant tasks (\`sandbox/succeed\`, each needs the one before)
   through \`runDag\` with the client as the action builds it (default rate limit, retries) and the
   step log's reporter writing nowhere, against the **floor**: one watch, then for each task
   \`createNamespacedPod\` → wait for the watch to say \`Succeeded\` → next, with client-node directly
   (no log read, no delete, no rate limit). Both in the same child, against the same server,
   alternating which goes first. Ratio = makespan ÷ floor; ms/task = (makespan − floor) ÷ tasks.
   Row 1b runs the same chain in the same child with the client's rate limit lifted.
2. **Wide DAG.** One root, tasks − 2 middle tasks that need it, one sink that needs them all,
   at 200, 2,000 and 20,000 tasks (the largest runs once; \`--wide-sizes\` picks sizes, the quick
   run has only 200), \`max-parallel\` as shown, through \`runDag\` with the run store (as the
   action runs it: the run's state read, every attempt's end recorded) and the client's rate limit
   lifted (at the shipped ${DEFAULT_QPS} requests/s after a burst of ${DEFAULT_BURST}, the create of each task takes a
   token: 2,000 tasks take at least ${Math.round((2000 - DEFAULT_BURST) / DEFAULT_QPS)} s by design). Scheduler time:
   every public \`Scheduler\` method (\`start\`, \`handle\`, \`state\`, \`nextWakeAt\`, \`isDone\`, ...)
   is wrapped in the child (not in src/) and the time inside the outermost calls is added up with
   \`performance.now()\` (synchronous calls on one thread: CPU time, plus preemption on a shared
   machine), plus the constructor's CPU time. \`state()\` calls made by the engine and by the step
   log's reporter count as scheduler time. Peak RSS of the child, and \`process.memoryUsage()\`
   sampled every 100 ms at the largest RSS seen (V8's heap reserved and in use). Each row says
   how time, scheduler CPU and RSS grew from the size before.
3. **API requests per task.** Independent tasks of \`sandbox/sleep:<seconds>\` through \`runDag\`, the
   requests counted **by the sandbox** (every request, by verb and resource). Per task: everything
   but the run-level list and watch requests, divided by the number of tasks; per run: the one list
   and the watch requests (the watch is renewed every 25 s, the server's \`timeoutSeconds\`, so a
   run's watch requests grow with its length, not with its number of tasks). The follower reads
   each pod's log once, the follow stream (\`get pods/log\`), and a second time only when that
   stream was cut before the container ended; finished pods are deleted in batches
   (\`deletecollection pods\`, one request for up to 50 pods, shared among them). The **reference poller** does what
   Airflow's KubernetesPodOperator does with each pod: create, GET the pod every 2 s until it has
   ended, read its log once, delete; counted by another sandbox, at the same time. The full run uses
   1 s and 60 s tasks; the quick run 1 s and 2 s.
4. **Logs.** One pod (process mode) whose container is a small node script writing numbered
   100-byte lines to stdout as fast as the pipe takes them, followed by \`runDag\`'s log follower to
   a reporter that counts lines and checks the numbering (a gap is a lost line, a number seen
   again a repeated one) and to the step log as the action writes it (\`LiveLogReporter\` through
   the runner's stdout writer, \`StdoutLines\`, into a pipe that \`cat\` reads, as the runner reads
   the action's stdout; a backed-up pipe pauses the log stream). Throughput = payload bytes ÷ time
   from the first line to the last received. "LogFollower alone" hands the same lines,
   timestamped, in 64 KiB chunks, to \`LogFollower\` through a fake stream with no server at all:
   what the client side can take.
5. **Cold start.** \`node dist/index.js\` with the environment the runner gives a step (\`INPUT_DAG\`,
   \`INPUT_MODE=plan\`, \`INPUT_PARAMS\` with \`destination_host\`, fresh \`GITHUB_OUTPUT\` and
   \`GITHUB_STEP_SUMMARY\` files), wall time from spawn to exit; \`node -e 0\` beside it.

## What bounds each figure, and what changed it

- **Chain (1).** Per task the floor makes one request (the create); \`runDag\` makes two (the
  create and the log's follow stream) and a share of a batched delete, and only the create is in
  the chain's critical path: a dependant's pod is created as soon as the watch says its
  upstream's container exited 0, without waiting for the upstream's log to drain (the step log
  still shows a task's last lines before its result line: the live log holds that line until the
  log has ended). The follow stream, which the kubelet ends only once the container is no longer
  running and its log file was read to the end (k8s.io/cri-client pkg/logs, \`ReadLogs\` and
  \`waitLogs\`), is the whole log when it ended cleanly: no second read, unless it was cut.
  Requests reuse connections (keep-alive; client-node 2.x alone opens a TLS connection per
  request, which the floor, written with client-node directly, still does), so \`runDag\` is
  faster than this floor without the limit (1b). The client's limit (inputs \`api-qps\`,
  default ${DEFAULT_QPS} requests/s as kube-scheduler's own client, which binds every pod; \`api-burst\`,
  default ${DEFAULT_BURST} as kubectl's discovery client) counts what kube-apiserver counts, and its own
  limits (max-in-flight and flow control, APF) serve a log stream as a long-running request
  outside any share (\`LongRunningFunc\`: subresource \`log\`; \`WithPriorityAndFairness\` skips
  long-running requests that are not watches), so a log stream takes no token; the create, the
  watch and the batched deletes and state writes do: about 210 for this chain, within the burst,
  so row 1 and 1b run alike. Until 2026-12-03 the burst was 100: on a quiet machine the floor
  (about 7 ms a task) creates pods faster than 50 a second, and (200 creates + 4 batches − 100)
  ÷ 50/s = 2.1 s bounded row 1 at 1.60×; a longer chain of instant tasks than the burst covers
  is still paced at \`api-qps\` (as the scheduler would pace its pods). Before issue 16 four requests per task took tokens and
  three were in the critical path (create, follow, a second read after the container ended,
  delete): 4.77× the floor, capped by the limit at 14 s.
- **Wide DAG (2a, 2, 2b).** The scheduler and the engine's own work are within the target since
  the engine stopped copying the run per event (reporters get a live view of the run; the timer
  looks only at running attempts): before, every decision and every attempt's end copied the state
  of all 2,000 tasks (8,003 copies, 2.1 s, quadratic in the tasks). Peak RSS is the process's floor
  plus V8's heap sizing plus what in-flight requests hold. The floor: loading the run path
  (\`@kubernetes/client-node\` and ours, and here the type stripping of the .ts sources) takes a
  Node 24 process from ~41 MB to ~175 MB before the first request (a run of 10 tasks peaks there).
  What a run allocates is short-lived: ~340 KB per task (\`BENCH_HEAP_PROFILE=<file>\` in the child
  samples every allocation, \`node bench/heap-top.mjs <file>\` sums them): Node's HTTPS client for
  the log reads (two per task before issue 16, ~40%), client-node's watch line parsing (~6%), undici for creates
  and deletes, and, before issue 16, client-node's (de)serialisation of every pod created and
  deleted (~60 MB per 2,000 tasks; the echoed pod is now read as bytes and dropped, and the pod is
  sent as rendered without client-node's copy). What a run holds per task is bounded: the watch
  keeps each pod slimmed (metadata without \`managedFields\`, node, status), a finished attempt
  whose pod is gone is forgotten, a log tail is kept only for attempts that did not succeed, at
  most 50 lines of at most 4,096 characters each, copied out of the 64 KiB chunk they came in
  (a slice would keep its chunk alive). V8 sized its young generation by the machine's memory
  (128 MB of semi-spaces on this 23.5 GiB machine) and let the old generation grow to ~3× what it
  held before collecting (\`heapTotal\` ~270 MB with ~80 MB in use at the peak): the action sets
  \`--semi-space-growth-factor=1 --heap-growing-percent=25\` at run time
  (\`v8.setFlagsFromString\`, src/common/heap.ts: V8 reads both whenever it resizes, unlike
  \`--max-semi-space-size\`, which only a start-up flag could set): 494 MB before, 306 MB after,
  side by side on a loaded machine. That still left the young generation as loading the modules
  had grown it (tens of MB, filled between scavenges by a wide run), and ~200 TLS connections
  that undici opened for creates and deletes, one per request in flight, besides the 200 log
  streams. A heap snapshot at the peak (taken at 300 MB RSS) held 74 MB, all of it the floor
  (module sources and code): the rest was GC slack and native memory, not the run's data. Since
  issue 16's memory work (2026-12-03) the run starts with one collection that gives memory back
  (V8's last-resort \`gc()\`, fetched once through \`--expose-gc\` and a new context): the young
  generation shrinks to 1 MB and grows only to 4 MB semi-spaces (as \`--max-semi-space-size=4\`,
  which runs this DAG as fast); the typed requests and watches share at most 32 connections
  (\`MAX_CONNECTIONS\`, src/kube/client.ts; more requests wait in undici's queue: the shipped
  ${DEFAULT_QPS} requests/s never needs more, and fewer TLS handshakes cost less CPU), and the log streams
  share one TLS context instead of one per connection. Side by side, 2026-12-03 19:41–19:43 UTC
  (load average 3–4, two rounds of 3 runs each, alternating): 2,000 tasks 370 and 364 MB before,
  250 and 248 MB after (6.2 and 4.9 s before, 4.5 and 5.0 s after); 200 tasks 255 and 263 MB
  before, 217 and 201 MB after (1.3 and 1.2 s before, 1.0 s after). What remains above the floor
  is the young generation, the old generation's 25% of growth, and the native buffers of 200 log
  streams and 32 connections; a busier machine keeps more in flight.
  The run's state is part of the run, as in the action (src/kube/run-store.ts: read before the
  run, each attempt's end recorded before its pod is deleted, the run's end after it); its requests
  are shown apart in each row. Before issue 16 it was one ConfigMap, ~440 bytes per task, which held
  ~2,200 tasks before \`fitRunState\` dropped outputs and then refused the write (the engine then kept
  every pod: it deletes a pod only once its end is recorded), and every attempt's end copied and
  wrote the whole state, one write after another in the engine's event queue (~0.9 GB of JSON
  for 2,000 tasks). Now the state is a head and shards of ~400 KB (a 20,000-task run has ~20),
  the writes are batched (one in flight; every end that comes meanwhile goes in the next, and only
  the shards that changed are written), each task's entry is kept as its JSON text, and the engine
  no longer waits for the write before its next event (only the pod's delete waits for it). Side by
  side, 2026-12-03 18:25–18:40 UTC (load average 10–13), the bench with the store, before and
  after: 2,000 tasks 171.3 s and 422 MB before (one run; the state writes serialised every end),
  20.8 s and 417 MB after (median of 3; 40 state requests, 0.02 per task); 200 tasks 8.1 s and
  284 MB before, 11.8 s and 244 MB after (medians of 3; the times of this size vary 6–39 s with the
  load). The store no longer bounds the run's time, nor its memory (see above for RSS).
- **Logs (4).** The client keeps up: "LogFollower alone" takes ~70 MB/s (64 MB per CPU-second):
  lines are found per chunk with \`indexOf\` and handed on as slices, timestamps are ordered by
  character codes and numbers (no regular expression or \`Map\` per line), and the step log's
  lines leave in one write per burst (\`StdoutLines\`; \`core.info\`'s one write per line capped the
  step log at ~30 MB/s). End to end, streaming 200 MB costs about 8 CPU-seconds on the machine's
  two cores, shared here by both ends: the sandbox API server ~3.5 (TLS writes, GC, a timestamp
  per line), the client ~3 (~1 of it writing the step log), the writing container ~1, and \`cat\`;
  that bounds the row at 30–45 MB/s here, where a real API server and kubelet run elsewhere.
  Peak RSS is the floor plus V8's young generation: the child peaks at ~180 MB with a 1 MB log
  (client-node takes a Node 24 process from ~42 to ~125 MB, the action's modules add ~14 MB, and
  type stripping of the .ts sources the bench runs ~23 MB); the young generation grows to 64 MB
  while the modules load, and streaming then uses all of it and holds up to ~40 MB of socket
  buffers until the next collection. With \`--max-semi-space-size=2\` the same 200 MB stream peaks
  at 165 MB, the floor: the stream itself holds nothing (a backed-up step log pauses it). The
  target of 150 MB is below that floor; the shipped bundle peaks at ~150 MB in plan mode already.
- **Cold start (5).** Met since \`plan\` and \`validate\` stopped loading \`@kubernetes/client-node\`:
  what talks to the cluster (\`run\`, \`dry-run\`, the post step's sweep, the CLI's \`run\`) is
  loaded with \`import()\`, and the bundle splits it into chunks (\`dist/<id>.index.js\`, ~19.6 MB)
  that only those modes load; \`dist/index.js\` is 1.9 MB (it was one ~21.5 MB bundle, compiled
  and evaluated in every mode: ~1.1 s). Of the ~0.6 s of CPU left in a \`plan\` run, compiling
  modules is ~0.14 s, and about 40% of what is loaded is \`undici\` 6, which \`@actions/core\` loads
  for an OIDC client the action does not use. \`run\` starts as before (the same code, in two parts).
`;
