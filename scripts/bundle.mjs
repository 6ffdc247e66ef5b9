// Bundles the compiled entry points (lib/*.js, from `tsc -p tsconfig.build.json`) into dist/
// with @vercel/ncc: dist/index.js (the action), dist/post.js (its post step), dist/cli.js (the
// `pod-dag` CLI), and dist/licenses.txt (the third-party licences of everything bundled).
import { createRequire } from 'node:module';
import { mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ncc = require('@vercel/ncc');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const entries = [
  ['lib/main.js', 'index.js'],
  ['lib/post.js', 'post.js'],
  ['lib/cli.js', 'cli.js'],
];

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
const licenses = new Map();
for (const [input, output] of entries) {
  const { code, assets } = await ncc(path.join(root, input), {
    minify: false,
    sourceMap: false,
    quiet: true,
    license: 'licenses.txt',
    target: 'es2023',
  });
  for (const [name, asset] of Object.entries(assets ?? {})) {
    if (name === 'licenses.txt') {
      licenses.set(output, asset.source.toString());
    } else if (name !== 'package.json') {
      throw new Error(`ncc emitted an unexpected asset '${name}' for ${input}: bundle it or ship it explicitly`);
    }
  }
  const body = output === 'cli.js' && !code.startsWith('#!') ? `#!/usr/bin/env node\n${code}` : code;
  await writeFile(path.join(dist, output), body, { mode: 0o755 });
}
// One licence file for the whole of dist/: the union of every entry's bundled packages.
const sections = new Set();
for (const text of licenses.values()) for (const s of text.split(/\n(?=\S[^\n]*\n(?:MIT|ISC|Apache|BSD|[A-Z]))/)) sections.add(s.trim());
await writeFile(path.join(dist, 'licenses.txt'), [...sections].sort().join('\n\n') + '\n');
await writeFile(path.join(dist, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
console.log(`bundled ${entries.length} entry points of ${pkg.name}@${pkg.version} into dist/`);
