// Writes schema/pod-dag.schema.json from the zod schema in src/spec/schema.ts, so editors can
// validate and complete spec files (`# yaml-language-server: $schema=…`). Run with Node 24
// (`npm run schema`): it imports the TypeScript source directly through type stripping.
// `--check` exits non-zero when the committed file differs from a fresh generation (for CI).
// The Kubernetes objects under `pod:` (affinity, tolerations, volumes…) get the pinned release's
// schemas (src/spec/k8s/pod-openapi.ts, `npm run openapi`) in $defs, strict, with the first
// sentence of each field's description, so editors complete and flag their fields too.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { specSchema } from '../src/spec/schema.ts';
import { POD_FIELD_TYPES } from '../src/spec/k8s/check.ts';
import { KUBERNETES_VERSION, podSchemas } from '../src/spec/k8s/pod-openapi.ts';
import { POD_SCHEMA_DOCS } from '../src/spec/k8s/pod-openapi-docs.ts';

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
  embedKubernetes(doc);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The first sentence of `io.k8s.api.core.v1.X`'s field descriptions, as JSON Schema. */
function kubeDefs(roots) {
  const schemas = podSchemas();
  const defs = {};
  const todo = [...roots];
  const ref = (name) => {
    todo.push(name);
    return { $ref: `#/$defs/${name}` };
  };
  // OpenAPI v3 → JSON Schema 2020-12: references into $defs, objects with fields strict (an
  // unknown field is what this is for), formats dropped (int32, int64… are not JSON Schema's).
  const convert = (s, docText) => {
    if (s.$ref) return docText ? { ...ref(s.$ref), description: docText } : ref(s.$ref);
    const out = {};
    if (docText) out.description = docText;
    if (s.type) out.type = s.type;
    if (s.enum) out.enum = s.enum;
    if (s.oneOf) out.oneOf = s.oneOf.map((o) => convert(o));
    if (s.properties) {
      out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, convert(v)]));
      if (s.required) out.required = s.required;
      if (!s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
    }
    if (s.items) out.items = convert(s.items);
    if (typeof s.additionalProperties === 'object') out.additionalProperties = convert(s.additionalProperties);
    return out;
  };
  while (todo.length > 0) {
    const name = todo.pop();
    if (defs[name]) continue;
    const docs = POD_SCHEMA_DOCS[name] ?? { fields: {} };
    const def = convert(schemas[name], docs.description);
    for (const [field, text] of Object.entries(docs.fields)) if (def.properties?.[field]) def.properties[field] = { ...def.properties[field], description: text };
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') def.oneOf = [{ type: 'string', pattern: '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+|[numkMGTPE]|[KMGTPE]i)?$' }, { type: 'number' }];
    defs[name] = def;
  }
  return Object.fromEntries(Object.entries(defs).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Points PodOverrides' Kubernetes fields at the release's schemas, added to $defs. */
function embedKubernetes(doc) {
  const pod = doc.$defs.PodOverrides.properties;
  for (const [field, { type, list }] of Object.entries(POD_FIELD_TYPES)) {
    const description = `${pod[field].description} Fields as in Kubernetes ${KUBERNETES_VERSION}.`;
    pod[field] = list ? { description, type: 'array', items: { $ref: `#/$defs/${type}` } } : { description, $ref: `#/$defs/${type}` };
  }
  Object.assign(doc.$defs, kubeDefs(Object.values(POD_FIELD_TYPES).map((t) => t.type)));
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
