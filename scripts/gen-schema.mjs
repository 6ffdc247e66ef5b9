// Writes schema/pod-dag.schema.json from the zod schema in src/spec/schema.ts, so editors can
// validate and complete spec files (`# yaml-language-server: $schema=…`). Run with Node 24
// (`npm run schema`): it imports the TypeScript source directly through type stripping.
// `--check` exits non-zero when the committed file differs from a fresh generation (for CI).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { specSchema } from '../src/spec/schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'schema', 'pod-dag.schema.json');

/** The JSON Schema text: `$schema`, `$id` and `title` first, pretty, with a trailing newline. */
export function schemaText() {
  const generated = z.toJSONSchema(specSchema, { target: 'draft-2020-12', unrepresentable: 'throw' });
  const { $schema, ...rest } = generated;
  const doc = {
    $schema,
    $id: 'https://github.com/org/pod-dag-action/schema/pod-dag.schema.json',
    title: 'pod-dag-action DAG spec',
    ...rest,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = schemaText();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {
      // a missing file differs
    }
    if (current !== text) {
      console.error(`${out} is out of date; run "npm run schema" and commit the result`);
      process.exit(1);
    }
  } else {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, text);
    console.log(`wrote ${out}`);
  }
}
