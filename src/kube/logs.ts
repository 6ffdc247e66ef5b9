/**
 * Follows one container's log (follow + timestamps) and hands it on as whole lines.
 *
 * Invariants:
 * - only whole lines are emitted, each in one call, so lines of parallel tasks never mix mid-line;
 * - a stream that ends while the container still runs is resumed from the last timestamp seen
 *   (`sinceTime`), and lines already emitted (same timestamp, same text) are not repeated;
 * - a follow stream the server ended on its own, on a line boundary, is the whole log once the
 *   container is known to have terminated (then, or within END_CONFIRM_MS): the kubelet ends a
 *   follow stream only when the container is no longer running, after reading its log file to
 *   the end (k8s.io/cri-client pkg/logs ReadLogs: at EOF `waitLogs` checks the container, and a
 *   container that is not running ends the read at the next EOF). No second read then;
 * - a stream that was cut (an error, a response that did not complete, a line cut in the middle)
 *   is read once more (no follow) from the last timestamp after the container terminated, and
 *   then the log is complete: `done` resolves. The engine waits for `done` before it deletes the
 *   pod.
 */
import type { Readable } from 'node:stream';
import type { PodApi } from './pod-api.ts';
import { abortableSleep, classifyError } from './errors.ts';

/** Options of `LogFollower`. */
export interface LogFollowerOptions {
  api: PodApi;
  namespace: string;
  pod: string;
  container: string;
  /** Called once per complete line, in order. */
  onLine: (text: string, time: string | null) => void;
  /**
   * Asked after each chunk of lines: a promise means that whatever `onLine` writes to is backed
   * up, and the stream is paused (the server's writes block, nothing piles up here) until it
   * settles. Undefined: go on.
   */
  backlog?: () => Promise<void> | undefined;
  /** How many last lines to keep for the summary; default 50. */
  tailLines?: number;
  /** Waits between resumes; tests inject a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told about each resume (for debug lines). */
  onResume?: (why: string) => void;
}

/**
 * The longest log line kept, in characters (its timestamp included): the rest of a longer line is
 * counted and dropped as it arrives, so a task that prints 100 MB without a newline costs the
 * action 16 Ki characters, not 100 MB. The line is emitted cut, saying how much was dropped.
 */
export const MAX_LOG_LINE_CHARS = 16 * 1024;

/** What a cut line ends with. */
function cutNote(dropped: number): string {
  return ` … [line cut: ${dropped} more characters not shown]`;
}

const ZERO = 48;
const NINE = 57;
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

/** Whether `s` has, at `i`, the start of an RFC 3339 timestamp: `dddd-dd-ddT`. No allocation. */
function timestampAt(s: string, i: number): boolean {
  return (
    isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 1)) && isDigit(s.charCodeAt(i + 2)) && isDigit(s.charCodeAt(i + 3)) &&
    s.charCodeAt(i + 4) === 45 && isDigit(s.charCodeAt(i + 5)) && isDigit(s.charCodeAt(i + 6)) &&
    s.charCodeAt(i + 7) === 45 && isDigit(s.charCodeAt(i + 8)) && isDigit(s.charCodeAt(i + 9)) && s.charCodeAt(i + 10) === 84
  );
}

/**
 * The timestamp as UTC ("...Z"). The kubelet's stamps already are (and are never converted); an
 * offset is converted, nanoseconds kept. Anything unparseable is returned as it is.
 */
function utcStamp(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return ts;
  const d = new Date(`${m[1]}${m[3]}`);
  if (Number.isNaN(d.getTime())) return ts;
  return `${d.toISOString().slice(0, 19)}${m[2] ?? ''}Z`;
}

/**
 * How long a follow stream that ended cleanly waits for the watch to say the container
 * terminated before it counts as cut and is resumed. The kubelet ends the stream within about a
 * second of the container's end (it checks at each EOF, and at least every second), and reports
 * the end through the pod's status about as fast (its PLEG relists every second): the two arrive
 * in either order. Only a stream cut while the container runs waits this long to resume.
 */
export const END_CONFIRM_MS = 2000;

/** The length of "YYYY-MM-DDTHH:MM:SS". */
const SECOND = 19;

/** Orders the second of the stamp at `s[i]` against `second` ("YYYY-MM-DDTHH:MM:SS", UTC), as strings. */
function compareSecond(s: string, i: number, second: string): number {
  // From the end: consecutive stamps differ, if at all, in their last digits.
  let k = SECOND - 1;
  while (k >= 0 && s.charCodeAt(i + k) === second.charCodeAt(k)) k--;
  if (k < 0) return 0;
  for (let j = 0; j < SECOND; j++) {
    const d = s.charCodeAt(i + j) - second.charCodeAt(j);
    if (d !== 0) return d;
  }
  return 0;
}

/** The fraction at `s[i]` ("." and digits; past the ninth they are ignored) in nanoseconds; 0 if none. */
function fractionNanos(s: string, i: number): number {
  if (s.charCodeAt(i) !== 46 /* . */) return 0;
  let n = 0;
  let digits = 0;
  for (let c = s.charCodeAt(++i); isDigit(c) && digits < 9; c = s.charCodeAt(++i), digits++) n = n * 10 + c - ZERO;
  for (; digits < 9; digits++) n *= 10;
  return n;
}

/** Follows the log of one container of one pod. */
export class LogFollower {
  readonly #o: LogFollowerOptions;
  readonly #abort = new AbortController();
  /** The last lines, a ring: `#tail[#tailAt]` is the oldest once it is full. */
  readonly #tail: string[] = [];
  #tailAt = 0;
  #tailReleased = false;
  /** The last timestamp emitted, as the server wrote it (the next read's `sinceTime`). */
  #lastTs: string | null = null;
  /** `#lastTs` in UTC: its second ("YYYY-MM-DDTHH:MM:SS") and the nanoseconds within it. */
  #lastSecond = '';
  #lastNanos = 0;
  /** How many lines stamped `#lastTs` were emitted. */
  #atLast = 0;
  /** How many lines stamped `#lastTs` came in the current read. */
  #pass = 0;
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
    return [...this.#tail.slice(this.#tailAt), ...this.#tail.slice(0, this.#tailAt)];
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
      let res: Readable;
      try {
        const query = { container: this.#o.container, follow: !final, ...(this.#lastTs ? { sinceTime: this.#lastTs } : {}) };
        res = await this.#o.api.log(this.#o.namespace, this.#o.pod, query, this.#abort.signal);
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
        if (/^\S+ /.test(got.partial)) this.#accept(got.partial, 0, got.partial.length);
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
      // The stream ended on a line boundary. Ended by the server on its own, it is the whole log
      // if the container terminated (see the header): wait for the watch to say so, then done,
      // with no second read. Otherwise (or if the container still runs) it was cut: resume.
      // `terminated()` wakes the nap.
      const clean = got.clean && got.partial === '';
      await this.#nap(sleep, Math.min(5000, (clean ? END_CONFIRM_MS : 250) * 2 ** Math.min(failures, 5)));
      if (clean && this.#terminated && !this.#gone) return;
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
   * Reads one response to its end; returns the number of lines emitted, the unterminated text
   * after the last newline (never emitted here: a resumed read sends it again, whole), and
   * whether the response ended cleanly (no error, and, for an HTTP response, its body complete:
   * a connection dropped mid-body is not).
   * The work is per chunk: lines are found with `indexOf` and handed on as slices of the chunk,
   * and a backed-up consumer (`backlog`) pauses the response.
   */
  #read(res: Readable): Promise<{ emitted: number; partial: string; clean: boolean }> {
    return new Promise((resolve) => {
      /** The text after the last newline so far (a line that has not ended yet), at most MAX_LOG_LINE_CHARS. */
      let rest = '';
      /** Characters of that line dropped past MAX_LOG_LINE_CHARS. */
      let dropped = 0;
      const keep = (text: string): void => {
        const room = MAX_LOG_LINE_CHARS - rest.length;
        if (text.length <= room) rest += text;
        else {
          rest += text.slice(0, Math.max(0, room));
          dropped += text.length - Math.max(0, room);
        }
      };
      const whole = (): string => (dropped > 0 ? rest + cutNote(dropped) : rest);
      let emitted = 0;
      this.#pass = 0;
      // Decodes UTF-8 across chunks: a character split between two chunks is whole in one.
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        let nl = chunk.indexOf('\n');
        if (nl === -1) {
          keep(chunk);
          return;
        }
        let start = 0;
        if (rest !== '' || dropped > 0) {
          keep(chunk.slice(0, nl));
          const first = whole();
          rest = '';
          dropped = 0;
          if (this.#accept(first, 0, first.length)) emitted++;
          start = nl + 1;
          nl = chunk.indexOf('\n', start);
        }
        while (nl !== -1) {
          if (this.#accept(chunk, start, nl)) emitted++;
          start = nl + 1;
          nl = chunk.indexOf('\n', start);
        }
        keep(chunk.slice(start));
        const backlog = this.#o.backlog?.();
        if (backlog) {
          res.pause();
          const resume = (): void => void res.resume();
          backlog.then(resume, resume);
        }
      });
      let failed = false;
      res.on('error', () => (failed = true));
      res.on('aborted', () => (failed = true));
      res.on('close', () => {
        const complete = (res as Readable & { complete?: boolean }).complete;
        resolve({ emitted, partial: whole(), clean: !failed && complete !== false && res.readableEnded });
      });
    });
  }

  /**
   * Emits the raw `<timestamp> <text>` line `s[start, end)` unless it was emitted before. A
   * resumed read starts at `sinceTime` = the last timestamp (the API server passes it on to the
   * kubelet to the second), so it sends again lines stamped up to it: older ones are skipped, and
   * of those stamped with it, as many as were emitted (the log is append-only, so they come again
   * in the same order, first).
   */
  #accept(s: string, start: number, end: number): boolean {
    if (end > start && s.charCodeAt(end - 1) === 13 /* \r */) end--;
    const sp = timestampAt(s, start) ? s.indexOf(' ', start) : -1;
    if (sp === -1 || sp >= end) {
      // No timestamp: nothing to order it by.
      this.#emit(start === 0 && end === s.length ? s : s.slice(start, end), null);
      return true;
    }
    // Ordered by character codes and numbers, without allocating (but for a stamp with an offset).
    let stamp = s;
    let at = start;
    if (s.charCodeAt(sp - 1) !== 90 /* Z */) {
      stamp = utcStamp(s.slice(start, sp));
      at = 0;
    }
    const nanos = fractionNanos(stamp, at + SECOND);
    const secondOrder = this.#lastTs === null ? 1 : compareSecond(stamp, at, this.#lastSecond);
    const order = secondOrder !== 0 ? secondOrder : nanos - this.#lastNanos;
    if (order < 0) return false;
    if (order === 0 && ++this.#pass <= this.#atLast) return false;
    const ts = s.slice(start, sp);
    if (order === 0) this.#atLast++;
    else {
      if (secondOrder !== 0) this.#lastSecond = stamp.slice(at, at + SECOND);
      this.#lastNanos = nanos;
      this.#lastTs = ts;
      this.#atLast = 1;
      this.#pass = 1;
    }
    this.#emit(s.slice(sp + 1, end), ts);
    return true;
  }

  #emit(text: string, ts: string | null): void {
    this.#lines++;
    const keep = this.#tailReleased ? 0 : (this.#o.tailLines ?? 50);
    if (this.#tail.length < keep) this.#tail.push(tailCopy(text));
    else if (keep > 0) {
      this.#tail[this.#tailAt] = tailCopy(text);
      this.#tailAt = (this.#tailAt + 1) % keep;
    }
    this.#o.onLine(text, ts);
  }

  /** The tail is not needed (the attempt succeeded): drop it, and keep no more lines. */
  releaseTail(): void {
    this.#tailReleased = true;
    this.#tail.length = 0;
    this.#tailAt = 0;
  }
}

/** The most characters of one line a tail keeps (a tail is at most tailLines × this). */
export const TAIL_LINE_CHARS = 4096;

/**
 * A line as the tail keeps it: at most TAIL_LINE_CHARS characters, and a string of its own. A
 * line is a slice of the chunk it came in, and V8 keeps a slice's whole parent alive: one short
 * line kept would hold its 64 KiB chunk for the rest of the run, for every attempt.
 */
function tailCopy(text: string): string {
  const cut = text.length > TAIL_LINE_CHARS ? `${text.slice(0, TAIL_LINE_CHARS)}… (${text.length - TAIL_LINE_CHARS} more characters)` : text;
  // Concatenating then slicing makes V8 copy the characters into a new string (flattening).
  return ` ${cut}`.slice(1);
}
