// pods/log as the kubelet serves it: follow, timestamps, sinceTime, tailLines, limitBytes, previous, and its 400s.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { ContainerLog, formatRfc3339Nano, parseRfc3339 } from '../../sandbox/logs.ts';
import { clients, failure, finished, podManifest, raw, watchPod, type Clients } from './helpers.ts';

let sandbox: Sandbox;
let admin: Clients;
const ns = 'logs';
const node = process.execPath;
// Prints five numbered lines, 30 ms apart, so a follower sees them arrive.
const fiveLines = 'let i = 0; const t = setInterval(() => { console.log(`line ${++i}`); if (i === 5) clearInterval(t); }, 30);';

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [ns], restartBackoffMs: 50 });
  admin = clients(sandbox);
  const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('five', { image: 'local/node', command: [node, '-e', fiveLines] }) });
  await watchPod(admin.kc, ns, 'five', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
});
afterAll(async () => {
  await sandbox?.close();
});

function logPath(pod: string, query: string): string {
  return `/api/v1/namespaces/${ns}/pods/${pod}/log?${query}`;
}

describe('reading', () => {
  it('follows a running container to its end', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('follow', { image: 'local/node', command: [node, '-e', fiveLines] }) });
    await watchPod(admin.kc, ns, 'follow', (p) => p.status?.phase === 'Running', { fromResourceVersion: created.metadata!.resourceVersion! });
    let text = '';
    const ended = new Promise<void>((resolve) => {
      const sink = new Writable({ write(chunk: Buffer, _e, cb) { text += chunk.toString(); cb(); } });
      sink.on('finish', () => resolve());
      void new k8s.Log(admin.kc).log(ns, 'follow', 'main', sink, { follow: true });
    });
    await ended;
    expect(text).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
  });

  it('prefixes RFC3339Nano timestamps and resumes from sinceTime inclusively', async () => {
    const res = await raw(sandbox, 'GET', logPath('five', 'timestamps=true'));
    const lines = res.text.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z line \d$/);
    const third = lines[2]!.split(' ')[0]!;
    const resumed = await raw(sandbox, 'GET', logPath('five', `timestamps=true&sinceTime=${encodeURIComponent(third)}`));
    expect(resumed.text.trimEnd().split('\n')).toEqual(lines.slice(2));
  });

  it('reads boolean parameters as kube-apiserver does: absent, 0 or false (any case) is false, anything else true', async () => {
    const stamped = /^\S+Z line 1$/;
    for (const v of ['True', 'true', '1', 't', '']) expect((await raw(sandbox, 'GET', logPath('five', `timestamps=${v}`))).text.split('\n')[0]).toMatch(stamped);
    for (const v of ['False', 'false', 'FALSE', '0']) expect((await raw(sandbox, 'GET', logPath('five', `timestamps=${v}`))).text.split('\n')[0]).toBe('line 1');
  });

  it('follows with follow=True, as the Python client spells it, until the container ends', async () => {
    // The container prints a line, then its last line once the file "go" appears in its directory.
    const dir = await mkdtemp(path.join(tmpdir(), 'sandbox-follow-'));
    const script =
      'const fs = require("fs"); const dir = process.argv[1]; let done = false; const w = fs.watch(dir, () => go()); ' +
      'const go = () => { if (!done && fs.existsSync(dir + "/go")) { done = true; w.close(); console.log("line 2"); } }; console.log("line 1"); go();';
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('follow-py', { image: 'local/node', command: [node, '-e', script, dir] }) });
    await watchPod(admin.kc, ns, 'follow-py', (p) => p.status?.phase === 'Running', { fromResourceVersion: created.metadata!.resourceVersion! });
    const { request } = await import('node:https');
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(new URL(logPath('follow-py', 'follow=True'), sandbox.url), { ca: sandbox.caPem, headers: { Authorization: `Bearer ${sandbox.adminToken}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          // The first line is in: only now may the container go on (a stream that already ended misses line 2).
          if (!body) void writeFile(path.join(dir, 'go'), '').catch(reject);
          body += c;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    await rm(dir, { recursive: true, force: true });
    expect(text).toBe('line 1\nline 2\n');
  });

  it('honours tailLines and limitBytes', async () => {
    expect(await admin.core.readNamespacedPodLog({ name: 'five', namespace: ns, tailLines: 2 })).toBe('line 4\nline 5\n');
    expect((await raw(sandbox, 'GET', logPath('five', 'limitBytes=10'))).text).toBe('line 1\nlin');
  });

  it('serves the previous instance of a restarted container', async () => {
    const created = await admin.core.createNamespacedPod({
      namespace: ns,
      body: podManifest('restarts', { image: 'local/node', command: [node, '-e', 'console.log("attempt"); process.exit(1)'] }, { restartPolicy: 'OnFailure' }),
    });
    const { pod } = await watchPod(admin.kc, ns, 'restarts', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, { fromResourceVersion: created.metadata!.resourceVersion! });
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    expect(await admin.core.readNamespacedPodLog({ name: 'restarts', namespace: ns, previous: true })).toBe('attempt\n');
    await admin.core.deleteNamespacedPod({ name: 'restarts', namespace: ns, gracePeriodSeconds: 0 });
  });
});

describe('a long log', () => {
  // 30,000 numbered lines (3.3 MB, each with a two-byte character), written as fast as the pipe takes them.
  const many = 'let i = 0; const more = () => { while (i < 30000) { let c = ""; for (let k = 0; k < 500; k++) c += String(i++).padStart(6, "0") + " é " + "x".repeat(100) + "\\n"; if (!process.stdout.write(c)) return process.stdout.once("drain", more); } }; more();';
  const lineBytes = 6 + 4 + 100 + 1;
  let stamped: string[];

  beforeAll(async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('many', { image: 'local/node', command: [node, '-e', many] }) });
    await watchPod(admin.kc, ns, 'many', finished, { fromResourceVersion: created.metadata!.resourceVersion! });
    stamped = (await raw(sandbox, 'GET', logPath('many', 'timestamps=true'))).text.split('\n');
  });

  it('serves every line once, in order, with strictly increasing timestamps', () => {
    expect(stamped.pop()).toBe('');
    expect(stamped).toHaveLength(30000);
    let last = -Infinity;
    stamped.forEach((l, i) => {
      const [ts, n, rest] = l.split(' ');
      expect(n).toBe(String(i).padStart(6, '0'));
      expect(rest).toBe('é');
      const t = parseRfc3339(ts!)!;
      expect(t).toBeGreaterThan(last);
      last = t;
    });
  });

  it('resumes from the exact line of any sinceTime', async () => {
    const ts = stamped[12345]!.split(' ')[0]!;
    const resumed = (await raw(sandbox, 'GET', logPath('many', `timestamps=true&sinceTime=${encodeURIComponent(ts)}`))).text.split('\n');
    resumed.pop();
    expect(resumed).toEqual(stamped.slice(12345));
  });

  it('serves the last tailLines lines, also with a sinceTime', async () => {
    const tail = (await raw(sandbox, 'GET', logPath('many', 'timestamps=true&tailLines=1234'))).text.split('\n');
    tail.pop();
    expect(tail).toEqual(stamped.slice(-1234));
    const ts = stamped[29000]!.split(' ')[0]!;
    const both = (await raw(sandbox, 'GET', logPath('many', `timestamps=true&tailLines=1234&sinceTime=${encodeURIComponent(ts)}`))).text.split('\n');
    both.pop();
    expect(both).toEqual(stamped.slice(29000));
  });

  it('cuts at limitBytes in the middle of a line (and of a character) far into the log', async () => {
    const limit = 2000 * lineBytes + 8; // into the first byte of "é" of line 2000
    const res = (await raw(sandbox, 'GET', logPath('many', `limitBytes=${limit}`))).body;
    const whole = Buffer.from(stamped.slice(0, 2001).map((l) => `${l.slice(l.indexOf(' ') + 1)}\n`).join(''));
    expect(res.length).toBe(limit);
    expect(res.equals(whole.subarray(0, limit))).toBe(true);
  });
});

describe('the log store', () => {
  it('keeps lines whole across chunks and streams, stamps them in order, and reads from any line as the log grows', () => {
    const log = new ContainerLog();
    log.write('stdout', 'a1\na');
    log.write('stdout', 'é');
    log.write('stderr', 'e1\ne2\ne');
    log.write('stdout', '2\na3\n');
    const r = log.reader(0);
    const read = (): string[] => {
      const got: string[] = [];
      let last = -Infinity;
      while (r.next()) {
        expect(r.ts).toBeGreaterThan(last);
        last = r.ts;
        got.push(r.text);
      }
      return got;
    };
    expect(read()).toEqual(['a1\n', 'e1\n', 'e2\n', 'aé2\n', 'a3\n']);
    // At the end, the reader waits for more.
    log.write('stdout', 'a4\n');
    log.finish();
    expect(read()).toEqual(['a4\n', 'e']);
    expect(log.lineCount).toBe(7);
    const mid = log.reader(2);
    expect(mid.next() && mid.text).toBe('e2\n');
    const at = mid.ts;
    expect(log.firstAtOrAfter(at)).toBe(2);
    expect(log.firstAtOrAfter(at + 0.5)).toBe(3);
    expect(log.firstAtOrAfter(-1e18)).toBe(0);
    expect(log.firstAtOrAfter(1e18)).toBe(7);
    const end = log.reader(7);
    expect(end.next()).toBe(false);
    expect(log.tail(2, 2048)).toBe('a4\ne');
    expect(log.tail(80, 3)).toBe('4\ne');
  });
});

describe('timestamps', () => {
  it('formats as RFC3339Nano (fraction trimmed of trailing zeros) and parses back to the same instant', () => {
    // Near now: log timestamps are exact within 104 days of the sandbox's start.
    const second = new Date().toISOString().slice(0, 19);
    for (const frac of ['', '.5', '.000000001', '.12345', '.999999999', '.10203']) {
      const s = `${second}${frac}Z`;
      expect(formatRfc3339Nano(parseRfc3339(s)!)).toBe(s);
    }
    expect(formatRfc3339Nano(parseRfc3339(`${second}.500000000Z`)!)).toBe(`${second}.5Z`);
    expect(parseRfc3339(`${second}.25+01:00`)! - parseRfc3339(`${second}.25Z`)!).toBe(-3600e9);
    expect(parseRfc3339('yesterday')).toBeUndefined();
  });
});

describe('errors', () => {
  it('answers 400 while the container is waiting, with the kubelet wording', async () => {
    const created = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('waiting', { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }] }) });
    await watchPod(admin.kc, ns, 'waiting', (p) => !!p.status?.containerStatuses?.[0]?.state?.waiting?.message, { fromResourceVersion: created.metadata!.resourceVersion! });
    const res = await raw(sandbox, 'GET', logPath('waiting', ''));
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400, message: 'container "main" in pod "waiting" is waiting to start: CreateContainerConfigError' });
    const pull = await admin.core.createNamespacedPod({ namespace: ns, body: podManifest('pulling', { image: 'sandbox/image-pull-error' }) });
    await watchPod(admin.kc, ns, 'pulling', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff', { fromResourceVersion: pull.metadata!.resourceVersion! });
    expect((await raw(sandbox, 'GET', logPath('pulling', ''))).json()).toMatchObject({ message: 'container "main" in pod "pulling" is waiting to start: trying and failing to pull image' });
  });

  it('answers 400 for a missing previous instance, an unknown container and an ambiguous one', async () => {
    expect(await failure(admin.core.readNamespacedPodLog({ name: 'five', namespace: ns, previous: true }))).toMatchObject({ code: 400, message: 'previous terminated container "main" in pod "five" not found' });
    expect(await failure(admin.core.readNamespacedPodLog({ name: 'five', namespace: ns, container: 'side' }))).toMatchObject({ code: 400, message: 'container side is not valid for pod five' });
    const two = podManifest('two', {});
    two.spec!.containers.push({ name: 'side', image: 'sandbox/succeed' });
    await admin.core.createNamespacedPod({ namespace: ns, body: two });
    expect(await failure(admin.core.readNamespacedPodLog({ name: 'two', namespace: ns }))).toMatchObject({ code: 400, message: 'a container name must be specified for pod two, choose one of: [main side]' });
  });
});

describe('closing the sandbox', () => {
  it('ends each open log and watch stream itself: lines and changes that come after are not written past its end', async () => {
    const own = await startSandbox({ namespaces: [ns] });
    const { core, kc } = clients(own);
    const thrown: unknown[] = [];
    const onError = (err: unknown): void => void thrown.push(err);
    process.on('uncaughtException', onError);
    const { request } = await import('node:https');
    // A client that reads the first bytes of a stream and then stops reading: what the server
    // writes to it stays buffered, so its response cannot finish when the sandbox ends it.
    const stalled = (path: string): Promise<{ gone: Promise<void> }> => new Promise((resolve, reject) => {
      request(new URL(path, own.url), { ca: own.caPem, headers: { Authorization: `Bearer ${own.adminToken}` } }, (res) => {
        res.on('error', () => {});
        const gone = new Promise<void>((done) => res.once('close', done));
        res.once('data', () => {
          res.pause();
          resolve({ gone: gone.then(() => undefined) });
          // Read again once the sandbox is closed, so the stream can end.
          void closed.then(() => res.resume());
        });
      }).on('error', reject).end();
    });
    let markClosed!: () => void;
    const closed = new Promise<void>((r) => (markClosed = r));
    try {
      // Numbered 10 KB lines, one a millisecond, each arriving as its own small write.
      const printer = 'let i = 0; setInterval(() => console.log(String(++i).padEnd(10000, ".")), 1);';
      const created = await core.createNamespacedPod({ namespace: ns, body: podManifest('printer', { image: 'local/node', command: [node, '-e', printer] }) });
      await watchPod(kc, ns, 'printer', (p) => p.status?.phase === 'Running', { fromResourceVersion: created.metadata!.resourceVersion! });
      const follower = await stalled(logPath('printer', 'follow=true'));
      const watcher = await stalled(`/api/v1/namespaces/${ns}/pods?watch=true`);
      // 20 MB printed since the follower stopped, and 12 MB of pod changes since the watcher did:
      // more than the sockets' buffers hold.
      const lineNumber = async (): Promise<number> => Number.parseInt((await raw(own, 'GET', logPath('printer', 'tailLines=1'))).text, 10);
      const first = await lineNumber();
      const bulky = podManifest('bulky', { image: 'sandbox/sleep:forever' });
      bulky.metadata!.annotations = { filler: '.'.repeat(200_000) };
      await core.createNamespacedPod({ namespace: ns, body: bulky });
      for (let n = 0; n < 60; n++) {
        const patched = await raw(own, 'PATCH', `/api/v1/namespaces/${ns}/pods/bulky`, { body: { metadata: { labels: { n: String(n) } } }, contentType: 'application/merge-patch+json' });
        expect(patched.status).toBe(200);
      }
      await expect.poll(lineNumber, { timeout: 20_000, interval: 50 }).toBeGreaterThan(first + 2000);
      // The close kills the printer, whose last lines and status change come after the streams' end.
      await own.close();
      markClosed();
      await Promise.all([follower.gone, watcher.gone]);
      expect(thrown.map((e) => (e as Error).stack)).toEqual([]);
    } finally {
      process.off('uncaughtException', onError);
      markClosed();
      await own.close();
    }
  });
});
