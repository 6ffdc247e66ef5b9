export const id = 890;
export const ids = [890];
export const modules = {

/***/ 9890:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  cleanUpRun: () => (/* binding */ cleanUpRun),
  runOnCluster: () => (/* binding */ runOnCluster)
});

// EXTERNAL MODULE: ./lib/common/run.js
var common_run = __webpack_require__(3712);
// EXTERNAL MODULE: ./lib/dag/rerun.js
var rerun = __webpack_require__(750);
// EXTERNAL MODULE: ./lib/engine/index.js + 9 modules
var engine = __webpack_require__(5291);
// EXTERNAL MODULE: ./lib/kube/auth.js + 1 modules
var auth = __webpack_require__(4998);
// EXTERNAL MODULE: ./lib/kube/client.js
var kube_client = __webpack_require__(6254);
// EXTERNAL MODULE: ./lib/common/clock.js
var clock = __webpack_require__(9419);
// EXTERNAL MODULE: ./lib/kube/classify.js
var classify = __webpack_require__(2239);
// EXTERNAL MODULE: ./lib/kube/errors.js
var errors = __webpack_require__(2474);
// EXTERNAL MODULE: ./lib/spec/matrix.js
var matrix = __webpack_require__(966);
// EXTERNAL MODULE: ./lib/kube/pod.js
var kube_pod = __webpack_require__(1794);
// EXTERNAL MODULE: ./lib/kube/pod-api.js
var pod_api = __webpack_require__(2403);
;// CONCATENATED MODULE: ./lib/kube/sweep.js





/** How many run ids one list's selector names (`run-id in (…)`): keeps its URL far below any server's limit. */
const SWEEP_CHUNK = 100;
/** The SweepTarget of the run of `dag` in `context`'s run attempt, or with `runIds`, of those runs. */
function sweepTarget(dag, context, runIds = [(0,common_run/* effectiveRunId */.gw)(context)], claim = null) {
    return { dag, scope: (0,common_run/* runScope */.AO)(context), repository: context.repository, runAttempt: context.runAttempt, runIds, claim };
}
/**
 * The public keys a step's sweep trusts when the step stopped before it saved its own: when run
 * attempt `runAttempt` was started under `claim`, every key the run's state records (this
 * attempt's processes, and the earlier attempts' whose live pods the sweep also deletes), as the
 * main step trusts them; null when no process started it under that claim (the step never
 * started the run: another step that the action cannot tell from it did, or nobody yet). A state
 * written before claims (no claim recorded) counts as this step's.
 */
function claimedKeys(stored, runAttempt, claim) {
    const attempts = stored?.runAttempts ?? [];
    const started = attempts.some((r) => r.runAttempt === runAttempt && (claim === null || r.claim === undefined || (0,rerun/* claimDifferences */.Tv)(r.claim, claim).length === 0));
    return started ? attempts.flatMap((r) => r.keys ?? []) : null;
}
/**
 * The label selectors that together match every pod of the target's runs, of its run attempt and
 * the earlier ones (a re-run cancelled while it waited for an earlier attempt's pods leaves them
 * running).
 */
function sweepSelectors(target) {
    const selectors = [];
    const ids = [...new Set(target.runIds.map(kube_pod/* labelValue */.w))];
    for (let i = 0; i < ids.length; i += SWEEP_CHUNK) {
        const chunk = ids.slice(i, i + SWEEP_CHUNK);
        const run = chunk.length === 1 ? `${kube_pod/* LABELS */.kg.runId}=${chunk[0]}` : `${kube_pod/* LABELS */.kg.runId} in (${chunk.join(',')})`;
        let s = `${kube_pod/* LABELS */.kg.managedBy}=${kube_pod/* MANAGED_BY */.Kf},${kube_pod/* LABELS */.kg.dag}=${(0,kube_pod/* labelValue */.w)(target.dag)},${run}`;
        if (target.scope)
            s += `,${kube_pod/* LABELS */.kg.runScope}=${target.scope}`;
        selectors.push(target.runAttempt === 1 ? `${s},${kube_pod/* LABELS */.kg.runAttempt}=1` : s);
    }
    return selectors;
}
/**
 * How the run's state records the end of the attempt `pod` ran, or null when it does not: the
 * record of the pod's task and attempt (its labels) in the pod's run attempt, if it names this pod,
 * or no pod (the attempt's pod never started), or the pod is a sensor's poke (only the attempt's
 * last poke is named). Task labels are the ids themselves (a task or matrix instance id is never
 * cut to fit a label: see src/kube/earlier-attempts.ts); a pod whose task label is no task of the
 * state (made by a version that cut long ids) is found by its name. The one test of "known" for
 * the post step's sweep and for a re-run settling the earlier attempts' pods, so both agree.
 */
function recordedEnd(stored, pod) {
    if (stored === null)
        return null;
    const labels = pod.metadata?.labels ?? {};
    const name = pod.metadata?.name ?? '';
    const runAttempt = Number(labels[kube_pod/* LABELS */.kg.runAttempt]);
    const task = labels[kube_pod/* LABELS */.kg.task];
    const attempt = Number(labels[kube_pod/* LABELS */.kg.taskAttempt]);
    if (task !== undefined && Object.hasOwn(stored.tasks, task)) {
        const entry = stored.tasks[task];
        if (entry.runAttempt !== runAttempt)
            return null;
        const poke = labels[kube_pod/* LABELS */.kg.poke] !== undefined;
        return entry.attempts.find((x) => x.attempt === attempt && (x.pod === name || x.pod === null || poke))?.class ?? null;
    }
    for (const entry of Object.values(stored.tasks)) {
        if (entry.runAttempt !== runAttempt)
            continue;
        const a = entry.attempts.find((x) => x.pod === name);
        if (a !== undefined)
            return a.class;
    }
    return null;
}
/**
 * The post step's sweep: deletes the live pods of `target`'s runs in `namespace` (of its run
 * attempt, and left running by earlier ones), and its run attempt's ended
 * ones that `keepPods` does not keep and whose attempts' ends `readState(runId)` (the run's
 * stored state) records; every other ended pod stays, named in `unrecorded` (without `readState`,
 * every such pod). With `proof`, a pod that has the labels but not the proof of the run
 * (src/kube/pod-proof.ts) is not the run's: it is left alone and named in `foreign`, with why.
 * Never throws: problems come back as warnings for the caller to print.
 */
async function cleanupRun(api, namespace, target, options = {}) {
    const result = { deleted: [], unrecorded: [], warnings: [], foreign: [] };
    const runIdOf = new Map(target.runIds.map((id) => [(0,kube_pod/* labelValue */.w)(id), id]));
    // Each run's state, read once and only if one of its ended pods may go.
    const states = new Map();
    const stateOf = (runId) => {
        let s = states.get(runId);
        if (s === undefined) {
            const read = options.readState;
            s = read === undefined ? Promise.resolve(null) : read(runId).catch((err) => (err instanceof Error ? err : new Error(String(err))));
            states.set(runId, s);
        }
        return s;
    };
    for (const selector of sweepSelectors(target)) {
        let pods;
        try {
            pods = (await api.list(namespace, selector)).items;
        }
        catch (err) {
            result.warnings.push((0,errors/* describeError */.Uc)(err, `list the run's pods (${selector}) in namespace ${namespace}`, api.server));
            continue;
        }
        await Promise.all(pods.map((p) => sweepPod(api, namespace, p, target.runAttempt, options, runIdOf, stateOf, result)));
    }
    for (const [runId, s] of states) {
        const state = await s;
        if (state instanceof Error)
            result.warnings.push(`Could not read the state of run ${runId} to tell which ended pods it records (${state.message}): they were kept.`);
    }
    result.deleted.sort();
    result.unrecorded.sort();
    result.foreign.sort((a, b) => (a.name < b.name ? -1 : 1));
    return result;
}
async function sweepPod(api, namespace, p, runAttempt, options, runIdOf, stateOf, result) {
    const name = p.metadata?.name ?? '';
    if (p.metadata?.deletionTimestamp)
        return;
    const phase = p.status?.phase;
    const ended = phase === 'Succeeded' || phase === 'Failed' || (0,classify/* containerTerminated */.Xp)(p);
    // An earlier run attempt's pod: that attempt's sweep judged its ended pods (a later re-run
    // records them); only one still running goes, as this attempt's own would.
    const podAttempt = Number(p.metadata?.labels?.[kube_pod/* LABELS */.kg.runAttempt]);
    if (podAttempt !== runAttempt && (!(podAttempt < runAttempt) || ended))
        return;
    const proven = options.proof?.verify(p);
    if (proven !== undefined && !proven.ok) {
        result.foreign.push({ name, problem: proven.problem });
        return;
    }
    if (ended) {
        // Kept on purpose, whatever the state says: every ended pod with always, failed ones with
        // on-failure (a pod the API calls Failed never held a succeeded attempt).
        if (options.keepPods === 'always' || (options.keepPods === 'on-failure' && phase === 'Failed'))
            return;
        const runId = runIdOf.get(p.metadata?.labels?.[kube_pod/* LABELS */.kg.runId] ?? '');
        const state = runId === undefined ? null : await stateOf(runId);
        const recorded = state instanceof Error ? null : recordedEnd(state, p);
        if (recorded === null) {
            // Its end is nowhere else: deleting it would make a re-run run a task that may have succeeded.
            result.unrecorded.push(name);
            return;
        }
        // on-failure keeps the pod of an attempt that did not succeed, as the engine judged it.
        if (options.keepPods === 'on-failure' && recorded !== 'succeeded')
            return;
    }
    try {
        await api.delete(namespace, name, { gracePeriodSeconds: 2 });
        result.deleted.push(name);
    }
    catch (err) {
        if ((0,errors/* classifyError */.fe)(err).kind !== 'not-found')
            result.warnings.push((0,errors/* describeError */.Uc)(err, `delete pod ${name} in namespace ${namespace}`, api.server));
    }
}

// EXTERNAL MODULE: ./lib/kube/watch.js
var watch = __webpack_require__(7718);
// EXTERNAL MODULE: ./lib/kube/time.js
var time = __webpack_require__(1308);
;// CONCATENATED MODULE: ./lib/kube/earlier-attempts.js










/**
 * Whether the pod's task can no longer run: the pod is gone or ended, or the task's own container
 * ended (a sidecar an admission webhook added may keep the pod Running for ever after it).
 */
const ended = (s) => s.deleted || s.pod.status?.phase === 'Succeeded' || s.pod.status?.phase === 'Failed' || (0,classify/* containerTerminated */.Xp)(s.pod);
/** Waits for the earlier attempts' pods to end, then records their ends the run's state lacks. */
async function settleEarlierAttempts(o) {
    if (o.runAttempt <= 1)
        return;
    const selector = (0,kube_pod/* runSelector */.fC)(o.spec.name, o.runId, o.scope ?? null);
    const earlier = new Map();
    const refused = new Set();
    let changed = () => { };
    const watcher = new watch/* PodWatcher */.u((0,pod_api/* kubePodApi */.t)(o.client), o.namespace, selector, (e) => {
        const attempt = Number(e.pod.metadata?.labels?.[kube_pod/* LABELS */.kg.runAttempt] ?? NaN);
        if (!(attempt < o.runAttempt))
            return;
        const name = e.pod.metadata?.name ?? '';
        const proven = o.proof?.verify(e.pod) ?? { ok: true };
        if (!proven.ok) {
            // Not the run's: neither waited for nor recorded (its task runs again), never deleted by us.
            earlier.delete(name);
            if (!refused.has(name) && e.type !== 'DELETED')
                o.onRefused?.(e.pod, proven.problem);
            refused.add(name);
        }
        else
            earlier.set(name, { pod: e.pod, deleted: e.type === 'DELETED' });
        changed();
    });
    const running = () => [...earlier.entries()]
        .filter(([, s]) => !ended(s))
        .map(([name, s]) => ({
        name,
        task: s.pod.metadata?.labels?.[kube_pod/* LABELS */.kg.task] ?? '?',
        runAttempt: Number(s.pod.metadata?.labels?.[kube_pod/* LABELS */.kg.runAttempt]),
        phase: s.pod.status?.phase ?? 'Pending',
    }));
    await watcher.start();
    try {
        if (running().length > 0) {
            o.onWait?.(running(), selector);
            await new Promise((resolve, reject) => {
                const onAbort = () => reject(new errors/* KubeError */.a3(`Cancelled while waiting for the pods of an earlier run attempt to end (${selector}).`));
                if (o.signal?.aborted)
                    return onAbort();
                o.signal?.addEventListener('abort', onAbort, { once: true });
                watcher.done.catch(reject);
                changed = () => {
                    if (running().length > 0)
                        return;
                    o.signal?.removeEventListener('abort', onAbort);
                    resolve();
                };
                changed(); // they may have ended since the list
            });
        }
    }
    finally {
        watcher.stop();
    }
    // One end per attempt: a sensor's attempt ends with its last poke (each poke is a pod), so only
    // the pod of the highest poke counts, whatever order the list gave (p10 sorts before p9 by name).
    const last = new Map();
    for (const [name, s] of earlier) {
        const labels = s.pod.metadata?.labels ?? {};
        const e = { name, s, runAttempt: Number(labels[kube_pod/* LABELS */.kg.runAttempt]), attempt: Number(labels[kube_pod/* LABELS */.kg.taskAttempt]), poke: Number(labels[kube_pod/* LABELS */.kg.poke] ?? 0) };
        if (!Number.isInteger(e.runAttempt) || !Number.isInteger(e.attempt) || !Number.isInteger(e.poke))
            continue;
        const key = `${labels[kube_pod/* LABELS */.kg.task] ?? ''}\n${e.runAttempt}\n${e.attempt}`;
        const before = last.get(key);
        if (before === undefined || before.poke < e.poke)
            last.set(key, e);
    }
    const ends = [...last.values()].sort((a, b) => a.runAttempt - b.runAttempt || a.attempt - b.attempt);
    if (ends.length === 0)
        return;
    const stored = await o.store.load();
    const tasks = new Map(o.spec.tasks.map((t) => [t.id, t]));
    const now = (o.now ?? clock/* systemClock */.ml.now)();
    for (const e of ends) {
        // The label is the task (or matrix instance) id itself: ids are label-safe and at most 63
        // characters (src/spec/names.ts, src/spec/matrix.ts `instanceId`), so labelValue never cuts one.
        const taskId = e.s.pod.metadata?.labels?.[kube_pod/* LABELS */.kg.task] ?? '';
        // A matrix instance is recorded under its own id, with its task's fingerprint.
        const task = tasks.get(taskId) ?? tasks.get((0,matrix/* taskOfInstance */.SJ)(taskId));
        if (task === undefined)
            continue; // a task the spec no longer has: nothing to plan
        // Known already (the same test as the post step's sweep), or a later attempt is: nothing to add.
        if (recordedEnd(stored, e.s.pod) !== null || laterRecorded(stored, taskId, e.runAttempt, e.attempt))
            continue;
        const created = (0,time/* kubeTimeMs */.f)(e.s.pod.metadata?.creationTimestamp) ?? now;
        const outcome = (0,classify/* classifyPod */.Eg)(e.s.pod, { now, createdAt: created, startTimeoutMs: Infinity, imagePullGraceMs: Infinity, deleted: e.s.deleted, task: taskId });
        if (outcome === null)
            continue;
        const main = e.s.pod.status?.containerStatuses?.find((c) => c.name === kube_pod/* CONTAINER */.MR)?.state?.terminated;
        const started = (0,time/* kubeTimeMs */.f)(main?.startedAt) ?? (0,time/* kubeTimeMs */.f)(e.s.pod.status?.startTime) ?? created;
        const finished = (0,time/* kubeTimeMs */.f)(main?.finishedAt) ?? now;
        await o.store.recordTask({
            task: taskId,
            runAttempt: e.runAttempt,
            attempt: e.attempt,
            pod: e.name,
            startedAt: started,
            finishedAt: finished,
            outcome,
            // Whether a retry would have followed a failure is not known: null reads as "did not succeed".
            result: outcome.class === 'succeeded' ? 'succeeded' : null,
            // What the pod ran, not what the spec says now: a re-run after the spec or the params
            // changed must not reuse a success of the task as it was.
            fingerprint: ranWith(e.s.pod) ?? (0,rerun/* taskFingerprint */.YH)(task, o.params),
        });
        o.onRecorded?.(taskId, e.runAttempt, e.attempt, outcome);
    }
}
/** Whether the run's state records a later attempt of `task` than (runAttempt, attempt): an older end must not replace it. */
function laterRecorded(stored, task, runAttempt, attempt) {
    const known = stored !== null && Object.hasOwn(stored.tasks, task) ? stored.tasks[task] : undefined;
    return known !== undefined && (known.runAttempt > runAttempt || (known.runAttempt === runAttempt && known.attempts.some((a) => a.attempt > attempt)));
}
/**
 * The fingerprint of the task as the pod ran it, from its annotation (the engine writes it on
 * every pod; the pod's proof covers it); null for a pod made by a version that did not write it.
 */
function ranWith(pod) {
    const text = pod.metadata?.annotations?.[kube_pod/* ANNOTATIONS */.BC.fingerprint];
    if (text === undefined)
        return null;
    try {
        const parsed = rerun/* fingerprintSchema */.S8.safeParse(JSON.parse(text));
        if (parsed.success)
            return parsed.data;
    }
    catch {
        // not JSON: below
    }
    // Unreadable: the pod ran something this spec cannot be compared with, so nothing of it is reused.
    return { image: `(unreadable annotation ${kube_pod/* ANNOTATIONS */.BC.fingerprint})`, fields: {} };
}

// EXTERNAL MODULE: ./node_modules/zod/v4/classic/schemas.js + 17 modules
var schemas = __webpack_require__(8816);
;// CONCATENATED MODULE: ./lib/dag/state-parts.js
/**
 * The run's state split in parts, so that it is not bounded by one ConfigMap's 1 MiB: a head (the
 * run attempts, how many shards, a digest for the history grid) and shards (the tasks' entries,
 * each task in exactly one shard). src/kube/run-store.ts keeps each part in a ConfigMap of its
 * own; this module says what each part holds and reads it back (pure: no I/O, no clock).
 *
 * The released v1 kept the whole state (StoredRunState, version 1) in one ConfigMap under
 * `state.json`; a head is told from it by its version (2). Both are read.
 */


/** The version of heads and shards. */
const PARTS_VERSION = 2;
/** Runs of at most this many tasks have every task in their digest. */
const DIGEST_TASKS = 500;
const finite = schemas/* number */.aig().refine(Number.isFinite, 'not a finite number');
const headSchema = schemas/* object */.Ikc({
    version: schemas/* literal */.euz(PARTS_VERSION),
    dag: schemas/* string */.YjP(),
    runId: schemas/* string */.YjP(),
    updatedAt: finite,
    runAttempts: schemas/* array */.YOg(rerun/* storedRunAttemptSchema */.p1),
    shards: schemas/* number */.aig().int().nonnegative(),
});
const shardSchema = schemas/* object */.Ikc({
    version: schemas/* literal */.euz(PARTS_VERSION),
    dag: schemas/* string */.YjP(),
    runId: schemas/* string */.YjP(),
    shard: schemas/* number */.aig().int().nonnegative(),
    tasks: schemas/* record */.g1P(schemas/* string */.YjP(), rerun/* storedTaskSchema */.mW),
});
const digestSchema = schemas/* object */.Ikc({
    tasks: schemas/* record */.g1P(schemas/* string */.YjP(), schemas/* tuple */.PVZ([rerun/* storedTaskSchema */.mW.shape.result, finite.nullable(), finite])),
    othersSucceeded: schemas/* boolean */.zMY(),
});
function parseJson(text, where, key) {
    let raw;
    try {
        raw = JSON.parse(text);
    }
    catch (err) {
        throw new rerun/* RunStateFormatError */.Wp(`${where}: ${key} is not valid JSON (${err.message})`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        throw new rerun/* RunStateFormatError */.Wp(`${where}: ${key} is not a JSON object`);
    return raw;
}
function checked(schema, raw, where, key) {
    const parsed = schema.safeParse(raw);
    if (parsed.success)
        return parsed.data;
    const issue = parsed.error.issues[0];
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    throw new rerun/* RunStateFormatError */.Wp(`${where}: ${key} has a bad ${path || 'shape'}: ${issue.message}`);
}
/** The version of a `state.json` text (1: a whole v1 state; 2: a head), read without checking the rest. */
function stateVersion(text, where) {
    return parseJson(text, where, 'state.json')['version'];
}
/** Parses a head's `state.json`. Throws RunStateFormatError saying what is wrong. */
function parseHead(text, where) {
    return checked(headSchema, parseJson(text, where, 'state.json'), where, 'state.json');
}
/** Parses a shard's `tasks.json`. Throws RunStateFormatError saying what is wrong. */
function parseShard(text, where) {
    const raw = parseJson(text, where, 'tasks.json');
    if (raw['version'] !== PARTS_VERSION) {
        throw new rerun/* RunStateFormatError */.Wp(`${where}: tasks.json has version ${JSON.stringify(raw['version'])}, but this version of pod-dag-action reads version ${PARTS_VERSION} (was it written by a newer release?)`);
    }
    return checked(shardSchema, raw, where, 'tasks.json');
}
/** Parses a head's `digest.json`, or `null` when it cannot be read (the history then leaves the tasks out). */
function parseDigest(text) {
    try {
        const parsed = digestSchema.safeParse(JSON.parse(text));
        return parsed.success ? parsed.data : null;
    }
    catch {
        return null;
    }
}
/** A head's `state.json` text. */
function serializeHead(head) {
    return JSON.stringify(head);
}
/**
 * A shard's `tasks.json` text from its entries already serialized (the store keeps each task's
 * entry as its JSON text: compact in memory, and a shard is written without serializing again
 * the entries that did not change).
 */
function serializeShard(dag, runId, shard, entries) {
    const parts = [];
    for (const [id, json] of entries)
        parts.push(`${JSON.stringify(id)}:${json}`);
    return `${shardPrefix(dag, runId, shard)}${parts.join(',')}}}`;
}
/** The bytes of a shard's text around its entries. */
function shardOverheadBytes(dag, runId, shard) {
    return Buffer.byteLength(shardPrefix(dag, runId, shard), 'utf8') + 2;
}
/** The bytes one entry adds to a shard's text (with its comma). */
function entryBytes(id, json) {
    return Buffer.byteLength(JSON.stringify(id), 'utf8') + 1 + Buffer.byteLength(json, 'utf8') + 1;
}
function shardPrefix(dag, runId, shard) {
    return `{"version":${PARTS_VERSION},"dag":${JSON.stringify(dag)},"runId":${JSON.stringify(runId)},"shard":${shard},"tasks":{`;
}
/** The digest cell of a task's entry. */
function digestCell(entry) {
    const start = entry.attempts[0]?.startedAt ?? null;
    return [entry.result, start === null ? null : Math.max(0, entry.finishedAt - start), entry.runAttempt];
}
/** A digest's `digest.json` text from every task's cell. */
function serializeDigest(cells) {
    const all = cells.size <= DIGEST_TASKS;
    const tasks = {};
    let listed = 0;
    for (const [id, cell] of cells) {
        if (!all && cell[0] === 'succeeded')
            continue;
        if (listed++ >= DIGEST_TASKS)
            break;
        tasks[id] = cell;
    }
    return JSON.stringify({ tasks, othersSucceeded: !all });
}
/** The newer of two entries of one task (a task moved between shards, a crash in between): later run attempt, more attempts, later end. */
function newerEntry(a, b) {
    if (a.runAttempt !== b.runAttempt)
        return a.runAttempt > b.runAttempt ? a : b;
    if (a.attempts.length !== b.attempts.length)
        return a.attempts.length > b.attempts.length ? a : b;
    if (a.attempt !== b.attempt)
        return a.attempt > b.attempt ? a : b;
    return b.finishedAt > a.finishedAt ? b : a;
}

// EXTERNAL MODULE: ./lib/common/duration.js
var duration = __webpack_require__(2081);
;// CONCATENATED MODULE: ./lib/kube/run-store.js
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






/** The key of the state in the head's data (a v1 state's too). */
const STATE_KEY = 'state.json';
/** The key of the tasks' entries in a shard's data. */
const TASKS_KEY = 'tasks.json';
/** The key of the history's digest in the head's data. */
const DIGEST_KEY = 'digest.json';
/** The label that tells a head (`head`) from a shard (`shard`); a v1 state has none. */
const STATE_PART_LABEL = 'pod-dag.io/state';
/** The selector term that leaves shards out (heads and v1 states match: `!=` matches a missing label). */
const NOT_A_SHARD = `${STATE_PART_LABEL}!=shard`;
/**
 * The most bytes of a shard's data we write. Kubernetes refuses a ConfigMap whose data exceeds
 * 1 MiB (1,048,576 bytes); the margin leaves room for metadata and the key.
 */
const STATE_LIMIT_BYTES = 1_000_000;
/** New tasks go to the last shard until it holds this many bytes; the rest is room for retries. */
const SHARD_FILL_BYTES = 400_000;
/**
 * The ConfigMap name of a run's state (its head): `pod-dag-<dag>-<runId>-<scope>` (no `-<scope>`
 * on the CLI), a valid DNS subdomain. The scope (src/common/run.ts `runScope`) keeps the legs and
 * steps of one workflow run that run the same DAG apart.
 */
function runStateName(dag, runId, scope = null) {
    const id = runId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
    if (id === '')
        throw new Error(`runStateName: run id ${JSON.stringify(runId)} has no letter or digit to name a ConfigMap with`);
    return `pod-dag-${dag}-${id}${scope ? `-${scope}` : ''}`;
}
/** The ConfigMap name of shard `index` of the state whose head is `head` (a '.' no head name has). */
function shardName(head, index) {
    return `${head}.shard-${index}`;
}
/** The labels of a run's state ConfigMaps (the pods' labels without task and attempts). */
function runStateLabels(dag, runId, repository, scope = null) {
    const labels = {
        [kube_pod/* LABELS */.kg.managedBy]: kube_pod/* MANAGED_BY */.Kf,
        [kube_pod/* LABELS */.kg.dag]: (0,kube_pod/* labelValue */.w)(dag),
        [kube_pod/* LABELS */.kg.runId]: (0,kube_pod/* labelValue */.w)(runId),
    };
    if (scope)
        labels[kube_pod/* LABELS */.kg.runScope] = scope;
    if (repository)
        labels[kube_pod/* LABELS */.kg.repository] = (0,kube_pod/* labelValue */.w)(repository);
    return labels;
}
/** The label selector of every ConfigMap of a run's state (head, shards, or a v1 state). */
function runStateSelector(dag, runId, repository, scope = null) {
    const terms = Object.entries(runStateLabels(dag, runId, repository, scope)).map(([k, v]) => `${k}=${v}`);
    if (!repository)
        terms.push(`!${kube_pod/* LABELS */.kg.repository}`);
    return terms.join(',');
}
/** The run's state in the cluster: read it at the start, record every attempt's end. */
class RunStore {
    /** The head ConfigMap's name. */
    name;
    #o;
    #known = null;
    /** Changes recorded and not yet written. */
    #ops = [];
    /** The write loop, while it runs (it never rejects). */
    #flushing = null;
    constructor(options) {
        this.name = runStateName(options.dag, options.runId, options.scope ?? null);
        const limitBytes = options.limitBytes ?? STATE_LIMIT_BYTES;
        this.#o = {
            scope: null,
            now: clock/* systemClock */.ml.now,
            onNote: () => { },
            maxConflicts: 20,
            ...options,
            limitBytes,
            fillBytes: Math.min(options.fillBytes ?? SHARD_FILL_BYTES, limitBytes),
        };
    }
    get #where() {
        return `ConfigMap ${this.#o.namespace}/${this.name}`;
    }
    get #selector() {
        return runStateSelector(this.#o.dag, this.#o.runId, this.#o.repository, this.#o.scope);
    }
    /**
     * The stored state, or `null` when the run has none yet (its first attempt). One list request
     * the first time; afterwards the state as this process read and wrote it (the run's claim
     * already read it: the re-run plan needs no second list), until a write fails or conflicts.
     */
    async load() {
        const known = this.#known;
        if (known === null)
            return (await this.#read()).state;
        if (known.headVersion === null && known.shards.every((s) => s.resourceVersion === null))
            return null;
        const tasks = {};
        for (const shard of known.shards)
            for (const [id, json] of shard.tasks)
                tasks[id] = JSON.parse(json);
        return { version: rerun/* STATE_VERSION */.nd, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, tasks, runAttempts: known.runAttempts };
    }
    /**
     * Records the end of one attempt (and the task's result when final). Resolves once the state
     * is in the cluster; only then may the attempt's pod be deleted. Calls are applied in order.
     */
    recordTask(update, options = {}) {
        return this.#enqueue(`record task "${update.task}"`, (known) => this.#applyTask(known, update), options.defer === true);
    }
    /**
     * Writes everything recorded so far, deferred records included; resolves once written (or
     * failed: each record's own promise says which). Never rejects.
     */
    flush() {
        if (this.#ops.length > 0)
            this.#flushing ??= this.#flushLoop();
        return this.#flushing ?? Promise.resolve();
    }
    /**
     * Records that run attempt `runAttempt` started (call once the lease, if any, is held), with
     * the claim of the step that starts it: AmbiguousRunError when another claim started it; and the
     * public key this process signs its pods with (src/kube/pod-proof.ts), before it creates any.
     */
    markStarted(runAttempt, claim, key) {
        return this.#enqueue(`record the start of run attempt ${runAttempt}`, (known, now) => this.#mark(known, runAttempt, now, undefined, claim, key));
    }
    /** Records that run attempt `runAttempt` ended with `result` (housekeeping then knows it is over). */
    markFinished(runAttempt, result) {
        return this.#enqueue(`record the end of run attempt ${runAttempt}`, (known, now) => this.#mark(known, runAttempt, now, result));
    }
    /**
     * Resolves once everything recorded so far was written (or failed): "recorded up to here", for
     * code that must not act before the records it depends on are durable (deleting pods in batches).
     */
    flushed() {
        return this.#flushing ?? Promise.resolve();
    }
    /** Queues a change; it is written at once (with what waits) unless `defer`: then by the next write or `flush()`. */
    #enqueue(what, apply, defer = false) {
        return new Promise((resolve, reject) => {
            this.#ops.push({ what, apply, resolve, reject });
            if (!defer)
                this.#flushing ??= this.#flushLoop();
        });
    }
    /** Writes batch after batch until nothing waits: one write in flight, the next carrying all that came meanwhile. */
    async #flushLoop() {
        // Let the callers of this turn of the event loop join the first batch.
        await Promise.resolve();
        while (this.#ops.length > 0) {
            const batch = this.#ops.splice(0);
            try {
                await this.#writeBatch(batch);
            }
            catch (err) {
                // What this process believes may now differ from the cluster: read it again next time.
                this.#known = null;
                for (const op of batch)
                    op.reject(err);
                continue;
            }
            for (const op of batch)
                op.resolve();
        }
        this.#flushing = null;
    }
    #mark(known, runAttempt, now, result, claim, key) {
        const before = { version: rerun/* STATE_VERSION */.nd, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, tasks: {}, runAttempts: known.runAttempts };
        const marked = (0,rerun/* markRunAttempt */.ap)(before, runAttempt, now, result, claim, key);
        if (marked === before)
            return; // nothing changes: nothing to write
        known.runAttempts = marked.runAttempts;
        known.updatedAt = marked.updatedAt;
        known.headDirty = true;
    }
    #applyTask(known, update) {
        const at = known.where.get(update.task);
        const beforeJson = at === undefined ? undefined : known.shards[at].tasks.get(update.task);
        const before = beforeJson === undefined ? undefined : JSON.parse(beforeJson);
        const entry = (0,rerun/* applyTaskEntry */.E0)(before, update);
        if (entry === null)
            return; // an older run attempt's update: the state keeps the newer
        const json = JSON.stringify(entry);
        if (json === beforeJson)
            return; // applied already (a batch applied again after a conflict)
        this.#place(known, update.task, json);
        known.digest.set(update.task, digestCell(entry));
    }
    /** Puts a task's entry in its shard, or, new or grown too big for it, in the last shard or a new one. */
    #place(known, task, json) {
        const size = entryBytes(task, json);
        // Checked before anything moves: a refused entry leaves the one kept before where it was.
        if (shardOverheadBytes(this.#o.dag, this.#o.runId, known.shards.length) + size > this.#o.limitBytes) {
            throw new errors/* KubeError */.a3(`Could not record task "${task}" in ${this.#where}: the entry of task "${task}" alone is ${size} bytes, more than the ${this.#o.limitBytes} bytes a ConfigMap of the run's state can hold ` +
                '(its outputs and the messages of its attempts are kept; fewer or smaller outputs, or fewer retries, make it fit)');
        }
        const at = known.where.get(task);
        if (at !== undefined) {
            const shard = known.shards[at];
            const old = entryBytes(task, shard.tasks.get(task));
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
    async #read() {
        const { core, namespace } = this.#o;
        let items;
        try {
            items = (await this.#o.request(`list the run's state (${this.#where} and its shards)`, () => core.listNamespacedConfigMap({ namespace, labelSelector: this.#selector }))).items;
        }
        catch (err) {
            throw new errors/* KubeError */.a3(`Could not read the run's state (${this.#where} and its shards): ${(0,errors/* classifyError */.fe)(err).message}`, (0,errors/* classifyError */.fe)(err), { cause: err });
        }
        const known = { headVersion: null, v1: false, updatedAt: 0, runAttempts: [], countedShards: 0, headDirty: false, shards: [], where: new Map(), digest: new Map() };
        const tasks = {};
        const head = items.find((cm) => cm.metadata?.name === this.name);
        let v1Tasks = null;
        if (head !== undefined) {
            const text = head.data?.[STATE_KEY];
            if (text === undefined) {
                throw new errors/* KubeError */.a3(`${this.#where} has no "${STATE_KEY}" key. It is not a run state written by pod-dag-action (or was edited); delete it to start the run's state afresh.`);
            }
            known.headVersion = head.metadata?.resourceVersion ?? '';
            if (stateVersion(text, this.#where) === 1) {
                const state = (0,rerun/* parseRunState */.Qw)(text, this.#where);
                this.#checkOwner(state.dag, state.runId, this.#where);
                known.v1 = true;
                known.updatedAt = state.updatedAt;
                known.runAttempts = state.runAttempts;
                v1Tasks = state.tasks;
            }
            else {
                const h = parseHead(text, this.#where);
                this.#checkOwner(h.dag, h.runId, this.#where);
                known.updatedAt = h.updatedAt;
                known.runAttempts = h.runAttempts;
                known.countedShards = h.shards;
            }
        }
        const found = new Map();
        for (const cm of items) {
            if (cm.metadata?.labels?.[STATE_PART_LABEL] !== 'shard')
                continue;
            const name = cm.metadata.name ?? '';
            const m = /\.shard-(\d+)$/.exec(name);
            if (m === null || name !== shardName(this.name, Number(m[1])))
                continue; // not one of ours: leave it be
            found.set(Number(m[1]), cm);
        }
        if (head === undefined && found.size > 0) {
            throw this.#torn(`its ${found.size} shard(s) exist but its head ${this.#where} does not`);
        }
        const missing = [];
        for (let i = 0; i < known.countedShards; i++)
            if (!found.has(i))
                missing.push(shardName(this.name, i));
        if (missing.length > 0) {
            throw this.#torn(`its head ${this.#where} counts ${known.countedShards} shard(s), but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
        }
        // Shards in index order, dense: an index past the head's count is one created just before a crash.
        const top = Math.max(known.countedShards, ...[...found.keys()].map((i) => i + 1));
        for (let index = 0; index < top; index++) {
            const cm = found.get(index);
            const shard = { index, tasks: new Map(), bytes: shardOverheadBytes(this.#o.dag, this.#o.runId, index), resourceVersion: null, dirty: cm === undefined };
            known.shards.push(shard);
            if (cm === undefined)
                continue;
            const where = `ConfigMap ${this.#o.namespace}/${cm.metadata?.name}`;
            const text = cm.data?.[TASKS_KEY];
            if (text === undefined)
                throw this.#torn(`${where} has no "${TASKS_KEY}" key`);
            const parsed = parseShard(text, where);
            this.#checkOwner(parsed.dag, parsed.runId, where);
            if (parsed.shard !== index)
                throw this.#torn(`${where} says it is shard ${parsed.shard}`);
            shard.resourceVersion = cm.metadata?.resourceVersion ?? '';
            for (const [id, entry] of Object.entries(parsed.tasks))
                this.#keep(known, tasks, id, entry, index);
        }
        if (v1Tasks !== null) {
            // A v1 state (a run started before the upgrade), with the shards of a conversion cut short, if any.
            for (const [id, entry] of Object.entries(v1Tasks))
                this.#keep(known, tasks, id, entry, null);
        }
        this.#known = known;
        if (head === undefined)
            return { known, state: null };
        return { known, state: { version: rerun/* STATE_VERSION */.nd, dag: this.#o.dag, runId: this.#o.runId, updatedAt: known.updatedAt, tasks, runAttempts: known.runAttempts } };
    }
    /** Keeps `entry` of task `id` (found in shard `index`, or in a v1 state when null), or the newer copy already kept. */
    #keep(known, tasks, id, entry, index) {
        const had = Object.hasOwn(tasks, id) ? tasks[id] : undefined;
        if (had !== undefined && newerEntry(had, entry) === had) {
            // The older copy (a move cut short by a crash) leaves its shard with the next write.
            if (index !== null) {
                const shard = known.shards[index];
                shard.dirty = true;
            }
            return;
        }
        if (had !== undefined) {
            const at = known.where.get(id);
            if (at !== undefined) {
                const shard = known.shards[at];
                shard.bytes -= entryBytes(id, shard.tasks.get(id));
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
        const shard = known.shards[index];
        shard.tasks.set(id, json);
        shard.bytes += entryBytes(id, json);
        known.where.set(id, index);
    }
    #checkOwner(dag, runId, where) {
        if (dag !== this.#o.dag || runId !== this.#o.runId) {
            throw new errors/* KubeError */.a3(`${where} holds the state of DAG "${dag}" run ${runId}, not DAG "${this.#o.dag}" run ${this.#o.runId}; ` +
                'two DAGs whose names collide after sanitising? Rename one, or delete the ConfigMap.');
        }
    }
    #torn(what) {
        return new errors/* KubeError */.a3(`The run's state is torn: ${what} (deleted or edited by something other than pod-dag-action?). Without all of it the run cannot tell which tasks already ran, ` +
            `so nothing was started. To start this run's state afresh (every task then runs again), delete it: kubectl delete configmap -n ${this.#o.namespace} -l '${this.#selector}'`);
    }
    async #writeBatch(batch) {
        for (let conflicts = 0;;) {
            const known = this.#known ?? (await this.#read()).known;
            const now = this.#o.now();
            for (const op of [...batch]) {
                try {
                    op.apply(known, now);
                }
                catch (err) {
                    // This change alone cannot be made (an entry too big for a ConfigMap; a start the
                    // state refuses): it fails with its own error, the others go on.
                    batch.splice(batch.indexOf(op), 1);
                    op.reject(err);
                }
            }
            if (batch.length === 0)
                return;
            const what = batch.length === 1 ? batch[0].what : `${batch[0].what} (and ${batch.length - 1} more change${batch.length === 2 ? '' : 's'})`;
            try {
                await this.#persist(known, now);
                return;
            }
            catch (err) {
                const info = (0,errors/* classifyError */.fe)(err);
                // 409: AlreadyExists on create, a stale resourceVersion on replace; 404: deleted meanwhile.
                // Either way read the state again and apply the (idempotent) batch to what is there now.
                if (info.kind === 'conflict' || info.kind === 'not-found') {
                    this.#known = null;
                    if (++conflicts > this.#o.maxConflicts) {
                        throw new errors/* KubeError */.a3(`Could not ${what} in ${this.#where}: ${conflicts} write conflicts in a row; another process keeps writing it ` +
                            '(two jobs running the same DAG with the same run id?)', info, { cause: err });
                    }
                    continue;
                }
                throw new errors/* KubeError */.a3(`Could not ${what} in ${this.#where}: ${info.message}`, info, { cause: err });
            }
        }
    }
    /** Writes what changed: the head if there is none yet, then the shards (last first), then the head. */
    async #persist(known, now) {
        const { core, namespace } = this.#o;
        if (known.v1) {
            for (const s of known.shards)
                s.dirty = true;
            known.headDirty = true;
        }
        if (known.headVersion === null)
            await this.#writeHead(known, now);
        // New shards first, in order (so any a crash leaves past the head's count follow each other:
        // housekeeping deletes them up to the first missing), then the others last first. A task that
        // moves goes to the last shard, so it is written where it goes before it leaves where it was.
        const order = [...known.shards.filter((s) => s.resourceVersion === null), ...known.shards.filter((s) => s.resourceVersion !== null).reverse()];
        for (const shard of order) {
            if (!shard.dirty)
                continue;
            const name = shardName(this.name, shard.index);
            const body = {
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: { name, namespace, labels: { ...this.#labels(), [STATE_PART_LABEL]: 'shard' }, ...(shard.resourceVersion !== null ? { resourceVersion: shard.resourceVersion } : {}) },
                data: { [TASKS_KEY]: serializeShard(this.#o.dag, this.#o.runId, shard.index, shard.tasks) },
            };
            const where = `ConfigMap ${namespace}/${name}`;
            const written = shard.resourceVersion === null
                ? await this.#o.request(`create ${where}`, () => core.createNamespacedConfigMap({ namespace, body }))
                : await this.#o.request(`replace ${where}`, () => core.replaceNamespacedConfigMap({ name, namespace, body }));
            shard.resourceVersion = written.metadata?.resourceVersion ?? '';
            shard.dirty = false;
        }
        if (known.headDirty || known.countedShards !== known.shards.length)
            await this.#writeHead(known, now);
    }
    async #writeHead(known, now) {
        const { core, namespace } = this.#o;
        // A head counts only shards that exist: a reader finding fewer knows the state is torn.
        const shards = known.shards.filter((s) => s.resourceVersion !== null).length;
        known.updatedAt = Math.max(known.updatedAt, now);
        const body = {
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
        let written;
        try {
            written =
                known.headVersion === null
                    ? await this.#o.request(`create ${this.#where}`, () => core.createNamespacedConfigMap({ namespace, body }))
                    : await this.#o.request(`replace ${this.#where}`, () => core.replaceNamespacedConfigMap({ name: this.name, namespace, body }));
        }
        catch (err) {
            if (known.headVersion === null && (0,errors/* classifyError */.fe)(err).kind === 'conflict')
                await this.#checkNotForeign();
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
    async #checkNotForeign() {
        const { core, namespace } = this.#o;
        let cm;
        try {
            cm = await this.#o.request(`read ${this.#where}`, () => core.readNamespacedConfigMap({ name: this.name, namespace }));
        }
        catch {
            return; // gone again, or unreadable: the retry will tell
        }
        const labels = cm.metadata?.labels ?? {};
        const ours = Object.entries(this.#labels()).every(([k, v]) => labels[k] === v) && (this.#o.repository !== null || labels[kube_pod/* LABELS */.kg.repository] === undefined);
        if (ours)
            return;
        const state = cm.data?.[STATE_KEY];
        let whose = '';
        if (state !== undefined) {
            try {
                const parsed = JSON.parse(state);
                if (typeof parsed.dag === 'string' && typeof parsed.runId === 'string')
                    whose = ` It holds the state of DAG "${parsed.dag}" run ${parsed.runId}, not DAG "${this.#o.dag}" run ${this.#o.runId}.`;
            }
            catch {
                // not JSON: not a run state
            }
        }
        throw new errors/* KubeError */.a3(`${this.#where} exists but is not the state of this run (its labels are not ${this.#selector}).${whose} ` +
            'Two DAGs whose names collide after sanitising, or a ConfigMap made by someone else? Rename the DAG, or delete the ConfigMap.');
    }
    #labels() {
        return runStateLabels(this.#o.dag, this.#o.runId, this.#o.repository, this.#o.scope);
    }
}
/**
 * Starts a run attempt's session: reads the stored state, plans the re-run, and records that the
 * run attempt started. Call it after the concurrency lease (if any) is held, before `runDag`.
 */
async function startRerunSession(store, options) {
    const { spec, params, runAttempt, mode } = options;
    const stored = await store.load();
    const plan = (0,rerun/* planRerun */.eo)(spec, params, stored, mode, { runAttempt });
    await store.markStarted(runAttempt, options.claim, options.key);
    const tasks = new Map(spec.tasks.map((t) => [t.id, t]));
    return {
        stored,
        plan,
        attemptEnded: (end, opts) => {
            // A matrix instance (`<task>.<slug>-<hash>`) is recorded under its own id, with its task's fingerprint.
            const task = tasks.get(end.task) ?? tasks.get((0,matrix/* taskOfInstance */.SJ)(end.task));
            if (task === undefined)
                return Promise.reject(new Error(`attemptEnded: task "${end.task}" is not in DAG "${spec.name}"`));
            return store.recordTask({ ...end, runAttempt, fingerprint: (0,rerun/* taskFingerprint */.YH)(task, params) }, opts);
        },
        flush: () => store.flush(),
        recorded: (task, attempt) => {
            const r = (0,rerun/* recordedAttempt */.GJ)(stored, runAttempt, task, attempt);
            if (r === null)
                return null;
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

;// CONCATENATED MODULE: ./lib/kube/housekeeping.js








/** The label selector of everything of this DAG (and repository) that pod-dag-action created. */
function dagSelector(dag, repository) {
    const repo = repository ? `${kube_pod/* LABELS */.kg.repository}=${(0,kube_pod/* labelValue */.w)(repository)}` : `!${kube_pod/* LABELS */.kg.repository}`;
    return `${kube_pod/* LABELS */.kg.managedBy}=${kube_pod/* MANAGED_BY */.Kf},${kube_pod/* LABELS */.kg.dag}=${(0,kube_pod/* labelValue */.w)(dag)},${repo}`;
}
const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);
/** The latest moment a pod showed life: created, started or finished. */
function podActivity(pod) {
    let latest = (0,time/* kubeTimeMs */.f)(pod.metadata?.creationTimestamp) ?? 0;
    for (const s of pod.status?.containerStatuses ?? []) {
        latest = Math.max(latest, (0,time/* kubeTimeMs */.f)(s.state?.terminated?.finishedAt) ?? 0, (0,time/* kubeTimeMs */.f)(s.state?.running?.startedAt) ?? 0);
    }
    return latest;
}
/** An age in its largest unit only (days from two days on, else hours, else minutes): `5d`, `3h`, `12m`. */
function formatAge(msAgo) {
    const unit = msAgo >= 48 * 3_600_000 ? 24 * 3_600_000 : msAgo >= 3_600_000 ? 3_600_000 : 60_000;
    const age = Math.max(0, msAgo - (msAgo % unit));
    return age === 0 ? '0m' : (0,duration/* formatDuration */.a)(age);
}
/** Removes old runs of this DAG; see the module comment for what it never touches. */
async function removeOldRuns(options) {
    const { core, namespace } = options;
    const { request } = options;
    const now = (options.now ?? clock/* systemClock */.ml.now)();
    const staleAfter = options.staleAfterMs ?? 3 * 24 * 3_600_000;
    const result = { pods: [], configMaps: [], kept: [], errors: [] };
    const labelSelector = dagSelector(options.dag, options.repository);
    const current = options.runId === null ? null : (0,kube_pod/* labelValue */.w)(options.runId);
    let pods;
    let maps;
    try {
        pods = (await request(`list pods in ${namespace}`, () => core.listNamespacedPod({ namespace, labelSelector }))).items;
        // The heads of the states only (and v1 states): their shards, the bulk of a large run's state,
        // are not read, only deleted by name with their head.
        maps = (await request(`list configmaps in ${namespace}`, () => core.listNamespacedConfigMap({ namespace, labelSelector: `${labelSelector},${NOT_A_SHARD}` }))).items;
    }
    catch (err) {
        result.errors.push(`Could not list the old runs of DAG "${options.dag}" in namespace ${namespace}: ${(0,errors/* classifyError */.fe)(err).message}`);
        return result;
    }
    const runs = new Map();
    const runOf = (labels) => {
        const id = labels?.[kube_pod/* LABELS */.kg.runId];
        // Our own label checks again, so a server that ignored part of the selector cannot widen it.
        if (id === undefined || id === current || labels?.[kube_pod/* LABELS */.kg.managedBy] !== kube_pod/* MANAGED_BY */.Kf || labels[kube_pod/* LABELS */.kg.dag] !== (0,kube_pod/* labelValue */.w)(options.dag))
            return null;
        if ((labels[kube_pod/* LABELS */.kg.repository] ?? null) !== (options.repository ? (0,kube_pod/* labelValue */.w)(options.repository) : null))
            return null;
        let run = runs.get(id);
        if (run === undefined)
            runs.set(id, (run = { pods: [], maps: [], shards: 0, activity: 0, live: null }));
        return run;
    };
    for (const pod of pods) {
        const run = runOf(pod.metadata?.labels);
        if (run === null)
            continue;
        run.pods.push(pod);
        run.activity = Math.max(run.activity, podActivity(pod));
        const phase = pod.status?.phase ?? 'Pending';
        if (!FINISHED_PHASES.has(phase) && !pod.metadata?.deletionTimestamp)
            run.live ??= `pod ${pod.metadata?.name} is ${phase}`;
    }
    for (const cm of maps) {
        const run = runOf(cm.metadata?.labels);
        if (run === null)
            continue;
        run.maps.push(cm);
        run.activity = Math.max(run.activity, (0,time/* kubeTimeMs */.f)(cm.metadata?.creationTimestamp) ?? 0);
        const text = cm.data?.[STATE_KEY];
        if (text === undefined)
            continue;
        try {
            const where = `ConfigMap ${namespace}/${cm.metadata?.name}`;
            const state = stateVersion(text, where) === 1 ? { ...(0,rerun/* parseRunState */.Qw)(text, where), shards: 0 } : parseHead(text, where);
            run.activity = Math.max(run.activity, state.updatedAt);
            run.shards = Math.max(run.shards, state.shards);
            const last = state.runAttempts.at(-1);
            if (last !== undefined && last.finishedAt === null && now - last.startedAt < staleAfter) {
                run.live ??= `its run attempt ${last.runAttempt} started ${formatAge(now - last.startedAt)} ago and has not ended`;
            }
        }
        catch {
            // An unreadable state says nothing about life; the timestamps decide.
        }
    }
    for (const [runId, run] of [...runs].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (now - run.activity < options.retentionMs)
            continue;
        if (run.live !== null) {
            result.kept.push({ runId, reason: run.live });
            continue;
        }
        if (options.keepPods !== 'always') {
            for (const pod of run.pods) {
                const name = pod.metadata.name;
                if (await remove(`pod ${namespace}/${name}`, () => core.deleteNamespacedPod({ name, namespace })))
                    result.pods.push(name);
            }
        }
        else if (run.pods.length > 0) {
            result.kept.push({ runId, reason: `keep-pods is 'always': its ${run.pods.length} pod(s) stay` });
        }
        for (const cm of run.maps) {
            const name = cm.metadata.name;
            // The shards first, the head last: a head is what finds its shards. Those it counts, then
            // any a crash left past its count (they follow each other: the store creates them in order).
            let all = true;
            for (let i = 0;; i++) {
                const shard = shardName(name, i);
                const probe = i >= run.shards;
                const gone = await remove(`ConfigMap ${namespace}/${shard}`, () => core.deleteNamespacedConfigMap({ name: shard, namespace }), probe);
                if (gone === 'absent')
                    break;
                if (gone === false) {
                    all = false;
                    if (probe)
                        break;
                    continue;
                }
                result.configMaps.push(shard);
            }
            if (!all)
                continue; // the head stays, so the next housekeeping finds the shards left
            if (await remove(`ConfigMap ${namespace}/${name}`, () => core.deleteNamespacedConfigMap({ name, namespace })))
                result.configMaps.push(name);
        }
    }
    return result;
    /** Deletes; true when deleted, 'absent' when there was nothing to delete (when `probe`, else true), false on an error. */
    async function remove(what, fn, probe = false) {
        try {
            await request(`delete ${what}`, fn);
            return true;
        }
        catch (err) {
            const info = (0,errors/* classifyError */.fe)(err);
            if (info.kind === 'not-found')
                return probe ? 'absent' : true;
            result.errors.push(`Could not delete ${what}: ${info.message}`);
            return false;
        }
    }
}

;// CONCATENATED MODULE: ./lib/kube/history.js






/** The most earlier runs the history shows. */
const HISTORY_RUNS = 20;
/** The last runs before this one, oldest first; `unavailable` says why there are none, if not for lack of runs. */
async function readHistory(o) {
    let items;
    try {
        const selector = `${dagSelector(o.dag, o.repository)},${NOT_A_SHARD}${o.scope ? `,${kube_pod/* LABELS */.kg.runScope}=${o.scope}` : ''}`;
        items = (await o.request(`list configmaps in ${o.namespace}`, () => o.core.listNamespacedConfigMap({ namespace: o.namespace, labelSelector: selector }))).items;
    }
    catch (err) {
        const e = (0,errors/* classifyError */.fe)(err);
        const why = e.kind === 'forbidden'
            ? `RBAC does not let these credentials list configmaps in namespace ${o.namespace}, where the runs' states are kept`
            : `the runs' states could not be listed: ${err.message ?? String(err)}`;
        return { runs: [], unavailable: why };
    }
    const runs = [];
    for (const cm of items) {
        const text = cm.data?.[STATE_KEY];
        if (text === undefined)
            continue;
        const where = `ConfigMap ${cm.metadata?.name ?? '?'}`;
        let run;
        try {
            run = stateVersion(text, where) === 1 ? fromV1((0,rerun/* parseRunState */.Qw)(text, where)) : fromHead(text, cm.data?.[DIGEST_KEY], where);
        }
        catch {
            continue; // a state this version cannot read is left out of the history, not an error
        }
        if (run === null || run.dag !== o.dag || run.runId === o.runId)
            continue;
        const { dag: _dag, ...shown } = run;
        runs.push(shown);
    }
    runs.sort((a, b) => a.startedAt - b.startedAt || a.runId.localeCompare(b.runId));
    return { runs: runs.slice(Math.max(0, runs.length - (o.limit ?? HISTORY_RUNS))), unavailable: null };
}
/** A run from a head and its digest (a digest that cannot be read shows the run without its tasks). */
function fromHead(text, digestText, where) {
    const head = parseHead(text, where);
    const first = head.runAttempts[0];
    const last = head.runAttempts.at(-1);
    if (first === undefined || last === undefined)
        return null;
    const digest = digestText === undefined ? null : parseDigest(digestText);
    const tasks = {};
    for (const [id, [result, durationMs, runAttempt]] of Object.entries(digest?.tasks ?? {}))
        tasks[id] = { result, durationMs, runAttempt };
    return { dag: head.dag, runId: head.runId, runAttempt: last.runAttempt, startedAt: first.startedAt, result: last.result, tasks, othersSucceeded: digest?.othersSucceeded ?? false };
}
/** A run from a whole state written by the released v1. */
function fromV1(state) {
    const first = state.runAttempts[0];
    const last = state.runAttempts.at(-1);
    if (first === undefined || last === undefined)
        return null;
    const tasks = {};
    for (const [id, t] of Object.entries(state.tasks)) {
        const start = t.attempts[0]?.startedAt ?? null;
        tasks[id] = { result: t.result, durationMs: start === null ? null : Math.max(0, t.finishedAt - start), runAttempt: t.runAttempt };
    }
    return { dag: state.dag, runId: state.runId, runAttempt: last.runAttempt, startedAt: first.startedAt, result: last.result, tasks, othersSucceeded: false };
}

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
// EXTERNAL MODULE: ./node_modules/@kubernetes/client-node/dist/index.js + 876 modules
var dist = __webpack_require__(9655);
// EXTERNAL MODULE: ./lib/kube/lease-name.js
var lease_name = __webpack_require__(8399);
;// CONCATENATED MODULE: ./lib/kube/lease.js
/**
 * One run at a time: the `concurrency` input names a coordination.k8s.io/v1 Lease that a run
 * holds while it lives. This serializes runs across workflows and repositories that share a
 * cluster, which GitHub's own `concurrency:` cannot.
 *
 * The protocol is client-go's leader election, reduced to one acquisition:
 * - Holding: `spec.holderIdentity` is ours; we renew `spec.renewTime` every third of
 *   `leaseDurationSeconds`, each write carrying the resourceVersion read (optimistic concurrency:
 *   a 409 means someone else wrote; we read again and look whether we still hold it).
 * - Free: no Lease object, no holder (released), or a holder that stopped renewing: its lease
 *   expired at min(renewTime + duration, first time we saw that renewTime + duration). The
 *   second term bounds the wait when the holder's clock runs ahead of ours.
 * - Ours already: a holder of the same GitHub run and step (same repository, run id, job, and
 *   run scope: the step, the matrix leg, the run-key) with the same or an earlier run attempt.
 *   GitHub starts a new run attempt only after the earlier one ended, and the same attempt seen
 *   again is this step restarted after a crash, so that holder is dead. Another leg of a matrix,
 *   or another step, is someone else: it waits, skips or fails as the policy says.
 * - Taking it: create (a 409 AlreadyExists means another run won the race) or replace with
 *   the resourceVersion read (a 409 means the same); either way read again and decide again.
 *
 * Waiting (policy `wait`) never polls: it sleeps until the holder's lease would expire, or until
 * a watch on the Lease reports a change (a release), whichever is first, bounded by the wait
 * timeout. Requests while waiting: about one read per lease duration.
 */








/**
 * The holder identity of this run: `<repository>/runs/<runId>/attempts/<runAttempt>/<job>/<scope>#<random>`
 * (src/common/run.ts `runScope`: the step, the matrix leg and the run-key, hashed). The random
 * part tells two processes of the same step apart.
 */
function leaseHolder(ctx, random = (0,external_node_crypto_.randomBytes)(4).toString('hex')) {
    const scope = (0,common_run/* runScope */.AO)(ctx);
    return `${ctx.repository ?? 'local'}/runs/${ctx.runId ?? 'local'}/attempts/${ctx.runAttempt}/${ctx.job ?? 'job'}${scope === null ? '' : `/${scope}`}#${random}`;
}
const HOLDER = /^(.*)\/runs\/([^/]+)\/attempts\/(\d+)\/([^#]*)#(.*)$/;
/** Whether `other` is this same GitHub job and step (run scope) in the same or an earlier run attempt (so, dead). */
function isEarlierSelf(me, other) {
    const a = HOLDER.exec(me);
    const b = HOLDER.exec(other);
    if (a === null || b === null)
        return false;
    if (a[2] === 'local')
        return false; // the CLI has no run id: never assume
    return a[1] === b[1] && a[2] === b[2] && a[4] === b[4] && Number(b[3]) <= Number(a[3]);
}

/** A wait or a lease duration, to the second it ends in. */
function formatWait(ms) {
    const whole = Math.ceil(Math.max(0, ms) / 1000) * 1000;
    return whole === 0 ? '0s' : (0,duration/* formatDuration */.a)(whole);
}
/**
 * Acquires the lease under `policy`. Never throws for "held by someone else": that is
 * `acquired: false` with the reason (the caller skips or fails the step). Throws KubeError when
 * the API refuses (RBAC, unreachable).
 */
async function acquireLease(api, options) {
    const o = {
        durationSeconds: 60,
        waitTimeoutMs: 3_600_000,
        clock: clock/* systemClock */.ml,
        ...options,
    };
    if (!(Number.isInteger(o.durationSeconds) && o.durationSeconds > 0)) {
        throw new Error(`acquireLease: durationSeconds must be a whole number > 0, got ${o.durationSeconds}`);
    }
    const where = `Lease ${o.namespace}/${o.name}`;
    const durationMs = o.durationSeconds * 1000;
    const started = o.clock.now();
    const deadline = started + (o.policy === 'wait' ? o.waitTimeoutMs : 0);
    // When we first saw the current (holder, renewTime) of the lease, on our clock.
    let observed = null;
    let toldHolder = null;
    const fail = (what, err) => {
        const info = (0,errors/* classifyError */.fe)(err);
        throw new errors/* KubeError */.a3(`Could not ${what} ${where}: ${info.message}${info.kind === 'forbidden' ? ' (grant get, create and update on leases.coordination.k8s.io in this namespace)' : ''}`, info, { cause: err });
    };
    const spec = (now, prev) => ({
        holderIdentity: o.holder,
        leaseDurationSeconds: o.durationSeconds,
        acquireTime: new dist/* V1MicroTime */.Nun(now),
        renewTime: new dist/* V1MicroTime */.Nun(now),
        leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (prev?.spec?.holderIdentity && prev.spec.holderIdentity !== o.holder ? 1 : 0),
    });
    for (;;) {
        if (o.signal?.aborted)
            return notAcquired(`stopped waiting for ${where}: the run was cancelled`, null);
        let lease;
        try {
            lease = await o.request(`read ${where}`, () => api.readNamespacedLease({ name: o.name, namespace: o.namespace }));
        }
        catch (err) {
            if ((0,errors/* classifyError */.fe)(err).kind !== 'not-found')
                fail('read', err);
            lease = null;
        }
        const now = o.clock.now();
        if (lease === null) {
            try {
                const created = await o.request(`create ${where}`, () => api.createNamespacedLease({ namespace: o.namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: o.name, namespace: o.namespace }, spec: spec(now, null) } }));
                return held(created, `acquired ${where}`);
            }
            catch (err) {
                if ((0,errors/* classifyError */.fe)(err).kind === 'conflict')
                    continue; // another run created it first: look again
                return fail('create', err);
            }
        }
        const holder = lease.spec?.holderIdentity ?? '';
        const renewed = (0,time/* kubeTimeMs */.f)(lease.spec?.renewTime) ?? (0,time/* kubeTimeMs */.f)(lease.spec?.acquireTime);
        const key = `${holder}@${String(renewed)}`;
        if (observed?.key !== key)
            observed = { key, at: now };
        const duration = (lease.spec?.leaseDurationSeconds ?? o.durationSeconds) * 1000;
        const expiresAt = Math.min(renewed === null ? Infinity : renewed + duration, observed.at + duration);
        let why = null;
        if (holder === '')
            why = `acquired ${where} (it was free)`;
        else if (holder === o.holder)
            why = `acquired ${where} (we held it already)`;
        else if (isEarlierSelf(o.holder, holder))
            why = `acquired ${where} from ${holder}, an earlier process of this same job (it is no longer running)`;
        else if (now >= expiresAt)
            why = `took over ${where} from ${holder}, which stopped renewing it ${formatWait(now - (renewed ?? observed.at))} ago (lease duration ${formatWait(duration)})`;
        if (why !== null) {
            try {
                const body = { ...lease, spec: { ...spec(now, lease) } };
                const replaced = await o.request(`update ${where}`, () => api.replaceNamespacedLease({ name: o.name, namespace: o.namespace, body }));
                return held(replaced, why);
            }
            catch (err) {
                const kind = (0,errors/* classifyError */.fe)(err).kind;
                if (kind === 'conflict' || kind === 'not-found')
                    continue; // someone else wrote first: look again
                return fail('update', err);
            }
        }
        const heldFor = `${where} is held by ${holder} (until ${new Date(expiresAt).toISOString()} unless renewed)`;
        if (o.policy !== 'wait')
            return notAcquired(heldFor, holder);
        if (now >= deadline) {
            return notAcquired(`waited ${formatWait(now - started)} for ${where}, the wait limit; it is still held by ${holder}`, holder);
        }
        if (toldHolder !== holder) {
            toldHolder = holder;
            o.onWait?.(holder, expiresAt);
        }
        await wakeAt(Math.min(expiresAt, deadline), lease.metadata?.resourceVersion);
    }
    /** Sleeps until `until` (our clock), or until the watch says the lease changed. */
    async function wakeAt(until, resourceVersion) {
        const stop = new AbortController();
        const onAbort = () => stop.abort();
        if (o.signal?.aborted)
            return; // cancelled already (perhaps by onWait): the loop says so
        o.signal?.addEventListener('abort', onAbort, { once: true });
        let watchRequest = null;
        try {
            const changed = new Promise((resolve) => {
                if (o.watch === undefined || resourceVersion === undefined)
                    return;
                o
                    .watch(`/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`, { fieldSelector: `metadata.name=${o.name}`, resourceVersion }, (type) => {
                    if (type === 'MODIFIED' || type === 'DELETED')
                        resolve();
                }, () => { })
                    .then((req) => {
                    watchRequest = req;
                    if (stop.signal.aborted)
                        req.abort();
                })
                    .catch(() => { }); // no watch permission or no watch: the timer still wakes us
            });
            await Promise.race([o.clock.sleep(Math.max(0, until - o.clock.now()), stop.signal), changed]);
        }
        finally {
            stop.abort();
            watchRequest?.abort();
            o.signal?.removeEventListener('abort', onAbort);
        }
    }
    function notAcquired(reason, heldBy) {
        return { acquired: false, reason, heldBy, release: async () => { } };
    }
    function held(lease, reason) {
        let current = lease;
        const stop = new AbortController();
        let lost = false;
        let lastRenewed = o.clock.now();
        const interval = Math.max(1, Math.floor(durationMs / 3));
        const renew = async () => {
            for (;;) {
                const now = o.clock.now();
                try {
                    const body = { ...current, spec: { ...current.spec, holderIdentity: o.holder, renewTime: new dist/* V1MicroTime */.Nun(now), leaseDurationSeconds: o.durationSeconds } };
                    current = await o.request(`renew ${where}`, () => api.replaceNamespacedLease({ name: o.name, namespace: o.namespace, body }));
                    lastRenewed = now;
                    return;
                }
                catch (err) {
                    const kind = (0,errors/* classifyError */.fe)(err).kind;
                    if (kind !== 'conflict' && kind !== 'not-found')
                        throw err;
                }
                // Someone else wrote: still ours?
                let fresh = null;
                try {
                    fresh = await o.request(`read ${where}`, () => api.readNamespacedLease({ name: o.name, namespace: o.namespace }));
                }
                catch (err) {
                    if ((0,errors/* classifyError */.fe)(err).kind !== 'not-found')
                        throw err;
                }
                if (fresh === null || fresh.spec?.holderIdentity !== o.holder) {
                    lost = true;
                    o.onLost?.(`${where} was taken by ${fresh?.spec?.holderIdentity ?? 'nobody (it was deleted)'} while this run held it; another run may now run at the same time`);
                    return;
                }
                current = fresh;
            }
        };
        const loop = (async () => {
            while (!stop.signal.aborted && !lost) {
                await o.clock.sleep(interval, stop.signal);
                if (stop.signal.aborted)
                    break;
                try {
                    await renew();
                }
                catch (err) {
                    // A renewal that failed (after the requester's retries) is tried again next time;
                    // once a whole duration passed without one, others may take the lease over.
                    if (o.clock.now() - lastRenewed >= durationMs && !lost) {
                        lost = true;
                        o.onLost?.(`could not renew ${where} for ${formatWait(durationMs)} (${(0,errors/* classifyError */.fe)(err).message}); another run may take it over`);
                    }
                }
            }
        })();
        let released = null;
        return {
            acquired: true,
            reason,
            heldBy: null,
            release: () => (released ??= (async () => {
                stop.abort();
                await loop;
                if (lost)
                    return;
                // Free it for the next run at once: clear the holder (client-go's ReleaseOnCancel).
                for (let tries = 0; tries < 5; tries++) {
                    try {
                        const body = { ...current, spec: { ...current.spec, holderIdentity: undefined, renewTime: new dist/* V1MicroTime */.Nun(o.clock.now()) } };
                        await o.request(`release ${where}`, () => api.replaceNamespacedLease({ name: o.name, namespace: o.namespace, body }));
                        return;
                    }
                    catch (err) {
                        const kind = (0,errors/* classifyError */.fe)(err).kind;
                        if (kind !== 'conflict')
                            return; // gone, or the API fails: the lease expires on its own
                        try {
                            const fresh = await o.request(`read ${where}`, () => api.readNamespacedLease({ name: o.name, namespace: o.namespace }));
                            if (fresh.spec?.holderIdentity !== o.holder)
                                return;
                            current = fresh;
                        }
                        catch {
                            return;
                        }
                    }
                }
            })()),
        };
    }
}

// EXTERNAL MODULE: ./lib/kube/dry-run-checks.js
var dry_run_checks = __webpack_require__(6740);
// EXTERNAL MODULE: ./lib/kube/pod-proof.js
var pod_proof = __webpack_require__(6877);
// EXTERNAL MODULE: ./lib/report/annotations.js
var annotations = __webpack_require__(1116);
// EXTERNAL MODULE: ./lib/report/live-log.js
var live_log = __webpack_require__(1781);
// EXTERNAL MODULE: ./lib/report/outputs.js
var outputs = __webpack_require__(8568);
// EXTERNAL MODULE: ./lib/report/summary-reporter.js
var summary_reporter = __webpack_require__(626);
;// CONCATENATED MODULE: ./lib/report/types.js
/** Forwards every hook to each reporter, in order. */
class CompositeReporter {
    #reporters;
    constructor(reporters) {
        this.#reporters = reporters;
    }
    async runStarted(info) {
        for (const r of this.#reporters)
            await r.runStarted?.(info);
    }
    async decision(decision, run) {
        for (const r of this.#reporters)
            await r.decision?.(decision, run);
    }
    async podCreated(task, attempt, pod, adopted, poke) {
        for (const r of this.#reporters)
            await r.podCreated?.(task, attempt, pod, adopted, poke);
    }
    logLine(line) {
        for (const r of this.#reporters)
            r.logLine?.(line);
    }
    logEnded(task, attempt) {
        for (const r of this.#reporters)
            r.logEnded?.(task, attempt);
    }
    podPending(task, attempt, status, at) {
        for (const r of this.#reporters)
            r.podPending?.(task, attempt, status, at);
    }
    containerStarted(task, attempt, node, pendingMs) {
        for (const r of this.#reporters)
            r.containerStarted?.(task, attempt, node, pendingMs);
    }
    async attemptFinished(task, attempt, outcome, run) {
        for (const r of this.#reporters)
            await r.attemptFinished?.(task, attempt, outcome, run);
    }
    async dryRunVerdict(verdict) {
        for (const r of this.#reporters)
            await r.dryRunVerdict?.(verdict);
    }
    async dryRunChecks(checks) {
        for (const r of this.#reporters)
            await r.dryRunChecks?.(checks);
    }
    async runFinished(state, logTails) {
        for (const r of this.#reporters)
            await r.runFinished?.(state, logTails);
    }
    async planRendered(info, pods) {
        for (const r of this.#reporters)
            await r.planRendered?.(info, pods);
    }
}

// EXTERNAL MODULE: ./lib/action/errors.js
var action_errors = __webpack_require__(187);
// EXTERNAL MODULE: ./lib/action/github-runner.js
var github_runner = __webpack_require__(778);
// EXTERNAL MODULE: ./lib/common/url-credentials.js
var url_credentials = __webpack_require__(7835);
// EXTERNAL MODULE: ./lib/common/sensitive.js
var sensitive = __webpack_require__(2609);
// EXTERNAL MODULE: ./lib/action/settings.js
var action_settings = __webpack_require__(1149);
// EXTERNAL MODULE: ./lib/dag/run-dates.js + 1 modules
var run_dates = __webpack_require__(9672);
;// CONCATENATED MODULE: ./lib/action/on-cluster.js
/**
 * The action's `run` and `dry-run` modes, and the post step's sweep: everything that talks to the
 * cluster. `steps.ts` loads this module only when a mode needs it (`import()`), because it brings
 * in @kubernetes/client-node, most of the bundle: `plan` starts without it.
 */


























/**
 * `run` and `dry-run`: connect, check permissions, then hand over to the engine. A backfill runs
 * the DAG once per logical date, each a run of its own (run id `<run id>-<date>`: its own pods,
 * state and summary section), in order, `parallel` at a time.
 */
async function runOnCluster(spec, params, settings, context, deps, dates) {
    const { runner, env, signal } = deps;
    const mode = settings.mode === 'dry-run' ? 'dry-run' : 'run';
    const connection = await (0,action_errors/* withKubeErrors */.$6)(() => (0,auth/* connect */.Ng)(settings.auth, env));
    for (const secret of connection.secrets)
        (0,github_runner/* maskSecret */.$l)(runner, secret);
    connection.onNewSecret((secret) => (0,github_runner/* maskSecret */.$l)(runner, secret));
    const namespace = settings.namespace ?? spec.namespace ?? connection.namespace ?? 'default';
    const client = (0,kube_client/* createClient */.UU)(connection.kubeConfig, settings.api);
    runner.info(`Cluster ${(0,url_credentials/* withoutUrlCredentials */.e)(client.server)}, namespace ${namespace} (credentials: ${describeSource(connection.source)})`);
    // The post step's sweep is told which pods are this run's before anything may fail: a restart
    // after a SIGKILL that fails at the preflight must still let the post step clean up the pods
    // the killed run left. (Before any pod exists, the sweep finds none: harmless.)
    const runId = (0,common_run/* effectiveRunId */.gw)(context);
    // The runs the post step sweeps; a run whose claim another step holds is not this step's.
    const sweepIds = [];
    const saveSweep = () => runner.saveState(action_errors/* STATE */.c4.runs, sweepIds.length === 0 ? '' : JSON.stringify(sweepTarget(spec.name, context, sweepIds, (0,common_run/* runClaim */.ow)(context, settings.dag, params))));
    if (mode === 'run') {
        runner.saveState(action_errors/* STATE */.c4.namespace, namespace);
        // Every run this step may start, a backfill's all at once: when the step is killed, runs of
        // a backfill that overlap (backfill-parallel) may each have pods left, not only the latest.
        sweepIds.push(...(dates.backfill === null ? [runId] : dates.backfill.dates.map((date) => backfillRunId(runId, date))));
        saveSweep();
        runner.saveState(action_errors/* STATE */.c4.keepPods, settings.keepPods);
    }
    const checked = await (0,action_errors/* withKubeErrors */.$6)(() => (0,auth/* preflight */.Mz)(client, namespace, mode, { concurrency: mode === 'run' && settings.concurrency !== null, spec }));
    for (const w of checked.warnings)
        runner.warning(w);
    // The values of params named like credentials are redacted as the connection's are (masked
    // already by steps.ts); the list is the connection's, which grows as an exec plugin renews.
    const secrets = connection.secrets;
    secrets.push(...(0,sensitive/* sensitiveValues */.DJ)(params));
    /**
     * The reporters of one run; `prefix` marks its live log lines (a backfill's runs may overlap),
     * `heading` opens its summary section (written in the same append, so sections never mix).
     */
    // The runner's summary is one buffer: the runs of a backfill append to it one at a time.
    let summaries = Promise.resolve();
    const appendSummary = (md) => (summaries = summaries.then(() => runner.appendSummary(md)));
    // The summary reporter is kept apart too: a run hands it the DAG's history before it starts.
    const summaryOf = new WeakMap();
    const reportersFor = (prefix, heading = '') => {
        const summary = new summary_reporter/* SummaryReporter */.Wx({
            runner: heading === '' ? runner : { appendSummary: (md) => appendSummary(`${heading}${md}`) },
            logTailLines: settings.logTailLines,
            keepPods: settings.keepPods,
            secrets,
        });
        const reporter = new CompositeReporter([
            new live_log/* LiveLogReporter */.U4({ write: (line) => runner.info(`${prefix}${line}`), secrets }),
            summary,
            new annotations/* AnnotationReporter */.x0({ runner, secrets }),
            new outputs/* OutputsReporter */.E3({ runner, env, secrets }),
        ]);
        summaryOf.set(reporter, summary);
        return reporter;
    };
    const common = {
        spec,
        params,
        namespace,
        maxParallel: settings.maxParallel,
        keepPods: settings.keepPods,
        pods: (0,pod_api/* kubePodApi */.t)(client),
        cluster: (0,dry_run_checks/* kubeClusterReader */.rn)(client),
        context,
        signal,
        logTailLines: settings.logTailLines,
        debug: (line) => runner.debug(line),
        logBacklog: () => runner.logBacklog?.(),
    };
    runner.info(describeDates(dates));
    if (mode === 'dry-run') {
        const state = await (0,action_errors/* withKubeErrors */.$6)(() => (0,engine/* runDag */.WP)({ ...common, run: dates.run, reporter: reportersFor(''), mode }));
        finish(spec, state, mode);
        return;
    }
    // The run id was fixed once, above: pod names, labels, the state ConfigMap and the post
    // step's selector must all agree on it.
    const baseRunId = runId;
    // This process's key: its public half goes into each run's state before any pod is created,
    // so a restart after a crash and the next run attempt can tell the run's pods from others'.
    const proof = new pod_proof/* PodProof */.Ys();
    const lease = settings.concurrency === null ? null : await takeLock(settings, settings.concurrency, namespace, context, client, deps);
    if (lease !== null && !lease.acquired)
        return;
    try {
        if (dates.backfill === null) {
            const state = await runOne(baseRunId, dates.run, reportersFor(''));
            finish(spec, state, mode);
            return;
        }
        // A backfill: one run per logical date, in order, `parallel` at a time.
        const { dates: logical, parallel } = dates.backfill;
        runner.info(`Backfill of ${logical.length} logical date${logical.length === 1 ? '' : 's'} (${logical[0]} … ${logical.at(-1)}), ${parallel} at a time`);
        const results = [];
        let next = 0;
        const worker = async () => {
            while (next < logical.length && !signal.aborted) {
                const date = logical[next++];
                const run = (0,run_dates/* runContext */.pO)((0,run_dates/* runDates */.$q)({ start: deps.now?.() ?? Date.now(), schedule: dates.schedule, logicalDate: date }));
                const runId = backfillRunId(baseRunId, date);
                const heading = `# Logical date ${run['ts']}\n\nRun \`${runId}\` of the backfill, data interval ${run['intervalStart']} → ${run['intervalEnd']}.\n\n`;
                results.push({ date, state: await runOne(runId, run, reportersFor(parallel > 1 ? `[${run['date']}] ` : '', heading)) });
            }
        };
        await Promise.all(Array.from({ length: Math.min(parallel, logical.length) }, worker));
        results.sort((a, b) => (a.date < b.date ? -1 : 1));
        finishBackfill(spec, results, runner);
    }
    finally {
        await lease?.release();
    }
    /**
     * A re-run of a run whose earlier attempts an earlier version of the action ran: their state
     * (and pods) are named without the run's scope, shared by every leg and step, so nothing of
     * them can be known to be this leg's: every task runs again, and the user is told why.
     */
    async function warnOfUnscopedState(runId) {
        const legacy = new RunStore({ core: client.core, namespace, dag: spec.name, runId, repository: context.repository, request: client.request });
        const found = await legacy.load().then((state) => state !== null, () => false);
        if (!found)
            return;
        runner.warning(`The earlier attempts of this run were run by an earlier version of pod-dag-action, which kept one state for every matrix leg and step (ConfigMap ${namespace}/${legacy.name}). ` +
            "It cannot tell which of its tasks were this leg's, so every task runs again; pods of those attempts that still run are not waited for (kubectl get pods -l 'pod-dag.io/run-id=" +
            `${runId}' -n ${namespace}).`);
    }
    /** One run of the DAG: its own run id, state ConfigMap, pods and reporters. */
    async function runOne(runId, run, reporter) {
        const scope = (0,common_run/* runScope */.AO)(context);
        const store = new RunStore({
            core: client.core,
            namespace,
            dag: spec.name,
            runId,
            scope,
            repository: context.repository,
            request: client.request,
            onNote: (note) => runner.warning(note),
        });
        // The claim comes first, before this run creates or waits for anything: a second step that
        // the run's identity cannot tell from another one stops here.
        await claimRun(store, spec, settings, params, context, runId, () => {
            // Another step runs it: its pods (same labels) are not this step's to sweep.
            sweepIds.splice(sweepIds.indexOf(runId), 1);
            saveSweep();
        });
        if (context.runAttempt > 1) {
            proof.trust((0,rerun/* runKeys */.km)(await (0,action_errors/* withKubeErrors */.$6)(() => store.load())));
            await (0,action_errors/* withKubeErrors */.$6)(() => settleEarlierAttempts({
                client,
                namespace,
                spec,
                params,
                runId,
                scope,
                runAttempt: context.runAttempt,
                store,
                signal,
                onWait: (pods, selector) => {
                    runner.info(`Waiting for ${pods.length} pod${pods.length === 1 ? '' : 's'} of an earlier attempt of this run, whose runner stopped without seeing ${pods.length === 1 ? 'it' : 'them'} end, so that no task runs twice at once:`);
                    for (const p of pods)
                        runner.info(`  ${p.name} (task ${p.task}, run attempt ${p.runAttempt}, ${p.phase})`);
                    runner.info(`Their results will be used as if that attempt had seen them. To stop waiting, delete them: kubectl delete pod -n ${namespace} -l '${selector}'`);
                },
                proof,
                onRefused: (pod, problem) => runner.warning(`Pod ${pod.metadata?.name} in namespace ${namespace} has the labels of an earlier attempt of this run but is not this run's: it ${problem}. ` +
                    "It was ignored (its task runs again) and not deleted (it is not this run's): delete it, and find out who creates pods with pod-dag-action's labels in this namespace."),
                onRecorded: (task, runAttempt, attempt, outcome) => runner.info(`${task}: its pod of run attempt ${runAttempt} (attempt ${attempt}) ended unseen by that attempt's runner: ${outcome.class === 'succeeded' ? 'succeeded' : `${outcome.class}${outcome.message ? ` (${outcome.message})` : ''}`}`),
            }));
        }
        const session = await (0,action_errors/* withKubeErrors */.$6)(() => startRerunSession(store, { spec, params, runAttempt: context.runAttempt, mode: settings.rerun, claim: (0,common_run/* runClaim */.ow)(context, settings.dag, params), key: proof.publicKey }));
        proof.trust((0,rerun/* runKeys */.km)(session.stored));
        runner.saveState(action_errors/* STATE */.c4.keys, JSON.stringify(proof.trustedKeys));
        if (context.runAttempt > 1 && scope !== null && (session.stored?.tasks === undefined || Object.keys(session.stored.tasks).length === 0)) {
            await warnOfUnscopedState(runId);
        }
        // The grid of the last runs, from the states kept for `retention`: one list, never fatal.
        summaryOf.get(reporter)?.setHistory(await readHistory({ core: client.core, request: client.request, namespace, dag: spec.name, repository: context.repository, runId, scope }));
        for (const [task, prev] of Object.entries(session.plan.previous)) {
            runner.info(`${task}: succeeded in run attempt ${prev.runAttempt}; reusing its result and outputs`);
        }
        if (session.stored !== null)
            for (const r of session.plan.rerun)
                runner.info(`${r.task} runs: ${r.reason}`);
        let unrecorded = [];
        const state = await (0,action_errors/* withKubeErrors */.$6)(() => (0,engine/* runDag */.WP)({
            ...common,
            reporter,
            run,
            mode,
            runId,
            previous: session.plan.previous,
            onAttemptEnd: (end, opts) => session.attemptEnded(end, opts),
            flushRecords: () => session.flush(),
            onUnrecorded: (ends) => void (unrecorded = ends),
            recorded: (task, attempt) => session.recorded(task, attempt),
            proof,
        }));
        let runEnd = null;
        if (state.result !== null)
            await session.finished(state.result).catch((err) => void (runEnd = err instanceof Error ? err : new Error(String(err))));
        // One warning for every record that failed, naming the pods kept in their stead.
        const unwritten = (0,engine/* unrecordedWarning */["if"])(unrecorded, runEnd);
        if (unwritten !== null)
            runner.warning(unwritten);
        const old = await removeOldRuns({
            core: client.core,
            namespace,
            dag: spec.name,
            repository: context.repository,
            runId,
            retentionMs: settings.retentionMs,
            keepPods: settings.keepPods,
            request: client.request,
        });
        if (old.pods.length + old.configMaps.length > 0) {
            runner.info(`Removed ${old.pods.length} pod(s) and ${old.configMaps.length} state ConfigMap(s) of runs older than the retention`);
        }
        for (const e of old.errors)
            runner.warning(`Housekeeping: ${e}`);
        return state;
    }
}
/** The run id of a backfill's run of logical date `date`: `<run id>-<date, letters and digits only>`. */
function backfillRunId(baseRunId, date) {
    return `${baseRunId}-${date.replace(/[^0-9A-Za-z]/g, '').toLowerCase()}`;
}
/**
 * Records that this step starts this run attempt (src/dag/rerun.ts `RunClaim`), or fails, before
 * anything is created, when another step with the same run identity but another claim did so
 * (after `onRefused`).
 */
async function claimRun(store, spec, settings, params, context, runId, onRefused) {
    const started = store.markStarted(context.runAttempt, (0,common_run/* runClaim */.ow)(context, settings.dag, params)).catch((err) => {
        if (!(err instanceof rerun/* AmbiguousRunError */.WJ))
            throw err;
        onRefused();
        const leg = (0,common_run/* describeLeg */.CW)(context.leg);
        const who = [
            `run ${runId}`,
            context.job ? `job '${context.job}'` : null,
            context.step ? `step '${context.step}'` : null,
            leg ? `matrix leg (${leg})` : null,
            context.runKey ? `run-key '${context.runKey}'` : null,
        ].filter((p) => p !== null);
        throw new action_errors/* ActionError */.lZ(`DAG ${spec.name}: another step already started run attempt ${context.runAttempt} of this same run (${who.join(', ')}), and it is not this step: it differs in ${err.differences.join(' and ')}. ` +
            'The job, the step and the matrix leg do not tell the two apart (as with one reusable workflow called twice, or a composite action that runs the DAG twice), ' +
            "and sharing the run would replay or adopt the other's tasks, so this step stopped before creating anything. " +
            `Give each its own 'run-key' input, e.g. 'run-key: \${{ inputs.region }}' or any value that differs between them (${store.name} holds the run's state).`);
    });
    await (0,action_errors/* withKubeErrors */.$6)(() => started);
}
/** "Logical date 2026-12-03 (…), data interval … → …, from the schedule "0 2 * * *"". */
function describeDates(dates) {
    const r = dates.run;
    const from = r['source'] === 'schedule' ? `the schedule "${r['schedule']}"` : r['source'] === 'input' ? 'the inputs' : 'the start of the run';
    return `Logical date ${r['ts']}, data interval ${r['intervalStart']} → ${r['intervalEnd']} (from ${from})`;
}
/** A backfill's outcome: the step fails if any of its runs did not succeed, naming them. */
function finishBackfill(spec, results, runner) {
    const bad = results.filter((r) => r.state.result !== 'success');
    const failedTasks = [...new Set(results.flatMap((r) => r.state.tasks.filter((t) => t.result === 'failed').map((t) => t.id)))];
    const result = bad.length === 0 ? 'success' : results.some((r) => r.state.result === 'failure') ? 'failure' : 'cancelled';
    // The last run's reporters set the outputs; these say the whole backfill.
    runner.setOutput('result', result);
    runner.setOutput('failed-tasks', JSON.stringify(failedTasks));
    runner.info(`Backfill of DAG ${spec.name}: ${results.length - bad.length} of ${results.length} runs succeeded${bad.length > 0 ? ` (not: ${bad.map((b) => b.date).join(', ')})` : ''}`);
    if (bad.length > 0)
        throw new action_errors/* ActionError */.lZ(`Backfill of DAG ${spec.name}: ${bad.length} of ${results.length} runs did not succeed (${bad.map((b) => `${b.date}: ${b.state.result}`).join(', ')}).`);
}
/**
 * Takes the `concurrency` lock per its policy. Resolves to the held lease, or to a lease that was
 * not acquired after the step's outcome was set (skipped: success with result `skipped`).
 */
async function takeLock(settings, name, namespace, context, client, deps) {
    const { runner, signal } = deps;
    const lease = await (0,action_errors/* withKubeErrors */.$6)(() => acquireLease(client.coordination, {
        name: (0,lease_name/* concurrencyLeaseName */.J)(name),
        namespace,
        holder: leaseHolder(context),
        policy: settings.concurrencyPolicy,
        waitTimeoutMs: settings.concurrencyTimeoutMs,
        request: client.request,
        watch: (path, query, onEvent, onDone) => client.watchRequest(`watch lease ${name}`, path, query, onEvent, onDone),
        signal,
        onWait: (holder, until) => runner.info(`Waiting for the concurrency lock '${name}': held by ${holder} (until ${new Date(until).toISOString()} unless renewed)`),
        onLost: (reason) => runner.warning(`Lost the concurrency lock '${name}': ${reason}`),
    }));
    if (lease.acquired) {
        runner.info(`Holding the concurrency lock '${name}' (Lease ${namespace}/${(0,lease_name/* concurrencyLeaseName */.J)(name)})`);
        return lease;
    }
    if (signal.aborted)
        throw new action_errors/* ActionError */.lZ(`Cancelled while waiting for the concurrency lock '${name}'.`);
    if (settings.concurrencyPolicy === 'skip') {
        runner.info(`Skipped: ${lease.reason} (concurrency-policy: skip)`);
        runner.setOutput('result', 'skipped');
        runner.setOutput('failed-tasks', '[]');
        runner.setOutput('outputs', '{}');
        await runner.appendSummary(`## ⏭️ Skipped\n\nAnother run holds the concurrency lock \`${name}\`: ${lease.reason}.\n`);
        return lease;
    }
    throw new action_errors/* ActionError */.lZ(`Another run holds the concurrency lock '${name}': ${lease.reason}. Nothing was run.`);
}
/** Turns the run's result into the step's: a failed DAG fails the step, with the tasks named. */
function finish(spec, state, mode) {
    if (state.result === 'success')
        return;
    const failed = state.tasks.filter((t) => t.result === 'failed').map((t) => t.id);
    if (state.result === 'cancelled') {
        throw new action_errors/* ActionError */.lZ(`DAG ${spec.name} was cancelled${state.cancelled === 'timeout' ? ' (its timeout passed)' : ''}.`);
    }
    if (mode === 'dry-run') {
        throw new action_errors/* ActionError */.lZ(`Dry run of DAG ${spec.name}: the cluster would refuse the pods of ${failed.join(', ')} (see the summary).`);
    }
    throw new action_errors/* ActionError */.lZ(`DAG ${spec.name} failed: ${failed.length} task${failed.length === 1 ? '' : 's'} failed (${failed.join(', ')}).`);
}
function describeSource(source) {
    switch (source) {
        case 'kubeconfig-input':
            return "the 'kubeconfig' input";
        case 'token-input':
            return "the 'server' and 'token' inputs";
        case 'kubeconfig-file':
            return 'the kubeconfig file of an earlier step (KUBECONFIG or ~/.kube/config)';
        case 'in-cluster':
            return 'the in-cluster service account';
        default:
            return source;
    }
}
/**
 * The post step's sweep, once the main step's state says which runs it started (`runs`, a JSON
 * SweepTarget): deletes their live pods, and the ended ones keep-pods does not keep whose ends the
 * runs' states record; the others stay, for a re-run. Never fails the job; only warns.
 */
async function cleanUpRun(runner, env, namespace, runs, keepPods, keys = null) {
    const target = parseTarget(runs);
    if (target === null) {
        runner.warning(`Could not clean up this run's pods in namespace ${namespace}: the main step's saved state does not say which runs it started (${JSON.stringify(runs.slice(0, 200))}).`);
        return;
    }
    const what = target.runIds.length === 1 ? `run ${target.runIds[0]}` : `the ${target.runIds.length} runs of the backfill`;
    try {
        const settings = (0,action_settings/* readSettings */.sb)((name) => runner.getInput(name));
        const connection = await (0,auth/* connect */.Ng)(settings.auth, env);
        for (const secret of connection.secrets)
            (0,github_runner/* maskSecret */.$l)(runner, secret);
        connection.onNewSecret((secret) => (0,github_runner/* maskSecret */.$l)(runner, secret));
        const client = (0,kube_client/* createClient */.UU)(connection.kubeConfig, settings.api);
        // Read with the main step's own store code: what it says is recorded is what a re-run reuses.
        // Each run's state is read at most once.
        const states = new Map();
        const readState = (runId) => {
            let s = states.get(runId);
            if (s === undefined) {
                s = new RunStore({ core: client.core, namespace, dag: target.dag, runId, scope: target.scope, repository: target.repository, request: client.request }).load();
                states.set(runId, s);
            }
            return s;
        };
        // Only pods signed by the step's processes are its to delete: the keys it saved, or, if it
        // stopped before saving them, those the runs' states record under its claim.
        const proof = new pod_proof/* PodProof */.Ys();
        if (keys !== null)
            proof.trust(parseKeys(keys));
        else {
            const started = [];
            for (const runId of target.runIds) {
                const stored = await readState(runId).catch((err) => err);
                const claimed = stored instanceof Error ? null : claimedKeys(stored, target.runAttempt, target.claim);
                if (stored instanceof Error)
                    runner.warning(`Left the pods of run ${runId} in namespace ${namespace} alone: could not read its state to tell which are this step's (${stored.message}).`);
                if (claimed === null)
                    continue; // this step never started it: none of its pods are this step's
                proof.trust(claimed);
                started.push(runId);
            }
            if (started.length === 0)
                return;
            target.runIds = started;
        }
        const { deleted, warnings, foreign, unrecorded } = await cleanupRun((0,pod_api/* kubePodApi */.t)(client), namespace, target, { keepPods, proof, readState });
        if (deleted.length > 0)
            runner.info(`Deleted ${deleted.length} leftover pod${deleted.length === 1 ? '' : 's'} of ${what}: ${deleted.join(', ')}`);
        if (unrecorded.length > 0) {
            const one = unrecorded.length === 1;
            runner.info(`Kept ${unrecorded.length} ended pod${one ? '' : 's'} of ${what}: the run's state does not record how ${one ? 'its task' : 'their tasks'} ended (the main step stopped, or failed to write it, first), and ${one ? 'this pod is' : 'these pods are'} the only record. ` +
                `A re-run of this job records and reuses ${one ? 'it' : 'them'} (a task that succeeded does not run again); housekeeping removes ${one ? 'it' : 'them'} after the retention. ${unrecorded.join(', ')}`);
        }
        for (const f of foreign) {
            runner.warning(`Left pod ${f.name} in namespace ${namespace} alone: it has this run's labels but is not this run's (it ${f.problem}). ` +
                "Delete it yourself, and find out who creates pods with pod-dag-action's labels in this namespace.");
        }
        for (const w of warnings)
            runner.warning(w);
    }
    catch (err) {
        runner.warning(`Could not clean up the pods of ${what} in namespace ${namespace}: ${err.message}`);
    }
}
/** The runs the main step saved for the post step, or null when the text is not a SweepTarget. */
function parseTarget(text) {
    let v;
    try {
        v = JSON.parse(text);
    }
    catch {
        return null;
    }
    if (typeof v !== 'object' || v === null)
        return null;
    const t = v;
    const str = (x) => typeof x === 'string';
    const ok = str(t['dag']) &&
        (t['scope'] === null || str(t['scope'])) &&
        (t['repository'] === null || str(t['repository'])) &&
        Number.isInteger(t['runAttempt']) &&
        (t['claim'] === null || (typeof t['claim'] === 'object' && Object.values(t['claim']).every((x) => x === null || str(x)))) &&
        Array.isArray(t['runIds']) &&
        t['runIds'].length > 0 &&
        t['runIds'].every(str);
    return ok ? t : null;
}
/** The keys the main step saved for the post step (a JSON array of strings); anything else: none. */
function parseKeys(text) {
    try {
        const v = JSON.parse(text);
        return Array.isArray(v) ? v.filter((k) => typeof k === 'string') : [];
    }
    catch {
        return [];
    }
}


/***/ })

};
