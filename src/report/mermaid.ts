/**
 * Mermaid charts for the job summary: the DAG as a flowchart coloured by result, and a Gantt of
 * every attempt. GitHub renders ```mermaid blocks in job summaries.
 *
 * Invariants that keep every chart parseable whatever the task ids, reasons or messages are:
 * node ids are generated (`t0`, `t1`… in spec order), never taken from a task id; every label is
 * quoted and passed through `escapeMermaidLabel`; Gantt names (which cannot be quoted) go through
 * `mermaidGanttName`. The tests parse every chart with the real Mermaid parser.
 */
import type { TaskSpec } from '../spec/types.ts';
import { escapeMermaidLabel, mermaidGanttName } from './escape.ts';

/**
 * Mermaid refuses diagrams whose source is longer than this (its default `maxTextSize`, which
 * GitHub keeps) and shows an error instead; a larger chart is left out with a note.
 */
export const MERMAID_MAX_TEXT = 50_000;

/** Mermaid's default limit on the edges of a flowchart (`maxEdges`). */
export const MERMAID_MAX_EDGES = 500;

/** A node's style class in the flowchart. */
export type NodeClass =
  | 'succeeded'
  | 'retried'
  | 'failed'
  | 'cancelled'
  | 'skipped'
  | 'notrun'
  | 'running'
  | 'planned'
  | 'accepted'
  | 'refused';

/**
 * Colours of each class: GitHub's Primer palette (fill, border, text), readable in both the
 * light and the dark theme because every class sets its own text colour.
 */
const CLASS_DEFS: Record<NodeClass, string> = {
  succeeded: 'fill:#dafbe1,stroke:#1a7f37,color:#0f5323,stroke-width:2px',
  retried: 'fill:#fff8c5,stroke:#9a6700,color:#633c01,stroke-width:2px',
  failed: 'fill:#ffebe9,stroke:#cf222e,color:#82071e,stroke-width:3px',
  cancelled: 'fill:#fff1e5,stroke:#bc4c00,color:#762c00,stroke-width:2px',
  skipped: 'fill:#f6f8fa,stroke:#8c959f,color:#57606a,stroke-dasharray:5 3',
  notrun: 'fill:#ffffff,stroke:#d0d7de,color:#57606a,stroke-dasharray:2 2',
  running: 'fill:#ddf4ff,stroke:#0969da,color:#0a3069',
  planned: 'fill:#ddf4ff,stroke:#0969da,color:#0a3069',
  accepted: 'fill:#dafbe1,stroke:#1a7f37,color:#0f5323,stroke-width:2px',
  refused: 'fill:#ffebe9,stroke:#cf222e,color:#82071e,stroke-width:3px',
};

/** One node of the flowchart. */
export interface FlowNode {
  task: TaskSpec;
  cls: NodeClass;
  /** Label lines written by us (already safe), shown under the task id. */
  lines: string[];
}

/** A flowchart of the DAG: a node per task, an edge per `needs`, a class per node. */
export function flowchart(nodes: FlowNode[]): string {
  const ids = new Map<string, string>();
  nodes.forEach((n, i) => ids.set(n.task.id, `t${i}`));
  // Left to right reads best for short pipelines; a long chain drawn that way is scaled down to
  // the page's width until its labels are unreadable, so deep graphs go top to bottom.
  const out = [`flowchart ${depth(nodes) > MAX_LR_DEPTH ? 'TD' : 'LR'}`];
  for (const n of nodes) {
    const label = [escapeMermaidLabel(n.task.id), ...n.lines].join('<br/>');
    out.push(`  ${ids.get(n.task.id)}["${label}"]`);
  }
  for (const n of nodes) {
    for (const need of n.task.needs) {
      const from = ids.get(need);
      if (from !== undefined) out.push(`  ${from} --> ${ids.get(n.task.id)}`);
    }
  }
  const used = new Map<NodeClass, string[]>();
  for (const n of nodes) {
    const members = used.get(n.cls) ?? [];
    members.push(ids.get(n.task.id) ?? '');
    used.set(n.cls, members);
  }
  for (const [cls, members] of used) {
    out.push(`  classDef ${cls} ${CLASS_DEFS[cls]}`);
    out.push(`  class ${members.join(',')} ${cls}`);
  }
  return out.join('\n');
}

/** Graphs with more levels than this are drawn top to bottom. */
const MAX_LR_DEPTH = 6;

/** The number of levels of the graph (the longest chain of needs, counted in tasks). */
function depth(nodes: FlowNode[]): number {
  // Kahn's algorithm, carrying each task's level; tasks in a cycle (never in a validated spec)
  // are simply not counted.
  const ids = new Set(nodes.map((n) => n.task.id));
  const waiting = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const n of nodes) {
    const needs = n.task.needs.filter((x) => ids.has(x));
    waiting.set(n.task.id, needs.length);
    for (const x of needs) {
      const list = dependants.get(x) ?? [];
      list.push(n.task.id);
      dependants.set(x, list);
    }
  }
  const level = new Map<string, number>();
  const ready = nodes.filter((n) => waiting.get(n.task.id) === 0).map((n) => n.task.id);
  for (const id of ready) level.set(id, 1);
  let deepest = 0;
  while (ready.length > 0) {
    const id = ready.pop()!;
    const l = level.get(id) ?? 1;
    deepest = Math.max(deepest, l);
    for (const d of dependants.get(id) ?? []) {
      level.set(d, Math.max(level.get(d) ?? 0, l + 1));
      const left = (waiting.get(d) ?? 1) - 1;
      waiting.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  return deepest;
}

/** The number of edges `flowchart` draws. */
export function edgeCount(tasks: TaskSpec[]): number {
  const ids = new Set(tasks.map((t) => t.id));
  return tasks.reduce((n, t) => n + t.needs.filter((x) => ids.has(x)).length, 0);
}

/** One bar of the Gantt chart. */
export interface GanttBar {
  section: string;
  name: string;
  /** Mermaid's task tags: `done` (grey), `active` (light), `crit` (red), none (the theme's colour). */
  tag: 'done' | 'active' | 'crit' | null;
  start: number;
  end: number;
}

/**
 * A Gantt chart of attempts on absolute time (`dateFormat x`: epoch milliseconds), one section
 * per task. The axis shows clock time (the reader's browser time zone); seconds are shown when
 * the run is shorter than two hours.
 */
export function gantt(bars: GanttBar[], spanMs: number): string {
  // Section names are drawn in the left margin, which is 75px by default: a longer task id would
  // run into the bars. Widen it to fit the longest name (about 7px a character at 11px).
  const longest = Math.max(0, ...bars.map((b) => mermaidGanttName(b.section).length));
  const padding = Math.min(320, Math.max(75, longest * 7 + 16));
  const out = [
    `%%{init: {"gantt": {"leftPadding": ${padding}}}}%%`,
    'gantt',
    '  dateFormat x',
    `  axisFormat ${spanMs < 2 * 3_600_000 ? '%H:%M:%S' : '%H:%M'}`,
    '  todayMarker off',
  ];
  let section: string | null = null;
  bars.forEach((bar, i) => {
    if (bar.section !== section) {
      section = bar.section;
      out.push(`  section ${mermaidGanttName(bar.section)}`);
    }
    // A bar needs a positive length to be drawn at all.
    const end = Math.max(bar.end, bar.start + 1);
    const tag = bar.tag === null ? '' : `${bar.tag}, `;
    out.push(`    ${mermaidGanttName(bar.name)} :${tag}b${i}, ${bar.start}, ${end}`);
  });
  return out.join('\n');
}

/** A chart as a fenced ```mermaid block. */
export function mermaidBlock(chart: string): string {
  return ['```mermaid', chart, '```'].join('\n');
}
