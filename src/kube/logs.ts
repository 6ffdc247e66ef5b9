/**
 * Follows one container's log (follow + timestamps) and hands it on as whole lines.
 *
 * Invariants:
 * - only whole lines are emitted, each in one call, so lines of parallel tasks never mix mid-line;
 * - a stream that ends while the container still runs is resumed from the last timestamp seen
 *   (`sinceTime`), and lines already emitted (same timestamp, same text) are not repeated;
 * - once the container has terminated, one last read (no follow) from the last timestamp picks up
 *   anything a cut stream missed, and then the log is complete: `done` resolves. The engine
 *   waits for `done` before it deletes the pod.
 */
import type { IncomingMessage } from 'node:http';
import type { KubeClient } from './client.ts';
import { abortableSleep, classifyError } from './errors.ts';

/** Options of `LogFollower`. */
export interface LogFollowerOptions {
  client: KubeClient;
  namespace: string;
  pod: string;
  container: string;
  /** Called once per complete line, in order. */
  onLine: (text: string, time: string | null) => void;
  /** How many last lines to keep for the summary; default 50. */
  tailLines?: number;
  /** Waits between resumes; tests inject a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about each resume (for debug lines). */
  onResume?: (why: string) => void;
}

/** Normalises an RFC3339(Nano) timestamp so that string order is time order. */
function sortableTime(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return ts;
  if (m[3] !== 'Z') {
    const d = new Date(ts);
    return `${d.toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}`;
  }
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}`;
}

/** Follows the log of one container of one pod. */
export class LogFollower {
  readonly #o: LogFollowerOptions;
  readonly #abort = new AbortController();
  readonly #tail: string[] = [];
  #lastTs: string | null = null;
  #lastKey = '';
  /** How many times each text was emitted with timestamp `#lastTs`. */
  #atLast = new Map<string, number>();
  /** How many times each text stamped `#lastTs` came in the current read. */
  #pass = new Map<string, number>();
  #terminated = false;
  #gone = false;
  #wake: (() => void) | null = null;
  #done: Promise<void> | null = null;
  #lines = 0;

  constructor(options: LogFollowerOptions) {
    this.#o = options;
  }

  /** Starts following (call once the container has started). Idempotent. */
  start(): void {
    this.#done ??= this.#run().catch(() => {});
  }

  /** Resolves when the log has been read to its end (or can no longer be read). */
  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /** The container has terminated: finish reading, then resolve `done`. */
  terminated(): void {
    this.#terminated = true;
    this.#wake?.();
  }

  /** The pod is gone: its log cannot be read any more. */
  gone(): void {
    this.#gone = true;
    this.#abort.abort();
    this.#wake?.();
  }

  /** Stops at once (cancellation). */
  stop(): void {
    this.gone();
  }

  /** The last lines read, oldest first. */
  tail(): string[] {
    return [...this.#tail];
  }

  /** How many lines were emitted. */
  get lineCount(): number {
    return this.#lines;
  }

  async #run(): Promise<void> {
    const sleep = this.#o.sleep ?? abortableSleep;
    let failures = 0;
    while (!this.#gone) {
      const final = this.#terminated;
      let res: IncomingMessage;
      try {
        const query: Record<string, string> = { container: this.#o.container, timestamps: 'true', follow: final ? 'false' : 'true' };
        if (this.#lastTs) query.sinceTime = this.#lastTs;
        res = await this.#o.client.openStream(`/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/pods/${encodeURIComponent(this.#o.pod)}/log`, query, this.#abort.signal);
      } catch (err) {
        if (this.#gone) return;
        const e = classifyError(err);
        // 404: the pod is gone. 401/403: we may not read logs (preflight said so); do not spin.
        if (e.kind === 'not-found' || e.kind === 'unauthorized' || e.kind === 'forbidden') return;
        if (++failures > 30) return;
        this.#o.onResume?.(`log request failed (${e.message}); retrying`);
        await this.#nap(sleep, Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      const got = await this.#read(res);
      if (this.#gone) return;
      if (final) {
        // A read after termination can be cut too: read again until one brings nothing new.
        if (got.emitted > 0) continue;
        // Nothing new, and the same unterminated last line again: it is the log's real last line
        // (a line without its newline). A bare timestamp is a cut, not a line.
        if (/^\S+ /.test(got.partial)) this.#accept(got.partial);
        return;
      }
      if (got.partial !== '' && got.emitted > 0) {
        // Cut mid-line: certainly not the end of the log. Resume at once from the last whole line
        // (only after progress, so a server that ends every stream at once cannot make us spin).
        this.#o.onResume?.(`log stream of ${this.#o.pod} was cut mid-line; resuming from ${this.#lastTs ?? 'the start'}`);
        failures = 0;
        continue;
      }
      failures = got.emitted > 0 ? 0 : failures + 1;
      // The stream ended on a line boundary while we have not seen the container terminate:
      // either it just did (the watch will say so in a moment) or the stream was cut. Wait a
      // little for the former; `terminated()` wakes us.
      await this.#nap(sleep, Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
    }
  }

  /** Sleeps, but wakes as soon as the container terminates or the pod goes. */
  async #nap(sleep: (ms: number, signal?: AbortSignal) => Promise<void>, ms: number): Promise<void> {
    if (this.#terminated || this.#gone) return;
    const woken = new Promise<void>((resolve) => (this.#wake = resolve));
    const nap = new AbortController();
    try {
      await Promise.race([woken, sleep(ms, nap.signal).catch(() => {})]);
    } finally {
      nap.abort();
      this.#wake = null;
    }
  }

  /**
   * Reads one response to its end; returns the number of lines emitted and the unterminated
   * text after the last newline (never emitted here: a resumed read sends it again, whole).
   */
  #read(res: IncomingMessage): Promise<{ emitted: number; partial: string }> {
    return new Promise((resolve) => {
      let buf = '';
      let emitted = 0;
      this.#pass = new Map();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          if (this.#accept(buf.slice(0, nl))) emitted++;
          buf = buf.slice(nl + 1);
        }
      });
      res.on('error', () => {});
      res.on('close', () => resolve({ emitted, partial: buf }));
    });
  }

  /**
   * Emits a raw `<timestamp> <text>` line unless it was emitted before. A resumed read starts at
   * `sinceTime` = the last timestamp, so it sends again the lines stamped with it: for each text,
   * as many as were emitted at that timestamp are skipped (`#atLast` vs `#pass`).
   */
  #accept(raw: string): boolean {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const sp = line.indexOf(' ');
    const ts = sp > 0 && /^\d{4}-\d\d-\d\dT/.test(line) ? line.slice(0, sp) : null;
    const text = ts ? line.slice(sp + 1) : line;
    if (ts) {
      const key = sortableTime(ts);
      if (this.#lastTs !== null && key < this.#lastKey) return false;
      if (key === this.#lastKey) {
        const seen = (this.#pass.get(text) ?? 0) + 1;
        this.#pass.set(text, seen);
        if (seen <= (this.#atLast.get(text) ?? 0)) return false;
        this.#atLast.set(text, (this.#atLast.get(text) ?? 0) + 1);
      } else {
        this.#lastKey = key;
        this.#lastTs = ts;
        this.#atLast = new Map([[text, 1]]);
        this.#pass = new Map([[text, 1]]);
      }
    }
    this.#emit(text, ts);
    return true;
  }

  #emit(text: string, ts: string | null): void {
    this.#lines++;
    this.#tail.push(text);
    if (this.#tail.length > (this.#o.tailLines ?? 50)) this.#tail.shift();
    this.#o.onLine(text, ts);
  }
}
