/**
 * Checks a Kubernetes object written in a spec (an Affinity, a Toleration, a Volume…) against the
 * pinned release's OpenAPI schema, offline, as the API server would decode it: fields it does not
 * know (which a server's default field validation drops with only a warning), values of the wrong
 * type (which the server refuses when it decodes the JSON), enum values it does not list, and
 * required fields that are missing.
 *
 * Pure. The schemas are built on first use, so a spec without Kubernetes objects never pays for
 * them. What a value may be follows Go's JSON decoding: `null` is accepted anywhere (it leaves the
 * field unset), an integer field takes only whole numbers, a string field takes no number.
 */
import { closestMatch } from '../suggest.ts';
import type { OpenApiSchema } from './openapi-types.ts';
import { KUBERNETES_VERSION, podSchemas } from './pod-openapi.ts';

export { KUBERNETES_VERSION } from './pod-openapi.ts';

/** One problem in a Kubernetes object, at a path relative to the object. */
export interface KubeFieldIssue {
  path: (string | number)[];
  /** Which node the issue points at: the unknown or missing key, or the wrong value. */
  at: 'key' | 'value';
  kind: 'unknown-field' | 'type' | 'enum' | 'required';
  /**
   * What was expected and found, without the path (the caller says where): for `type` and `enum`
   * the whole sentence; for `unknown-field` and `required` what follows `unknown key "x" in …`.
   */
  detail: string;
}

const QUANTITY_NAME = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;
const TYPE_PREFIXES = ['io.k8s.api.core.v1.', 'io.k8s.apimachinery.pkg.apis.meta.v1.', 'io.k8s.apimachinery.pkg.api.resource.', 'io.k8s.apimachinery.pkg.util.intstr.'];

let schemas: Record<string, OpenApiSchema> | null = null;

function schemaNamed(name: string): OpenApiSchema {
  schemas ??= podSchemas();
  const s = schemas[name];
  if (s === undefined) throw new Error(`no Kubernetes schema named ${name} in src/spec/k8s/pod-openapi.ts`);
  return s;
}

/** `Affinity` for `io.k8s.api.core.v1.Affinity`: how messages name a Kubernetes type. */
export function shortName(name: string): string {
  const prefix = TYPE_PREFIXES.find((p) => name.startsWith(p));
  return prefix === undefined ? name : name.slice(prefix.length);
}

/** The field names of a Kubernetes object type (`io.k8s.api.core.v1.Toleration`), sorted. */
export function fieldNames(typeName: string): string[] {
  return Object.keys(schemaNamed(typeName).properties ?? {}).sort();
}

/** Every problem of `value` as an object of the Kubernetes type `typeName` (a full schema name). */
export function checkKubeObject(typeName: string, value: unknown): KubeFieldIssue[] {
  const out: KubeFieldIssue[] = [];
  check({ $ref: typeName }, value, [], out);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function found(v: unknown): string {
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return String(v);
}

/** What a schema expects, in words: `a map (a Kubernetes NodeAffinity)`, `a whole number`… */
function expectation(schema: OpenApiSchema, name: string | null): string {
  if (name === QUANTITY_NAME) return 'a Kubernetes quantity like "500m", "4Gi" or 2';
  if (schema.format === 'int-or-string') return 'a whole number or a string';
  switch (schema.type) {
    case 'object':
      return schema.properties !== undefined && name !== null ? `a map (a Kubernetes ${shortName(name)})` : 'a map';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'integer':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return schema.oneOf ? schema.oneOf.map((o) => expectation(o, null)).join(' or ') : 'a value';
  }
}

/** Whether `value` has the JSON type of `schema` (one level deep; no fields checked). */
function typeFits(schema: OpenApiSchema, value: unknown): boolean {
  switch (schema.type) {
    case 'object':
      return isRecord(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return schema.oneOf ? schema.oneOf.some((o) => typeFits(o, value)) : true;
  }
}

function check(schema: OpenApiSchema, value: unknown, path: (string | number)[], out: KubeFieldIssue[]): void {
  let name: string | null = null;
  while (schema.$ref !== undefined) {
    name = schema.$ref;
    schema = schemaNamed(name);
  }
  // Go's JSON decoder leaves a field unset for null; x-kubernetes-preserve-unknown-fields takes anything.
  if (value === null || value === undefined || schema['x-kubernetes-preserve-unknown-fields'] === true) return;
  if (!typeFits(schema, value)) {
    // YAML turns 1 and true into a number and a boolean, and keeps "60" a string: say how to write it.
    let quote = '';
    if (schema.type === 'string' && (typeof value === 'number' || typeof value === 'boolean')) quote = ` (quote it: "${String(value)}")`;
    else if ((schema.type === 'integer' || schema.type === 'number') && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) quote = ` (write it without quotes: ${value.trim()})`;
    else if (schema.type === 'boolean' && typeof value === 'string' && /^(true|false)$/i.test(value.trim())) quote = ` (write it without quotes: ${value.trim().toLowerCase()})`;
    // YAML 1.1 (Kubernetes manifests read by older tools) took these as booleans; a spec is 1.2.
    else if (schema.type === 'boolean' && typeof value === 'string' && /^(y|yes|on|n|no|off)$/i.test(value.trim())) {
      quote = ` (a spec is YAML 1.2, where ${value.trim()} is text, not a boolean: write ${/^(y|yes|on)$/i.test(value.trim()) ? 'true' : 'false'})`;
    }
    out.push({ path, at: 'value', kind: 'type', detail: `expected ${expectation(schema, name)}, found ${found(value)}${quote}` });
    return;
  }
  if (name === QUANTITY_NAME && typeof value === 'string' && !QUANTITY.test(value)) {
    out.push({ path, at: 'value', kind: 'type', detail: `expected ${expectation(schema, name)}, found ${found(value)}` });
    return;
  }
  // "" is Go's zero value: the server takes it as unset (a Toleration's effect "" matches every
  // effect) though the enum does not list it; where it is not allowed the server says so.
  if (schema.enum !== undefined && value !== '' && !schema.enum.includes(value)) {
    const options = schema.enum.map((e) => JSON.stringify(e));
    const close = typeof value === 'string' ? closestMatch(value, schema.enum.map(String)) : null;
    out.push({ path, at: 'value', kind: 'enum', detail: `expected one of ${options.join(', ')}, found ${found(value)}${close === null ? '' : `; did you mean "${close}"?`}` });
    return;
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    const items = schema.items;
    value.forEach((item, i) => check(items, item, [...path, i], out));
    return;
  }
  if (!isRecord(value)) return;
  if (schema.properties !== undefined) {
    const props = schema.properties;
    const known = Object.keys(props);
    for (const [key, v] of Object.entries(value)) {
      const sub = props[key];
      if (sub === undefined) {
        const close = closestMatch(key, known);
        const what = name === null ? 'this map' : `a Kubernetes ${shortName(name)} (${KUBERNETES_VERSION})`;
        const hint = close !== null ? `; did you mean "${close}"?` : `; ${what} has the fields: ${[...known].sort().join(', ')}`;
        out.push({ path: [...path, key], at: 'key', kind: 'unknown-field', detail: hint });
      } else {
        check(sub, v, [...path, key], out);
      }
    }
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) {
        const what = name === null ? '' : `; a Kubernetes ${shortName(name)} needs ${schema.required!.map((r) => `"${r}"`).join(', ')}`;
        out.push({ path: [...path, key], at: 'key', kind: 'required', detail: what });
      }
    }
    return;
  }
  const values = schema.additionalProperties;
  if (typeof values === 'object') {
    for (const [key, v] of Object.entries(value)) check(values, v, [...path, key], out);
  }
}

/**
 * The `pod:` fields of a spec that hold Kubernetes objects, with their type (a full schema name)
 * and whether the field is a list of them. The other `pod:` fields are plain strings and maps
 * that the spec's own schema checks.
 */
export const POD_FIELD_TYPES: Readonly<Record<string, { type: string; list: boolean }>> = {
  affinity: { type: 'io.k8s.api.core.v1.Affinity', list: false },
  tolerations: { type: 'io.k8s.api.core.v1.Toleration', list: true },
  volumes: { type: 'io.k8s.api.core.v1.Volume', list: true },
  volumeMounts: { type: 'io.k8s.api.core.v1.VolumeMount', list: true },
  securityContext: { type: 'io.k8s.api.core.v1.PodSecurityContext', list: false },
  containerSecurityContext: { type: 'io.k8s.api.core.v1.SecurityContext', list: false },
};

/**
 * Every problem of the Kubernetes objects in a spec's `pod:` map, with paths relative to it
 * (`['affinity', 'nodeAfinity']`). Fields of the wrong outer shape (a string for `affinity`) are
 * left to the spec's own schema, which reports them.
 */
export function checkPodFields(pod: Record<string, unknown>): KubeFieldIssue[] {
  const out: KubeFieldIssue[] = [];
  for (const [field, { type, list }] of Object.entries(POD_FIELD_TYPES)) {
    const value = pod[field];
    const objects: [unknown, (string | number)[]][] = list ? (Array.isArray(value) ? value.map((v, i) => [v, [field, i]]) : []) : [[value, [field]]];
    for (const [object, path] of objects) {
      if (!isRecord(object)) continue;
      for (const issue of checkKubeObject(type, object)) out.push({ ...issue, path: [...path, ...issue.path] });
    }
  }
  return out;
}
