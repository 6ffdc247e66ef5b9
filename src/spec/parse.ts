/**
 * `parseSpec`: spec text → validated DagSpec, or every problem found, each with its line and
 * column. Pure: no I/O (see load.ts for reading the file).
 *
 * The stages, each reporting as much as it can so a user sees all problems at once:
 *  1. YAML syntax (positions from the yaml library); nothing else runs on broken YAML.
 *  2. Duplicate keys, found by walking the document (the yaml library would stop at the first).
 *  3. The zod schema (schema.ts); each zod issue's path is mapped back to its YAML node.
 *  4. Semantic checks on the raw data, defensively typed so they run even when stage 3 failed:
 *     names, needs, cycles, templates, `if:` expressions, missing images, and the Kubernetes
 *     objects under `pod:` against the pinned release's OpenAPI schema (k8s/check.ts).
 *  5. Only if nothing was found: defaults are merged and the DagSpec is built (normalize.ts).
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import * as z from 'zod';
import { EXTENSION_KEY, specSchema } from './schema.ts';
import { airflowKeyHint, airflowMacroHint, didYouMean as suggest, suggestionBudget, type KeyLevel, type SuggestionBudget } from './suggest.ts';
import { ENV_NAME, fixName, imageProblem, nameProblem, PARAM_NAME, RESERVED_NAMES, reservedNameProblem } from './names.ts';
import { syntaxHint, YAML_LIMITS, yamlFeatureProblems, yamlLimitProblemAt } from './yaml-limits.ts';
import { TextPositions } from './position.ts';
import { findCycle, reachability, type GraphNode } from './graph.ts';
import { findTemplateRefs } from './template.ts';
import { ExpressionError, parseExpression, RUN_FIELDS, type ExprRefAt, type ParsedExpression } from './expression.ts';
import { ContextAccess } from '@actions/expressions/ast';
import { expandMatrix, matrixKeys } from './matrix.ts';
import { normalizeSpec } from './normalize.ts';
import { checkPodFields, fieldNames } from './k8s/check.ts';
import { kubeValueProblems, requestProblems } from './k8s/values.ts';
import { parseDuration } from './duration.ts';
import type { DagSpec, SpecIssue } from './types.ts';

/** The budget of the spec being parsed (parseSpec is synchronous: one spec at a time). */
let budget: SuggestionBudget = suggestionBudget();

/** `; did you mean "x"?` within the budget of the spec being parsed. */
function didYouMean(word: string, candidates: Iterable<string>): string {
  return suggest(word, candidates, budget);
}

/** A path into the document: map keys and list indexes. */
export type SpecPath = readonly (string | number)[];

/** Formats a path the way messages show it: `tasks.migrate-data.args[2]`. */
export function formatPath(path: SpecPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Describes a value found in the file for "found …" in messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return String(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(root: unknown, path: SpecPath): unknown {
  let v = root;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isRecord(v) && Object.hasOwn(v, String(seg))) v = v[String(seg)];
    else return undefined;
  }
  return v;
}

/** "in task "x"", "in defaults", "at the top level": where a key sits, for messages. */
/** Whether a path is the top level, a task (or `defaults`), a pod, or elsewhere. */
function keyLevel(path: SpecPath): KeyLevel {
  if (path.length === 0) return 'top';
  if ((path.length === 2 && path[0] === 'tasks') || (path.length === 1 && path[0] === 'defaults')) return 'task';
  if (path[path.length - 1] === 'pod') return 'pod';
  return 'other';
}

function where(path: SpecPath): string {
  if (path.length === 0) return 'at the top level';
  if (path.length === 2 && path[0] === 'tasks') return `in task "${String(path[1])}"`;
  if (path.length === 2 && path[0] === 'params') return `in param "${String(path[1])}"`;
  return `in ${formatPath(path)}`;
}

/** Maps paths and string offsets back to positions in the file. */
class Locator {
  readonly #doc: Document;
  readonly #lines: TextPositions;
  readonly #text: string;
  /** Key → last pair of each map, built on first use: lookups in a map of thousands of tasks stay O(1). */
  readonly #index = new WeakMap<object, Map<string, Pair>>();
  constructor(doc: Document, lines: TextPositions, text: string) {
    this.#doc = doc;
    this.#lines = lines;
    this.#text = text;
  }

  /** The value node at `path`, the key node it sits under, and the deepest key found on the way. */
  find(path: SpecPath): { value: Node | null; key: Node | null; nearest: Node | null } {
    let node: unknown = this.#doc.contents;
    let key: Node | null = null;
    let nearest: Node | null = isMap(node) || isSeq(node) || isScalar(node) ? (node as Node) : null;
    for (const seg of path) {
      node = this.resolve(node);
      if (isMap(node)) {
        const pair = this.#pair(node, String(seg), 0);
        if (pair === undefined) return { value: null, key: null, nearest };
        key = pair.key as Node;
        nearest = key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        node = node.items[seg];
        key = null;
        nearest = node as Node;
      } else {
        return { value: null, key: null, nearest };
      }
    }
    node = this.resolve(node);
    return { value: isMap(node) || isSeq(node) || isScalar(node) ? (node as Node) : null, key, nearest };
  }

  /** The node an alias (`*name`) stands for: a value shared through an anchor is written there. */
  resolve(node: unknown): unknown {
    return isAlias(node) ? (node.resolve(this.#doc) ?? node) : node;
  }

  /**
   * The pair of `key` in `map`: its own, else the one a merge key (`<<: *base`, `<<: [*a, *b]`)
   * brings in, as YAML merges them (the map's own keys first, then each source in order).
   */
  #pair(map: YAMLMap, key: string, depth: number): Pair | undefined {
    let byKey = this.#index.get(map);
    if (byKey === undefined) {
      byKey = new Map(map.items.map((p) => [keyText(p.key), p as Pair]));
      this.#index.set(map, byKey);
    }
    const own = byKey.get(key);
    if (own !== undefined || depth > YAML_LIMITS.maxDepth) return own;
    for (const p of map.items) {
      if (!isMergeKey(p.key)) continue;
      const from = this.resolve(p.value);
      for (const source of isSeq(from) ? from.items.map((i) => this.resolve(i)) : [from]) {
        const found = isMap(source) ? this.#pair(source, key, depth + 1) : undefined;
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  offsetPos(offset: number): { line: number; col: number } {
    return this.#lines.at(offset);
  }

  nodePos(node: Node | null): { line: number; col: number } {
    return node?.range ? this.offsetPos(node.range[0]) : { line: 1, col: 1 };
  }

  /** Position of the value at `path` (or its key, or the nearest thing that exists). */
  valuePos(path: SpecPath): { line: number; col: number } {
    const f = this.find(path);
    return this.nodePos(f.value ?? f.key ?? f.nearest);
  }

  /** Position of the key at the end of `path`. */
  keyPos(path: SpecPath): { line: number; col: number } {
    const f = this.find(path);
    return this.nodePos(f.key ?? f.value ?? f.nearest);
  }

  /**
   * Position of character `offset` of the string at `path`: exact for plain and quoted scalars,
   * on one line or several, and for block scalars (`|`, `>`), as long as no escape (`\\n`, `''`)
   * comes before it; otherwise the start of the scalar.
   */
  stringPos(path: SpecPath, offset: number): { line: number; col: number } {
    const node = this.find(path).value;
    if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return this.valuePos(path);
    const source = this.#text.slice(node.range[0], node.range[1]);
    const value = node.value;
    if (source === value) return this.offsetPos(node.range[0] + offset);
    if ((node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE') && source.slice(1, -1) === value) {
      return this.offsetPos(node.range[0] + 1 + offset);
    }
    // The value's text starts after the quote, or on the line after a block scalar's `|` or `>`.
    const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
    const start = block ? source.indexOf('\n') + 1 : node.type === 'PLAIN' ? 0 : 1;
    const at = block && start === 0 ? null : alignedOffset(source, start, value, offset, node.type);
    return this.offsetPos(node.range[0] + (at ?? 0));
  }

  /** The text a node was written as in the file. */
  source(node: Node): string {
    return node.range ? this.#text.slice(node.range[0], node.range[1]) : '';
  }

  /** The keys of the map at `path`, in file order, without duplicates. */
  mapKeys(path: SpecPath): string[] {
    const node = this.find(path).value;
    return isMap(node) ? [...new Set(this.#keys(node, 0))] : [];
  }

  /** A map's keys in file order, a merge key (`<<: *base`) standing for the keys it brings in. */
  #keys(map: YAMLMap, depth: number): string[] {
    return map.items.flatMap((p) => {
      if (!isMergeKey(p.key)) return [keyText(p.key)];
      if (depth > YAML_LIMITS.maxDepth) return [];
      const from = this.resolve(p.value);
      return (isSeq(from) ? from.items.map((i) => this.resolve(i)) : [from]).flatMap((m) => (isMap(m) ? this.#keys(m, depth + 1) : []));
    });
  }
}

/**
 * The index in `source` of character `offset` of `value`, the text YAML read from it starting at
 * `start`: the two are walked side by side, the line breaks and indentation YAML folded or
 * removed skipped on either side. Null when they differ otherwise (an escape), so the caller
 * falls back to the start of the scalar rather than point at a wrong place.
 */
function alignedOffset(source: string, start: number, value: string, offset: number, type: Scalar['type']): number | null {
  const space = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  let i = 0;
  let j = start;
  while (i < offset) {
    if (j >= source.length) return null;
    if (type === 'QUOTE_DOUBLE' && source[j] === '\\') {
      // An escape: `\x41`, `\u00e9`, `\U0001F600` or `\n` is one character (an astral one two
      // code units); a backslash at the end of a line joins the lines and is nothing.
      const next = source[j + 1];
      if (next === '\n' || next === '\r') {
        j += 2;
        continue;
      }
      const digits = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
      const code = digits === 0 ? 0 : parseInt(source.slice(j + 2, j + 2 + digits), 16);
      i += code > 0xffff ? 2 : 1;
      j += 2 + digits;
    } else if (type === 'QUOTE_SINGLE' && source[j] === "'" && source[j + 1] === "'") {
      i++;
      j += 2;
    } else if (source[j] === value[i]) {
      i++;
      j++;
    } else if (space(value[i])) i++;
    else if (space(source[j])) j++;
    else return null;
  }
  // Past the indentation of the line the character is on.
  while (j < source.length && source[j] !== value[offset] && space(source[j])) j++;
  return j < source.length && source[j] === value[offset] ? j : null;
}

/** Whether a key is YAML's merge key `<<` (the parser gives it a symbol as its value). */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<');
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** The longest run of characters without a space a message shows whole. */
const MAX_WORD = 300;

/**
 * A message quotes what the file holds (a key, a name, a value): a 200,000-character key would
 * make a 200,000-character annotation. Each run longer than MAX_WORD keeps its start and its end
 * (the closing quote and what follows) around "…".
 */
export function shortenLongWords(text: string): string {
  return text.replace(new RegExp(`\\S{${MAX_WORD + 1},}`, 'g'), (w) => `${[...w].slice(0, 100).join('')}…(${w.length} characters)…${[...w].slice(-30).join('')}`);
}

/**
 * Characters a reader cannot see: zero-width ones, soft hyphens, bidirectional controls (which
 * reorder the text around them when displayed), the byte order mark.
 */
const INVISIBLE = /[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;

/**
 * A message is one line that shows what it quotes: a line break or tab inside a key or value
 * (`"a\nb": 1`) is shown as its escape, so the log's list keeps one problem per line, and so is
 * a character a reader cannot see (`ima\u200bge`), or a key that looks right would look unchanged.
 */
function oneLine(text: string): string {
  return text
    .replace(/\r\n|[\r\n\t\u2028\u2029]/g, (c) => ({ '\t': '\\t', '\r': '\\r', '\u2028': '\\u2028', '\u2029': '\\u2029' })[c] ?? '\\n')
    .replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * For an unknown key that holds a character outside ASCII (a Cyrillic "е" in `imagе`): which one,
 * since the key looks like the one meant. Keys of a spec and of Kubernetes objects are ASCII.
 */
function lookalike(key: string, what = 'key'): string {
  const i = [...key].findIndex((c) => c.codePointAt(0)! > 0x7f);
  if (i < 0) return '';
  const c = [...key][i]!;
  const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  const shown = new RegExp(INVISIBLE.source).test(c) ? 'an invisible character' : `"${c}"`;
  return ` (character ${i + 1} of the ${what} is ${shown}, U+${code}, not an ASCII letter: retype the ${what})`;
}

/** Collects issues for one file. */
class Issues {
  readonly list: SpecIssue[] = [];
  readonly #file: string;
  constructor(file: string) {
    this.#file = file;
  }
  add(pos: { line: number; col: number }, path: SpecPath, message: string): void {
    this.list.push({ file: this.#file, line: pos.line, col: pos.col, path: shortenLongWords(formatPath(path)), message: oneLine(shortenLongWords(message)) });
  }
  sorted(): SpecIssue[] {
    const seen = new Set<string>();
    return this.list
      .filter((i) => {
        const k = `${i.line}:${i.col}:${i.message}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      })
      .sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
  }
}

/**
 * Parses and validates a spec. `file` is only used in the issues and the result (as given).
 * Returns the spec when it is valid, else `null` and every issue found, sorted by position.
 */
export function parseSpec(text: string, file: string): { spec: DagSpec | null; issues: SpecIssue[] } {
  const issues = new Issues(file);
  budget = suggestionBudget();
  // YAML allows only printable characters (tab and line breaks aside): a raw NUL or ESC in a
  // file is a binary file or a pasted terminal colour, and would reach a pod as it is.
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]/.exec(text);
  const lines = new TextPositions(text);
  if (control !== null) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    issues.add(lines.at(control.index), [], `the file holds the control character U+${code}, which YAML does not allow; remove it (write it as an escape such as "\\x1b" inside double quotes if a value needs it)`);
    return { spec: null, issues: issues.sorted() };
  }
  // A carriage return alone ends a line for some tools and not for others (the parser reads the
  // file as one line), so the lines and columns of every other message would be wrong.
  const loneCr = /\r(?!\n)/.exec(text);
  if (loneCr !== null) {
    const at = lines.at(loneCr.index);
    issues.add(
      at,
      [],
      `line ${at.line} ends with a lone carriage return (CR, the line end of old Mac files) that YAML tools read differently; save the file with LF (or CRLF) line ends (write "\\r" inside double quotes if a value needs one)`,
    );
    return { spec: null, issues: issues.sorted() };
  }
  // `merge: true` lets users share blocks with anchors and `<<: *anchor`, as in many CI files.
  let doc: Document;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, merge: true, logLevel: 'error' });
  } catch (err) {
    // The parser itself gave up (a string past the engine's length): a file no spec looks like.
    issues.add({ line: 1, col: 1 }, [], `the YAML parser could not read the file (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); is it a DAG spec?`);
    return { spec: null, issues: issues.sorted() };
  }
  const loc = new Locator(doc, lines, text);

  // A quote never closed runs to the end of the file, where the parser notices: the place to
  // show is where it opens (and what the parser says at the end after it is only its echo).
  const unclosed = new Map<number, number>();
  visit(doc, {
    Scalar(_key, node) {
      if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && node.range) unclosed.set(node.range[1], node.range[0]);
    },
  });
  const openedAt = new Set<number>();
  const errorLines = new Set<number>();
  for (const err of doc.errors) {
    if (err.code === 'MISSING_CHAR' && /quote/.test(err.message) && unclosed.has(err.pos[0])) openedAt.add(err.pos[0]);
  }
  for (const err of doc.errors) {
    if (openedAt.has(err.pos[0])) {
      if (err.code !== 'MISSING_CHAR') continue;
      const start = unclosed.get(err.pos[0])!;
      issues.add(lines.at(start), [], `YAML syntax error: ${err.message}: the quote opened here is never closed, so the value runs to the end of the file; add the closing ${text[start]}`);
      continue;
    }
    // A misaligned line is shown at its first character, not at the start of its indentation.
    let offset = err.pos[0];
    if (err.code === 'BAD_INDENT') while (text[offset] === ' ') offset++;
    const pos = lines.at(offset);
    // The parser's later errors on a line are echoes of its first (each token after it is unexpected).
    if (errorLines.has(pos.line)) continue;
    errorLines.add(pos.line);
    const what =
      err.code === 'MULTIPLE_DOCS'
        ? 'the file holds more than one YAML document ("---"); a spec is one document'
        : /Maximum call stack/.test(err.message)
          ? `it is nested too deeply to read (a spec is nested at most ${YAML_LIMITS.maxDepth} levels deep)`
          : `${err.message}${syntaxHint(err.code, err.message)}`;
    issues.add(pos, [], `YAML syntax error: ${what}`);
  }
  if (issues.list.length > 0) return { spec: null, issues: issues.sorted() };
  checkYamlFeatures(doc, text, lines, issues);
  if (issues.list.length > 0) return { spec: null, issues: issues.sorted() };

  // Before anything walks the data: bounded by what the aliases expand to, not by the file.
  const tooBig = yamlLimitProblemAt(doc);
  if (tooBig !== null) {
    issues.add(lines.at(tooBig.offset), [], `the spec is too large to read: ${tooBig.message}`);
    return { spec: null, issues: issues.sorted() };
  }

  checkDuplicateKeys(doc.contents, [], loc, issues);
  checkKeysAndTemplates(doc.contents, [], loc, issues);

  let raw: unknown;
  try {
    // yamlLimitProblem bounded the expansion by its size; the library's own cap (uses of
    // aliases) would refuse specs that share many small blocks and let large ones through.
    raw = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    // What the checks above found is why, at its place; otherwise the parser's own words.
    if (issues.list.length === 0) issues.add({ line: 1, col: 1 }, [], `YAML error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return { spec: null, issues: issues.sorted() };
  }
  keepNumbersAsWritten(doc.contents, [], raw, loc);
  if (raw === null || raw === undefined) {
    issues.add({ line: 1, col: 1 }, [], 'the spec is empty; expected a map with version, name and tasks');
    return { spec: null, issues: issues.sorted() };
  }
  // Extension fields (`x-…`) hold anchors for the rest of the file; what they hold is checked
  // where an alias uses it, and is otherwise ignored.
  if (isRecord(raw)) for (const key of Object.keys(raw)) if (EXTENSION_KEY.test(key)) delete raw[key];

  const result = specSchema.safeParse(raw, { error: genericError });
  if (!result.success) {
    for (const issue of result.error.issues) reportZodIssue(issue, [], raw, loc, issues);
  }
  checkSemantics(raw, loc, issues);

  if (issues.list.length > 0 || !result.success) return { spec: null, issues: issues.sorted() };
  const taskOrder = loc.mapKeys(['tasks']);
  const spec = normalizeSpec(result.data, {
    file,
    taskOrder,
    taskPos: (id) => loc.keyPos(['tasks', id]),
  });
  FIELD_POSITIONS.set(spec, templatePositions(spec, loc));
  return { spec, issues: [] };
}

/**
 * Where each rendered field of a spec's tasks is written (`tasks.a.image`, `tasks.a.env.X`,
 * `tasks.a.if`; from `defaults` when the task takes it from there), for problems found when the
 * templates are rendered with the params of a run (prerender.ts). Beside the spec, not in it: a
 * spec's data is what runs and what a re-run compares.
 */
const FIELD_POSITIONS = new WeakMap<DagSpec, ReadonlyMap<string, { line: number; col: number }>>();

/** Where the field at `where` (`tasks.a.args[0]`) of a spec parsed by parseSpec is written, if known. */
export function fieldPosition(spec: DagSpec, where: string): { line: number; col: number } | undefined {
  return FIELD_POSITIONS.get(spec)?.get(where);
}

function templatePositions(spec: DagSpec, loc: Locator): Map<string, { line: number; col: number }> {
  const positions = new Map<string, { line: number; col: number }>();
  for (const task of spec.tasks) {
    const add = (rel: SpecPath): void => {
      for (const base of [['tasks', task.id], ['defaults']]) {
        const found = loc.find([...base, ...rel]).value;
        if (found !== null) {
          positions.set(formatPath(['tasks', task.id, ...rel]), loc.nodePos(found));
          return;
        }
      }
    };
    add(['image']);
    task.command?.forEach((_, i) => add(['command', i]));
    task.args?.forEach((_, i) => add(['args', i]));
    for (const e of task.env) if ('value' in e) add(['env', e.name]);
    if (task.if !== null && task.if !== undefined) add(['if']);
  }
  return positions;
}

/** A problem of yamlFeatureProblems at its line and column. */
function checkYamlFeatures(doc: Document, text: string, lines: TextPositions, issues: Issues): void {
  for (const p of yamlFeatureProblems(doc, text, 'a spec')) issues.add(lines.at(p.offset), [], p.message);
}

/** The message of a zod issue whose schema has no `error` of its own. */
function genericError(iss: { code: string; expected?: unknown }): string | undefined {
  if (iss.code === 'invalid_type') {
    const names: Record<string, string> = {
      string: 'a string',
      number: 'a number',
      int: 'a whole number',
      boolean: 'true or false',
      object: 'a map',
      record: 'a map',
      array: 'a list',
    };
    return `expected ${names[String(iss.expected)] ?? String(iss.expected)}`;
  }
  return undefined;
}

function checkDuplicateKeys(node: unknown, path: (string | number)[], loc: Locator, issues: Issues): void {
  if (isMap(node)) {
    const first = new Map<string, Node>();
    for (const pair of node.items) {
      const k = keyText(pair.key);
      const prev = first.get(k);
      if (prev === undefined) first.set(k, pair.key as Node);
      else {
        const p = loc.nodePos(prev);
        issues.add(loc.nodePos(pair.key as Node), [...path, k], `duplicate key "${k}" ${where(path)} (first defined at line ${p.line}, column ${p.col}); YAML keys must be unique: remove one, or rename it`);
      }
      checkDuplicateKeys(pair.value, [...path, k], loc, issues);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => checkDuplicateKeys(item, [...path, i], loc, issues));
  }
}

/**
 * Whether a string at `path` is a field whose `{{ }}` templates are rendered (image, command,
 * args and env values of a task or of `defaults`), a condition or a matrix (they take
 * expressions and are checked on their own), or data that is never rendered (params, descriptions).
 */
function templatesAllowedAt(path: SpecPath): boolean {
  if (path[0] === 'params' || path[path.length - 1] === 'description') return true;
  const rel = path[0] === 'tasks' ? path.slice(2) : path[0] === 'defaults' ? path.slice(1) : null;
  if (rel === null || rel.length === 0) return false;
  const [field] = rel;
  if (field === 'image') return rel.length === 1;
  if (field === 'command' || field === 'args' || field === 'env') return rel.length === 2;
  // `strategy.matrix` as one string is an expression; a matrix written out is data: its values
  // reach {{ matrix.<key> }} as written, never rendered.
  return field === 'if' || (field === 'strategy' && rel.length === 2 && rel[1] === 'matrix');
}

/**
 * Checks every key and string of the document, wherever it is:
 *  - a key must be a plain value (text, a number): `? [a]` or an empty key would be turned into
 *    text or dropped without a word;
 *  - no key may be `__proto__`: JavaScript gives it a meaning of its own, so such an entry (an env
 *    variable, a matrix key, a label) would be lost or change what other entries mean;
 *  - `{{ }}` only where templates are rendered: anywhere else it would reach the pod as it is
 *    written, so a `nodeSelector` would select `{{ params.pool }}` literally.
 */
function checkKeysAndTemplates(node: unknown, path: SpecPath, loc: Locator, issues: Issues, depth = 0): void {
  // An alias or a merge key puts the anchored value here too: checked as if written here (the
  // same `env` map is fine under a task and not as a `nodeSelector`). yamlLimitProblem bounds
  // what they expand to; the depth bounds an alias of a node that holds it.
  if (depth > YAML_LIMITS.maxDepth * 2) return;
  node = loc.resolve(node);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (isMergeKey(pair.key)) {
        const from = loc.resolve(pair.value);
        const sources = isSeq(from) ? from.items : [from];
        // YAML merges maps only: anything else stops the parser with no place to show.
        const bad = sources.find((source) => !isMap(loc.resolve(source)));
        if (bad !== undefined) {
          const at = (isSeq(from) ? bad : pair.value) as Node | null;
          const found = loc.resolve(bad);
          const what = found === null || found === undefined ? 'nothing' : isSeq(found) ? 'a list' : isScalar(found) ? `the value ${describeValue(found.value)}` : 'something else';
          issues.add(at === null ? loc.nodePos(pair.key as Node) : loc.nodePos(at), path, `the merge key << ${where(path)} takes a map, or an alias of one (<<: *common), or a list of them (<<: [*a, *b]); found ${what}`);
          continue;
        }
        for (const source of sources) checkKeysAndTemplates(source, path, loc, issues, depth + 1);
        continue;
      }
      const key = pair.key as Node | null;
      if (!isScalar(key) || key.value === null || key.value === undefined || (typeof key.value === 'string' && key.value.trim() === '')) {
        // `null:` or `~:` is YAML's empty value, not the name written.
        const written = isScalar(key) && key.value === null ? loc.source(key) : '';
        if (written !== '') {
          issues.add(loc.nodePos(key), path, `key ${written} ${where(path)} is read as an empty value (YAML's null), not as a name; write it in quotes, "${written}", to use it as a name`);
          continue;
        }
        if (isAlias(key)) {
          issues.add(loc.nodePos(key), path, `an alias as a key (*${key.source}) ${where(path)}; write the key itself: an alias can stand for a value, not for a key`);
          continue;
        }
        const what = key === null || isScalar(key) ? 'an empty key' : isSeq(key) ? 'a list as a key' : 'a map as a key';
        issues.add(key === null ? loc.nodePos(pair.value as Node | null) : loc.nodePos(key), path, `${what} ${where(path)}; keys must be names (text)`);
        continue;
      }
      const k = keyText(key);
      // `010:`, `1.10:` or `True:` as a key is a number or a boolean to YAML, and the key becomes
      // its JavaScript text ("10", "1.1", "true"): a task, label or matrix key renamed silently.
      const written = loc.source(key);
      if ((typeof key.value === 'number' || typeof key.value === 'bigint' || typeof key.value === 'boolean') && written !== k) {
        const kind = typeof key.value === 'boolean' ? 'the boolean' : 'the number';
        issues.add(loc.nodePos(key), [...path, k], `key ${written} ${where(path)} is read as ${kind} ${k}, so it would become "${k}"; write it in quotes, "${written.replace(/^["']|["']$/g, '')}", to keep it as written`);
        continue;
      }
      // An extension field's content is checked where an alias puts it, as written there.
      if (path.length === 0 && EXTENSION_KEY.test(k)) continue;
      // Param and task names have their own, more specific message.
      const named = path.length === 1 && (path[0] === 'params' || path[0] === 'tasks');
      if (k === '__proto__' && !named) issues.add(loc.nodePos(key), [...path, k], `key "__proto__" ${where(path)} ${reservedNameProblem(k)!.slice(`"${k}" `.length)}`);
      if (k.includes('{{') && !named && !templatesAllowedAt([...path, k])) issues.add(loc.nodePos(key), [...path, k], templateNotHere([...path, k], 'key'));
      checkKeysAndTemplates(pair.value, [...path, k], loc, issues, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => checkKeysAndTemplates(item, [...path, i], loc, issues, depth + 1));
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('{{') && !templatesAllowedAt(path)) {
    issues.add(loc.stringPos(path, node.value.indexOf('{{')), path, templateNotHere(path, 'value'));
  }
}

function templateNotHere(path: SpecPath, what: 'key' | 'value'): string {
  const rel = path[0] === 'tasks' ? path.slice(2) : [];
  if (rel[0] === 'strategy' && rel[1] === 'matrix') {
    return (
      `${formatPath(path)}: a {{ }} template is not rendered in a matrix written out, so {{ matrix.<key> }} would read it as written; ` +
      'to compute the matrix, write all of it as one expression, e.g. matrix: "{{ fromJSON(params.shards) }}", or move the template to where the matrix value is used (image, command, args, env)'
    );
  }
  return (
    `${formatPath(path)}: a {{ }} template is not rendered in this ${what}, so it would reach the pod as written; ` +
    'templates are rendered in image, command, args and env values only (for other fields, give the value itself, or set it per task)'
  );
}

/**
 * Whether the value at `path` becomes text (a param, an env value, a matrix value), so that a
 * number written there must keep the digits it was written with. (`command` and `args` refuse
 * numbers: they must be quoted.)
 */
function isTextPath(path: SpecPath): boolean {
  const n = path.length;
  if (path[0] === 'params') return n === 2 || (n === 3 && path[2] === 'default');
  const rel = path[0] === 'tasks' ? path.slice(2) : path[0] === 'defaults' ? path.slice(1) : null;
  if (rel === null) return false;
  if (rel.length === 2 && rel[0] === 'env') return true;
  if (rel[0] !== 'strategy' || rel[1] !== 'matrix') return false;
  const m = rel.slice(2);
  if (m[0] === 'include' || m[0] === 'exclude') return m.length === 3;
  return m.length === 2 && typeof m[1] === 'number';
}

/**
 * A number written where the value becomes text (`VERSION: 1.10`, `python: [3.10]`, an id
 * `007`, `0x1F`, a 20-digit id) is kept as written: YAML reads it as a number, and its text
 * would otherwise be JavaScript's (`1.1`, `7`, `31`, `12345678901234567000`): a silent change.
 * A number whose text is JavaScript's already (`20`) stays a number, as in a GitHub matrix.
 */
/** A number whose text as written is not how JavaScript would print it. */
function lossyNumber(node: Scalar, loc: Locator): boolean {
  return (typeof node.value === 'number' || typeof node.value === 'bigint') && String(node.value) !== loc.source(node);
}

function keepNumbersAsWritten(node: unknown, path: SpecPath, raw: unknown, loc: Locator): void {
  if (isMap(node) && isRecord(raw)) {
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? keyText(pair.key) : null;
      if (k === null || k === '__proto__' || !Object.hasOwn(raw, k)) continue;
      const v = pair.value;
      if (isScalar(v) && lossyNumber(v, loc) && isTextPath([...path, k])) raw[k] = loc.source(v);
      else keepNumbersAsWritten(v, [...path, k], raw[k], loc);
    }
  } else if (isSeq(node) && Array.isArray(raw)) {
    node.items.forEach((item, i) => {
      if (isScalar(item) && lossyNumber(item, loc) && isTextPath([...path, i])) raw[i] = loc.source(item);
      else keepNumbersAsWritten(item, [...path, i], raw[i], loc);
    });
  }
}

/** The keys allowed in the strict object at `path` of the schema. */
function allowedKeysAt(path: SpecPath): string[] {
  let s: z.ZodType = specSchema;
  const unwrap = (t: z.ZodType): z.ZodType => {
    for (;;) {
      if (t instanceof z.ZodOptional || t instanceof z.ZodNullable || t instanceof z.ZodDefault) t = t.unwrap() as z.ZodType;
      else return t;
    }
  };
  const step = (t: z.ZodType, seg: string | number): z.ZodType | null => {
    t = unwrap(t);
    if (t instanceof z.ZodObject) return (t.shape as Record<string, z.ZodType>)[String(seg)] ?? null;
    if (t instanceof z.ZodRecord) return t.valueType as z.ZodType;
    if (t instanceof z.ZodArray) return t.element as z.ZodType;
    if (t instanceof z.ZodUnion) {
      for (const option of t.options as z.ZodType[]) {
        const next = step(option, seg);
        if (next !== null) return next;
      }
    }
    return null;
  };
  for (const seg of path) {
    const next = step(s, seg);
    if (next === null) return [];
    s = next;
  }
  s = unwrap(s);
  if (s instanceof z.ZodObject) return Object.keys(s.shape);
  if (s instanceof z.ZodUnion) {
    const obj = (s.options as z.ZodType[]).map(unwrap).find((o) => o instanceof z.ZodObject);
    return obj instanceof z.ZodObject ? Object.keys(obj.shape) : [];
  }
  return [];
}

function reportZodIssue(issue: z.core.$ZodIssue, prefix: SpecPath, raw: unknown, loc: Locator, issues: Issues): void {
  const path: SpecPath = [...prefix, ...(issue.path as (string | number)[])];
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(path);
    for (const key of issue.keys) {
      const keyPath = [...path, key];
      let message: string;
      if (path.length === 1 && path[0] === 'defaults' && (key === 'needs' || key === 'if' || key === 'strategy' || key === 'sensor')) {
        message = `"${key}" cannot be set in defaults; set it on each task that needs it`;
      } else {
        const airflow = airflowKeyHint(key, keyLevel(path), allowed);
        const hint = airflow === null ? didYouMean(key, allowed) : `; ${airflow}`;
        message = `unknown key "${key}" ${where(path)}${hint !== '' ? hint : `; expected one of: ${allowed.join(', ')}`}${lookalike(key)}`;
      }
      issues.add(loc.keyPos(keyPath), keyPath, message);
    }
    return;
  }
  if (issue.code === 'invalid_union') {
    // Drop the branches that failed only because the value has another type (a map is not a
    // string); if exactly one branch is left, its issues are the useful ones.
    const relevant = issue.errors.filter((branch) => !branch.every((b) => b.code === 'invalid_type' && b.path.length === 0));
    if (relevant.length === 1) {
      for (const sub of relevant[0]!) reportZodIssue(sub, path, raw, loc, issues);
      return;
    }
  }
  const found = valueAt(raw, path);
  if (found === undefined && path.length > 0) {
    const parent = path.slice(0, -1);
    issues.add(loc.keyPos(parent), path, `missing required key "${String(path[path.length - 1])}" ${where(parent)}; ${issue.message}`);
    return;
  }
  // Custom checks (durations, env references) word their own message, found value included.
  const showFound = issue.code !== 'custom' && !issue.message.includes(', found ');
  issues.add(loc.valuePos(path), path, `${formatPath(path) || 'the spec'}: ${issue.message}${showFound ? `, found ${describeFound(found, path, loc)}${foundHint(issue.message, found, path)}` : ''}`);
}

/**
 * The value found at `path`, for "found …": a number or boolean YAML read other than it is
 * written (`image: 1.10` is 1.1, `name: True` is true) is shown as written, with what YAML made of it.
 */
function describeFound(found: unknown, path: SpecPath, loc: Locator): string {
  const node = loc.find(path).value;
  if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean') && node.value === found) {
    const written = loc.source(node);
    if (written !== String(node.value)) return `${written} (which YAML reads as the ${typeof node.value} ${String(node.value)}; write it in quotes if you meant the text "${written}")`;
  }
  return describeValue(found);
}

/**
 * What to write instead of what was found: a number or a boolean without quotes (`limit: "3"`),
 * true for yes (text in YAML 1.2), tasks as a map rather than a list, a command as a list.
 */
function foundHint(message: string, found: unknown, path: SpecPath): string {
  const last = path[path.length - 1];
  // Tasks written as a list, as in Argo or Tekton: the id is the key.
  if (path.length === 1 && last === 'tasks' && Array.isArray(found)) {
    return ' (write each task as a key of tasks, its id, e.g. tasks: {extract: {image: …}}, not as a list item with a name)';
  }
  // A command line written as one string: the spec never passes values through a shell.
  if ((last === 'command' || last === 'args') && typeof found === 'string' && /\s/.test(found.trim())) {
    const words = found.trim().split(/\s+/);
    const plain = words.every((w) => /^[\w./=:@%+-]+$/.test(w));
    return ` (write a list${plain ? `, e.g. [${words.join(', ')}]` : ''}, or [sh, -c, ${JSON.stringify(found.trim())}] if it needs a shell)`;
  }
  if (typeof found !== 'string') return '';
  if (/^expected (a|the) (whole )?number/.test(message) && /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(found.trim())) {
    return ` (write it without quotes: ${found.trim()})`;
  }
  if (/^expected true or false/.test(message)) {
    if (/^(true|false)$/i.test(found)) return ` (write it without quotes: ${found.toLowerCase()})`;
    if (/^(y|yes|on|n|no|off)$/i.test(found)) return ` (a spec is YAML 1.2, where ${found} is text, not a boolean: write ${/^(y|yes|on)$/i.test(found) ? 'true' : 'false'})`;
  }
  return '';
}

/** The needs of a raw task as a list of [need, path] pairs, whatever shape it has. */
function rawNeeds(id: string, task: unknown): { need: string; path: SpecPath }[] {
  if (!isRecord(task)) return [];
  const needs = task.needs;
  if (typeof needs === 'string') return [{ need: needs, path: ['tasks', id, 'needs'] }];
  if (!Array.isArray(needs)) return [];
  return needs.flatMap((n, i) => (typeof n === 'string' ? [{ need: n, path: ['tasks', id, 'needs', i] }] : []));
}

/** Every string of a task (or `defaults`) that may hold `{{ }}` templates, with its path. */
function templateStrings(base: SpecPath, fields: unknown): { text: string; path: SpecPath }[] {
  if (!isRecord(fields)) return [];
  const out: { text: string; path: SpecPath }[] = [];
  if (typeof fields.image === 'string') out.push({ text: fields.image, path: [...base, 'image'] });
  for (const list of ['command', 'args'] as const) {
    const v = fields[list];
    if (Array.isArray(v)) v.forEach((s, i) => typeof s === 'string' && out.push({ text: s, path: [...base, list, i] }));
  }
  if (isRecord(fields.env)) {
    for (const [name, v] of Object.entries(fields.env)) if (typeof v === 'string') out.push({ text: v, path: [...base, 'env', name] });
  }
  return out;
}

function checkSemantics(raw: unknown, loc: Locator, issues: Issues): void {
  if (!isRecord(raw)) return;

  if (typeof raw.name === 'string') {
    const problem = nameProblem(raw.name);
    if (problem !== null) {
      const fixed = fixName(raw.name);
      issues.add(loc.valuePos(['name']), ['name'], `DAG name "${raw.name}" is not valid: ${problem} (it is used in pod names and labels)${lookalike(raw.name, 'name') || (fixed ? `; try "${fixed}"` : '')}`);
    }
  }
  if (typeof raw.namespace === 'string' && (raw.namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(raw.namespace))) {
    issues.add(loc.valuePos(['namespace']), ['namespace'], `namespace "${raw.namespace}" is not a valid Kubernetes namespace name: lowercase a-z, 0-9 and "-", at most 63 characters`);
  }

  const params = isRecord(raw.params) ? Object.keys(raw.params) : [];
  for (const p of params) {
    const reserved = reservedNameProblem(p);
    if (reserved !== null) {
      issues.add(loc.keyPos(['params', p]), ['params', p], `param name ${reserved}`);
    } else if (!PARAM_NAME.test(p)) {
      issues.add(loc.keyPos(['params', p]), ['params', p], `param name "${p}" is not valid: use letters, digits, "_" and "-", starting with a letter or "_" (it is written {{ params.${p} }})`);
    }
  }

  checkCaseCollisions(params.map((p) => ({ name: p, path: ['params', p] })), 'param', '{{ params.<name> }}', loc, issues);

  const tasksRaw = isRecord(raw.tasks) ? raw.tasks : null;
  if (tasksRaw === null) return;
  const ids = loc.mapKeys(['tasks']).filter((id) => Object.hasOwn(tasksRaw, id));
  if (ids.length === 0) {
    // Keys that are no task ids (`null:`, a list) were reported as such: the DAG is not empty.
    const written = loc.find(['tasks']).value;
    if (isMap(written) && written.items.length > 0) return;
    issues.add(loc.valuePos(['tasks']), ['tasks'], 'tasks: the DAG has no tasks; expected at least one under "tasks:"');
    return;
  }
  const defaults = isRecord(raw.defaults) ? raw.defaults : {};
  checkKubeFields(['defaults'], defaults, loc, issues);
  const graph = new Map<string, GraphNode>();
  const needPaths = new Map<string, Map<string, SpecPath>>();

  for (const id of ids) {
    const task = tasksRaw[id];
    const problem = nameProblem(id);
    if (problem !== null) {
      const fixed = fixName(id);
      issues.add(loc.keyPos(['tasks', id]), ['tasks', id], `task id "${id}" is not valid: ${problem} (task ids are used in pod names and label values)${lookalike(id, 'id') || (fixed ? `; rename it to "${fixed}"` : '')}`);
    }
    const reserved = reservedNameProblem(id);
    if (reserved !== null) issues.add(loc.keyPos(['tasks', id]), ['tasks', id], `task id ${reserved}`);
    if (isRecord(task)) checkOwnMetadata(task.pod, ['tasks', id, 'pod'], loc, issues);
    const needs = rawNeeds(id, task);
    const known: string[] = [];
    const paths = new Map<string, SpecPath>();
    const listed = new Map<string, SpecPath>();
    for (const { need, path } of needs) {
      // As actionlint does for GitHub's needs: a repeat is a slip (a copy-paste, a merge), not
      // a second dependency, and saying nothing would hide which entry was meant.
      const first = listed.get(need);
      if (first !== undefined) {
        issues.add(loc.valuePos(path), path, `task "${id}" lists "${need}" twice in needs (as ${formatPath(first.slice(2))} and ${formatPath(path.slice(2))}); list each task once`);
        continue;
      }
      listed.set(need, path);
      if (Object.hasOwn(tasksRaw, need)) {
        known.push(need);
        if (!paths.has(need)) paths.set(need, path);
      } else {
        issues.add(loc.valuePos(path), path, `task "${id}" needs "${need}", which is not a task${didYouMean(need, ids)}`);
      }
    }
    graph.set(id, { id, needs: known });
    needPaths.set(id, paths);
    if (isRecord(task) && task.image === undefined && defaults.image === undefined) {
      issues.add(loc.keyPos(['tasks', id]), ['tasks', id], `task "${id}" has no image; set tasks.${id}.image or defaults.image`);
    }
    for (const [name] of Object.entries(isRecord(task) && isRecord(task.env) ? task.env : {})) checkEnvName(name, ['tasks', id, 'env', name], loc, issues);
    checkKubeFields(['tasks', id], task, loc, issues);
    checkPodVolumes(id, isRecord(task) ? task : {}, defaults, loc, issues);
    checkMergedRequests(id, isRecord(task) ? task : {}, defaults, loc, issues);
  }
  for (const [name] of Object.entries(isRecord(defaults.env) ? defaults.env : {})) checkEnvName(name, ['defaults', 'env', name], loc, issues);
  checkOwnMetadata(defaults.pod, ['defaults', 'pod'], loc, issues);

  const cycle = findCycle([...graph.values()]);
  if (cycle !== null) {
    const path = needPaths.get(cycle[0]!)!.get(cycle[1]!)!;
    const message =
      cycle.length === 2
        ? `task "${cycle[0]}" needs itself, so it can never start; remove "${cycle[0]}" from its needs`
        : `dependency cycle: ${cycle.join(' → ')} (each task needs the next, so none of them can ever start); remove one of these needs`;
    issues.add(loc.valuePos(path), path, message);
  }

  // Templates in defaults apply to every task, so they may only use params and run.
  for (const { text, path } of templateStrings(['defaults'], defaults)) {
    checkTemplate(text, path, params, null, loc, issues);
    checkLiteralImage(text, path, loc, issues);
  }
  const dependsOn = reachability([...graph.values()]);
  const idSet = new Set(ids);
  for (const id of ids) {
    const task = tasksRaw[id];
    if (!isRecord(task)) continue;
    const matrix = checkStrategy(id, task, params, { id, ids: idSet, isUpstream: (other) => dependsOn(id, other), matrix: 'none' }, loc, issues);
    const scope: TaskScope = { id, ids: idSet, isUpstream: (other) => dependsOn(id, other), matrix };
    for (const { text, path } of templateStrings(['tasks', id], task)) {
      checkTemplate(text, path, params, scope, loc, issues);
      checkLiteralImage(text, path, loc, issues);
    }
    if (typeof task.if === 'string') checkCondition(task.if, ['tasks', id, 'if'], params, scope, loc, issues);
    checkSensor(task, ['tasks', id, 'sensor'], loc, issues);
  }
}

/**
 * The Kubernetes objects under `<base>.pod` (affinity, tolerations, volumes…), checked against
 * the pinned release's schema: a field the API server does not know would be dropped with only a
 * warning on a real cluster, so the pods would run without it.
 */
function checkKubeFields(base: SpecPath, fields: unknown, loc: Locator, issues: Issues): void {
  for (const p of kubeValueProblems(fields)) {
    const path = [...base, ...p.path];
    issues.add(p.at === 'key' ? loc.keyPos(path) : loc.valuePos(path), path, `${formatPath(path)}: ${p.message}`);
  }
  if (!isRecord(fields) || !isRecord(fields.pod)) return;
  for (const issue of checkPodFields(fields.pod)) {
    const path = [...base, 'pod', ...issue.path];
    const parent = path.slice(0, -1);
    const key = String(path[path.length - 1]);
    if (issue.kind === 'unknown-field') issues.add(loc.keyPos(path), path, `unknown key "${key}" ${where(parent)}${issue.detail}`);
    else if (issue.kind === 'required') issues.add(loc.keyPos(parent), path, `missing required key "${key}" ${where(parent)}${issue.detail}`);
    else issues.add(loc.valuePos(path), path, `${formatPath(path)}: ${issue.detail}`);
  }
  checkOctalLookalikes(loc.find([...base, 'pod']).value, [...base, 'pod'], loc, issues);
}

/**
 * Requests against limits as the task's container gets them: `defaults` and the task merge
 * resource by resource, so a request of one and a limit of the other meet only here, and a
 * default request a task's own limit makes right is no problem. One in `defaults` that no task
 * overrides is reported once: the same words at the same place.
 */
function checkMergedRequests(id: string, task: Record<string, unknown>, defaults: Record<string, unknown>, loc: Locator, issues: Issues): void {
  const merged = (kind: 'requests' | 'limits') => {
    const values: Record<string, unknown> = {};
    const from = new Map<string, SpecPath>();
    for (const [fields, base] of [
      [defaults, ['defaults', 'resources', kind]],
      [task, ['tasks', id, 'resources', kind]],
    ] as const) {
      const map = isRecord(fields.resources) ? fields.resources[kind] : undefined;
      if (!isRecord(map)) continue;
      for (const [r, q] of Object.entries(map)) {
        values[r] = q;
        from.set(r, [...base, r]);
      }
    }
    return { values, from };
  };
  const requests = merged('requests');
  const limits = merged('limits');
  for (const p of requestProblems(requests.values, limits.values)) {
    const at = requests.from.get(p.resource)!;
    const limit = limits.from.get(p.resource);
    const across = limit !== undefined && limit[0] !== at[0] ? ` (task "${id}" gets its limit from ${formatPath(limit)})` : '';
    issues.add(loc.valuePos(at), at, `${formatPath(at)}: ${p.message}${across}`);
  }
}

/**
 * What the API server checks across a pod's volumes and mounts, and would refuse the pod for when
 * the run gets to this task (after the tasks before it ran): each volume has a name of its own and
 * exactly one source, each mount names a volume of the pod and a path no other mount uses.
 * `volumes` and `volumeMounts` are each the task's, else `defaults`' (a task's list replaces the
 * default one), so a task may mount a volume of `defaults` or lose one its mounts need.
 */
function checkPodVolumes(id: string, task: Record<string, unknown>, defaults: Record<string, unknown>, loc: Locator, issues: Issues): void {
  const from = (field: string): { list: unknown[]; base: SpecPath } | null => {
    for (const [fields, base] of [
      [task, ['tasks', id, 'pod', field]],
      [defaults, ['defaults', 'pod', field]],
    ] as const) {
      const pod = fields.pod;
      if (isRecord(pod) && pod[field] !== undefined) return Array.isArray(pod[field]) ? { list: pod[field], base } : null;
    }
    return { list: [], base: ['tasks', id, 'pod', field] };
  };
  const volumes = from('volumes');
  const mounts = from('volumeMounts');
  if (volumes === null || mounts === null) return; // the schema reported the shape
  const fields = fieldNames('io.k8s.api.core.v1.Volume');
  const sources = fields.filter((f) => f !== 'name');
  const names = new Map<string, SpecPath>();
  volumes.list.forEach((v, i) => {
    if (!isRecord(v) || typeof v.name !== 'string') return;
    const path = [...volumes.base, i];
    const first = names.get(v.name);
    if (first !== undefined) {
      issues.add(loc.valuePos([...path, 'name']), [...path, 'name'], `${formatPath([...path, 'name'])}: volume name "${v.name}" is used twice (also at line ${loc.valuePos([...first, 'name']).line}); each volume of a pod needs a name of its own`);
    } else {
      names.set(v.name, path);
    }
    const given = Object.keys(v).filter((k) => sources.includes(k) && v[k] !== null);
    // A misspelt source (`secrett:`) is reported as an unknown key, with the right spelling.
    if (given.length !== 1 && Object.keys(v).every((k) => fields.includes(k))) {
      issues.add(
        loc.keyPos(path),
        path,
        `${formatPath(path)}: volume "${v.name}" has ${given.length === 0 ? 'no source' : `${given.length} sources (${given.join(', ')})`}; a Kubernetes Volume needs exactly one, such as emptyDir, configMap, secret or persistentVolumeClaim`,
      );
    }
  });
  const paths = new Map<string, number>();
  mounts.list.forEach((m, i) => {
    if (!isRecord(m)) return;
    const path = [...mounts.base, i];
    if (typeof m.name === 'string' && !names.has(m.name)) {
      const whose = mounts.base[0] === volumes.base[0] ? 'the pod' : `task "${id}"'s pod, whose volumes are ${formatPath(volumes.base)}`;
      const have = names.size === 0 ? 'it has no volumes' : `its volumes are ${[...names.keys()].map((n) => `"${n}"`).join(', ')}`;
      issues.add(
        loc.valuePos([...path, 'name']),
        [...path, 'name'],
        `${formatPath([...path, 'name'])}: volume mount "${m.name}" names no volume of ${whose}; ${have}. Add the volume under pod.volumes, or correct the name${didYouMean(m.name, [...names.keys()])}`,
      );
    }
    if (typeof m.mountPath === 'string') {
      const first = paths.get(m.mountPath);
      if (first !== undefined) {
        issues.add(loc.valuePos([...path, 'mountPath']), [...path, 'mountPath'], `${formatPath([...path, 'mountPath'])}: mount path "${m.mountPath}" is used twice (also by ${formatPath([...mounts.base, first])}); each mount of a container needs a path of its own`);
      } else {
        paths.set(m.mountPath, i);
      }
    }
  });
}

/**
 * `defaultMode: 0644` is octal in a Kubernetes manifest (YAML 1.1) but the decimal number 644 in
 * a spec (YAML 1.2): the file would get other permissions than meant, silently. Such a number is
 * an error that says both ways to write it.
 */
function checkOctalLookalikes(node: unknown, path: SpecPath, loc: Locator, issues: Issues): void {
  if (isMap(node)) {
    for (const pair of node.items) checkOctalLookalikes(pair.value, [...path, keyText(pair.key)], loc, issues);
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => checkOctalLookalikes(item, [...path, i], loc, issues));
  } else if (isScalar(node) && typeof node.value === 'number') {
    const text = loc.source(node);
    if (/^0[0-7]+$/.test(text) && parseInt(text, 8) !== node.value) {
      const digits = text.replace(/^0+/, '');
      issues.add(
        loc.nodePos(node),
        path,
        `${formatPath(path)}: ${text} is the decimal number ${node.value} here (a spec is YAML 1.2), not octal as in a YAML 1.1 manifest; write 0o${digits} for octal (${parseInt(text, 8)}) or ${digits} for decimal`,
      );
    }
  }
}

/** An image written out (no `{{ }}`; a rendered one is checked before the run, in prerender.ts) must be an image reference. */
function checkLiteralImage(text: string, path: SpecPath, loc: Locator, issues: Issues): void {
  if (path[path.length - 1] !== 'image' || text.includes('{{')) return;
  const problem = imageProblem(text);
  if (problem !== null) issues.add(loc.valuePos(path), path, `${formatPath(path)}: ${describeValue(text)} is not an image reference: ${problem}`);
}

/** Set on every task container by pod-dag-action itself (the path of the outputs file). */
const RESERVED_ENV = 'POD_DAG_OUTPUT';

function checkEnvName(name: string, path: SpecPath, loc: Locator, issues: Issues): void {
  // An empty key (`"":`, `null:`) was reported where it is written, with what to do.
  if (name === '') return;
  if (name === RESERVED_ENV) {
    issues.add(loc.keyPos(path), path, `environment variable "${RESERVED_ENV}" is set by pod-dag-action (the file a task writes its outputs to); use another name`);
  } else if (!ENV_NAME.test(name)) {
    issues.add(loc.keyPos(path), path, `environment variable name "${name}" is not valid: use letters, digits, "_", "-" and ".", not starting with a digit`);
  }
}

/** The task a reference is checked from, and the matrix keys its templates may read. */
interface TaskScope {
  id: string;
  ids: ReadonlySet<string>;
  isUpstream: (other: string) => boolean;
  /** `none`: no strategy.matrix; `dynamic`: keys known only at run time; else the keys. */
  matrix: 'none' | 'dynamic' | ReadonlySet<string>;
}

/** Why a reference to task `ref` from `scope` is invalid, or null. */
function taskRefProblem(ref: string, scope: TaskScope | null): string | null {
  if (scope === null) return 'defaults apply to every task, so they cannot use task outputs; move this value to the tasks that need it';
  if (!scope.ids.has(ref)) return `task "${ref}" does not exist${didYouMean(ref, scope.ids)}`;
  if (ref === scope.id) return `a task cannot use its own outputs or result`;
  if (!scope.isUpstream(ref)) {
    return `task "${ref}" is not upstream of "${scope.id}", so it may not have run yet; add "${ref}" to tasks.${scope.id}.needs (directly or through a task it needs)`;
  }
  return null;
}

function paramProblem(name: string, params: string[]): string | null {
  const lower = name.toLowerCase();
  // GitHub's contexts ignore case: params.DB reads param "db".
  if (params.some((p) => p.toLowerCase() === lower)) return null;
  const declared = params.length === 0 ? 'the spec declares no params' : `declared params: ${params.join(', ')}`;
  return `unknown param "${name}"${didYouMean(name, params)} (${declared})`;
}

/** The label and annotation keys the action sets itself (src/kube/pod.ts LABELS, ANNOTATIONS). */
const OWN_KEY = /^(pod-dag\.io\/|app\.kubernetes\.io\/managed-by$)/;

/**
 * A spec may not set the action's own labels and annotations: they say which run a pod belongs
 * to (its selector, housekeeping and the post step's sweep go by them), so a spec that set one
 * the action leaves unset (the repository, outside GitHub) could pass a pod off as another's.
 */
function checkOwnMetadata(pod: unknown, path: SpecPath, loc: Locator, issues: Issues): void {
  if (!isRecord(pod)) return;
  for (const field of ['labels', 'annotations'] as const) {
    const map = pod[field];
    if (!isRecord(map)) continue;
    for (const key of Object.keys(map)) {
      if (!OWN_KEY.test(key)) continue;
      const at = [...path, field, key];
      issues.add(loc.keyPos(at), at, `${field === 'labels' ? 'label' : 'annotation'} "${key}" is set by pod-dag-action itself (it says which run a pod belongs to); use a key outside "pod-dag.io/"`);
    }
  }
}

/** Why a reference is invalid from `scope` (null: from defaults), or null. */
function refProblem(r: ExprRefAt['ref'], params: string[], scope: TaskScope | null): string | null {
  switch (r.kind) {
    case 'param':
      return paramProblem(r.name, params);
    case 'params':
      return null;
    case 'output':
      // An output JavaScript reserves could never be written (parseOutputs refuses it).
      return taskRefProblem(r.task, scope) ?? (RESERVED_NAMES.has(r.name) ? `output name ${reservedNameProblem(r.name)!}` : null);
    case 'outputs':
    case 'result':
      return taskRefProblem(r.task, scope);
    case 'matrix': {
      if (scope === null) return 'defaults apply to every task, so they cannot use matrix values; move this value to the tasks with strategy.matrix';
      if (scope.matrix === 'none') return `task "${scope.id}" has no strategy.matrix, so matrix has no values; add strategy: {matrix: {...}} to the task`;
      if (scope.matrix === 'dynamic' || r.key === null) return null;
      const keys = [...scope.matrix];
      if (keys.some((k) => k.toLowerCase() === r.key!.toLowerCase())) return null;
      return `matrix key "${r.key}" is not in the matrix of task "${scope.id}"${didYouMean(r.key, keys)} (keys: ${keys.join(', ')})`;
    }
    case 'run': {
      if (r.field === null || (RUN_FIELDS as readonly string[]).some((f) => f.toLowerCase() === r.field!.toLowerCase())) return null;
      return `unknown field "${r.field}" of run${didYouMean(r.field, RUN_FIELDS)} (fields: ${RUN_FIELDS.join(', ')})`;
    }
  }
}

/** The text of a reference, for messages: `params.x`, `tasks.a.outputs.b`. */
function refText(r: ExprRefAt['ref']): string {
  switch (r.kind) {
    case 'param':
      return `params.${r.name}`;
    case 'params':
      return 'params';
    case 'output':
      return `tasks.${r.task}.outputs.${r.name}`;
    case 'outputs':
      return `tasks.${r.task}.outputs`;
    case 'result':
      return `tasks.${r.task}.result`;
    case 'matrix':
      return r.key === null ? 'matrix' : `matrix.${r.key}`;
    case 'run':
      return r.field === null ? 'run' : `run.${r.field}`;
  }
}

function checkTemplate(text: string, path: SpecPath, params: string[], scope: TaskScope | null, loc: Locator, issues: Issues, kind: 'template' | 'matrix' = 'template'): ParsedExpression[] {
  const { refs, errors } = findTemplateRefs(text, kind);
  for (const e of errors) {
    // `{{ ds }}` and friends: say what to write here, not only what is wrong.
    const open = text.lastIndexOf('{{', e.offset + 1);
    const close = open < 0 ? -1 : text.indexOf('}}', open);
    const macro = close > open ? airflowMacroHint(text.slice(open + 2, close)) : null;
    issues.add(loc.stringPos(path, e.offset), path, `${formatPath(path)}: ${e.message}${macro === null ? '' : `; ${macro}`}`);
  }
  for (const m of refs) {
    const inner = m.start + 2;
    if (kind === 'template' && m.expression.ast instanceof ContextAccess) {
      const name = m.expression.ast.name.lexeme;
      issues.add(
        loc.stringPos(path, m.start),
        path,
        `${formatPath(path)}: ${m.text} is a map, not text; write {{ ${name}.<name> }}, or {{ toJSON(${name}) }} to pass it as JSON`,
      );
      continue;
    }
    for (const { ref, offset } of m.expression.refs) {
      const problem = refProblem(ref, params, scope);
      if (problem !== null) {
        // A lone reference is shown (and pointed at) as the whole {{ }}; inside a larger expression, itself.
        const whole = isWholeRef(m.expression, ref);
        issues.add(loc.stringPos(path, whole ? m.start : inner + offset), path, `${formatPath(path)}: ${whole ? m.text : refText(ref)}: ${problem}`);
      }
    }
  }
  return refs.map((m) => m.expression);
}

/** Whether the expression is nothing but this reference (messages then quote the whole {{ }}). */
function isWholeRef(expr: ParsedExpression, ref: ExprRefAt['ref']): boolean {
  return expr.refs.length === 1 && expr.refs[0]!.ref === ref && /^[\s]*[A-Za-z_][A-Za-z0-9_.-]*[\s]*$/.test(expr.source);
}

function checkCondition(source: string, path: SpecPath, params: string[], scope: TaskScope, loc: Locator, issues: Issues): void {
  let expr: ParsedExpression;
  try {
    expr = parseExpression(source, 'condition');
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    // The column in characters, as the rest of the message's positions (an emoji is one).
    const column = [...source.slice(0, err.column - 1)].length + 1;
    issues.add(loc.stringPos(path, err.column - 1), path, `${formatPath(path)}: ${err.message} at column ${column} of the expression "${source}"`);
    return;
  }
  for (const { ref, offset } of expr.refs) {
    const problem = refProblem(ref, params, scope);
    if (problem !== null) issues.add(loc.stringPos(path, offset), path, `${formatPath(path)}: ${refText(ref)}: ${problem}`);
  }
}

/**
 * Checks `strategy:`: a matrix written out must expand (GitHub's rules, at most 256
 * combinations); a dynamic one must be one `{{ }}` reading only tasks upstream. Returns what
 * `{{ matrix.<key> }}` may read in the task.
 */
function checkStrategy(id: string, task: Record<string, unknown>, params: string[], scope: TaskScope, loc: Locator, issues: Issues): TaskScope['matrix'] {
  const strategy = task.strategy;
  if (!isRecord(strategy)) return 'none';
  const matrix = strategy.matrix;
  const path: SpecPath = ['tasks', id, 'strategy', 'matrix'];
  if (typeof matrix === 'string') {
    const exprs = checkTemplate(matrix, path, params, scope, loc, issues, 'matrix');
    const trimmed = matrix.trim();
    if (exprs.length !== 1 || !trimmed.startsWith('{{') || !trimmed.endsWith('}}')) {
      issues.add(
        loc.valuePos(path),
        path,
        `${formatPath(path)}: a matrix given as text must be one {{ }} expression whose value is a matrix map, e.g. "{{ fromJSON(tasks.plan.outputs.matrix) }}"; found ${describeValue(matrix)}`,
      );
    }
    return 'dynamic';
  }
  if (!isRecord(matrix) || !Object.values(matrix).every(Array.isArray)) return 'dynamic'; // the schema reported it
  // Each include entry's keys are matrix keys too; exclude entries name the keys above.
  const keys = Object.keys(matrix)
    .filter((k) => k !== 'include' && k !== 'exclude')
    .map((k) => ({ name: k, path: [...path, k] as SpecPath }));
  if (Array.isArray(matrix.include)) {
    matrix.include.forEach((entry, i) => {
      if (isRecord(entry)) for (const k of Object.keys(entry)) keys.push({ name: k, path: [...path, 'include', i, k] });
    });
  }
  checkCaseCollisions(keys, 'matrix key', '{{ matrix.<key> }}', loc, issues);
  const expansion = expandMatrix(id, matrix);
  if (!expansion.ok) {
    for (const p of expansion.problems) {
      const at = [...path, ...p.path];
      issues.add(loc.keyPos(at), at, `${formatPath(path)}: ${p.message}`);
    }
    return 'dynamic';
  }
  return matrixKeys(expansion.instances);
}

/**
 * Names that differ only in case (`DB` and `db`): an expression reads them ignoring case, as
 * GitHub's contexts do, so one of them could never be read. Reported at the second, naming the first.
 */
function checkCaseCollisions(names: { name: string; path: SpecPath }[], what: string, written: string, loc: Locator, issues: Issues): void {
  const first = new Map<string, { name: string; path: SpecPath }>();
  for (const n of names) {
    const lower = n.name.toLowerCase();
    const seen = first.get(lower);
    if (seen === undefined) first.set(lower, n);
    else if (seen.name !== n.name) {
      const at = loc.keyPos(seen.path);
      issues.add(
        loc.keyPos(n.path),
        n.path,
        `${what} "${n.name}" differs from ${what} "${seen.name}" (line ${at.line}, column ${at.col}) only in case; ${written} ignores case, as GitHub's contexts do, so the two cannot be told apart: rename one of them`,
      );
    }
  }
}

function checkSensor(task: Record<string, unknown>, path: SpecPath, loc: Locator, issues: Issues): void {
  const sensor = task.sensor;
  if (!isRecord(sensor) || typeof sensor.interval !== 'string') return;
  const interval = parseDuration(sensor.interval);
  if (interval.ok && interval.ms < 1000) {
    const at = [...path, 'interval'];
    issues.add(loc.valuePos(at), at, `${formatPath(at)}: a sensor pokes at most once a second; expected an interval of at least "1s", found ${describeValue(sensor.interval)}`);
  }
}
