/**
 * The job summary: pure renderers from a run's data to the Markdown (with a little HTML) that
 * GitHub shows on the run's page. Nothing here touches a file; `SummaryReporter` writes.
 *
 * Invariants:
 * - Every string from a user or a pod goes through `escape.ts` before it is written.
 * - The output depends only on the arguments: times come from the state, so the same run always
 *   renders the same text (the golden tests rely on it).
 * - The output stays under `maxBytes` (GitHub rejects a step summary over 1 MiB): log tails are
 *   trimmed first, oldest lines first, and the summary says so.
 * - Secrets given in `options.secrets` (and their base64 forms) never appear in the output.
 */
import { runUrl as contextRunUrl } from '../common/links.ts';
import { runTitle } from '../common/run.ts';
import { shownParams } from '../common/sensitive.ts';
import { stringify } from 'yaml';
import type { AttemptOutcome, AttemptRecord, RunState, TaskState } from '../dag/types.ts';
import type { DagSpec, SpecIssue, TaskSpec } from '../spec/types.ts';
import type { DryRunChecks, DryRunVerdict, HistoryRun, RunHistory, RunInfo } from './types.ts';
import {
  codeBlock,
  codeSpan,
  escapeHtml,
  escapeMarkdown,
  escapeMermaidLabel,
  makeRedactor,
  redactDeep,
  stripControl,
  urlSegment,
} from './escape.ts';
import {
  SHOWN_STATES,
  STATE_LABEL,
  extraMessage,
  formatClock,
  formatDateTime,
  formatDuration,
  outcomeText,
  shownState,
  taskSpan,
  truncate,
  truncateAtWord,
  type ShownState,
} from './format.ts';
import { groupSiblings, groupTitle, type TaskGroup } from './groups.ts';
import {
  MERMAID_MAX_EDGES,
  MERMAID_MAX_TEXT,
  edgeCount,
  flowchart,
  gantt,
  ganttLegend,
  mermaidBlock,
  type FlowNode,
  type GanttBar,
  type GanttResult,
  type NodeClass,
} from './mermaid.ts';

/** GitHub's limit on one step's summary: 1 MiB. */
export const GITHUB_SUMMARY_LIMIT = 1024 * 1024;

/**
 * The default size budget: GitHub's limit less room for whatever else the step appends and for
 * the runner's own accounting.
 */
export const DEFAULT_MAX_BYTES = GITHUB_SUMMARY_LIMIT - 64 * 1024;

/** Longest log line shown; a longer one is cut (one minified JSON line can be megabytes). */
export const MAX_LOG_LINE = 2000;

/** What happens to the pods of finished tasks (the `keep-pods` input). */
export type KeepPodsPolicy = 'never' | 'on-failure' | 'always';

/** Options of `renderRunSummary`. */
export interface RunSummaryOptions {
  /** The `keep-pods` policy, so a failed task's section says whether its pod is still there. */
  keepPods?: KeepPodsPolicy;
  /** The last runs of this DAG before this one, for the history grid (src/kube/history.ts). */
  history?: RunHistory;
  /** Show at most this many of the last log lines of each failed task. */
  logTailLines: number;
  /** Size budget in bytes (UTF-8); default `DEFAULT_MAX_BYTES`. */
  maxBytes?: number;
  /** Values to redact (with their base64 forms) from everything written. */
  secrets?: readonly string[];
}

/** Options of the plan and dry-run summaries. */
export interface SummaryOptions {
  maxBytes?: number;
  secrets?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Links and headline pieces

/** The spec file's path as a URL path, or `null` when it cannot be linked (absolute, outside). */
function specPath(file: string): string | null {
  const path = file.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (path === '' || path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.split('/').includes('..')) return null;
  return path.split('/').map(urlSegment).join('/');
}

/** The URL of the spec file (at a line) at the commit that ran, when the run is on GitHub. */
export function specUrl(info: RunInfo, line?: number): string | null {
  const { repository, sha, serverUrl } = info.context;
  const path = specPath(info.spec.file);
  if (repository === null || sha === null || path === null) return null;
  const repo = repository.split('/').map(urlSegment).join('/');
  const base = `${serverUrl.replace(/\/+$/, '')}/${repo}/blob/${urlSegment(sha)}/${path}`;
  return line === undefined ? base : `${base}#L${line}`;
}

/** The URL of the workflow run (and its attempt), when the run is on GitHub. */
export function runUrl(info: RunInfo): string | null {
  return contextRunUrl(info.context);
}

/** `[text](url)` with the text escaped, or the escaped text alone without a URL. */
function link(text: string, url: string | null): string {
  return url === null ? escapeMarkdown(text) : `[${escapeMarkdown(text)}](${url})`;
}

/** The "where from" line: the spec at its commit, the workflow run, the namespace. */
function sourceLine(info: RunInfo): string {
  const parts: string[] = [];
  const spec = specUrl(info);
  const short = info.context.sha === null ? '' : ` at ${codeSpan(info.context.sha.slice(0, 7))}`;
  parts.push(`Spec ${spec === null ? codeSpan(info.spec.file) : `[${codeSpan(info.spec.file)}](${spec})`}${short}`);
  const run = runUrl(info);
  if (run !== null) {
    const attempt = info.context.runAttempt > 1 ? `, attempt ${info.context.runAttempt}` : '';
    parts.push(`[workflow run ${escapeMarkdown(info.context.runId ?? '')}${attempt}](${run})`);
  }
  if (info.namespace !== null) parts.push(`namespace ${codeSpan(info.namespace)}`);
  return parts.join(' · ');
}

/** The params, collapsed: they matter when reading a run, but rarely first. A credential's value is `***`. */
function paramsBlock(params: Record<string, string>): string | null {
  const names = Object.keys(params).sort();
  if (names.length === 0) return null;
  const shown = shownParams(params);
  const rows = names.map((n) => `| ${codeSpan(n)} | ${codeSpan(shown[n] ?? '')} |`);
  return ['<details><summary>Params</summary>', '', '| Param | Value |', '|---|---|', ...rows, '', '</details>'].join('\n');
}

/** A chart, or a note saying why it was left out (Mermaid would show an error instead). */
function chartOrNote(chart: string, what: string, edges = 0): string {
  if (chart.length > MERMAID_MAX_TEXT) {
    return `_The ${what} is left out: at ${chart.length.toLocaleString('en-US')} characters it is over Mermaid's limit of ${MERMAID_MAX_TEXT.toLocaleString('en-US')}, so GitHub could not draw it._`;
  }
  if (edges > MERMAID_MAX_EDGES) {
    return `_The ${what} is left out: it has ${edges} edges, over Mermaid's limit of ${MERMAID_MAX_EDGES}, so GitHub could not draw it._`;
  }
  return mermaidBlock(chart);
}

/** The spec of each task by id. */
function specsById(spec: DagSpec): Map<string, TaskSpec> {
  return new Map(spec.tasks.map((t) => [t.id, t]));
}

// ---------------------------------------------------------------------------------------------
// Run summary

const NODE_CLASS: Record<ShownState, NodeClass> = {
  succeeded: 'succeeded',
  retried: 'retried',
  failed: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
  'not-run': 'notrun',
  running: 'running',
};

const RUN_RESULT: Record<string, { emoji: string; text: string }> = {
  success: { emoji: '✅', text: 'succeeded' },
  failure: { emoji: '❌', text: 'failed' },
  cancelled: { emoji: '🚫', text: 'cancelled' },
  unfinished: { emoji: '⏳', text: 'did not finish' },
};

/** The run's end: its own, else the last attempt's. */
function runEnd(state: RunState): number {
  if (state.finishedAt !== null) return state.finishedAt;
  let end = state.startedAt;
  for (const t of state.tasks) for (const a of t.attempts) end = Math.max(end, a.finishedAt ?? a.startedAt);
  return end;
}

/** `2 ✅ succeeded · 1 ❌ failed`, in a fixed order, only the states that occur. */
function countsLine(state: RunState): string {
  const counts = new Map<ShownState, number>();
  for (const t of state.tasks) counts.set(shownState(t), (counts.get(shownState(t)) ?? 0) + 1);
  const parts = SHOWN_STATES.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${STATE_LABEL[s].emoji} ${STATE_LABEL[s].text}`);
  const n = state.tasks.length;
  return `${n} ${n === 1 ? 'task' : 'tasks'}: ${parts.join(' · ')}`;
}

/** Why the run was cancelled, in words. */
function cancelText(info: RunInfo, state: RunState): string | null {
  if (state.cancelled === 'signal') return 'The workflow was cancelled: running pods were deleted and nothing new started.';
  if (state.cancelled === 'timeout') {
    const limit = info.spec.timeoutMs === null ? '' : ` (${formatDuration(info.spec.timeoutMs)})`;
    return `The DAG's timeout${limit} was reached: running pods were deleted; only tasks with \`always()\` or \`cancelled()\` still ran.`;
  }
  return null;
}

/** The label lines of a task's node: result and wall time or attempts. */
function nodeLines(task: TaskState, state: RunState): string[] {
  const shown = shownState(task);
  const label = STATE_LABEL[shown];
  const span = taskSpan(task, state);
  const lines = [`${label.emoji} ${label.text}`];
  const details: string[] = [];
  if (span !== null) details.push(formatDuration(span.end - span.start));
  if (task.attempts.length > 1) details.push(`${task.attempts.length} attempts`);
  if (details.length > 0) lines.push(details.join(' · '));
  if (task.reusedFrom !== null) lines.push(`reused from run attempt ${task.reusedFrom.runAttempt}`);
  return lines;
}

/** Siblings are drawn as one node when there are at least this many. */
export const GROUP_MIN_SIZE = 6;

/** A graph with more nodes than this is grouped harder (by needs alone); see groups.ts. */
const GROUP_MAX_BOXES = 60;

/** Boxes already computed, by spec: a summary too big for its budget is rendered several times. */
const boxCache = new WeakMap<DagSpec, TaskGroup[]>();

/** The boxes of a spec's graph. */
function boxes(spec: DagSpec): TaskGroup[] {
  let b = boxCache.get(spec);
  if (b === undefined) {
    b = groupSiblings(spec.tasks, { minSize: GROUP_MIN_SIZE, maxBoxes: GROUP_MAX_BOXES });
    boxCache.set(spec, b);
  }
  return b;
}

/** The order in which a group's node takes its colour: the first state present wins. */
const GROUP_CLASS_ORDER: readonly ShownState[] = ['failed', 'cancelled', 'running', 'retried', 'succeeded', 'skipped', 'not-run'];

/** `31 ✅ 1 ❌`: how many members are in each shown state, in the legend's order. */
function groupCounts(states: readonly ShownState[]): string {
  const counts = new Map<ShownState, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return SHOWN_STATES.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${STATE_LABEL[s].emoji}`).join(' ');
}

/** The flowchart of a run, coloured by result, siblings grouped. */
function runFlowchart(info: RunInfo, state: RunState): string {
  const byId = new Map(state.tasks.map((t) => [t.id, t]));
  const shownOf = (id: string): ShownState => {
    const t = byId.get(id);
    return t === undefined ? 'not-run' : shownState(t);
  };
  const nodes: FlowNode[] = boxes(info.spec).map((g) => {
    if (g.members.length === 1) {
      const spec = g.members[0]!;
      const task = byId.get(spec.id);
      if (task === undefined) return { title: spec.id, needs: g.needs, cls: 'notrun', lines: [`${STATE_LABEL['not-run'].emoji} not run`] };
      return { title: spec.id, needs: g.needs, cls: NODE_CLASS[shownState(task)], lines: nodeLines(task, state) };
    }
    const states = g.members.map((m) => shownOf(m.id));
    const worst = GROUP_CLASS_ORDER.find((s) => states.includes(s)) ?? 'not-run';
    const lines = [`${g.members.length} tasks: ${groupCounts(states)}`];
    const failed = g.members.filter((m) => shownOf(m.id) === 'failed').map((m) => m.id);
    if (failed.length > 0) {
      const names = failed.slice(0, 3).map((id) => escapeMermaidLabel(id)).join(', ');
      lines.push(`❌ ${names}${failed.length > 3 ? ` +${failed.length - 3}` : ''}`);
    }
    return { title: groupTitle(g), needs: g.needs, cls: NODE_CLASS[worst], lines };
  });
  return chartOrNote(flowchart(nodes), 'graph', edgeCount(nodes));
}

/** The colour of an attempt's bar: how it ended. */
function attemptResult(a: AttemptRecord): GanttResult {
  if (a.outcome === null) return 'running';
  switch (a.outcome.class) {
    case 'succeeded':
      return 'succeeded';
    case 'cancelled':
      return 'cancelled';
    case 'timeout':
    case 'infrastructure':
      return 'lost';
    default:
      return 'failed';
  }
}

/** Gantt results from the worst to the best, for a group's bar. */
const GANTT_ORDER: readonly GanttResult[] = ['failed', 'lost', 'cancelled', 'running', 'succeeded'];

/** Runs with at most this many tasks get a Gantt row per attempt; bigger ones a bar per graph node. */
const GANTT_PER_ATTEMPT_MAX_TASKS = 40;

/** The Gantt of the run, or `null` when nothing ran. */
function runGantt(info: RunInfo, state: RunState): string | null {
  const bars: GanttBar[] = [];
  const end = runEnd(state);
  if (state.tasks.length <= GANTT_PER_ATTEMPT_MAX_TASKS) {
    for (const task of state.tasks) {
      for (const a of task.attempts) {
        const ended = a.outcome === null ? ', running' : a.outcome.class === 'succeeded' ? '' : `, ${outcomeText(a.outcome)}`;
        bars.push({ section: task.id, name: `attempt ${a.attempt}${ended}`, result: attemptResult(a), start: a.startedAt, end: a.finishedAt ?? end });
      }
    }
  } else {
    // One bar per node of the graph, from its first attempt's start to its last one's end,
    // coloured by its worst attempt that counted (a failed attempt later retried to success
    // does not make the bar red; its task's row in the table tells it).
    const byId = new Map(state.tasks.map((t) => [t.id, t]));
    for (const g of boxes(info.spec)) {
      let start = Infinity;
      let stop = -Infinity;
      const results: GanttResult[] = [];
      for (const m of g.members) {
        const t = byId.get(m.id);
        const last = t?.attempts[t.attempts.length - 1];
        if (t === undefined || last === undefined) continue;
        start = Math.min(start, t.attempts[0]!.startedAt);
        stop = Math.max(stop, last.finishedAt ?? end);
        results.push(attemptResult(last));
      }
      if (results.length === 0) continue;
      const result = GANTT_ORDER.find((r) => results.includes(r)) ?? 'succeeded';
      const bad = results.filter((r) => r !== 'succeeded').length;
      const name = g.members.length === 1 ? outcomeName(byId.get(g.members[0]!.id)) : `${results.length} ran${bad > 0 ? `, ${bad} did not succeed` : ''}`;
      bars.push({ section: groupTitle(g), name, result, start, end: stop });
    }
  }
  if (bars.length === 0) return null;
  const chart = chartOrNote(gantt(bars, end - state.startedAt), 'timeline');
  const legend = ganttLegend(bars);
  return chart.startsWith('```') && legend !== null ? `${chart}\n\n${legend}` : chart;
}

/** The bar name of one task in the grouped Gantt. */
function outcomeName(task: TaskState | undefined): string {
  const last = task?.attempts[task.attempts.length - 1];
  if (task === undefined || last === undefined) return 'not run';
  const n = task.attempts.length;
  const how = last.outcome === null ? 'running' : last.outcome.class === 'succeeded' ? 'succeeded' : outcomeText(last.outcome);
  return n > 1 ? `${how}, ${n} attempts` : how;
}

/**
 * A message from the cluster or a task (a failure's message, a server's refusal) in a table cell:
 * a code span, which shows the text exactly as written. Escaped Markdown would show it too, but
 * its entities (`&#95;` for `_`) are not the characters the runner masks in the summary file, so a
 * workflow secret the message quotes would be shown; in a code span it stays as written (but `|`).
 */
function messageSpan(message: string, max = 160): string {
  return codeSpan(truncateAtWord(stripControl(message).replace(/\s+/g, ' '), max));
}

/** The exit code or reason cell of a task: how its last attempt ended, and why when it failed. */
function taskEndCell(task: TaskState): string {
  const last = task.attempts[task.attempts.length - 1];
  if (task.reusedFrom !== null) return `reused from run attempt ${task.reusedFrom.runAttempt}`;
  const o = last?.outcome ?? null;
  if (o !== null && (task.result === 'succeeded' || task.result === 'failed' || task.result === 'cancelled')) {
    const extra = task.result === 'failed' ? extraMessage(o) : null;
    return extra === null ? escapeMarkdown(outcomeText(o)) : `${escapeMarkdown(outcomeText(o))} — ${messageSpan(extra)}`;
  }
  return escapeMarkdown(task.reason ?? (o === null ? '' : outcomeText(o)));
}

/**
 * A pod as YAML lines. Long strings are never folded onto several lines: a value (an env var
 * rendered from a workflow secret) cut by a fold is no longer what the runner masks.
 */
function podYaml(pod: unknown): string[] {
  return stringify(pod, { lineWidth: 0 }).trimEnd().split('\n');
}

/** One row of the task table. */
function taskRow(info: RunInfo, state: RunState, task: TaskState, line: number | undefined): string {
  const shown = STATE_LABEL[shownState(task)];
  const span = taskSpan(task, state);
  const last = task.attempts[task.attempts.length - 1];
  const dash = '—';
  return row([
    link(task.id, line === undefined ? null : specUrl(info, line)),
    `${shown.emoji} ${shown.text}`,
    attemptsCell(task),
    span === null ? dash : formatDuration(span.end - span.start),
    span === null ? dash : formatClock(span.start),
    last?.pod == null ? dash : codeSpan(last.pod),
    last?.outcome?.node == null ? dash : escapeMarkdown(last.outcome.node),
    taskEndCell(task) || dash,
  ]);
}

/** How many attempts; for a sensor, with its pokes; for a matrix task, how many instances instead. */
function attemptsCell(task: TaskState): string {
  if (task.instances !== undefined) return `${task.instances.length} instance${task.instances.length === 1 ? '' : 's'}`;
  return task.pokes === undefined ? String(task.attempts.length) : `${task.attempts.length} (${task.pokes} poke${task.pokes === 1 ? '' : 's'})`;
}

/** The rows of each attempt of a retried task. */
function attemptRows(task: TaskState): string[] {
  const dash = '—';
  return task.attempts.map((a) => {
    const o = a.outcome;
    const cls = o === null ? STATE_LABEL.running : o.class === 'succeeded' ? STATE_LABEL.succeeded : { emoji: '✖️', text: o.class };
    const extra = o === null || o.class === 'succeeded' ? null : extraMessage(o);
    const message = extra === null ? '' : ` — ${messageSpan(extra)}`;
    return row([
      `↳ attempt ${a.attempt}`,
      `${cls.emoji} ${cls.text}`,
      '',
      a.finishedAt === null ? dash : formatDuration(a.finishedAt - a.startedAt),
      formatClock(a.startedAt),
      a.pod === null ? dash : codeSpan(a.pod),
      o?.node == null ? dash : escapeMarkdown(o.node),
      o === null ? dash : `${escapeMarkdown(outcomeText(o))}${message}`,
    ]);
  });
}

/** `| a | b |`. */
function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

const TABLE_HEAD = ['| Task | Result | Attempts | Duration | Started (UTC) | Pod | Node | Exit code or reason |', '|---|---|--:|--:|---|---|---|---|'];

/** Runs with more tasks than this show the tasks that need a look first, the rest folded. */
const TABLE_OPEN_MAX_TASKS = 20;

/**
 * The most rows the task table shows (tasks, instances and attempts; those that need a look
 * first). About 300 bytes each, so the table stays well under GitHub's 1 MiB summary limit.
 */
export const TABLE_MAX_ROWS = 1000;

/**
 * The task table, with a row per attempt under each retried task (unless `compact`). A big run
 * shows the tasks that need a look (failed, retried, cancelled, unfinished) in an open table and
 * folds the plain ones (succeeded at once, skipped, not run) into a second.
 */
function runTable(info: RunInfo, state: RunState, compact: boolean): string {
  const specs = specsById(info.spec);
  // Rows are counted as they are made, and made only while the cap allows: a run of 20,000 tasks
  // builds TABLE_MAX_ROWS rows, not 20,000 to cut afterwards.
  let budget = TABLE_MAX_ROWS;
  const left: ShownState[] = [];
  // A matrix task's row is followed by one row per instance (each with its own attempts).
  const rowsOf = (tasks: TaskState[]): string[] => {
    const out: string[] = [];
    for (const t of tasks) {
      if (budget <= 0) {
        left.push(shownState(t));
        continue;
      }
      for (const x of [t, ...(t.instances ?? [])]) {
        out.push(taskRow(info, state, x, specs.get(x.group ?? x.id)?.pos.line));
        budget--;
        if (!compact && x.attempts.length > 1) {
          const attempts = attemptRows(x);
          out.push(...attempts);
          budget -= attempts.length;
        }
      }
    }
    return out;
  };
  if (state.tasks.length <= TABLE_OPEN_MAX_TASKS) return [...TABLE_HEAD, ...rowsOf(state.tasks)].join('\n');
  const plain = (t: TaskState): boolean => ['succeeded', 'skipped', 'not-run'].includes(shownState(t));
  const look = state.tasks.filter((t) => !plain(t));
  const rest = state.tasks.filter(plain);
  const out: string[] = [];
  if (look.length > 0) out.push([...TABLE_HEAD, ...rowsOf(look)].join('\n'));
  if (rest.length > 0) {
    const rows = rowsOf(rest);
    const what = groupCounts(rest.map(shownState));
    const summary = look.length === 0 ? `All ${rest.length} tasks (${what})` : `The other ${rest.length} tasks (${what})`;
    if (rows.length > 0) out.push(`<details><summary>${escapeHtml(summary)}</summary>`, '', [...TABLE_HEAD, ...rows].join('\n'), '', '</details>');
  }
  if (left.length > 0) {
    out.push(
      `_${left.length.toLocaleString('en-US')} more ${left.length === 1 ? 'task is' : 'tasks are'} not listed (${groupCounts(left)}): the table stops at ${TABLE_MAX_ROWS.toLocaleString('en-US')} rows to keep this summary under GitHub's 1 MiB limit. The \`summary-json\` output has every task._`,
    );
  }
  return out.join('\n\n');
}

/** The last `n` lines of a tail, each cut to `MAX_LOG_LINE` characters. */
function lastLines(lines: readonly string[], n: number): string[] {
  return lines.slice(Math.max(0, lines.length - n)).map((l) => truncateAtWord(stripControl(l), MAX_LOG_LINE));
}

/** Why a failed attempt has no log lines, in words. */
function noLogText(o: AttemptOutcome | null): string {
  if (o !== null && (o.class === 'configuration' || o.reason === 'StartError' || o.reason === 'ContainerCannotRun')) {
    return "_No log lines: the container never started; the cluster's message above says why._";
  }
  if (o !== null && o.class === 'timeout' && o.reason !== 'DeadlineExceeded') return '_No log lines: the pod never left Pending._';
  if (o !== null && o.exitCode !== null) return '_No log lines: the container wrote nothing to stdout or stderr._';
  return '_No log lines: the container may not have started._';
}

/** What a person types to look at a failed attempt's pod in the cluster. */
function kubectlBlock(info: RunInfo, pod: string, o: AttemptOutcome | null, keepPods: KeepPodsPolicy | undefined): string {
  const ns = info.namespace === null ? '' : ` -n ${info.namespace}`;
  const events = `kubectl${ns} get events --field-selector involvedObject.name=${pod}`;
  if (keepPods === 'never' || o?.reason === 'Deleted') {
    const why = keepPods === 'never' ? 'The pod was deleted (`keep-pods: never`); the cluster keeps its events for about an hour:' : 'The pod is gone; the cluster keeps its events for about an hour:';
    return [why, '', codeBlock([events], 'sh')].join('\n');
  }
  const kept = keepPods === undefined ? 'Its pod, if `keep-pods` kept it' : `Its pod, kept by \`keep-pods: ${keepPods}\``;
  return [
    `${kept}: its status and events, its whole log, and the cluster's events about it (delete the pod when you are done):`,
    '',
    codeBlock([`kubectl${ns} describe pod ${pod}`, `kubectl${ns} logs ${pod}`, events], 'sh'),
  ].join('\n');
}

/** One failed task's section: how it ended, the cluster's message, its log tail, kubectl. */
function failedSection(
  info: RunInfo,
  task: TaskState,
  tail: readonly string[] | undefined,
  cap: number,
  logTailLines: number,
  keepPods: KeepPodsPolicy | undefined,
): string {
  const last = task.attempts[task.attempts.length - 1];
  const o = last?.outcome ?? null;
  const line = specsById(info.spec).get(task.id)?.pos.line;
  const attempts = `${task.attempts.length} ${task.attempts.length === 1 ? 'attempt' : 'attempts'}`;
  const how = o === null ? escapeMarkdown(task.reason ?? 'failed') : escapeMarkdown(outcomeText(o));
  const out: string[] = [`#### ❌ ${link(task.id, line === undefined ? null : specUrl(info, line))}: ${how}, after ${attempts}`, ''];
  const where: string[] = [];
  if (last?.pod != null) where.push(`Pod ${codeSpan(last.pod)}`);
  if (o?.node != null) where.push(`node ${codeSpan(o.node)}`);
  if (where.length > 0) out.push(`${where.join(' on ')}.`);
  const message = o === null ? null : extraMessage(o);
  if (message !== null) {
    out.push('');
    // As written (a code block): see messageSpan.
    out.push(codeBlock(message.split(/\r\n|\r|\n/)));
  }
  const lines = lastLines(tail ?? [], Math.min(cap, logTailLines));
  out.push('');
  if (lines.length === 0) {
    out.push((tail ?? []).length === 0 ? noLogText(o) : `_Log lines left out to keep the summary under GitHub's size limit._`);
  } else {
    const shown = Math.min(tail?.length ?? 0, logTailLines);
    const cut = lines.length < shown ? ` (of the last ${shown}; trimmed for size)` : '';
    const which = last === undefined ? '' : ` of attempt ${last.attempt}`;
    out.push(`Last ${lines.length} log ${lines.length === 1 ? 'line' : 'lines'}${which}${cut}:`, '', codeBlock(lines));
  }
  if (last?.pod != null) out.push('', kubectlBlock(info, last.pod, o, keepPods));
  return out.join('\n');
}

/** At most this many failed tasks get a section of their own; the rest are named in one line. */
export const MAX_FAILED_SECTIONS = 10;

/** Failed tasks, most useful first: configuration (the user's to fix), failed, timeout, infrastructure; then spec order. */
function failedFirst(state: RunState): TaskState[] {
  const rank: Record<string, number> = { configuration: 0, failed: 1, timeout: 2, infrastructure: 3, cancelled: 4 };
  const order = new Map(state.tasks.map((t, i) => [t.id, i]));
  const cls = (t: TaskState): number => rank[t.attempts[t.attempts.length - 1]?.outcome?.class ?? 'failed'] ?? 1;
  return state.tasks
    .filter((t) => t.result === 'failed')
    .sort((a, b) => cls(a) - cls(b) || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

/**
 * The summary of a run: headline, then what failed (reason, log tail, how to look at the pod),
 * then the graph, the table, the timeline.
 *
 * `logTails` maps a task id to the last lines of its (last attempt's) log, oldest first.
 */
export function renderRunSummary(
  info: RunInfo,
  state: RunState,
  logTails: Record<string, string[]>,
  options: RunSummaryOptions,
): string {
  const redact = makeRedactor(options.secrets ?? []);
  const safeInfo = redactDeep(info, redact);
  const safeState = redactDeep(state, redact);
  const safeTails = redactDeep(logTails, redact);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const logTailLines = Math.max(0, options.logTailLines);

  // The graph, the table, the timeline and the grid do not depend on how many log lines fit:
  // built once however many times the summary is rendered to find that.
  const parts = new Map<string, string | null>();
  const render = (cap: number, trimmed: boolean, compact: boolean): string =>
    redact(buildRunSummary(safeInfo, safeState, safeTails, { logTailLines, cap, trimmed, compact, keepPods: options.keepPods, history: options.history, parts }));

  const full = render(logTailLines, false, false);
  if (byteLength(full) <= maxBytes) return full;
  // Too big. Without any log line? Then trimming logs cannot help.
  const bare = render(0, true, false);
  if (byteLength(bare) > maxBytes) return cutToBytes(render(0, true, true), maxBytes);
  // Find the largest number of lines per task that fits (oldest lines go first).
  let lo = 0;
  let hi = logTailLines;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (byteLength(render(mid, true, false)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? bare : render(lo, true, false);
}

interface BuildOptions {
  logTailLines: number;
  /** Log lines per failed task actually shown. */
  cap: number;
  trimmed: boolean;
  /** Leave out the charts and the per-attempt rows. */
  compact: boolean;
  keepPods: KeepPodsPolicy | undefined;
  history: RunHistory | undefined;
  /** The parts already built, by name (a render of the same run with another `cap` reuses them). */
  parts: Map<string, string | null>;
}

/** `parts`' entry `key`, built by `build` the first time. */
function part(parts: Map<string, string | null>, key: string, build: () => string | null): string | null {
  if (!parts.has(key)) parts.set(key, build());
  return parts.get(key)!;
}

function buildRunSummary(info: RunInfo, state: RunState, tails: Record<string, string[]>, o: BuildOptions): string {
  const result = RUN_RESULT[state.result ?? 'unfinished'] ?? { emoji: '⏳', text: 'unfinished' };
  const out: string[] = [];
  out.push(`## ${result.emoji} ${escapeMarkdown(runTitle(state.dag, info.context))} ${result.text}`, '');
  out.push(
    `**${capitalize(result.text)}** in **${formatDuration(runEnd(state) - state.startedAt)}** · mode ${codeSpan(info.mode)} · started ${formatDateTime(state.startedAt)}`,
    '',
    countsLine(state),
    '',
    sourceLine(info),
  );
  const cancelled = cancelText(info, state);
  if (cancelled !== null) out.push('', `> 🚫 ${cancelled}`);
  if (o.trimmed) {
    out.push(
      '',
      o.cap > 0
        ? `> ✂️ Log tails were trimmed to the last ${o.cap} ${o.cap === 1 ? 'line' : 'lines'} per task to keep this summary under GitHub's 1 MiB limit. The full logs are in the step's log.`
        : `> ✂️ Log tails were left out to keep this summary under GitHub's 1 MiB limit. The full logs are in the step's log.`,
    );
  }
  // The reader's first question, answered before any chart: what failed, why, and its log.
  const failed = failedFirst(state);
  if (failed.length > 0) {
    out.push('', `### ${failed.length === 1 ? 'Failed task' : `Failed tasks (${failed.length})`}`);
    for (const t of failed.slice(0, MAX_FAILED_SECTIONS)) out.push('', failedSection(info, t, tails[t.id], o.cap, o.logTailLines, o.keepPods));
    const more = failed.slice(MAX_FAILED_SECTIONS);
    if (more.length > 0) {
      const names = more.slice(0, 50).map((t) => escapeMarkdown(t.id)).join(', ');
      out.push('', `_And ${more.length} more failed ${more.length === 1 ? 'task' : 'tasks'}, in the table below: ${names}${more.length > 50 ? ', …' : ''}._`);
    }
  }
  if (o.compact) {
    out.push('', "> ✂️ The graph, the timeline and the rows of each attempt are left out to keep this summary under GitHub's 1 MiB limit.");
  } else {
    out.push('', '### Graph', '', part(o.parts, 'graph', () => runFlowchart(info, state))!);
  }
  out.push('', '### Tasks', '', part(o.parts, o.compact ? 'table-compact' : 'table', () => runTable(info, state, o.compact))!);
  if (!o.compact) {
    const timeline = part(o.parts, 'timeline', () => runGantt(info, state));
    if (timeline !== null) out.push('', '### Timeline', '', timeline);
  }
  if (!o.compact && o.history !== undefined) {
    const history = o.history;
    const grid = part(o.parts, 'grid', () => historyGrid(info, state, history));
    if (grid !== null) out.push('', '### Last runs', '', grid);
  }
  const params = paramsBlock(info.params);
  if (params !== null) out.push('', params);
  return `${out.join('\n')}\n`;
}

/** The emoji of a task's result in the history grid. */
const HISTORY_EMOJI: Record<string, string> = {
  succeeded: '✅',
  failed: '❌',
  skipped: '⏭️',
  cancelled: '🚫',
  'not-run': '⚪',
};

/** Runs with more tasks than this show only the rows of tasks that did not always succeed. */
const HISTORY_ALL_ROWS_MAX_TASKS = 40;

/** The most rows of the history grid (a column per run: rows cost more than the table's). */
const HISTORY_MAX_ROWS = 200;

/** A history cell: the result's emoji and the duration, or `·` when the task did not run. */
function historyCell(result: string | null | undefined, durationMs: number | null | undefined): string {
  if (result === undefined) return '·';
  const emoji = result === null ? '⏳' : (HISTORY_EMOJI[result] ?? '❔');
  return durationMs === null || durationMs === undefined ? emoji : `${emoji} ${formatDuration(durationMs)}`;
}

/**
 * The grid of the last runs, as Airflow's: a row per task, a column per run (oldest left, this run
 * right), each cell the task's result and duration, each column linking to its run. A task that
 * fails now after succeeding before stands out in bold, with how long it has been failing.
 */
function historyGrid(info: RunInfo, state: RunState, history: RunHistory): string | null {
  // Why, as written (it may quote the server's error): escaped Markdown would not be the
  // characters the runner masks in the summary, as for every message from the cluster.
  if (history.unavailable !== null) return `_The history of earlier runs is left out:_ ${codeSpan(history.unavailable)}`;
  if (history.runs.length === 0) return null;
  const runLink = (r: HistoryRun): string => {
    const label = `${new Date(r.startedAt).toISOString().slice(5, 16).replace('T', ' ')}`;
    const emoji = r.result === null ? '⏳' : (RUN_RESULT[r.result]?.emoji ?? '❔');
    const url = runUrl({ ...info, context: { ...info.context, runId: r.runId, runAttempt: r.runAttempt } });
    return `${emoji} ${link(label, url)}`;
  };
  const byId = new Map(state.tasks.map((t) => [t.id, t]));
  const current = (id: string): { result: string | null | undefined; durationMs: number | null } => {
    const t = byId.get(id);
    if (t === undefined) return { result: undefined, durationMs: null };
    const span = taskSpan(t, state);
    return { result: t.reusedFrom !== null ? 'succeeded' : t.result, durationMs: span === null ? null : span.end - span.start };
  };
  const header = `| Task | ${history.runs.map(runLink).join(' | ')} | **this run** |`;
  const align = `|---|${history.runs.map(() => ':-:').join('|')}|:-:|`;
  const rows: string[] = [];
  let hidden = 0;
  let beyond = 0;
  for (const t of info.spec.tasks) {
    // A large run's digest lists only what did not succeed: a task it leaves out succeeded.
    const past = history.runs.map((r) => r.tasks[t.id] ?? (r.othersSucceeded ? { result: 'succeeded', durationMs: null, runAttempt: r.runAttempt } : undefined));
    const now = current(t.id);
    const results = [...past.map((c) => c?.result), now.result];
    if (info.spec.tasks.length > HISTORY_ALL_ROWS_MAX_TASKS && results.every((r) => r === 'succeeded' || r === undefined)) {
      hidden++;
      continue;
    }
    // Failing since when: the failures at the end of the row, after a success.
    let streak = 0;
    for (let i = results.length - 1; i >= 0 && results[i] === 'failed'; i--) streak++;
    const before = results[results.length - 1 - streak];
    const newly = streak > 0 && before === 'succeeded';
    const name = link(t.id, specUrl(info, t.pos.line));
    const label = newly ? `**${name}** ❗ failing ${streak === 1 ? 'since this run' : `for ${streak} runs`}` : name;
    if (rows.length >= HISTORY_MAX_ROWS) {
      beyond++;
      continue;
    }
    const cells = [...past.map((c) => historyCell(c === undefined ? undefined : c.result, c?.durationMs)), historyCell(now.result, now.durationMs)];
    rows.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  const out = [`The last ${history.runs.length} ${history.runs.length === 1 ? 'run' : 'runs'} of this DAG before this one, from the states kept in the cluster (\`retention\`); · did not run.`, '', header, align, ...rows];
  if (beyond > 0) out.push('', `_${beyond} more ${beyond === 1 ? 'task' : 'tasks'} that did not always succeed ${beyond === 1 ? 'is' : 'are'} left out: the grid stops at ${HISTORY_MAX_ROWS} rows._`);
  if (hidden > 0) out.push('', `_${hidden} ${hidden === 1 ? 'task' : 'tasks'} succeeded in every run shown and ${hidden === 1 ? 'is' : 'are'} left out._`);
  return out.join('\n');
}

/** `failed` → `Failed`. */
function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** UTF-8 size of a string. */
function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Cuts a summary at the last line boundary that fits, and says it was cut. */
function cutToBytes(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  const note = "\n\n_The summary was cut here to stay under GitHub's 1 MiB limit; the full report is in the `summary-json` output._\n";
  const budget = maxBytes - byteLength(note);
  let cut = Buffer.from(text, 'utf8').subarray(0, Math.max(0, budget)).toString('utf8');
  // A partial multi-byte character decodes to U+FFFD; a partial line may be broken markup.
  cut = cut.replace(/\uFFFD$/, '');
  const nl = cut.lastIndexOf('\n');
  if (nl >= 0) cut = cut.slice(0, nl);
  return `${cut}${note}`;
}

// ---------------------------------------------------------------------------------------------
// Plan and dry-run summaries

/** A command line for reading (not for a shell: values are never passed through one). */
export function commandLine(command: readonly string[] | null, args: readonly string[] | null): string {
  const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = [...(command ?? []), ...(args ?? [])].map(quote);
  if (command === null) parts.unshift('(image entrypoint)');
  return parts.join(' ');
}

/** The task table of a plan: needs, condition, image, command. */
function planTable(info: RunInfo): string {
  const rows = ['| Task | Needs | If | Image | Command |', '|---|---|---|---|---|'];
  for (const t of info.spec.tasks) {
    rows.push(
      `| ${link(t.id, specUrl(info, t.pos.line))} | ${t.needs.length === 0 ? '—' : t.needs.map(escapeMarkdown).join(', ')} | ${t.if === null ? '—' : codeSpan(t.if.source)} | ${codeSpan(t.image)} | ${codeSpan(commandLine(t.command, t.args))} |`,
    );
  }
  return rows.join('\n');
}

/**
 * A flowchart of the spec where each node is classed by `cls` (a group by the first class of
 * `order` among its members), with an optional extra line per task.
 */
function specFlowchart(
  spec: DagSpec,
  node: (t: TaskSpec) => { cls: NodeClass; lines: string[]; mark?: string },
  order: readonly NodeClass[],
): string {
  const nodes: FlowNode[] = boxes(spec).map((g) => {
    if (g.members.length === 1) return { title: g.members[0]!.id, needs: g.needs, ...node(g.members[0]!) };
    const each = g.members.map(node);
    const marks = new Map<string, number>();
    for (const e of each) if (e.mark !== undefined) marks.set(e.mark, (marks.get(e.mark) ?? 0) + 1);
    const counts = [...marks].map(([m, n]) => `${n} ${m}`).join(' ');
    const cls = order.find((c) => each.some((e) => e.cls === c)) ?? each[0]!.cls;
    return { title: groupTitle(g), needs: g.needs, cls, lines: [`${g.members.length} tasks${counts === '' ? '' : `: ${counts}`}`] };
  });
  return chartOrNote(flowchart(nodes), 'graph', edgeCount(nodes));
}

/** The summary of `plan`: the graph, the tasks, and each rendered pod. */
export function renderPlanSummary(info: RunInfo, pods: Record<string, object>, options: SummaryOptions = {}): string {
  const redact = makeRedactor(options.secrets ?? []);
  const safeInfo = redactDeep(info, redact);
  const safePods = redactDeep(pods, redact);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const render = (withPods: boolean): string => redact(buildPlanSummary(safeInfo, safePods, withPods));
  const full = render(true);
  if (byteLength(full) <= maxBytes) return full;
  const lean = render(false);
  return byteLength(lean) <= maxBytes ? lean : cutToBytes(lean, maxBytes);
}

function buildPlanSummary(info: RunInfo, pods: Record<string, object>, withPods: boolean): string {
  const n = info.spec.tasks.length;
  const out: string[] = [
    `## 📋 ${escapeMarkdown(runTitle(info.spec.name, info.context))} plan`,
    '',
    `**Plan** of ${n} ${n === 1 ? 'task' : 'tasks'} · mode ${codeSpan(info.mode)} · nothing was run and no cluster was contacted`,
    '',
    sourceLine(info),
    '',
    '### Graph',
    '',
    specFlowchart(
      info.spec,
      (t) => ({ cls: 'planned', lines: t.if === null ? [] : [`if ${escapeMermaidLabel(truncate(t.if.source, 60))}`] }),
      ['planned'],
    ),
    '',
    '### Tasks',
    '',
    planTable(info),
  ];
  const rendered = info.spec.tasks.filter((t) => pods[t.id] !== undefined);
  if (rendered.length > 0) {
    out.push('', '### Pods', '');
    if (!withPods) {
      out.push("_The rendered pods are left out to keep this summary under GitHub's 1 MiB limit._");
    } else {
      for (const t of rendered) {
        out.push(`<details><summary>Pod of ${escapeHtml(t.id)}</summary>`, '', codeBlock(podYaml(pods[t.id]), 'yaml'), '', '</details>', '');
      }
      out.pop();
    }
  }
  const params = paramsBlock(info.params);
  if (params !== null) out.push('', params);
  return `${out.join('\n')}\n`;
}

/** What no dry run can know, however much the credentials allow (README, "Modes"). */
export const DRY_RUN_CANNOT_KNOW =
  'whether each image exists and can be pulled, whether its command exists in the image, what the task does when it runs, ' +
  'and whether quotas and free capacity at run time leave room for it';

/** The summary of `dry-run`: the graph coloured by the cluster's verdict, and its messages. */
export function renderDryRunSummary(info: RunInfo, verdicts: DryRunVerdict[], options: SummaryOptions & { checks?: DryRunChecks } = {}): string {
  const redact = makeRedactor(options.secrets ?? []);
  const safeInfo = redactDeep(info, redact);
  const safeVerdicts = redactDeep(verdicts, redact);
  const text = redact(buildDryRunSummary(safeInfo, safeVerdicts, options.checks === undefined ? undefined : redactDeep(options.checks, redact)));
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return byteLength(text) <= maxBytes ? text : cutToBytes(text, maxBytes);
}

function buildDryRunSummary(info: RunInfo, verdicts: DryRunVerdict[], checks: DryRunChecks | undefined): string {
  const byTask = new Map(verdicts.map((v) => [v.task, v]));
  const problemsOf = (v: DryRunVerdict): string[] => v.problems ?? [];
  const refused = verdicts.filter((v) => !v.accepted);
  const stuck = verdicts.filter((v) => v.accepted && problemsOf(v).length > 0);
  const missing = info.spec.tasks.filter((t) => !byTask.has(t.id));
  const skipped = checks?.skipped ?? [];
  const n = info.spec.tasks.length;
  const ok = refused.length === 0 && stuck.length === 0 && missing.length === 0;
  const pods = (k: number): string => `${k} of ${n} ${n === 1 ? 'pod' : 'pods'}`;
  const bad: string[] = [];
  if (refused.length > 0) bad.push(`${pods(refused.length)} refused`);
  if (stuck.length > 0) bad.push(`${pods(stuck.length)} would not run`);
  const skippedText = `${skipped.length} ${skipped.length === 1 ? 'check' : 'checks'} skipped`;
  const title = escapeMarkdown(runTitle(info.spec.name, info.context));
  const headline = !ok
    ? `## ❌ ${title} dry run: ${bad.length > 0 ? bad.join(', ') : `${missing.length} not checked`}`
    : skipped.length > 0
      ? `## ⚠️ ${title} dry run: every pod accepted, ${skippedText}`
      : `## ✅ ${title} dry run: every pod accepted`;
  const counts = [`${verdicts.length - refused.length - stuck.length} ✅ accepted`];
  if (refused.length > 0) counts.push(`${refused.length} ❌ refused`);
  if (stuck.length > 0) counts.push(`${stuck.length} ❌ would not run`);
  if (missing.length > 0) counts.push(`${missing.length} ⚪ not checked`);
  const out: string[] = [
    headline,
    '',
    `**Dry run** of ${n} ${n === 1 ? 'task' : 'tasks'} · mode ${codeSpan(info.mode)} · every pod was submitted with server-side dry run (\`dryRun=All\`); nothing ran`,
    '',
    `${n} ${n === 1 ? 'task' : 'tasks'}: ${counts.join(' · ')}`,
    '',
    sourceLine(info),
  ];
  if (checks !== undefined) {
    out.push('', "### Beyond the server's dry run", '');
    for (const d of checks.done) out.push(`- ✅ Checked: ${escapeMarkdown(d)}.`);
    for (const s of skipped) out.push(`- ⏭️ **Skipped**: ${escapeMarkdown(s.check)}: ${escapeMarkdown(s.why)}.`);
    out.push(`- No dry run can know ${escapeMarkdown(DRY_RUN_CANNOT_KNOW)}.`);
  }
  out.push(
    '',
    '### Graph',
    '',
    specFlowchart(
      info.spec,
      (t) => {
        const v = byTask.get(t.id);
        if (v === undefined) return { cls: 'notrun', lines: ['⚪ not checked'], mark: '⚪' };
        if (!v.accepted) return { cls: 'refused', lines: ['❌ refused'], mark: '❌' };
        if (problemsOf(v).length > 0) return { cls: 'refused', lines: ['❌ would not run'], mark: '❌' };
        return { cls: 'accepted', lines: ['✅ accepted'], mark: '✅' };
      },
      ['refused', 'notrun', 'accepted'],
    ),
    '',
    '### Verdicts',
    '',
    '| Task | Pod | Verdict | Why |',
    '|---|---|---|---|',
  );
  for (const t of info.spec.tasks) {
    const v = byTask.get(t.id);
    const task = link(t.id, specUrl(info, t.pos.line));
    if (v === undefined) {
      out.push(`| ${task} | — | ⚪ not checked | — |`);
      continue;
    }
    // The server's message as written (messageSpan); the problems are the action's own words.
    const why = [...(v.message === null || v.message === '' ? [] : [messageSpan(v.message, Infinity)]), ...problemsOf(v).map(escapeMarkdown)];
    const verdict = !v.accepted ? '❌ refused' : problemsOf(v).length > 0 ? '❌ would not run' : '✅ accepted';
    out.push(`| ${task} | ${codeSpan(v.pod)} | ${verdict} | ${why.length === 0 ? '—' : why.join('<br/>')} |`);
  }
  const params = paramsBlock(info.params);
  if (params !== null) out.push('', params);
  return `${out.join('\n')}\n`;
}

/**
 * The summary of a spec that did not validate: every problem, as `FILE:LINE:COL: message` lines
 * in a code block (nothing in them can format or link). When they do not all fit under the size
 * budget, it shows as many as fit and says how many more the step's log lists.
 */
export function renderSpecIssuesSummary(file: string, issues: readonly SpecIssue[], options: SummaryOptions = {}): string {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const n = issues.length;
  const head = `## ❌ Invalid DAG spec ${codeSpan(file)}\n\n${n} ${n === 1 ? 'problem' : 'problems'}; nothing was run.\n\n`;
  const lines = issues.map((i) => truncate(`${i.file}:${i.line}:${i.col}: ${i.message}`, MAX_LOG_LINE));
  const render = (shown: number): string => {
    const rest = n - shown;
    const tail = rest > 0 ? `\n\n_${rest} more ${rest === 1 ? 'problem is' : 'problems are'} listed in the step's log; this summary stays under GitHub's 1 MiB limit._` : '';
    return `${head}${codeBlock(lines.slice(0, shown))}${tail}\n`;
  };
  let shown = n;
  let text = render(shown);
  // Halve until it fits, then it fits: the problems are in file order, the first ones are kept.
  while (byteLength(text) > maxBytes && shown > 0) {
    shown = Math.floor(shown / 2);
    text = render(shown);
  }
  return text;
}
