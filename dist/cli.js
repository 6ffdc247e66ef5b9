#!/usr/bin/env node
// The `pod-dag` CLI: the code is in index.js (one bundle for all entry points).
globalThis.__POD_DAG_ENTRY__ = 'cli';
await import('./index.js');
