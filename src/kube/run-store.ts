/**
 * The run's state kept in the cluster, so a re-run (next GitHub run attempt) or a restart after a
 * crash (same run attempt) knows what already happened even when the pods are gone.
 *
 * Kept in ConfigMaps labelled like the run's pods (managed-by, dag, run id, repository), so that
 * no run is bounded by one ConfigMap's 1 MiB (src/dag/state-parts.ts says what each part holds):
 * - the head, `pod-dag-<dag>-<runId>` (label `pod-dag.io/state=head`): the run attempts, how many
 *   shards there are, and a small digest the history grid reads (src/kube/history.ts);
 * - shards, `<head>.shard-<n>` (label `pod-dag.io/state=shard`): the tasks' entries, each task in
 *   one shard. New tasks fill the last shard up to `fillBytes`; the rest of the 1 MiB is room for
 *   their retries. A task whose entry would not fit any more moves to a new shard.
 * The released v1 kept the whole state in the head (`state.json`, version 1): it is still read,
 * and written back as head and shards by the first write.
 *
 * Reading is one list of the run's ConfigMaps. A head that counts more shards than are found is
 * refused ("torn"): the run cannot know what already ran, so it stops before creating anything.
 *
 * Writes are batched: at most one write is in flight, and everything recorded meanwhile goes in
 * the next. A record may also wait (`recordTask(update, { defer: true })`) until something needs
 * it durable (`flush()`): the engine defers the end of an attempt whose pod still exists, because
 * that pod is the record until it is deleted (a restart adopts it), and flushes before each batch
 * of deletes and at the run's end; so a chain of N tasks makes about one write per delete batch,
 * not one per task. Only shards that changed are written, shards before the head (new shards first,
 * in order), and a shard that gains an entry before one that loses it, so whatever the moment of a crash the entry exists
 * somewhere (the reader keeps the newer of two copies). Every record resolves once its batch is in
 * the cluster: only then may the attempt's pod be deleted. Either the pod or the record of its end
 * exists, whatever the moment of a crash.
 *
 * Writes use optimistic concurrency: each replace carries the resourceVersion read, a 409 means
 * someone else wrote in between (another process of the same run after a restart, a retried
 * request that reached the server), so the state is read again and the batch, whose updates are
 * idempotent, applied again. Transient errors (429, 5xx, network) are retried by `request`.
 *
 * Memory: each task's entry is kept as its JSON text (about 440 bytes), not as objects.
 */
import { taskOfInstance } from '../spec/matrix.ts';
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import {
  applyTaskEntry,
  markRunAttempt,
  parseRunState,
  planRerun,
  recordedAttempt,
  STATE_VERSION,
  taskFingerprint,
  type RerunMode,
  type RerunPlan,
  type RunClaim,
  type StoredRunAttempt,
  type StoredRunState,
  type StoredTask,
  type TaskUpdate,
} from '../dag/rerun.ts';
import {
  digestCell,
  entryBytes,
  newerEntry,
  parseHead,
  parseShard,
  PARTS_VERSION,
  serializeDigest,
  serializeHead,
  serializeShard,
  shardOverheadBytes,
  stateVersion,
  type DigestCell,
} from '../dag/state-parts.ts';
import type { AttemptEnd, RunResult } from '../dag/types.ts';
import type { DagSpec } from '../spec/types.ts';
import { systemClock } from '../common/clock.ts';
import type { Requester } from './client.ts';
import { classifyError, KubeError } from './errors.ts';
import { LABELS, MANAGED_BY, labelValue } from './pod.ts';

/** The key of the state in the head's data (a v1 state's too). */
export const STATE_KEY = 'state.json';
/** The key of the tasks' entries in a shard's data. */
export const TASKS_KEY = 'tasks.json';
/** The key of the history's digest in the head's data. */
export const DIGEST_KEY = 'digest.json';
/** The label that tells a head (`head`) from a shard (`shard`); a v1 state has none. */
export const STATE_PART_LABEL = 'pod-dag.io/state';
/** The selector term that leaves shards out (heads and v1 states match: `!=` matches a missing label). */
export const NOT_A_SHARD = `${STATE_PART_LABEL}!=shard`;

/**
 * The most bytes of a shard's data we write. Kubernetes refuses a ConfigMap whose data exceeds
 * 1 MiB (1,048,576 bytes); the margin leaves room for metadata and the key.
 */
export const STATE_LIMIT_BYTES = 1_000_000;

/** New tasks go to the last shard until it holds this many bytes; the rest is room for retries. */
export const SHARD_FILL_BYTES = 400_000;

export type { Requester };

/**
 * The ConfigMap name of a run's state (its head): `pod-dag-<dag>-<runId>-<scope>` (no `-<scope>`
 * on the CLI), a valid DNS subdomain. The scope (src/common/run.ts `runScope`) keeps the legs and
 * steps of one workflow run that run the same DAG apart.
 */
export function runStateName(dag: string, runId: string, scope: string | null = null): string {
  const id = runId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  if (id === '') throw new Error(`runStateName: run id ${JSON.stringify(runId)} has no letter or digit to name a ConfigMap with`);
  return `pod-dag-${dag}-${id}${scope ? `-${scope}` : ''}`;
}

/** The ConfigMap name of shard `index` of the state whose head is `head` (a '.' no head name has). */
export function shardName(head: string, index: number): string {
  return `${head}.shard-${index}`;
}

/** The labels of a run's state ConfigMaps (the pods' labels without task and attempts). */
export function runStateLabels(dag: string, runId: string, repository: string | null, scope: string | null = null): Record<string, string> {
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.dag]: labelValue(dag),
    [LABELS.runId]: labelValue(runId),
  };
  if (scope) labels[LABELS.runScope] = scope;
  if (repository) labels[LABELS.repository] = labelValue(repository);
  return labels;
}

/** The label selector of every ConfigMap of a run's state (head, shards, or a v1 state). */
export function runStateSelector(dag: string, runId: string, repository: string | null, scope: string | null = null): string {
  const terms = Object.entries(runStateLabels(dag, runId, repository, scope)).map(([k, v]) => `${k}=${v}`);
  if (!repository) terms.push(`!${LABELS.repository}`);
  return terms.join(',');
}

/** Options of a RunStore. */
export interface RunStoreOptions {
  core: CoreV1Api;
  namespace: string;
  dag: string;
  runId: string;
  /** The run's scope (src/common/run.ts `runScope`), or null on the CLI. */
  scope?: string | null;
  /** `owner/name` of the GitHub repository, or null outside a workflow. */
  repository: string | null;
  /** The clock (epoch ms) for `updatedAt`; default the system's (src/common/clock.ts). */
  now?: () => number;
  /** How requests are sent: KubeClient.request, so they share the client's rate limit and retries. */
  request: Requester;
  /** The most bytes of a shard's data; default STATE_LIMIT_BYTES. */
  limitBytes?: number;
  /** New tasks fill a shard up to this; default SHARD_FILL_BYTES (at most `limitBytes`). */
  fillBytes?: number;
  /** Told when something worth a log line happened. */
  onNote?: (message: string) => void;
  /** How many 409 conflicts in a row one write tolerates before it fails; default 20. */
  maxConflicts?: number;
}

/** One shard as this process knows it. */
interface Shard {
  index: number;
  /** By task id, the entry's JSON text. */
  tasks: Map<string, string>;
  /** The bytes of its `tasks.json`. */
  bytes: number;
  /** `null`: not in the cluster yet. */
  resourceVersion: string | null;
  dirty: boolean;
}

/** The state as this process knows it (read once, then kept up to date by its own writes). */
interface Known {
  /** The head's resourceVersion; `null`: no head in the cluster yet. */
  headVersion: string | null;
  /** The head holds a v1 state: the next write turns it into head and shards. */
  v1: boolean;
  updatedAt: number;
  runAttempts: StoredRunAttempt[];
  /** How many shards the head in the cluster counts. */
  countedShards: number;
  headDirty: boolean;
  shards: Shard[];
  /** Which shard holds each task. */
  where: Map<string, number>;
  /** What the history needs of each task. */
  digest: Map<string, DigestCell>;
}

/** A change waiting for the next write. */
interface Op {
  what: string;
  apply: (known: Known, now: number) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The run's state in the cluster: read it at the start, record every attempt's end. */
export class RunStore {
  /** The head ConfigMap's name. */
  readonly name: string;
  readonly #o: Required<Omit<RunStoreOptions, 'repository' | 'scope'>> & { repository: string | null; scope: string | null };
  #known: Known | null = null;
  /** Changes recorded and not yet written. */
  #ops: Op[] = [];
  /** The write loop, while it runs (it never rejects). */
  #flushing: Promise<void> | null = null;

  constructor(options: RunStoreOptions) {
    this.name = runStateName(options.dag, options.runId, options.scope ?? null);
    const limitBytes = options.limitBytes ?? STATE_LIMIT_BYTES;
    this.#o = {
      scope: null,
      now: systemClock.now,
      onNote: () => {},
      maxConflicts: 20,
      ...options,
      limitBytes,
      fillBytes: Math.min(options.fillBytes ?? SHARD_FILL_BYTES, limitBytes),
    };
  }

  get #where(): string {
    return `ConfigMap ${this.#o.namespace}/${this.name}`;
  }

  get #selector(): string {
    return runStateSelector(this.#o.dag, this.#o.runId, this.#o.repository, this.#o.scope);
  }

  /**
   * The stored state, or `null` when the run has none yet (its first attempt). One list request
   * the first time; afterwards the state as this process read and wrote it (the run's claim
   * already read it: the re-run plan needs no second list), until a write fails or conflicts.
   */
  async load(): Promise<StoredRunState | null> {
    const known = this.#known;
    if (known === null) return (await this.#read()).state;
    if (known.headVersion === null && known.shards.every((s) => s.resourceVersion === null)) return null;
    const tasks: Record<string, StoredTask> = {};
    for (const shard of known.shards) for (const [id, json] of shard.tasks) tasks[id] = JSON.parse(json) as StoredTask;
    return { version: STATE_VERSION, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, tasks, runAttempts: known.runAttempts };
  }

  /**
   * Records the end of one attempt (and the task's result when final). Resolves once the state
   * is in the cluster; only then may the attempt's pod be deleted. Calls are applied in order.
   */
  recordTask(update: TaskUpdate, options: { defer?: boolean } = {}): Promise<void> {
    return this.#enqueue(`record task "${update.task}"`, (known) => this.#applyTask(known, update), options.defer === true);
  }

  /**
   * Writes everything recorded so far, deferred records included; resolves once written (or
   * failed: each record's own promise says which). Never rejects.
   */
  flush(): Promise<void> {
    if (this.#ops.length > 0) this.#flushing ??= this.#flushLoop();
    return this.#flushing ?? Promise.resolve();
  }

  /**
   * Records that run attempt `runAttempt` started (call once the lease, if any, is held), with
   * the claim of the step that starts it: AmbiguousRunError when another claim started it; and the
   * public key this process signs its pods with (src/kube/pod-proof.ts), before it creates any.
   */
  markStarted(runAttempt: number, claim?: RunClaim, key?: string): Promise<void> {
    return this.#enqueue(`record the start of run attempt ${runAttempt}`, (known, now) => this.#mark(known, runAttempt, now, undefined, claim, key));
  }

  /** Records that run attempt `runAttempt` ended with `result` (housekeeping then knows it is over). */
  markFinished(runAttempt: number, result: RunResult): Promise<void> {
    return this.#enqueue(`record the end of run attempt ${runAttempt}`, (known, now) => this.#mark(known, runAttempt, now, result));
  }

  /**
   * Resolves once everything recorded so far was written (or failed): "recorded up to here", for
   * code that must not act before the records it depends on are durable (deleting pods in batches).
   */
  flushed(): Promise<void> {
    return this.#flushing ?? Promise.resolve();
  }

  /** Queues a change; it is written at once (with what waits) unless `defer`: then by the next write or `flush()`. */
  #enqueue(what: string, apply: Op['apply'], defer = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#ops.push({ what, apply, resolve, reject });
      if (!defer) this.#flushing ??= this.#flushLoop();
    });
  }

  /** Writes batch after batch until nothing waits: one write in flight, the next carrying all that came meanwhile. */
  async #flushLoop(): Promise<void> {
    // Let the callers of this turn of the event loop join the first batch.
    await Promise.resolve();
    while (this.#ops.length > 0) {
      const batch = this.#ops.splice(0);
      try {
        await this.#writeBatch(batch);
      } catch (err) {
        // What this process believes may now differ from the cluster: read it again next time.
        this.#known = null;
        for (const op of batch) op.reject(err);
        continue;
      }
      for (const op of batch) op.resolve();
    }
    this.#flushing = null;
  }

  #mark(known: Known, runAttempt: number, now: number, result?: RunResult, claim?: RunClaim, key?: string): void {
    const before: StoredRunState = { version: STATE_VERSION, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, tasks: {}, runAttempts: known.runAttempts };
    const marked = markRunAttempt(before, runAttempt, now, result, claim, key);
    if (marked === before) return; // nothing changes: nothing to write
    known.runAttempts = marked.runAttempts;
    known.updatedAt = marked.updatedAt;
    known.headDirty = true;
  }

  #applyTask(known: Known, update: TaskUpdate): void {
    const at = known.where.get(update.task);
    const beforeJson = at === undefined ? undefined : known.shards[at]!.tasks.get(update.task);
    const before = beforeJson === undefined ? undefined : (JSON.parse(beforeJson) as StoredTask);
    const entry = applyTaskEntry(before, update);
    if (entry === null) return; // an older run attempt's update: the state keeps the newer
    const json = JSON.stringify(entry);
    if (json === beforeJson) return; // applied already (a batch applied again after a conflict)
    this.#place(known, update.task, json);
    known.digest.set(update.task, digestCell(entry));
  }

  /** Puts a task's entry in its shard, or, new or grown too big for it, in the last shard or a new one. */
  #place(known: Known, task: string, json: string): void {
    const size = entryBytes(task, json);
    // Checked before anything moves: a refused entry leaves the one kept before where it was.
    if (shardOverheadBytes(this.#o.dag, this.#o.runId, known.shards.length) + size > this.#o.limitBytes) {
      throw new KubeError(
        `Could not record task "${task}" in ${this.#where}: the entry of task "${task}" alone is ${size} bytes, more than the ${this.#o.limitBytes} bytes a ConfigMap of the run's state can hold ` +
          '(its outputs and the messages of its attempts are kept; fewer or smaller outputs, or fewer retries, make it fit)',
      );
    }
    const at = known.where.get(task);
    if (at !== undefined) {
      const shard = known.shards[at]!;
      const old = entryBytes(task, shard.tasks.get(task)!);
      shard.dirty = true;
      if (shard.bytes - old + size <= this.#o.limitBytes) {
        shard.tasks.set(task, json);
        shard.bytes += size - old;
        return;
      }
      shard.tasks.delete(task);
      shard.bytes -= old;
    }
    let last = known.shards.at(-1);
    if (last === undefined || (last.tasks.size > 0 && last.bytes + size > this.#o.fillBytes)) {
      const index = known.shards.length;
      last = { index, tasks: new Map(), bytes: shardOverheadBytes(this.#o.dag, this.#o.runId, index), resourceVersion: null, dirty: true };
      known.shards.push(last);
    }
    last.tasks.set(task, json);
    last.bytes += size;
    last.dirty = true;
    known.where.set(task, last.index);
  }

  /** Reads every ConfigMap of the run's state with one list, and checks they make a whole. */
  async #read(): Promise<{ known: Known; state: StoredRunState | null }> {
    const { core, namespace } = this.#o;
    let items: V1ConfigMap[];
    try {
      items = (await this.#o.request(`list the run's state (${this.#where} and its shards)`, () => core.listNamespacedConfigMap({ namespace, labelSelector: this.#selector }))).items;
    } catch (err) {
      throw new KubeError(`Could not read the run's state (${this.#where} and its shards): ${classifyError(err).message}`, classifyError(err), { cause: err });
    }
    const known: Known = { headVersion: null, v1: false, updatedAt: 0, runAttempts: [], countedShards: 0, headDirty: false, shards: [], where: new Map(), digest: new Map() };
    const tasks: Record<string, StoredTask> = {};
    const head = items.find((cm) => cm.metadata?.name === this.name);
    let v1Tasks: Record<string, StoredTask> | null = null;
    if (head !== undefined) {
      const text = head.data?.[STATE_KEY];
      if (text === undefined) {
        throw new KubeError(
          `${this.#where} has no "${STATE_KEY}" key. It is not a run state written by pod-dag-action (or was edited); delete it to start the run's state afresh.`,
        );
      }
      known.headVersion = head.metadata?.resourceVersion ?? '';
      if (stateVersion(text, this.#where) === 1) {
        const state = parseRunState(text, this.#where);
        this.#checkOwner(state.dag, state.runId, this.#where);
        known.v1 = true;
        known.updatedAt = state.updatedAt;
        known.runAttempts = state.runAttempts;
        v1Tasks = state.tasks;
      } else {
        const h = parseHead(text, this.#where);
        this.#checkOwner(h.dag, h.runId, this.#where);
        known.updatedAt = h.updatedAt;
        known.runAttempts = h.runAttempts;
        known.countedShards = h.shards;
      }
    }
    const found = new Map<number, V1ConfigMap>();
    for (const cm of items) {
      if (cm.metadata?.labels?.[STATE_PART_LABEL] !== 'shard') continue;
      const name = cm.metadata.name ?? '';
      const m = /\.shard-(\d+)$/.exec(name);
      if (m === null || name !== shardName(this.name, Number(m[1]))) continue; // not one of ours: leave it be
      found.set(Number(m[1]), cm);
    }
    if (head === undefined && found.size > 0) {
      throw this.#torn(`its ${found.size} shard(s) exist but its head ${this.#where} does not`);
    }
    const missing: string[] = [];
    for (let i = 0; i < known.countedShards; i++) if (!found.has(i)) missing.push(shardName(this.name, i));
    if (missing.length > 0) {
      throw this.#torn(`its head ${this.#where} counts ${known.countedShards} shard(s), but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
    }
    // Shards in index order, dense: an index past the head's count is one created just before a crash.
    const top = Math.max(known.countedShards, ...[...found.keys()].map((i) => i + 1));
    for (let index = 0; index < top; index++) {
      const cm = found.get(index);
      const shard: Shard = { index, tasks: new Map(), bytes: shardOverheadBytes(this.#o.dag, this.#o.runId, index), resourceVersion: null, dirty: cm === undefined };
      known.shards.push(shard);
      if (cm === undefined) continue;
      const where = `ConfigMap ${this.#o.namespace}/${cm.metadata?.name}`;
      const text = cm.data?.[TASKS_KEY];
      if (text === undefined) throw this.#torn(`${where} has no "${TASKS_KEY}" key`);
      const parsed = parseShard(text, where);
      this.#checkOwner(parsed.dag, parsed.runId, where);
      if (parsed.shard !== index) throw this.#torn(`${where} says it is shard ${parsed.shard}`);
      shard.resourceVersion = cm.metadata?.resourceVersion ?? '';
      for (const [id, entry] of Object.entries(parsed.tasks)) this.#keep(known, tasks, id, entry, index);
    }
    if (v1Tasks !== null) {
      // A v1 state (a run started before the upgrade), with the shards of a conversion cut short, if any.
      for (const [id, entry] of Object.entries(v1Tasks)) this.#keep(known, tasks, id, entry, null);
    }
    this.#known = known;
    if (head === undefined) return { known, state: null };
    return { known, state: { version: STATE_VERSION, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, tasks, runAttempts: known.runAttempts } };
  }

  /** Keeps `entry` of task `id` (found in shard `index`, or in a v1 state when null), or the newer copy already kept. */
  #keep(known: Known, tasks: Record<string, StoredTask>, id: string, entry: StoredTask, index: number | null): void {
    const had = Object.hasOwn(tasks, id) ? tasks[id]! : undefined;
    if (had !== undefined && newerEntry(had, entry) === had) {
      // The older copy (a move cut short by a crash) leaves its shard with the next write.
      if (index !== null) {
        const shard = known.shards[index]!;
        shard.dirty = true;
      }
      return;
    }
    if (had !== undefined) {
      const at = known.where.get(id);
      if (at !== undefined) {
        const shard = known.shards[at]!;
        shard.bytes -= entryBytes(id, shard.tasks.get(id)!);
        shard.tasks.delete(id);
        shard.dirty = true;
        known.where.delete(id);
      }
    }
    tasks[id] = entry;
    known.digest.set(id, digestCell(entry));
    const json = JSON.stringify(entry);
    if (index === null) {
      this.#place(known, id, json);
      return;
    }
    const shard = known.shards[index]!;
    shard.tasks.set(id, json);
    shard.bytes += entryBytes(id, json);
    known.where.set(id, index);
  }

  #checkOwner(dag: string, runId: string, where: string): void {
    if (dag !== this.#o.dag || runId !== this.#o.runId) {
      throw new KubeError(
        `${where} holds the state of DAG "${dag}" run ${runId}, not DAG "${this.#o.dag}" run ${this.#o.runId}; ` +
          'two DAGs whose names collide after sanitising? Rename one, or delete the ConfigMap.',
      );
    }
  }

  #torn(what: string): KubeError {
    return new KubeError(
      `The run's state is torn: ${what} (deleted or edited by something other than pod-dag-action?). Without all of it the run cannot tell which tasks already ran, ` +
        `so nothing was started. To start this run's state afresh (every task then runs again), delete it: kubectl delete configmap -n ${this.#o.namespace} -l '${this.#selector}'`,
    );
  }

  async #writeBatch(batch: Op[]): Promise<void> {
    for (let conflicts = 0; ; ) {
      const known = this.#known ?? (await this.#read()).known;
      const now = this.#o.now();
      for (const op of [...batch]) {
        try {
          op.apply(known, now);
        } catch (err) {
          // This change alone cannot be made (an entry too big for a ConfigMap; a start the
          // state refuses): it fails with its own error, the others go on.
          batch.splice(batch.indexOf(op), 1);
          op.reject(err);
        }
      }
      if (batch.length === 0) return;
      const what = batch.length === 1 ? batch[0]!.what : `${batch[0]!.what} (and ${batch.length - 1} more change${batch.length === 2 ? '' : 's'})`;
      try {
        await this.#persist(known, now);
        return;
      } catch (err) {
        const info = classifyError(err);
        // 409: AlreadyExists on create, a stale resourceVersion on replace; 404: deleted meanwhile.
        // Either way read the state again and apply the (idempotent) batch to what is there now.
        if (info.kind === 'conflict' || info.kind === 'not-found') {
          this.#known = null;
          if (++conflicts > this.#o.maxConflicts) {
            throw new KubeError(
              `Could not ${what} in ${this.#where}: ${conflicts} write conflicts in a row; another process keeps writing it ` +
                '(two jobs running the same DAG with the same run id?)',
              info,
              { cause: err },
            );
          }
          continue;
        }
        throw new KubeError(`Could not ${what} in ${this.#where}: ${info.message}`, info, { cause: err });
      }
    }
  }

  /** Writes what changed: the head if there is none yet, then the shards (last first), then the head. */
  async #persist(known: Known, now: number): Promise<void> {
    const { core, namespace } = this.#o;
    if (known.v1) {
      for (const s of known.shards) s.dirty = true;
      known.headDirty = true;
    }
    if (known.headVersion === null) await this.#writeHead(known, now);
    // New shards first, in order (so any a crash leaves past the head's count follow each other:
    // housekeeping deletes them up to the first missing), then the others last first. A task that
    // moves goes to the last shard, so it is written where it goes before it leaves where it was.
    const order = [...known.shards.filter((s) => s.resourceVersion === null), ...known.shards.filter((s) => s.resourceVersion !== null).reverse()];
    for (const shard of order) {
      if (!shard.dirty) continue;
      const name = shardName(this.name, shard.index);
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace, labels: { ...this.#labels(), [STATE_PART_LABEL]: 'shard' }, ...(shard.resourceVersion !== null ? { resourceVersion: shard.resourceVersion } : {}) },
        data: { [TASKS_KEY]: serializeShard(this.#o.dag, this.#o.runId, shard.index, shard.tasks) },
      };
      const where = `ConfigMap ${namespace}/${name}`;
      const written =
        shard.resourceVersion === null
          ? await this.#o.request(`create ${where}`, () => core.createNamespacedConfigMap({ namespace, body }))
          : await this.#o.request(`replace ${where}`, () => core.replaceNamespacedConfigMap({ name, namespace, body }));
      shard.resourceVersion = written.metadata?.resourceVersion ?? '';
      shard.dirty = false;
    }
    if (known.headDirty || known.countedShards !== known.shards.length) await this.#writeHead(known, now);
  }

  async #writeHead(known: Known, now: number): Promise<void> {
    const { core, namespace } = this.#o;
    // A head counts only shards that exist: a reader finding fewer knows the state is torn.
    const shards = known.shards.filter((s) => s.resourceVersion !== null).length;
    known.updatedAt = Math.max(known.updatedAt, now);
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.name,
        namespace,
        labels: { ...this.#labels(), [STATE_PART_LABEL]: 'head' },
        annotations: this.#o.repository ? { 'pod-dag.io/repository': this.#o.repository } : {},
        ...(known.headVersion !== null ? { resourceVersion: known.headVersion } : {}),
      },
      data: {
        [STATE_KEY]: serializeHead({ version: PARTS_VERSION, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, runAttempts: known.runAttempts, shards }),
        [DIGEST_KEY]: serializeDigest(known.digest),
      },
    };
    let written: V1ConfigMap;
    try {
      written =
        known.headVersion === null
          ? await this.#o.request(`create ${this.#where}`, () => core.createNamespacedConfigMap({ namespace, body }))
          : await this.#o.request(`replace ${this.#where}`, () => core.replaceNamespacedConfigMap({ name: this.name, namespace, body }));
    } catch (err) {
      if (known.headVersion === null && classifyError(err).kind === 'conflict') await this.#checkNotForeign();
      throw err;
    }
    known.headVersion = written.metadata?.resourceVersion ?? '';
    known.countedShards = shards;
    known.v1 = false;
    known.headDirty = false;
  }

  /**
   * After a create of the head answered AlreadyExists: the list did not show it, so either
   * another process created it meanwhile (read again and go on), or a ConfigMap of that name is
   * not this run's state (it lacks its labels): refuse, saying so, rather than retry in vain.
   */
  async #checkNotForeign(): Promise<void> {
    const { core, namespace } = this.#o;
    let cm: V1ConfigMap;
    try {
      cm = await this.#o.request(`read ${this.#where}`, () => core.readNamespacedConfigMap({ name: this.name, namespace }));
    } catch {
      return; // gone again, or unreadable: the retry will tell
    }
    const labels = cm.metadata?.labels ?? {};
    const ours = Object.entries(this.#labels()).every(([k, v]) => labels[k] === v) && (this.#o.repository !== null || labels[LABELS.repository] === undefined);
    if (ours) return;
    const state = cm.data?.[STATE_KEY];
    let whose = '';
    if (state !== undefined) {
      try {
        const parsed = JSON.parse(state) as { dag?: unknown; runId?: unknown };
        if (typeof parsed.dag === 'string' && typeof parsed.runId === 'string') whose = ` It holds the state of DAG "${parsed.dag}" run ${parsed.runId}, not DAG "${this.#o.dag}" run ${this.#o.runId}.`;
      } catch {
        // not JSON: not a run state
      }
    }
    throw new KubeError(
      `${this.#where} exists but is not the state of this run (its labels are not ${this.#selector}).${whose} ` +
        'Two DAGs whose names collide after sanitising, or a ConfigMap made by someone else? Rename the DAG, or delete the ConfigMap.',
    );
  }

  #labels(): Record<string, string> {
    return runStateLabels(this.#o.dag, this.#o.runId, this.#o.repository, this.#o.scope);
  }
}

/** One run attempt's use of the stored state: the plan, and the hooks that keep the state. */
export interface RerunSession {
  /** The state as it was when this run attempt (or this restart of it) began. */
  stored: StoredRunState | null;
  /** Which tasks are reused (for SchedulerOptions.previous / RunDagOptions.previous) and why the others run. */
  plan: RerunPlan;
  /**
   * For RunDagOptions.onAttemptEnd: records the attempt (with `defer`, at the next write or
   * `flush`). The engine must await it BEFORE it deletes the attempt's pod, and keep the pod if it
   * rejects (so a restart can still adopt it).
   */
  attemptEnded(end: AttemptEnd, options?: { defer?: boolean }): Promise<void>;
  /** For RunDagOptions.flushRecords: writes the deferred records now. */
  flush(): Promise<void>;
  /**
   * For the engine, before it creates the pod of (task, attempt): the recorded end of that
   * attempt in this run attempt, if the action is a restart after a crash. Feed it to the
   * scheduler as `started` + `finished` instead of creating the pod: it already ran.
   */
  recorded(task: string, attempt: number): (Omit<AttemptEnd, 'result'> & { outputs: Record<string, string> }) | null;
  /** Records that this run attempt ended (housekeeping then knows the run is over). */
  finished(result: RunResult): Promise<void>;
}

/**
 * Starts a run attempt's session: reads the stored state, plans the re-run, and records that the
 * run attempt started. Call it after the concurrency lease (if any) is held, before `runDag`.
 */
export async function startRerunSession(
  store: RunStore,
  options: { spec: DagSpec; params: Record<string, string>; runAttempt: number; mode: RerunMode; claim?: RunClaim; key?: string },
): Promise<RerunSession> {
  const { spec, params, runAttempt, mode } = options;
  const stored = await store.load();
  const plan = planRerun(spec, params, stored, mode, { runAttempt });
  await store.markStarted(runAttempt, options.claim, options.key);
  const tasks = new Map(spec.tasks.map((t) => [t.id, t]));
  return {
    stored,
    plan,
    attemptEnded: (end, opts) => {
      // A matrix instance (`<task>.<slug>-<hash>`) is recorded under its own id, with its task's fingerprint.
      const task = tasks.get(end.task) ?? tasks.get(taskOfInstance(end.task));
      if (task === undefined) return Promise.reject(new Error(`attemptEnded: task "${end.task}" is not in DAG "${spec.name}"`));
      return store.recordTask({ ...end, runAttempt, fingerprint: taskFingerprint(task, params) }, opts);
    },
    flush: () => store.flush(),
    recorded: (task, attempt) => {
      const r = recordedAttempt(stored, runAttempt, task, attempt);
      if (r === null) return null;
      return {
        task,
        attempt,
        pod: r.pod,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        outcome: { class: r.class, reason: r.reason, message: r.message, exitCode: r.exitCode, outputs: r.outputs, node: r.node },
        outputs: r.outputs,
      };
    },
    finished: (result) => store.markFinished(runAttempt, result),
  };
}
