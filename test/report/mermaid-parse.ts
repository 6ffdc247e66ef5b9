/**
 * The real Mermaid parser for the tests: every ```mermaid block of a summary must parse, so a
 * summary can never show GitHub's "Unable to render rich display" box instead of a chart.
 *
 * Mermaid's parser wants a DOM (DOMPurify runs at import); jsdom gives it one, in tests only.
 */
import { JSDOM } from 'jsdom';

type Mermaid = { parse(text: string): Promise<{ diagramType: string } | false> };
let loaded: Promise<Mermaid> | null = null;

/** Loads Mermaid once, with a jsdom window as its global DOM. */
function mermaid(): Promise<Mermaid> {
  loaded ??= (async () => {
    const dom = new JSDOM('<!doctype html><html><body></body></html>');
    const g = globalThis as Record<string, unknown>;
    g.window ??= dom.window;
    g.document ??= dom.window.document;
    const mod = (await import('mermaid')) as unknown as { default: Mermaid };
    return mod.default;
  })();
  return loaded;
}

/** The contents of every ```mermaid block in a Markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((m) => m[1] ?? '');
}

/** Parses a chart with the real parser; returns its diagram type or throws the parser's error. */
export async function parseMermaid(chart: string): Promise<string> {
  const m = await mermaid();
  const result = await m.parse(chart);
  if (result === false) throw new Error(`Mermaid refused the chart:\n${chart}`);
  return result.diagramType;
}
