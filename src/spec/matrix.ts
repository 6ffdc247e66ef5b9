/**
 * `strategy.matrix`, expanded as GitHub expands it for a job:
 * 1. the product of the lists, the first key varying slowest;
 * 2. `exclude`: a combination matching every key of an entry is dropped (a partial match is enough);
 * 3. `include`: each entry's pairs are added to every combination whose original values they do
 *    not change (values added by an earlier entry may be overwritten); an entry that fits no
 *    combination becomes a combination of its own, after the others.
 * A matrix must give at least one combination and at most MAX_INSTANCES (GitHub's limit per job).
 *
 * Pure: used by validation for a matrix written in the spec and by the scheduler for one computed
 * from an upstream task's output.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.ts';
import type { DagSpec, JsonValue, MatrixInstance, TaskSpec } from './types.ts';

/** GitHub's limit of jobs per matrix. */
export const MAX_INSTANCES = 256;

/** A problem with a matrix; `path` is inside the matrix value (`['os', 2]`, `['include', 0]`). */
export interface MatrixProblem {
  path: (string | number)[];
  message: string;
}

/** The instances of a matrix, or the problems that keep it from expanding. */
export type MatrixExpansion = { ok: true; instances: MatrixInstance[] } | { ok: false; problems: MatrixProblem[] };

function isMap(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/** The longest instance id: a label value's limit. */
const MAX_ID = 63;

/**
 * The instance id of a combination: `<task>.<values as a slug>-<8 hex of their hash>`, within 63
 * characters. Same task and values, same id, in every run: a re-run finds its instances by it.
 */
export function instanceId(task: string, values: Record<string, JsonValue>): string {
  const hash = createHash('sha256').update(canonicalJson(values)).digest('hex').slice(0, 8);
  const room = MAX_ID - task.length - 1 - hash.length - 1;
  const slug = Object.values(values)
    .filter((v) => typeof v !== 'object' || v === null)
    .map((v) => String(v))
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, Math.max(0, room))
    .replace(/^-+|-+$/g, '');
  return slug === '' ? `${task}.${hash}` : `${task}.${slug}-${hash}`;
}

/** Expands a matrix value (already parsed from YAML or JSON) for task `task`. */
export function expandMatrix(task: string, matrix: unknown): MatrixExpansion {
  const problems: MatrixProblem[] = [];
  if (!isMap(matrix)) {
    return { ok: false, problems: [{ path: [], message: `expected a map of key → list of values (with optional include and exclude), found ${describe(matrix)}` }] };
  }
  const axes: [string, JsonValue[]][] = [];
  for (const [key, values] of Object.entries(matrix)) {
    if (key === 'include' || key === 'exclude') continue;
    if (!Array.isArray(values)) problems.push({ path: [key], message: `matrix key "${key}": expected a list of values, found ${describe(values)}` });
    else if (values.length === 0) problems.push({ path: [key], message: `matrix key "${key}" has no values; give at least one, or remove the key` });
    else axes.push([key, values]);
  }
  const entries = (name: 'include' | 'exclude'): Record<string, JsonValue>[] => {
    const list = matrix[name];
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      problems.push({ path: [name], message: `"${name}": expected a list of maps, found ${describe(list)}` });
      return [];
    }
    return list.flatMap((e, i) => {
      if (isMap(e) && Object.keys(e).length > 0) return [e];
      problems.push({ path: [name, i], message: `"${name}[${i}]": expected a map of key → value, found ${describe(e)}` });
      return [];
    });
  };
  const include = entries('include');
  const exclude = entries('exclude');
  const axisKeys = new Set(axes.map(([k]) => k));
  exclude.forEach((e, i) => {
    for (const key of Object.keys(e)) {
      if (!axisKeys.has(key)) problems.push({ path: ['exclude', i, key], message: `"exclude[${i}]" names "${key}", which is not a key of the matrix (${[...axisKeys].join(', ') || 'none'})` });
    }
  });
  if (problems.length > 0) return { ok: false, problems };

  // The product, checked for size before it is built.
  const size = axes.reduce((n, [, v]) => n * v.length, axes.length === 0 ? 0 : 1);
  if (size > MAX_INSTANCES * 16) return { ok: false, problems: [{ path: [], message: tooMany(size) }] };
  let combos: Record<string, JsonValue>[] = axes.length === 0 ? [] : [{}];
  for (const [key, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  combos = combos.filter((c) => !exclude.some((e) => Object.entries(e).every(([k, v]) => same(c[k], v))));

  const extended = combos.map((original) => ({ original, values: { ...original } }));
  const added: Record<string, JsonValue>[] = [];
  for (const entry of include) {
    let fits = false;
    for (const c of extended) {
      const keepsOriginal = Object.entries(entry).every(([k, v]) => !Object.hasOwn(c.original, k) || same(c.original[k], v));
      if (keepsOriginal) {
        Object.assign(c.values, entry);
        fits = true;
      }
    }
    if (!fits) added.push({ ...entry });
  }
  const all = [...extended.map((c) => c.values), ...added];
  if (all.length === 0) {
    return { ok: false, problems: [{ path: [], message: 'the matrix has no combinations (every one was excluded, or it has no keys and no include); give at least one' }] };
  }
  if (all.length > MAX_INSTANCES) return { ok: false, problems: [{ path: [], message: tooMany(all.length) }] };
  const instances: MatrixInstance[] = [];
  const seen = new Map<string, number>();
  all.forEach((values, i) => {
    const id = instanceId(task, values);
    const first = seen.get(id);
    if (first !== undefined) {
      problems.push({ path: [], message: `combinations ${first + 1} and ${i + 1} are the same (${canonicalJson(values)}); each combination must differ` });
      return;
    }
    seen.set(id, i);
    instances.push({ id, values });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, instances };
}

function tooMany(n: number): string {
  return `the matrix has ${n} combinations; at most ${MAX_INSTANCES} are allowed (as on GitHub); split the task or use exclude`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** The keys `{{ matrix.<key> }}` may read for these instances (every key of any combination). */
export function matrixKeys(instances: readonly MatrixInstance[]): Set<string> {
  const keys = new Set<string>();
  for (const i of instances) for (const k of Object.keys(i.values)) keys.add(k);
  return keys;
}

/**
 * The DAG as `plan` draws it: each task with a matrix written out becomes one task per
 * combination (id = instance id, needs as the task's), and its dependants need every one of
 * them; a computed matrix stays one task, its combinations being known only when it runs.
 */
export function expandStaticMatrices(spec: DagSpec): DagSpec {
  const ids = new Map<string, string[]>();
  for (const t of spec.tasks) {
    if (t.strategy?.matrix.kind === 'static') ids.set(t.id, t.strategy.matrix.instances.map((i) => i.id));
  }
  if (ids.size === 0) return spec;
  const needs = (t: TaskSpec) => t.needs.flatMap((n) => ids.get(n) ?? [n]);
  const tasks = spec.tasks.flatMap((t): TaskSpec[] => {
    const matrix = t.strategy?.matrix;
    if (matrix?.kind !== 'static') return [{ ...t, needs: needs(t) }];
    return matrix.instances.map((i) => ({ ...t, id: i.id, needs: needs(t), strategy: { ...t.strategy!, matrix: { kind: 'static', instances: [i] } } }));
  });
  return { ...spec, tasks };
}

/** The task id of a matrix instance id (`build.linux-1a2b3c4d` → `build`); a task id is its own. */
export function taskOfInstance(id: string): string {
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}
