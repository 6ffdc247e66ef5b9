/**
 * Just enough Markdown reading for the documentation tests: sections by heading, pipe tables,
 * fenced code blocks, links and GitHub's heading anchors. The README is ours and simple, so a
 * line-based reader is enough; anything it cannot find is a test failure, never a guess.
 */

/** A heading and the lines under it, up to the next heading of the same or a higher level. */
export interface Section {
  level: number;
  title: string;
  /** The section's text, without its heading line. */
  body: string;
}

/** Every heading of the document (outside code blocks), in order. */
export function headings(markdown: string): { level: number; title: string }[] {
  const out: { level: number; title: string }[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence) continue;
    const m = /^(#{1,6})\s+(.*?)\s*$/.exec(line);
    if (m) out.push({ level: m[1]!.length, title: m[2]! });
  }
  return out;
}

/** The section whose heading text is exactly `title`; throws when there is none or several. */
export function section(markdown: string, title: string): Section {
  const lines = markdown.split('\n');
  const found: Section[] = [];
  let inFence = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*```/.test(lines[i]!)) inFence = !inFence;
    if (inFence) continue;
    const m = /^(#{1,6})\s+(.*?)\s*$/.exec(lines[i]!);
    if (!m || m[2] !== title) continue;
    const level = m[1]!.length;
    let end = lines.length;
    let fence = false;
    for (let j = i + 1; j < lines.length; j++) {
      if (/^\s*```/.test(lines[j]!)) fence = !fence;
      if (fence) continue;
      const h = /^(#{1,6})\s/.exec(lines[j]!);
      if (h && h[1]!.length <= level) {
        end = j;
        break;
      }
    }
    found.push({ level, title, body: lines.slice(i + 1, end).join('\n') });
  }
  if (found.length !== 1) throw new Error(`expected exactly one heading "${title}" in the README, found ${found.length}`);
  return found[0]!;
}

/** Splits one table row into its cells, honouring `\|` escapes. */
function cells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** The first pipe table in `text`: its header cells and its rows (each a list of cells). */
export function firstTable(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split('\n');
  const start = lines.findIndex((l, i) => l.trim().startsWith('|') && /^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1] ?? ''));
  if (start < 0) throw new Error('expected a table (a header row, then a |---| row)');
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) rows.push(cells(lines[i]!));
  return { header: cells(lines[start]!), rows };
}

/** The text inside one pair of backticks (`` `x` `` → `x`), or `null` if the cell is not that. */
export function code(cell: string): string | null {
  const m = /^`([^`]+)`$/.exec(cell.trim());
  return m ? m[1]! : null;
}

/** Every fenced code block of `text`, with its info string (`yaml`, `sh`…) and its content, de-indented. */
export function codeBlocks(text: string): { lang: string; content: string }[] {
  const out: { lang: string; content: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.length - lines[j]!.trimStart().length)));
    out.push({ lang: open[2]!, content: body.join('\n') });
    i = j;
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every Markdown link target `[text](target)` outside code blocks. */
export function links(markdown: string): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1]!);
  }
  return out;
}
