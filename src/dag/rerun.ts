/**
 * Re-running a GitHub run: which tasks of the spec may reuse a success recorded in an earlier run
 * attempt, which run again and why, and the run state that is kept in the cluster between
 * attempts (its shape, its JSON form, and the pure update applied when an attempt ends).
 *
 * Pure: no I/O, no clock (times come in as arguments), no process.env. src/kube/run-store.ts
 * reads and writes the state in a ConfigMap; the engine calls `planRerun` before the scheduler
 * starts and hands `plan.previous` to it as `SchedulerOptions.previous`.
 *
 * The rules, in the order they are checked for each task:
 * 1. A task recorded in the current run attempt already ran in it (the action was restarted
 *    after a crash). If it succeeded, it is reused whatever else holds (never twice). If not,
 *    it runs on: the engine replays its recorded attempts (`recordedAttempt`) instead of creating
 *    their pods again, and adopts a pod that still exists (409 on create).
 * 2. A task with no success recorded in an earlier run attempt runs.
 * 3. `mode: 'all'` runs every task.
 * 4. A success whose outputs were dropped to fit the ConfigMap runs again (its outputs are gone).
 * 5. A success whose fingerprint changed (image, command, args, env, resources, pod fields,
 *    rendered with the params in effect) runs again, saying what changed.
 * 6. A success downstream of a task that runs again runs again too: its inputs may change.
 * Everything else is reused, with its outputs.
 *
 * A matrix task is recorded by instance (`<task>.<slug>-<hash>`): rules 1-5 apply to each
 * instance, so a re-run of failed tasks runs only its instances that did not succeed and reuses
 * the others; the matrix task counts as reused (rule 6) only when all of its instances are.
 */
import * as z from 'zod';
import { UserError } from '../common/errors.ts';
import type { RerunMode } from '../common/run.ts';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.ts';
import type { TaskValue } from '../spec/expression.ts';
import { expandMatrix } from '../spec/matrix.ts';
import { evaluateTemplateValue, findTemplateRefs, type TemplateMatch } from '../spec/template.ts';
import type { DagSpec, EnvVar, MatrixInstance, TaskSpec, Template } from '../spec/types.ts';
import type { AttemptOutcome, PreviousSuccess, RunResult, TaskResult } from './types.ts';

/** What the `rerun` input chooses: re-run only what did not succeed, or everything. */
export type { RerunMode };

/**
 * What decides what a task's container does, in a compact form that can be compared between
 * run attempts. The image is kept as text so a change can be shown; every other field is a short
 * hash (env values may hold secrets, and the whole state must fit in one ConfigMap).
 */
export interface TaskFingerprint {
  /** The image, rendered with the params in effect. */
  image: string;
  /**
   * A 16-hex-digit hash per field that is set: `command`, `args`, `workingDir`, `envFrom`,
   * `resources`, `env.<NAME>` per variable, `pod.<field>` per pod field. An absent key means the
   * field is not set.
   */
  fields: Record<string, string>;
}

/** The end of one attempt as it is kept in the state (enough to replay it after a crash). */
export interface StoredAttempt {
  attempt: number;
  pod: string | null;
  startedAt: number;
  finishedAt: number;
  class: AttemptOutcome['class'];
  reason: string | null;
  /** The cluster's message, cut to MESSAGE_LIMIT characters. */
  message: string | null;
  exitCode: number | null;
  node: string | null;
}

/** What the state keeps of one task: its latest recorded attempt and, if final, its result. */
export interface StoredTask {
  /** The task's final result in `runAttempt`, or `null` when a retry was still to come. */
  result: TaskResult | null;
  /** The number of the last attempt that ended (1-based, counted within `runAttempt`). */
  attempt: number;
  /** The GitHub run attempt the task last ran in. */
  runAttempt: number;
  /** The outputs of the succeeded attempt (`{}` otherwise, or when dropped). */
  outputs: Record<string, string>;
  /** Set when the outputs were dropped to keep the state under the ConfigMap size limit. */
  outputsDropped?: true;
  /** When the last attempt ended, epoch ms. */
  finishedAt: number;
  fingerprint: TaskFingerprint;
  /** The pod of the last attempt. */
  pod: string | null;
  /** Every attempt that ended in `runAttempt`, in order (for the engine's replay after a crash). */
  attempts: StoredAttempt[];
}

/** The state of one GitHub run of one DAG, across its run attempts. */
export interface StoredRunState {
  /** The format of this object; `parseRunState` refuses formats it does not know. */
  version: typeof STATE_VERSION;
  dag: string;
  runId: string;
  /** When the state was last written, epoch ms. */
  updatedAt: number;
  /** By task id. */
  tasks: Record<string, StoredTask>;
  /**
   * Every run attempt that started, in order: when it started and, once it ended, when and how.
   * Housekeeping reads it: a run whose last attempt has not ended may still be in progress.
   */
  runAttempts: StoredRunAttempt[];
}

/** One GitHub run attempt of the run, as the state records it. */
export interface StoredRunAttempt {
  runAttempt: number;
  startedAt: number;
  /** `null` while it runs (or if it died without saying so). */
  finishedAt: number | null;
  result: RunResult | null;
  /**
   * The public key of each process that ran this run attempt (a restart after a crash adds one),
   * recorded before it created any pod: the pods they signed are the run's own (src/kube/pod-proof.ts).
   */
  keys?: string[];
  /** Who started it (src/common/run.ts `runClaim`); absent in states written before claims. */
  claim?: RunClaim;
}

/**
 * What a step that runs the DAG says of itself when it starts a run attempt: the parts of its
 * identity in full, the `dag` input, a hash of its params, and which run of its job it is. A
 * second step with the same run identity (so the same pods and state) but another claim is not a
 * restart of the first: it stops before creating anything (`markRunAttempt` throws).
 */
export type RunClaim = Readonly<Record<string, string | null>>;

/** Two steps the action cannot tell apart ran the same DAG as the same run attempt. */
export class AmbiguousRunError extends UserError {
  override name = 'AmbiguousRunError';
  /** How the other step's claim differs from this one's (`claimDifferences`). */
  readonly differences: string[];

  constructor(runAttempt: number, differences: string[]) {
    super(`run attempt ${runAttempt} of this run was already started by another step, which differs in ${differences.join(' and ')}`);
    this.differences = differences;
  }
}

/** The names `claimDifferences` gives the fields of a claim, for messages. */
const CLAIM_FIELDS: Record<string, string> = {
  job: 'job',
  step: 'step',
  leg: 'matrix leg',
  runKey: 'run-key',
  dag: "'dag' input",
  params: 'params',
  jobInstance: "job's check run",
};

/** How claim `b` differs from claim `a`, in words (empty when they are the same). */
export function claimDifferences(a: RunClaim, b: RunClaim): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const shown = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? 'none' : JSON.stringify(v.length > 80 ? `${v.slice(0, 79)}…` : v));
  return keys
    .filter((k) => (a[k] ?? null) !== (b[k] ?? null))
    .map((k) => (k === 'params' ? 'its params' : `its ${CLAIM_FIELDS[k] ?? k} (${shown(b[k])} there, ${shown(a[k])} here)`));
}

/** The version `serializeRunState` writes. */
export const STATE_VERSION = 1;

/** The longest cluster message kept per attempt; the state must stay small. */
export const MESSAGE_LIMIT = 500;

/** What `planRerun` decided. */
export interface RerunPlan {
  /** Tasks to treat as succeeded (SchedulerOptions.previous). */
  previous: Record<string, PreviousSuccess>;
  /** Every other task of the spec, in spec order, with why it runs. */
  rerun: { task: string; reason: string }[];
}

// ---- fingerprints ------------------------------------------------------------------------

/**
 * Substitutes `{{ params.x }}` and leaves `{{ tasks.<id>.outputs.<name> }}` as written: the
 * outputs of an upstream task are only known when it ran, and a task whose upstream runs again
 * runs again anyway (rule 6), so its fingerprint need not see them.
 */
function renderParams(t: Template, params: Record<string, string>): string {
  const { refs } = findTemplateRefs(t);
  let out = '';
  let at = 0;
  for (const m of refs) {
    // Only a plain `{{ params.x }}` is substituted; any other expression is kept as written (its
    // text changes when it does, and the params it reads are hashed with it below).
    const only = m.expression.refs.length === 1 ? m.expression.refs[0]!.ref : null;
    const plain = only?.kind === 'param' && /^\s*params\.[A-Za-z0-9_-]+\s*$/.test(m.expression.source);
    const value = plain && only.kind === 'param' && Object.hasOwn(params, only.name) ? params[only.name]! : expressionWithParams(m.text, m.expression.refs, params);
    out += t.slice(at, m.start) + value;
    at = m.end;
  }
  return out + t.slice(at);
}

/** An expression's text followed by the values of the params it reads, so a change of either shows. */
function expressionWithParams(text: string, refs: TemplateMatch['expression']['refs'], params: Record<string, string>): string {
  const read = refs.flatMap(({ ref }) => (ref.kind === 'param' ? [`${ref.name}=${Object.hasOwn(params, ref.name) ? params[ref.name] : ''}`] : ref.kind === 'params' ? [JSON.stringify(params)] : []));
  return read.length === 0 ? text : `${text}[${read.join(',')}]`;
}

function hash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

function envSource(e: EnvVar, params: Record<string, string>): unknown {
  if ('value' in e) return { value: renderParams(e.value, params) };
  if ('secret' in e) return { secret: e.secret, key: e.key, optional: e.optional };
  return { configMap: e.configMap, key: e.key, optional: e.optional };
}

/** The fingerprint of a task with these params (deterministic: same spec and params, same result). */
export function taskFingerprint(task: TaskSpec, params: Record<string, string>): TaskFingerprint {
  const fields: Record<string, string> = {};
  if (task.command !== null) fields['command'] = hash(task.command.map((c) => renderParams(c, params)));
  if (task.args !== null) fields['args'] = hash(task.args.map((a) => renderParams(a, params)));
  if (task.workingDir !== null) fields['workingDir'] = hash(task.workingDir);
  if (task.envFrom.length > 0) fields['envFrom'] = hash(task.envFrom);
  const { requests, limits } = task.resources;
  if (Object.keys(requests).length > 0 || Object.keys(limits).length > 0) fields['resources'] = hash(task.resources);
  for (const e of task.env) fields[`env.${e.name}`] = hash(envSource(e, params));
  for (const [key, value] of Object.entries(task.pod)) {
    if (value !== undefined) fields[`pod.${key}`] = hash(value);
  }
  return { image: renderParams(task.image, params), fields };
}

const FIELD_WORDS: Record<string, string> = {
  command: 'command',
  args: 'args',
  workingDir: 'workingDir',
  envFrom: 'envFrom',
  resources: 'resources',
};

function fieldWords(key: string): string {
  if (key.startsWith('env.')) return `env ${key.slice(4)}`;
  if (key.startsWith('pod.')) return `pod field ${key.slice(4)}`;
  return FIELD_WORDS[key] ?? key;
}

/**
 * What changed from `before` to `after`, in words ("image changed from a:1 to a:2; args
 * changed; env TOKEN added"), or `null` when nothing did. Values other than the image are never
 * shown: they may hold secrets.
 */
export function fingerprintChange(before: TaskFingerprint, after: TaskFingerprint): string | null {
  const changes: string[] = [];
  if (before.image !== after.image) changes.push(`image changed from ${before.image} to ${after.image}`);
  const keys = [...new Set([...Object.keys(before.fields), ...Object.keys(after.fields)])];
  // A stable, readable order: the container's own fields, then env, then pod fields.
  const rank = (k: string): number => (k.startsWith('env.') ? 1 : k.startsWith('pod.') ? 2 : 0);
  keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const key of keys) {
    const was = before.fields[key];
    const now = after.fields[key];
    if (was === now) continue;
    const what = fieldWords(key);
    if (was === undefined) changes.push(`${what} added`);
    else if (now === undefined) changes.push(`${what} removed`);
    else changes.push(`${what} changed`);
  }
  return changes.length === 0 ? null : changes.join('; ');
}

// ---- the plan ----------------------------------------------------------------------------

function describeEnd(entry: StoredTask): string {
  const last = entry.attempts.at(-1);
  const detail = last === undefined ? '' : last.exitCode !== null && last.class === 'failed' ? ` (exit code ${last.exitCode})` : last.reason ? ` (${last.reason})` : '';
  switch (entry.result) {
    case 'failed':
      return `it failed in run attempt ${entry.runAttempt}${detail}`;
    case 'cancelled':
      return `it was cancelled in run attempt ${entry.runAttempt}`;
    case 'skipped':
      return `it was skipped in run attempt ${entry.runAttempt}`;
    case 'not-run':
      return `it did not run in run attempt ${entry.runAttempt}`;
    case null:
      // No final result recorded (the engine did not say, or the run died while a retry was
      // due): its last attempt says how it ended.
      if (last === undefined || last.class === 'failed') return `it failed in run attempt ${entry.runAttempt}${detail}`;
      if (last.class === 'cancelled') return `it was cancelled in run attempt ${entry.runAttempt}`;
      return `its last attempt in run attempt ${entry.runAttempt} ended as ${last.class}${detail}`;
    case 'succeeded':
      return `it succeeded in run attempt ${entry.runAttempt}`;
  }
}

/**
 * Decides, for run attempt `options.runAttempt` of a run whose earlier state is `stored`, which
 * tasks reuse an earlier success and which run, each with a reason a user can read. Without
 * `options.runAttempt`, every stored entry counts as earlier.
 */
export function planRerun(
  spec: DagSpec,
  params: Record<string, string>,
  stored: StoredRunState | null,
  mode: RerunMode,
  options: { runAttempt?: number } = {},
): RerunPlan {
  const byId = new Map(spec.tasks.map((t) => [t.id, t]));
  const reasons = new Map<string, string | null>(); // null: reused
  const visiting = new Set<string>();

  const decideTask = (task: TaskSpec): string | null => {
    if (reasons.has(task.id)) return reasons.get(task.id)!;
    if (visiting.has(task.id)) throw new Error(`planRerun: the needs of task "${task.id}" form a cycle; validate the spec first`);
    visiting.add(task.id);
    // Upstream first, so every task's needs are decided before it (any order of the spec works).
    const upstream: string[] = [];
    for (const need of task.needs) {
      const up = byId.get(need);
      if (up === undefined) throw new Error(`planRerun: task "${task.id}" needs "${need}", which is not in DAG "${spec.name}"`);
      if (decideTask(up) !== null) upstream.push(need);
    }
    const reason = ownReason(task, upstream);
    visiting.delete(task.id);
    reasons.set(task.id, reason);
    return reason;
  };

  /** Instance ids of a matrix task reused by this plan (only those whose earlier success holds). */
  const reusedInstances = new Map<string, { id: string; entry: StoredTask }[]>();

  /**
   * A matrix task: each instance is judged as a task is (rules 1-5), by its instance id; the task
   * is reused only if every instance of its matrix is. A dynamic matrix is computed again from
   * the recorded outputs of its upstream (reused, or the matrix task would run anyway).
   */
  const matrixReason = (task: TaskSpec, upstream: string[]): string | null => {
    const strategy = task.strategy!;
    if (upstream.length > 0) {
      const names = upstream.map((u) => `"${u}"`).join(', ');
      return `it needs ${names}, which ${upstream.length === 1 ? 'runs' : 'run'} again`;
    }
    let instances: MatrixInstance[];
    if (strategy.matrix.kind === 'static') {
      instances = strategy.matrix.instances;
    } else {
      const tasks: Record<string, TaskValue> = {};
      for (const need of upstreamIds(task)) {
        const e = stored !== null && Object.hasOwn(stored.tasks, need) ? stored.tasks[need]! : undefined;
        if (e !== undefined && e.result === 'succeeded') tasks[need] = { result: 'success', outputs: e.outputs };
      }
      try {
        const expansion = expandMatrix(task.id, evaluateTemplateValue(strategy.matrix.template, { params, outputs: {}, tasks }, 'matrix'));
        if (!expansion.ok) return 'its matrix could not be computed again from the recorded outputs of its upstream';
        instances = expansion.instances;
      } catch {
        return 'its matrix could not be computed again from the recorded outputs of its upstream';
      }
    }
    const reused: { id: string; entry: StoredTask }[] = [];
    const again: string[] = [];
    for (const inst of instances) {
      const why = entryReason(task, inst.id);
      if (why === null) reused.push({ id: inst.id, entry: stored!.tasks[inst.id]! });
      else again.push(`"${inst.id}": ${why}`);
    }
    reusedInstances.set(task.id, reused);
    if (again.length === 0) return null;
    const shown = again.slice(0, 3).join('; ') + (again.length > 3 ? `; and ${again.length - 3} more` : '');
    return `${again.length} of ${instances.length} matrix instances run again (${shown})${reused.length > 0 ? `; the ${reused.length} that succeeded are reused` : ''}`;
  };

  /** The tasks `task` reads: its direct needs (a dynamic matrix may only read tasks upstream). */
  const upstreamIds = (task: TaskSpec): string[] => {
    const seen = new Set<string>();
    const queue = [...task.needs];
    while (queue.length > 0) {
      const id = queue.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push(...(byId.get(id)?.needs ?? []));
    }
    return [...seen];
  };

  const ownReason = (task: TaskSpec, upstream: string[]): string | null => {
    if (task.strategy) return matrixReason(task, upstream);
    const reason = entryReason(task, task.id);
    if (reason !== null) return reason;
    if (upstream.length > 0) {
      const names = upstream.map((u) => `"${u}"`).join(', ');
      return `it needs ${names}, which ${upstream.length === 1 ? 'runs' : 'run'} again`;
    }
    return null;
  };

  /** Rules 1-5 for the stored entry `key` (a task id or a matrix instance id) of `task`. */
  const entryReason = (task: TaskSpec, key: string): string | null => {
    if (stored === null) return 'no earlier run attempt recorded it';
    const entry = Object.hasOwn(stored.tasks, key) ? stored.tasks[key]! : undefined;
    if (entry === undefined) {
      // Only attempts' ends are recorded: a task skipped (an upstream failed, or its `if:` was
      // false) or never reached (the run was cancelled) has no entry, though the run attempt ran.
      const ran = [...stored.runAttempts.map((a) => a.runAttempt), ...Object.values(stored.tasks).map((t) => t.runAttempt)].filter(
        (n) => options.runAttempt === undefined || n < options.runAttempt,
      );
      return ran.length === 0 ? 'no earlier run attempt recorded it' : `it did not run in run attempt ${Math.max(...ran)} (skipped there, or not reached)`;
    }
    if (options.runAttempt !== undefined && entry.runAttempt >= options.runAttempt) {
      // Replayed, successes too, not reused: the scheduler must see this attempt's whole history
      // again to decide as it did (a success whose upstream failed does not let its dependants
      // run; reused, it would).
      return `it already ran in this run attempt (${entry.runAttempt}) before the action restarted; its recorded attempts are replayed, not run again`;
    }
    if (entry.result !== 'succeeded') return describeEnd(entry);
    if (mode === 'all') return `rerun is 'all' (it succeeded in run attempt ${entry.runAttempt})`;
    if (entry.outputsDropped) {
      return `its outputs from run attempt ${entry.runAttempt} were not kept (the run's state had to stay under the ConfigMap size limit)`;
    }
    const change = fingerprintChange(entry.fingerprint, taskFingerprint(task, params));
    if (change !== null) return `${change} since run attempt ${entry.runAttempt}`;
    return null;
  };

  const plan: RerunPlan = { previous: {}, rerun: [] };
  for (const task of spec.tasks) {
    const reason = decideTask(task);
    // A matrix task's successful instances are reused even when others run again.
    for (const { id, entry } of reusedInstances.get(task.id) ?? []) plan.previous[id] = { outputs: { ...entry.outputs }, runAttempt: entry.runAttempt };
    if (task.strategy) {
      if (reason !== null) plan.rerun.push({ task: task.id, reason });
    } else if (reason === null) {
      const entry = stored!.tasks[task.id]!;
      plan.previous[task.id] = { outputs: { ...entry.outputs }, runAttempt: entry.runAttempt };
    } else {
      plan.rerun.push({ task: task.id, reason });
    }
  }
  return plan;
}

/**
 * The recorded end of attempt `attempt` of `task` in run attempt `runAttempt`, or `null`. After a
 * crash the engine asks this before creating a pod: a recorded attempt is fed to the scheduler
 * as `started` + `finished` instead of running again (its pod may already be deleted).
 */
export function recordedAttempt(
  stored: StoredRunState | null,
  runAttempt: number,
  task: string,
  attempt: number,
): (StoredAttempt & { outputs: Record<string, string> }) | null {
  if (stored === null || !Object.hasOwn(stored.tasks, task)) return null;
  const entry = stored.tasks[task]!;
  if (entry.runAttempt !== runAttempt) return null;
  const found = entry.attempts.find((a) => a.attempt === attempt);
  if (found === undefined) return null;
  const outputs = found.attempt === entry.attempt && found.class === 'succeeded' ? { ...entry.outputs } : {};
  return { ...found, outputs };
}

// ---- updates -----------------------------------------------------------------------------

/** What the engine records when an attempt ends. */
export interface TaskUpdate {
  task: string;
  runAttempt: number;
  attempt: number;
  pod: string | null;
  startedAt: number;
  finishedAt: number;
  outcome: AttemptOutcome;
  /**
   * The task's final result if this attempt settled it, `null` when a retry follows. When not
   * given: `succeeded` for a succeeded attempt, else `null` (which a re-run treats the same as
   * `failed`; only the wording of its reason differs).
   */
  result?: TaskResult | null;
  fingerprint: TaskFingerprint;
}

/** The public keys of every process of the run the state records (to verify the run's pods with). */
export function runKeys(state: StoredRunState | null): string[] {
  return state === null ? [] : state.runAttempts.flatMap((r) => r.keys ?? []);
}

/** An empty state for a run. */
export function emptyRunState(dag: string, runId: string, now: number): StoredRunState {
  return { version: STATE_VERSION, dag, runId, updatedAt: now, tasks: {}, runAttempts: [] };
}

/**
 * The state with run attempt `runAttempt` marked started (`result` undefined) or finished. A
 * restart of the same run attempt after a crash keeps its first start time and clears an end.
 * A start with a `claim` records it; when the run attempt was started with another claim, the
 * caller is another step the run's identity does not tell apart: AmbiguousRunError (the caller
 * adds what to do). Starting again what is already started with the same claim changes nothing
 * (the same object is returned, so nothing is written).
 */
export function markRunAttempt(state: StoredRunState, runAttempt: number, now: number, result?: RunResult, claim?: RunClaim, key?: string): StoredRunState {
  const runAttempts = state.runAttempts.filter((r) => r.runAttempt !== runAttempt);
  const before = state.runAttempts.find((r) => r.runAttempt === runAttempt);
  if (claim !== undefined && before?.claim !== undefined) {
    const differences = claimDifferences(claim, before.claim);
    if (differences.length > 0) {
      throw new AmbiguousRunError(runAttempt, differences);
    }
  }
  const keys = [...(before?.keys ?? [])];
  if (key !== undefined && !keys.includes(key)) keys.push(key);
  const newKey = keys.length !== (before?.keys?.length ?? 0);
  if (result === undefined && !newKey && before !== undefined && before.finishedAt === null && (claim === undefined || before.claim !== undefined)) return state;
  const entry: StoredRunAttempt = {
    runAttempt,
    startedAt: before?.startedAt ?? now,
    finishedAt: result === undefined ? null : now,
    result: result ?? null,
  };
  const kept = claim ?? before?.claim;
  if (kept !== undefined) entry.claim = kept;
  if (keys.length > 0) entry.keys = keys;
  runAttempts.push(entry);
  runAttempts.sort((a, b) => a.runAttempt - b.runAttempt);
  return { ...state, updatedAt: Math.max(state.updatedAt, now), runAttempts };
}

/**
 * The state after `update` (a new object; `state` is not changed). Idempotent: applying the same
 * update twice (a write retried after a conflict) gives the same state. An update from an older
 * run attempt than the one recorded is ignored, so a late writer cannot roll the state back.
 */
export function applyTaskUpdate(state: StoredRunState, update: TaskUpdate, now: number): StoredRunState {
  const before = Object.hasOwn(state.tasks, update.task) ? state.tasks[update.task] : undefined;
  const entry = applyTaskEntry(before, update);
  if (entry === null) return state;
  return { ...state, updatedAt: Math.max(state.updatedAt, now), tasks: { ...state.tasks, [update.task]: entry } };
}

/**
 * The entry of one task after `update`, from its entry `before` (if any); `null` when the update
 * is from an older run attempt than the one recorded (ignored, so a late writer cannot roll the
 * state back). Idempotent, like `applyTaskUpdate`, which is this applied to a whole state; the
 * run store applies it to one task at a time (O(1) per update, whatever the number of tasks).
 */
export function applyTaskEntry(before: StoredTask | undefined, update: TaskUpdate): StoredTask | null {
  if (before !== undefined && before.runAttempt > update.runAttempt) return null;
  const attempts = before !== undefined && before.runAttempt === update.runAttempt ? before.attempts.filter((a) => a.attempt !== update.attempt) : [];
  const o = update.outcome;
  attempts.push({
    attempt: update.attempt,
    pod: update.pod,
    startedAt: update.startedAt,
    finishedAt: update.finishedAt,
    class: o.class,
    reason: o.reason,
    message: o.message === null ? null : o.message.length > MESSAGE_LIMIT ? `${o.message.slice(0, MESSAGE_LIMIT - 1)}…` : o.message,
    exitCode: o.exitCode,
    node: o.node,
  });
  attempts.sort((a, b) => a.attempt - b.attempt);
  const last = attempts.at(-1)!;
  const isLast = last.attempt === update.attempt;
  return {
    result: isLast ? (update.result !== undefined ? update.result : o.class === 'succeeded' ? 'succeeded' : null) : (before?.result ?? null),
    attempt: last.attempt,
    runAttempt: update.runAttempt,
    outputs: isLast ? (o.class === 'succeeded' ? { ...o.outputs } : {}) : { ...(before?.outputs ?? {}) },
    finishedAt: last.finishedAt,
    fingerprint: update.fingerprint,
    pod: last.pod,
    attempts,
  };
}

// ---- JSON --------------------------------------------------------------------------------

/** The state as the JSON text kept in the ConfigMap. */
export function serializeRunState(state: StoredRunState): string {
  return JSON.stringify(state);
}

/** Why a stored state could not be read. */
export class RunStateFormatError extends UserError {
  override name = 'RunStateFormatError';
}

const finite = z.number().refine(Number.isFinite, 'not a finite number');
const text = z.string().nullable();
const TASK_RESULTS = ['succeeded', 'failed', 'skipped', 'cancelled', 'not-run'] as const satisfies readonly TaskResult[];
const CLASSES = ['succeeded', 'failed', 'infrastructure', 'configuration', 'timeout', 'cancelled'] as const satisfies readonly AttemptOutcome['class'][];
const RUN_RESULTS = ['success', 'failure', 'cancelled'] as const satisfies readonly RunResult[];

/** A TaskFingerprint as stored (in the run's state, in a pod's annotation). */
export const fingerprintSchema = z.object({ image: z.string(), fields: z.record(z.string(), z.string()) });

/** One task's entry in the stored state (the spec's way, zod); the run store's shards hold these too. */
export const storedTaskSchema = z.object({
  result: z.enum(TASK_RESULTS).nullable(),
  attempt: finite,
  runAttempt: finite,
  outputs: z.record(z.string(), z.string()),
  outputsDropped: z.literal(true).optional(),
  finishedAt: finite,
  fingerprint: fingerprintSchema,
  pod: text,
  attempts: z.array(
    z.object({
      attempt: finite,
      pod: text,
      startedAt: finite,
      finishedAt: finite,
      class: z.enum(CLASSES),
      reason: text,
      message: text,
      exitCode: finite.nullable(),
      node: text,
    }),
  ),
}) satisfies z.ZodType<StoredTask>;

/** One run attempt as the stored state records it. */
export const storedRunAttemptSchema = z.object({
  runAttempt: finite,
  startedAt: finite,
  finishedAt: finite.nullable(),
  result: z.enum(RUN_RESULTS).nullable(),
  claim: z.record(z.string(), z.string().nullable()).optional(),
  keys: z.array(z.string()).optional(),
}) satisfies z.ZodType<StoredRunAttempt>;

/** The stored state's schema: what `parseRunState` accepts, field by field (the spec's way, zod). */
const storedRunStateSchema = z.object({
  version: z.literal(STATE_VERSION),
  dag: z.string(),
  runId: z.string(),
  updatedAt: finite,
  tasks: z.record(z.string(), storedTaskSchema),
  runAttempts: z.array(storedRunAttemptSchema),
}) satisfies z.ZodType<StoredRunState>;

/**
 * Parses the JSON text of a stored state. `where` names its origin for messages
 * ("ConfigMap data-jobs/pod-dag-nightly-123"). Throws RunStateFormatError saying what is wrong.
 */
export function parseRunState(text: string, where: string): StoredRunState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RunStateFormatError(`${where}: state.json is not valid JSON (${(err as Error).message}); delete the ConfigMap to start the run's state afresh`);
  }
  const bad = (what: string): never => {
    throw new RunStateFormatError(`${where}: state.json ${what}; delete the ConfigMap to start the run's state afresh`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return bad('is not a JSON object');
  const version = (raw as Record<string, unknown>)['version'];
  if (version !== STATE_VERSION) {
    return bad(`has version ${JSON.stringify(version)}, but this version of pod-dag-action reads version ${STATE_VERSION} (was it written by a newer release?)`);
  }
  const parsed = storedRunStateSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const [top, id, ...rest] = issue.path.map(String);
  const field = (parts: string[]): string => parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
  if (top === 'tasks' && id !== undefined) return bad(`has a bad entry for task "${id}": ${rest.length > 0 ? `${field(rest)}: ` : ''}${issue.message}`);
  return bad(`has a bad ${field(issue.path.map(String)) || 'shape'}: ${issue.message}`);
}

/**
 * Makes the serialized state fit in `limitBytes` (UTF-8) by dropping the outputs of the tasks
 * with the largest outputs first, marking each (`outputsDropped`) so a later run attempt runs it
 * again rather than reusing it without its outputs. Returns the text and the tasks whose outputs
 * were dropped, or throws when even without any outputs the state is too large.
 */
export function fitRunState(state: StoredRunState, limitBytes: number): { text: string; state: StoredRunState; dropped: string[] } {
  let text = serializeRunState(state);
  if (Buffer.byteLength(text, 'utf8') <= limitBytes) return { text, state, dropped: [] };
  const size = (o: Record<string, string>): number => Buffer.byteLength(JSON.stringify(o), 'utf8');
  const candidates = Object.entries(state.tasks)
    .filter(([, t]) => Object.keys(t.outputs).length > 0)
    .sort(([a, x], [b, y]) => size(y.outputs) - size(x.outputs) || (a < b ? -1 : 1));
  const tasks = { ...state.tasks };
  const dropped: string[] = [];
  for (const [id, t] of candidates) {
    tasks[id] = { ...t, outputs: {}, outputsDropped: true };
    dropped.push(id);
    const next = { ...state, tasks: { ...tasks } };
    text = serializeRunState(next);
    if (Buffer.byteLength(text, 'utf8') <= limitBytes) return { text, state: next, dropped };
  }
  throw new RunStateFormatError(
    `the run's state of DAG "${state.dag}" (${Object.keys(state.tasks).length} tasks) is ${Buffer.byteLength(text, 'utf8')} bytes even without task outputs, ` +
      `more than the ${limitBytes} bytes a ConfigMap can hold; split the DAG into smaller DAGs`,
  );
}
