/**
 * Small formatting helpers shared by the reports. Every time comes from the run state (epoch
 * milliseconds), never from a clock, so the same state always renders the same text.
 */
import type { AttemptOutcome, RunState, TaskState } from '../dag/types.ts';

/** A duration as people read it (src/common/duration.ts, the one formatter): `850ms`, `1.5s`, `1m 23s`. */
export { formatDuration } from '../common/duration.ts';

/** An ISO 8601 UTC timestamp, without milliseconds when they are zero. */
export function formatIso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** `HH:MM:SS` in UTC. */
export function formatClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `YYYY-MM-DD HH:MM:SS UTC`. */
export function formatDateTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/**
 * How a task is shown: its result, with `retried` for a task that succeeded after failed
 * attempts and `running` for a task without a result (a summary of an interrupted run).
 */
export type ShownState = 'succeeded' | 'retried' | 'failed' | 'skipped' | 'cancelled' | 'not-run' | 'running';

/** Every shown state, in the order counts and legends list them. */
export const SHOWN_STATES: readonly ShownState[] = [
  'succeeded',
  'retried',
  'failed',
  'cancelled',
  'skipped',
  'not-run',
  'running',
];

/** The shown state of a task. */
export function shownState(task: TaskState): ShownState {
  switch (task.result) {
    case 'succeeded':
      return task.attempts.length > 1 ? 'retried' : 'succeeded';
    case null:
      return 'running';
    default:
      return task.result;
  }
}

/** Emoji and words for each shown state. */
export const STATE_LABEL: Record<ShownState, { emoji: string; text: string }> = {
  succeeded: { emoji: '✅', text: 'succeeded' },
  retried: { emoji: '🔁', text: 'succeeded after retries' },
  failed: { emoji: '❌', text: 'failed' },
  cancelled: { emoji: '🚫', text: 'cancelled' },
  skipped: { emoji: '⏭️', text: 'skipped' },
  'not-run': { emoji: '⚪', text: 'not run' },
  running: { emoji: '⏳', text: 'unfinished' },
};

/** Reasons that add nothing to an exit code. */
const PLAIN_REASONS = new Set(['Error', 'Completed']);

/**
 * One line for how an attempt ended: `exit 1`, `OOMKilled, exit 137`,
 * `configuration: ErrImagePull`, `timeout: Unschedulable`.
 */
export function outcomeText(outcome: AttemptOutcome): string {
  const parts: string[] = [];
  const reason = outcome.reason ?? '';
  // `cancelled: Cancelled` says the same thing twice.
  if (reason !== '' && !PLAIN_REASONS.has(reason) && reason.toLowerCase() !== outcome.class) parts.push(reason);
  if (outcome.exitCode !== null) parts.push(`exit ${outcome.exitCode}`);
  const detail = parts.join(', ');
  if (outcome.class === 'succeeded' || outcome.class === 'failed') return detail === '' ? outcome.class : detail;
  return detail === '' ? outcome.class : `${outcome.class}: ${detail}`;
}

/**
 * The outcome's message when it says more than `outcomeText` does, else `null`: `exit code 3`
 * beside `exit 3` would say the same thing twice.
 */
export function extraMessage(outcome: AttemptOutcome): string | null {
  const message = outcome.message?.trim() ?? '';
  if (message === '') return null;
  if (/^exit code \d+( \([^)]*\))?$/.test(message)) return null;
  if (outcome.reason !== null && message === outcome.reason) return null;
  return message;
}

/** The wall time of a task: first attempt's start to last attempt's end (waits included). */
export function taskSpan(task: TaskState, state: RunState): { start: number; end: number } | null {
  const first = task.attempts[0];
  const last = task.attempts[task.attempts.length - 1];
  if (first === undefined || last === undefined) return null;
  const end = last.finishedAt ?? state.finishedAt ?? last.startedAt;
  return { start: first.startedAt, end };
}

/** Shortens text to at most `max` characters, marking the cut with `…`. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** How far back `truncateAtWord` looks for a space: longer than any token or password. */
const WORD_BACKOFF = 256;

/**
 * Where to cut text from a task or the cluster to at most `max` characters: between words, so a
 * token cut in two does not show its first part, which the runner's mask (the whole token) would
 * not find. A word longer than WORD_BACKOFF is cut where it must be.
 */
export function wordCut(text: string, max: number): number {
  if (text.length <= max) return text.length;
  if (/\s/.test(text[max] ?? ' ') || /\s/.test(text[max - 1] ?? ' ')) return max;
  const from = Math.max(0, max - WORD_BACKOFF);
  const space = text.slice(from, max).search(/\s\S*$/);
  return space === -1 ? max : from + space + 1;
}

/** Shortens text from a task or the cluster to at most `max` characters between words (`wordCut`), marking the cut with `…`. */
export function truncateAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, wordCut(text, Math.max(0, max - 1)))}…`;
}
