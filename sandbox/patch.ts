/**
 * The patch types kube-apiserver takes: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * a strategic merge patch that merges the lists Kubernetes merges by key (containers, env,
 * volumes by name; conditions by type). Anything else in a strategic patch acts as a merge patch.
 */
import { badRequest } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies an RFC 7386 merge patch. */
export function mergePatch(target: unknown, patch: unknown): Json {
  if (!isObject(patch)) return patch as Json;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const MERGE_KEYS: Record<string, string> = {
  containers: 'name', initContainers: 'name', env: 'name', volumes: 'name', volumeMounts: 'mountPath',
  ports: 'containerPort', conditions: 'type', imagePullSecrets: 'name', tolerations: 'key',
};

/** Applies a strategic merge patch for the list fields Kubernetes merges by key. */
export function strategicMergePatch(target: unknown, patch: unknown, field = ''): Json {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(target)) return patch;
    const out = [...target];
    for (const item of patch) {
      if (!isObject(item)) return patch;
      const idx = out.findIndex((t) => isObject(t) && t[key] === item[key]);
      if (item.$patch === 'delete') {
        if (idx !== -1) out.splice(idx, 1);
      } else if (idx === -1) out.push(item);
      else out[idx] = strategicMergePatch(out[idx], item);
    }
    return out;
  }
  if (!isObject(patch)) return patch as Json;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`the server rejected our request due to an error in our request: invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies an RFC 6902 JSON patch. */
export function jsonPatch(target: unknown, ops: unknown): Json {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = structuredClone(target) as Json;
  for (const op of ops as { op: string; path: string; value?: Json; from?: string }[]) {
    const parts = pointer(op.path);
    const parentOf = (ps: string[]): { parent: Json; key: string } => {
      let cur: Json = doc;
      for (const p of ps.slice(0, -1)) {
        cur = Array.isArray(cur) ? cur[Number(p)]! : isObject(cur) ? cur[p]! : null;
        if (cur === undefined || cur === null) throw badRequest(`the server rejected our request due to an error in our request: doc is missing path: "${op.path}"`);
      }
      return { parent: cur, key: ps[ps.length - 1]! };
    };
    const get = (ps: string[]): Json => {
      let cur: Json = doc;
      for (const p of ps) {
        cur = Array.isArray(cur) ? cur[Number(p)]! : isObject(cur) ? cur[p]! : null;
        if (cur === undefined) throw badRequest(`the server rejected our request due to an error in our request: doc is missing path: "${op.path}"`);
      }
      return cur;
    };
    const set = (ps: string[], value: Json, insert: boolean): void => {
      if (ps.length === 0) {
        doc = value;
        return;
      }
      const { parent, key } = parentOf(ps);
      if (Array.isArray(parent)) {
        const i = key === '-' ? parent.length : Number(key);
        if (insert) parent.splice(i, 0, value);
        else parent[i] = value;
      } else if (isObject(parent)) parent[key] = value;
    };
    const remove = (ps: string[]): void => {
      const { parent, key } = parentOf(ps);
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else if (isObject(parent)) {
        if (!(key in parent)) throw badRequest(`the server rejected our request due to an error in our request: Unable to remove nonexistent key: ${key}: missing value`);
        delete parent[key];
      }
    };
    switch (op.op) {
      case 'add': set(parts, op.value ?? null, true); break;
      case 'replace': get(parts); set(parts, op.value ?? null, false); break;
      case 'remove': remove(parts); break;
      case 'copy': set(parts, structuredClone(get(pointer(op.from ?? ''))), true); break;
      case 'move': { const v = get(pointer(op.from ?? '')); remove(pointer(op.from ?? '')); set(parts, v, true); break; }
      case 'test':
        if (JSON.stringify(get(parts)) !== JSON.stringify(op.value)) throw new TestFailed();
        break;
      default: throw badRequest(`the server rejected our request due to an error in our request: Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

/** A JSON patch `test` operation failed; apiserver answers 422. */
export class TestFailed extends Error {}
