/**
 * Container logs as the kubelet keeps them: lines with nanosecond timestamps, one log per
 * container instance (restart), readable while it grows.
 */

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
