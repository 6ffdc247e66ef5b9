/**
 * Bounds on what a YAML document may cost once its aliases are expanded, checked on the parsed
 * document BEFORE it is turned into data (`toJS`), so that a small file cannot take minutes and
 * gigabytes (a "billion laughs" whose aliases each appear a few times, fanned out level by level,
 * passes the yaml library's own `maxAliasCount`, which counts uses of aliases, not their size).
 *
 * The walk is iterative (a deeply nested file cannot overflow the stack) and visits each node of
 * the document once: the expanded size of an anchored node is computed once and added at every
 * alias to it, so the check costs time linear in the file, whatever it expands to.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, visit, type Document } from 'yaml';

/** The limits, and why each value. */
export const YAML_LIMITS = {
  /**
   * Nodes (scalars, maps, lists, pairs) of the document once aliases are expanded. A DAG of
   * 2,000 tasks written out is about 30,000; this leaves room for very large specs while keeping
   * the data under ~100 MB.
   */
  maxNodes: 500_000,
  /** Characters of all scalars (keys included) once aliases are expanded: 16 Mi. */
  maxChars: 16 * 1024 * 1024,
  /** Nesting depth once aliases are expanded. A pod spec's deepest field (affinity) is ~12 down. */
  maxDepth: 100,
} as const;

/** A problem with a document's size or shape, or null when it is within the limits. */
export function yamlLimitProblem(doc: Document, limits: { maxNodes: number; maxChars: number; maxDepth: number } = YAML_LIMITS): string | null {
  return yamlLimitProblemAt(doc, limits)?.message ?? null;
}

/** The offset in the text of a node (0 when it has none). */
function offsetOf(node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0] ?? 0;
}

/**
 * yamlLimitProblem with where it was found: the alias that makes a cycle, the node nested too
 * deep, the node whose expansion is too large.
 */
export function yamlLimitProblemAt(doc: Document, limits: { maxNodes: number; maxChars: number; maxDepth: number } = YAML_LIMITS): { message: string; offset: number } | null {
  interface Size {
    nodes: number;
    chars: number;
    depth: number;
  }
  const done = new Map<unknown, Size>();
  const open = new Set<unknown>();
  const children = (node: unknown): unknown[] => {
    if (isMap(node) || isSeq(node)) return node.items as unknown[];
    if (isPair(node)) return [node.key, node.value];
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return target === undefined ? [] : [target];
    }
    return [];
  };
  // Post-order walk with an explicit stack: a node's size is known once its children's are.
  // `level` counts the document's own nesting (a map, its pair, the pair's value: three levels
  // per level of data at most), so a deep file is refused before anything recursive sees it.
  const stack: { node: unknown; expanded: boolean; level: number }[] = [{ node: doc.contents, expanded: false, level: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const { node } = top;
    if (node === null || node === undefined || done.has(node)) {
      stack.pop();
      continue;
    }
    if (!top.expanded) {
      top.expanded = true;
      open.add(node);
      for (const child of children(node)) {
        if (child === null || child === undefined || done.has(child)) continue;
        // An alias to a node that contains it makes circular data, which nothing downstream can walk.
        if (open.has(child)) return { message: 'an alias refers to a node that contains it (a cycle); a spec must be a tree', offset: offsetOf(node) };
        if (top.level + 1 > limits.maxDepth * 3) return { message: `it is nested more than ${limits.maxDepth} levels deep`, offset: offsetOf(child) };
        stack.push({ node: child, expanded: false, level: top.level + 1 });
      }
      continue;
    }
    stack.pop();
    open.delete(node);
    const size: Size = { nodes: 1, chars: 0, depth: 0 };
    if (isScalar(node)) {
      const v = node.value;
      size.chars = typeof v === 'string' ? v.length : String(v).length;
    }
    let deepest = 0;
    for (const child of children(node)) {
      const c = child === null || child === undefined ? null : done.get(child);
      if (!c) continue;
      size.nodes += c.nodes;
      size.chars += c.chars;
      if (c.depth > deepest) deepest = c.depth;
    }
    // Pairs and aliases are not levels of the data; maps, lists and scalars are.
    size.depth = isPair(node) || isAlias(node) ? deepest : deepest + 1;
    if (isAlias(node)) size.nodes -= 1;
    if (size.nodes > limits.maxNodes) {
      return { message: `its aliases expand to more than ${limits.maxNodes.toLocaleString('en-US')} values; write the repeated parts out, or share them through \`defaults\``, offset: offsetOf(node) };
    }
    if (size.chars > limits.maxChars) {
      return { message: `its aliases expand to more than ${Math.round(limits.maxChars / 1024 / 1024)} MiB of text; write the repeated parts out, or share them through \`defaults\``, offset: offsetOf(node) };
    }
    if (size.depth > limits.maxDepth) return { message: `it is nested more than ${limits.maxDepth} levels deep`, offset: offsetOf(node) };
    done.set(node, size);
  }
  return null;
}

/** The tags a document may carry: YAML 1.2's core schema, which states what a plain value already says. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * YAML features that would change what a value means without a word, found before the data is
 * built: a `%YAML 1.1` directive (the parser would then read `yes`, `on` and `010` as YAML 1.1
 * does, true and 8, where a spec reads them as text and 10), a tag outside the core schema
 * (`!!binary` makes bytes, `!!set` a map of nulls, `!custom` is dropped), and an alias whose
 * anchor is not set above it. Each with the offset in `text` it is at; `what` names the document
 * in messages ("a spec", "the params input").
 */
export function yamlFeatureProblems(doc: Document, text: string, what: string): { offset: number; message: string }[] {
  const problems: { offset: number; message: string }[] = [];
  const yaml = doc.directives?.yaml;
  if (yaml?.explicit === true && yaml.version !== '1.2') {
    problems.push({
      offset: /^%YAML\b/m.exec(text)?.index ?? 0,
      message: `the "%YAML ${yaml.version}" directive is not supported: ${what} is YAML 1.2 (where yes, on and no are text and 010 is ten); remove the directive, and write what 1.1 read differently as 1.2 does (true instead of yes, 0o10 for octal)`,
    });
  }
  // A core tag on a value it cannot read (`!!int abc`, `!!float 3`) leaves the value as text.
  for (const w of doc.warnings) {
    const core = w.code === 'TAG_RESOLVE_FAILED' ? /tag:yaml\.org,2002:(\w+)/.exec(w.message) : null;
    if (core !== null && CORE_TAGS.has(`tag:yaml.org,2002:${core[1]}`)) {
      problems.push({
        offset: w.pos[0],
        message: `the YAML tag !!${core[1]} does not fit the value written after it, which is then read as text; remove the tag and write the value itself (in quotes to make it text)`,
      });
    }
  }
  visit(doc, {
    Node(_key, node) {
      if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
        // The node's range starts after its tag: the tag is the last "!…" before it.
        const start = node.range?.[0] ?? 0;
        let at = text.lastIndexOf('!', start);
        while (at > 0 && text[at - 1] === '!') at--;
        const written = at < 0 ? node.tag : (/^\S+/.exec(text.slice(at))?.[0] ?? node.tag);
        problems.push({
          offset: at < 0 ? start : at,
          message: `the YAML tag ${written} is not supported in ${what} (only the core ones, such as !!str, are): remove it and write the value itself (in quotes to make it text)`,
        });
      }
      if (isAlias(node) && node.resolve(doc) === undefined) {
        problems.push({
          offset: node.range?.[0] ?? 0,
          message: `the alias *${node.source} names no anchor: set &${node.source} on a value above it (an alias repeats a value written before it, in the same file), or correct the name`,
        });
      }
    },
  });
  return problems;
}

/** What to do about a YAML syntax error the parser found, after "; " (or nothing). */
export function syntaxHint(code: string, message: string): string {
  switch (code) {
    case 'TAB_AS_INDENT':
      return '; indent with spaces (YAML does not allow tabs in indentation: set your editor to insert spaces in YAML files)';
    case 'MISSING_CHAR':
      return /quote/.test(message) ? '; a quoted value opened above is never closed: add its closing quote' : '';
    case 'BAD_INDENT':
      if (/Flow (sequence|map)/.test(message)) return '; close the bracket, or indent its lines more than the key it belongs to';
      return '; align this line with the keys above it (the same number of spaces), or indent it more to put it under the key above';
    case 'BLOCK_AS_IMPLICIT_KEY':
      return '; a value that holds ": " must be quoted (key: "a: b"), a map under a key goes on the lines below it, indented, and a key on the line below that is indented more than this one must be aligned with it';
    case 'MULTILINE_IMPLICIT_KEY':
      return '; a key must be on one line: check for a missing ":" at the end of the key above, or a value continued on a line not indented more than its key';
    case 'UNEXPECTED_TOKEN':
      if (/flow-map-end/.test(message)) return '; this "}" closes no "{": remove it, or add the "{" where the map starts';
      if (/flow-seq-end/.test(message)) return '; this "]" closes no "[": remove it, or add the "[" where the list starts';
      return "; check this line's indentation (list items \"- \" and keys \"key:\" of one level start at the same column) and that every bracket and quote opened above is closed";
    case 'BAD_SCALAR_START':
      return '; quote the value (YAML reserves this character at the start of a plain value)';
    case 'BAD_DQ_ESCAPE':
      return '; inside double quotes a backslash starts an escape: write \\\\ for a backslash, or use single quotes';
    case 'KEY_OVER_1024_CHARS':
      return '; a key is at most 1024 characters: check for a missing line break or a quote that is not closed';
    default:
      return '';
  }
}
