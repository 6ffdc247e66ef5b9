/**
 * Annotations: what GitHub shows on the run's page and in a pull request's diff, pointing at
 * the spec file. A spec error points at its line and column; a failed task at its definition,
 * with the class and reason in the title; a task that succeeded after retries is a warning.
 *
 * GitHub shows at most 10 errors and 10 warnings per step and drops the rest silently, so the
 * list is sorted most useful first and cut to 9 plus one that says how many were left out.
 */
import { workflowCommand } from './workflow-commands.ts';
import type { RunState, TaskState } from '../dag/types.ts';
import type { AttemptClass, DagSpec, SpecIssue } from '../spec/types.ts';
import type { DryRunVerdict, Reporter, RunInfo } from './types.ts';
import { makeRedactor } from './escape.ts';
import { extraMessage, formatDuration, outcomeText } from './format.ts';

/** The most annotations of one level GitHub shows for a step. */
export const GITHUB_ANNOTATION_LIMIT = 10;

/** One annotation. `file`, `line` and `col` are `null` when it points nowhere in particular. */
export interface Annotation {
  level: 'error' | 'warning';
  title: string;
  message: string;
  file: string | null;
  line: number | null;
  col: number | null;
}

/** Where annotations go: the runner (`coreAnnotationSink`), or a list in tests. */
export interface AnnotationSink {
  annotate(annotation: Annotation): void;
}

/** Sends annotations to the runner as workflow commands on stdout (built by `workflowCommand`). */
export const coreAnnotationSink: AnnotationSink = {
  annotate(a) {
    process.stdout.write(`${formatAnnotationCommand(a)}\n`);
  },
};

/** Where an annotation points, as the runner seam (src/action/github-runner.ts) takes it. */
export interface AnnotationPlace {
  title?: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

/** The part of the runner seam annotations need (src/action/github-runner.ts `Runner` fits it). */
export interface AnnotationRunner {
  error(message: string, place?: AnnotationPlace): void;
  warning(message: string, place?: AnnotationPlace): void;
}

/** A sink that sends annotations through a runner seam. */
export function runnerAnnotationSink(runner: AnnotationRunner): AnnotationSink {
  return {
    annotate(a) {
      const place: AnnotationPlace = { title: a.title };
      if (a.file !== null) place.file = a.file;
      if (a.line !== null) place.startLine = a.line;
      if (a.line !== null && a.col !== null) place.startColumn = a.col;
      if (a.level === 'error') runner.error(a.message, place);
      else runner.warning(a.message, place);
    },
  };
}

/** The exact workflow command for an annotation: `::error file=…,line=…,col=…,title=…::message`. */
export function formatAnnotationCommand(a: Annotation): string {
  return workflowCommand(a.level, { file: a.file ?? undefined, line: a.line ?? undefined, col: a.line === null ? undefined : (a.col ?? undefined), title: a.title }, a.message);
}

/** A sink that writes each annotation as its workflow command line (for the CLI and tests). */
export function commandAnnotationSink(write: (line: string) => void): AnnotationSink {
  return { annotate: (a) => write(formatAnnotationCommand(a)) };
}

/** Spec errors, in file order (line, then column): the first is usually the cause of the rest. */
export function specIssueAnnotations(issues: readonly SpecIssue[]): Annotation[] {
  return [...issues]
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => a.issue.file.localeCompare(b.issue.file) || a.issue.line - b.issue.line || a.issue.col - b.issue.col || a.index - b.index)
    .map(({ issue }) => ({
      level: 'error' as const,
      title: issue.path === '' ? 'Invalid DAG spec' : `Invalid DAG spec: ${issue.path}`,
      message: issue.message,
      file: issue.file,
      line: issue.line,
      col: issue.col,
    }));
}

/**
 * Which failures to show first when there are more than GitHub shows: a configuration error
 * is the user's to fix and fails fast, a task's own failure comes next, then timeouts, then
 * the cluster's trouble (evictions), which usually fixes itself.
 */
const CLASS_ORDER: Record<AttemptClass, number> = {
  configuration: 0,
  failed: 1,
  timeout: 2,
  infrastructure: 3,
  cancelled: 4,
  succeeded: 5,
};

/** The tasks skipped because of `failed`, directly or through other skipped tasks, in spec order. */
function skippedBecauseOf(spec: DagSpec, state: RunState, failed: string): string[] {
  const skipped = new Set(state.tasks.filter((t) => t.result === 'skipped' || t.result === 'not-run').map((t) => t.id));
  const dependants = new Map<string, string[]>();
  for (const t of spec.tasks) {
    for (const n of t.needs) {
      const list = dependants.get(n) ?? [];
      list.push(t.id);
      dependants.set(n, list);
    }
  }
  const reached = new Set<string>();
  const queue = [failed];
  while (queue.length > 0) {
    for (const d of dependants.get(queue.pop()!) ?? []) {
      if (skipped.has(d) && !reached.has(d)) {
        reached.add(d);
        queue.push(d);
      }
    }
  }
  return spec.tasks.filter((t) => reached.has(t.id)).map((t) => t.id);
}

/** The error of one failed task, pointing at its definition. */
function failedTaskAnnotation(spec: DagSpec, state: RunState, task: TaskState): Annotation {
  const def = spec.tasks.find((t) => t.id === task.id);
  const last = task.attempts[task.attempts.length - 1];
  const o = last?.outcome ?? null;
  const n = task.attempts.length;
  const how = o === null ? (task.reason ?? 'failed') : outcomeText(o);
  const lines: string[] = [];
  // The title says how it ended (`exit 3`); the message adds only what the title does not say.
  const extra = o === null ? null : extraMessage(o);
  if (extra !== null) lines.push(extra);
  else if (o === null && task.reason !== null) lines.push(task.reason);
  lines.push(`Failed after ${n} ${n === 1 ? 'attempt' : 'attempts'}${last?.pod == null ? '' : `; last pod ${last.pod}`}${o?.node == null ? '' : ` on node ${o.node}`}.`);
  const skipped = skippedBecauseOf(spec, state, task.id);
  if (skipped.length > 0) lines.push(`Not run because of it: ${skipped.join(', ')}.`);
  return {
    level: 'error',
    title: `Task ${task.id} failed: ${how}`,
    message: lines.join('\n'),
    file: def === undefined ? null : spec.file,
    line: def?.pos.line ?? null,
    col: def?.pos.col ?? null,
  };
}

/** The warning of a task that succeeded after failed attempts. */
function retriedTaskAnnotation(spec: DagSpec, task: TaskState): Annotation {
  const def = spec.tasks.find((t) => t.id === task.id);
  const failures = task.attempts.filter((a) => a.outcome !== null && a.outcome.class !== 'succeeded');
  const lines = failures.map((a) => {
    const o = a.outcome!;
    const extra = extraMessage(o);
    const message = extra === null ? '' : ` — ${extra}`;
    return `Attempt ${a.attempt}: ${outcomeText(o)}${message}`;
  });
  return {
    level: 'warning',
    title: `Task ${task.id} succeeded after ${task.attempts.length} attempts`,
    message: lines.join('\n'),
    file: def === undefined ? null : spec.file,
    line: def?.pos.line ?? null,
    col: def?.pos.col ?? null,
  };
}

/**
 * The annotations of a finished run, most useful first: the DAG timeout (it explains the rest),
 * failed tasks by class (configuration, failed, timeout, infrastructure) then spec order, then
 * warnings for tasks that needed retries.
 */
export function runAnnotations(spec: DagSpec, state: RunState): Annotation[] {
  const out: Annotation[] = [];
  if (state.cancelled === 'timeout') {
    const limit = spec.timeoutMs === null ? '' : ` of ${formatDuration(spec.timeoutMs)}`;
    out.push({
      level: 'error',
      title: `DAG ${spec.name} timed out`,
      message: `The DAG's timeout${limit} was reached; running tasks were cancelled. Raise \`timeout\` in the spec or find the slow task in the job summary's timeline.`,
      file: spec.file,
      line: null,
      col: null,
    });
  }
  const order = new Map(spec.tasks.map((t, i) => [t.id, i]));
  const rank = (t: TaskState): number => CLASS_ORDER[t.attempts[t.attempts.length - 1]?.outcome?.class ?? 'failed'];
  const failed = state.tasks
    .filter((t) => t.result === 'failed')
    .sort((a, b) => rank(a) - rank(b) || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  for (const t of failed) out.push(failedTaskAnnotation(spec, state, t));
  for (const t of state.tasks) {
    if (t.result === 'succeeded' && t.reusedFrom === null && t.attempts.length > 1) out.push(retriedTaskAnnotation(spec, t));
  }
  return out;
}

/** An error for each pod the cluster refused in a dry run, pointing at its task. */
export function dryRunAnnotations(spec: DagSpec, verdicts: readonly DryRunVerdict[]): Annotation[] {
  const order = new Map(spec.tasks.map((t, i) => [t.id, i]));
  return verdicts
    .filter((v) => !v.accepted || (v.problems ?? []).length > 0)
    .sort((a, b) => (order.get(a.task) ?? 0) - (order.get(b.task) ?? 0))
    .map((v) => {
      const def = spec.tasks.find((t) => t.id === v.task);
      const problems = v.problems ?? [];
      return {
        level: 'error' as const,
        title: v.accepted ? `Task ${v.task}: its pod would not run` : `Task ${v.task}: the cluster refused its pod`,
        message: [...(v.accepted ? [] : [v.message ?? 'The cluster refused the pod without a message.']), ...problems].join('\n'),
        file: def === undefined ? null : spec.file,
        line: def?.pos.line ?? null,
        col: def?.pos.col ?? null,
      };
    });
}

/**
 * Keeps at most `max` annotations of each level, in order; when some are left out, the last one
 * kept is replaced by one saying how many.
 */
export function limitAnnotations(list: readonly Annotation[], max = GITHUB_ANNOTATION_LIMIT): Annotation[] {
  const out: Annotation[] = [];
  for (const level of ['error', 'warning'] as const) {
    const of = list.filter((a) => a.level === level);
    if (of.length <= max) {
      out.push(...of);
      continue;
    }
    const kept = of.slice(0, Math.max(0, max - 1));
    const left = of.length - kept.length;
    out.push(...kept, {
      level,
      title: `${left} more ${level === 'error' ? 'errors' : 'warnings'} not shown`,
      message: `GitHub shows at most ${max} ${level} annotations per step; the other ${left} are listed in the step's log and the job summary.`,
      file: null,
      line: null,
      col: null,
    });
  }
  // Back in the original interleaving is not needed: GitHub groups by level anyway.
  return out;
}

/** Options of `emitAnnotations` and `AnnotationReporter`. */
export interface AnnotationOptions {
  /** Where annotations go; default `runner` when given, else `coreAnnotationSink`. */
  sink?: AnnotationSink;
  /** The runner seam, used when no `sink` is given. */
  runner?: AnnotationRunner;
  /** Values to redact from titles and messages. */
  secrets?: readonly string[];
  /** At most this many of each level (default GitHub's 10). */
  maxPerLevel?: number;
}

/** Limits, redacts and sends annotations; returns what was sent. */
export function emitAnnotations(list: readonly Annotation[], options: AnnotationOptions = {}): Annotation[] {
  const redact = makeRedactor(options.secrets ?? []);
  const sink = options.sink ?? (options.runner === undefined ? coreAnnotationSink : runnerAnnotationSink(options.runner));
  const sent = limitAnnotations(list, options.maxPerLevel).map((a) => ({ ...a, title: redact(a.title), message: redact(a.message) }));
  for (const a of sent) sink.annotate(a);
  return sent;
}

/** Reports spec errors as annotations (called before any run starts); returns what was sent. */
export function reportSpecIssues(issues: readonly SpecIssue[], options: AnnotationOptions = {}): Annotation[] {
  return emitAnnotations(specIssueAnnotations(issues), options);
}

/** `reportSpecIssues` through a runner seam. */
export function annotateSpecIssues(issues: readonly SpecIssue[], runner: AnnotationRunner, options: Omit<AnnotationOptions, 'runner' | 'sink'> = {}): Annotation[] {
  return reportSpecIssues(issues, { ...options, runner });
}

/** Annotates a run when it ends: failed tasks, retried tasks, refused dry-run pods. */
export class AnnotationReporter implements Reporter {
  readonly #options: AnnotationOptions;
  #info: RunInfo | null = null;
  readonly #verdicts: DryRunVerdict[] = [];

  constructor(options: AnnotationOptions = {}) {
    this.#options = options;
  }

  runStarted(info: RunInfo): void {
    this.#info = info;
  }

  dryRunVerdict(verdict: DryRunVerdict): void {
    this.#verdicts.push(verdict);
  }

  runFinished(state: RunState): void {
    if (this.#info === null) return;
    const spec = this.#info.spec;
    const list = this.#info.mode === 'dry-run' ? dryRunAnnotations(spec, this.#verdicts) : runAnnotations(spec, state);
    emitAnnotations(list, this.#options);
  }
}
