// Bundles the compiled sources (lib/, from `tsc -p tsconfig.build.json`) into dist/ with
// @vercel/ncc. One bundle, dist/index.js, holds the action's main step, its post step and the
// CLI, so the Kubernetes client (most of the size) ships once; dist/post.js and dist/cli.js only
// name their entry and import it. dist/licenses.txt lists the licences of everything bundled.
import { createRequire } from 'node:module';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ncc = require('@vercel/ncc');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

const { code, assets } = await ncc(path.join(root, 'lib', 'entry.js'), {
  minify: false,
  sourceMap: false,
  quiet: true,
  license: 'licenses.txt',
  target: 'es2023',
});
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
for (const [name, asset] of Object.entries(assets ?? {})) {
  if (name === 'licenses.txt') await writeFile(path.join(dist, name), asset.source);
  else if (name !== 'package.json') throw new Error(`ncc emitted an unexpected asset '${name}': bundle it or ship it explicitly`);
}
await writeFile(path.join(dist, 'index.js'), code);
const shim = (entry, shebang) =>
  `${shebang ? '#!/usr/bin/env node\n' : ''}// The ${entry === 'post' ? "action's post step" : '`pod-dag` CLI'}: the code is in index.js (one bundle for all entry points).\nglobalThis.__POD_DAG_ENTRY__ = '${entry}';\nawait import('./index.js');\n`;
await writeFile(path.join(dist, 'post.js'), shim('post', false));
await writeFile(path.join(dist, 'cli.js'), shim('cli', true), { mode: 0o755 });
await writeFile(path.join(dist, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
console.log(`bundled dist/index.js (${(code.length / 1e6).toFixed(1)} MB), dist/post.js, dist/cli.js`);
