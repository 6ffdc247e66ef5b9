// The action's post step: the code is in index.js (one bundle for all entry points).
globalThis.__POD_DAG_ENTRY__ = 'post';
await import('./index.js');
