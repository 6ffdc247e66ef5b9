/**
 * Escaping for everything a report writes that came from a user or a pod (task ids, params,
 * messages from the cluster, log lines), and redaction of secrets.
 *
 * Invariant: no text from outside reaches a summary, an annotation or a chart without going
 * through one of these functions, so a hostile name or log line cannot close a `<details>`,
 * open a `<script>`, split a table row or break a Mermaid chart.
 */
import { hasInvisible, visibleWithOffsets, withoutAnyInvisible, withoutInvisible } from './invisible.ts';

/**
 * Strips escape sequences (colours too) and every character that renders as nothing (controls,
 * bidirectional overrides, zero-width and other invisible characters: invisible.ts), as the step
 * log does (src/report/workflow-commands.ts); `\r` and `\n` and the line and paragraph separators
 * become spaces. Tabs stay.
 */
export function stripControl(text: string): string {
  return withoutInvisible(text).replace(/\r\n|\r|\n|\u2028|\u2029/g, ' ');
}

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for an HTML context (an attribute or an element's content). */
export function escapeHtml(text: string): string {
  return stripControl(text).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c);
}

/**
 * Characters that mean something to GitHub's Markdown inline (emphasis, code, links, tables,
 * strikethrough, math, HTML, entities) or at the start of a line (headings, lists, quotes). They
 * are written as numeric entities, which GitHub shows as the character and never interprets.
 */
const MARKDOWN_SPECIAL = /[&<>"'`*_[\]|~\\#$+-]/g;

/**
 * Escapes text for Markdown inline content, table cells included: the result shows exactly the
 * input and can neither format, link, inject HTML nor split a table row. Line breaks become spaces.
 *
 * Letters, digits, spaces and most punctuation pass through, so ordinary names and messages stay
 * readable in the file; `-` is kept inside words (it only means something at the start).
 */
export function escapeMarkdown(text: string): string {
  const clean = stripControl(text);
  return clean
    .replace(MARKDOWN_SPECIAL, (c, offset: number) => {
      // A hyphen between two word characters (task ids like `create-db`) cannot start a list
      // item, a table rule or a strikethrough, so it stays as written for readability.
      if (c === '-' && /\w/.test(clean[offset - 1] ?? '') && /\w/.test(clean[offset + 1] ?? '')) return c;
      return `&#${c.charCodeAt(0)};`;
    })
    .replace(AUTOLINK, (m) => `${m.slice(0, -1)}&#${m.charCodeAt(m.length - 1)};`);
}

/**
 * What GitHub's Markdown turns into a link by itself (GFM autolinks): `scheme://`, `www.` and
 * `user@host`. Their `:`, `.` or `@` is written as an entity, which the autolink scan does not
 * see, so a URL from a pod or a cluster shows as text nobody clicks by mistake.
 */
const AUTOLINK = /[A-Za-z][A-Za-z0-9+.-]*:(?=\/\/)|\bwww\.|@/gi;

/**
 * Text as a Markdown code span inside a table cell: a backtick fence longer than any run of
 * backticks in the text, and `|` escaped (GFM splits cells before it parses code spans).
 */
export function codeSpan(text: string): string {
  const clean = stripControl(text);
  // An empty span would be two bare backticks, shown as written; a single space shows as blank.
  if (clean === '') return '` `';
  const fence = '`'.repeat(longestRun(clean, '`') + 1);
  // A span that starts or ends with a backtick needs a space so the fence is not extended.
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${clean.replace(/\|/g, '\\|')}${pad}${fence}`;
}

/** The length of the longest run of `char` in `text`. */
export function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * A fenced code block whose fence is longer than any backtick run in its lines, so no line can
 * close it early. Inside a fence GitHub interprets neither Markdown nor HTML.
 */
export function codeBlock(lines: string[], info = 'text'): string {
  const clean = lines.map(stripControl);
  const fence = '`'.repeat(Math.max(3, longestRun(clean.join('\n'), '`') + 1));
  return [`${fence}${info}`, ...clean, fence].join('\n');
}

/**
 * Escapes a Mermaid node or edge label written inside `"…"`: every character that is not a
 * letter, digit, space or a harmless punctuation mark becomes a Mermaid entity code (`#35;`),
 * which Mermaid shows as the character. This covers `"`, `]`, `-->`, `%%`, `;`, `<`, `#`, `|`.
 */
export function escapeMermaidLabel(text: string): string {
  return stripControl(text).replace(/[^A-Za-z0-9 .,_/-]/gu, (c) => `#${c.codePointAt(0)};`);
}

/**
 * A Gantt task or section name: Gantt syntax has no quoting, `:` ends a name, `#` and `%%` start
 * comments and `;` ends a statement, so anything outside a safe set becomes `_`, except `:`,
 * which becomes ` -` to keep `attempt 1: exit 1` readable. Task ids (DNS labels) are unchanged.
 */
export function mermaidGanttName(text: string): string {
  const safe = stripControl(text).replace(/:/g, ' -').replace(/[^A-Za-z0-9 ._,()/-]/g, '_').trim();
  return safe === '' ? '_' : safe;
}

/** A URL path segment, with the characters that end a Markdown link destination encoded too (src/common/links.ts). */
export { urlSegment } from '../common/links.ts';

/** What a redacted secret is replaced with, as the runner does in logs. */
export const REDACTED = '***';

/**
 * The forms a secret takes when something encodes it, that hold nothing but the secret: its
 * base64 at each of the three byte alignments it can have inside a longer base64 text (keeping
 * only the characters that depend on the secret alone), its URL encoding (a query string, a URL's
 * user info) and its JSON string escaping (a JSON body or error quoting it). The runner masks
 * exactly the strings it is given: these are given too (src/action/github-runner.ts `maskSecret`).
 */
export function encodedForms(secret: string): string[] {
  if (secret === '') return [];
  const forms = new Set<string>();
  const bytes = Buffer.from(secret, 'utf8');
  for (let prefix = 0; prefix < 3; prefix++) {
    const encoded = Buffer.concat([Buffer.alloc(prefix), bytes]).toString('base64');
    const start = Math.ceil((prefix * 8) / 6);
    const end = Math.floor(((prefix + bytes.length) * 8) / 6);
    const stable = encoded.slice(start, end);
    // A very short fragment would hide innocent text everywhere; the runner also skips them.
    if (stable.length >= 6) forms.add(stable);
  }
  forms.add(encodeURIComponent(secret));
  forms.add(JSON.stringify(secret).slice(1, -1));
  forms.delete(secret);
  return [...forms];
}

/**
 * The strings to hide for one secret: the value itself, its encoded forms (`encodedForms`), the
 * value without its invisible characters (as reports print it), and
 * for a secret of several lines (a PEM key, a kubeconfig) each line and the lines joined by spaces.
 */
export function secretVariants(secret: string): string[] {
  if (secret === '') return [];
  const variants = new Set<string>([secret, ...encodedForms(secret)]);
  // As every report prints it: without invisible characters and escape sequences.
  const seen = withoutInvisible(secret);
  if (seen !== secret && seen.trim().length >= 4) for (const v of secretVariants(seen)) variants.add(v);
  // Newlines inside a secret (a PEM key) appear in reports as spaces after escaping.
  if (/[\r\n]/.test(secret)) variants.add(secret.replace(/\r\n|\r|\n/g, ' '));
  for (const line of secret.split(/\r\n|\r|\n/)) if (line.trim().length >= 6) variants.add(line);
  return [...variants];
}

/** The redactor when there is nothing to redact. */
const IDENTITY = (text: string): string => text;

/** Returns a function that replaces every secret (and its base64 forms) in a string by `***`. */
export function makeRedactor(secrets: readonly string[]): (text: string) => string {
  return replacerOf(secrets.flatMap(secretVariants));
}

/**
 * Returns a function that replaces each of `strings`, exactly as given, by `***`: longest first,
 * so that one inside a longer one leaves nothing of it behind. A string is found also with escape
 * sequences or invisible characters between its characters (a colour code, a zero-width space:
 * invisible.ts), which every report drops before a reader sees the text; the whole span goes.
 */
export function replacerOf(strings: readonly string[]): (text: string) => string {
  const list = [...new Set(strings)].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  if (list.length === 0) return IDENTITY;
  // What a reader would read of each (longest first still): searched for in what a reader reads.
  let seen: string[] | null = null;
  return (text) => {
    // Text that holds something invisible (rare: most text is plain) is searched as a reader
    // reads it, in one go: a plain pass first could take a shorter secret out of a longer one
    // that only the second pass finds, and leave the rest of that one to show.
    if (hasInvisible(text)) {
      seen ??= [...new Set(list.map(withoutAnyInvisible))].filter((v) => v !== '').sort((a, b) => b.length - a.length);
      return redactThrough(text, seen);
    }
    let out = text;
    for (const v of list) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  };
}

/**
 * `text` with each of `strings` (longest first) replaced by `***` where a reader would read it:
 * found in the text without its escape sequences and invisible characters, and replaced in the
 * text from its first character to its last, whatever lies between. One pass to map the text,
 * then a plain search per string: no pattern per secret (a key's base64 is thousands of characters).
 */
function redactThrough(text: string, strings: readonly string[]): string {
  const { visible, at } = visibleWithOffsets(text);
  const spans: Array<[number, number]> = [];
  const taken = new Uint8Array(visible.length);
  for (const v of strings) {
    for (let i = visible.indexOf(v); i !== -1; i = visible.indexOf(v, i + 1)) {
      const end = i + v.length;
      if (taken.subarray(i, end).includes(1)) continue;
      taken.fill(1, i, end);
      spans.push([at[i]!, at[end - 1]! + 1]);
    }
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let from = 0;
  for (const [start, end] of spans) {
    out += text.slice(from, start) + REDACTED;
    from = end;
  }
  return out + text.slice(from);
}

/** A deep copy of plain data (objects, arrays, strings) with `redact` applied to every string, keys included. */
export function redactDeep<T>(value: T, redact: (text: string) => string): T {
  // Nothing to hide: the input is only read, so it need not be copied.
  if (redact === IDENTITY) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k), walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}
