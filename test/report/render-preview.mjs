#!/usr/bin/env node
/**
 * Renders a job summary as a picture, to look at it as a person would on GitHub.
 *
 *   node_modules/.bin/node test/report/render-preview.mjs [scenario] [out-dir]
 *
 * scenario: retries (default), failure, success, skips, cancel, hostile, fan-out, big, plan, dry-run.
 * Writes <out-dir>/<scenario>.md, .html and .png (out-dir defaults to .tmp/preview).
 *
 * The Markdown is turned into HTML with `marked` (GFM, as GitHub does, roughly) and every
 * ```mermaid block into a `<pre class="mermaid">` that the real Mermaid from node_modules draws;
 * Debian's headless Chromium takes the screenshot (`apt-get install -y chromium`). Nothing is
 * fetched from the network.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { marked } from 'marked';
import { renderDryRunSummary, renderPlanSummary, renderRunSummary } from '../../src/report/summary.ts';
import * as f from './fixtures.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scenario = process.argv[2] ?? 'retries';
const outDir = resolve(process.argv[3] ?? join(root, '.tmp/preview'));

const tails = { 'migrate-data': f.migrateTail() };
const markdown = {
  success: () => renderRunSummary(f.info(), f.successState(), {}, { logTailLines: 50 }),
  retries: () => renderRunSummary(f.info(), f.retriesState(), {}, { logTailLines: 50 }),
  failure: () => renderRunSummary(f.info(), f.failureState(), tails, { logTailLines: 50, keepPods: 'on-failure', history: f.history() }),
  skips: () => renderRunSummary(f.info(f.skipsSpec()), f.skipsState(), {}, { logTailLines: 50 }),
  cancel: () => renderRunSummary(f.info(), f.cancelState(), {}, { logTailLines: 50 }),
  hostile: () => {
    const [i, state, hostileTails] = f.hostileRun();
    return renderRunSummary(i, state, hostileTails, { logTailLines: 50 });
  },
  'fan-out': () => {
    const spec = f.fanOutSpec(32);
    return renderRunSummary(f.info(spec), f.fanOutState(spec, ['shard-17']), { 'shard-17': f.shardTail() }, { logTailLines: 50, keepPods: 'on-failure' });
  },
  big: () => {
    const spec = f.fanOutSpec(500, true);
    const state = f.fanOutState(spec, ['shard-211', 'load-042'], ['shard-137']);
    return renderRunSummary(f.info(spec), state, { 'shard-211': f.shardTail(), 'load-042': f.shardTail() }, { logTailLines: 50, keepPods: 'on-failure' });
  },
  plan: () => renderPlanSummary(f.info(f.clickhouseSpec(), 'plan'), {}),
  'dry-run': () =>
    renderDryRunSummary(f.info(f.clickhouseSpec(), 'dry-run'), [
      { task: 'drop-destination-db', pod: 'p-1', accepted: true, message: null },
      { task: 'create-db', pod: 'p-2', accepted: true, message: null },
      { task: 'migrate-data', pod: 'p-3', accepted: false, message: 'pods "p-3" is forbidden: exceeded quota: compute' },
      { task: 'report', pod: 'p-4', accepted: true, message: null, problems: ['Secret "clickhouse-creds" has no key "password" (it has "pass")'] },
    ], { checks: { done: ['every Secret the pods name exists, with its keys'], skipped: [{ check: 'a node can run each pod (selector, affinity, taints, resources)', why: 'RBAC does not let these credentials list nodes (a cluster-wide permission, granted by a ClusterRole)' }] } }),
}[scenario];
if (markdown === undefined) {
  console.error(`Unknown scenario '${scenario}'. Expected one of: success, retries, failure, skips, cancel, hostile, fan-out, big, plan, dry-run.`);
  process.exit(2);
}

const md = markdown();
let body = marked.parse(md, { gfm: true, async: false });
// marked writes ```mermaid as <pre><code class="language-mermaid">; Mermaid wants <pre class="mermaid">.
body = body.replace(/<pre><code class="language-mermaid">([\s\S]*?)<\/code><\/pre>/g, '<pre class="mermaid">$1</pre>');

const mermaidJs = pathToFileURL(join(root, 'node_modules/mermaid/dist/mermaid.min.js')).href;
const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${scenario}</title>
<style>
  body { font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; font-size: 14px;
         line-height: 1.5; color: #1f2328; background: #fff; margin: 0; padding: 24px 32px; max-width: 1140px; }
  h2 { font-size: 1.5em; border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
  h3 { font-size: 1.25em; margin-top: 24px; }
  h4 { font-size: 1em; }
  a { color: #0969da; text-decoration: none; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 85%; background: #eff1f3;
         padding: .2em .4em; border-radius: 6px; }
  pre { background: #f6f8fa; padding: 16px; border-radius: 6px; overflow: auto; }
  pre code { background: none; padding: 0; }
  pre.mermaid { background: none; text-align: center; }
  table { border-collapse: collapse; display: block; overflow: auto; }
  th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
  th { font-weight: 600; }
  tr:nth-child(2n) { background: #f6f8fa; }
  blockquote { margin: 0; padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
  details { margin: 8px 0; } summary { cursor: pointer; }
</style>
<script src="${mermaidJs}"></script>
</head><body>
${body}
<script>
  // GitHub draws each chart with its defaults; startOnLoad after the body is in place.
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
  mermaid.run({ querySelector: 'pre.mermaid' }).then(() => { document.title = 'rendered'; },
    (e) => { document.body.insertAdjacentHTML('afterbegin', '<pre style="color:red">' + e + '</pre>'); });
  // Open the collapsed blocks so the picture shows them.
  for (const d of document.querySelectorAll('details')) d.open = true;
</script>
</body></html>`;

mkdirSync(outDir, { recursive: true });
const base = join(outDir, scenario);
writeFileSync(`${base}.md`, md);
writeFileSync(`${base}.html`, html);
execFileSync(
  'chromium',
  [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--allow-file-access-from-files',
    `--user-data-dir=${mkdtempSync(join(tmpdir(), 'chromium-'))}`,
    '--virtual-time-budget=10000',
    `--screenshot=${base}.png`,
    `--window-size=${process.env.PREVIEW_WIDTH ?? 1200},${process.env.PREVIEW_HEIGHT ?? 2000}`,
    pathToFileURL(`${base}.html`).href,
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
console.log(`${base}.png`);
