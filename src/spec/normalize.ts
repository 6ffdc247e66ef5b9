/**
 * Turns a schema-valid, semantically checked spec into the DagSpec contract: defaults merged
 * into every task (the task wins; `pod`, `env` and `resources` merge key by key, with the
 * pod's `labels`, `annotations` and `nodeSelector` merged key by key too; `retries` merges
 * field by field), built-in defaults applied, durations in milliseconds.
 *
 * Callers must have run every check of parse.ts first: this module assumes a valid spec and
 * does not re-validate (a failed assumption throws, it never guesses).
 */
import { parseDuration } from './duration.ts';
import { expandMatrix } from './matrix.ts';
import type { RawDefaults, RawSpec, RawTask } from './schema.ts';
import type { DagSpec, EnvFromSource, EnvVar, ParamSpec, PodOverrides, RetryPolicy, SensorSpec, SourcePos, Strategy, TaskSpec } from './types.ts';

/** Built-in values of the optional task fields. */
export const BUILTIN_DEFAULTS = {
  retries: { limit: 0, delay: '10s', backoff: 2, maxDelay: '10m', on: ['failed'], infrastructure: 3 },
  startTimeout: '5m',
} as const;

function ms(text: string): number {
  const d = parseDuration(text);
  if (!d.ok) throw new Error(`invalid duration "${text}" reached normalize: ${d.reason}`);
  return d.ms;
}

/** How normalizeSpec learns what only the YAML document knows. */
export interface NormalizeContext {
  file: string;
  /** Task ids in file order (JS objects would put numeric-looking keys first). */
  taskOrder: string[];
  taskPos: (id: string) => SourcePos;
}

/** Builds the DagSpec from a validated raw spec. */
export function normalizeSpec(raw: RawSpec, ctx: NormalizeContext): DagSpec {
  const defaults: RawDefaults = raw.defaults ?? {};
  const params: ParamSpec[] = Object.entries(raw.params ?? {}).map(([name, p]) => {
    if (typeof p !== 'object') return { name, default: String(p), required: false, description: null };
    return {
      name,
      default: p.default === undefined ? null : String(p.default),
      required: p.required ?? false,
      description: p.description ?? null,
    };
  });
  const tasks = ctx.taskOrder.map((id) => normalizeTask(id, raw.tasks[id]!, defaults, ctx.taskPos(id)));
  return {
    version: 1,
    name: raw.name,
    namespace: raw.namespace ?? null,
    params,
    tasks,
    timeoutMs: raw.timeout === undefined ? null : ms(raw.timeout),
    file: ctx.file,
  };
}

/** `retries: 2` is `{limit: 2}` (Airflow's habit); a map is itself. */
function retryFields(r: RawTask['retries']): Exclude<RawTask['retries'], number> {
  return typeof r === 'number' ? { limit: r } : r;
}

function normalizeTask(id: string, task: RawTask, d: RawDefaults, pos: SourcePos): TaskSpec {
  const image = task.image ?? d.image;
  if (image === undefined) throw new Error(`task "${id}" has no image (parse.ts should have reported it)`);
  const needs = task.needs === undefined ? [] : [...new Set(typeof task.needs === 'string' ? [task.needs] : task.needs)];
  const ifSource = task.if === undefined ? null : String(task.if);
  const r = { ...BUILTIN_DEFAULTS.retries, ...retryFields(d.retries), ...retryFields(task.retries) };
  const retries: RetryPolicy = {
    limit: r.limit,
    delayMs: ms(r.delay),
    backoff: r.backoff,
    maxDelayMs: ms(r.maxDelay),
    on: [...new Set(r.on)],
    infrastructure: r.infrastructure,
  };
  const timeout = task.timeout ?? d.timeout;
  return {
    id,
    needs,
    if: ifSource === null ? null : { source: ifSource },
    image,
    command: task.command ?? d.command ?? null,
    args: task.args ?? d.args ?? null,
    env: Object.entries({ ...d.env, ...task.env }).map(([name, v]) => envVar(name, v)),
    envFrom: (task.envFrom ?? d.envFrom ?? []).map(envFrom),
    workingDir: task.workingDir ?? d.workingDir ?? null,
    resources: {
      requests: quantities({ ...d.resources?.requests, ...task.resources?.requests }),
      limits: quantities({ ...d.resources?.limits, ...task.resources?.limits }),
    },
    retries,
    timeoutMs: timeout === undefined ? null : ms(timeout),
    startTimeoutMs: ms(task.startTimeout ?? d.startTimeout ?? BUILTIN_DEFAULTS.startTimeout),
    pod: mergePod(d.pod ?? {}, task.pod ?? {}),
    strategy: strategy(id, task.strategy),
    sensor: sensor(task.sensor),
    pos,
  };
}

/** The `sensor:` default: 75 (EX_TEMPFAIL) means "not yet". */
export const DEFAULT_NOT_YET_EXIT_CODES = [75];

function strategy(id: string, raw: RawTask['strategy']): Strategy | null {
  if (raw === undefined) return null;
  const common = { maxParallel: raw['max-parallel'] ?? 0, failFast: raw['fail-fast'] ?? true };
  if (typeof raw.matrix === 'string') return { matrix: { kind: 'dynamic', template: raw.matrix }, ...common };
  const expansion = expandMatrix(id, raw.matrix);
  if (!expansion.ok) throw new Error(`task "${id}": the matrix does not expand (parse.ts should have reported it): ${expansion.problems[0]?.message}`);
  return { matrix: { kind: 'static', instances: expansion.instances }, ...common };
}

function sensor(raw: RawTask['sensor']): SensorSpec | null {
  if (raw === undefined) return null;
  return {
    intervalMs: ms(raw.interval),
    timeoutMs: ms(raw.timeout),
    onTimeout: raw.onTimeout ?? 'fail',
    notYetExitCodes: [...new Set(raw.notYetExitCodes ?? DEFAULT_NOT_YET_EXIT_CODES)],
  };
}

type RawEnvValue = NonNullable<RawTask['env']>[string];

function envVar(name: string, v: RawEnvValue): EnvVar {
  if (typeof v !== 'object') return { name, value: String(v) };
  if (v.secret !== undefined) return { name, secret: v.secret, key: v.key, optional: v.optional ?? false };
  return { name, configMap: v.configMap!, key: v.key, optional: v.optional ?? false };
}

function envFrom(src: NonNullable<RawTask['envFrom']>[number]): EnvFromSource {
  const prefix = src.prefix ?? null;
  const optional = src.optional ?? false;
  return src.secret !== undefined ? { secret: src.secret, prefix, optional } : { configMap: src.configMap!, prefix, optional };
}

function quantities(q: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)]));
}

function mergePod(d: PodOverrides, t: PodOverrides): PodOverrides {
  const merged: PodOverrides = { ...d, ...t };
  for (const key of ['labels', 'annotations', 'nodeSelector'] as const) {
    if (d[key] !== undefined || t[key] !== undefined) merged[key] = { ...d[key], ...t[key] };
  }
  return merged;
}
