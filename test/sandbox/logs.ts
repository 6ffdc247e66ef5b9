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

/** One log line (its text keeps the trailing newline when the container wrote one). */
export interface LogLine {
  /** Nanoseconds since `EPOCH_MS`; strictly increasing across the sandbox. */
  ts: number;
  text: string;
}

let lastTs = -1;

/** Now in nanoseconds since `EPOCH_MS`, strictly increasing, so `sinceTime` resumption can be exact. */
export function nowNanos(): number {
  // The wall clock gives milliseconds; the sub-millisecond digits come from the monotonic clock.
  const wall = (Date.now() - EPOCH_MS) * 1_000_000 + (process.hrtime()[1] % 1_000_000);
  lastTs = wall > lastTs ? wall : lastTs + 1;
  return lastTs;
}

/** The next nanosecond after the last timestamp given: the lines of one read share one clock reading. */
function nextNanos(): number {
  return ++lastTs;
}

/** The ISO date and time to the second ("2026-11-24T23:45:31") of the last second formatted. */
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** Formats a log timestamp as Go's time.RFC3339Nano does (trailing zeros of the fraction trimmed). */
export function formatRfc3339Nano(ts: number): string {
  const subMs = ts % 1_000_000;
  const ms = EPOCH_MS + (ts - subMs) / 1_000_000;
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  let frac = (ms - second * 1000) * 1_000_000 + subMs;
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
  readonly lines: LogLine[] = [];
  #partial = new Map<string, string>();
  #done = false;
  #listeners = new Set<() => void>();

  /** True once the container has exited and every line is in. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Appends raw output of one stream ("stdout"/"stderr"); complete lines become log lines. The
   * lines of one chunk are stamped one nanosecond apart from one clock reading, as a kubelet
   * stamps the lines of one read of the container's pipe with the time of that read.
   */
  write(stream: string, chunk: string): void {
    const partial = this.#partial.get(stream) ?? '';
    let nl = chunk.indexOf('\n');
    if (nl === -1) {
      this.#partial.set(stream, partial + chunk);
      return;
    }
    this.lines.push({ ts: nowNanos(), text: partial + chunk.slice(0, nl + 1) });
    let start = nl + 1;
    while ((nl = chunk.indexOf('\n', start)) !== -1) {
      this.lines.push({ ts: nextNanos(), text: chunk.slice(start, nl + 1) });
      start = nl + 1;
    }
    this.#partial.set(stream, chunk.slice(start));
    this.#notify();
  }

  /** The index of the first line stamped `ts` or later (`lines.length` if none). */
  firstAtOrAfter(ts: number): number {
    let lo = 0;
    let hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lines[mid]!.ts < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Flushes unterminated output and marks the log complete. */
  finish(): void {
    if (this.#done) return;
    for (const rest of this.#partial.values()) {
      if (rest) this.lines.push({ ts: nowNanos(), text: rest });
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
    const text = this.lines.slice(-maxLines).map((l) => l.text).join('');
    const buf = Buffer.from(text);
    return buf.length > maxBytes ? buf.subarray(buf.length - maxBytes).toString() : text;
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
