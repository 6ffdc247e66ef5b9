// Bundles the compiled sources (lib/, from `tsc -p tsconfig.build.json`) into dist/ with
// @vercel/ncc. One bundle, dist/index.js, holds the action's main step, its post step and the
// CLI, so the Kubernetes client (most of the size) ships once; dist/post.js and dist/cli.js only
// name their entry and import it. dist/licenses.txt lists the licences of everything bundled.
//
// What only `run` and `dry-run` need (the Kubernetes client) is loaded with `import()` in the
// sources, and ncc puts each such part in a chunk of its own, dist/<id>.index.js, which
// dist/index.js imports (relative to itself) when a mode needs it: `plan` and `validate` never
// load it. The chunk ids are deterministic (the modules' paths), so a rebuild gives the same files.
// ncc's licence file covers only one chunk once there are several (each chunk's file gets the
// same name and the last one wins), so dist/licenses.txt is written here, from every module of
// the build, in the format of ncc's licence plugin.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ncc = require('@vercel/ncc');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

const { code, assets, stats } = await ncc(path.join(root, 'lib', 'entry.js'), {
  minify: false,
  sourceMap: false,
  quiet: true,
  target: 'es2023',
});
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
const chunks = [];
for (const [name, asset] of Object.entries(assets ?? {})) {
  if (name === 'package.json') continue;
  if (!/^\d+\.index\.js$/.test(name)) throw new Error(`ncc emitted an unexpected asset '${name}': bundle it or ship it explicitly`);
  chunks.push(name);
  await writeFile(path.join(dist, name), asset.source);
}
await writeFile(path.join(dist, 'index.js'), code);
await writeFile(path.join(dist, 'licenses.txt'), licenses(stats.compilation));
const shim = (entry, shebang) =>
  `${shebang ? '#!/usr/bin/env node\n' : ''}// The ${entry === 'post' ? "action's post step" : '`pod-dag` CLI'}: the code is in index.js (one bundle for all entry points).\nglobalThis.__POD_DAG_ENTRY__ = '${entry}';\nawait import('./index.js');\n`;
await writeFile(path.join(dist, 'post.js'), shim('post', false));
await writeFile(path.join(dist, 'cli.js'), shim('cli', true), { mode: 0o755 });
await writeFile(path.join(dist, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
const size = (name) => `${(assets[name].source.length / 1e6).toFixed(1)} MB`;
console.log(`bundled dist/index.js (${(code.length / 1e6).toFixed(1)} MB), ${chunks.length} chunk${chunks.length === 1 ? '' : 's'} loaded on demand (${chunks.map((c) => `${c}: ${size(c)}`).join(', ') || 'none'}), dist/post.js, dist/cli.js`);

/**
 * The licences of every package with a module in the build (in index.js or in a chunk): its name,
 * the licence of its package.json and the text of its LICENSE/LICENCE file, sorted by name, one
 * entry per package name (as ncc's licence plugin writes them).
 */
function licenses(compilation) {
  const dirs = new Set();
  const visit = (module) => {
    for (const inner of module.modules ?? []) visit(inner); // modules ncc concatenated into one
    const file = module.resource;
    const at = file?.lastIndexOf(`${path.sep}node_modules${path.sep}`) ?? -1;
    if (at < 0) return;
    const parts = file.slice(at + 14).split(path.sep);
    dirs.add(file.slice(0, at + 14) + parts.slice(0, parts[0].startsWith('@') ? 2 : 1).join(path.sep));
  };
  // Modules in no chunk were left out (unused exports): their packages are not bundled.
  for (const chunk of compilation.chunks) for (const module of compilation.chunkGraph.getChunkModulesIterable(chunk)) visit(module);
  const entries = new Map();
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    if (entries.has(pkg.name)) continue;
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f) && !statSync(path.join(dir, f)).isDirectory());
    const text = file ? readFileSync(path.join(dir, file), 'utf8').replace(/\r\n/g, '\n') : null;
    const id = typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? null);
    entries.set(pkg.name, `${pkg.name}${id ? `\n${id}` : ''}${text ? `\n${text}` : ''}`);
  }
  return [...entries].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, entry]) => `${entry}\n\n`).join('').trim() + '\n';
}
