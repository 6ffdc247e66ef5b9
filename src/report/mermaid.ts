/**
 * Mermaid charts for the job summary: the DAG as a flowchart coloured by result, and a Gantt of
 * every attempt. GitHub renders ```mermaid blocks in job summaries.
 *
 * Invariants that keep every chart parseable whatever the task ids, reasons or messages are:
 * node ids are generated (`t0`, `t1`… in spec order), never taken from a task id; every label is
 * quoted and passed through `escapeMermaidLabel`; Gantt names (which cannot be quoted) go through
 * `mermaidGanttName`. The tests parse every chart with the real Mermaid parser.
 */
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

/** One node of the flowchart: a task, or a group of sibling tasks drawn as one. */
export interface FlowNode {
  /** The first line of the label: a task id, or `first … last` of a group (escaped here). */
  title: string;
  /** Indexes of the nodes this one needs (an edge from each). */
  needs: number[];
  cls: NodeClass;
  /** Label lines written by us (already safe), shown under the title. */
  lines: string[];
}

/**
 * A flowchart of the DAG: a node per task (or group), an edge per need, a class per node. Node
 * ids are `t0`, `t1`… by position, never a task id.
 */
export function flowchart(nodes: FlowNode[]): string {
  // Left to right reads best for short pipelines; a long chain drawn that way is scaled down to
  // the page's width until its labels are unreadable, so deep graphs go top to bottom.
  const out = [`flowchart ${depth(nodes) > MAX_LR_DEPTH ? 'TD' : 'LR'}`];
  nodes.forEach((n, i) => {
    const label = [escapeMermaidLabel(n.title), ...n.lines].join('<br/>');
    out.push(`  t${i}["${label}"]`);
  });
  nodes.forEach((n, i) => {
    for (const from of n.needs) if (from >= 0 && from < nodes.length && from !== i) out.push(`  t${from} --> t${i}`);
  });
  const used = new Map<NodeClass, string[]>();
  nodes.forEach((n, i) => {
    const members = used.get(n.cls) ?? [];
    members.push(`t${i}`);
    used.set(n.cls, members);
  });
  for (const [cls, members] of used) {
    out.push(`  classDef ${cls} ${CLASS_DEFS[cls]}`);
    out.push(`  class ${members.join(',')} ${cls}`);
  }
  return out.join('\n');
}

/** Graphs with more levels than this are drawn top to bottom. */
const MAX_LR_DEPTH = 6;

/** The number of levels of the graph (the longest chain of needs, counted in nodes). */
function depth(nodes: FlowNode[]): number {
  // Kahn's algorithm, carrying each node's level; nodes in a cycle (never in a validated spec)
  // are simply not counted.
  const waiting = nodes.map((n) => n.needs.length);
  const dependants: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => n.needs.forEach((x) => dependants[x]?.push(i)));
  const level = nodes.map(() => 1);
  const ready = nodes.map((_, i) => i).filter((i) => waiting[i] === 0);
  let deepest = 0;
  while (ready.length > 0) {
    const i = ready.pop()!;
    deepest = Math.max(deepest, level[i]!);
    for (const d of dependants[i] ?? []) {
      level[d] = Math.max(level[d]!, level[i]! + 1);
      waiting[d] = waiting[d]! - 1;
      if (waiting[d] === 0) ready.push(d);
    }
  }
  return deepest;
}

/** The number of edges `flowchart` draws. */
export function edgeCount(nodes: FlowNode[]): number {
  return nodes.reduce((n, node) => n + node.needs.length, 0);
}

/** One bar of the Gantt chart. */
export interface GanttBar {
  section: string;
  name: string;
  /** What the bar's colour says; see `GANTT_CSS`. */
  result: GanttResult;
  start: number;
  end: number;
}

/** The colour of a Gantt bar: what happened to the attempt (or group) it stands for. */
export type GanttResult = 'succeeded' | 'failed' | 'lost' | 'cancelled' | 'running';

/**
 * Mermaid's Gantt has four looks per bar, chosen by its tags: none, `crit`, `done, crit`, `done`
 * and `active`. Each result gets one, and `themeCSS` gives each a colour that says it (green,
 * red, orange, grey, blue). Where the CSS is not applied the tags still tell failures (red) from
 * the rest.
 */
const GANTT_TAGS: Record<GanttResult, string> = {
  succeeded: '',
  failed: 'crit, ',
  lost: 'done, crit, ',
  cancelled: 'done, ',
  running: 'active, ',
};

/** Bar colours per look, GitHub's Primer palette; `.taskN` is a bar without tags (N: section style 0-3). */
const GANTT_CSS = [
  '.task0,.task1,.task2,.task3{fill:#4ac26b;stroke:#1a7f37}',
  '.crit0,.crit1,.crit2,.crit3{fill:#ff8182;stroke:#cf222e}',
  '.doneCrit0,.doneCrit1,.doneCrit2,.doneCrit3{fill:#ffb77c;stroke:#bc4c00}',
  '.done0,.done1,.done2,.done3{fill:#d0d7de;stroke:#8c959f}',
  '.active0,.active1,.active2,.active3{fill:#80ccff;stroke:#0969da}',
].join(' ');

/** Each colour of the Gantt in words, for the legend under the chart. */
const GANTT_LEGEND: Record<GanttResult, string> = {
  succeeded: '🟩 succeeded',
  failed: '🟥 failed',
  lost: '🟧 timed out or lost (evicted, preempted)',
  cancelled: '⬜ cancelled',
  running: '🟦 still running',
};

/** The legend of the colours a Gantt uses, in Markdown; `null` when all its bars are green. */
export function ganttLegend(bars: readonly GanttBar[]): string | null {
  const used = new Set(bars.map((b) => b.result));
  if (used.size === 0 || (used.size === 1 && used.has('succeeded'))) return null;
  return (Object.keys(GANTT_LEGEND) as GanttResult[]).filter((r) => used.has(r)).map((r) => GANTT_LEGEND[r]).join(' · ');
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
  const init = { gantt: { leftPadding: padding }, themeCSS: GANTT_CSS };
  const out = [
    `%%{init: ${JSON.stringify(init)}}%%`,
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
    out.push(`    ${mermaidGanttName(bar.name)} :${GANTT_TAGS[bar.result]}b${i}, ${bar.start}, ${end}`);
  });
  return out.join('\n');
}

/** A chart as a fenced ```mermaid block. */
export function mermaidBlock(chart: string): string {
  return ['```mermaid', chart, '```'].join('\n');
}
