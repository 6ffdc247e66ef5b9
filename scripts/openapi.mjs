#!/usr/bin/env node
// Regenerates src/spec/k8s/pod-openapi.ts (and pod-openapi-docs.ts) from the OpenAPI v3 schema of
// the core API group (`api/v1`) of the pinned Kubernetes release: `npm run openapi -- [options]`.
//
//   --kubeconfig FILE   read it from a running API server: GET /openapi/v3/api/v1 (for example the
//                       real control plane: `npm run cluster -- --kubeconfig-out FILE`). This is
//                       the source to commit: a served schema lists the enum values (Toleration's
//                       operator, ...) that the release's checked-in files leave out.
//   (no --kubeconfig)   read api/openapi-spec/v3/api__v1_openapi.json from the k8s.io/kubernetes Go
//                       module of the release (`go mod download`): no enum values.
//   --version vX.Y.Z    the release; default: K8S_VERSION in control-plane/versions.env.
//   --from FILE         read the document from FILE (a saved copy of either of the above).
//
// The document is reduced to what a Pod refers to (io.k8s.api.core.v1.Pod and every schema it
// reaches), and each schema to what a validator needs: type, format, properties, required,
// items, additionalProperties, enum, oneOf and x-kubernetes-preserve-unknown-fields, with
// `allOf: [{$ref}]` wrappers folded into `$ref`. Descriptions (their first sentence) go to a
// separate module that only scripts/gen-schema.mjs reads, so the bundle does not carry them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: npm run openapi -- [--kubeconfig FILE | --from FILE] [--version vX.Y.Z]';
const ROOTS = ['io.k8s.api.core.v1.Pod'];
const REF = '#/components/schemas/';

let values;
try {
  ({ values } = parseArgs({
    options: { kubeconfig: { type: 'string' }, from: { type: 'string' }, version: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  }));
} catch (err) {
  console.error(`openapi: ${err.message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}

/** The pinned release: --version, else control-plane/versions.env. */
function pinnedVersion() {
  if (values.version) return values.version;
  const env = path.join(root, 'control-plane', 'versions.env');
  const m = existsSync(env) ? /^K8S_VERSION=(\S+)$/m.exec(readFileSync(env, 'utf8')) : null;
  if (!m) throw new Error(`cannot tell the Kubernetes release: give --version vX.Y.Z (${env} has no K8S_VERSION)`);
  return m[1];
}

/** GET `path` from the cluster of a kubeconfig, with its credentials and CA. */
async function fromServer(kubeconfig, urlPath) {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${kubeconfig} has no current cluster`);
  const url = new URL(urlPath, cluster.server);
  const opts = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const body = await new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(text);
      });
    });
    req.on('error', reject);
    req.end();
  });
  return JSON.parse(body);
}

async function load(version) {
  if (values.from) return { doc: JSON.parse(readFileSync(values.from, 'utf8')), source: `${path.basename(values.from)} (Kubernetes ${version})` };
  if (values.kubeconfig) {
    const info = await fromServer(values.kubeconfig, '/version');
    if (info.gitVersion !== version) throw new Error(`the server runs Kubernetes ${info.gitVersion}, not the pinned ${version}; start the pinned release or give --version`);
    return { doc: await fromServer(values.kubeconfig, '/openapi/v3/api/v1'), source: `GET /openapi/v3/api/v1 of kube-apiserver ${info.gitVersion}` };
  }
  const mod = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], { encoding: 'utf8', cwd: root, stdio: ['ignore', 'pipe', 'inherit'] }));
  if (mod.Error) throw new Error(`go mod download k8s.io/kubernetes@${version}: ${mod.Error}`);
  const file = path.join(mod.Dir, 'api', 'openapi-spec', 'v3', 'api__v1_openapi.json');
  return { doc: JSON.parse(readFileSync(file, 'utf8')), source: `api/openapi-spec/v3/api__v1_openapi.json of the k8s.io/kubernetes@${version} Go module (no enum values)` };
}

const KEEP = ['type', 'format', 'required', 'enum', 'x-kubernetes-preserve-unknown-fields'];

/** One schema reduced to what validation needs; `refs` collects the schemas it names. */
function reduce(schema, refs) {
  if (schema.$ref) {
    const name = schema.$ref.slice(REF.length);
    refs.add(name);
    return { $ref: name };
  }
  // `allOf: [{$ref}]` is how OpenAPI v3 puts a description or default next to a reference.
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1 && schema.allOf[0].$ref) return reduce(schema.allOf[0], refs);
  if (schema.allOf) throw new Error(`unexpected allOf: ${JSON.stringify(schema).slice(0, 200)}`);
  const out = {};
  for (const key of KEEP) if (schema[key] !== undefined) out[key] = schema[key];
  if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, reduce(v, refs)]));
  if (schema.items) out.items = reduce(schema.items, refs);
  if (schema.additionalProperties !== undefined) out.additionalProperties = typeof schema.additionalProperties === 'object' ? reduce(schema.additionalProperties, refs) : schema.additionalProperties;
  if (schema.oneOf) out.oneOf = schema.oneOf.map((s) => reduce(s, refs));
  return out;
}

/** The first sentence of a description, for an editor's hover. */
function firstSentence(text) {
  if (typeof text !== 'string') return undefined;
  // A served schema appends "Possible enum values: ..." to the description: the enum says it.
  const one = text.split('Possible enum values:')[0].replace(/\s+/g, ' ').trim();
  // A sentence ends at . ! or ? before a capital or the end, not after "e.g." or "i.e.".
  const m = /^(.+?(?<!\b(?:e\.g|i\.e|etc|vs))[.!?])(?=\s+[A-Z`"(]|$)/.exec(one);
  const s = m ? m[1] : one;
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

function docsOf(schema) {
  const fields = {};
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const d = firstSentence(v.description ?? v.allOf?.[0]?.description);
    if (d) fields[k] = d;
  }
  return { description: firstSentence(schema.description), fields };
}

const version = pinnedVersion();
const { doc, source } = await load(version);
const all = doc.components?.schemas;
if (!all) throw new Error('the document has no components.schemas: is it an OpenAPI v3 document of api/v1?');
const schemas = {};
const docs = {};
const todo = [...ROOTS];
while (todo.length > 0) {
  const name = todo.pop();
  if (schemas[name]) continue;
  if (!all[name]) throw new Error(`the document has no schema ${name}`);
  const refs = new Set();
  schemas[name] = reduce(all[name], refs);
  docs[name] = docsOf(all[name]);
  todo.push(...refs);
}
const names = Object.keys(schemas).sort();
const enums = names.reduce((n, name) => n + Object.values(schemas[name].properties ?? {}).filter((p) => p.enum).length, 0);

const header = (what) =>
  `// Generated by scripts/openapi.mjs (\`npm run openapi\`) from ${source}: ${what}. Do not edit.\n`;
const lines = names.map((n) => `    ${JSON.stringify(n)}: ${JSON.stringify(schemas[n])},`).join('\n');
const ts = `${header('the schemas a Pod refers to, reduced to what validation needs')}import type { OpenApiSchema } from './openapi-types.ts';

/** The Kubernetes release the schemas are from. */
export const KUBERNETES_VERSION = ${JSON.stringify(version)};

/** Where the schemas were read from. */
export const SCHEMA_SOURCE = ${JSON.stringify(source)};

/**
 * components.schemas of the release's OpenAPI v3 document for api/v1, reduced to the schemas a
 * Pod refers to, by name. A function, so the literal is only built when a spec needs it.
 */
export function podSchemas(): Record<string, OpenApiSchema> {
  return {
${lines}
  };
}
`;
writeFileSync(path.join(root, 'src', 'spec', 'k8s', 'pod-openapi.ts'), ts);
const docLines = names.map((n) => `  ${JSON.stringify(n)}: ${JSON.stringify(docs[n])},`).join('\n');
const docTs = `${header('the first sentence of each schema and field description, for the editor JSON Schema')}/** By schema name: its description and its fields' descriptions (not bundled: only scripts/gen-schema.mjs reads it). */
export const POD_SCHEMA_DOCS: Record<string, { description?: string; fields: Record<string, string> }> = {
${docLines}
};
`;
writeFileSync(path.join(root, 'src', 'spec', 'k8s', 'pod-openapi-docs.ts'), docTs);
console.log(`wrote src/spec/k8s/pod-openapi.ts (${names.length} schemas, ${enums} enums, ${(ts.length / 1024).toFixed(0)} KiB) and pod-openapi-docs.ts (${(docTs.length / 1024).toFixed(0)} KiB) from ${source}`);
