/**
 * Container logs as the kubelet keeps them: lines with nanosecond timestamps, one log per
 * container instance (restart), readable while it grows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Log timestamps are nanoseconds since `EPOCH_MS` (when this module loaded), as plain numbers:
 * exact up to 2^53 ns (104 days of uptime), and a line costs no BigInt. A time far before the
 * epoch (a `sinceTime` of last year) loses its last digits, but still compares below every line.
 */
const EPOCH_MS = Date.now();

/**
 * The lines of one read of a container's pipe, kept as the text that came (whole lines, each with
 * its newline, but for an unterminated last line at exit): line `i` is stamped `ts + i`. A log of
 * millions of lines is a few thousand of these, not millions of objects for the GC to walk.
 */
interface Segment {
  ts: number;
  text: string;
  /** How many lines. */
  count: number;
  /** The index, in the whole log, of its first line. */
  first: number;
}

let lastTs = -1;

/** Now in nanoseconds since `EPOCH_MS`, strictly increasing, so `sinceTime` resumption can be exact. */
export function nowNanos(): number {
  // The wall clock gives milliseconds; the sub-millisecond digits come from the monotonic clock.
  const wall = (Date.now() - EPOCH_MS) * 1_000_000 + (process.hrtime()[1] % 1_000_000);
  lastTs = wall > lastTs ? wall : lastTs + 1;
  return lastTs;
}

/** `count` timestamps one nanosecond apart from now on, strictly after any given before; the first. */
function nowNanosFor(count: number): number {
  const first = nowNanos();
  lastTs = first + count - 1;
  return first;
}

/** The ISO date and time to the second ("2026-11-24T23:45:31") of the last second formatted. */
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** The second of a log timestamp (cached), and the nanoseconds within it. */
function split(ts: number): number {
  const subMs = ts % 1_000_000;
  const ms = EPOCH_MS + (ts - subMs) / 1_000_000;
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return (ms - second * 1000) * 1_000_000 + subMs;
}

/** Formats a log timestamp as Go's time.RFC3339Nano does (trailing zeros of the fraction trimmed). */
export function formatRfc3339Nano(ts: number): string {
  let frac = split(ts);
  if (frac === 0) return `${cachedPrefix}Z`;
  let digits = 9;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  return `${cachedPrefix}.${String(frac).padStart(digits, '0')}Z`;
}

/** Parses RFC 3339 with an optional fraction of up to 9 digits into a log timestamp; undefined if invalid. */
export function parseRfc3339(s: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return (ms - EPOCH_MS) * 1_000_000 + Number((m[2] ?? '').padEnd(9, '0'));
}

/** The log of one container instance. */
export class ContainerLog {
  readonly #segments: Segment[] = [];
  #lines = 0;
  #partial = new Map<string, string>();
  #done = false;
  #listeners = new Set<() => void>();

  /** True once the container has exited and every line is in. */
  get done(): boolean {
    return this.#done;
  }

  /** How many lines the log has. */
  get lineCount(): number {
    return this.#lines;
  }

  /**
   * Appends raw output of one stream ("stdout"/"stderr"); complete lines become log lines. The
   * lines of one chunk are stamped one nanosecond apart from one clock reading, as a kubelet
   * stamps the lines of one read of the container's pipe with the time of that read.
   */
  write(stream: string, chunk: string): void {
    const last = chunk.lastIndexOf('\n');
    const partial = this.#partial.get(stream) ?? '';
    if (last === -1) {
      this.#partial.set(stream, partial + chunk);
      return;
    }
    let count = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', nl + 1)) count++;
    this.#add(partial + chunk.slice(0, last + 1), count);
    this.#partial.set(stream, chunk.slice(last + 1));
    this.#notify();
  }

  #add(text: string, count: number): void {
    this.#segments.push({ ts: nowNanosFor(count), text, count, first: this.#lines });
    this.#lines += count;
  }

  /** The index of the first line stamped `ts` or later (`lineCount` if none). */
  firstAtOrAfter(ts: number): number {
    const segs = this.#segments;
    let lo = 0;
    let hi = segs.length;
    // The first segment whose last line is stamped `ts` or later.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid]!.ts + segs[mid]!.count - 1 < ts) lo = mid + 1;
      else hi = mid;
    }
    const seg = segs[lo];
    if (!seg) return this.#lines;
    return seg.first + Math.max(0, Math.ceil(ts - seg.ts));
  }

  /**
   * Reads the log from line `from` on, as it grows: `next()` moves to the next line (false when
   * there is none yet), then `ts` and `text` (with its newline) are that line's.
   */
  reader(from: number): LogReader {
    return new LogReader(this.#segments, from);
  }

  /** Flushes unterminated output and marks the log complete. */
  finish(): void {
    if (this.#done) return;
    for (const rest of this.#partial.values()) {
      if (rest) this.#add(rest, 1);
    }
    this.#partial.clear();
    this.#done = true;
    this.#notify();
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** Calls `listener` when lines are added or the log completes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The last `bytes` bytes of the log, for FallbackToLogsOnError (kubelet takes 80 lines / 2 KiB). */
  tail(maxLines: number, maxBytes: number): string {
    const r = this.reader(Math.max(0, this.#lines - maxLines));
    let text = '';
    while (r.next()) text += r.text;
    const buf = Buffer.from(text);
    return buf.length > maxBytes ? buf.subarray(buf.length - maxBytes).toString() : text;
  }
}

/** A cursor over a log's lines (see `ContainerLog.reader`). */
export class LogReader {
  readonly #segments: Segment[];
  /** The segment of the next line, where that line starts in its text, and its index in the segment. */
  #seg = 0;
  #at = 0;
  #k = 0;
  /** The current line's timestamp and text. */
  ts = 0;
  text = '';

  constructor(segments: Segment[], from: number) {
    this.#segments = segments;
    // The segment holding line `from`, and that line's start in its text.
    let lo = 0;
    let hi = segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid]!.first + segments[mid]!.count <= from) lo = mid + 1;
      else hi = mid;
    }
    this.#seg = lo;
    const seg = segments[lo];
    if (!seg) return;
    for (; this.#k < from - seg.first; this.#k++) this.#at = seg.text.indexOf('\n', this.#at) + 1;
  }

  /** Moves to the next line; false if there is none (yet). */
  next(): boolean {
    let seg = this.#segments[this.#seg];
    if (seg && this.#at >= seg.text.length) {
      seg = this.#segments[++this.#seg];
      this.#at = 0;
      this.#k = 0;
    }
    if (!seg) return false;
    const nl = seg.text.indexOf('\n', this.#at);
    const end = nl === -1 ? seg.text.length : nl + 1;
    this.ts = seg.ts + this.#k++;
    this.text = seg.text.slice(this.#at, end);
    this.#at = end;
    return true;
  }
}

/** All container logs, keyed by pod uid, container name and restart count. */
export class LogStore {
  #logs = new Map<string, ContainerLog>();

  /** The log of a container instance, created on first use. */
  get(podUid: string, container: string, restart: number): ContainerLog {
    const key = `${podUid}/${container}/${restart}`;
    let log = this.#logs.get(key);
    if (!log) {
      log = new ContainerLog();
      this.#logs.set(key, log);
    }
    return log;
  }

  /** Whether a log exists for the instance. */
  has(podUid: string, container: string, restart: number): boolean {
    return this.#logs.has(`${podUid}/${container}/${restart}`);
  }

  /** Forgets every log of a pod (when it is deleted). */
  dropPod(podUid: string): void {
    for (const key of [...this.#logs.keys()]) if (key.startsWith(`${podUid}/`)) this.#logs.delete(key);
  }
}

/** The parts of a container status that say which instance's log a request reads. */
interface ContainerStatusLike {
  name: string;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: unknown };
  lastState?: { terminated?: unknown };
  restartCount?: number;
}

/**
 * Which instance (restart count) of a container a log request reads, from the pod's status: the
 * current one once it ran, the last one while it waits to restart, the one before with `previous`.
 * A string is the kubelet's 400 message (a container still waiting, no previous instance).
 */
export function containerInstance(pod: { metadata: { name: string }; status?: unknown }, container: string, previous: boolean): number | string {
  const status = (pod.status ?? {}) as { containerStatuses?: ContainerStatusLike[]; initContainerStatuses?: ContainerStatusLike[] };
  const st = [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])].find((s) => s.name === container);
  const podName = pod.metadata.name;
  const restarts = st?.restartCount ?? 0;
  if (previous) {
    if (!st?.lastState?.terminated) return `previous terminated container "${container}" in pod "${podName}" not found`;
    return restarts - 1;
  }
  if (st?.state?.running || st?.state?.terminated) return restarts;
  if (st?.lastState?.terminated) return restarts - 1;
  const reason = st?.state?.waiting?.reason;
  if (reason === 'ErrImagePull') return `container "${container}" in pod "${podName}" is waiting to start: image can't be pulled`;
  if (reason === 'ImagePullBackOff') return `container "${container}" in pod "${podName}" is waiting to start: trying and failing to pull image`;
  return `container "${container}" in pod "${podName}" is waiting to start: ${reason || 'ContainerCreating'}`;
}

/** How a log is read: the query of pods/log (and of the kubelet's containerLogs), parsed. */
export interface LogReadOptions {
  /** Keep the response open for new lines until the container exits. */
  follow: boolean;
  /** Prefix each line with its RFC3339Nano timestamp. */
  timestamps: boolean;
  /** Only lines stamped at or after this log timestamp (sinceTime, sinceSeconds). */
  since?: number;
  /** Only the last this many lines. */
  tailLines?: number;
  /** End the response after this many bytes, mid-line if need be (limitBytes); Infinity for none. */
  maxBytes: number;
  /**
   * The server's open streams: this one is in it while open, as the function that ends it. A
   * server that closes calls those, never `res.end()` itself: lines still arriving would then be
   * written after the end.
   */
  open: Set<() => void>;
}

/**
 * Writes a container's log to `res` (whose head is already written) as the kubelet serves it:
 * in writes of up to 64 KiB, no faster than the client reads (a write that fills the socket's
 * buffer waits for 'drain', as a kubelet's write blocks on a slow reader), following new lines
 * until the container exits when asked, and ending when the client goes or the server closes it.
 */
export function streamLog(req: IncomingMessage, res: ServerResponse, log: ContainerLog, o: LogReadOptions): void {
  const { follow, timestamps, since, maxBytes } = o;
  const limited = maxBytes !== Infinity;
  let sent = 0;
  let from = o.tailLines !== undefined ? Math.max(0, log.lineCount - o.tailLines) : 0;
  // Lines are in time order: start at the first one at or after `since` (a resumed read of a long log).
  if (since !== undefined) from = Math.max(from, log.firstAtOrAfter(since));
  const lines = log.reader(from);
  let closed = false;
  /** The response's buffer is full: pump again on 'drain'. */
  let blocked = false;
  let unsubscribe = (): void => {};
  const finish = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    o.open.delete(finish);
    res.end();
  };
  // Lines go out in writes of up to BATCH bytes, not one write (and one HTTP chunk) per line.
  const BATCH = 64 * 1024;
  const pump = (): void => {
    if (blocked) return;
    let batch = '';
    let batchBytes = 0;
    while (!closed && lines.next()) {
      // (A sinceTime still to come: lines written until then are not served.)
      if (since !== undefined && lines.ts < since) continue;
      const text = timestamps ? `${formatRfc3339Nano(lines.ts)} ${lines.text}` : lines.text;
      // Bytes are counted only when a limit needs them; the batch size can be approximate.
      const bytes = limited ? Buffer.byteLength(text) : text.length;
      if (sent + bytes >= maxBytes) {
        // The limit (limitBytes, or a cut fault) ends the response, mid-line if need be.
        if (batch) res.write(batch);
        const cutAt = maxBytes - sent;
        if (cutAt > 0) res.write(Buffer.from(text).subarray(0, cutAt));
        sent = maxBytes;
        finish();
        return;
      }
      batch += text;
      batchBytes += bytes;
      sent += bytes;
      if (batchBytes >= BATCH) {
        const more = res.write(batch);
        batch = '';
        batchBytes = 0;
        if (!more) return waitForDrain();
      }
    }
    const more = batch ? res.write(batch) : true;
    if (closed) return;
    if (!follow || log.done) finish();
    // A smaller last batch fills the buffer too (a follower that stopped reading): wait as well.
    else if (!more) waitForDrain();
  };
  const waitForDrain = (): void => {
    blocked = true;
    res.once('drain', () => {
      blocked = false;
      pump();
    });
  };
  req.on('close', finish);
  pump();
  if (closed) return;
  unsubscribe = log.onChange(pump);
  o.open.add(finish);
}
