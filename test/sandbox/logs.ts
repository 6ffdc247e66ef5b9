/**
 * Container logs as the kubelet keeps them: lines with nanosecond timestamps, one log per
 * container instance (restart), readable while it grows.
 */

/** One log line (its text keeps the trailing newline when the container wrote one). */
export interface LogLine {
  /** Nanoseconds since the epoch; strictly increasing across the sandbox. */
  ts: bigint;
  text: string;
}

let lastTs = 0n;

/** Now in nanoseconds, strictly increasing, so `sinceTime` resumption can be exact. */
export function nowNanos(): bigint {
  const wall = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  lastTs = wall > lastTs ? wall : lastTs + 1n;
  return lastTs;
}

/** Formats nanoseconds as Go's time.RFC3339Nano does (trailing zeros of the fraction trimmed). */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  let frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  if (frac) frac = `.${frac}`;
  return `${base}${frac}Z`;
}

/** Parses RFC 3339 with an optional fraction of up to 9 digits into nanoseconds; undefined if invalid. */
export function parseRfc3339(s: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return undefined;
  const frac = BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  return BigInt(secs) * 1_000_000n + frac;
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

  /** Appends raw output of one stream ("stdout"/"stderr"); complete lines become log lines. */
  write(stream: string, chunk: string): void {
    let buf = (this.#partial.get(stream) ?? '') + chunk;
    let nl: number;
    let added = false;
    while ((nl = buf.indexOf('\n')) !== -1) {
      this.lines.push({ ts: nowNanos(), text: buf.slice(0, nl + 1) });
      buf = buf.slice(nl + 1);
      added = true;
    }
    this.#partial.set(stream, buf);
    if (added) this.#notify();
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
