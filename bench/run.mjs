// `npm run bench [-- --quick] [-- --write] [-- --only chain,wide,requests,logs,cold]`: the
// benchmarks of issue 7 (see BENCHMARKS.md). The code is in bench/main.ts (Node 24 runs it
// directly); this file is the entry point `npm run bench` and `.ci/run` look for.
await import('./main.ts');
