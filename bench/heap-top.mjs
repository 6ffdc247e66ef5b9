// `node bench/heap-top.mjs <file.heapprofile> [n]`: the functions that allocated the most bytes in
// a sampling heap profile (BENCH_HEAP_PROFILE in bench/child.ts), self and by package.
import { readFileSync } from 'node:fs';
const [file, n = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const bytes = new Map();
const bySource = new Map();
let total = 0;
const where = (url) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)(?:\/dist)?\/(.*)/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  if (url.includes('/src/')) return 'src/' + url.split('/src/')[1];
  return url.startsWith('node:') ? 'node' : url || '(native)';
};
(function walk(node) {
  const self = node.selfSize;
  if (self) {
    const cf = node.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${where(cf.url)}:${cf.lineNumber + 1}`;
    bytes.set(key, (bytes.get(key) ?? 0) + self);
    bySource.set(where(cf.url), (bySource.get(where(cf.url)) ?? 0) + self);
    total += self;
  }
  for (const c of node.children) walk(c);
})(profile.head);
const mb = (b) => (b / 2 ** 20).toFixed(1).padStart(8) + ' MB';
console.log(`allocated ${mb(total)} (sampled)`);
for (const [k, v] of [...bySource].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${mb(v)}  ${k}`);
console.log('---');
for (const [k, v] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${mb(v)}  ${k}`);
