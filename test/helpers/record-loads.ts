/**
 * Which modules a child process loads. Preloaded into it (`--import`, see `recordLoads`), this
 * file appends the URL of every module the process loads (ES modules, including the `import()`
 * of a bundle's chunks) to the file named by RECORD_LOADS_TO, one per line. Tests use it to check
 * that `plan` and `validate` do not load the Kubernetes client.
 */
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const out = process.env['RECORD_LOADS_TO'];
if (out) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(out, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}

/** The environment that makes a child process record its loads, and a reader of what it loaded. */
export function recordLoads(): { env: Record<string, string>; loaded: () => string[] } {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pod-dag-loads-')), 'loads');
  return {
    env: { NODE_OPTIONS: `--import=${fileURLToPath(import.meta.url)}`, RECORD_LOADS_TO: file },
    loaded: () => readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('file:')).map((l) => fileURLToPath(l)),
  };
}
