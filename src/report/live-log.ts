/**
 * The live step log: every container log line prefixed with its task (and attempt when > 1), and
 * every decision in plain words ("migrate-data attempt 1 failed: exit code 3; retrying in 3m
 * (attempt 2 of 3)"). Each line is written with ONE `write` call, so lines of parallel tasks never
 * mix mid-line. It prints names, reasons and the cluster's messages, never env values; secrets
 * registered with the runner are masked by the runner on top of that.
 */
import type { AttemptOutcome, Decision, RunResult, RunState, RunView } from '../dag/types.ts';
import { formatDuration } from '../common/duration.ts';
import { wordCut } from './format.ts';
import type { PendingStatus } from '../common/observed.ts';
import type { DryRunChecks, DryRunVerdict, LogLine, Reporter, RunInfo } from './types.ts';
import { secretVariants } from './escape.ts';

/** At most one line about a waiting pod per attempt in this long; a later change is told then. */
export const PENDING_LINE_GAP_MS = 10_000;

/**
 * Reasons every pod passes through on its way to running. They are told only once the pod has
 * waited this long, so a run where pods start at once prints no waiting lines at all.
 */
const ROUTINE_WAITS = new Set(['Pending', 'Scheduled', 'ContainerCreating', 'PodInitializing']);
const ROUTINE_QUIET_MS = 10_000;

/** Image pull reasons that alternate while the kubelet backs off: one story, told once. */
const IMAGE_PULL = new Set(['ErrImagePull', 'ImagePullBackOff', 'RegistryUnavailable']);

/** What a waiting pod's status says, in words, and the key that tells one story from another. */
function pendingWords(s: PendingStatus): { key: string; text: string } {
  // The scheduler ends its sentences with a period; the line goes on after it.
  const message = (s.message?.trim() ?? '').replace(/\.$/, '');
  if (s.reason === 'Unschedulable') {
    return { key: `unschedulable:${message}`, text: `waiting for a node: ${message === '' ? 'no node fits the pod' : message}` };
  }
  if (IMAGE_PULL.has(s.reason)) {
    // "Back-off pulling image "x": ErrImagePull: <cause>" and "<cause>" are the same story.
    const cause = message.replace(/^Back-off pulling image "[^"]*":\s*(ErrImagePull:\s*)?/, '');
    return { key: `image:${cause}`, text: `cannot pull the image yet (${s.reason}): ${cause === '' ? message || 'no message' : cause}` };
  }
  if (s.reason === 'ContainerCreating' || s.reason === 'PodInitializing' || s.reason === 'Scheduled') {
    const on = s.node === null ? '' : ` on ${s.node}`;
    return { key: `creating:${s.node ?? ''}`, text: `pending: the container is being created${on} (pulling the image, mounting volumes)` };
  }
  return { key: `${s.reason}:${message}`, text: `pending: ${s.reason}${message === '' ? '' : `: ${message}`}` };
}

/** What the live log remembers of one waiting attempt, to pace its lines. */
interface Waiting {
  firstAt: number;
  lastKey: string | null;
  lastAt: number | null;
}

/** Options of `LiveLogReporter`. */
export interface LiveLogOptions {
  /**
   * Writes one line (no trailing newline). The action passes the runner's `info` (which sends a
   * burst of lines to stdout in one write); tests capture.
   */
  write: (line: string) => void;
  /** Longest container log line printed; longer ones are cut with a note. Default 8000. */
  maxLineLength?: number;
  /**
   * The credentials the runner masks (a list that may grow): a long line is cut before one that
   * spans the cut, whose first part the runner would not recognise and so would show.
   */
  secrets?: readonly string[];
}

/**
 * Where to cut `text` to at most `max` characters so that no string of `hidden` (the credentials
 * and their encoded forms: `secretVariants`) is cut in two: `max`, or the start of one that spans it.
 */
export function cutBefore(text: string, max: number, hidden: readonly string[]): number {
  let cut = max;
  for (const secret of hidden) {
    if (secret.length < 2) continue;
    // Only an occurrence that starts before the cut and ends after it matters: it lies in here.
    const from = Math.max(0, max - secret.length + 1);
    const window = text.slice(from, max + secret.length - 1);
    for (let at = window.indexOf(secret); at !== -1; at = window.indexOf(secret, at + 1)) {
      if (from + at < max && from + at + secret.length > max) cut = Math.min(cut, from + at);
    }
  }
  return cut;
}

/** Words for an attempt's outcome: "exit code 3", "OOMKilled: …", "evicted: …". */
export function describeOutcome(o: AttemptOutcome): string {
  if (o.class === 'failed' && o.message) return o.message;
  if (o.class === 'failed') return o.exitCode !== null ? `exit code ${o.exitCode}` : (o.reason ?? 'failed');
  const head = o.reason ?? o.class;
  return o.message ? `${head}: ${o.message}` : head;
}

const VERB: Record<AttemptOutcome['class'], string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  infrastructure: 'was lost to an infrastructure problem',
  configuration: 'failed on configuration',
  timeout: 'timed out',
  cancelled: 'was cancelled',
};

/** An attempt whose log is still being read (see `LiveLogReporter.#reading`). */
interface Reading {
  /** Its result lines, held until its log ends. */
  held: string[];
  /**
   * How its container ended, once the engine knows and until the step log was told: told before
   * the next line about another pod or task, which the engine may have started because of it.
   */
  ended: string | null;
}

/** The Reporter that prints the run to the step log as it happens. */
export class LiveLogReporter implements Reporter {
  readonly #write: (line: string) => void;
  readonly #max: number;
  readonly #secrets: readonly string[];
  /** `secretVariants` of `#secrets`, computed again only when the list grew. */
  #variants: { of: number; list: string[] } = { of: 0, list: [] };
  /** The run's last line, from its `done` decision; printed by runFinished, after the last task's own line. */
  #done: RunResult | null = null;
  /** Attempts whose pods wait to start, by `task#attempt`. */
  readonly #waiting = new Map<string, Waiting>();
  /**
   * Attempts whose container started and whose log has not ended yet (`task#attempt`), with the
   * result lines held until it ends: a task's last lines come before its result, though the
   * engine goes on (creates the dependants, retries) as soon as the container ended.
   */
  readonly #reading = new Map<string, Reading>();

  constructor(options: LiveLogOptions) {
    this.#write = options.write;
    this.#max = options.maxLineLength ?? 8000;
    this.#secrets = options.secrets ?? [];
  }

  runStarted(info: RunInfo): void {
    const n = info.spec.tasks.length;
    const where = info.namespace ? ` in namespace ${info.namespace}` : '';
    const what = info.mode === 'dry-run' ? 'Dry run of' : 'Running';
    this.#write(`${what} DAG ${info.spec.name} (${n} ${n === 1 ? 'task' : 'tasks'})${where}`);
  }

  podCreated(task: string, attempt: number, pod: string, adopted: boolean, poke?: number): void {
    // A sensor's later pokes were announced by the "not yet" line of the poke before.
    if (poke !== undefined && poke > 1) return;
    this.#tellEnded();
    this.#write(`${label(task, attempt)} ${adopted ? 'adopted existing pod' : 'created pod'} ${pod}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
  }

  podPending(task: string, attempt: number, status: PendingStatus, at: number): void {
    const id = `${task}#${attempt}`;
    let w = this.#waiting.get(id);
    if (w === undefined) {
      w = { firstAt: at, lastKey: null, lastAt: null };
      this.#waiting.set(id, w);
    }
    const { key, text } = pendingWords(status);
    if (key === w.lastKey) return; // nothing new
    if (ROUTINE_WAITS.has(status.reason) && at - w.firstAt < ROUTINE_QUIET_MS) return; // the usual way to running
    if (w.lastAt !== null && at - w.lastAt < PENDING_LINE_GAP_MS) return; // a later change tells the newest
    w.lastKey = key;
    w.lastAt = at;
    const waited = at - w.firstAt >= 1000 ? `; waiting for ${formatDuration(at - w.firstAt)}` : '';
    this.#write(`${label(task, attempt)} ${text}${waited}`);
  }

  containerStarted(task: string, attempt: number, node: string | null, pendingMs: number): void {
    this.#waiting.delete(`${task}#${attempt}`);
    this.#reading.set(`${task}#${attempt}`, { held: [], ended: null });
    const after = pendingMs >= 1000 ? ` after ${formatDuration(pendingMs)} pending` : '';
    this.#write(`${label(task, attempt)} started${node === null ? '' : ` on ${node}`}${after}`);
  }

  #hidden(): string[] {
    if (this.#variants.of !== this.#secrets.length) this.#variants = { of: this.#secrets.length, list: this.#secrets.flatMap(secretVariants) };
    return this.#variants.list;
  }

  logLine(line: LogLine): void {
    // A carriage return or escape sequence must not rewrite earlier lines of the step log.
    let text = line.text.includes('\r') ? line.text.replace(/\r/g, '') : line.text;
    // "cut at", not a count: the log reader may have cut a longer line already (MAX_LOG_LINE_CHARS).
    // Between words too: a workflow secret the action does not know must not be cut in two either.
    if (text.length > this.#max) text = `${text.slice(0, Math.min(cutBefore(text, this.#max, this.#hidden()), wordCut(text, this.#max)))}… (line cut at ${this.#max} characters)`;
    this.#write(`${label(line.task, line.attempt)} ${text}`);
  }

  logEnded(task: string, attempt: number): void {
    const key = `${task}#${attempt}`;
    const reading = this.#reading.get(key);
    this.#reading.delete(key);
    for (const line of reading?.held ?? []) this.#write(line);
  }

  /**
   * Writes an attempt's result line now, or once its log has ended. `ended` says how its
   * container ended, for the line `#tellEnded` writes meanwhile.
   */
  #result(task: string, attempt: number, line: string, ended: string): void {
    const reading = this.#reading.get(`${task}#${attempt}`);
    if (!reading) return this.#write(line);
    if (reading.held.length === 0) reading.ended = `${label(task, attempt)} ${ended} (the last lines of its log follow)`;
    reading.held.push(line);
  }

  /**
   * The engine moves on as soon as a container ends (it creates the dependants, skips, retries),
   * while that container's last lines and result line are still to come. Before a line about what
   * follows, the step log says which containers already ended, so it never reads as if a task
   * started before the one it needs had finished.
   */
  #tellEnded(): void {
    for (const reading of this.#reading.values()) {
      if (reading.ended === null) continue;
      this.#write(reading.ended);
      reading.ended = null;
    }
  }

  attemptFinished(task: string, attempt: number, outcome: AttemptOutcome, run: RunView): void {
    this.#waiting.delete(`${task}#${attempt}`);
    if (outcome.class !== 'succeeded') return; // failures are told by the retry / give-up decision
    const rec = run.task(task).attempts.find((a) => a.attempt === attempt);
    const took = rec && rec.finishedAt !== null ? ` in ${formatDuration(Math.max(0, rec.finishedAt - rec.startedAt))}` : '';
    const outs = Object.keys(outcome.outputs);
    this.#result(task, attempt, `${label(task, attempt)} succeeded${took}${attempt > 1 ? ` (attempt ${attempt})` : ''}${outs.length ? `; outputs: ${outs.join(', ')}` : ''}`, 'exited 0');
  }

  decision(d: Decision): void {
    switch (d.type) {
      case 'retry':
        this.#result(
          d.task,
          d.failedAttempt,
          `${d.task} attempt ${d.failedAttempt} ${VERB[d.outcome.class]}: ${describeOutcome(d.outcome)}; retrying in ${formatDuration(d.delayMs)} (attempt ${d.nextAttempt} of ${d.maxAttempts})`,
          `ended: ${describeOutcome(d.outcome)}`,
        );
        break;
      case 'give-up':
        this.#result(d.task, d.attempt, `${d.task} attempt ${d.attempt} ${VERB[d.outcome.class]}: ${describeOutcome(d.outcome)}; ${d.reason}`, `ended: ${describeOutcome(d.outcome)}`);
        break;
      case 'skip':
        this.#tellEnded();
        this.#write(`${d.task} skipped: ${d.reason}`);
        break;
      case 'poke':
        // One line per poke: a sensor that waits for hours stays readable.
        this.#write(`${label(d.task, d.attempt)} not yet (poke ${d.poke}); next poke at ${clockTime(d.at)}`);
        break;
      case 'expand': {
        this.#tellEnded();
        const shown = d.instances.slice(0, 5).join(', ') + (d.instances.length > 5 ? `, … (${d.instances.length - 5} more)` : '');
        this.#write(`${d.task}: ${d.instances.length} matrix instance${d.instances.length === 1 ? '' : 's'}: ${shown}`);
        break;
      }
      case 'fail':
        this.#tellEnded();
        this.#write(`${d.task} failed: ${d.reason}`);
        break;
      case 'cancel': {
        const names = d.attempts.map((a) => (a.attempt > 1 ? `${a.task} (attempt ${a.attempt})` : a.task)).join(', ');
        const why = d.reason === 'timeout' ? 'the DAG timeout was reached' : d.reason === 'fail-fast' ? 'an instance of the matrix failed (fail-fast)' : 'the run was cancelled';
        this.#write(`${why}: stopping ${names}`);
        break;
      }
      case 'done': {
        // Held until runFinished: the `done` decision comes with the last attempt's end, before
        // that attempt's own "succeeded" line is written.
        this.#done = d.result;
        break;
      }
      default:
        break;
    }
  }

  dryRunVerdict(v: DryRunVerdict): void {
    const problems = v.problems ?? [];
    if (!v.accepted) this.#write(`${v.task}: the cluster would reject pod ${v.pod}: ${v.message ?? 'no reason given'}`);
    else if (problems.length > 0) this.#write(`${v.task}: the cluster would accept pod ${v.pod}, but it would not run: ${problems.join('; ')}`);
    else this.#write(`${v.task}: the cluster would accept pod ${v.pod}`);
  }

  dryRunChecks(checks: DryRunChecks): void {
    for (const s of checks.skipped) this.#write(`dry run: skipped a check (${s.check}): ${s.why}`);
  }

  runFinished(state: RunState): void {
    // Whatever is still held (a log that never ended) is told before the run's last line.
    for (const reading of this.#reading.values()) for (const line of reading.held) this.#write(line);
    this.#reading.clear();
    // A run's `done` decision said how it ended; a dry run has none.
    if (this.#done !== null) {
      const counts = new Map<string, number>();
      for (const t of state.tasks) counts.set(t.result ?? 'unfinished', (counts.get(t.result ?? 'unfinished') ?? 0) + 1);
      const parts = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
      this.#write(`DAG ${state.dag} finished: ${this.#done} (${parts})`);
      return;
    }
    const failed = state.tasks.filter((t) => t.result === 'failed').length;
    this.#write(`DAG ${state.dag} finished: ${state.result ?? 'unfinished'}${failed ? ` (${failed} failed)` : ''}`);
  }
}

/** `02:15:00Z`: the UTC time of day (the step log's own timestamps are UTC too). */
function clockTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)}Z`;
}

function label(task: string, attempt: number): string {
  return attempt > 1 ? `[${task} #${attempt}]` : `[${task}]`;
}
