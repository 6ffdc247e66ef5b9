/**
 * The run's state split in parts, so that it is not bounded by one ConfigMap's 1 MiB: a head (the
 * run attempts, how many shards, a digest for the history grid) and shards (the tasks' entries,
 * each task in exactly one shard). src/kube/run-store.ts keeps each part in a ConfigMap of its
 * own; this module says what each part holds and reads it back (pure: no I/O, no clock).
 *
 * The released v1 kept the whole state (StoredRunState, version 1) in one ConfigMap under
 * `state.json`; a head is told from it by its version (2). Both are read.
 */
import * as z from 'zod';
import { RunStateFormatError, storedRunAttemptSchema, storedTaskSchema, type StoredRunAttempt, type StoredTask } from './rerun.ts';

/** The version of heads and shards. */
export const PARTS_VERSION = 2;

/** A run state's head: everything but the tasks' entries. */
export interface StateHead {
  version: typeof PARTS_VERSION;
  dag: string;
  runId: string;
  /** When the head was last written, epoch ms (housekeeping's sign of life). */
  updatedAt: number;
  runAttempts: StoredRunAttempt[];
  /** Shards 0 … shards-1 exist (more may, created just before a crash; none fewer). */
  shards: number;
}

/** One shard of a run state: some of its tasks' entries. */
export interface StateShard {
  version: typeof PARTS_VERSION;
  dag: string;
  runId: string;
  shard: number;
  tasks: Record<string, StoredTask>;
}

/**
 * What the history grid needs of a run, small enough to read for every retained run: per task
 * `[result, duration ms or null, run attempt]`. A run of more than DIGEST_TASKS tasks lists only
 * the tasks that did not succeed (`othersSucceeded`: every other recorded task succeeded).
 */
export interface StateDigest {
  tasks: Record<string, DigestCell>;
  othersSucceeded: boolean;
}

/** A task in the digest: its result (`null`: unfinished), duration of its last run attempt, run attempt. */
export type DigestCell = [result: StoredTask['result'], durationMs: number | null, runAttempt: number];

/** Runs of at most this many tasks have every task in their digest. */
export const DIGEST_TASKS = 500;

const finite = z.number().refine(Number.isFinite, 'not a finite number');

const headSchema = z.object({
  version: z.literal(PARTS_VERSION),
  dag: z.string(),
  runId: z.string(),
  updatedAt: finite,
  runAttempts: z.array(storedRunAttemptSchema),
  shards: z.number().int().nonnegative(),
}) satisfies z.ZodType<StateHead>;

const shardSchema = z.object({
  version: z.literal(PARTS_VERSION),
  dag: z.string(),
  runId: z.string(),
  shard: z.number().int().nonnegative(),
  tasks: z.record(z.string(), storedTaskSchema),
}) satisfies z.ZodType<StateShard>;

const digestSchema = z.object({
  tasks: z.record(z.string(), z.tuple([storedTaskSchema.shape.result, finite.nullable(), finite])),
  othersSucceeded: z.boolean(),
}) satisfies z.ZodType<StateDigest>;

function parseJson(text: string, where: string, key: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RunStateFormatError(`${where}: ${key} is not valid JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new RunStateFormatError(`${where}: ${key} is not a JSON object`);
  return raw as Record<string, unknown>;
}

function checked<T>(schema: z.ZodType<T>, raw: unknown, where: string, key: string): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  throw new RunStateFormatError(`${where}: ${key} has a bad ${path || 'shape'}: ${issue.message}`);
}

/** The version of a `state.json` text (1: a whole v1 state; 2: a head), read without checking the rest. */
export function stateVersion(text: string, where: string): unknown {
  return parseJson(text, where, 'state.json')['version'];
}

/** Parses a head's `state.json`. Throws RunStateFormatError saying what is wrong. */
export function parseHead(text: string, where: string): StateHead {
  return checked(headSchema, parseJson(text, where, 'state.json'), where, 'state.json');
}

/** Parses a shard's `tasks.json`. Throws RunStateFormatError saying what is wrong. */
export function parseShard(text: string, where: string): StateShard {
  const raw = parseJson(text, where, 'tasks.json');
  if (raw['version'] !== PARTS_VERSION) {
    throw new RunStateFormatError(`${where}: tasks.json has version ${JSON.stringify(raw['version'])}, but this version of pod-dag-action reads version ${PARTS_VERSION} (was it written by a newer release?)`);
  }
  return checked(shardSchema, raw, where, 'tasks.json');
}

/** Parses a head's `digest.json`, or `null` when it cannot be read (the history then leaves the tasks out). */
export function parseDigest(text: string): StateDigest | null {
  try {
    const parsed = digestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** A head's `state.json` text. */
export function serializeHead(head: StateHead): string {
  return JSON.stringify(head);
}

/**
 * A shard's `tasks.json` text from its entries already serialized (the store keeps each task's
 * entry as its JSON text: compact in memory, and a shard is written without serializing again
 * the entries that did not change).
 */
export function serializeShard(dag: string, runId: string, shard: number, entries: Iterable<[string, string]>): string {
  const parts: string[] = [];
  for (const [id, json] of entries) parts.push(`${JSON.stringify(id)}:${json}`);
  return `${shardPrefix(dag, runId, shard)}${parts.join(',')}}}`;
}

/** The bytes of a shard's text around its entries. */
export function shardOverheadBytes(dag: string, runId: string, shard: number): number {
  return Buffer.byteLength(shardPrefix(dag, runId, shard), 'utf8') + 2;
}

/** The bytes one entry adds to a shard's text (with its comma). */
export function entryBytes(id: string, json: string): number {
  return Buffer.byteLength(JSON.stringify(id), 'utf8') + 1 + Buffer.byteLength(json, 'utf8') + 1;
}

function shardPrefix(dag: string, runId: string, shard: number): string {
  return `{"version":${PARTS_VERSION},"dag":${JSON.stringify(dag)},"runId":${JSON.stringify(runId)},"shard":${shard},"tasks":{`;
}

/** The digest cell of a task's entry. */
export function digestCell(entry: StoredTask): DigestCell {
  const start = entry.attempts[0]?.startedAt ?? null;
  return [entry.result, start === null ? null : Math.max(0, entry.finishedAt - start), entry.runAttempt];
}

/** A digest's `digest.json` text from every task's cell. */
export function serializeDigest(cells: ReadonlyMap<string, DigestCell>): string {
  const all = cells.size <= DIGEST_TASKS;
  const tasks: Record<string, DigestCell> = {};
  let listed = 0;
  for (const [id, cell] of cells) {
    if (!all && cell[0] === 'succeeded') continue;
    if (listed++ >= DIGEST_TASKS) break;
    tasks[id] = cell;
  }
  return JSON.stringify({ tasks, othersSucceeded: !all } satisfies StateDigest);
}

/** The newer of two entries of one task (a task moved between shards, a crash in between): later run attempt, more attempts, later end. */
export function newerEntry(a: StoredTask, b: StoredTask): StoredTask {
  if (a.runAttempt !== b.runAttempt) return a.runAttempt > b.runAttempt ? a : b;
  if (a.attempts.length !== b.attempts.length) return a.attempts.length > b.attempts.length ? a : b;
  if (a.attempt !== b.attempt) return a.attempt > b.attempt ? a : b;
  return b.finishedAt > a.finishedAt ? b : a;
}
