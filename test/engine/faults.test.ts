/**
 * The sandbox's faults: a run still ends right, every attempt's container started exactly once,
 * and logs arrive whole, in order, once.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { capture, results, run, spec, startCluster, type Cluster } from './helpers.ts';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster.sandbox.close());
beforeEach(() => cluster.sandbox.faults.clear());

/** A diamond of short process tasks, each printing numbered lines. */
const diamond = (name: string, lines = 5) =>
  spec(`version: 1
name: ${name}
defaults:
  image: busybox
  retries: {limit: 0}
tasks:
${['a', 'b', 'c', 'd']
  .map(
    (t, i) => `  ${t}:
${i === 0 ? '' : i === 3 ? '    needs: [b, c]\n' : '    needs: [a]\n'}    command: [sh, -c, 'i=1; while [ $i -le ${lines} ]; do echo "${t} line $i"; i=$((i+1)); done']`,
  )
  .join('\n')}
`);

function expectAllLines(r: Awaited<ReturnType<typeof run>>, lines: number): void {
  for (const t of ['a', 'b', 'c', 'd']) {
    const got = r.out.logs.filter((l) => l.task === t).map((l) => l.text);
    expect(got, `log of ${t}`).toEqual(Array.from({ length: lines }, (_, i) => `${t} line ${i + 1}`));
  }
}

function expectEachStartedOnce(r: Awaited<ReturnType<typeof run>>): void {
  expect(r.out.created.length).toBe(4);
  for (const c of r.out.created) expect(cluster.sandbox.containerStarts(c.pod), c.pod).toBe(1);
}

test('watch dropped every few events (clean end): resumed from the last resourceVersion', async () => {
  cluster.sandbox.faults.dropWatches({ afterEvents: 2 });
  const r = await run(cluster, diamond('drop-end'));
  expect(results(r.state)).toEqual({ a: 'succeeded', b: 'succeeded', c: 'succeeded', d: 'succeeded' });
  expectEachStartedOnce(r);
  expectAllLines(r, 5);
  expect(cluster.sent.filter((w) => w.startsWith('watch')).length).toBeGreaterThan(1);
});

test('watch connection reset every 300 ms: resumed, nothing missed', async () => {
  // (Time-based: the sandbox's event-count reset destroys the socket before the events it just
  // wrote are flushed, so no client could make progress.)
  cluster.sandbox.faults.dropWatches({ afterSeconds: 0.3, mode: 'reset' });
  const r = await run(cluster, diamond('drop-reset'));
  expect(r.state.result).toBe('success');
  expectEachStartedOnce(r);
});

test('410 Gone: the history is forgotten mid-run; the watcher lists again and carries on', async () => {
  cluster.sandbox.faults.dropWatches({ afterEvents: 2 });
  const s = diamond('gone');
  let forgot = 0;
  // Forget the history each time a pod is created, so every resume gets 410.
  const { reporter, out } = capture();
  const wrapped = {
    ...reporter,
    podCreated: async (task: string, attempt: number, pod: string, adopted: boolean) => {
      cluster.sandbox.faults.forgetHistory();
      forgot++;
      await reporter.podCreated?.(task, attempt, pod, adopted);
    },
    logLine: (l: Parameters<NonNullable<typeof reporter.logLine>>[0]) => reporter.logLine?.(l),
    decision: reporter.decision?.bind(reporter),
    runFinished: reporter.runFinished?.bind(reporter),
  };
  const before = cluster.sandbox.counters.get('list', 'pods');
  const r2 = await run(cluster, s, { reporter: wrapped });
  expect(forgot).toBe(4);
  expect(r2.state.result).toBe('success');
  expect(out.created.length).toBe(4);
  for (const c of out.created) expect(cluster.sandbox.containerStarts(c.pod)).toBe(1);
  expect(cluster.sandbox.counters.get('list', 'pods') - before).toBeGreaterThan(1);
});

test('429 bursts with Retry-After: requests are retried, the run succeeds', async () => {
  cluster.sandbox.faults.throttle({ share: 0.5, retryAfterSeconds: 0, verbs: ['create', 'list', 'delete', 'get'] });
  const r = await run(cluster, diamond('throttled'));
  expect(r.state.result).toBe('success');
  expectEachStartedOnce(r);
  expectAllLines(r, 5);
});

test('500s: retried with backoff, the run succeeds, no pod created twice', async () => {
  cluster.sandbox.faults.serverErrors({ share: 0.34, verbs: ['create', 'list', 'delete', 'get', 'watch'] });
  const r = await run(cluster, diamond('errors'));
  expect(r.state.result).toBe('success');
  expectEachStartedOnce(r);
  expectAllLines(r, 5);
});

test('log streams cut mid-line: resumed from the last timestamp, every line once, whole, in order', async () => {
  // About 4 lines per response: each resume repeats the last line (sinceTime is inclusive) and
  // must still make progress.
  cluster.sandbox.faults.cutLogs({ afterBytes: 180 });
  const r = await run(cluster, diamond('cut', 40));
  expect(r.state.result).toBe('success');
  expectAllLines(r, 40);
  expect(cluster.sandbox.counters.get('get', 'pods/log')).toBeGreaterThan(8);
});

test('a backed-up step log pauses the log streams; once it drains every line comes, once, in order', async () => {
  // Every chunk of lines backs the step log up until the next turn of the event loop.
  let asked = 0;
  const logBacklog = (): Promise<void> => {
    asked++;
    return new Promise((resolve) => setImmediate(resolve));
  };
  const r = await run(cluster, diamond('backlog', 40), { logBacklog });
  expect(r.state.result).toBe('success');
  expectAllLines(r, 40);
  expect(asked).toBeGreaterThanOrEqual(4);
});

test('watches that the server ends every second (as on idle timeouts) resume; the task still runs once', async () => {
  const s = spec(`version: 1
name: idle
tasks:
  slow: {image: "sandbox/sleep:3"}
`);
  const r = await run(cluster, s, { watchTimeoutSeconds: 1 });
  expect(r.state.result).toBe('success');
  expect(cluster.sandbox.containerStarts(r.out.created[0]!.pod)).toBe(1);
  // Resumed, not re-listed: one list for the run, however many watches.
  expect(cluster.sent.filter((w) => w.startsWith('watch pods') && w.includes('dag=idle')).length).toBeGreaterThan(1);
  expect(cluster.sent.filter((w) => w.startsWith('list pods') && w.includes('dag=idle')).length).toBe(1);
});
