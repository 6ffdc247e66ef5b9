/**
 * Label and field selectors, parsed as kube-apiserver parses them
 * (k8s.io/apimachinery/pkg/labels and pkg/fields).
 */
import { badRequest } from './status.ts';
import type { ResourceInfo } from './resources.ts';

/** Decides whether an object matches. */
export type Matcher = (obj: KObject) => boolean;

/** The loose shape of any stored object; fields are read defensively. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

type Requirement =
  | { op: 'exists' | 'notexists'; key: string }
  | { op: 'in' | 'notin'; key: string; values: string[] };

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

function parseRequirement(raw: string): Requirement {
  let m = /^!\s*([^\s=!(),]+)$/.exec(raw);
  if (m) return { op: 'notexists', key: m[1]! };
  m = /^([^\s=!(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(raw);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
    return { op: m[2] === 'in' ? 'in' : 'notin', key: m[1]!, values };
  }
  m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(raw);
  if (m) return { op: m[2] === '!=' ? 'notin' : 'in', key: m[1]!, values: [m[3]!] };
  m = /^([^\s=!(),]+)$/.exec(raw);
  if (m) return { op: 'exists', key: m[1]! };
  throw badRequest(`unable to parse requirement: found '${raw}', expected: in, notin, =, ==, !=, gt, lt`);
}

/** Parses a labelSelector query parameter; an empty selector matches everything. */
export function parseLabelSelector(selector: string | null | undefined): Matcher {
  if (!selector) return () => true;
  const reqs = splitTop(selector).map(parseRequirement);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      switch (r.op) {
        case 'exists': return has;
        case 'notexists': return !has;
        case 'in': return has && r.values.includes(labels[r.key]!);
        case 'notin': return !has || !r.values.includes(labels[r.key]!);
      }
    });
  };
}

/** Reads a dotted field path ("status.phase") from an object as a string, "" when absent. */
function fieldValue(obj: KObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

/** Parses a fieldSelector for a resource; unknown fields are a 400 as apiserver answers. */
export function parseFieldSelector(selector: string | null | undefined, res: ResourceInfo): Matcher {
  if (!selector) return () => true;
  const terms = splitTop(selector).map((raw) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    const field = m[1]!.trim();
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !res.fieldLabels.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return { field, neg: m[2] === '!=', value: m[3]!.trim() };
  });
  return (obj) => terms.every((t) => (fieldValue(obj, t.field) === t.value) !== t.neg);
}
