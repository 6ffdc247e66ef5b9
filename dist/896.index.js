export const id = 896;
export const ids = [896];
export const modules = {

/***/ 750:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   E0: () => (/* binding */ applyTaskEntry),
/* harmony export */   GJ: () => (/* binding */ recordedAttempt),
/* harmony export */   Qw: () => (/* binding */ parseRunState),
/* harmony export */   S8: () => (/* binding */ fingerprintSchema),
/* harmony export */   Tv: () => (/* binding */ claimDifferences),
/* harmony export */   WJ: () => (/* binding */ AmbiguousRunError),
/* harmony export */   Wp: () => (/* binding */ RunStateFormatError),
/* harmony export */   YH: () => (/* binding */ taskFingerprint),
/* harmony export */   ap: () => (/* binding */ markRunAttempt),
/* harmony export */   eo: () => (/* binding */ planRerun),
/* harmony export */   km: () => (/* binding */ runKeys),
/* harmony export */   mW: () => (/* binding */ storedTaskSchema),
/* harmony export */   nd: () => (/* binding */ STATE_VERSION),
/* harmony export */   p1: () => (/* binding */ storedRunAttemptSchema)
/* harmony export */ });
/* unused harmony exports MESSAGE_LIMIT, fingerprintChange, emptyRunState, applyTaskUpdate, serializeRunState, fitRunState */
/* harmony import */ var zod__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(8816);
/* harmony import */ var _common_errors_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(3302);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7598);
/* harmony import */ var _common_canonical_json_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(3130);
/* harmony import */ var _spec_matrix_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(966);
/* harmony import */ var _spec_template_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(5841);
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






/** Two steps the action cannot tell apart ran the same DAG as the same run attempt. */
class AmbiguousRunError extends _common_errors_js__WEBPACK_IMPORTED_MODULE_3__/* .UserError */ .y {
    name = 'AmbiguousRunError';
    /** How the other step's claim differs from this one's (`claimDifferences`). */
    differences;
    constructor(runAttempt, differences) {
        super(`run attempt ${runAttempt} of this run was already started by another step, which differs in ${differences.join(' and ')}`);
        this.differences = differences;
    }
}
/** The names `claimDifferences` gives the fields of a claim, for messages. */
const CLAIM_FIELDS = {
    job: 'job',
    step: 'step',
    leg: 'matrix leg',
    runKey: 'run-key',
    dag: "'dag' input",
    params: 'params',
    jobInstance: "job's check run",
};
/** How claim `b` differs from claim `a`, in words (empty when they are the same). */
function claimDifferences(a, b) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    const shown = (v) => (v === null || v === undefined || v === '' ? 'none' : JSON.stringify(v.length > 80 ? `${v.slice(0, 79)}…` : v));
    return keys
        .filter((k) => (a[k] ?? null) !== (b[k] ?? null))
        .map((k) => (k === 'params' ? 'its params' : `its ${CLAIM_FIELDS[k] ?? k} (${shown(b[k])} there, ${shown(a[k])} here)`));
}
/** The version `serializeRunState` writes. */
const STATE_VERSION = 1;
/** The longest cluster message kept per attempt; the state must stay small. */
const MESSAGE_LIMIT = 500;
// ---- fingerprints ------------------------------------------------------------------------
/**
 * Substitutes `{{ params.x }}` and leaves `{{ tasks.<id>.outputs.<name> }}` as written: the
 * outputs of an upstream task are only known when it ran, and a task whose upstream runs again
 * runs again anyway (rule 6), so its fingerprint need not see them.
 */
function renderParams(t, params) {
    const { refs } = (0,_spec_template_js__WEBPACK_IMPORTED_MODULE_2__/* .findTemplateRefs */ .u9)(t);
    let out = '';
    let at = 0;
    for (const m of refs) {
        // Only a plain `{{ params.x }}` is substituted; any other expression is kept as written (its
        // text changes when it does, and the params it reads are hashed with it below).
        const only = m.expression.refs.length === 1 ? m.expression.refs[0].ref : null;
        const plain = only?.kind === 'param' && /^\s*params\.[A-Za-z0-9_-]+\s*$/.test(m.expression.source);
        const value = plain && only.kind === 'param' && Object.hasOwn(params, only.name) ? params[only.name] : expressionWithParams(m.text, m.expression.refs, params);
        out += t.slice(at, m.start) + value;
        at = m.end;
    }
    return out + t.slice(at);
}
/** An expression's text followed by the values of the params it reads, so a change of either shows. */
function expressionWithParams(text, refs, params) {
    const read = refs.flatMap(({ ref }) => (ref.kind === 'param' ? [`${ref.name}=${Object.hasOwn(params, ref.name) ? params[ref.name] : ''}`] : ref.kind === 'params' ? [JSON.stringify(params)] : []));
    return read.length === 0 ? text : `${text}[${read.join(',')}]`;
}
function hash(value) {
    return (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256').update((0,_common_canonical_json_js__WEBPACK_IMPORTED_MODULE_4__/* .canonicalJson */ .d)(value)).digest('hex').slice(0, 16);
}
function envSource(e, params) {
    if ('value' in e)
        return { value: renderParams(e.value, params) };
    if ('secret' in e)
        return { secret: e.secret, key: e.key, optional: e.optional };
    return { configMap: e.configMap, key: e.key, optional: e.optional };
}
/** The fingerprint of a task with these params (deterministic: same spec and params, same result). */
function taskFingerprint(task, params) {
    const fields = {};
    if (task.command !== null)
        fields['command'] = hash(task.command.map((c) => renderParams(c, params)));
    if (task.args !== null)
        fields['args'] = hash(task.args.map((a) => renderParams(a, params)));
    if (task.workingDir !== null)
        fields['workingDir'] = hash(task.workingDir);
    if (task.envFrom.length > 0)
        fields['envFrom'] = hash(task.envFrom);
    const { requests, limits } = task.resources;
    if (Object.keys(requests).length > 0 || Object.keys(limits).length > 0)
        fields['resources'] = hash(task.resources);
    for (const e of task.env)
        fields[`env.${e.name}`] = hash(envSource(e, params));
    for (const [key, value] of Object.entries(task.pod)) {
        if (value !== undefined)
            fields[`pod.${key}`] = hash(value);
    }
    return { image: renderParams(task.image, params), fields };
}
const FIELD_WORDS = {
    command: 'command',
    args: 'args',
    workingDir: 'workingDir',
    envFrom: 'envFrom',
    resources: 'resources',
};
function fieldWords(key) {
    if (key.startsWith('env.'))
        return `env ${key.slice(4)}`;
    if (key.startsWith('pod.'))
        return `pod field ${key.slice(4)}`;
    return FIELD_WORDS[key] ?? key;
}
/**
 * What changed from `before` to `after`, in words ("image changed from a:1 to a:2; args
 * changed; env TOKEN added"), or `null` when nothing did. Values other than the image are never
 * shown: they may hold secrets.
 */
function fingerprintChange(before, after) {
    const changes = [];
    if (before.image !== after.image)
        changes.push(`image changed from ${before.image} to ${after.image}`);
    const keys = [...new Set([...Object.keys(before.fields), ...Object.keys(after.fields)])];
    // A stable, readable order: the container's own fields, then env, then pod fields.
    const rank = (k) => (k.startsWith('env.') ? 1 : k.startsWith('pod.') ? 2 : 0);
    keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
        const was = before.fields[key];
        const now = after.fields[key];
        if (was === now)
            continue;
        const what = fieldWords(key);
        if (was === undefined)
            changes.push(`${what} added`);
        else if (now === undefined)
            changes.push(`${what} removed`);
        else
            changes.push(`${what} changed`);
    }
    return changes.length === 0 ? null : changes.join('; ');
}
// ---- the plan ----------------------------------------------------------------------------
function describeEnd(entry) {
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
            if (last === undefined || last.class === 'failed')
                return `it failed in run attempt ${entry.runAttempt}${detail}`;
            if (last.class === 'cancelled')
                return `it was cancelled in run attempt ${entry.runAttempt}`;
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
function planRerun(spec, params, stored, mode, options = {}) {
    const byId = new Map(spec.tasks.map((t) => [t.id, t]));
    const reasons = new Map(); // null: reused
    const visiting = new Set();
    const decideTask = (task) => {
        if (reasons.has(task.id))
            return reasons.get(task.id);
        if (visiting.has(task.id))
            throw new Error(`planRerun: the needs of task "${task.id}" form a cycle; validate the spec first`);
        visiting.add(task.id);
        // Upstream first, so every task's needs are decided before it (any order of the spec works).
        const upstream = [];
        for (const need of task.needs) {
            const up = byId.get(need);
            if (up === undefined)
                throw new Error(`planRerun: task "${task.id}" needs "${need}", which is not in DAG "${spec.name}"`);
            if (decideTask(up) !== null)
                upstream.push(need);
        }
        const reason = ownReason(task, upstream);
        visiting.delete(task.id);
        reasons.set(task.id, reason);
        return reason;
    };
    /** Instance ids of a matrix task reused by this plan (only those whose earlier success holds). */
    const reusedInstances = new Map();
    /**
     * A matrix task: each instance is judged as a task is (rules 1-5), by its instance id; the task
     * is reused only if every instance of its matrix is. A dynamic matrix is computed again from
     * the recorded outputs of its upstream (reused, or the matrix task would run anyway).
     */
    const matrixReason = (task, upstream) => {
        const strategy = task.strategy;
        if (upstream.length > 0) {
            const names = upstream.map((u) => `"${u}"`).join(', ');
            return `it needs ${names}, which ${upstream.length === 1 ? 'runs' : 'run'} again`;
        }
        let instances;
        if (strategy.matrix.kind === 'static') {
            instances = strategy.matrix.instances;
        }
        else {
            const tasks = {};
            for (const need of upstreamIds(task)) {
                const e = stored !== null && Object.hasOwn(stored.tasks, need) ? stored.tasks[need] : undefined;
                if (e !== undefined && e.result === 'succeeded')
                    tasks[need] = { result: 'success', outputs: e.outputs };
            }
            try {
                const expansion = (0,_spec_matrix_js__WEBPACK_IMPORTED_MODULE_1__/* .expandMatrix */ .Eh)(task.id, (0,_spec_template_js__WEBPACK_IMPORTED_MODULE_2__/* .evaluateTemplateValue */ .LV)(strategy.matrix.template, { params, outputs: {}, tasks }, 'matrix'));
                if (!expansion.ok)
                    return 'its matrix could not be computed again from the recorded outputs of its upstream';
                instances = expansion.instances;
            }
            catch {
                return 'its matrix could not be computed again from the recorded outputs of its upstream';
            }
        }
        const reused = [];
        const again = [];
        for (const inst of instances) {
            const why = entryReason(task, inst.id);
            if (why === null)
                reused.push({ id: inst.id, entry: stored.tasks[inst.id] });
            else
                again.push(`"${inst.id}": ${why}`);
        }
        reusedInstances.set(task.id, reused);
        if (again.length === 0)
            return null;
        const shown = again.slice(0, 3).join('; ') + (again.length > 3 ? `; and ${again.length - 3} more` : '');
        return `${again.length} of ${instances.length} matrix instances run again (${shown})${reused.length > 0 ? `; the ${reused.length} that succeeded are reused` : ''}`;
    };
    /** The tasks `task` reads: its direct needs (a dynamic matrix may only read tasks upstream). */
    const upstreamIds = (task) => {
        const seen = new Set();
        const queue = [...task.needs];
        while (queue.length > 0) {
            const id = queue.pop();
            if (seen.has(id))
                continue;
            seen.add(id);
            queue.push(...(byId.get(id)?.needs ?? []));
        }
        return [...seen];
    };
    const ownReason = (task, upstream) => {
        if (task.strategy)
            return matrixReason(task, upstream);
        const reason = entryReason(task, task.id);
        if (reason !== null)
            return reason;
        if (upstream.length > 0) {
            const names = upstream.map((u) => `"${u}"`).join(', ');
            return `it needs ${names}, which ${upstream.length === 1 ? 'runs' : 'run'} again`;
        }
        return null;
    };
    /** Rules 1-5 for the stored entry `key` (a task id or a matrix instance id) of `task`. */
    const entryReason = (task, key) => {
        if (stored === null)
            return 'no earlier run attempt recorded it';
        const entry = Object.hasOwn(stored.tasks, key) ? stored.tasks[key] : undefined;
        if (entry === undefined) {
            // Only attempts' ends are recorded: a task skipped (an upstream failed, or its `if:` was
            // false) or never reached (the run was cancelled) has no entry, though the run attempt ran.
            const ran = [...stored.runAttempts.map((a) => a.runAttempt), ...Object.values(stored.tasks).map((t) => t.runAttempt)].filter((n) => options.runAttempt === undefined || n < options.runAttempt);
            return ran.length === 0 ? 'no earlier run attempt recorded it' : `it did not run in run attempt ${Math.max(...ran)} (skipped there, or not reached)`;
        }
        if (options.runAttempt !== undefined && entry.runAttempt >= options.runAttempt) {
            // Replayed, successes too, not reused: the scheduler must see this attempt's whole history
            // again to decide as it did (a success whose upstream failed does not let its dependants
            // run; reused, it would).
            return `it already ran in this run attempt (${entry.runAttempt}) before the action restarted; its recorded attempts are replayed, not run again`;
        }
        if (entry.result !== 'succeeded')
            return describeEnd(entry);
        if (mode === 'all')
            return `rerun is 'all' (it succeeded in run attempt ${entry.runAttempt})`;
        if (entry.outputsDropped) {
            return `its outputs from run attempt ${entry.runAttempt} were not kept (the run's state had to stay under the ConfigMap size limit)`;
        }
        const change = fingerprintChange(entry.fingerprint, taskFingerprint(task, params));
        if (change !== null)
            return `${change} since run attempt ${entry.runAttempt}`;
        return null;
    };
    const plan = { previous: {}, rerun: [] };
    for (const task of spec.tasks) {
        const reason = decideTask(task);
        // A matrix task's successful instances are reused even when others run again.
        for (const { id, entry } of reusedInstances.get(task.id) ?? [])
            plan.previous[id] = { outputs: { ...entry.outputs }, runAttempt: entry.runAttempt };
        if (task.strategy) {
            if (reason !== null)
                plan.rerun.push({ task: task.id, reason });
        }
        else if (reason === null) {
            const entry = stored.tasks[task.id];
            plan.previous[task.id] = { outputs: { ...entry.outputs }, runAttempt: entry.runAttempt };
        }
        else {
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
function recordedAttempt(stored, runAttempt, task, attempt) {
    if (stored === null || !Object.hasOwn(stored.tasks, task))
        return null;
    const entry = stored.tasks[task];
    if (entry.runAttempt !== runAttempt)
        return null;
    const found = entry.attempts.find((a) => a.attempt === attempt);
    if (found === undefined)
        return null;
    const outputs = found.attempt === entry.attempt && found.class === 'succeeded' ? { ...entry.outputs } : {};
    return { ...found, outputs };
}
/** The public keys of every process of the run the state records (to verify the run's pods with). */
function runKeys(state) {
    return state === null ? [] : state.runAttempts.flatMap((r) => r.keys ?? []);
}
/** An empty state for a run. */
function emptyRunState(dag, runId, now) {
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
function markRunAttempt(state, runAttempt, now, result, claim, key) {
    const runAttempts = state.runAttempts.filter((r) => r.runAttempt !== runAttempt);
    const before = state.runAttempts.find((r) => r.runAttempt === runAttempt);
    if (claim !== undefined && before?.claim !== undefined) {
        const differences = claimDifferences(claim, before.claim);
        if (differences.length > 0) {
            throw new AmbiguousRunError(runAttempt, differences);
        }
    }
    const keys = [...(before?.keys ?? [])];
    if (key !== undefined && !keys.includes(key))
        keys.push(key);
    const newKey = keys.length !== (before?.keys?.length ?? 0);
    if (result === undefined && !newKey && before !== undefined && before.finishedAt === null && (claim === undefined || before.claim !== undefined))
        return state;
    const entry = {
        runAttempt,
        startedAt: before?.startedAt ?? now,
        finishedAt: result === undefined ? null : now,
        result: result ?? null,
    };
    const kept = claim ?? before?.claim;
    if (kept !== undefined)
        entry.claim = kept;
    if (keys.length > 0)
        entry.keys = keys;
    runAttempts.push(entry);
    runAttempts.sort((a, b) => a.runAttempt - b.runAttempt);
    return { ...state, updatedAt: Math.max(state.updatedAt, now), runAttempts };
}
/**
 * The state after `update` (a new object; `state` is not changed). Idempotent: applying the same
 * update twice (a write retried after a conflict) gives the same state. An update from an older
 * run attempt than the one recorded is ignored, so a late writer cannot roll the state back.
 */
function applyTaskUpdate(state, update, now) {
    const before = Object.hasOwn(state.tasks, update.task) ? state.tasks[update.task] : undefined;
    const entry = applyTaskEntry(before, update);
    if (entry === null)
        return state;
    return { ...state, updatedAt: Math.max(state.updatedAt, now), tasks: { ...state.tasks, [update.task]: entry } };
}
/**
 * The entry of one task after `update`, from its entry `before` (if any); `null` when the update
 * is from an older run attempt than the one recorded (ignored, so a late writer cannot roll the
 * state back). Idempotent, like `applyTaskUpdate`, which is this applied to a whole state; the
 * run store applies it to one task at a time (O(1) per update, whatever the number of tasks).
 */
function applyTaskEntry(before, update) {
    if (before !== undefined && before.runAttempt > update.runAttempt)
        return null;
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
    const last = attempts.at(-1);
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
function serializeRunState(state) {
    return JSON.stringify(state);
}
/** Why a stored state could not be read. */
class RunStateFormatError extends _common_errors_js__WEBPACK_IMPORTED_MODULE_3__/* .UserError */ .y {
    name = 'RunStateFormatError';
}
const finite = zod__WEBPACK_IMPORTED_MODULE_5__/* .number */ .aig().refine(Number.isFinite, 'not a finite number');
const text = zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP().nullable();
const TASK_RESULTS = ['succeeded', 'failed', 'skipped', 'cancelled', 'not-run'];
const CLASSES = ['succeeded', 'failed', 'infrastructure', 'configuration', 'timeout', 'cancelled'];
const RUN_RESULTS = ['success', 'failure', 'cancelled'];
/** A TaskFingerprint as stored (in the run's state, in a pod's annotation). */
const fingerprintSchema = zod__WEBPACK_IMPORTED_MODULE_5__/* .object */ .Ikc({ image: zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(), fields: zod__WEBPACK_IMPORTED_MODULE_5__/* .record */ .g1P(zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(), zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP()) });
/** One task's entry in the stored state (the spec's way, zod); the run store's shards hold these too. */
const storedTaskSchema = zod__WEBPACK_IMPORTED_MODULE_5__/* .object */ .Ikc({
    result: zod__WEBPACK_IMPORTED_MODULE_5__/* ["enum"] */ .k5n(TASK_RESULTS).nullable(),
    attempt: finite,
    runAttempt: finite,
    outputs: zod__WEBPACK_IMPORTED_MODULE_5__/* .record */ .g1P(zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(), zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP()),
    outputsDropped: zod__WEBPACK_IMPORTED_MODULE_5__/* .literal */ .euz(true).optional(),
    finishedAt: finite,
    fingerprint: fingerprintSchema,
    pod: text,
    attempts: zod__WEBPACK_IMPORTED_MODULE_5__/* .array */ .YOg(zod__WEBPACK_IMPORTED_MODULE_5__/* .object */ .Ikc({
        attempt: finite,
        pod: text,
        startedAt: finite,
        finishedAt: finite,
        class: zod__WEBPACK_IMPORTED_MODULE_5__/* ["enum"] */ .k5n(CLASSES),
        reason: text,
        message: text,
        exitCode: finite.nullable(),
        node: text,
    })),
});
/** One run attempt as the stored state records it. */
const storedRunAttemptSchema = zod__WEBPACK_IMPORTED_MODULE_5__/* .object */ .Ikc({
    runAttempt: finite,
    startedAt: finite,
    finishedAt: finite.nullable(),
    result: zod__WEBPACK_IMPORTED_MODULE_5__/* ["enum"] */ .k5n(RUN_RESULTS).nullable(),
    claim: zod__WEBPACK_IMPORTED_MODULE_5__/* .record */ .g1P(zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(), zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP().nullable()).optional(),
    keys: zod__WEBPACK_IMPORTED_MODULE_5__/* .array */ .YOg(zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP()).optional(),
});
/** The stored state's schema: what `parseRunState` accepts, field by field (the spec's way, zod). */
const storedRunStateSchema = zod__WEBPACK_IMPORTED_MODULE_5__/* .object */ .Ikc({
    version: zod__WEBPACK_IMPORTED_MODULE_5__/* .literal */ .euz(STATE_VERSION),
    dag: zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(),
    runId: zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(),
    updatedAt: finite,
    tasks: zod__WEBPACK_IMPORTED_MODULE_5__/* .record */ .g1P(zod__WEBPACK_IMPORTED_MODULE_5__/* .string */ .YjP(), storedTaskSchema),
    runAttempts: zod__WEBPACK_IMPORTED_MODULE_5__/* .array */ .YOg(storedRunAttemptSchema),
});
/**
 * Parses the JSON text of a stored state. `where` names its origin for messages
 * ("ConfigMap data-jobs/pod-dag-nightly-123"). Throws RunStateFormatError saying what is wrong.
 */
function parseRunState(text, where) {
    let raw;
    try {
        raw = JSON.parse(text);
    }
    catch (err) {
        throw new RunStateFormatError(`${where}: state.json is not valid JSON (${err.message}); delete the ConfigMap to start the run's state afresh`);
    }
    const bad = (what) => {
        throw new RunStateFormatError(`${where}: state.json ${what}; delete the ConfigMap to start the run's state afresh`);
    };
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        return bad('is not a JSON object');
    const version = raw['version'];
    if (version !== STATE_VERSION) {
        return bad(`has version ${JSON.stringify(version)}, but this version of pod-dag-action reads version ${STATE_VERSION} (was it written by a newer release?)`);
    }
    const parsed = storedRunStateSchema.safeParse(raw);
    if (parsed.success)
        return parsed.data;
    const issue = parsed.error.issues[0];
    const [top, id, ...rest] = issue.path.map(String);
    const field = (parts) => parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
    if (top === 'tasks' && id !== undefined)
        return bad(`has a bad entry for task "${id}": ${rest.length > 0 ? `${field(rest)}: ` : ''}${issue.message}`);
    return bad(`has a bad ${field(issue.path.map(String)) || 'shape'}: ${issue.message}`);
}
/**
 * Makes the serialized state fit in `limitBytes` (UTF-8) by dropping the outputs of the tasks
 * with the largest outputs first, marking each (`outputsDropped`) so a later run attempt runs it
 * again rather than reusing it without its outputs. Returns the text and the tasks whose outputs
 * were dropped, or throws when even without any outputs the state is too large.
 */
function fitRunState(state, limitBytes) {
    let text = serializeRunState(state);
    if (Buffer.byteLength(text, 'utf8') <= limitBytes)
        return { text, state, dropped: [] };
    const size = (o) => Buffer.byteLength(JSON.stringify(o), 'utf8');
    const candidates = Object.entries(state.tasks)
        .filter(([, t]) => Object.keys(t.outputs).length > 0)
        .sort(([a, x], [b, y]) => size(y.outputs) - size(x.outputs) || (a < b ? -1 : 1));
    const tasks = { ...state.tasks };
    const dropped = [];
    for (const [id, t] of candidates) {
        tasks[id] = { ...t, outputs: {}, outputsDropped: true };
        dropped.push(id);
        const next = { ...state, tasks: { ...tasks } };
        text = serializeRunState(next);
        if (Buffer.byteLength(text, 'utf8') <= limitBytes)
            return { text, state: next, dropped };
    }
    throw new RunStateFormatError(`the run's state of DAG "${state.dag}" (${Object.keys(state.tasks).length} tasks) is ${Buffer.byteLength(text, 'utf8')} bytes even without task outputs, ` +
        `more than the ${limitBytes} bytes a ConfigMap can hold; split the DAG into smaller DAGs`);
}


/***/ }),

/***/ 5291:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  WP: () => (/* binding */ runDag),
  "if": () => (/* reexport */ unrecordedWarning)
});

// UNUSED EXPORTS: dryRunDag

// EXTERNAL MODULE: ./lib/common/clock.js
var common_clock = __webpack_require__(9419);
// EXTERNAL MODULE: ./lib/common/run.js
var common_run = __webpack_require__(3712);
// EXTERNAL MODULE: ./lib/dag/run-dates.js + 1 modules
var run_dates = __webpack_require__(9672);
// EXTERNAL MODULE: ./lib/kube/classify.js
var classify = __webpack_require__(2239);
// EXTERNAL MODULE: ./lib/kube/dry-run-checks.js
var dry_run_checks = __webpack_require__(6740);
// EXTERNAL MODULE: ./lib/kube/errors.js
var errors = __webpack_require__(2474);
// EXTERNAL MODULE: ./lib/kube/pod.js
var kube_pod = __webpack_require__(1794);
;// CONCATENATED MODULE: ./lib/engine/dry-run.js
/**
 * `dry-run`: every task's pod submitted with `dryRun=All`, so the cluster's RBAC, admission, quota
 * and schema checks speak before anything runs.
 */







/**
 * `dry-run`: renders every task's pod (attempt 1; upstream outputs as `<tasks.x.outputs.y>`
 * placeholders) and submits it with `dryRun=All`, so the cluster's RBAC, admission, quota and
 * schema checks speak; with `options.cluster`, also checks what that cannot know (Secrets and
 * ConfigMaps exist, a node fits; src/kube/dry-run-checks.ts). Nothing runs. A task is `succeeded`
 * in the returned state when the cluster would accept its pod and the checks found nothing,
 * `failed` (the cluster's message, or what the checks found) when not.
 */
async function dryRunDag(options) {
    const o = options;
    const clock = o.clock ?? common_clock/* systemClock */.ml;
    const started = clock.now();
    const runId = (0,common_run/* effectiveRunId */.gw)(o.context, o.runId, started);
    await o.reporter.runStarted?.({ mode: 'dry-run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
    const run = o.run ?? (0,run_dates/* runContext */.pO)((0,run_dates/* runDates */.$q)({ start: started, schedule: null, logicalDate: null }));
    const rendered = o.spec.tasks.map((task) => {
        // A matrix written out is checked with its first combination; a sensor with its first poke.
        const first = task.strategy?.matrix.kind === 'static' ? task.strategy.matrix.instances[0] : null;
        const poke = task.sensor ? 1 : undefined;
        const name = (0,kube_pod/* podName */.Bh)({ dag: o.spec.name, runId, scope: (0,common_run/* runScope */.AO)(o.context), runAttempt: o.context.runAttempt, task: first?.id ?? task.id, attempt: 1, poke });
        const render = (0,kube_pod/* placeholderRender */.Qi)(o.params, undefined, { run, matrix: first?.values ?? null });
        try {
            const instance = first === null ? null : { id: first.id, group: task.id };
            return { task: task.id, name, pod: (0,kube_pod/* renderPod */.Ci)(task, 1, { spec: o.spec, namespace: o.namespace, runId, context: o.context, render, poke, instance }) };
        }
        catch (err) {
            return { task: task.id, name, error: err };
        }
    });
    // What the server's dry run cannot know (a missing Secret, no node that fits), where allowed.
    const pods = rendered.flatMap((r) => (r.pod === undefined ? [] : [{ task: r.task, pod: r.pod }]));
    const checks = o.cluster === undefined ? null : await (0,dry_run_checks/* checkPods */.X_)(pods, o.namespace, o.cluster);
    if (checks !== null)
        await o.reporter.dryRunChecks?.({ done: checks.done, skipped: checks.skipped });
    const verdicts = await Promise.all(rendered.map(async (r) => {
        const problems = checks?.problems.get(r.task) ?? [];
        let verdict;
        try {
            if (r.pod === undefined)
                throw r.error;
            const answer = (await o.pods.create(o.namespace, r.pod, { dryRun: true }));
            // Admitted, but changed so that the run would refuse it (a webhook set its restart policy).
            const changed = answer?.spec === undefined ? null : (0,classify/* restartPolicyChange */.CF)(answer);
            verdict = { task: r.task, pod: r.name, accepted: true, message: null, problems: changed === null ? problems : [...problems, changed] };
        }
        catch (err) {
            const e = (0,errors/* classifyError */.fe)(err);
            const message = e.kind === 'unknown' && !e.status ? err.message : (0,errors/* describeError */.Uc)(err, `create pod ${r.name} in namespace ${o.namespace}`, o.pods.server);
            verdict = { task: r.task, pod: r.name, accepted: false, message, problems };
        }
        await o.reporter.dryRunVerdict?.(verdict);
        return verdict;
    }));
    const finishedAt = clock.now();
    const state = {
        dag: o.spec.name,
        startedAt: started,
        finishedAt,
        result: verdicts.every((v) => v.accepted && (v.problems ?? []).length === 0) ? 'success' : 'failure',
        cancelled: null,
        tasks: verdicts.map((v) => ({
            id: v.task,
            result: v.accepted && (v.problems ?? []).length === 0 ? 'succeeded' : 'failed',
            attempts: [],
            outputs: {},
            reason: !v.accepted ? v.message : (v.problems ?? []).length > 0 ? `the cluster would accept its pod, but it would not run: ${v.problems.join('; ')}` : 'the cluster would accept its pod (dry run)',
            reusedFrom: null,
            retryAt: null,
        })),
    };
    await o.reporter.runFinished?.(state, {});
    return { verdicts, state };
}

// EXTERNAL MODULE: external "node:perf_hooks"
var external_node_perf_hooks_ = __webpack_require__(643);
// EXTERNAL MODULE: external "node:v8"
var external_node_v8_ = __webpack_require__(8877);
// EXTERNAL MODULE: external "node:vm"
var external_node_vm_ = __webpack_require__(714);
;// CONCATENATED MODULE: ./lib/common/heap.js
/**
 * How V8 sizes the heap of a run. A run allocates a few hundred kilobytes per task that live for
 * milliseconds (HTTP requests and responses, watch events, log chunks), and V8 sizes its young
 * generation by the machine's memory: on a runner with 16 GB it grows to 128 MB of semi-spaces,
 * and the old generation is let grow to about three times what it holds before it is collected.
 * That is most of the peak RSS of a wide DAG (BENCHMARKS.md, row 2), memory a runner shares with
 * the job's other steps. The action cannot pass V8 flags at start-up (`runs.using: node24` runs
 * dist/index.js as it is), but these two are read by V8 each time it resizes, so setting them
 * once the process runs takes effect: the young generation stays at its size (scavenges are
 * then frequent and cheap), and the old one is collected when it grew by a quarter.
 *
 * The young generation has already grown by then: loading the run path (client-node and the
 * action, megabytes of source and code) takes it from 1 MB to tens of MB of semi-spaces before
 * the run starts, and a run of many tasks fills it all between scavenges, so it stays in RSS
 * (measured: a 2,000-task run peaks ~60 MB lower with `--max-semi-space-size=4`, at the same
 * speed). So the run starts with one collection that gives memory back (V8's `LowMemoryNotification`,
 * the "last-resort" flavour of `gc()`): it shrinks the young generation to its first size and
 * compacts the old one. The semi-spaces then double only while they are below a few MB.
 */



const OLD_GENERATION_FLAG = '--heap-growing-percent=25';
const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';
/** The V8 flags `boundHeapGrowth` sets: the second once the young generation reached YOUNG_BYTES. */
const HEAP_FLAGS = (/* unused pure expression or super */ null && (`${OLD_GENERATION_FLAG} ${YOUNG_GENERATION_FLAG}`));
/**
 * The young generation's size (`new_space`, as `v8.getHeapSpaceStatistics` reports it) at which
 * its growth stops: 4 MB semi-spaces, as `--max-semi-space-size=4`, which the wide DAG runs as
 * fast with as with 16 MB (fewer scavenges save less than the larger space costs in cache misses).
 */
const YOUNG_BYTES = 4 * 2 ** 20;
let bounded = false;
/** The young generation's size now, in bytes. */
function youngBytes() {
    return external_node_v8_.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}
/**
 * A collection that gives memory back to the system (shrinks the young generation to its first
 * size). V8 offers it to JS only through `gc()`, which `--expose-gc` installs in contexts created
 * after it is set: one such context is made to fetch it, and the flag is unset again.
 */
function collectGivingMemoryBack() {
    external_node_v8_.setFlagsFromString('--expose-gc');
    let gc;
    try {
        gc = external_node_vm_.runInNewContext('gc');
    }
    finally {
        external_node_v8_.setFlagsFromString('--no-expose-gc');
    }
    if (typeof gc === 'function')
        gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
/** Stops the young generation's growth once it reached `bytes`. */
function stopGrowthAt(bytes) {
    if (youngBytes() >= bytes) {
        external_node_v8_.setFlagsFromString(YOUNG_GENERATION_FLAG);
        return;
    }
    // Scavenges grow it: look after each, and stop looking once it is big enough.
    const observer = new external_node_perf_hooks_.PerformanceObserver(() => {
        if (youngBytes() < bytes)
            return;
        external_node_v8_.setFlagsFromString(YOUNG_GENERATION_FLAG);
        observer.disconnect();
    });
    observer.observe({ entryTypes: ['gc'] });
}
/**
 * Once per process (a run calls it before its first request): gives back the young generation
 * that loading the modules grew, and bounds the heap's growth from then on (see above).
 */
function boundHeapGrowth() {
    if (bounded)
        return;
    bounded = true;
    external_node_v8_.setFlagsFromString(OLD_GENERATION_FLAG);
    collectGivingMemoryBack();
    stopGrowthAt(YOUNG_BYTES);
}

// EXTERNAL MODULE: ./lib/dag/rerun.js
var rerun = __webpack_require__(750);
// EXTERNAL MODULE: ./lib/common/duration.js
var duration = __webpack_require__(2081);
// EXTERNAL MODULE: ./lib/spec/matrix.js
var matrix = __webpack_require__(966);
// EXTERNAL MODULE: ./lib/spec/template.js
var template = __webpack_require__(5841);
// EXTERNAL MODULE: ./lib/spec/expression.js + 16 modules
var expression = __webpack_require__(6193);
;// CONCATENATED MODULE: ./lib/dag/condition.js
/**
 * Evaluation of a task's `if:` condition, with GitHub's rules for jobs.
 *
 * The expression language is GitHub's own (`@actions/expressions`, wrapped in
 * src/spec/expression.ts): its functions, its coercion and its truthiness. What this module adds
 * is GitHub's rule for job conditions: a condition that calls no status function is implicitly
 * `success() && (condition)`, so `if: params.env == 'prod'` still does not run after a failed
 * need. It reads nothing but the context it is given and never uses `eval` or `Function`.
 */


/** Evaluates the `if:` expression `source` to a value of the language (not yet taken as a boolean). */
function evaluate(source, ctx) {
    const expr = (0,expression/* compileExpression */.Wo)(source, 'condition');
    const tasks = {};
    for (const { ref } of expr.refs) {
        if (ref.kind !== 'output' && ref.kind !== 'outputs' && ref.kind !== 'result')
            continue;
        if (Object.hasOwn(tasks, ref.task))
            continue;
        const value = ctx.task(ref.task);
        if (value !== undefined)
            tasks[ref.task] = value;
    }
    return (0,expression/* evaluateExpression */.O4)(expr, {
        params: ctx.params,
        tasks,
        run: ctx.run ?? null,
        status: { success: ctx.success, failure: ctx.failure, cancelled: ctx.cancelled },
    });
}
/** Whether the condition calls any status function (`success`, `failure`, `always`, `cancelled`). */
function conditionCallsStatus(source) {
    return (0,expression/* callsStatusFunction */.AT)((0,expression/* compileExpression */.Wo)(source, 'condition'));
}
/** Whether the condition calls `always()` or `cancelled()`: such tasks may start after a DAG timeout. */
function runsWhenCancelled(source) {
    return (0,expression/* runsWhenCancelled */.Mc)((0,expression/* compileExpression */.Wo)(source, 'condition'));
}
/**
 * Decides whether a task runs: `null` means the default `success()`; a condition without status
 * functions gets GitHub's implicit `success() && (…)`.
 */
function decide(condition, ctx) {
    if (condition === null || !conditionCallsStatus(condition.source)) {
        if (!ctx.success)
            return { run: false, becauseOfSuccess: true };
        if (condition === null)
            return { run: true, becauseOfSuccess: false };
    }
    return { run: (0,expression/* truthy */.vN)(evaluate(condition.source, ctx)), becauseOfSuccess: false };
}

// EXTERNAL MODULE: ./lib/spec/graph.js
var spec_graph = __webpack_require__(4943);
;// CONCATENATED MODULE: ./lib/dag/heap.js
/**
 * A binary min-heap: O(log n) push and pop, O(1) peek. The scheduler keeps its ready tasks
 * (by spec index) and its pending retries (by due time) in these, so picking what runs next
 * never scans the tasks.
 */
class MinHeap {
    #items = [];
    #less;
    #count;
    /** `less(a, b)`: whether `a` comes out before `b`. `count` is called once per step of work (for tests). */
    constructor(less, count = () => { }) {
        this.#less = less;
        this.#count = count;
    }
    /** How many items the heap holds. */
    get size() {
        return this.#items.length;
    }
    /** The smallest item, without removing it. */
    peek() {
        return this.#items[0];
    }
    /** Adds an item. */
    push(item) {
        const items = this.#items;
        items.push(item);
        let i = items.length - 1;
        while (i > 0) {
            this.#count();
            const parent = (i - 1) >> 1;
            if (!this.#less(items[i], items[parent]))
                break;
            [items[i], items[parent]] = [items[parent], items[i]];
            i = parent;
        }
    }
    /** Removes and returns the smallest item. */
    pop() {
        const items = this.#items;
        const top = items[0];
        const last = items.pop();
        if (items.length === 0 || last === undefined)
            return top;
        items[0] = last;
        let i = 0;
        for (;;) {
            this.#count();
            const l = 2 * i + 1;
            const r = l + 1;
            let m = i;
            if (l < items.length && this.#less(items[l], items[m]))
                m = l;
            if (r < items.length && this.#less(items[r], items[m]))
                m = r;
            if (m === i)
                break;
            [items[i], items[m]] = [items[m], items[i]];
            i = m;
        }
        return top;
    }
}

;// CONCATENATED MODULE: ./lib/dag/scheduler.js
/**
 * The scheduler: given the validated spec and a stream of events, decides what runs next.
 *
 * Pure and deterministic: time comes in on every event (the clock is the largest time seen, so
 * it never goes backwards); there is no I/O, timer or randomness. The same spec, options and
 * events always give the same decisions.
 *
 * Semantics are GitHub's for jobs:
 * - A task is *ready* when every one of its `needs` has a final result. Its `if:` (default
 *   `success()`) then decides whether it runs or is skipped.
 * - `success()`: every ancestor succeeded (and the run is not cancelled); `failure()`: some
 *   ancestor failed; `always()`: true; `cancelled()`: the run was cancelled.
 * - Ready tasks start in spec order, at most `maxParallel` attempts at once (0: no limit).
 *   A task waiting for a retry holds no slot.
 * - Retries follow the task's RetryPolicy per failure class (see `#afterFailure`).
 * - Cancel with reason `signal`: nothing new starts; every task that is not running is
 *   `not-run`. Cancel with reason `timeout` (the DAG timeout, raised by the scheduler itself):
 *   tasks whose `if:` calls `always()` or `cancelled()` may still start when ready; the others
 *   are `not-run`. Running attempts are listed in a `cancel` decision and end when the driver
 *   reports them `finished`.
 * - The run's result is `cancelled` if the run was cancelled, else `failure` if a task failed
 *   (or was cancelled on its own), else `success`.
 *
 * - A task with `strategy.matrix` runs as one instance per combination, each with its own
 *   attempts and retries (events and decisions name the instance id). Its `if:` is judged once,
 *   before it is expanded (as on GitHub); a dynamic matrix is computed then, from its upstream's
 *   outputs. Its result, once every instance is final, is GitHub's for a matrix job: `failed` if
 *   an instance failed, else `cancelled` / `not-run` if one was, else `succeeded`. `max-parallel`
 *   bounds its running instances; `fail-fast` cancels its other instances when one fails.
 * - A sensor's attempt is a series of pokes (a pod each): an exit code in `notYetExitCodes`
 *   schedules the next poke `interval` later (holding no slot meanwhile) until `timeout`, counted
 *   from the task's first poke, has passed; then it fails with class `timeout` or is skipped.
 *   Pokes are not retries; any other failure is retried as usual.
 *
 * Order within one batch of decisions: what the event itself leads to (retry, give-up, cancel),
 * then skips as tasks become ready, then starts in spec order, then `done`.
 *
 * Cost: each task is made ready, evaluated and finished once, touching only its own needs and
 * dependants; the ready tasks and the pending retries sit in heaps. So one event costs
 * O(needs + dependants of the tasks it touches + log n), never O(finished tasks). The one
 * exception is a cancel, which visits every unfinished task once (at most twice per run).
 */






/** Decides which tasks of one run start, retry, are skipped, and when the run is done. */
class Scheduler {
    #spec;
    #options;
    #nodes;
    #byId = new Map();
    /** Ready tasks by spec index. Entries whose task is no longer `queued` are stale and skipped. */
    #ready;
    /** Pending retries and sensor pokes by due time, then rank. Stale entries are skipped the same way. */
    #retries;
    /** Tasks with an attempt running (started and not finished), in the order they started. */
    #running = new Set();
    /** Tasks without a final result, in spec order (a Set keeps insertion order). */
    #unfinished = new Set();
    /** Tasks whose needs just all became final, to evaluate (FIFO, so topological). */
    #newlyReady = [];
    #clock;
    #deadline;
    #cancelled = null;
    #begun = false;
    #done = false;
    #result = null;
    #finishedAt = null;
    #failedTasks = 0;
    #cancelledTasks = 0;
    #out = [];
    #stats = { events: 0, decisions: 0, work: 0 };
    /** Builds the scheduler of one run; `spec` must be validated (acyclic, needs known). */
    constructor(spec, options) {
        this.#spec = spec;
        this.#options = options;
        this.#clock = options.now;
        this.#deadline = spec.timeoutMs === null ? null : options.now + spec.timeoutMs;
        const count = () => void this.#stats.work++;
        this.#ready = new MinHeap((a, b) => this.#nodes[a].rank < this.#nodes[b].rank, count);
        this.#retries = new MinHeap((a, b) => a.at < b.at || (a.at === b.at && a.rank < b.rank), count);
        const graph = (0,spec_graph/* buildGraph */.ZG)(spec.tasks);
        this.#nodes = spec.tasks.map((task, index) => ({
            id: task.id,
            spec: task,
            index,
            rank: index * RANK_STRIDE,
            group: null,
            values: null,
            instances: null,
            pendingInstances: 0,
            runningInstances: 0,
            held: [],
            failFastFired: false,
            nextPoke: null,
            pokeDeadline: null,
            pokes: 0,
            needs: graph.needs[index],
            dependants: graph.dependants[index],
            pendingNeeds: graph.needs[index].length,
            status: 'waiting',
            result: null,
            reason: null,
            attempts: [],
            outputs: {},
            reusedFrom: null,
            retryAt: null,
            limitUsed: 0,
            infraUsed: 0,
            allSucceeded: true,
            someFailed: false,
            blame: null,
            culprit: null,
            startedSeen: false,
            cancelAsked: false,
            snap: null,
        }));
        for (const node of this.#nodes) {
            this.#byId.set(node.spec.id, node);
            this.#unfinished.add(node.index);
        }
        for (const id of Object.keys(options.previous ?? {})) {
            const group = id.includes('.') ? this.#byId.get(id.slice(0, id.indexOf('.'))) : undefined;
            if (!this.#byId.has(id) && !(group !== undefined && group.spec.strategy)) {
                throw new Error(`scheduler: options.previous names task "${id}", which is not in DAG "${spec.name}"; ` +
                    'previous successes must come from a run attempt of the same spec');
            }
        }
    }
    /** The first decisions, at `options.now`: reused tasks succeed, tasks without needs start. */
    start() {
        if (this.#begun)
            throw new Error('scheduler: start() was called twice; call it once, then handle() events');
        this.#begun = true;
        this.#stats.events++;
        this.#out = [];
        const previous = this.#options.previous ?? {};
        for (const node of this.#nodes) {
            const reused = previous[node.id];
            if (reused === undefined || node.spec.strategy)
                continue; // a matrix task reuses instances
            // A reused success stands for itself and its ancestors: they were judged in the earlier
            // run attempt, so its flags say "all succeeded" whatever its needs do in this one.
            node.outputs = { ...reused.outputs };
            node.reusedFrom = { runAttempt: reused.runAttempt };
            this.#finish(node, 'succeeded', null);
        }
        for (const node of this.#nodes) {
            if (node.status === 'waiting' && node.pendingNeeds === 0)
                this.#newlyReady.push(node.index);
        }
        return this.#settle();
    }
    /** Feeds one event; returns the decisions it leads to, in the order to carry them out. */
    handle(event) {
        if (!this.#begun)
            throw new Error(`scheduler: got a "${event.type}" event before start(); call start() first`);
        if (typeof event.at !== 'number' || !Number.isFinite(event.at)) {
            throw new Error(`scheduler: event ${describeEvent(event)} has no valid time (at: ${String(event.at)})`);
        }
        this.#stats.events++;
        this.#out = [];
        this.#clock = Math.max(this.#clock, event.at);
        if (this.#done && (event.type === 'tick' || event.type === 'cancel'))
            return [];
        // The event first (an attempt that just ended is not then listed in a timeout's `cancel`),
        // then what the passing of time brings: the DAG timeout (before retries, so a retry due
        // after it never starts), then due retries. Tasks made ready are judged after both.
        switch (event.type) {
            case 'started':
                this.#started(event);
                break;
            case 'finished':
                this.#finished(event);
                break;
            case 'cancel':
                this.#cancel(event.reason);
                break;
            case 'tick':
                break;
            default:
                throw new Error(`scheduler: unknown event ${JSON.stringify(event)}`);
        }
        if (this.#deadline !== null && this.#cancelled === null && this.#clock >= this.#deadline) {
            this.#cancel('timeout');
        }
        this.#queueDueRetries();
        return this.#settle();
    }
    /** The earliest time at which a `tick` would change something (a due retry, the DAG timeout); `null`: none. */
    nextWakeAt() {
        if (this.#done)
            return null;
        this.#dropStaleRetries();
        const retry = this.#retries.peek()?.at ?? null;
        const deadline = this.#cancelled === null ? this.#deadline : null;
        if (retry === null)
            return deadline;
        if (deadline === null)
            return retry;
        return Math.min(retry, deadline);
    }
    /**
     * A snapshot of the run, in spec order; later events do not change it. Task snapshots are
     * deep-frozen and shared between calls until the task changes, so a call costs O(tasks)
     * references, and copies only what changed.
     */
    state() {
        return {
            dag: this.#spec.name,
            startedAt: this.#options.now,
            finishedAt: this.#finishedAt,
            result: this.#result,
            cancelled: this.#cancelled,
            // Spec tasks only: a matrix task's snapshot holds its instances.
            tasks: this.#nodes.slice(0, this.#spec.tasks.length).map(snapshot),
        };
    }
    /** A snapshot of one task or matrix instance (O(1), for a driver that reports as it goes); throws for an unknown id. */
    taskState(id) {
        const node = this.#byId.get(id);
        if (node === undefined)
            throw new Error(`scheduler: DAG "${this.#spec.name}" has no task "${id}" (nor a matrix instance of that id)`);
        return snapshot(node);
    }
    /**
     * What to run for a task or matrix instance id: its task's spec and, for an instance, its
     * combination (for `{{ matrix.<key> }}`) and matrix task id. Throws for an unknown id.
     */
    unit(id) {
        const node = this.#byId.get(id);
        if (node === undefined)
            throw new Error(`scheduler: DAG "${this.#spec.name}" has no task "${id}" (nor a matrix instance of that id)`);
        return { spec: node.spec, matrix: node.values, group: node.group?.id ?? null };
    }
    /**
     * `tasks.<id>` as an expression reads it: the result in GitHub's words and the outputs. For a
     * matrix task, each output is the list of its instances' values, in matrix order (`null` for an
     * instance that did not write it).
     */
    taskValue(id) {
        const node = this.#byId.get(id);
        if (node === undefined)
            return undefined;
        if (node.instances === null)
            return { result: githubResult(node.result), outputs: node.outputs };
        const names = new Set();
        for (const i of node.instances)
            for (const k of Object.keys(i.outputs))
                names.add(k);
        const outputs = {};
        for (const name of names)
            outputs[name] = node.instances.map((i) => (Object.hasOwn(i.outputs, name) ? i.outputs[name] : null));
        return { result: githubResult(node.result), outputs };
    }
    /** Whether the `done` decision was given: every task has a final result and nothing runs. */
    isDone() {
        return this.#done;
    }
    /** Work counters (for tests: the work per decision must not grow with the run). */
    stats() {
        return { ...this.#stats };
    }
    // ---- events ------------------------------------------------------------------------------
    #started(event) {
        const node = this.#node(event);
        const record = node.attempts.at(-1);
        if (node.status !== 'running' || record?.attempt !== event.attempt) {
            throw this.#driverBug(event, node, `attempt ${event.attempt} is not the running attempt`);
        }
        if (event.poke !== undefined && event.poke !== (record.pokes ?? 1)) {
            throw this.#driverBug(event, node, `poke ${event.poke} is not the running poke (${record.pokes ?? 'none'})`);
        }
        if (node.startedSeen)
            throw this.#driverBug(event, node, `attempt ${event.attempt} was already reported started`);
        node.startedSeen = true;
        touch(node);
        record.pod = event.pod;
        // A sensor's attempt started with its first poke.
        if ((record.pokes ?? 1) === 1)
            record.startedAt = this.#clock;
    }
    #finished(event) {
        const node = this.#node(event);
        const record = node.attempts.at(-1);
        if (node.status !== 'running' || record?.attempt !== event.attempt) {
            const why = event.attempt > node.attempts.length
                ? `attempt ${event.attempt} was never started`
                : `attempt ${event.attempt} already finished`;
            throw this.#driverBug(event, node, why);
        }
        if (event.poke !== undefined && event.poke !== (record.pokes ?? 1)) {
            throw this.#driverBug(event, node, `poke ${event.poke} is not the running poke (${record.pokes ?? 'none'})`);
        }
        // `finished` without `started` is allowed: a pod whose create was rejected has no pod.
        const outcome = {
            class: event.class,
            reason: event.reason,
            message: event.message,
            exitCode: event.exitCode,
            outputs: { ...event.outputs },
            node: event.node,
        };
        touch(node);
        this.#leaveRunning(node);
        const sensor = node.spec.sensor;
        if (sensor && outcome.class === 'failed' && outcome.exitCode !== null && sensor.notYetExitCodes.includes(outcome.exitCode)) {
            if (this.#cancelled === null && !node.group?.failFastFired) {
                this.#notYet(node, record, outcome);
                return;
            }
            // "Not yet" when no further poke may come: the task was stopped, not failed.
            record.finishedAt = this.#clock;
            record.outcome = outcome;
            const why = this.#cancelled !== null ? `${this.#cancelWords()} while it waited for its condition` : 'cancelled by fail-fast while it waited for its condition';
            this.#finish(node, 'cancelled', why);
            return;
        }
        record.finishedAt = this.#clock;
        record.outcome = outcome;
        if (outcome.class === 'succeeded') {
            node.outputs = { ...outcome.outputs };
            this.#finish(node, 'succeeded', null);
        }
        else if (outcome.class === 'cancelled') {
            const why = this.#cancelled === null
                ? `attempt ${record.attempt} was cancelled`
                : `${this.#cancelWords()} while it ran (attempt ${record.attempt})`;
            this.#finish(node, 'cancelled', why);
        }
        else {
            this.#afterFailure(node, record.attempt, outcome);
        }
    }
    /**
     * Retry or give up after a failed attempt, per the task's RetryPolicy:
     * - `failed`, `timeout`: retried while `limit` lasts, if the class is listed in `on`;
     * - `infrastructure`: always retried, on its own budget `infrastructure`;
     * - `configuration` (and anything after the run was cancelled): never.
     * Retry n (n = the failed attempt's number: every retry counts, whatever its class) waits
     * `min(delayMs * backoff^(n-1), maxDelayMs)`.
     */
    #afterFailure(node, attempt, outcome) {
        const policy = node.spec.retries;
        const cls = outcome.class;
        let giveUp = null;
        if (this.#cancelled !== null) {
            giveUp = `not retried because ${this.#cancelWords()}`;
        }
        else if (node.group?.failFastFired) {
            giveUp = 'not retried: another instance of its matrix failed (fail-fast)';
        }
        else if (cls === 'configuration') {
            giveUp = 'configuration errors are not retried';
        }
        else if (cls === 'infrastructure') {
            if (node.infraUsed < policy.infrastructure)
                node.infraUsed++;
            else
                giveUp = `no more infrastructure retries left (${node.infraUsed} of ${policy.infrastructure} used)`;
        }
        else if (cls === 'failed' || cls === 'timeout') {
            if (!policy.on.includes(cls)) {
                giveUp =
                    cls === 'timeout'
                        ? 'timeouts are not retried (add "timeout" to retries.on to retry them)'
                        : `failures are not retried (retries.on is [${policy.on.join(', ')}])`;
            }
            else if (node.limitUsed < policy.limit) {
                node.limitUsed++;
            }
            else if (policy.limit === 0) {
                giveUp = 'no retries configured (retries.limit is 0)';
            }
            else {
                giveUp = `no more retries left (${attempt} of ${this.#maxAttempts(node)} attempts failed)`;
            }
        }
        else {
            giveUp = `an attempt that ended "${cls}" is not retried`;
        }
        if (giveUp !== null) {
            this.#emit({ type: 'give-up', task: node.id, attempt, reason: giveUp, outcome });
            this.#finish(node, 'failed', giveUp);
            return;
        }
        const delayMs = retryDelay(node.spec.retries, attempt);
        const at = this.#clock + delayMs;
        this.#emit({
            type: 'retry',
            task: node.id,
            failedAttempt: attempt,
            nextAttempt: attempt + 1,
            maxAttempts: this.#maxAttempts(node),
            at,
            delayMs,
            outcome,
        });
        if (delayMs === 0) {
            this.#queue(node);
        }
        else {
            touch(node);
            node.status = 'retry-wait';
            node.retryAt = at;
            this.#retries.push({ at, index: node.index, rank: node.rank, attempt: attempt + 1, poke: null });
        }
    }
    /**
     * A sensor's poke said "not yet": poke again `interval` later, or, once the sensor's timeout
     * (from its first poke) has passed, time out: fail with class `timeout`, or skip.
     */
    #notYet(node, record, outcome) {
        const sensor = node.spec.sensor;
        const deadline = node.pokeDeadline ?? this.#clock;
        const poke = record.pokes ?? 1;
        if (this.#clock >= deadline) {
            const words = `its condition did not hold within the sensor's timeout of ${(0,duration/* formatDuration */.a)(sensor.timeoutMs)} (${node.pokes} poke${node.pokes === 1 ? '' : 's'})`;
            const timedOut = { ...outcome, class: 'timeout', reason: 'SensorTimeout', message: words };
            record.finishedAt = this.#clock;
            record.outcome = timedOut;
            if (sensor.onTimeout === 'skip') {
                this.#skip(node, `${words}; onTimeout: skip`);
            }
            else {
                // A sensor's timeout is final: retrying would wait past the time the user allowed.
                this.#emit({ type: 'give-up', task: node.id, attempt: record.attempt, reason: words, outcome: timedOut });
                this.#finish(node, 'failed', words);
            }
            return;
        }
        const at = Math.min(this.#clock + sensor.intervalMs, deadline);
        this.#emit({ type: 'poke', task: node.id, attempt: record.attempt, poke, at });
        node.status = 'poke-wait';
        node.nextPoke = poke + 1;
        node.retryAt = at;
        this.#retries.push({ at, index: node.index, rank: node.rank, attempt: record.attempt, poke: poke + 1 });
    }
    /** Bookkeeping when an attempt (or a poke) stops running: the slot, and the matrix task's own limit. */
    #leaveRunning(node) {
        if (!this.#running.delete(node.index))
            return;
        const group = node.group;
        if (group === null)
            return;
        group.runningInstances--;
        // Instances held back by max-parallel may start now.
        for (const i of group.held.splice(0))
            this.#ready.push(i);
    }
    /**
     * The most attempts the task can have as things stand: the first, `limit` retries, and the
     * infrastructure retries used so far (they do not use up `limit`, so each adds an attempt).
     */
    #maxAttempts(node) {
        const policy = node.spec.retries;
        return 1 + (policy.on.length > 0 ? policy.limit : 0) + node.infraUsed;
    }
    /**
     * Cancels the run. Running attempts are listed in one `cancel` decision. With `signal` every
     * other unfinished task is `not-run` at once; with `timeout` pending retries and queued tasks
     * are, except queued tasks whose `if:` calls `always()`/`cancelled()` and is still true;
     * waiting tasks are judged when they become ready (see `#evaluate`). A `signal` after a
     * `timeout` escalates; any other repeat is ignored.
     */
    #cancel(reason) {
        if (this.#done || this.#cancelled === 'signal' || this.#cancelled === reason)
            return;
        this.#cancelled = reason;
        this.#cancelRunning([...this.#running], reason);
        // Copy first: #notRun deletes from #unfinished while we walk it.
        for (const index of [...this.#unfinished]) {
            this.#stats.work++;
            const node = this.#nodes[index];
            if (node.status === 'final')
                continue; // an instance finished by its matrix task's end
            if (node.nextPoke !== null) {
                this.#closeOpenAttempt(node, `${this.#cancelWords()} while it waited for its next poke`);
                this.#finish(node, 'cancelled', `${this.#cancelWords()} while it waited for its next poke`);
            }
            else if (node.status === 'retry-wait' || (node.status === 'queued' && node.attempts.length > 0)) {
                // A retry due now (zero delay, waiting for a slot) is a retry all the same: not after a cancel.
                this.#notRun(node, `${this.#cancelWords()} while it waited to retry`);
            }
            else if (node.status === 'queued' || (node.status === 'waiting' && reason === 'signal')) {
                if (reason === 'timeout' && survivesTimeout(node.spec.if)) {
                    // Its condition was true before the cancel; `!cancelled()` and the like may now be false.
                    const verdict = this.#decide(node);
                    if (verdict !== null && !verdict.run)
                        this.#skip(node, `if: "${node.spec.if?.source}" is false after the run was cancelled`);
                }
                else {
                    this.#notRun(node, `${this.#cancelWords()} before it started`);
                }
            }
        }
    }
    /** Lists running attempts not yet asked to stop in one `cancel` decision. */
    #cancelRunning(indexes, reason) {
        const attempts = [];
        for (const index of indexes.sort((a, b) => this.#nodes[a].rank - this.#nodes[b].rank)) {
            this.#stats.work++;
            const node = this.#nodes[index];
            if (node.cancelAsked || node.status !== 'running')
                continue;
            node.cancelAsked = true;
            attempts.push({ task: node.id, attempt: node.attempts.length });
        }
        if (attempts.length > 0)
            this.#emit({ type: 'cancel', attempts, reason });
    }
    /** Ends a sensor's attempt that waits for its next poke, as cancelled. */
    #closeOpenAttempt(node, message) {
        const record = node.attempts.at(-1);
        touch(node);
        node.nextPoke = null;
        if (record === undefined || record.outcome !== null)
            return;
        record.finishedAt = this.#clock;
        record.outcome = { class: 'cancelled', reason: 'Cancelled', message, exitCode: null, outputs: {}, node: null };
    }
    // ---- the core loop -----------------------------------------------------------------------
    /** Evaluates newly ready tasks, starts what fits, and checks whether the run is done. */
    #settle() {
        while (this.#newlyReady.length > 0) {
            const batch = this.#newlyReady;
            this.#newlyReady = [];
            for (const index of batch) {
                this.#stats.work++;
                const node = this.#nodes[index];
                // A reused success or a cancelled task may already be final.
                if (node.status === 'waiting')
                    this.#evaluate(node);
            }
        }
        this.#fill();
        if (!this.#done && this.#unfinished.size === 0 && this.#running.size === 0) {
            this.#done = true;
            this.#finishedAt = this.#clock;
            this.#result =
                this.#cancelled !== null ? 'cancelled' : this.#failedTasks + this.#cancelledTasks > 0 ? 'failure' : 'success';
            this.#emit({ type: 'done', result: this.#result });
        }
        const out = this.#out;
        this.#out = [];
        this.#stats.decisions += out.length;
        return out;
    }
    /** Judges a task whose needs all have a final result: queue it, skip it, or mark it not run. */
    #evaluate(node) {
        // Propagate the ancestor flags from the direct needs: O(needs).
        let allSucceeded = true;
        let someFailed = false;
        let blame = null;
        let culprit = null;
        for (const index of node.needs) {
            this.#stats.work++;
            const need = this.#nodes[index];
            if (need.result === 'failed' || need.someFailed)
                someFailed = true;
            if (allSucceeded && !(need.result === 'succeeded' && need.allSucceeded)) {
                allSucceeded = false;
                if (need.result !== 'succeeded') {
                    culprit = need;
                    blame = `needs "${need.spec.id}", which ${resultWords(need.result)}`;
                }
                else {
                    culprit = need.culprit;
                    const up = need.culprit;
                    blame = up
                        ? `needs "${need.spec.id}", whose upstream task "${up.spec.id}" ${resultWords(up.result)}`
                        : `needs "${need.spec.id}", whose upstream tasks did not all succeed`;
                }
            }
        }
        node.allSucceeded = allSucceeded;
        node.someFailed = someFailed;
        node.blame = blame;
        node.culprit = culprit;
        if (this.#cancelled === 'signal' || (this.#cancelled === 'timeout' && !survivesTimeout(node.spec.if))) {
            this.#notRun(node, `${this.#cancelWords()} before it started`);
            return;
        }
        const verdict = this.#decide(node);
        if (verdict === null)
            return; // the condition could not be evaluated: the task failed
        if (verdict.run) {
            if (node.spec.strategy)
                this.#expand(node);
            else
                this.#queue(node);
        }
        else if (verdict.becauseOfSuccess) {
            this.#skip(node, blame ?? this.#cancelWords());
        }
        else {
            this.#skip(node, `if: "${node.spec.if?.source}" is false`);
        }
    }
    /** `decide` for a node, or `null` when its `if:` could not be evaluated (the task then failed). */
    #decide(node) {
        try {
            return decide(node.spec.if, this.#context(node));
        }
        catch (err) {
            this.#fail(node, `if: "${node.spec.if?.source}" could not be evaluated: ${err.message}`);
            return null;
        }
    }
    /** A task that fails without running an attempt (its if: or its matrix could not be evaluated). */
    #fail(node, reason) {
        this.#emit({ type: 'fail', task: node.id, reason });
        this.#finish(node, 'failed', reason);
    }
    /**
     * Expands a matrix task whose `if:` holds into its instances, queued in matrix order (a dynamic
     * matrix is computed now, from its upstream's outputs). Instances reused from an earlier run
     * attempt succeed at once.
     */
    #expand(node) {
        const strategy = node.spec.strategy;
        let instances;
        if (strategy.matrix.kind === 'static') {
            instances = strategy.matrix.instances;
        }
        else {
            let value;
            try {
                value = (0,template/* evaluateTemplateValue */.LV)(strategy.matrix.template, { params: this.#options.params, outputs: {}, tasks: this.#taskValues(), run: this.#options.run ?? null }, 'matrix');
            }
            catch (err) {
                this.#fail(node, `its matrix "${strategy.matrix.template}" could not be computed: ${err.message}`);
                return;
            }
            const expansion = (0,matrix/* expandMatrix */.Eh)(node.id, value);
            if (!expansion.ok) {
                const p = expansion.problems[0];
                this.#fail(node, `its matrix "${strategy.matrix.template}" is not a valid matrix: ${p.message}`);
                return;
            }
            instances = expansion.instances;
        }
        touch(node);
        node.status = 'expanded';
        node.instances = [];
        node.pendingInstances = instances.length;
        const previous = this.#options.previous ?? {};
        instances.forEach((inst, i) => {
            const child = {
                ...node,
                id: inst.id,
                index: this.#nodes.length,
                rank: node.rank + i + 1,
                group: node,
                values: inst.values,
                instances: null,
                pendingInstances: 0,
                runningInstances: 0,
                held: [],
                failFastFired: false,
                needs: [],
                dependants: [],
                pendingNeeds: 0,
                status: 'waiting',
                result: null,
                reason: null,
                attempts: [],
                outputs: {},
                reusedFrom: null,
                retryAt: null,
                limitUsed: 0,
                infraUsed: 0,
                nextPoke: null,
                pokeDeadline: null,
                pokes: 0,
                startedSeen: false,
                cancelAsked: false,
                snap: null,
            };
            this.#nodes.push(child);
            this.#byId.set(child.id, child);
            this.#unfinished.add(child.index);
            node.instances.push(child);
        });
        this.#emit({ type: 'expand', task: node.id, instances: instances.map((i) => i.id) });
        for (const child of [...node.instances]) {
            const reused = previous[child.id];
            if (reused !== undefined) {
                child.outputs = { ...reused.outputs };
                child.reusedFrom = { runAttempt: reused.runAttempt };
                this.#finish(child, 'succeeded', null);
            }
            else {
                this.#queue(child);
            }
        }
    }
    /** Every task's value for `tasks.<id>` (only final ones matter: validation allows upstream only). */
    #taskValues() {
        const out = {};
        for (const n of this.#nodes)
            if (n.group === null && n.status === 'final')
                out[n.id] = this.taskValue(n.id);
        return out;
    }
    /** Starts queued tasks in rank order while slots are free. Nothing starts after a `signal` cancel. */
    #fill() {
        if (this.#cancelled === 'signal')
            return;
        const limit = this.#options.maxParallel;
        while (this.#ready.size > 0 && (limit <= 0 || this.#running.size < limit)) {
            const index = this.#ready.pop();
            const node = this.#nodes[index];
            if (node.status !== 'queued')
                continue; // stale: skipped or not run since it was queued
            const group = node.group;
            if (group !== null && group.spec.strategy.maxParallel > 0 && group.runningInstances >= group.spec.strategy.maxParallel) {
                group.held.push(index); // back in the heap when one of its instances stops running
                continue;
            }
            touch(node);
            node.status = 'running';
            node.startedSeen = false;
            node.cancelAsked = false;
            this.#running.add(index);
            if (group !== null)
                group.runningInstances++;
            const record = node.attempts.at(-1);
            if (node.nextPoke !== null && record !== undefined && record.outcome === null) {
                // The next poke of a sensor's open attempt: a new pod, the same attempt.
                const poke = node.nextPoke;
                node.nextPoke = null;
                node.retryAt = null;
                node.pokes++;
                record.pokes = poke;
                record.pod = null;
                this.#emit({ type: 'start', task: node.id, attempt: record.attempt, poke });
                continue;
            }
            const attempt = node.attempts.length + 1;
            const sensor = node.spec.sensor;
            if (sensor) {
                node.pokes++;
                node.pokeDeadline ??= this.#clock + sensor.timeoutMs;
                node.attempts.push({ attempt, pod: null, startedAt: this.#clock, finishedAt: null, outcome: null, pokes: 1 });
                this.#emit({ type: 'start', task: node.id, attempt, poke: 1 });
            }
            else {
                node.attempts.push({ attempt, pod: null, startedAt: this.#clock, finishedAt: null, outcome: null });
                this.#emit({ type: 'start', task: node.id, attempt });
            }
        }
    }
    #queueDueRetries() {
        for (;;) {
            this.#dropStaleRetries();
            const top = this.#retries.peek();
            if (top === undefined || top.at > this.#clock)
                return;
            this.#retries.pop();
            const node = this.#nodes[top.index];
            touch(node);
            node.retryAt = null;
            this.#queue(node);
        }
    }
    #dropStaleRetries() {
        for (;;) {
            const top = this.#retries.peek();
            if (top === undefined)
                return;
            const node = this.#nodes[top.index];
            if (top.poke === null && node.status === 'retry-wait' && node.attempts.length + 1 === top.attempt)
                return;
            if (top.poke !== null && node.status === 'poke-wait' && node.attempts.length === top.attempt && node.nextPoke === top.poke)
                return;
            this.#retries.pop();
        }
    }
    #queue(node) {
        node.status = 'queued';
        this.#ready.push(node.index);
    }
    #skip(node, reason) {
        this.#emit({ type: 'skip', task: node.id, reason });
        this.#finish(node, 'skipped', reason);
    }
    #notRun(node, reason) {
        this.#emit({ type: 'skip', task: node.id, reason });
        this.#finish(node, 'not-run', reason);
    }
    /** Gives a task its final result and tells its dependants: O(dependants). */
    #finish(node, result, reason) {
        touch(node);
        node.status = 'final';
        node.result = result;
        node.reason = reason;
        node.retryAt = null;
        node.nextPoke = null;
        this.#unfinished.delete(node.index);
        if (node.group !== null) {
            this.#instanceFinished(node.group, node, result);
            return;
        }
        if (result === 'failed')
            this.#failedTasks++;
        if (result === 'cancelled')
            this.#cancelledTasks++;
        for (const index of node.dependants) {
            this.#stats.work++;
            const dependant = this.#nodes[index];
            if (--dependant.pendingNeeds === 0)
                this.#newlyReady.push(index);
        }
    }
    /**
     * An instance is final: with fail-fast, a failure stops its siblings; once every instance is
     * final, the matrix task gets GitHub's combined result and its dependants are told.
     */
    #instanceFinished(group, instance, result) {
        touch(group);
        if (result === 'failed' && group.spec.strategy.failFast && !group.failFastFired) {
            group.failFastFired = true;
            const why = `cancelled because instance "${instance.id}" failed (fail-fast)`;
            const running = [];
            for (const sibling of group.instances) {
                if (sibling.status === 'final')
                    continue;
                if (sibling.status === 'running')
                    running.push(sibling.index);
                else {
                    if (sibling.nextPoke !== null)
                        this.#closeOpenAttempt(sibling, why);
                    this.#emit({ type: 'skip', task: sibling.id, reason: why });
                    this.#finish(sibling, 'cancelled', why);
                }
            }
            this.#cancelRunning(running, 'fail-fast');
        }
        if (--group.pendingInstances > 0)
            return;
        const all = group.instances;
        const count = (r) => all.filter((i) => i.result === r).length;
        const failed = count('failed');
        const cancelled = count('cancelled');
        const notRun = count('not-run');
        const total = `${all.length} instance${all.length === 1 ? '' : 's'}`;
        if (failed > 0)
            this.#finish(group, 'failed', `${failed} of ${total} failed`);
        else if (cancelled > 0)
            this.#finish(group, 'cancelled', `${cancelled} of ${total} were cancelled`);
        else if (notRun > 0)
            this.#finish(group, 'not-run', `${notRun} of ${total} did not run`);
        else
            this.#finish(group, 'succeeded', null);
    }
    // ---- helpers -----------------------------------------------------------------------------
    #context(node) {
        return {
            params: this.#options.params,
            task: (id) => this.taskValue(id),
            run: this.#options.run ?? null,
            success: node.allSucceeded && this.#cancelled === null,
            failure: node.someFailed,
            cancelled: this.#cancelled !== null,
        };
    }
    #cancelWords() {
        if (this.#cancelled === 'timeout') {
            return this.#spec.timeoutMs === null
                ? 'the run was cancelled: its time limit was reached'
                : `the run was cancelled: the DAG timeout of ${(0,duration/* formatDuration */.a)(this.#spec.timeoutMs)} was reached`;
        }
        return 'the run was cancelled';
    }
    #emit(decision) {
        this.#out.push(decision);
    }
    #node(event) {
        const node = this.#byId.get(event.task);
        if (node !== undefined && node.instances !== null) {
            throw this.#driverBug(event, node, 'it is a matrix task, which runs as its instances; events name an instance id');
        }
        if (node === undefined) {
            throw new Error(`scheduler: got ${describeEvent(event)}, but DAG "${this.#spec.name}" has no task "${event.task}". ` +
                'This is a bug in the driver: events must name tasks the scheduler started.');
        }
        return node;
    }
    #driverBug(event, node, why) {
        return new Error(`scheduler: got ${describeEvent(event)}, but ${why}: task "${node.id}" is ${describeNode(node)}. ` +
            'This is a bug in the driver: it must report each attempt the scheduler started exactly once as started and once as finished.');
    }
}
/** Whether a task may still start after a DAG timeout: its `if:` calls `always()` or `cancelled()`. */
function survivesTimeout(condition) {
    return condition !== null && runsWhenCancelled(condition.source);
}
/** Room in `rank` for the instances of one task (at most MAX_INSTANCES, 256). */
const RANK_STRIDE = 1024;
/** The delay before retry n (n = the number of the attempt that failed, 1-based). */
function retryDelay(policy, n) {
    const raw = policy.delayMs * Math.pow(policy.backoff, n - 1);
    // A huge backoff overflows to Infinity; the cap still applies. NaN (0 * Infinity) means no delay.
    const capped = Math.min(raw, policy.maxDelayMs);
    return Number.isFinite(capped) ? Math.max(0, Math.round(capped)) : Number.isNaN(capped) ? 0 : policy.maxDelayMs;
}
/** A task result in GitHub's words, as `tasks.<id>.result` gives it. */
function githubResult(result) {
    switch (result) {
        case 'succeeded':
            return 'success';
        case 'failed':
            return 'failure';
        case 'skipped':
            return 'skipped';
        case 'cancelled':
        case 'not-run':
            return 'cancelled';
        case null:
            return '';
    }
}
function resultWords(result) {
    switch (result) {
        case 'succeeded':
            return 'succeeded';
        case 'failed':
            return 'failed';
        case 'skipped':
            return 'was skipped';
        case 'cancelled':
            return 'was cancelled';
        case 'not-run':
            return 'did not run';
        case null:
            return 'has not finished';
    }
}
function describeEvent(event) {
    const what = event.task === undefined ? '' : ` for task "${event.task}" attempt ${event.attempt}`;
    return `"${event.type}"${what}`;
}
function describeNode(node) {
    const n = node.attempts.length;
    switch (node.status) {
        case 'waiting':
            return 'waiting for its needs (no attempt started)';
        case 'queued':
            return n === 0 ? 'queued to start (no attempt started)' : `queued to start attempt ${n + 1}`;
        case 'running':
            return `running attempt ${n}`;
        case 'retry-wait':
            return `waiting to retry (attempt ${n + 1} due at ${node.retryAt})`;
        case 'poke-wait':
            return `a sensor waiting for poke ${node.nextPoke} of attempt ${n} (due at ${node.retryAt})`;
        case 'expanded':
            return `a matrix task whose ${node.pendingInstances} instance(s) have not finished`;
        case 'final':
            return `finished (${node.result}) after ${n} attempt${n === 1 ? '' : 's'}`;
    }
}
/** Marks a task changed (and its matrix task, whose snapshot holds it): its next snapshot is built afresh. */
function touch(node) {
    node.snap = null;
    if (node.group !== null)
        node.group.snap = null;
}
function snapshot(node) {
    node.snap ??= deepFreeze(buildSnapshot(node));
    return node.snap;
}
function deepFreeze(value) {
    if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const v of Object.values(value))
            deepFreeze(v);
    }
    return value;
}
function buildSnapshot(node) {
    const extra = {};
    if (node.spec.sensor)
        extra.pokes = node.pokes;
    if (node.instances !== null)
        extra.instances = node.instances.map(snapshot);
    if (node.group !== null) {
        extra.group = node.group.id;
        extra.matrix = node.values;
    }
    return {
        ...extra,
        id: node.id,
        result: node.result,
        attempts: node.attempts.map((a) => ({
            ...a,
            outcome: a.outcome === null ? null : { ...a.outcome, outputs: { ...a.outcome.outputs } },
        })),
        outputs: { ...node.outputs },
        reason: node.reason,
        reusedFrom: node.reusedFrom === null ? null : { ...node.reusedFrom },
        retryAt: node.retryAt,
    };
}

;// CONCATENATED MODULE: ./lib/kube/logs.js

/**
 * The longest log line kept, in characters (its timestamp included): the rest of a longer line is
 * counted and dropped as it arrives, so a task that prints 100 MB without a newline costs the
 * action 16 Ki characters, not 100 MB. The line is emitted cut, saying how much was dropped.
 */
const MAX_LOG_LINE_CHARS = 16 * 1024;
/** What a cut line ends with. */
function cutNote(dropped) {
    return ` … [line cut: ${dropped} more characters not shown]`;
}
const ZERO = 48;
const NINE = 57;
const isDigit = (c) => c >= ZERO && c <= NINE;
/** Whether `s` has, at `i`, the start of an RFC 3339 timestamp: `dddd-dd-ddT`. No allocation. */
function timestampAt(s, i) {
    return (isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 1)) && isDigit(s.charCodeAt(i + 2)) && isDigit(s.charCodeAt(i + 3)) &&
        s.charCodeAt(i + 4) === 45 && isDigit(s.charCodeAt(i + 5)) && isDigit(s.charCodeAt(i + 6)) &&
        s.charCodeAt(i + 7) === 45 && isDigit(s.charCodeAt(i + 8)) && isDigit(s.charCodeAt(i + 9)) && s.charCodeAt(i + 10) === 84);
}
/**
 * The timestamp as UTC ("...Z"). The kubelet's stamps already are (and are never converted); an
 * offset is converted, nanoseconds kept. Anything unparseable is returned as it is.
 */
function utcStamp(ts) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$/.exec(ts);
    if (!m)
        return ts;
    const d = new Date(`${m[1]}${m[3]}`);
    if (Number.isNaN(d.getTime()))
        return ts;
    return `${d.toISOString().slice(0, 19)}${m[2] ?? ''}Z`;
}
/**
 * How long a follow stream that ended cleanly waits for the watch to say the container
 * terminated before it counts as cut and is resumed. The kubelet ends the stream within about a
 * second of the container's end (it checks at each EOF, and at least every second), and reports
 * the end through the pod's status about as fast (its PLEG relists every second): the two arrive
 * in either order. Only a stream cut while the container runs waits this long to resume.
 */
const END_CONFIRM_MS = 2000;
/** The length of "YYYY-MM-DDTHH:MM:SS". */
const SECOND = 19;
/** Orders the second of the stamp at `s[i]` against `second` ("YYYY-MM-DDTHH:MM:SS", UTC), as strings. */
function compareSecond(s, i, second) {
    // From the end: consecutive stamps differ, if at all, in their last digits.
    let k = SECOND - 1;
    while (k >= 0 && s.charCodeAt(i + k) === second.charCodeAt(k))
        k--;
    if (k < 0)
        return 0;
    for (let j = 0; j < SECOND; j++) {
        const d = s.charCodeAt(i + j) - second.charCodeAt(j);
        if (d !== 0)
            return d;
    }
    return 0;
}
/** The fraction at `s[i]` ("." and digits; past the ninth they are ignored) in nanoseconds; 0 if none. */
function fractionNanos(s, i) {
    if (s.charCodeAt(i) !== 46 /* . */)
        return 0;
    let n = 0;
    let digits = 0;
    for (let c = s.charCodeAt(++i); isDigit(c) && digits < 9; c = s.charCodeAt(++i), digits++)
        n = n * 10 + c - ZERO;
    for (; digits < 9; digits++)
        n *= 10;
    return n;
}
/** Follows the log of one container of one pod. */
class LogFollower {
    #o;
    #abort = new AbortController();
    /** The last lines, a ring: `#tail[#tailAt]` is the oldest once it is full. */
    #tail = [];
    #tailAt = 0;
    #tailReleased = false;
    /** The last timestamp emitted, as the server wrote it (the next read's `sinceTime`). */
    #lastTs = null;
    /** `#lastTs` in UTC: its second ("YYYY-MM-DDTHH:MM:SS") and the nanoseconds within it. */
    #lastSecond = '';
    #lastNanos = 0;
    /** How many lines stamped `#lastTs` were emitted. */
    #atLast = 0;
    /** How many lines stamped `#lastTs` came in the current read. */
    #pass = 0;
    #terminated = false;
    #gone = false;
    #wake = null;
    #done = null;
    #lines = 0;
    constructor(options) {
        this.#o = options;
    }
    /** Starts following (call once the container has started). Idempotent. */
    start() {
        this.#done ??= this.#run().catch(() => { });
    }
    /** Resolves when the log has been read to its end (or can no longer be read). */
    get done() {
        return this.#done ?? Promise.resolve();
    }
    /** The container has terminated: finish reading, then resolve `done`. */
    terminated() {
        this.#terminated = true;
        this.#wake?.();
    }
    /** The pod is gone: its log cannot be read any more. */
    gone() {
        this.#gone = true;
        this.#abort.abort();
        this.#wake?.();
    }
    /** Stops at once (cancellation). */
    stop() {
        this.gone();
    }
    /** The last lines read, oldest first. */
    tail() {
        return [...this.#tail.slice(this.#tailAt), ...this.#tail.slice(0, this.#tailAt)];
    }
    /** How many lines were emitted. */
    get lineCount() {
        return this.#lines;
    }
    async #run() {
        const sleep = this.#o.sleep ?? errors/* abortableSleep */.Mf;
        let failures = 0;
        while (!this.#gone) {
            const final = this.#terminated;
            let res;
            try {
                const query = { container: this.#o.container, follow: !final, ...(this.#lastTs ? { sinceTime: this.#lastTs } : {}) };
                res = await this.#o.api.log(this.#o.namespace, this.#o.pod, query, this.#abort.signal);
            }
            catch (err) {
                if (this.#gone)
                    return;
                const e = (0,errors/* classifyError */.fe)(err);
                // 404: the pod is gone. 401/403: we may not read logs (preflight said so); do not spin.
                if (e.kind === 'not-found' || e.kind === 'unauthorized' || e.kind === 'forbidden')
                    return;
                if (++failures > 30)
                    return;
                this.#o.onResume?.(`log request failed (${e.message}); retrying`);
                await this.#nap(sleep, Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
                continue;
            }
            const got = await this.#read(res);
            if (this.#gone)
                return;
            if (final) {
                // A read after termination can be cut too: read again until one brings nothing new.
                if (got.emitted > 0)
                    continue;
                // Nothing new, and the same unterminated last line again: it is the log's real last line
                // (a line without its newline). A bare timestamp is a cut, not a line.
                if (/^\S+ /.test(got.partial))
                    this.#accept(got.partial, 0, got.partial.length);
                return;
            }
            if (got.partial !== '' && got.emitted > 0) {
                // Cut mid-line: certainly not the end of the log. Resume at once from the last whole line
                // (only after progress, so a server that ends every stream at once cannot make us spin).
                this.#o.onResume?.(`log stream of ${this.#o.pod} was cut mid-line; resuming from ${this.#lastTs ?? 'the start'}`);
                failures = 0;
                continue;
            }
            failures = got.emitted > 0 ? 0 : failures + 1;
            // The stream ended on a line boundary. Ended by the server on its own, it is the whole log
            // if the container terminated (see the header): wait for the watch to say so, then done,
            // with no second read. Otherwise (or if the container still runs) it was cut: resume.
            // `terminated()` wakes the nap.
            const clean = got.clean && got.partial === '';
            await this.#nap(sleep, Math.min(5000, (clean ? END_CONFIRM_MS : 250) * 2 ** Math.min(failures, 5)));
            if (clean && this.#terminated && !this.#gone)
                return;
        }
    }
    /** Sleeps, but wakes as soon as the container terminates or the pod goes. */
    async #nap(sleep, ms) {
        if (this.#terminated || this.#gone)
            return;
        const woken = new Promise((resolve) => (this.#wake = resolve));
        const nap = new AbortController();
        try {
            await Promise.race([woken, sleep(ms, nap.signal).catch(() => { })]);
        }
        finally {
            nap.abort();
            this.#wake = null;
        }
    }
    /**
     * Reads one response to its end; returns the number of lines emitted, the unterminated text
     * after the last newline (never emitted here: a resumed read sends it again, whole), and
     * whether the response ended cleanly (no error, and, for an HTTP response, its body complete:
     * a connection dropped mid-body is not).
     * The work is per chunk: lines are found with `indexOf` and handed on as slices of the chunk,
     * and a backed-up consumer (`backlog`) pauses the response.
     */
    #read(res) {
        return new Promise((resolve) => {
            /** The text after the last newline so far (a line that has not ended yet), at most MAX_LOG_LINE_CHARS. */
            let rest = '';
            /** Characters of that line dropped past MAX_LOG_LINE_CHARS. */
            let dropped = 0;
            const keep = (text) => {
                const room = MAX_LOG_LINE_CHARS - rest.length;
                if (text.length <= room)
                    rest += text;
                else {
                    rest += text.slice(0, Math.max(0, room));
                    dropped += text.length - Math.max(0, room);
                }
            };
            const whole = () => (dropped > 0 ? rest + cutNote(dropped) : rest);
            let emitted = 0;
            this.#pass = 0;
            // Decodes UTF-8 across chunks: a character split between two chunks is whole in one.
            res.setEncoding('utf8');
            res.on('data', (chunk) => {
                let nl = chunk.indexOf('\n');
                if (nl === -1) {
                    keep(chunk);
                    return;
                }
                let start = 0;
                if (rest !== '' || dropped > 0) {
                    keep(chunk.slice(0, nl));
                    const first = whole();
                    rest = '';
                    dropped = 0;
                    if (this.#accept(first, 0, first.length))
                        emitted++;
                    start = nl + 1;
                    nl = chunk.indexOf('\n', start);
                }
                while (nl !== -1) {
                    if (this.#accept(chunk, start, nl))
                        emitted++;
                    start = nl + 1;
                    nl = chunk.indexOf('\n', start);
                }
                keep(chunk.slice(start));
                const backlog = this.#o.backlog?.();
                if (backlog) {
                    res.pause();
                    const resume = () => void res.resume();
                    backlog.then(resume, resume);
                }
            });
            let failed = false;
            res.on('error', () => (failed = true));
            res.on('aborted', () => (failed = true));
            res.on('close', () => {
                const complete = res.complete;
                resolve({ emitted, partial: whole(), clean: !failed && complete !== false && res.readableEnded });
            });
        });
    }
    /**
     * Emits the raw `<timestamp> <text>` line `s[start, end)` unless it was emitted before. A
     * resumed read starts at `sinceTime` = the last timestamp (the API server passes it on to the
     * kubelet to the second), so it sends again lines stamped up to it: older ones are skipped, and
     * of those stamped with it, as many as were emitted (the log is append-only, so they come again
     * in the same order, first).
     */
    #accept(s, start, end) {
        if (end > start && s.charCodeAt(end - 1) === 13 /* \r */)
            end--;
        const sp = timestampAt(s, start) ? s.indexOf(' ', start) : -1;
        if (sp === -1 || sp >= end) {
            // No timestamp: nothing to order it by.
            this.#emit(start === 0 && end === s.length ? s : s.slice(start, end), null);
            return true;
        }
        // Ordered by character codes and numbers, without allocating (but for a stamp with an offset).
        let stamp = s;
        let at = start;
        if (s.charCodeAt(sp - 1) !== 90 /* Z */) {
            stamp = utcStamp(s.slice(start, sp));
            at = 0;
        }
        const nanos = fractionNanos(stamp, at + SECOND);
        const secondOrder = this.#lastTs === null ? 1 : compareSecond(stamp, at, this.#lastSecond);
        const order = secondOrder !== 0 ? secondOrder : nanos - this.#lastNanos;
        if (order < 0)
            return false;
        if (order === 0 && ++this.#pass <= this.#atLast)
            return false;
        const ts = s.slice(start, sp);
        if (order === 0)
            this.#atLast++;
        else {
            if (secondOrder !== 0)
                this.#lastSecond = stamp.slice(at, at + SECOND);
            this.#lastNanos = nanos;
            this.#lastTs = ts;
            this.#atLast = 1;
            this.#pass = 1;
        }
        this.#emit(s.slice(sp + 1, end), ts);
        return true;
    }
    #emit(text, ts) {
        this.#lines++;
        const keep = this.#tailReleased ? 0 : (this.#o.tailLines ?? 50);
        if (this.#tail.length < keep)
            this.#tail.push(tailCopy(text));
        else if (keep > 0) {
            this.#tail[this.#tailAt] = tailCopy(text);
            this.#tailAt = (this.#tailAt + 1) % keep;
        }
        this.#o.onLine(text, ts);
    }
    /** The tail is not needed (the attempt succeeded): drop it, and keep no more lines. */
    releaseTail() {
        this.#tailReleased = true;
        this.#tail.length = 0;
        this.#tailAt = 0;
    }
}
/** The most characters of one line a tail keeps (a tail is at most tailLines × this). */
const TAIL_LINE_CHARS = 4096;
/**
 * A line as the tail keeps it: at most TAIL_LINE_CHARS characters, and a string of its own. A
 * line is a slice of the chunk it came in, and V8 keeps a slice's whole parent alive: one short
 * line kept would hold its 64 KiB chunk for the rest of the run, for every attempt.
 */
function tailCopy(text) {
    const cut = text.length > TAIL_LINE_CHARS ? `${text.slice(0, TAIL_LINE_CHARS)}… (${text.length - TAIL_LINE_CHARS} more characters)` : text;
    // Concatenating then slicing makes V8 copy the characters into a new string (flattening).
    return ` ${cut}`.slice(1);
}

// EXTERNAL MODULE: ./lib/kube/pod-proof.js
var pod_proof = __webpack_require__(6877);
// EXTERNAL MODULE: ./lib/kube/watch.js
var watch = __webpack_require__(7718);
;// CONCATENATED MODULE: ./lib/kube/pod-runner.js






/** Runs the pods of one run's attempts in one namespace. */
class PodRunner {
    #o;
    constructor(options) {
        this.#o = { ...options, proof: options.proof ?? new pod_proof/* PodProof */.Ys() };
    }
    /** The API server's URL, for messages. */
    get server() {
        return this.#o.api.server;
    }
    /** The run's one watch over its pods (`selector`); call `start()` on it. */
    watch(selector, onEvent, options = {}) {
        return new watch/* PodWatcher */.u(this.#o.api, this.#o.namespace, selector, onEvent, options);
    }
    /** The pod of one attempt (nothing is sent until `create`). `onLine` gets its log's lines. */
    attempt(id, onLine) {
        return new AttemptPod(this.#o, id, onLine);
    }
}
/** One attempt's pod: its create, its log and its delete. */
class AttemptPod {
    task;
    attempt;
    /** The pod's name. */
    name;
    #o;
    #onLine;
    #follower = null;
    #deletedByUs = false;
    #gone = false;
    #tailReleased = false;
    /** The hash of the pod as rendered (set by `create`): what a pod's proof must name. */
    #hash = null;
    /** The pod as sent (with its proof), for comparing with a pod found under its name. */
    #sent = null;
    /** The uid of the pod whose proof was checked (or that our create made): later events of that pod need no new check. */
    #verifiedUid = null;
    /** The watch has shown the pod of `#verifiedUid`: a pod of another uid under the name now is a replacement, no longer an older one. */
    #oursSeen = false;
    /** The pod was not known to be ours when adopted (its create's answer was lost): read it whole before trusting it. */
    #readWhole = false;
    /** The pod under our name failed its proof: it is not ours, and nothing is done to it. */
    #foreign = false;
    /** The pod is ours but refused (`drop`): its log is never read. */
    #refused = false;
    constructor(options, id, onLine) {
        this.#o = options;
        this.task = id.task;
        this.attempt = id.attempt;
        this.name = id.pod;
        this.#onLine = onLine;
    }
    /** We deleted the pod (so its DELETED event is ours, not someone else's). */
    get deletedByUs() {
        return this.#deletedByUs;
    }
    /** The uid of the pod this attempt's create made or adopted, once known and checked; null before. */
    get uid() {
        return this.#readWhole ? null : this.#verifiedUid;
    }
    /** The pod is gone from the API (DELETED seen, or never to be created). */
    get gone() {
        return this.#gone;
    }
    /** The pod under this attempt's name is someone else's (it failed its proof): never read, followed or deleted. */
    get foreign() {
        return this.#foreign;
    }
    /** Whether its log is being followed (the container started). */
    get following() {
        return this.#follower !== null;
    }
    /**
     * Creates the pod, with its proof. A 409 adopts the existing pod only if it proves to be this
     * attempt's (`#adopt`). A create whose answer never came (network, 5xx, 429 past the retries)
     * is settled by reading the pod: found, it is adopted on the same terms; absent, the create is
     * sent again (at most three rounds, then an infrastructure failure); unreadable, it counts as
     * created, and the pod is read whole and checked when the watch first shows it (`vet`). Any
     * other refusal is a configuration failure: the cluster refused the pod itself (but a
     * ResourceQuota that other pods use up now is an infrastructure failure: it may admit it later).
     */
    async create(rendered) {
        const { api, namespace } = this.#o;
        const manifest = this.#o.proof.prove(rendered);
        this.#sent = manifest;
        this.#hash = (0,pod_proof/* podHash */.e4)(manifest);
        for (let round = 1;; round++) {
            try {
                const made = (await api.create(namespace, manifest));
                // Its uid tells it from a pod of that name the watch may still show from before it
                // (an earlier process's, deleted just before this create): that one's end is not its end.
                this.#verifiedUid = made?.metadata?.uid ?? null;
                const rerunnable = made?.spec === undefined ? null : (0,classify/* restartPolicyChange */.CF)(made);
                return rerunnable === null ? { ok: true, adopted: false } : { ok: true, adopted: false, rerunnable };
            }
            catch (err) {
                const e = (0,errors/* classifyError */.fe)(err);
                if (e.kind === 'conflict')
                    break;
                const ambiguous = e.kind === 'network' || e.kind === 'timeout' || e.kind === 'server' || e.kind === 'throttled';
                if (!ambiguous) {
                    // Refused: the pod does not exist. A ResourceQuota used up by other pods now admits the
                    // same pod later: an infrastructure failure, retried on that budget after the retry
                    // delay. Any other refusal comes back until the spec or the cluster changes.
                    const later = e.kind === 'forbidden' && (0,errors/* isAdmissionRefusal */.MW)(e.message) && (0,errors/* admissionRefusal */.gi)(e.message).mayPassLater;
                    return { ok: false, failure: failure(later ? 'infrastructure' : 'configuration', later ? 'ExceededQuota' : (e.reason ?? e.kind), (0,errors/* describeError */.Uc)(err, `create pod ${this.name} in namespace ${namespace}`, api.server)) };
                }
                // The create (or one of its retries) may have reached the server though no answer came
                // back: it counts as done until a read proves otherwise. A pod that exists is this
                // attempt's (checked below) and is watched, read and deleted as any other; only a read
                // that finds none lets the create be sent again, so the task never runs twice.
                const settled = await this.#settle();
                if (settled === 'exists')
                    break;
                if (settled === 'unknown') {
                    this.#o.debug?.(`create of pod ${this.name} got no answer and the pod could not be read since; counting it as created: the watch tells whether it exists`);
                    this.#readWhole = true;
                    return { ok: true, adopted: true };
                }
                if (round >= 3) {
                    return { ok: false, failure: failure('infrastructure', e.reason ?? e.kind, (0,errors/* describeError */.Uc)(err, `create pod ${this.name} in namespace ${namespace}`, api.server)) };
                }
            }
        }
        return this.#adopt();
    }
    /**
     * The pod under our name exists: adopted only if it is ours, i.e. its proof was signed by a
     * process of this run for this very rendering of the attempt's pod, and the pod is still the pod
     * rendered (nothing that changes what runs was added or changed since).
     */
    async #adopt() {
        const { api, namespace } = this.#o;
        let existing;
        try {
            existing = await api.read(namespace, this.name);
        }
        catch (err) {
            // Deleted between the 409 and the read: its DELETED event tells the rest. Unreadable (the
            // read's retries ran out): the pod exists, so giving up on it (a failure, then a retry)
            // could run the task twice; it counts as created, as a create whose answer was lost. Either
            // way `vet` reads it whole and checks it before anything of it is used.
            if ((0,errors/* classifyError */.fe)(err).kind !== 'not-found')
                this.#o.debug?.(`${(0,errors/* describeError */.Uc)(err, `read pod ${this.name}`, api.server)}; counting it as created: it is checked when the watch shows it`);
            this.#readWhole = true;
            return { ok: true, adopted: true };
        }
        const problem = this.#judge(existing, true);
        if (problem !== null) {
            this.#foreign = true;
            return { ok: false, failure: foreignPod(existing, namespace, this.task, this.attempt, problem) };
        }
        this.#verifiedUid = existing.metadata?.uid ?? null;
        return { ok: true, adopted: true };
    }
    /**
     * Before anything of a pod the watch shows under this attempt's name is used: null if it is ours
     * (checked once per pod uid), else the attempt's configuration failure (the pod is then `foreign`:
     * not followed, not deleted). A pod adopted without being seen whole is read whole first.
     */
    async vet(pod) {
        const uid = pod.metadata?.uid;
        if (uid !== undefined && uid === this.#verifiedUid) {
            this.#oursSeen = true;
            return null;
        }
        if (this.#older(uid))
            return 'older';
        if (uid !== undefined && this.#verifiedUid !== null && !this.#readWhole)
            return this.#replaced(pod);
        if (this.#readWhole) {
            let seen;
            try {
                seen = await this.#o.api.read(this.#o.namespace, this.name);
            }
            catch (err) {
                // Not readable now: judged from what the watch brought (its proof); the content check
                // waits for the next event.
                this.#o.debug?.((0,errors/* describeError */.Uc)(err, `read pod ${this.name} to check it is this run's`, this.#o.api.server));
                const problem = this.#judge(pod, false);
                return problem === null ? null : this.#refuse(pod, problem);
            }
            const whole = this.#judge(seen, true);
            if (whole !== null)
                return this.#refuse(seen, whole);
            this.#readWhole = false;
            this.#verifiedUid = seen.metadata?.uid ?? null;
            if (seen.metadata?.uid === uid)
                return null;
            // The event showed an older object of that name (since replaced): judged by its proof.
        }
        const problem = this.#judge(pod, false);
        if (problem !== null)
            return this.#refuse(pod, problem);
        this.#verifiedUid ??= uid ?? null;
        return null;
    }
    /**
     * Another pod (another uid) under the name of the attempt's pod, which we knew: ours was deleted
     * and someone created this one, even from our pod's own manifest (proof and all). This attempt's
     * pod is gone: an infrastructure failure, as any pod deleted by someone else. The new pod is not
     * this attempt's run: nothing of it (status, log, outputs) is used, and it is not ours to delete.
     */
    #replaced(pod) {
        this.#foreign = true;
        this.#follower?.stop();
        return failure('infrastructure', 'Replaced', `pod ${this.name} (uid ${this.#verifiedUid}) was deleted by someone else and another pod (uid ${pod.metadata?.uid}) was created under its name; ` +
            'nothing of the new pod was used, and it was left alone: find out who re-creates pods of pod-dag-action (kubectl replace --force, a controller)');
    }
    async #refuse(pod, problem) {
        this.#foreign = true;
        this.#follower?.stop();
        let whole = pod;
        if (pod.metadata?.managedFields === undefined) {
            // The watch drops managedFields: read them, to say who created the pod.
            whole = await this.#o.api.read(this.#o.namespace, this.name).catch(() => pod);
            if (whole.metadata?.uid !== pod.metadata?.uid)
                whole = pod;
        }
        return foreignPod(whole, this.#o.namespace, this.task, this.attempt, problem);
    }
    /** Why `pod` is not this attempt's pod as rendered, or null if it is. `whole`: the pod's spec is at hand. */
    #judge(pod, whole) {
        // The proof this process sent (its own fresh pod): valid as sent, no signature to check.
        const proven = this.#sent !== null && (0,pod_proof/* sameProof */.Jj)(pod, this.#sent) ? { ok: true, proof: { hash: this.#hash } } : this.#o.proof.verify(pod);
        if (!proven.ok)
            return proven.problem;
        if (proven.proof.hash !== this.#hash) {
            return `carries a proof for another rendering of this attempt's pod (hash ${proven.proof.hash.slice(0, 12)}…, this run renders ${this.#hash?.slice(0, 12)}…): the spec, the params or an upstream output changed`;
        }
        if (whole && this.#sent !== null) {
            // A restart policy admission changed is ours to refuse as such (src/kube/classify.ts
            // `restartPolicyChange`, when the pod is first looked at), not a sign of someone else's pod.
            const d = (0,pod_proof/* differsFromRendered */.Fp)(withRestartPolicyOf(pod, this.#sent), this.#sent);
            if (d !== null)
                return `is not the pod its proof was made for: ${d}`;
        }
        return null;
    }
    /** Whether the pod exists after a create whose answer was lost: a read decides, if it can. */
    async #settle() {
        try {
            await this.#o.api.read(this.#o.namespace, this.name);
            return 'exists';
        }
        catch (err) {
            return (0,errors/* classifyError */.fe)(err).kind === 'not-found' ? 'absent' : 'unknown';
        }
    }
    /**
     * A pod of this name from before this attempt's own (known by its uid, not yet shown by the
     * watch, whose events come in order): an earlier process's pod deleted just before our create.
     * Nothing of it is this attempt's, and it ends nothing.
     */
    #older(uid) {
        return uid !== undefined && this.#verifiedUid !== null && !this.#oursSeen && !this.#readWhole && uid !== this.#verifiedUid;
    }
    /**
     * The watch saw the pod of this name deleted (`uid`), or it will never exist (no uid): its log
     * can no longer be read. False, and nothing changes, when the pod deleted is another than this
     * attempt's (one from before it, or one created after it under its name).
     */
    markGone(uid) {
        if (uid !== undefined && this.#verifiedUid !== null && !this.#readWhole && uid !== this.#verifiedUid)
            return false;
        this.#gone = true;
        this.#follower?.gone();
        return true;
    }
    /** Nothing of the pod is to be read any more (it was refused: its restart policy changed): stops its log for good. */
    drop() {
        this.#refused = true;
        this.#follower?.stop();
    }
    /** Starts following the log (once the container started). Idempotent. */
    followLog() {
        if (this.#follower || this.#foreign || this.#refused)
            return;
        this.#follower = new LogFollower({
            api: this.#o.api,
            namespace: this.#o.namespace,
            pod: this.name,
            container: kube_pod/* CONTAINER */.MR,
            tailLines: this.#o.logTailLines,
            onLine: this.#onLine,
            onResume: (why) => this.#o.debug?.(why),
            backlog: this.#o.logBacklog,
        });
        if (this.#tailReleased)
            this.#follower.releaseTail();
        this.#follower.start();
    }
    /** The container terminated: the log is read to its end, then `logDone` resolves. */
    containerTerminated() {
        this.#follower?.terminated();
    }
    /** Stops reading the log (the pod is being deleted while it runs). */
    stopLog() {
        this.#follower?.stop();
    }
    /** Resolves when the log was read to its end, or cannot be read any more; at once if it was never followed. */
    get logDone() {
        return this.#follower?.done ?? Promise.resolve();
    }
    /** The log's last lines (for the summary); null if it was never followed or the tail was released. */
    tail() {
        return this.#tailReleased ? null : (this.#follower?.tail() ?? null);
    }
    /** The tail will not be asked for (the attempt succeeded): keep no lines of it from now on. */
    releaseTail() {
        this.#tailReleased = true;
        this.#follower?.releaseTail();
    }
    /**
     * Deletes the pod once (404: done already). Never throws: a failure is a debug line (the post
     * step sweeps). With `batch`, the pod goes with the batch's next request: only for a settled
     * pod (its container ended, its log read to the end, its result recorded or, with `durable`,
     * recorded before the batch is sent), deleted at once.
     * A pod that is not ours (`foreign`) is someone else's to delete: never deleted.
     */
    async delete(gracePeriodSeconds, batch, durable) {
        if (this.#deletedByUs || this.#foreign)
            return;
        this.#deletedByUs = true;
        if (batch && gracePeriodSeconds === 0)
            return batch.delete({ name: this.name, task: this.task, attempt: this.attempt, ...(durable ? { durable } : {}) });
        const { api, namespace } = this.#o;
        try {
            await api.delete(namespace, this.name, { gracePeriodSeconds });
        }
        catch (err) {
            if ((0,errors/* classifyError */.fe)(err).kind === 'not-found')
                return;
            this.#o.debug?.((0,errors/* describeError */.Uc)(err, `delete pod ${this.name}`, api.server));
        }
    }
}
/** `pod` with the restart policy of `sent` (the pod's and its task container's), for comparing the rest. */
function withRestartPolicyOf(pod, sent) {
    if (pod.spec === undefined)
        return pod;
    const ours = sent.spec?.containers.find((c) => c.name === kube_pod/* CONTAINER */.MR);
    const containers = pod.spec.containers.map((c) => c.name === kube_pod/* CONTAINER */.MR ? { ...c, restartPolicy: ours?.restartPolicy, restartPolicyRules: ours?.restartPolicyRules } : c);
    return { ...pod, spec: { ...pod.spec, restartPolicy: sent.spec?.restartPolicy, containers } };
}
/** An attempt's failure with no exit code (the pod could not be created, or was never seen). */
function failure(cls, reason, message) {
    return { class: cls, reason, message, exitCode: null, outputs: {}, node: null };
}
/**
 * The configuration failure of an attempt whose pod name is taken by a pod that is not this run's:
 * which pod, why, who created it and when (what the API says), and what to do.
 */
function foreignPod(pod, namespace, task, attempt, problem) {
    const name = pod.metadata?.name ?? '?';
    const managers = [...new Set((pod.metadata?.managedFields ?? []).map((f) => f.manager).filter((m) => typeof m === 'string'))];
    const created = pod.metadata?.creationTimestamp;
    const when = created === undefined ? 'at an unknown time' : `at ${created instanceof Date ? created.toISOString() : String(created)}`;
    const who = managers.length > 0 ? `by ${managers.map((m) => JSON.stringify(m)).join(', ')} (its field managers)` : 'by an unknown client (the API server lists no field manager)';
    return failure('configuration', 'NotOurPod', `pod ${name} in namespace ${namespace} is not this run's pod for attempt ${attempt} of task "${task}": it ${problem}. ` +
        `It was created ${when} ${who}, with labels ${JSON.stringify(pod.metadata?.labels ?? {})}. ` +
        "Nothing of its status, logs or outputs was used, and it was not deleted (it is not this run's). " +
        `Delete it (kubectl delete pod -n ${namespace} ${name}) and find out who creates pods with pod-dag-action's labels in this namespace.`);
}

;// CONCATENATED MODULE: ./lib/kube/reaper.js


/**
 * How long the first settled pod of a batch waits for others, by default: 30 s, so that a chain
 * of tasks (which ends one pod at a time) still fills batches. Bounded so that `keep-pods: never`
 * stays "deleted within seconds of its task's end", not "at the run's end".
 */
const REAP_DELAY_MS = 30_000;
/** Deletes settled pods in batches (see the module's header). */
class PodReaper {
    #o;
    /** Pods waiting, by task-attempt number (one selector per number). */
    #waiting = new Map();
    #count = 0;
    #cancelTimer = null;
    #draining = false;
    #flushQueued = false;
    #collectionRefused = false;
    constructor(options) {
        this.#o = options;
    }
    /** Pods waiting to be deleted. */
    get size() {
        return this.#count;
    }
    /** Deletes `pod` with the next batch; resolves once that request (or its fallback) answered. Never rejects. */
    delete(pod) {
        if ((0,kube_pod/* labelValue */.w)(pod.task) !== pod.task || this.#collectionRefused || !this.#o.api.deleteCollection)
            return this.#deleteOne(pod);
        return new Promise((resolve) => {
            const list = this.#waiting.get(pod.attempt) ?? [];
            list.push({ ...pod, done: resolve });
            this.#waiting.set(pod.attempt, list);
            this.#count++;
            if (this.#draining || this.#count >= (this.#o.maxBatch ?? 50))
                this.#soon();
            else
                this.#cancelTimer ??= this.#o.clock.setTimer(this.#o.clock.now() + (this.#o.delayMs ?? REAP_DELAY_MS), () => this.#flush());
        });
    }
    /** The run is ending: sends what waits now, and every later pod without waiting. */
    drain() {
        this.#draining = true;
        if (this.#count > 0)
            this.#soon();
    }
    /** Flushes after this turn of the event loop, so pods settled together go together. */
    #soon() {
        if (this.#flushQueued)
            return;
        this.#flushQueued = true;
        setImmediate(() => {
            this.#flushQueued = false;
            this.#flush();
        });
    }
    #flush() {
        this.#cancelTimer?.();
        this.#cancelTimer = null;
        const max = this.#o.maxBatch ?? 50;
        for (const [attempt, list] of this.#waiting) {
            for (let i = 0; i < list.length; i += max)
                void this.#send(attempt, list.slice(i, i + max));
        }
        this.#waiting.clear();
        this.#count = 0;
    }
    /** Writes the waiting records, then keeps the pods whose record failed (they are done at once). */
    async #recorded(pods) {
        await this.#o.beforeSend?.();
        const ok = await Promise.all(pods.map((p) => p.durable ?? true));
        const kept = pods.filter((_, i) => !ok[i]);
        for (const p of kept)
            p.done?.();
        return pods.filter((_, i) => ok[i]);
    }
    async #send(attempt, all) {
        const { api, namespace } = this.#o;
        const pods = await this.#recorded(all);
        if (pods.length === 0)
            return;
        const selector = `${this.#o.runSelector},${kube_pod/* LABELS */.kg.taskAttempt}=${attempt},!${kube_pod/* LABELS */.kg.poke},${kube_pod/* LABELS */.kg.task} in (${pods.map((p) => p.task).join(',')})`;
        try {
            if (this.#collectionRefused)
                throw Object.assign(new Error('deletecollection refused earlier'), { code: 403 });
            await api.deleteCollection(namespace, selector, { gracePeriodSeconds: 0 });
        }
        catch (err) {
            if ((0,errors/* classifyError */.fe)(err).kind === 'forbidden' && !this.#collectionRefused) {
                this.#collectionRefused = true;
                this.#o.debug?.(`${(0,errors/* describeError */.Uc)(err, `delete finished pods by label selector (deletecollection) in namespace ${namespace}`, api.server)}; deleting them one by one instead (grant deletecollection on pods to save requests)`);
            }
            else if (!this.#collectionRefused) {
                this.#o.debug?.(`${(0,errors/* describeError */.Uc)(err, `delete ${pods.length} finished pods (${selector})`, api.server)}; deleting them one by one instead`);
            }
            await Promise.all(pods.map((p) => this.#deleteOne({ name: p.name, task: p.task, attempt: p.attempt })));
        }
        for (const p of pods)
            p.done();
    }
    async #deleteOne(pod) {
        const { api, namespace } = this.#o;
        if (pod.durable !== undefined && (await this.#recorded([pod])).length === 0)
            return;
        try {
            await api.delete(namespace, pod.name, { gracePeriodSeconds: 0 });
        }
        catch (err) {
            if ((0,errors/* classifyError */.fe)(err).kind === 'not-found')
                return;
            this.#o.debug?.((0,errors/* describeError */.Uc)(err, `delete pod ${pod.name}`, api.server));
        }
    }
}

// EXTERNAL MODULE: ./lib/kube/time.js
var time = __webpack_require__(1308);
;// CONCATENATED MODULE: ./lib/engine/engine.js













/**
 * How long after its container ended an attempt's log may take to be read to its end before the
 * reporters are told it ended anyway (`logEnded`: the live log holds the result line till then).
 */
const LOG_WAIT_MS = 10_000;
/**
 * How long a retry waits at most for the container of the attempt before it to stop when no
 * deletion of its pod is seen (a pod's default grace is 30 s).
 */
const RETRY_HOLD_MS = 31_000;
/**
 * Runs the DAG (mode `run`) and returns the final run state. Reports through `options.reporter`
 * (runStarted, decisions, pods, log lines, runFinished). Throws KubeError only when the run cannot
 * go on at all (the watch was refused).
 */
/**
 * The one warning for the records a run could not write: the attempts' ends (`unrecorded`, from
 * `onUnrecorded`) and the run's own end (`runEnd`, the error of writing it), with what becomes of
 * the pods kept; null when every record was written.
 */
function unrecordedWarning(unrecorded, runEnd) {
    if (unrecorded.length === 0)
        return runEnd === null ? null : `Could not record the end of the run: ${runEnd.message}`;
    const kept = unrecorded.filter((u) => u.pod !== null);
    const lost = unrecorded.filter((u) => u.pod === null);
    const what = `${unrecorded.length} attempt${unrecorded.length === 1 ? '' : 's'} in the run's state`;
    const head = runEnd === null
        ? `Could not record the end of ${what} (${unrecorded[0].error})`
        : `Could not record the end of the run (${runEnd.message}), nor the end of ${what} (${unrecorded[0].error})`;
    const parts = [head + '.'];
    if (kept.length > 0) {
        parts.push(`Kept, as the only record of how they ended: ${kept.map((u) => `${u.task} attempt ${u.attempt} (pod ${u.pod})`).join(', ')}.` +
            ' The post step does not delete them, and a re-run of this job records their ends from these pods and reuses what succeeded instead of running it again.');
    }
    if (lost.length > 0) {
        parts.push(`No pod is left of ${lost.map((u) => `${u.task} attempt ${u.attempt}`).join(', ')}: a re-run runs ${lost.length === 1 ? 'it' : 'them'} again.`);
    }
    return parts.join(' ');
}
function runEngine(options) {
    return new Engine(options).run();
}
class Engine {
    #o;
    #clock;
    #runId;
    #selector;
    /** The `run` context: logical date and data interval. */
    #run;
    #scheduler;
    #runner;
    /** Deletes settled pods in batches. */
    #reaper;
    /** What reporters see of the run as it goes: asked for, never copied per event. */
    #view;
    #live = new Map();
    /** Attempts started and not finished: what the timer looks at (not every attempt ever made). */
    #active = new Set();
    /** The last attempt of each task (for log tails). */
    #lastAttempt = new Map();
    #pending = new Set();
    /** The attempts whose end could not be recorded (their pods are kept): told once, at the run's end. */
    #unrecorded = [];
    /** Each task's fingerprint annotation, by task id (`#fingerprint`). */
    #fingerprints = new Map();
    /** The spec's tasks by id (made when first needed). */
    #tasks = null;
    /** The run was cancelled by a signal (kept here so checking it costs O(1), not a snapshot). */
    #cancelledBySignal = false;
    #watcher = null;
    #queue = Promise.resolve();
    #cancelTimer = null;
    #timerAt = null;
    #fatal = null;
    #finish;
    #finished = new Promise((resolve) => (this.#finish = resolve));
    constructor(options) {
        this.#o = options;
        this.#clock = options.clock ?? common_clock/* systemClock */.ml;
        // An explicit run id wins over GitHub's: each run of a backfill has its own (<run id>-<date>).
        this.#runId = options.runId ?? (0,common_run/* effectiveRunId */.gw)(options.context, undefined, this.#clock.now());
        this.#selector = (0,kube_pod/* runSelector */.fC)(options.spec.name, this.#runId, (0,common_run/* runScope */.AO)(options.context), options.context.runAttempt);
        // Without a run context (the CLI), the logical date is the start of the run.
        this.#run = options.run === undefined ? (0,run_dates/* runContext */.pO)((0,run_dates/* runDates */.$q)({ start: this.#clock.now(), schedule: null, logicalDate: null })) : options.run;
        this.#scheduler = new Scheduler(options.spec, {
            now: this.#clock.now(),
            maxParallel: options.maxParallel,
            params: options.params,
            previous: options.previous,
            run: this.#run,
        });
        this.#runner = new PodRunner({
            api: options.pods,
            namespace: options.namespace,
            logTailLines: options.logTailLines,
            logBacklog: options.logBacklog,
            debug: options.debug,
            proof: options.proof,
        });
        const flushRecords = options.flushRecords;
        this.#reaper = new PodReaper({
            api: options.pods,
            namespace: options.namespace,
            runSelector: this.#selector,
            clock: this.#clock,
            debug: options.debug,
            ...(options.reapDelayMs !== undefined ? { delayMs: options.reapDelayMs } : {}),
            ...(flushRecords ? { beforeSend: () => flushRecords().catch(() => { }) } : {}),
        });
        const scheduler = this.#scheduler;
        this.#view = { dag: options.spec.name, task: (id) => scheduler.taskState(id), state: () => scheduler.state() };
    }
    async run() {
        const o = this.#o;
        // Thousands of pods' short-lived requests must not size the heap for the rest of the run.
        boundHeapGrowth();
        await o.reporter.runStarted?.({ mode: 'run', spec: o.spec, context: o.context, namespace: o.namespace, params: o.params });
        // Watch first, so no change to a pod we are about to create can be missed.
        this.#watcher = this.#runner.watch(this.#selector, (e) => this.#enqueue(() => this.#onPodEvent(e)), {
            timeoutSeconds: o.watchTimeoutSeconds,
            onRecover: (what) => o.debug?.(what),
            now: () => this.#clock.now(),
        });
        try {
            await this.#watcher.start();
        }
        catch (err) {
            throw new errors/* KubeError */.a3((0,errors/* describeError */.Uc)(err, `list the run's pods (${this.#selector}) in namespace ${o.namespace}`, o.pods.server), (0,errors/* classifyError */.fe)(err), { cause: err });
        }
        this.#watcher.done.catch((err) => this.#enqueue(() => this.#onFatal(err)));
        const onAbort = () => this.#enqueue(() => this.#feed({ type: 'cancel', at: this.#clock.now(), reason: 'signal' }));
        // The scheduler must start before it hears of a cancel.
        this.#enqueue(() => this.#apply(this.#scheduler.start()));
        if (o.signal?.aborted)
            onAbort();
        else
            o.signal?.addEventListener('abort', onAbort, { once: true });
        await this.#finished;
        o.signal?.removeEventListener('abort', onAbort);
        this.#cancelTimer?.();
        // Logs to their end, pods deleted per keep-pods: all before the report.
        const cancelled = this.#scheduler.state().cancelled === 'signal';
        if (cancelled)
            for (const l of this.#live.values())
                l.pod.stopLog();
        // Drain until quiet: an attempt that is still ending (a reporter awaiting I/O) queues its
        // pod's delete only afterwards, so wait for the serial queue as well as the tracked requests,
        // and again if either brought more work.
        for (;;) {
            const queue = this.#queue;
            await queue;
            // Settled pods waiting for their batch go now, and later ones at once; first the logs
            // still being read end (the scheduler no longer waits for them), so their pods go together.
            await Promise.allSettled([...this.#live.values()].map((l) => l.pod.logDone));
            this.#reaper.drain();
            // The records deferred for pods that stay (keep-pods) are written now, with the last batch's.
            void this.#o.flushRecords?.().catch(() => { });
            if (this.#pending.size > 0) {
                await Promise.allSettled([...this.#pending]);
                continue;
            }
            if (queue === this.#queue)
                break;
        }
        await Promise.allSettled([...this.#live.values()].map((l) => l.pod.logDone));
        this.#watcher.stop();
        if (this.#unrecorded.length > 0)
            o.onUnrecorded?.([...this.#unrecorded].sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : a.attempt - b.attempt)));
        const state = this.#scheduler.state();
        const tails = {};
        // A matrix task's tails are its instances'.
        for (const t of state.tasks.flatMap((x) => x.instances ?? [x])) {
            const live = this.#lastAttempt.get(t.id);
            const tail = live?.pod.tail();
            if (tail && t.result !== 'succeeded')
                tails[t.id] = tail;
        }
        await o.reporter.runFinished?.(state, tails);
        if (this.#fatal)
            throw this.#fatal;
        return state;
    }
    /** Runs `fn` after everything queued before it; errors end the run instead of vanishing. */
    #enqueue(fn) {
        this.#queue = this.#queue
            .then(fn)
            .catch((err) => this.#onFatal(err))
            .catch((err) => {
            // Even the way out failed (a bug): end the run with the error rather than hang.
            this.#fatal ??= err;
            this.#finish();
        });
    }
    /** Keeps track of background work (creates, deletes) that must end before the run does. */
    #track(p) {
        const q = p.catch((err) => this.#o.debug?.(`background request failed: ${err.message}`)).finally(() => this.#pending.delete(q));
        this.#pending.add(q);
    }
    async #onFatal(err) {
        if (this.#fatal || this.#scheduler.isDone())
            return;
        this.#fatal = err instanceof errors/* KubeError */.a3 ? err : new errors/* KubeError */.a3(`The run stopped: ${err.message ?? String(err)}`, null, { cause: err });
        // The run cannot be followed any more: delete what runs, like a cancel.
        await this.#feed({ type: 'cancel', at: this.#clock.now(), reason: 'signal' });
        for (const live of this.#live.values()) {
            if (!live.finished)
                await this.#endAttempt(live, cancelledOutcome('the run stopped: the cluster can no longer be watched'));
        }
    }
    async #feed(event) {
        if (event.type === 'cancel' && event.reason === 'signal')
            this.#cancelledBySignal = true;
        await this.#apply(this.#scheduler.handle(event));
    }
    async #apply(decisions) {
        for (const d of decisions) {
            await this.#o.reporter.decision?.(d, this.#view);
            switch (d.type) {
                case 'start':
                    this.#startAttempt(d.task, d.attempt, d.poke);
                    break;
                case 'cancel':
                    for (const a of d.attempts) {
                        const live = this.#find(a.task, a.attempt);
                        if (!live)
                            continue;
                        live.cancelAsked = true;
                        live.cancelWords = d.reason === 'fail-fast' ? 'another instance of its matrix failed (fail-fast); the pod was deleted' : undefined;
                        // A pod whose create has not answered yet is deleted when it answers.
                        if (live.started)
                            await this.#cancelAttempt(live);
                        else if (live.held) {
                            live.held.cancel();
                            await this.#endAttempt(live, cancelledOutcome(live.cancelWords ?? 'the run was cancelled before the pod was created'));
                        }
                    }
                    break;
                case 'done':
                    this.#finish();
                    break;
                default:
                    break;
            }
        }
        this.#armTimer();
    }
    #find(task, attempt) {
        const l = this.#lastAttempt.get(task);
        return l && l.attempt === attempt ? l : undefined;
    }
    /**
     * Renders and creates the attempt's pod (in the background); 409 adopts the existing pod.
     * `task` is a task id or a matrix instance id; `poke` is a sensor's poke (a pod of its own).
     */
    #startAttempt(task, attempt, poke) {
        const o = this.#o;
        const unit = this.#scheduler.unit(task);
        const spec = unit.spec;
        const instance = unit.group === null ? null : { id: task, group: unit.group };
        const name = (0,kube_pod/* podName */.Bh)({ dag: o.spec.name, runId: this.#runId, scope: (0,common_run/* runScope */.AO)(o.context), runAttempt: o.context.runAttempt, task, attempt, poke });
        const live = {
            task,
            attempt,
            poke,
            pod: this.#runner.attempt({ task, attempt, pod: name }, (text, time) => o.reporter.logLine?.({ task, attempt, text, time })),
            createdAt: this.#clock.now(),
            started: false,
            finished: false,
            cancelAsked: false,
            startTimeoutMs: spec.startTimeoutMs,
        };
        const previous = this.#lastAttempt.get(task);
        this.#live.set(name, live);
        this.#lastAttempt.set(task, live);
        // A sensor's later pokes are never replayed: only its attempt's end is recorded, and replaying
        // it for every poke would stand in for pokes that should run.
        const rec = poke === undefined || poke === 1 ? o.recorded?.(task, attempt) : null;
        if (rec) {
            // It ran before a restart: replay it, create nothing. (The post step sweeps its pod.)
            this.#enqueue(async () => {
                this.#markStarted(live);
                live.pod.markGone();
                live.recorded = true;
                await this.#feed({ type: 'started', at: this.#clock.now(), task, attempt, pod: rec.pod ?? name, poke });
                await this.#endAttempt(live, rec.outcome);
            });
            return;
        }
        if (o.signal?.aborted) {
            // Cancelled before the pod was created: create nothing.
            this.#enqueue(() => this.#endAttempt(live, cancelledOutcome('the run was cancelled before the pod was created')));
            return;
        }
        // Only the tasks this task's templates refer to (O(references), not O(tasks): a wide DAG
        // would otherwise cost tasks² in snapshots).
        const tasks = {};
        for (const t of [spec.image, ...(spec.command ?? []), ...(spec.args ?? []), ...spec.env.map((e) => ('value' in e ? e.value : ''))]) {
            for (const expr of (0,template/* templateExpressions */.A_)(t)) {
                for (const { ref } of expr.refs) {
                    if ((ref.kind !== 'output' && ref.kind !== 'outputs' && ref.kind !== 'result') || tasks[ref.task] !== undefined)
                        continue;
                    const value = this.#scheduler.taskValue(ref.task);
                    if (value !== undefined && this.#scheduler.taskState(ref.task).result !== null)
                        tasks[ref.task] = value;
                }
            }
        }
        let pod;
        try {
            const render = (t) => (0,template/* renderTemplate */.Xm)(t, { params: o.params, outputs: {}, tasks, matrix: unit.matrix, run: this.#run });
            pod = (0,kube_pod/* renderPod */.Ci)(spec, attempt, { spec: o.spec, namespace: o.namespace, runId: this.#runId, context: o.context, render, instance, poke });
            // What the pod runs, for a re-run that finds it ended unrecorded (its runner died): it must
            // compare the spec it runs with this one, not with its own (src/kube/earlier-attempts.ts).
            pod.metadata.annotations = { ...pod.metadata.annotations, [kube_pod/* ANNOTATIONS */.BC.fingerprint]: this.#fingerprint(unit.group ?? task) };
        }
        catch (err) {
            // An output an `if: always()` task refers to is missing, for one: a configuration error.
            this.#enqueue(() => this.#endAttempt(live, failure('configuration', 'TemplateError', `task "${task}": ${err.message}`)));
            return;
        }
        const create = () => {
            live.held = undefined;
            if (live.finished)
                return;
            if (live.cancelAsked || this.#cancelledBySignal) {
                this.#enqueue(() => this.#endAttempt(live, cancelledOutcome(live.cancelWords ?? 'the run was cancelled before the pod was created')));
                return;
            }
            this.#track(this.#create(live, pod));
        };
        // A retry never runs beside the attempt before it: its pod is created once that one's
        // container stopped (a pod evicted, preempted, deleted or past its deadline may run on for
        // its grace period after the attempt was judged).
        if (previous && poke === undefined && previous.attempt < attempt)
            this.#afterPodStops(previous, live, create);
        else
            create();
    }
    /** Whether the container of `prev`'s pod may still run (seen started, not seen ended, the pod not gone). */
    #mayStillRun(prev, pod) {
        if (!prev.started || prev.recorded || prev.pod.gone || prev.pod.foreign || !pod)
            return false;
        return (0,classify/* containerStarted */.h0)(pod) && !(0,classify/* containerTerminated */.Xp)(pod);
    }
    /**
     * Runs `create` (the next attempt's) once the container of `prev`'s pod stopped: its end or its
     * pod's DELETED seen, or the moment its deletion takes effect (the kubelet then kills it), or,
     * when no deletion is seen (our delete failed), RETRY_HOLD_MS, so a pod that cannot be followed
     * never holds the run for ever.
     */
    #afterPodStops(prev, next, create) {
        if (!this.#mayStillRun(prev, this.#watcher?.pods.get(prev.pod.name)))
            return create();
        let cancelTimer = null;
        let at = 0;
        const release = () => {
            prev.stopped = undefined;
            next.held = undefined;
            cancelTimer?.();
        };
        const fire = () => {
            if (next.held === undefined)
                return;
            release();
            create();
        };
        const arm = (pod) => {
            const deletion = (0,time/* kubeTimeMs */.f)(pod?.metadata?.deletionTimestamp);
            const until = Math.max(at, deletion === null ? this.#clock.now() + RETRY_HOLD_MS : deletion + 1000);
            if (until === at)
                return;
            at = until;
            cancelTimer?.();
            cancelTimer = this.#clock.setTimer(until, () => this.#enqueue(fire));
        };
        next.held = { cancel: release };
        prev.stopped = (pod) => {
            if (!this.#mayStillRun(prev, pod))
                fire();
            else if (pod)
                arm(pod);
        };
        arm(this.#watcher?.pods.get(prev.pod.name));
        this.#o.debug?.(`${next.task} attempt ${next.attempt} waits for pod ${prev.pod.name} of attempt ${prev.attempt} to stop: its container still runs`);
    }
    /** The fingerprint of a task (a matrix instance's is its task's) as the pod's annotation holds it; once per task. */
    #fingerprint(taskId) {
        let f = this.#fingerprints.get(taskId);
        if (f === undefined) {
            this.#tasks ??= new Map(this.#o.spec.tasks.map((t) => [t.id, t]));
            const task = this.#tasks.get(taskId);
            f = task === undefined ? '' : JSON.stringify((0,rerun/* taskFingerprint */.YH)(task, this.#o.params));
            this.#fingerprints.set(taskId, f);
        }
        return f;
    }
    async #create(live, pod) {
        const o = this.#o;
        const created = await live.pod.create(pod);
        if (!created.ok) {
            this.#enqueue(() => this.#endAttempt(live, created.failure));
            return;
        }
        const adopted = created.adopted;
        // Now, not in the queue: a list that starts after this and lacks the pod proves it gone
        // (created and deleted while the watch was away), which no event would ever tell.
        const uid = live.pod.uid;
        if (uid !== null)
            this.#watcher?.created(live.pod.name, uid);
        this.#enqueue(async () => {
            if (live.finished)
                return;
            this.#markStarted(live);
            await this.#feed({ type: 'started', at: this.#clock.now(), task: live.task, attempt: live.attempt, pod: live.pod.name, poke: live.poke });
            await o.reporter.podCreated?.(live.task, live.attempt, live.pod.name, adopted, live.poke);
            if (live.cancelAsked || this.#cancelledBySignal) {
                live.cancelAsked = true;
                await this.#cancelAttempt(live);
                return;
            }
            // The create's answer shows a pod the kubelet would run more than once: refused and
            // deleted now, whatever the watch has (or has not yet) shown of it.
            if (created.rerunnable !== undefined) {
                live.pod.drop();
                await this.#endAttempt(live, failure('configuration', 'RestartPolicyChanged', `${created.rerunnable}. The pod was deleted`));
                return;
            }
            // Events about the pod may have come before the create answered: look at it now.
            const known = this.#watcher?.pods.get(live.pod.name);
            if (known)
                await this.#observe(live, known, false);
            else if (live.pod.gone)
                await this.#endAttempt(live, failure('infrastructure', 'Deleted', 'the pod was deleted by someone else right after it was created'));
        });
    }
    async #onPodEvent(e) {
        const name = e.pod.metadata?.name ?? '';
        const live = this.#live.get(name);
        if (!live)
            return; // a pod of this run we did not start in this process: adopted on 409 if ever needed
        if (e.type === 'DELETED') {
            // The end of another pod of that name (one from before the attempt's own): not its end.
            if (!live.pod.markGone(e.pod.metadata?.uid))
                return;
            // Nothing more can happen to a finished attempt whose pod is gone: forget it, so a run
            // holds what runs (and the tails of failures), not every attempt it ever made.
            if (live.finished)
                this.#live.delete(name);
        }
        live.stopped?.(e.type === 'DELETED' ? null : e.pod);
        if (!live.started)
            return;
        await this.#observe(live, e.pod, e.type === 'DELETED');
    }
    /** Looks at the latest state of an attempt's pod: starts or ends its log, judges the attempt. */
    async #observe(live, pod, deleted) {
        // A pod under the attempt's name that is not this run's: nothing of it is used or touched.
        if (live.pod.foreign)
            return;
        const refused = await live.pod.vet(pod);
        // A pod of that name from before the attempt's own (an earlier process's, deleted since): wait for ours.
        if (refused === 'older')
            return;
        if (refused !== null) {
            await this.#endAttempt(live, refused);
            return;
        }
        // A pod the kubelet may run again is refused before anything of it is read or told.
        const rerunnable = live.finished ? null : (0,classify/* restartPolicyChange */.CF)(pod);
        if (rerunnable !== null) {
            live.pod.drop();
            await this.#endAttempt(live, failure('configuration', 'RestartPolicyChanged', `${rerunnable}. The pod was deleted`), pod);
            return;
        }
        const now = this.#clock.now();
        if ((0,classify/* containerStarted */.h0)(pod) && !deleted) {
            // "Created" and "started" are different moments: tell the second once, before its log.
            if (!live.containerSeen && !live.finished && (live.poke ?? 1) === 1)
                this.#o.reporter.containerStarted?.(live.task, live.attempt, pod.spec?.nodeName ?? null, now - live.createdAt);
            live.containerSeen = true;
            live.pod.followLog();
            this.#awaitLogEnd(live);
        }
        if ((0,classify/* containerTerminated */.Xp)(pod)) {
            live.pod.containerTerminated();
            // A log that cannot be read to its end must not hold the result line for ever.
            if (live.logEnd && !live.logEnd.told && !live.logEnd.cancelTimer) {
                live.logEnd.cancelTimer = this.#clock.setTimer(this.#clock.now() + LOG_WAIT_MS, () => this.#enqueue(() => this.#tellLogEnded(live)));
            }
        }
        if (live.finished)
            return;
        const outcome = (0,classify/* classifyPod */.Eg)(pod, {
            now,
            createdAt: live.createdAt,
            startTimeoutMs: live.startTimeoutMs,
            imagePullGraceMs: this.#o.imagePullGraceMs ?? 30_000,
            // Deleted by someone else: gone, or being deleted (a kubelet writes the container's end,
            // killed by the deletion, before the pod goes: a MODIFIED with deletionTimestamp first).
            deleted: (deleted || Boolean(pod.metadata?.deletionTimestamp)) && !live.pod.deletedByUs,
            task: live.task,
        });
        if (!outcome) {
            // Still waiting: say why (the reporter paces the lines), from the status the watch brought.
            const waiting = deleted || live.containerSeen ? null : (0,classify/* pendingStatus */._L)(pod);
            if (waiting !== null)
                this.#o.reporter.podPending?.(live.task, live.attempt, waiting, now);
            return;
        }
        // Fed at once, though the log may still be draining: the dependants start now.
        await this.#endAttempt(live, outcome, pod);
    }
    /** Once the attempt's log (just followed) has ended, tells the reporters (`logEnded`). */
    #awaitLogEnd(live) {
        if (live.logEnd)
            return;
        live.logEnd = { told: false };
        this.#track(live.pod.logDone.then(() => this.#enqueue(() => this.#tellLogEnded(live))));
    }
    #tellLogEnded(live) {
        const end = live.logEnd;
        if (!end || end.told)
            return;
        end.told = true;
        end.cancelTimer?.();
        this.#o.reporter.logEnded?.(live.task, live.attempt);
    }
    /** Feeds `finished` once, then cleans the pod up in the background per keep-pods. */
    async #endAttempt(live, outcome, pod) {
        if (live.finished)
            return;
        live.finished = true;
        live.held?.cancel();
        this.#active.delete(live);
        live.recheck = undefined;
        // Only failures' tails reach the summary, and a finished attempt is never cancelled.
        if (outcome.class === 'succeeded') {
            live.pod.releaseTail();
            if (this.#lastAttempt.get(live.task) === live)
                this.#lastAttempt.delete(live.task);
        }
        const at = this.#clock.now();
        await this.#feed({ type: 'finished', at, task: live.task, attempt: live.attempt, poke: live.poke, ...outcome });
        await this.#o.reporter.attemptFinished?.(live.task, live.attempt, outcome, this.#view);
        const hasPod = live.started && !live.pod.gone;
        // A pod whose container the kubelet may run again (its restart policy changed, or it did
        // restart) is deleted at once, as one still running, whatever its container's state now.
        const mayRunAgain = outcome.reason === 'RestartPolicyChanged' || outcome.reason === 'Restarted';
        const stillRunning = hasPod && (!pod || !(0,classify/* containerTerminated */.Xp)(pod) || mayRunAgain);
        // A sensor's "not yet" is no failure: no pod is kept between pokes.
        const sensor = live.poke === undefined ? null : this.#scheduler.unit(live.task).spec.sensor;
        const notYet = sensor != null && outcome.class === 'failed' && outcome.exitCode !== null && sensor.notYetExitCodes.includes(outcome.exitCode);
        const keep = hasPod && !stillRunning && !notYet && (this.#o.keepPods === 'always' || (this.#o.keepPods === 'on-failure' && outcome.class !== 'succeeded'));
        // The pod is the record until it is deleted (a restart adopts it): the end of an attempt whose
        // ended pod stays (kept, or waiting for a delete batch) is written when a batch needs it or at
        // the run's end, with the others. Without such a pod (never created, gone, deleted now) it is
        // written at once.
        const reaped = hasPod && !stillRunning && live.poke === undefined;
        // The record is written in the background (the store batches the ends that come meanwhile):
        // the scheduler already knows the end, and nothing else waits for the write but the pod's delete.
        if (!live.recorded && this.#o.onAttemptEnd) {
            const result = this.#scheduler.taskState(live.task).result;
            const onAttemptEnd = this.#o.onAttemptEnd;
            const end = { task: live.task, attempt: live.attempt, pod: live.started ? live.pod.name : null, startedAt: live.createdAt, finishedAt: at, outcome, result };
            const defer = keep || reaped;
            const durable = (async () => onAttemptEnd(end, { defer }))().then(() => true, (err) => {
                const message = err instanceof Error ? err.message : String(err);
                this.#o.debug?.(`could not record the end of ${live.task} attempt ${live.attempt} (${message}); keeping its pod`);
                // Its pod is kept only if it ended (one still running is deleted, a sensor's "not yet"
                // is no end) and exists (one never created or gone keeps nothing).
                this.#unrecorded.push({ task: live.task, attempt: live.attempt, pod: hasPod && !stillRunning && !notYet ? live.pod.name : null, error: message });
                return false;
            });
            live.durable = durable;
            // The run reports its end only once every record is written (or failed).
            this.#track(durable);
        }
        if (!hasPod || keep)
            return;
        const durable = live.durable ?? Promise.resolve(true);
        this.#track((async () => {
            // The log is read to its end before the pod goes (a Pending pod has none). A settled
            // pod (ended, read) goes with a batch, which first writes its record; one still running
            // alone, at once.
            if (!stillRunning)
                await live.pod.logDone;
            else
                live.pod.stopLog();
            // Deleted only once its end is durably recorded: a crash after the delete must find the
            // record (else a restart would create the attempt's pod again). A pod whose end could not
            // be recorded is kept, so a restart can still adopt it, unless it still runs.
            if (reaped)
                return live.pod.delete(0, this.#reaper, durable);
            if (!(await durable) && !stillRunning && !notYet)
                return;
            await live.pod.delete(stillRunning ? (this.#o.cancelGraceSeconds ?? 2) : 0);
        })());
    }
    async #cancelAttempt(live) {
        if (live.finished)
            return;
        live.pod.stopLog();
        this.#track(live.pod.delete(this.#o.cancelGraceSeconds ?? 2));
        await this.#endAttempt(live, cancelledOutcome(live.cancelWords ?? 'the run was cancelled; the pod was deleted'));
    }
    #markStarted(live) {
        live.started = true;
        if (!live.finished)
            this.#active.add(live);
    }
    /** One timer at the earliest due time: a retry, the DAG timeout, a grace or start timeout. */
    #armTimer() {
        let at = this.#scheduler.nextWakeAt();
        for (const live of this.#active) {
            const pod = this.#watcher?.pods.get(live.pod.name);
            let r;
            if (pod === undefined)
                r = live.createdAt + live.startTimeoutMs;
            else if (live.recheck?.pod === pod)
                r = live.recheck.at;
            else {
                r = (0,classify/* recheckAt */.hW)(pod, { createdAt: live.createdAt, startTimeoutMs: live.startTimeoutMs, imagePullGraceMs: this.#o.imagePullGraceMs ?? 30_000 });
                live.recheck = { pod, at: r };
            }
            if (r !== null && (at === null || r < at))
                at = r;
        }
        if (at === this.#timerAt)
            return;
        this.#cancelTimer?.();
        this.#cancelTimer = null;
        this.#timerAt = at;
        if (at === null || this.#scheduler.isDone())
            return;
        this.#cancelTimer = this.#clock.setTimer(at, () => this.#enqueue(async () => {
            this.#timerAt = null;
            this.#cancelTimer = null;
            await this.#feed({ type: 'tick', at: this.#clock.now() });
            for (const live of [...this.#active]) {
                if (live.finished)
                    continue; // ended by an earlier turn of this loop
                const pod = this.#watcher?.pods.get(live.pod.name);
                if (pod)
                    await this.#observe(live, pod, false);
                else if (this.#clock.now() - live.createdAt >= live.startTimeoutMs) {
                    // Not even seen by the watch within the start timeout.
                    await this.#endAttempt(live, failure('timeout', 'StartTimeout', `pod ${live.pod.name} was not seen within the start timeout`));
                }
            }
            this.#armTimer();
        }));
    }
}
function cancelledOutcome(message) {
    return failure('cancelled', 'Cancelled', message);
}

;// CONCATENATED MODULE: ./lib/engine/index.js




/**
 * Runs the DAG (or, in `dry-run`, submits every pod with `dryRun=All`) and returns the final run
 * state. Reports through `options.reporter`. Throws KubeError only when the run cannot go on at
 * all (the watch was refused).
 */
async function runDag(options) {
    if (options.mode === 'dry-run')
        return (await dryRunDag(options)).state;
    return runEngine(options);
}


/***/ }),

/***/ 4998:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  Ng: () => (/* binding */ connect),
  Mz: () => (/* binding */ preflight)
});

// UNUSED EXPORTS: CREDENTIAL_PLUGIN_TIMEOUT_MS, CredentialPluginError, LEASE_PERMISSIONS, MINIMAL_ROLE_YAML, decodeKubeconfig, guardCredentialPlugin, kubeconfigProblem, permissionsFor, ruleGrants

// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(3024);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
// EXTERNAL MODULE: ./node_modules/@kubernetes/client-node/dist/index.js + 876 modules
var dist = __webpack_require__(9655);
// EXTERNAL MODULE: ./lib/kube/client.js
var kube_client = __webpack_require__(6254);
// EXTERNAL MODULE: ./lib/kube/errors.js
var errors = __webpack_require__(2474);
;// CONCATENATED MODULE: ./lib/kube/preflight-service-accounts.js

/** The permission the check needs; granted by `{apiGroups: [""], resources: [serviceaccounts], verbs: [get]}`. */
const SERVICE_ACCOUNT_READ = { verb: 'get', resource: 'serviceaccounts' };
/** Every ServiceAccount the spec's tasks name, in the order first named. */
function serviceAccountUses(spec) {
    const uses = new Map();
    for (const task of spec.tasks) {
        const name = task.pod.serviceAccountName;
        if (name === undefined || name === '')
            continue;
        const use = uses.get(name) ?? { name, tasks: [] };
        use.tasks.push({ id: task.id, line: task.pos.line, col: task.pos.col });
        uses.set(name, use);
    }
    return [...uses.values()];
}
/**
 * The ServiceAccounts of `uses` that do not exist in `namespace`, each as a sentence naming the
 * tasks and what to do; `[]` when all exist, or when the check cannot run (see the module's
 * comment). `canRead` says whether the credentials may get ServiceAccounts there.
 */
async function missingServiceAccounts(client, namespace, uses, canRead, file) {
    if (!canRead || uses.length === 0)
        return [];
    const found = await Promise.all(uses.map(async (use) => {
        try {
            await client.request(`get serviceaccount ${use.name}`, () => client.core.readNamespacedServiceAccount({ name: use.name, namespace }));
            return null;
        }
        catch (err) {
            return (0,errors/* classifyError */.fe)(err).kind === 'not-found' ? use : null;
        }
    }));
    return found
        .filter((use) => use !== null)
        .map((use) => {
        const tasks = use.tasks.map((t) => `"${t.id}" (${file}:${t.line}:${t.col})`).join(', ');
        return `ServiceAccount "${use.name}" does not exist in namespace "${namespace}", and pod.serviceAccountName of task${use.tasks.length > 1 ? 's' : ''} ${tasks} names it: the cluster's ServiceAccount admission would refuse ${use.tasks.length > 1 ? 'their pods' : 'its pod'}. Create it (kubectl -n ${namespace} create serviceaccount ${use.name}) or correct pod.serviceAccountName in the spec.`;
    });
}

// EXTERNAL MODULE: ./lib/common/duration.js
var duration = __webpack_require__(2081);
// EXTERNAL MODULE: ./lib/kube/server-url.js
var server_url = __webpack_require__(534);
// EXTERNAL MODULE: ./lib/common/url-credentials.js
var url_credentials = __webpack_require__(7835);
;// CONCATENATED MODULE: ./lib/kube/auth.js









const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/**
 * Builds the KubeConfig from the inputs and environment, per the precedence above. Runs exec
 * credential plugins once (so their token can be masked). Makes no request to the cluster.
 * Throws a KubeError that says what is missing or malformed and how to fix it.
 */
async function connect(auth, env, options = {}) {
    const secrets = new Set();
    const kc = new dist/* KubeConfig */.ypW();
    let source;
    let namespace = null;
    const kubeconfigInput = auth.kubeconfig?.trim();
    if (kubeconfigInput) {
        secrets.add(auth.kubeconfig);
        secrets.add(kubeconfigInput);
        const text = decodeKubeconfig(kubeconfigInput);
        secrets.add(text);
        secrets.add(Buffer.from(text, 'utf8').toString('base64'));
        try {
            kc.loadFromString(text);
        }
        catch (err) {
            throw new errors/* KubeError */.a3(`The kubeconfig input is not a valid kubeconfig (${err.message.split('\n')[0]}). Give the file's content, as YAML or base64 (e.g. \`base64 -w0 ~/.kube/config\`), in a secret.`);
        }
        source = 'kubeconfig-input';
    }
    else if (auth.server || auth.token) {
        if (!auth.server || !auth.token) {
            throw new errors/* KubeError */.a3(`Inputs \`server\` and \`token\` go together: got ${auth.server ? '`server` without `token`' : '`token` without `server`'}. Give both (and \`certificate-authority-data\`), or a \`kubeconfig\`.`);
        }
        secrets.add(auth.token);
        let caData;
        const ca = auth.certificateAuthorityData?.trim();
        if (ca)
            caData = ca.startsWith('-----BEGIN') ? Buffer.from(ca, 'utf8').toString('base64') : ca.replace(/\s+/g, '');
        if (caData && !Buffer.from(caData, 'base64').toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
            throw new errors/* KubeError */.a3('Input `certificate-authority-data` is not a base64-encoded PEM certificate. Give the cluster CA as in a kubeconfig\'s `certificate-authority-data` (base64 of the PEM).');
        }
        const serverProblem = (0,server_url/* serverUrlProblem */.A)(auth.server, false);
        if (serverProblem !== null)
            throw new errors/* KubeError */.a3(`Input \`server\` is "${(0,server_url/* shownServer */.H)(auth.server)}", ${serverProblem}`);
        kc.loadFromClusterAndUser({ name: 'pod-dag', server: auth.server, caData, skipTLSVerify: false }, { name: 'pod-dag', token: auth.token });
        source = 'token-input';
    }
    else if (env.KUBECONFIG || (homeKubeconfig(env) && (0,external_node_fs_.existsSync)(homeKubeconfig(env)))) {
        const files = kubeconfigFiles(env);
        if (files.length > 1 && !files.some((f) => (0,external_node_fs_.existsSync)(f))) {
            throw new errors/* KubeError */.a3(`KUBECONFIG lists ${files.join(', ')}, none of which exists. Check the step that should have written them.`);
        }
        for (const [i, file] of files.entries()) {
            if (!(0,external_node_fs_.existsSync)(file)) {
                if (i === 0 && files.length === 1)
                    throw new errors/* KubeError */.a3(`KUBECONFIG points at ${file}, which does not exist. Check the step that should have written it.`);
                continue;
            }
            const one = new dist/* KubeConfig */.ypW();
            try {
                one.loadFromFile(file);
            }
            catch (err) {
                throw new errors/* KubeError */.a3(`The kubeconfig file ${file} is not valid (${err.message.split('\n')[0]}).`);
            }
            secrets.add((0,external_node_fs_.readFileSync)(file, 'utf8'));
            if (kc.clusters.length === 0)
                kc.loadFromFile(file);
            else
                kc.mergeConfig(one, true);
        }
        source = 'kubeconfig-file';
    }
    else {
        const dir = options.serviceAccountDir ?? SA_DIR;
        if ((!env.KUBERNETES_SERVICE_HOST || !(0,external_node_fs_.existsSync)(external_node_path_.join(dir, 'token'))) && options.cli === true) {
            // `pod-dag run` has no inputs: only the kubeconfig kubectl would read.
            throw new errors/* KubeError */.a3(`No Kubernetes credentials found: KUBECONFIG is not set and ${homeKubeconfig(env) ?? '~/.kube/config'} does not exist. Point KUBECONFIG at a kubeconfig, or log in to the cluster the way kubectl needs (\`kubectl config current-context\` should name it).`);
        }
        if (!env.KUBERNETES_SERVICE_HOST || !(0,external_node_fs_.existsSync)(external_node_path_.join(dir, 'token'))) {
            throw new errors/* KubeError */.a3('No Kubernetes credentials found. Give the `kubeconfig` input (a kubeconfig in a secret), or `server` + `token` + `certificate-authority-data`, or run a step before this one that writes ~/.kube/config (azure/k8s-set-context, google-github-actions/get-gke-credentials, `aws eks update-kubeconfig`), or run on a runner inside the cluster. If you did pass a secret (`kubeconfig: ${{ secrets.KUBECONFIG }}`), it reached the action empty: check its name and that it exists for this repository or environment; a pull request from a fork is given no secrets (use `mode: plan` there).');
        }
        const host = env.KUBERNETES_SERVICE_HOST.includes(':') ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
        kc.loadFromClusterAndUser({ name: 'in-cluster', server: `https://${host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`, caFile: external_node_path_.join(dir, 'ca.crt'), skipTLSVerify: false }, { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: external_node_path_.join(dir, 'token') } } });
        secrets.add((0,external_node_fs_.readFileSync)(external_node_path_.join(dir, 'token'), 'utf8').trim());
        const nsFile = external_node_path_.join(dir, 'namespace');
        if ((0,external_node_fs_.existsSync)(nsFile))
            namespace = (0,external_node_fs_.readFileSync)(nsFile, 'utf8').trim() || null;
        source = 'in-cluster';
    }
    if (auth.context && source !== 'token-input' && source !== 'in-cluster') {
        if (!kc.getContextObject(auth.context)) {
            throw new errors/* KubeError */.a3(`Context "${auth.context}" is not in the kubeconfig; it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'no contexts'}.`);
        }
        kc.setCurrentContext(auth.context);
    }
    if (source !== 'token-input' && source !== 'in-cluster') {
        const problem = kubeconfigProblem(kc, source === 'kubeconfig-input' ? 'The kubeconfig input' : `The kubeconfig (${kubeconfigFiles(env).join(external_node_path_.delimiter)})`);
        if (problem !== null)
            throw new errors/* KubeError */.a3(problem);
    }
    if (!kc.getCurrentCluster()) {
        throw new errors/* KubeError */.a3(`The kubeconfig has no usable current context (current-context: "${kc.getCurrentContext() ?? ''}"). Set current-context in it or give the \`context\` input; it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'no contexts'}.`);
    }
    if (source !== 'in-cluster')
        namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? null;
    // A URL's user info (`https://user:password@host`): the password is a credential, and error
    // messages quote URLs whole.
    for (const cluster of kc.getClusters())
        for (const v of [...(0,url_credentials/* urlCredentials */.O)(cluster.server), ...(0,url_credentials/* urlCredentials */.O)(cluster.proxyUrl)])
            secrets.add(v);
    // Credentials an exec plugin hands out after connect (client-node runs it again when its token
    // expires) are new to the runner: they join `secrets` and the listeners mask them.
    const list = [];
    const listeners = [];
    const credential = (values) => {
        for (const v of values) {
            if (v.length < 4 || secrets.has(v))
                continue;
            secrets.add(v);
            list.push(v);
            for (const l of listeners)
                l(v);
        }
    };
    guardCredentialPlugin(kc, options.credentialPluginTimeoutMs, credential);
    // Whatever authenticates a request (an exec plugin, an OIDC refresh, a token file the kubelet
    // rotates every hour), the header it sets is a credential, told as it first goes out.
    const applyAuthorization = Reflect.get(kc, 'applyAuthorizationHeader');
    if (typeof applyAuthorization === 'function') {
        Object.defineProperty(kc, 'applyAuthorizationHeader', {
            configurable: true,
            writable: true,
            async value(opts) {
                await applyAuthorization.call(this, opts);
                const header = opts.headers?.['Authorization'] ?? opts.headers?.['authorization'];
                if (typeof header === 'string')
                    credential([header, header.replace(/^(Bearer|Basic)\s+/i, '')]);
            },
        });
    }
    for (const user of kc.getUsers()) {
        for (const v of [user.token, user.password, user.keyData, user.certData])
            if (v)
                secrets.add(v);
        const cfg = user.authProvider?.config;
        for (const k of ['access-token', 'id-token', 'refresh-token', 'client-secret'])
            if (typeof cfg?.[k] === 'string')
                secrets.add(cfg[k]);
        for (const e of user.exec?.env ?? [])
            if (e.value)
                secrets.add(e.value);
    }
    // Run the credential plugin now (exec, oidc, token file), so the token it hands out is masked
    // before any log line; client-node re-runs it when the token expires.
    try {
        const opts = { headers: {} };
        await kc.applyToHTTPSOptions(opts);
        const authz = opts.headers?.Authorization ?? opts.headers?.authorization;
        if (authz) {
            secrets.add(authz);
            secrets.add(authz.replace(/^(Bearer|Basic)\s+/i, ''));
        }
    }
    catch (err) {
        if (err instanceof CredentialPluginError)
            throw err;
        const user = kc.getCurrentUser();
        const reason = err.message.split('\n')[0];
        throw new errors/* KubeError */.a3(user?.exec || user?.authProvider
            ? `The kubeconfig's credential plugin failed (${reason}). Check that its command is installed on the runner and that the step which logged in to the cloud ran before this one.`
            : `The kubeconfig's credentials could not be read (${reason}). Check the user "${user?.name ?? ''}" and cluster "${kc.getCurrentCluster()?.name ?? ''}" of its current context: their certificate, key and token fields.`);
    }
    list.splice(0, list.length, ...[...secrets].filter((s) => s.length >= 4));
    return { kubeConfig: kc, namespace, secrets: list, source, onNewSecret: (listener) => void listeners.push(listener) };
}
/** How long a run of the kubeconfig's exec credential plugin may take before it is stopped. */
const CREDENTIAL_PLUGIN_TIMEOUT_MS = 60_000;
/**
 * A kubeconfig's exec credential plugin failed, was not found, or did not answer in time; the
 * message never holds what the plugin printed.
 */
class CredentialPluginError extends errors/* KubeError */.a3 {
    name = 'CredentialPluginError';
}
/**
 * What an exec credential plugin prints can hold credentials (a token in a debug line, a half
 * written JSON credential), and client-node rejects with its stderr (or a JSON error quoting its
 * stdout) as the message, which would reach the step log unmasked: the token is new, the runner
 * has never been told to mask it. So every failure of the plugin, when the action connects and
 * whenever client-node runs it again for a fresh token, becomes a CredentialPluginError that
 * names the command and says how much it printed, never what.
 *
 * client-node keeps its authenticators in a list it does not export; the exec one is found by its
 * shape (`execFn`, `getCredential`). Should a later version change that shape, nothing is wrapped
 * and test/security/credentials.test.ts fails.
 */
function guardCredentialPlugin(kc, timeoutMs = CREDENTIAL_PLUGIN_TIMEOUT_MS, onCredential) {
    const list = Reflect.get(kc, 'authenticators');
    if (!Array.isArray(list))
        return;
    for (const auth of list) {
        const original = auth['getCredential'];
        const spawnFn = auth['execFn'];
        if (typeof spawnFn !== 'function' || typeof original !== 'function' || auth['guarded'] === true)
            continue;
        auth['guarded'] = true;
        // client-node waits for the plugin without a limit: one that waits for a login prompt, or
        // hangs on the network, would hang the step with nothing in its log. Each run of it gets
        // `timeoutMs`, then SIGKILL (its children too would keep the pipes open: kill the group).
        let timedOut = 0;
        auth['execFn'] = (command, args, opts) => {
            const child = spawnFn(command, args ?? [], { ...opts, detached: process.platform !== 'win32' });
            const timer = setTimeout(() => {
                timedOut++;
                try {
                    if (child.pid !== undefined && process.platform !== 'win32')
                        process.kill(-child.pid, 'SIGKILL');
                    else
                        child.kill('SIGKILL');
                }
                catch {
                    child.kill('SIGKILL');
                }
            }, timeoutMs);
            child.once('close', () => clearTimeout(timer));
            child.once('error', () => clearTimeout(timer));
            return child;
        };
        auth['getCredential'] = async function (user) {
            const before = timedOut;
            try {
                const got = (await original.call(this, user));
                // Its token and key, new each time it runs, are told before client-node uses them.
                const status = got?.status ?? {};
                onCredential?.(['token', 'clientKeyData', 'clientCertificateData'].map((k) => status[k]).filter((v) => typeof v === 'string' && v !== ''));
                return got;
            }
            catch (err) {
                const command = user.exec?.command ?? user.authProvider?.config?.exec?.command ?? 'the exec plugin';
                if (timedOut > before) {
                    throw new CredentialPluginError(`The kubeconfig's credential plugin \`${command}\` (user "${user.name ?? ''}") did not answer within ${(0,duration/* formatDuration */.a)(timeoutMs)} and was stopped. It may be waiting for an interactive login, which a runner cannot give: run \`${command}\` in a step before this one to see what it waits for; check that the step which logged in to the cloud ran and that the plugin can reach its identity provider.`);
                }
                const code = err.code;
                if (code === 'ENOENT') {
                    throw new CredentialPluginError(`The kubeconfig's credential plugin \`${command}\` (user "${user.name ?? ''}") is not installed on the runner, or not on its PATH. Install it, or run the step that sets it up, before this one.`);
                }
                const printed = err instanceof Error ? err.message.length : 0;
                throw new CredentialPluginError(`The kubeconfig's credential plugin \`${command}\` (user "${user.name ?? ''}") failed${printed > 0 ? ` and printed ${printed} characters, not shown here because they may hold credentials` : ''}. Run \`${command}\` in a step before this one to see why; check that the step which logged in to the cloud ran and that its session has not expired.`);
            }
        };
    }
}
/** The kubeconfig files read when no credential input is given: KUBECONFIG's list, else ~/.kube/config. */
function kubeconfigFiles(env) {
    return env.KUBECONFIG ? env.KUBECONFIG.split(external_node_path_.delimiter).filter((f) => f) : [homeKubeconfig(env)];
}
const names = (list) => list.map((x) => `"${x.name}"`).join(', ') || 'none';
/**
 * What keeps the kubeconfig's current context from working, checked before any request, or null:
 * client-node would otherwise go on with a context whose user is missing (requests without
 * credentials, refused as if a permission were missing), send a server without a scheme to the
 * HTTP client (whose message names neither), and report a certificate file that is not there as
 * a failed credential plugin. `what` names the kubeconfig ("The kubeconfig input").
 */
function kubeconfigProblem(kc, what) {
    if (kc.getContexts().length === 0 && kc.getClusters().length === 0) {
        return `${what} holds no contexts and no clusters: it is not a kubeconfig, or an empty one. Give the file \`kubectl config view --raw --minify\` prints (it has clusters, users, contexts and current-context).`;
    }
    const current = kc.getCurrentContext();
    const context = current ? kc.getContextObject(current) : null;
    if (!context)
        return null; // the message of connect() names the contexts there are
    const cluster = kc.getCluster(context.cluster);
    if (cluster === null) {
        return `${what}: context "${context.name}" names cluster "${context.cluster}", which is not among its clusters (${names(kc.getClusters())}). Correct the context's cluster, or add the cluster.`;
    }
    if (context.user && kc.getUser(context.user) === null) {
        return `${what}: context "${context.name}" names user "${context.user}", which is not among its users (${names(kc.getUsers())}); without it every request would go without credentials. Correct the context's user, or add the user.`;
    }
    const serverProblem = (0,server_url/* serverUrlProblem */.A)(cluster.server, cluster.skipTLSVerify === true);
    if (serverProblem !== null)
        return `${what}: cluster "${cluster.name}" has server "${(0,server_url/* shownServer */.H)(cluster.server)}", ${serverProblem}`;
    const user = context.user ? kc.getUser(context.user) : null;
    const files = [
        [`cluster "${cluster.name}" certificate-authority`, cluster.caFile],
        [`user "${user?.name ?? ''}" client-certificate`, user?.certFile],
        [`user "${user?.name ?? ''}" client-key`, user?.keyFile],
    ];
    for (const [field, file] of files) {
        if (file && !(0,external_node_fs_.existsSync)(file))
            return `${what}: ${field} is ${file}, which does not exist on this machine. Give the file's content inline instead (${field.split(' ').at(-1)}-data, base64), or write the file in a step before this one.`;
    }
    const pem = [
        [`cluster "${cluster.name}" certificate-authority-data`, cluster.caData, 'CERTIFICATE'],
        [`user "${user?.name ?? ''}" client-certificate-data`, user?.certData, 'CERTIFICATE'],
        [`user "${user?.name ?? ''}" client-key-data`, user?.keyData, 'PRIVATE KEY'],
    ];
    for (const [field, data, kind] of pem) {
        if (data && !Buffer.from(data, 'base64').toString('utf8').includes(`-----BEGIN`)) {
            return `${what}: ${field} is not a base64-encoded PEM ${kind.toLowerCase()} (decoded, it has no "-----BEGIN" line). Copy it again from a working kubeconfig (\`kubectl config view --raw --minify\`).`;
        }
    }
    return null;
}
function homeKubeconfig(env) {
    const home = env.HOME ?? env.USERPROFILE;
    return home ? external_node_path_.join(home, '.kube', 'config') : null;
}
/** A kubeconfig given as YAML, or as base64 of it; which one is detected, not guessed from a flag. */
function decodeKubeconfig(input) {
    const t = input.trim();
    if (/^[A-Za-z0-9+/=\s_-]+$/.test(t) && !t.includes(':')) {
        const decoded = Buffer.from(t.replace(/\s+/g, ''), 'base64').toString('utf8');
        if (/\b(apiVersion|clusters|contexts|current-context)\b/.test(decoded))
            return decoded;
    }
    return t;
}
const RUN_PERMISSIONS = [
    { verb: 'create', resource: 'pods' },
    { verb: 'get', resource: 'pods' },
    { verb: 'list', resource: 'pods' },
    { verb: 'watch', resource: 'pods' },
    { verb: 'delete', resource: 'pods' },
    // Finished pods are deleted in batches, by label selector (src/kube/reaper.ts). Optional: a
    // Role from before it was needed still runs, deleting the pods one by one.
    { verb: 'deletecollection', resource: 'pods', optional: 'the pods of finished tasks are deleted one request each instead of in batches' },
    { verb: 'get', resource: 'pods', subresource: 'log' },
    // The run's state (for re-runs and reattach) lives in a ConfigMap; housekeeping lists old ones.
    { verb: 'get', resource: 'configmaps' },
    { verb: 'create', resource: 'configmaps' },
    { verb: 'update', resource: 'configmaps' },
    { verb: 'list', resource: 'configmaps' },
    { verb: 'delete', resource: 'configmaps' },
];
const DRY_RUN_PERMISSIONS = [{ verb: 'create', resource: 'pods' }];
/** What the `concurrency` lock needs: a Lease it can create, renew and watch. */
const LEASE_PERMISSIONS = ['get', 'create', 'update', 'watch'].map((verb) => ({
    verb,
    resource: 'leases',
    group: 'coordination.k8s.io',
}));
/** The permissions `preflight` checks for a mode (`concurrency` adds LEASE_PERMISSIONS). */
function permissionsFor(needs, options = {}) {
    if (needs === 'dry-run')
        return DRY_RUN_PERMISSIONS;
    return options.concurrency ? [...RUN_PERMISSIONS, ...LEASE_PERMISSIONS] : RUN_PERMISSIONS;
}
/** The smallest Role (and its binding) the action needs in its namespace; the README shows it. */
const MINIMAL_ROLE_YAML = (/* unused pure expression or super */ null && (`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-dag-action
  namespace: NAMESPACE
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["create", "get", "list", "watch", "delete", "deletecollection"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
  - apiGroups: [""]               # the run's state, for re-runs and reattach
    resources: ["configmaps"]
    verbs: ["get", "create", "update", "list", "delete"]
  - apiGroups: ["coordination.k8s.io"]   # only with the concurrency input
    resources: ["leases"]
    verbs: ["get", "create", "update", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: pod-dag-action
  namespace: NAMESPACE
subjects:
  - kind: ServiceAccount        # or User / Group: whoever the credentials authenticate as
    name: pod-dag-action
    namespace: NAMESPACE
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-dag-action
`));
function ruleFor(p) {
    const res = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    return `- apiGroups: ["${p.group ?? ''}"]\n  resources: ["${res}"]\n  verbs: ["${p.verb}"]`;
}
/**
 * Checks, before any pod is created: the server answers (network, TLS), the credentials are
 * accepted, the namespace exists, and every permission the mode needs is granted. One
 * SelfSubjectRulesReview lists the rules that apply in the namespace; a permission it does not
 * show granted (its list can be `incomplete`, and shows no rule of a webhook authorizer) is asked
 * of the authorizer itself with a SelfSubjectAccessReview, which decides. So a Role that grants
 * everything costs one request, and a missing permission is named exactly as before. For a run
 * given its `spec`, every ServiceAccount the spec names must exist (one read per name, only when
 * those rules grant `get serviceaccounts`). Throws one KubeError naming every problem and its fix.
 */
async function preflight(target, namespace, needs, options = {}) {
    const client = target instanceof dist/* KubeConfig */.ypW ? (0,kube_client/* createClient */.UU)(target) : target;
    const server = client.server;
    const perms = permissionsFor(needs, options);
    // Neither review needs a permission of its own (every authenticated user may ask), so their
    // answer separates "unreachable", "bad TLS" and "bad credentials" from "not allowed". A review
    // changes nothing, so a lost answer is asked again like any read: network errors, 5xx and 429
    // (after its Retry-After) within the retry budget (errors.ts).
    const granted = await rulesGranting(client, namespace, server);
    const reviews = await Promise.all(perms.map(async (p) => {
        if (granted.some((rule) => ruleGrants(rule, p)))
            return { p, allowed: true };
        const body = {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { namespace, verb: p.verb, resource: p.resource, subresource: p.subresource, group: p.group ?? '' } },
        };
        try {
            const r = await client.request(`SelfSubjectAccessReview ${p.verb} ${p.resource}`, () => client.authz.createSelfSubjectAccessReview({ body }));
            return { p, allowed: r.status?.allowed === true };
        }
        catch (err) {
            throw new errors/* KubeError */.a3(preflightMessage(err, server), (0,errors/* classifyError */.fe)(err), { cause: err });
        }
    }));
    const missing = reviews.filter((r) => !r.allowed && r.p.optional === undefined);
    const warnings = reviews
        .filter((r) => !r.allowed && r.p.optional !== undefined)
        .map((m) => `The Kubernetes credentials lack ${m.p.verb} ${m.p.subresource ? `${m.p.resource}/${m.p.subresource}` : m.p.resource} in namespace "${namespace}": ${m.p.optional}. Add it to the Role with this rule (the README shows the minimal Role):\n${ruleFor(m.p)}`);
    // A namespace that does not exist (a typo) grants nothing: said as such, not as missing rules.
    const namespaceKnown = await namespaceExists(client, namespace, server);
    if (missing.length) {
        const list = missing.map((m) => `  - ${m.p.verb} ${m.p.subresource ? `${m.p.resource}/${m.p.subresource}` : m.p.resource} in namespace "${namespace}"`).join('\n');
        const rules = missing.map((m) => ruleFor(m.p)).join('\n');
        // With a namespaced Role the namespace cannot be read, so a typo looks like no permission at all.
        const none = namespaceKnown === null && missing.length === perms.filter((p) => p.optional === undefined).length;
        throw new errors/* KubeError */.a3(`The Kubernetes credentials lack ${missing.length} permission${missing.length > 1 ? 's' : ''} this ${needs} needs:\n${list}\nGrant ${missing.length > 1 ? 'them' : 'it'} with a Role in namespace "${namespace}" bound to this identity, with these rules:\n${rules}\n(The README shows the minimal Role and RoleBinding.)` +
            (none
                ? `\nThey grant nothing at all in namespace "${namespace}": if it is not the namespace meant, or does not exist (they may not read namespaces, so the action cannot tell), set \`namespace\` in the spec or the action's input.`
                : ''));
    }
    // A run (not a dry run, whose server-side dry run meets the plugin for each pod) checks the
    // ServiceAccounts the spec names, when the rules read above let it (src/kube/preflight-service-accounts.ts).
    if (needs === 'run' && options.spec !== undefined) {
        const canRead = granted.some((rule) => ruleGrants(rule, SERVICE_ACCOUNT_READ));
        const missing = await missingServiceAccounts(client, namespace, serviceAccountUses(options.spec), canRead, options.spec.file);
        if (missing.length > 0)
            throw new errors/* KubeError */.a3(`Nothing was run: ${missing.join('\n')}`);
    }
    return { warnings };
}
/**
 * Whether `namespace` exists: true, null when the credentials may not read namespaces (a
 * namespaced Role cannot grant it; the pod create will say if it is missing). One that does not
 * exist is a KubeError naming it and how to create it.
 */
async function namespaceExists(client, namespace, server) {
    try {
        await client.request(`get namespace ${namespace}`, () => client.core.readNamespace({ name: namespace }));
        return true;
    }
    catch (err) {
        const e = (0,errors/* classifyError */.fe)(err);
        if (e.kind === 'not-found') {
            throw new errors/* KubeError */.a3(`Namespace "${namespace}" does not exist on ${server}. Create it (kubectl create namespace ${namespace}) or set \`namespace\` in the spec or the action's input.`, e);
        }
        if (e.kind === 'forbidden')
            return null;
        throw new errors/* KubeError */.a3(preflightMessage(err, server), e, { cause: err });
    }
}
/**
 * The resource rules a SelfSubjectRulesReview shows granted in `namespace`: none if the server
 * does not serve the review or refuses it (then every permission is asked on its own).
 */
async function rulesGranting(client, namespace, server) {
    const body = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } };
    try {
        const r = await client.request(`SelfSubjectRulesReview in ${namespace}`, () => client.authz.createSelfSubjectRulesReview({ body }));
        // An incomplete list still grants what it shows; what it does not show is asked.
        return r.status?.resourceRules ?? [];
    }
    catch (err) {
        const e = (0,errors/* classifyError */.fe)(err);
        if (e.kind === 'forbidden' || e.kind === 'not-found' || e.kind === 'invalid')
            return [];
        throw new errors/* KubeError */.a3(preflightMessage(err, server), e, { cause: err });
    }
}
/**
 * Whether `rule` grants `p` on every object, as RBAC matches them (k8s.io/kubernetes
 * pkg/apis/rbac/v1 evaluation_helpers.go): `*` for verbs, groups and resources, `*\/<sub>` for a
 * subresource. A rule limited to resourceNames does not grant it on every object: not counted.
 */
function ruleGrants(rule, p) {
    if (rule.resourceNames && rule.resourceNames.length > 0)
        return false;
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const verbs = rule.verbs ?? [];
    const groups = rule.apiGroups ?? [];
    const resources = rule.resources ?? [];
    return ((verbs.includes('*') || verbs.includes(p.verb)) &&
        (groups.includes('*') || groups.includes(p.group ?? '')) &&
        resources.some((r) => r === '*' || r === resource || (p.subresource !== undefined && r === `*/${p.subresource}`)));
}
function preflightMessage(err, server) {
    const e = (0,errors/* classifyError */.fe)(err);
    if (e.kind === 'unauthorized') {
        return `The Kubernetes API server at ${server} rejected the credentials (401 Unauthorized): the token or client certificate is wrong or expired. Check the kubeconfig/token secret, or that the login step before this one ran.`;
    }
    return (0,errors/* describeError */.Uc)(err, 'check permissions (SelfSubjectRulesReview, SelfSubjectAccessReview)', server);
}


/***/ }),

/***/ 2239:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   CF: () => (/* binding */ restartPolicyChange),
/* harmony export */   Eg: () => (/* binding */ classifyPod),
/* harmony export */   Xp: () => (/* binding */ containerTerminated),
/* harmony export */   _L: () => (/* binding */ pendingStatus),
/* harmony export */   h0: () => (/* binding */ containerStarted),
/* harmony export */   hW: () => (/* binding */ recheckAt)
/* harmony export */ });
/* unused harmony export startErrorCause */
/* harmony import */ var _pod_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1794);

/** Waiting reasons that mean the image cannot be pulled (may be transient: a short grace). */
const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'RegistryUnavailable']);
/**
 * Waiting reasons about the image that no wait can fix: a name that does not parse, or an image
 * the node may never pull (`imagePullPolicy: Never`) and does not have. No grace.
 */
const IMAGE_FATAL_REASONS = new Set(['InvalidImageName', 'ErrImageNeverPull']);
/** Waiting reasons that mean the pod's configuration is wrong (missing secret, configmap…): no grace. */
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
/**
 * A CreateContainerConfigError that does not say something is missing ("secret "x" is forbidden …
 * no relationship found between node and this object" while the node authorizer has not yet seen
 * the pod's binding, "failed to sync secret cache: timed out"): the kubelet retries it, and it may
 * pass, so it gets the image pull's grace. One that names a missing Secret, ConfigMap or key fails
 * at once.
 */
function transientConfigError(waiting) {
    return waiting.reason === 'CreateContainerConfigError' && !/\bnot found\b|couldn't find key/i.test(waiting.message ?? '');
}
/** Pod-level `Failed` reasons set by the kubelet or the control plane when it is not the task's fault. */
const INFRA_POD_REASONS = new Set([
    'Evicted',
    'NodeLost',
    'Shutdown',
    'Terminated',
    'NodeShutdown',
    'UnexpectedAdmissionError',
    'OutOfcpu',
    'OutOfmemory',
    'OutOfpods',
    'NodeAffinity',
    'Preempting',
]);
/**
 * What a container runtime says when it cannot start the process, for causes that are in the
 * task's spec or its image (the command, the working directory, file modes), so another attempt
 * on any node fails the same way. Matched in the message of a `StartError` (containerd) or
 * `ContainerCannotRun` (dockershim, cri-dockerd) termination.
 */
const START_CONFIG_PATTERNS = [
    /executable file not found/,
    /no such file or directory/,
    /permission denied/,
    /exec format error/,
    /not a directory/,
    /no command specified/,
];
/** Termination reasons that mean the container process never started. */
const START_FAILURE_REASONS = new Set(['StartError', 'ContainerCannotRun']);
/**
 * The part of a runtime's start error a person needs: containerd wraps the cause in five layers
 * ("failed to create containerd task: failed to create shim task: OCI runtime create failed:
 * runc create failed: unable to start container process: exec: "x": executable file not found
 * in $PATH: unknown"); keep what follows the last wrapper, without the trailing ": unknown".
 */
function startErrorCause(message) {
    let cause = message.trim();
    const marker = 'unable to start container process: ';
    const at = cause.lastIndexOf(marker);
    if (at >= 0)
        cause = cause.slice(at + marker.length);
    cause = cause.replace(/^error during container init: /, '').replace(/: unknown$/, '');
    return cause;
}
function outcome(partial, pod) {
    return {
        reason: null,
        message: null,
        exitCode: null,
        outputs: {},
        node: pod.spec?.nodeName ?? null,
        ...partial,
    };
}
/**
 * The status of the task's own container, by its name, or undefined while the API lists none.
 * Never another container's: a mutating webhook may add containers to the pod (a service mesh's
 * proxy, a secrets agent), and the kubelet lists their statuses sorted by name, so "the first" is
 * often theirs; their exit code says nothing about the task.
 */
function mainStatus(pod) {
    return (pod.status?.containerStatuses ?? []).find((c) => c.name === _pod_js__WEBPACK_IMPORTED_MODULE_0__/* .CONTAINER */ .MR);
}
/** An API timestamp (a string from a watch's JSON, a Date from client-node's models) as epoch ms; NaN if absent. */
function epochMs(t) {
    if (t === undefined)
        return Number.NaN;
    return t instanceof Date ? t.getTime() : Date.parse(t);
}
/**
 * Whether the container ended after someone asked for the pod's deletion, i.e. the deletion ended
 * it (SIGTERM, then SIGKILL after the grace), whatever code a task that handles SIGTERM exits
 * with. The API keeps when the deletion takes effect (`deletionTimestamp` = request + grace);
 * both stamps are whole seconds, so a container that failed on its own within the second of the
 * request counts as deleted too.
 */
function endedByDeletion(pod, finishedAt) {
    const effective = epochMs(pod.metadata?.deletionTimestamp);
    const finished = epochMs(finishedAt);
    if (Number.isNaN(effective) || Number.isNaN(finished))
        return false;
    const requested = effective - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000;
    return finished >= Math.floor(requested / 1000) * 1000;
}
/**
 * The first init container that ended in failure (the pod's `restartPolicy: Never` ends the pod
 * with it, before the task's container runs). The spec has no init containers: an admission
 * webhook added it. Only asked of a Failed pod whose own container never ended. A native sidecar
 * (an init container with `restartPolicy: Always`, restarted by the kubelet) is skipped when the
 * pod's spec is at hand (a watched pod is slimmed to its status: src/kube/pod-api.ts).
 */
function failedInit(pod) {
    const sidecars = new Set((pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
    return (pod.status?.initContainerStatuses ?? []).find((c) => {
        const t = c.state?.terminated;
        return t !== undefined && t.exitCode !== 0 && !sidecars.has(c.name);
    });
}
/**
 * The outcome of an attempt from its pod, or `null` while it is still pending or running.
 *
 * Order matters: a container that terminated tells the truth about the task (even when the pod
 * was then evicted or deleted); pod-level signals (eviction, preemption, deadline) come next;
 * Pending-state checks (configuration errors, image pulls, start timeout) last.
 */
function classifyPod(pod, ctx) {
    const status = pod.status ?? {};
    const main = mainStatus(pod);
    // Before anything the container did: a pod whose container the kubelet may run again is not
    // one run of the task, whatever any of its runs said.
    const policy = restartPolicyChange(pod);
    if (policy !== null)
        return outcome({ class: 'configuration', reason: 'RestartPolicyChanged', message: policy }, pod);
    if ((main?.restartCount ?? 0) > 0)
        return outcome(restartedOutcome(pod, main), pod);
    const terminated = main?.state?.terminated;
    const disruption = (status.conditions ?? []).find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
    if (terminated) {
        const exitCode = terminated.exitCode;
        if (exitCode === 0) {
            const parsed = (0,_pod_js__WEBPACK_IMPORTED_MODULE_0__/* .parseOutputs */ .Q8)(terminated.message, ctx.task ?? pod.metadata?.labels?.['pod-dag.io/task'] ?? 'task');
            if (!parsed.ok)
                return outcome({ class: 'failed', reason: 'InvalidOutputs', message: parsed.error, exitCode }, pod);
            return outcome({ class: 'succeeded', reason: 'Completed', exitCode, outputs: parsed.outputs }, pod);
        }
        // A container killed because the pod was evicted, preempted or deleted under it is not the
        // task's failure: the disruption wins over the exit code it caused (137, 143).
        if (status.reason === 'Evicted') {
            return outcome({ class: 'infrastructure', reason: 'Evicted', message: status.message ?? 'the pod was evicted', exitCode }, pod);
        }
        if (disruption) {
            return outcome({ class: 'infrastructure', reason: disruption.reason ?? 'DisruptionTarget', message: disruption.message ?? 'the pod was disrupted', exitCode }, pod);
        }
        if (ctx.deleted && (exitCode === 137 || exitCode === 143 || endedByDeletion(pod, terminated.finishedAt))) {
            return outcome({ class: 'infrastructure', reason: status.reason ?? 'Deleted', message: status.message ?? `the pod was deleted by someone else while it ran (its container then exited with code ${exitCode})`, exitCode }, pod);
        }
        if (status.reason === 'DeadlineExceeded') {
            return outcome({ class: 'timeout', reason: 'DeadlineExceeded', message: status.message ?? 'the task ran longer than its timeout', exitCode }, pod);
        }
        const reason = terminated.reason ?? 'Error';
        if (START_FAILURE_REASONS.has(reason)) {
            // The process never ran, so there is no log: the runtime's words are all there is.
            const said = terminated.message?.trim() ?? '';
            const cause = said === '' ? 'the container runtime gave no message' : startErrorCause(said);
            if (START_CONFIG_PATTERNS.some((p) => p.test(said))) {
                return outcome({ class: 'configuration', reason, message: `the container could not start: ${cause}; check the task's command, workingDir and image`, exitCode }, pod);
            }
            return outcome({ class: 'failed', reason, message: `the container could not start: ${cause}`, exitCode }, pod);
        }
        const message = reason === 'OOMKilled'
            ? `OOMKilled: the container ran out of memory (exit code ${exitCode}); raise resources.limits.memory`
            : `exit code ${exitCode}${reason && reason !== 'Error' ? ` (${reason})` : ''}`;
        return outcome({ class: 'failed', reason, message, exitCode }, pod);
    }
    // The kubelet's own words ("The node was low on resource: memory…") say more than the
    // DisruptionTarget condition it adds (TerminationByKubelet).
    if (status.reason === 'Evicted') {
        return outcome({ class: 'infrastructure', reason: 'Evicted', message: status.message ?? 'the pod was evicted' }, pod);
    }
    if (disruption) {
        return outcome({ class: 'infrastructure', reason: disruption.reason ?? 'DisruptionTarget', message: disruption.message ?? 'the pod was disrupted' }, pod);
    }
    if (status.phase === 'Failed') {
        if (status.reason === 'DeadlineExceeded') {
            return outcome({ class: 'timeout', reason: 'DeadlineExceeded', message: status.message ?? 'the task ran longer than its timeout' }, pod);
        }
        if (status.reason && INFRA_POD_REASONS.has(status.reason)) {
            return outcome({ class: 'infrastructure', reason: status.reason, message: status.message ?? null }, pod);
        }
        const init = failedInit(pod);
        if (init) {
            const t = init.state.terminated;
            const why = t.reason && t.reason !== 'Error' ? ` (${t.reason}${t.message ? `: ${t.message.trim()}` : ''})` : '';
            return outcome({
                class: 'infrastructure',
                reason: 'InitContainerFailed',
                message: `init container "${init.name}" exited with code ${t.exitCode}${why} before the task's container ran; the spec has no init containers, so an admission webhook added it: see its log with kubectl logs -c ${init.name}`,
            }, pod);
        }
        return outcome({ class: 'infrastructure', reason: status.reason ?? 'PodFailed', message: status.message ?? 'the pod failed before its container ran' }, pod);
    }
    if (status.phase === 'Succeeded') {
        // Succeeded without a terminated container status should not happen; never call it success.
        return outcome({ class: 'infrastructure', reason: 'NoContainerStatus', message: 'the pod reports Succeeded but its container status is missing' }, pod);
    }
    if (ctx.deleted) {
        return outcome({ class: 'infrastructure', reason: 'Deleted', message: 'the pod was deleted by someone else before its container finished' }, pod);
    }
    const waiting = main?.state?.waiting;
    const pending = ctx.now - ctx.createdAt;
    if (waiting?.reason && CONFIG_REASONS.has(waiting.reason) && (!transientConfigError(waiting) || pending >= ctx.imagePullGraceMs)) {
        return outcome({ class: 'configuration', reason: waiting.reason, message: waiting.message ?? waiting.reason }, pod);
    }
    if (waiting?.reason && IMAGE_FATAL_REASONS.has(waiting.reason)) {
        return outcome({ class: 'configuration', reason: waiting.reason, message: waiting.message ?? `cannot use image ${main?.image ?? ''}`.trim() }, pod);
    }
    if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason) && pending >= ctx.imagePullGraceMs) {
        return outcome({ class: 'configuration', reason: waiting.reason, message: waiting.message ?? `cannot pull image ${main?.image ?? ''}`.trim() }, pod);
    }
    const running = main?.state?.running !== undefined;
    if (!running && (status.phase === 'Pending' || status.phase === undefined) && pending >= ctx.startTimeoutMs) {
        const sched = (status.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
        // The task's container only says it waits for the others ("PodInitializing", "ContainerCreating"):
        // a container a webhook added that cannot start (its image cannot be pulled) is the why.
        const stuck = waiting?.message ? undefined : blockingOther(pod);
        const why = sched?.message ??
            (stuck ? `container "${stuck.name}" (added by an admission webhook: the spec has no other containers) is waiting: ${stuck.state.waiting.reason}${stuck.state.waiting.message ? `: ${stuck.state.waiting.message}` : ''}` : null) ??
            waiting?.message ??
            waiting?.reason ??
            'the pod stayed Pending';
        return outcome({
            class: 'timeout',
            reason: sched?.reason ?? waiting?.reason ?? 'StartTimeout',
            message: `not started within the start timeout (${Math.round(ctx.startTimeoutMs / 1000)}s): ${why}`,
        }, pod);
    }
    return null;
}
/**
 * Why the pod as the API holds it lets the kubelet run the task's container more than once, or
 * null. pod-dag-action sends `restartPolicy: Never` and no restart policy of the container: a
 * retry is a new pod, decided by us. A mutating admission webhook or a policy engine (Kyverno,
 * Gatekeeper's mutation) may change that on create; then a failed run is run again by the kubelet
 * and a later run's exit 0 could pass for the task's. Read from the pod's spec as the create's
 * answer, a read or the watch brings it (src/kube/pod-api.ts `slimPod` keeps these fields); a
 * field absent (a pod seen without its spec) is no evidence. Native sidecars (init containers with
 * `restartPolicy: Always`) restart by design and are not the task: not looked at.
 */
function restartPolicyChange(pod) {
    const spec = pod.spec;
    const name = pod.metadata?.name ?? 'the pod';
    const changed = (field, value) => `pod ${name} has ${field}: ${JSON.stringify(value)}, but pod-dag-action created it with restartPolicy "Never" and nothing else: ` +
        'something in the cluster changed it on create, most likely a mutating admission webhook or a policy engine (Kyverno, Gatekeeper mutation). ' +
        "With it the kubelet would run the task's container again after it exits, and a later run's exit code could pass for the task's: no pod of it is used. " +
        `Exclude pods labelled ${_pod_js__WEBPACK_IMPORTED_MODULE_0__/* .LABELS */ .kg.managedBy}=${_pod_js__WEBPACK_IMPORTED_MODULE_0__/* .MANAGED_BY */ .Kf} from that mutation (kubectl get mutatingwebhookconfigurations; the policy engine's mutate rules)`;
    if (spec?.restartPolicy !== undefined && spec.restartPolicy !== 'Never')
        return changed('spec.restartPolicy', spec.restartPolicy);
    const task = (spec?.containers ?? []).find((c) => c.name === _pod_js__WEBPACK_IMPORTED_MODULE_0__/* .CONTAINER */ .MR);
    if (task?.restartPolicy !== undefined && task.restartPolicy !== 'Never')
        return changed(`the restartPolicy of its container "${_pod_js__WEBPACK_IMPORTED_MODULE_0__/* .CONTAINER */ .MR}"`, task.restartPolicy);
    if (task?.restartPolicyRules !== undefined && task.restartPolicyRules.length > 0)
        return changed(`restartPolicyRules on its container "${_pod_js__WEBPACK_IMPORTED_MODULE_0__/* .CONTAINER */ .MR}"`, task.restartPolicyRules);
    return null;
}
/**
 * The outcome of an attempt whose container the kubelet ran more than once (`restartCount > 0`),
 * whatever its last run says: never a success (a later run's exit 0, or outputs, are not the
 * task's one run). A failure of the task: the kubelet restarts a container only after it exited
 * (non-zero, under the restart policies that reach here), so its first run did not succeed.
 */
function restartedOutcome(pod, main) {
    const before = main.lastState?.terminated;
    const runs = main.restartCount + 1;
    const prior = before === undefined
        ? ''
        : ` after a run that exited with code ${before.exitCode}${before.reason && before.reason !== 'Error' ? ` (${before.reason})` : ''}`;
    return {
        class: 'failed',
        reason: 'Restarted',
        exitCode: main.restartCount === 1 && before !== undefined ? before.exitCode : null,
        message: `the task's container ran ${runs} times in pod ${pod.metadata?.name ?? '?'} (restartCount ${main.restartCount}): the kubelet restarted it${prior}. ` +
            "Only one run is the task's, so no run of it counts as a success, and the pod was deleted. " +
            `pod-dag-action creates its pods with restartPolicy "Never": find what restarts containers on node ${pod.spec?.nodeName ?? '?'} (a container restart rule, a webhook that changes restart policies)`,
    };
}
/**
 * When `classifyPod` may give a different answer for this pod without any change to it (a grace or
 * the start timeout running out), epoch ms; `null` when only a change of the pod can.
 */
function recheckAt(pod, ctx) {
    const main = mainStatus(pod);
    if (main?.state?.running || main?.state?.terminated)
        return null;
    const phase = pod.status?.phase;
    if (phase && phase !== 'Pending')
        return null;
    const at = [ctx.createdAt + ctx.startTimeoutMs];
    const waiting = main?.state?.waiting;
    if (waiting?.reason && (IMAGE_PULL_REASONS.has(waiting.reason) || transientConfigError(waiting)))
        at.push(ctx.createdAt + ctx.imagePullGraceMs);
    return Math.min(...at);
}
/** Waiting reasons that say only that a container waits its turn, not why it cannot start. */
const WAITING_ITS_TURN = new Set(['PodInitializing', 'ContainerCreating']);
/** Another container of the pod (an init container or sidecar a webhook added) waiting for a reason of its own. */
function blockingOther(pod) {
    const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    return all.find((c) => c.name !== _pod_js__WEBPACK_IMPORTED_MODULE_0__/* .CONTAINER */ .MR && c.state?.waiting?.reason !== undefined && !WAITING_ITS_TURN.has(c.state.waiting.reason));
}
/** Whether the task's container has terminated (its log is complete once read to the end). */
function containerTerminated(pod) {
    return mainStatus(pod)?.state?.terminated !== undefined;
}
/** Whether the task's container has started (its log can be read). */
function containerStarted(pod) {
    const s = mainStatus(pod)?.state;
    return s?.running !== undefined || s?.terminated !== undefined;
}
/**
 * Why the pod's container has not started, or `null` once it has (or the pod ended). Read from
 * the pod's status alone (the `PodScheduled` condition, the container's `waiting` state), which
 * the run's one watch already brings: no extra request.
 */
function pendingStatus(pod) {
    const status = pod.status ?? {};
    const main = mainStatus(pod);
    if (main?.state?.running || main?.state?.terminated)
        return null;
    if (status.phase !== undefined && status.phase !== 'Pending')
        return null;
    const node = pod.spec?.nodeName ?? null;
    const sched = (status.conditions ?? []).find((c) => c.type === 'PodScheduled');
    if (sched?.status === 'False')
        return { reason: sched.reason ?? 'Unschedulable', message: sched.message ?? null, node: null };
    const waiting = main?.state?.waiting;
    if (waiting?.reason)
        return { reason: waiting.reason, message: waiting.message ?? null, node };
    if (node !== null)
        return { reason: 'Scheduled', message: null, node };
    return { reason: 'Pending', message: null, node: null };
}


/***/ }),

/***/ 6254:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   UU: () => (/* binding */ createClient)
/* harmony export */ });
/* unused harmony exports WATCH_IDLE_MS, reusingConnections, MAX_CONNECTIONS */
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7598);
/* harmony import */ var node_https__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(4708);
/* harmony import */ var node_http__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(7067);
/* harmony import */ var node_tls__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(1692);
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(9655);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(2474);
/* harmony import */ var _rate_limit_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(6457);
/**
 * The connected client bundle: one KubeConfig, the typed APIs we use, and the two rules every
 * request follows: a client-side rate limit (token bucket) and retries of retriable errors
 * (src/kube/errors.ts). Log streams are opened here too, over node:https with the KubeConfig's
 * own TLS and auth options (exec plugins included), so a stream cut mid-way is seen as such.
 *
 * Requests reuse connections (keep-alive): a run makes about four requests per task, and a new
 * TLS handshake for each would cost more than the request itself (BENCHMARKS.md, row 1).
 */








/**
 * A watch that sends no byte for this long is taken for a dead connection (a NAT or load balancer
 * that dropped it without a FIN or RST, a server that hangs): client-node's Watch aborts it with a
 * TimeoutError and the watcher resumes from the last resourceVersion (src/kube/watch.ts). A live
 * watch is never this quiet: the engine asks the server to end each watch after 25 s
 * (`timeoutSeconds`), and kube-apiserver's watch cache sends a bookmark 2 s before that deadline
 * (k8s.io/apiserver pkg/storage/cacher/cache_watcher.go `nextBookmarkTime`; otherwise one a
 * minute). So a dead watch costs at most this long, and one request to resume.
 */
const WATCH_IDLE_MS = 30_000;
/**
 * Builds the bundle. Makes no request.
 *
 * The rate limit counts what kube-apiserver's own limits count. Its `LongRunningFunc`
 * (pkg/controlplane/apiserver/config.go: verbs watch, proxy; subresources attach, exec, proxy,
 * log, portforward) marks a log stream long-running, and both WithMaxInFlightLimit and
 * WithPriorityAndFairness (k8s.io/apiserver pkg/server/filters) serve long-running requests other
 * than watches without taking a seat: a log stream costs the server no share of its limits, so it
 * takes no token here. Watches do (APF holds a seat while a watch initialises), as does every
 * other request. 429 with Retry-After is honoured by the retries (withRetry) whatever the bucket.
 */
function createClient(kubeConfig, options = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .KubeError */ .a3('The kubeconfig has no current cluster: set current-context or give the `context` input.');
    const qps = options.qps === undefined ? _rate_limit_js__WEBPACK_IMPORTED_MODULE_6__/* .DEFAULT_QPS */ .D : options.qps;
    const limiter = qps === null ? null : new _errors_js__WEBPACK_IMPORTED_MODULE_5__/* .TokenBucket */ .qc({ qps, burst: options.burst ?? _rate_limit_js__WEBPACK_IMPORTED_MODULE_6__/* .DEFAULT_BURST */ .V });
    const server = cluster.server.replace(/\/+$/, '');
    const onRequest = options.onRequest ?? (() => { });
    const pooled = reusingConnections(kubeConfig);
    // Log streams: client-node's own agent for them keeps no connection alive, and keeps the TLS
    // options it was first built with (a client certificate an exec plugin renews would not take
    // effect). This one keeps connections alive and, like every https.Agent, pools them per TLS
    // options given with each request (CA, client certificate and key, server name, verification).
    // Through a proxy, client-node's agent stays (it tunnels).
    // Watches on an Agent of their own, with no bound on its connections: a watch holds its
    // connection until the server ends it (kube-apiserver: 30 min or more), so on the requests'
    // Agent MAX_CONNECTIONS watches (a wide backfill's runs, each with its watch) would leave the
    // creates and reads none.
    const watch = new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_4__/* .Watch */ .ox1(reusingConnections(kubeConfig, null));
    // client-node's own default is the same 30 s; set here so the engine's resume bound does not
    // move with a client-node release. The field is private in its types only (plain JS property;
    // test/engine/silent-watch.test.ts fails by its deadline if it stops taking effect).
    watch.requestTimeoutMs = options.watchIdleMs ?? WATCH_IDLE_MS;
    const streamAgent = cluster.proxyUrl ? null : new node_https__WEBPACK_IMPORTED_MODULE_1__.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
    const secureContexts = new SecureContexts();
    return {
        kubeConfig: pooled,
        server,
        core: pooled.makeApiClient(_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_4__/* .CoreV1Api */ .f5Y),
        authz: pooled.makeApiClient(_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_4__/* .AuthorizationV1Api */ .NwU),
        coordination: pooled.makeApiClient(_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_4__/* .CoordinationV1Api */ .hSW),
        async watchRequest(what, path, query, onEvent, onDone) {
            await limiter?.take();
            onRequest(what);
            return watch.watch(path, query, onEvent, onDone);
        },
        request(what, fn, opts = {}) {
            return (0,_errors_js__WEBPACK_IMPORTED_MODULE_5__/* .withRetry */ .bD)(async () => {
                await limiter?.take();
                onRequest(what);
                return fn();
            }, { ...options.retry, ...opts });
        },
        async openStream(path, query, signal) {
            // No token (see the interface): the limit counts what the API server counts.
            onRequest(`GET ${path}`);
            const url = new URL(server + path);
            for (const [k, v] of Object.entries(query))
                url.searchParams.set(k, v);
            const opts = { method: 'GET', headers: {} };
            await kubeConfig.applyToHTTPSOptions(opts);
            const lib = url.protocol === 'http:' ? node_http__WEBPACK_IMPORTED_MODULE_2__ : node_https__WEBPACK_IMPORTED_MODULE_1__;
            if (streamAgent && lib === node_https__WEBPACK_IMPORTED_MODULE_1__) {
                opts.agent = streamAgent;
                // One TLS context for all log streams with the same TLS options, not one per connection
                // (tls.connect builds one from ca/cert/key each time: ~50 KB of native memory apiece,
                // 200 streams at a time). The options stay in `opts`, so the agent still pools by them.
                opts.secureContext = secureContexts.get(opts);
            }
            return new Promise((resolve, reject) => {
                const req = lib.request(url, { ...opts, signal }, (res) => {
                    if (res.statusCode === 200) {
                        resolve(res);
                        return;
                    }
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('error', reject);
                    res.on('end', () => {
                        // Shaped like client-node's ApiException so classifyError reads it the same way.
                        reject(Object.assign(new Error(`HTTP ${res.statusCode} for GET ${path}`), { code: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
                    });
                });
                req.on('error', reject);
                req.end();
            });
        },
    };
}
/**
 * The TLS context for a request's TLS options, the last one kept: built again only when the
 * options change (a client certificate an exec plugin renewed).
 */
class SecureContexts {
    #key = null;
    #context = null;
    get(o) {
        const pem = (v) => (v == null ? '' : Array.isArray(v) ? v.map(pem).join('\0') : Buffer.isBuffer(v) ? v.toString('latin1') : String(v));
        const key = [pem(o.ca), pem(o.cert), pem(o.key), pem(o.pfx), pem(o.passphrase)].join('\u0001');
        if (this.#context === null || key !== this.#key) {
            this.#context = node_tls__WEBPACK_IMPORTED_MODULE_3__.createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase });
            this.#key = key;
        }
        return this.#context;
    }
}
/**
 * A view of `kubeConfig` whose typed-API requests (or watches: `createClient` makes one for each) reuse
 * connections, at most `maxConnections` at once (null: no bound).
 *
 * client-node 2.x builds a new undici Agent, so a new connection and TLS handshake, for every
 * request (`applySecurityAuthentication` → `createDispatcher`). The view keeps the Agent it built
 * last while the TLS options it was built from stay the same (CA, client certificate and key,
 * server name, verification), so a client certificate an exec plugin renews gets a new Agent
 * (the old one's idle connections close on their own). Everything else is client-node's: the
 * headers (tokens, exec plugins), and the dispatchers of proxies (HTTP and SOCKS) and of servers
 * without TLS options, which are left as they are. Its Agent speaks HTTP/1.1 only (`http1Only`
 * says why). The view delegates to `kubeConfig` (its
 * prototype), which is not changed.
 *
 * `createDispatcher` is private in client-node's types: should a later version rename it, the
 * view changes nothing and requests open connections as before (test/kube/client.test.ts fails).
 */
function reusingConnections(kubeConfig, maxConnections = MAX_CONNECTIONS) {
    const build = Reflect.get(kubeConfig, 'createDispatcher');
    if (typeof build !== 'function')
        return kubeConfig;
    let last = null;
    const view = Object.create(kubeConfig);
    Object.defineProperty(view, 'createDispatcher', {
        value(cluster, agentOptions) {
            const options = kubeConfig.createDispatcherOptions(cluster, agentOptions);
            const key = options.type === 'agent' ? fingerprint(options.connect) : null;
            if (key === null || options.type !== 'agent')
                return build.call(kubeConfig, cluster, agentOptions);
            if (last?.key !== key)
                last = { key, dispatcher: http1Only(build.call(kubeConfig, cluster, agentOptions), options.connect, maxConnections) };
            return last.dispatcher;
        },
    });
    return view;
}
/**
 * The most connections the typed requests keep open to the API server at once (an
 * undici Agent opens one per request in flight otherwise, without bound). Requests beyond it wait
 * in the Agent's queue for a free connection. Why: each TLS connection holds ~100-200 KB of native
 * memory (OpenSSL's buffers and context, the socket's), and a wide DAG with the rate limit lifted
 * had ~200 of them open, besides its log streams (BENCHMARKS.md, row 2: peak RSS 60-90 MB lower
 * at 2,000 tasks with 32, and no slower: fewer TLS handshakes). At the shipped rate limit (50
 * requests/s) a few are enough once the burst is spent. Watches, which hold their connection as long
 * as they last, are on an Agent of their own without this bound (`createClient`).
 */
const MAX_CONNECTIONS = 32;
/**
 * The same kind of undici Agent as client-node's `built`, speaking HTTP/1.1 only (`allowH2:
 * false`); `built` itself if it is not one (then nothing changes).
 *
 * Why: undici 8 negotiates HTTP/2, and kube-apiserver (UnauthenticatedHTTP2DOSMitigation) answers
 * a request it cannot authenticate with 401 and a GOAWAY sent *before* the 401's headers. Every
 * other request multiplexed on that connection and not yet taken by the server is refused, and
 * undici cannot replay it (fetch sends the body as a stream): it fails as `fetch failed` /
 * `HTTP/2: "GOAWAY" frame received with code 0`, a network error. Measured on v1.36.3, 8
 * SelfSubjectAccessReviews with a wrong token sent 3 ms apart on one Agent: over HTTP/2 one 401
 * and 7 GOAWAY errors (preflight could report "could not be reached"); over HTTP/1.1 eight 401s.
 * A graceful GOAWAY (`--goaway-chance`, an API server restarting) hits the same requests.
 * HTTP/1.1 costs a connection per request in flight (at most MAX_CONNECTIONS), kept alive and
 * reused (as client-node 1.x and our log streams do); the few watches a run opens hold one each, which also keeps long
 * watches and many concurrent requests clear of the streams kube-apiserver allows per HTTP/2
 * connection (--http2-max-streams-per-connection).
 */
function http1Only(built, connect, maxConnections) {
    const Agent = built !== null && typeof built === 'object' ? built.constructor : null;
    if (typeof Agent !== 'function' || Agent.name !== 'Agent' || typeof built.close !== 'function')
        return built;
    void built.close().catch(() => { });
    return new Agent({ connect, allowH2: false, ...(maxConnections === null ? {} : { connections: maxConnections }) });
}
/**
 * A digest of connection options (strings, buffers, numbers, booleans, or arrays of them), so
 * that no key material is kept as a map key; null for anything else (then nothing is reused).
 */
function fingerprint(options) {
    const hash = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256');
    for (const [name, value] of Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (value === undefined)
            continue;
        for (const part of Array.isArray(value) ? value : [value]) {
            if (Buffer.isBuffer(part))
                hash.update(`${name}:buffer:${part.length}:`).update(part);
            else if (typeof part === 'string')
                hash.update(`${name}:string:${part.length}:`).update(part);
            else if (typeof part === 'number' || typeof part === 'boolean')
                hash.update(`${name}:${typeof part}:${String(part)};`);
            else
                return null;
        }
    }
    return hash.digest('hex');
}
/** Re-exported so callers sleep the same way. */



/***/ }),

/***/ 6740:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   X_: () => (/* binding */ checkPods),
/* harmony export */   rn: () => (/* binding */ kubeClusterReader)
/* harmony export */ });
/* unused harmony exports podReferences, nodeProblems */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(2474);
/* harmony import */ var _quantity_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(724);



/** The reader of a connected client. */
function kubeClusterReader(client) {
    const absent = (err) => {
        if ((0,_errors_js__WEBPACK_IMPORTED_MODULE_0__/* .classifyError */ .fe)(err).kind === 'not-found')
            return null;
        throw err;
    };
    return {
        secretKeys: (namespace, name) => client
            .request(`get secret ${name}`, () => client.core.readNamespacedSecret({ name, namespace }))
            .then((s) => [...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})], absent),
        configMapKeys: (namespace, name) => client
            .request(`get configmap ${name}`, () => client.core.readNamespacedConfigMap({ name, namespace }))
            .then((c) => [...Object.keys(c.data ?? {}), ...Object.keys(c.binaryData ?? {})], absent),
        nodes: () => client.request('list nodes', () => client.core.listNode()).then((l) => l.items),
    };
}
/** Every Secret and ConfigMap a pod references: env, envFrom, volumes, projected volumes, image pull secrets. */
function podReferences(pod) {
    const refs = new Map();
    const add = (kind, name, keys, optional) => {
        if (name === undefined || name === '')
            return;
        const id = `${kind}/${name}`;
        const ref = refs.get(id) ?? { kind, name, keys: new Set(), optional: true };
        for (const k of keys)
            ref.keys.add(k);
        ref.optional &&= optional === true;
        refs.set(id, ref);
    };
    const spec = pod.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
        for (const e of c.env ?? []) {
            const s = e.valueFrom?.secretKeyRef;
            if (s)
                add('Secret', s.name, [s.key], s.optional);
            const m = e.valueFrom?.configMapKeyRef;
            if (m)
                add('ConfigMap', m.name, [m.key], m.optional);
        }
        for (const f of c.envFrom ?? []) {
            if (f.secretRef)
                add('Secret', f.secretRef.name, [], f.secretRef.optional);
            if (f.configMapRef)
                add('ConfigMap', f.configMapRef.name, [], f.configMapRef.optional);
        }
    }
    for (const v of spec?.volumes ?? []) {
        if (v.secret)
            add('Secret', v.secret.secretName, (v.secret.items ?? []).map((i) => i.key), v.secret.optional);
        if (v.configMap)
            add('ConfigMap', v.configMap.name, (v.configMap.items ?? []).map((i) => i.key), v.configMap.optional);
        for (const p of v.projected?.sources ?? []) {
            if (p.secret)
                add('Secret', p.secret.name, (p.secret.items ?? []).map((i) => i.key), p.secret.optional);
            if (p.configMap)
                add('ConfigMap', p.configMap.name, (p.configMap.items ?? []).map((i) => i.key), p.configMap.optional);
        }
    }
    // A missing pull secret only stops private pulls, but it is almost always a typo.
    for (const s of spec?.imagePullSecrets ?? [])
        add('Secret', s.name, [], false);
    return [...refs.values()];
}
function matchesExpression(labels, r) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.operator) {
        case 'In':
            return has && (r.values ?? []).includes(value);
        case 'NotIn':
            return !has || !(r.values ?? []).includes(value);
        case 'Exists':
            return has;
        case 'DoesNotExist':
            return !has;
        case 'Gt':
        case 'Lt': {
            const a = Number(value);
            const b = Number(r.values?.[0]);
            if (!has || !Number.isInteger(a) || !Number.isInteger(b))
                return false;
            return r.operator === 'Gt' ? a > b : a < b;
        }
        default:
            return false;
    }
}
/** Whether a toleration lets the pod onto a node with this taint. */
function tolerates(t, taint) {
    if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect)
        return false;
    if (t.operator === 'Exists')
        return t.key === undefined || t.key === '' || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}
/** Why a pod would fit on no node, or `[]`; what each node lacks is summed up per cause. */
function nodeProblems(pod, nodes) {
    const spec = pod.spec ?? { containers: [] };
    const selector = spec.nodeSelector ?? {};
    const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    const requests = new Map();
    for (const c of spec.containers ?? []) {
        // A resource with a limit and no request is requested at its limit, as the API server defaults it.
        const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
        for (const [k, v] of Object.entries(merged)) {
            const q = (0,_quantity_js__WEBPACK_IMPORTED_MODULE_1__/* .parseQuantity */ .L)(v);
            if (q !== null)
                requests.set(k, (requests.get(k) ?? 0) + q);
        }
    }
    const causes = new Map();
    const fail = (cause) => void causes.set(cause, (causes.get(cause) ?? 0) + 1);
    let fits = 0;
    for (const node of nodes) {
        const labels = node.metadata?.labels ?? {};
        if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) {
            fail(`nodeSelector ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(', ')} does not match its labels`);
            continue;
        }
        if (terms.length > 0 && !terms.some((t) => (t.matchExpressions ?? []).every((r) => matchesExpression(labels, r)) && (t.matchFields ?? []).every((r) => r.key === 'metadata.name' && matchesExpression({ 'metadata.name': node.metadata?.name ?? '' }, r)))) {
            fail('the required node affinity does not match its labels');
            continue;
        }
        const blocking = (node.spec?.taints ?? []).filter((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !(spec.tolerations ?? []).some((tol) => tolerates(tol, t)));
        if (blocking.length > 0) {
            fail(`it has a taint the pod does not tolerate (${blocking.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ')})`);
            continue;
        }
        if (node.spec?.unschedulable === true) {
            fail('it is cordoned');
            continue;
        }
        const allocatable = node.status?.allocatable ?? {};
        const short = [...requests].filter(([k, need]) => {
            const have = (0,_quantity_js__WEBPACK_IMPORTED_MODULE_1__/* .parseQuantity */ .L)(allocatable[k] ?? '0') ?? 0;
            return need > have;
        });
        if (short.length > 0) {
            fail(`its allocatable ${short.map(([k]) => `${k} (${allocatable[k] ?? '0'})`).join(', ')} is less than the pod requests`);
            continue;
        }
        fits++;
    }
    if (fits > 0)
        return [];
    if (nodes.length === 0)
        return ['the cluster has no nodes'];
    const total = nodes.length;
    return [`no node of ${total} can run it: ${[...causes].map(([c, n]) => `${n} ${n === 1 ? 'node' : 'nodes'}: ${c}`).join('; ')}`];
}
/** Why a read failed, in words, for a skipped check. */
function skipReason(err, what, namespace) {
    const e = (0,_errors_js__WEBPACK_IMPORTED_MODULE_0__/* .classifyError */ .fe)(err);
    if (e.kind === 'forbidden') {
        return `RBAC does not let these credentials ${what}${namespace === null ? ' (a cluster-wide permission, granted by a ClusterRole)' : ` in namespace ${namespace}`}`;
    }
    return `${what} failed: ${err.message ?? String(err)}`;
}
/**
 * Runs the checks for each task's rendered pod. Never throws for a read the credentials do not
 * allow or the cluster does not answer: that check is skipped, and the result says so.
 */
async function checkPods(pods, namespace, reader) {
    const problems = new Map(pods.map((p) => [p.task, []]));
    const skipped = [];
    const done = [];
    const note = (task, problem) => void problems.get(task).push(problem);
    // Secrets and ConfigMaps: one read per distinct object.
    const refs = pods.flatMap((p) => podReferences(p.pod).map((ref) => ({ task: p.task, ref })));
    const reads = new Map();
    for (const { ref } of refs) {
        const id = `${ref.kind}/${ref.name}`;
        if (reads.has(id))
            continue;
        const read = ref.kind === 'Secret' ? reader.secretKeys(namespace, ref.name) : reader.configMapKeys(namespace, ref.name);
        reads.set(id, read.catch((error) => ({ error })));
    }
    const forbidden = new Set();
    for (const { task, ref } of refs) {
        const got = await reads.get(`${ref.kind}/${ref.name}`);
        if (got !== null && !Array.isArray(got)) {
            if (!forbidden.has(ref.kind)) {
                forbidden.add(ref.kind);
                skipped.push({ check: `${ref.kind}s exist`, why: skipReason(got.error, `get ${ref.kind === 'Secret' ? 'secrets' : 'configmaps'}`, namespace) });
            }
            continue;
        }
        if (got === null) {
            if (!ref.optional)
                note(task, `${ref.kind} "${ref.name}" does not exist in namespace ${namespace}`);
            continue;
        }
        const missing = [...ref.keys].filter((k) => !got.includes(k));
        if (missing.length > 0 && !ref.optional) {
            note(task, `${ref.kind} "${ref.name}" has no key ${missing.map((k) => `"${k}"`).join(', ')} (it has ${got.length === 0 ? 'none' : got.map((k) => `"${k}"`).join(', ')})`);
        }
    }
    for (const kind of ['Secret', 'ConfigMap']) {
        if (refs.some((r) => r.ref.kind === kind) && !forbidden.has(kind))
            done.push(`every ${kind} the pods name exists, with its keys`);
    }
    // Nodes: one list for every pod.
    let nodes = null;
    try {
        nodes = await reader.nodes();
    }
    catch (err) {
        skipped.push({ check: 'a node can run each pod (selector, affinity, taints, resources)', why: skipReason(err, 'list nodes', null) });
    }
    if (nodes !== null) {
        for (const p of pods)
            for (const problem of nodeProblems(p.pod, nodes))
                note(p.task, problem);
        done.push(`a node can run each pod: node selector, required node affinity, taints and resource requests, against the ${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'}`);
    }
    return { problems, skipped, done };
}


/***/ }),

/***/ 2474:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   MW: () => (/* binding */ isAdmissionRefusal),
/* harmony export */   Mf: () => (/* reexport safe */ _common_clock_js__WEBPACK_IMPORTED_MODULE_0__.Mf),
/* harmony export */   Uc: () => (/* binding */ describeError),
/* harmony export */   a3: () => (/* binding */ KubeError),
/* harmony export */   bD: () => (/* binding */ withRetry),
/* harmony export */   fe: () => (/* binding */ classifyError),
/* harmony export */   gi: () => (/* binding */ admissionRefusal),
/* harmony export */   qc: () => (/* binding */ TokenBucket)
/* harmony export */ });
/* unused harmony exports retryAfterMs, isRetriable */
/* harmony import */ var _spec_k8s_pod_openapi_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(1578);
/* harmony import */ var _common_clock_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(9419);
/* harmony import */ var _common_errors_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(3302);
/* harmony import */ var _common_url_credentials_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(7835);
/* harmony import */ var _quantity_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(724);
/**
 * Kubernetes API errors, classified in ONE place (as client-go's retrywatcher and util/retry do).
 *
 * Every failure of a request to the API server goes through `classifyError`, which says what the
 * status means for us and whether trying again can help. Nothing else in the code looks at HTTP
 * status codes. The meaning of each status:
 *
 * - 401 Unauthorized: the credential is missing, wrong or expired. Stop; retrying cannot help.
 * - 403 Forbidden: authenticated, but RBAC refuses (stop; name the verb and resource so the user
 *   can grant it), or admission refuses the object (an exceeded ResourceQuota, PodSecurity, a
 *   webhook: a configuration error, in the server's words).
 * - 404 NotFound: the object (or the namespace) does not exist. For a delete it is success.
 * - 409 Conflict / AlreadyExists: on create, our deterministic pod name exists already, so the
 *   pod is adopted (a re-run or a retried request that reached the server); on update, a
 *   resourceVersion conflict.
 * - 410 Gone: a watch's resourceVersion is too old (etcd compacted it). List again.
 * - 400 BadRequest: the server could not decode the object; with `fieldValidation=Strict` (every
 *   pod we create) a field it does not know ("strict decoding error: unknown field ..."). A
 *   configuration error, with the server's own message. Never retried.
 * - 422 Invalid: the cluster rejected the object's schema; a configuration error whose `causes`
 *   name the fields. Never retried.
 * - 429 TooManyRequests: API priority and fairness or a proxy throttles us. Retry after the
 *   server's Retry-After, else with backoff.
 * - 500, 502, 503, 504: the server or a proxy in front of it failed. Retry after Retry-After or
 *   with backoff.
 * - Network errors (connection refused or reset, DNS, timeouts): the server could not be reached.
 *   Retried a few times (a flaky network), then reported with the server's URL and what to check.
 * - TLS errors (unknown CA, name mismatch, expired certificate): never retried; they name the
 *   server and the fix (certificate-authority-data).
 */

/** What an error from the API server (or the way to it) means for us. */




/** An error we raise ourselves with a message fit for the user (no stack trace needed). */
class KubeError extends _common_errors_js__WEBPACK_IMPORTED_MODULE_2__/* .UserError */ .y {
    /** The classification of the underlying API error, when there was one. */
    info;
    constructor(message, info = null, options) {
        super(message, options);
        this.name = 'KubeError';
        this.info = info;
    }
}
const TLS_CODES = new Set([
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'CERT_SIGNATURE_FAILURE',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'EPROTO',
]);
const NETWORK_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EPIPE',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'ERR_STREAM_PREMATURE_CLOSE',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Walks `err.cause` chains (fetch wraps the socket error in `TypeError: fetch failed`). */
function causes(err) {
    const out = [];
    let cur = err;
    for (let i = 0; i < 6 && cur !== null && typeof cur === 'object'; i++) {
        out.push(cur);
        cur = cur.cause;
    }
    return out;
}
/** Parses a Kubernetes `Status` body, which client-node hands over as text or an object. */
function parseStatusBody(body) {
    let obj = body;
    if (typeof body === 'string') {
        try {
            obj = JSON.parse(body);
        }
        catch {
            return { reason: null, message: body.trim() || null, causes: [], retryAfterSeconds: null };
        }
    }
    if (obj === null || typeof obj !== 'object')
        return { reason: null, message: null, causes: [], retryAfterSeconds: null };
    const s = obj;
    const list = Array.isArray(s.details?.causes) ? s.details.causes : [];
    return {
        reason: typeof s.reason === 'string' ? s.reason : null,
        message: typeof s.message === 'string' ? s.message : null,
        causes: list.map((c) => (c.field ? `${c.field}: ${c.message ?? ''}` : (c.message ?? ''))).filter((c) => c !== ''),
        retryAfterSeconds: typeof s.details?.retryAfterSeconds === 'number' ? s.details.retryAfterSeconds : null,
    };
}
/** Reads Retry-After (seconds or an HTTP date) from a header bag. */
function retryAfterMs(headers, now = _common_clock_js__WEBPACK_IMPORTED_MODULE_0__/* .systemClock */ .ml.now()) {
    if (headers === null || typeof headers !== 'object')
        return null;
    const h = headers;
    const raw = h['retry-after'] ?? h['Retry-After'];
    if (typeof raw !== 'string' || raw.trim() === '')
        return null;
    const secs = Number(raw);
    if (Number.isFinite(secs))
        return Math.max(0, secs * 1000);
    const date = Date.parse(raw);
    return Number.isFinite(date) ? Math.max(0, date - now) : null;
}
function kindOfStatus(status) {
    if (status === 401)
        return 'unauthorized';
    if (status === 403)
        return 'forbidden';
    if (status === 404)
        return 'not-found';
    if (status === 409)
        return 'conflict';
    if (status === 410)
        return 'gone';
    if (status === 422)
        return 'invalid';
    if (status === 429)
        return 'throttled';
    if (status === 400)
        return 'bad-request';
    if (status === 504 || status === 408)
        return 'timeout';
    if (status >= 500)
        return 'server';
    return 'unknown';
}
/**
 * Classifies anything a request to the API server may throw: client-node's `ApiException`
 * (`code`, `body`, `headers`), the Watch's `statusCode` errors, a Kubernetes `Status` object seen
 * in a watch ERROR event, and Node/undici network and TLS errors.
 */
function classifyError(err) {
    if (err instanceof KubeError && err.info)
        return err.info;
    const chain = causes(err);
    const top = chain[0] ?? {};
    // A Status object (from a watch ERROR event) or an ApiException.
    const status = typeof top.code === 'number' && top.code >= 100
        ? top.code
        : typeof top.statusCode === 'number'
            ? top.statusCode
            : top.kind === 'Status' && typeof top.code === 'number'
                ? top.code
                : null;
    if (status !== null) {
        const parsed = parseStatusBody(top.kind === 'Status' ? top : top.body);
        const kind = kindOfStatus(status);
        const headerWait = retryAfterMs(top.headers);
        const wait = headerWait ?? (parsed.retryAfterSeconds !== null ? parsed.retryAfterSeconds * 1000 : null);
        return {
            kind,
            status,
            reason: parsed.reason,
            message: parsed.message ?? (typeof top.message === 'string' && !top.message.startsWith('HTTP-Code') ? top.message : `HTTP ${status}`),
            causes: parsed.causes,
            retryAfterMs: wait,
            retriable: kind === 'throttled' || kind === 'server' || kind === 'timeout',
        };
    }
    for (const c of chain) {
        const code = typeof c.code === 'string' ? c.code : null;
        const msg = typeof c.message === 'string' ? c.message : String(c);
        if (c.name === 'AbortError' && !(typeof c.message === 'string' && c.message.includes('timeout'))) {
            return info('aborted', msg, false);
        }
        if (c.name === 'TimeoutError')
            return info('timeout', msg, true);
        if (code && TLS_CODES.has(code))
            return info('tls', `${code}: ${msg}`, false);
        if (code && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT')))
            return info('tls', `${code}: ${msg}`, false);
        if (code && TIMEOUT_CODES.has(code))
            return info('timeout', `${code}: ${msg}`, true);
        if (code && NETWORK_CODES.has(code))
            return info('network', `${code}: ${msg}`, true);
    }
    const msg = typeof top.message === 'string' ? top.message : String(err);
    // `fetch failed` says nothing: its innermost cause says what failed.
    const inner = chain.map((c) => (typeof c.message === 'string' ? c.message : '')).filter((m) => m !== '').at(-1) ?? msg;
    if (/fetch failed|socket hang up|terminated|other side closed/i.test(msg))
        return info('network', inner, true);
    return info('unknown', msg, false);
}
function info(kind, message, retriable) {
    return { kind, status: null, reason: null, message, causes: [], retryAfterMs: null, retriable };
}
/** The default `retriable` predicate: throttling, server errors, timeouts and network blips. */
function isRetriable(err) {
    return classifyError(err).retriable;
}
/** What to check for a failed TLS handshake, by what failed (the error's code leads its message). */
function tlsAdvice(message) {
    if (/^(ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)\b|wrong version number/.test(message)) {
        return 'What answers there does not speak TLS: check that the server URL is the API server\'s https:// address and port (not a plain-HTTP port, a proxy or a dashboard).';
    }
    if (/^CERT_HAS_EXPIRED\b/.test(message))
        return "The server's certificate has expired (or the runner's clock is wrong): renew the API server's certificate.";
    if (/^CERT_NOT_YET_VALID\b/.test(message))
        return "The server's certificate is not valid yet: check the runner's clock and the certificate's dates.";
    if (/^ERR_TLS_CERT_ALTNAME_INVALID\b/.test(message)) {
        return "The server's certificate does not name the host of the server URL: use the address the certificate was issued for (kubectl config view --minify shows the kubeconfig's), or add it to the certificate's names.";
    }
    return "The server's certificate is not trusted: give the cluster's CA in certificate-authority-data (or the kubeconfig's certificate-authority-data) and check that the server URL matches the certificate.";
}
/**
 * A sentence for the user about a failed request: what failed, what the server said, what to do.
 * `what` names the request ("create pod x in namespace y"); `server` is the API server's URL.
 */
function describeError(err, what, server) {
    const e = classifyError(err);
    // A server URL's password is masked, but is not shown at all: the user knows which server.
    const at = server ? ` at ${(0,_common_url_credentials_js__WEBPACK_IMPORTED_MODULE_3__/* .withoutUrlCredentials */ .e)(server)}` : '';
    switch (e.kind) {
        case 'unauthorized':
            return `Could not ${what}: the Kubernetes API server${at} rejected the credentials (401 Unauthorized). The token or client certificate is wrong or expired; check the kubeconfig/token input or the step that wrote ~/.kube/config.`;
        case 'forbidden':
            // RBAC says who cannot do what ("pods is forbidden: User ... cannot create resource ...").
            // Admission refuses the object itself (ResourceQuota, PodSecurity, a webhook), which no Role
            // can fix, and says so as `<kind> "<name>" is forbidden: <why>` or in a webhook's words.
            // Anything else (a bare "Forbidden"; a read, which admission never sees) is read as RBAC.
            if (isAdmissionRefusal(e.message)) {
                const a = admissionRefusal(e.message);
                return `Could not ${what}: refused by the namespace's admission policy (403${a.by === 'admission' ? '' : `, ${a.by}`}). ${e.message}. ${a.todo}`;
            }
            return `Could not ${what}: forbidden (403). ${e.message}. Grant the permission with a Role bound to this identity (see the README's minimal Role).`;
        case 'not-found':
            return `Could not ${what}: not found (404). ${e.message}`;
        case 'invalid':
            return `Could not ${what}: the cluster rejected it as invalid (422). ${e.message}${e.causes.length ? ` (${e.causes.join('; ')})` : ''}`;
        case 'bad-request':
            if (/strict decoding error/.test(e.message)) {
                return `Could not ${what}: the cluster does not know a field of it (400 BadRequest, field validation Strict). ${e.message}. The spec's pod: fields are checked offline against Kubernetes ${_spec_k8s_pod_openapi_js__WEBPACK_IMPORTED_MODULE_4__/* .KUBERNETES_VERSION */ .Q2}: check that the cluster's version has this field.`;
            }
            return `Could not ${what}: the cluster refused the request (400 BadRequest). ${e.message}`;
        case 'tls':
            return `Could not ${what}: TLS handshake with the API server${at} failed (${e.message.split('\n')[0].replace(/: [0-9A-F]{8,}:error:.*$/, '')}). ${tlsAdvice(e.message)}`;
        case 'network':
        case 'timeout':
            return `Could not ${what}: the API server${at} could not be reached (${e.message}). Check the server URL, that the cluster is running, and that the runner can reach it (firewall, VPN, private endpoint).`;
        case 'throttled':
            return `Could not ${what}: the API server kept throttling requests (429 Too Many Requests). ${e.message}`;
        case 'server':
            return `Could not ${what}: the API server answered ${e.status ?? ''} ${e.message}`.trim();
        default:
            return `Could not ${what}: ${e.status ? `HTTP ${e.status} ` : ''}${e.message}`;
    }
}
/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts (src/common/clock.ts). */

/**
 * Runs `fn` until it succeeds, fails with an error `retriable` rejects, or runs out of attempts.
 * Waits the server's Retry-After when given, else exponential backoff with jitter (client-go's
 * `retry.OnError` with a `wait.Backoff`).
 */
async function withRetry(fn, options = {}) {
    const retriable = options.retriable ?? isRetriable;
    const attempts = options.attempts ?? 6;
    const base = options.baseMs ?? 200;
    const max = options.maxMs ?? 10_000;
    const sleep = options.sleep ?? _common_clock_js__WEBPACK_IMPORTED_MODULE_0__/* .abortableSleep */ .Mf;
    const random = options.random ?? Math.random;
    const now = options.now ?? Date.now;
    const deadline = now() + (options.budgetMs ?? 120_000);
    for (let attempt = 1;; attempt++) {
        try {
            return await fn(attempt);
        }
        catch (err) {
            if (attempt >= attempts || !retriable(err) || options.signal?.aborted)
                throw err;
            const server = classifyError(err).retryAfterMs;
            const backoff = Math.min(max, base * 2 ** (attempt - 1));
            const wait = server !== null ? Math.min(server, 60_000) : Math.round(backoff * (0.5 + random() / 2));
            if (now() + wait > deadline)
                throw err;
            options.onRetry?.(err, attempt, wait);
            await sleep(wait, options.signal);
        }
    }
}
/**
 * A client-side token bucket (client-go's `flowcontrol.NewTokenBucketRateLimiter(qps, burst)`):
 * up to `burst` requests at once, refilled at `qps` per second. `take()` resolves when a token is
 * free. Keeps a burst of pod creations (a wide DAG) from tripping the server's throttling.
 */
class TokenBucket {
    #qps;
    #burst;
    #now;
    #sleep;
    #tokens;
    #last;
    #queue = Promise.resolve();
    constructor(options) {
        if (!(options.qps > 0) || !(options.burst >= 1)) {
            throw new Error(`TokenBucket needs qps > 0 and burst >= 1, got qps=${options.qps} burst=${options.burst}`);
        }
        this.#qps = options.qps;
        this.#burst = options.burst;
        this.#now = options.now ?? Date.now;
        this.#sleep = options.sleep ?? ((ms) => (0,_common_clock_js__WEBPACK_IMPORTED_MODULE_0__/* .abortableSleep */ .Mf)(ms));
        this.#tokens = options.burst;
        this.#last = this.#now();
    }
    #refill() {
        const now = this.#now();
        this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
        this.#last = now;
    }
    /** Waits for a token and takes it. Callers are served in order. */
    take() {
        const next = this.#queue.then(async () => {
            this.#refill();
            while (this.#tokens < 1) {
                await this.#sleep(Math.ceil(((1 - this.#tokens) / this.#qps) * 1000));
                this.#refill();
            }
            this.#tokens -= 1;
        });
        this.#queue = next;
        return next;
    }
}
/**
 * Reads a 403 admission message as kube-apiserver (v1.36) words it: the ServiceAccount plugin
 * (`error looking up service account ns/sa: serviceaccount "sa" not found`), ResourceQuota
 * (`exceeded quota: q, requested: cpu=2, used: cpu=3, limited: cpu=4`; `failed quota: q: must
 * specify limits.cpu for: main`), LimitRange (`maximum cpu usage per Container is 1, but limit is
 * 3`), PodSecurity (`violates PodSecurity "restricted:latest": ...`) and validating webhooks
 * (`admission webhook "w" denied the request: ...`).
 */
function admissionRefusal(message) {
    const sa = /error looking up service account ([^/\s]+)\/(\S+): serviceaccount "[^"]*" not found/.exec(message);
    if (sa) {
        const [, ns, name] = sa;
        const none = name === 'default' ? ` The task names no pod.serviceAccountName, so it runs as "default", which Kubernetes creates in every namespace and which is missing from ${ns}.` : '';
        return {
            by: 'the ServiceAccount admission plugin',
            todo: `The ServiceAccount "${name}" does not exist in namespace ${ns}: create it (kubectl -n ${ns} create serviceaccount ${name}) or correct pod.serviceAccountName in the spec.${none}`,
            mayPassLater: false,
        };
    }
    const exceeded = /exceeded quota: ([^,]+), requested: (.*?), used: (.*?), limited: (.*)$/.exec(message);
    if (exceeded) {
        const [, quota, requested, , limited] = exceeded;
        const hard = quantities(limited);
        const tooBig = [...quantities(requested)].filter(([r, q]) => hard.has(r) && q > hard.get(r)).map(([r]) => r);
        if (tooBig.length > 0) {
            return {
                by: 'ResourceQuota',
                todo: `The task asks for more ${tooBig.join(', ')} than the ResourceQuota "${quota}" allows in all, so it can never be admitted: lower the task's resources, or ask the cluster's administrators to raise the quota.`,
                mayPassLater: false,
            };
        }
        return {
            by: 'ResourceQuota',
            todo: `Other pods use up the ResourceQuota "${quota}" now; the pod fits it once they finish. Give the task a retries.infrastructure budget long enough to wait for them, lower maxParallel so the run's own pods fit the quota, or ask the cluster's administrators to raise it.`,
            mayPassLater: true,
        };
    }
    const failedQuota = /failed quota: ([^:]+): must specify (.*)$/.exec(message);
    if (failedQuota) {
        return {
            by: 'ResourceQuota',
            todo: `The ResourceQuota "${failedQuota[1]}" requires every pod to set ${failedQuota[2]}: set them in the task's resources (or in defaults.resources).`,
            mayPassLater: false,
        };
    }
    if (/\b(maximum|minimum) \S+ usage per (Container|Pod)\b|\bmust be less than or equal to \S+ limit\b|limit to request ratio/.test(message)) {
        return { by: 'LimitRange', todo: "A LimitRange in the namespace bounds each container's resources: fit the task's resources within it (kubectl describe limitrange -n NAMESPACE shows the bounds).", mayPassLater: false };
    }
    const pss = /violates PodSecurity "([^":]+)(?::[^"]*)?"/.exec(message);
    if (pss) {
        return {
            by: 'PodSecurity',
            todo: `The namespace enforces the PodSecurity level "${pss[1]}" (its label pod-security.kubernetes.io/enforce): change the task's pod.securityContext and pod.containerSecurityContext as the message says, or ask the cluster's administrators for another level.`,
            mayPassLater: false,
        };
    }
    const webhook = /admission webhook "([^"]+)" denied the request/.exec(message);
    if (webhook) {
        return { by: `the validating admission webhook "${webhook[1]}"`, todo: "Change the task as the webhook's message says, or ask the webhook's owners.", mayPassLater: false };
    }
    return { by: 'admission', todo: "Change the task (resources, securityContext...) to fit the namespace's policy, or ask the cluster's administrators to change it.", mayPassLater: false };
}
/** `cpu=2,memory=1Gi` as resource → amount (unparseable amounts left out). */
function quantities(list) {
    const out = new Map();
    for (const part of list.split(',')) {
        const eq = part.indexOf('=');
        if (eq < 0)
            continue;
        const q = (0,_quantity_js__WEBPACK_IMPORTED_MODULE_1__/* .parseQuantity */ .L)(part.slice(eq + 1).trim());
        if (q !== null)
            out.set(part.slice(0, eq).trim(), q);
    }
    return out;
}
/** Whether a 403's message is admission refusing an object (not RBAC refusing a request). */
function isAdmissionRefusal(message) {
    if (/\bcannot \S+ resource\b/.test(message))
        return false;
    return /\bis forbidden: (?!User\b)|exceeded quota|failed quota|violates PodSecurity|admission webhook|denied the request/.test(message);
}


/***/ }),

/***/ 2403:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   t: () => (/* binding */ kubePodApi)
/* harmony export */ });
/* unused harmony export slimPod */
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(9655);
/* harmony import */ var _pod_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(1794);


/**
 * A success's body read as bytes and dropped, so client-node neither decodes it to text nor
 * deserializes it into its model classes (a whole pod per create and per delete: most of what a
 * run allocated). Errors keep their body: `classifyError` reads the Status in it.
 */
const DROP_SUCCESS_BODY = {
    pre: (context) => new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__/* .Observable */ .cPK(Promise.resolve(context)),
    post: (context) => new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__/* .Observable */ .cPK((async () => {
        if (context.httpStatusCode < 200 || context.httpStatusCode > 299)
            return context;
        // Read to its end (the connection goes back to the pool), never decoded.
        const reader = context.body.stream()?.getReader();
        if (reader)
            while (!(await reader.read()).done)
                ;
        context.body = { text: async () => '{}', binary: async () => Buffer.from('{}'), stream: () => null };
        return context;
    })()),
};
/** Request options that drop a success's body (what the caller does not read). */
const dropSuccessBody = { middleware: [DROP_SUCCESS_BODY], middlewareMergeStrategy: 'append' };
/**
 * Request options that send `pod` as it was rendered, and drop the created pod the server sends
 * back (the watch tells the engine everything about it). client-node's serializer copies only the
 * fields its V1Pod model knows, so without this a field the model does not know (a typo, or one
 * newer than the client) would be dropped on our side, silently, and the API server's strict
 * field validation would never see it. The caller hands client-node an empty placeholder body,
 * so client-node does not copy the pod through its model only for this to replace it.
 */
function sendAsRendered(pod, keepAnswer = false) {
    const middleware = {
        pre: (context) => {
            context.setBody(JSON.stringify(pod));
            return new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__/* .Observable */ .cPK(Promise.resolve(context));
        },
        // A dry run's answer is read whole: it is the pod as admission left it (one per task, once).
        post: keepAnswer ? (context) => new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__/* .Observable */ .cPK(Promise.resolve(context)) : KEEP_UID_AND_RESTART_POLICIES.post,
    };
    return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
/** The most of a created pod's answer that is parsed (a pod is a few kilobytes; the API server caps objects near 1.5 MiB). */
const ANSWER_PARSED_BYTES = 256 * 1024;
/**
 * A created pod's answer read as bytes and dropped but for what the caller reads: the pod's uid,
 * which tells the pod it created from any other pod of that name the watch shows
 * (src/kube/pod-runner.ts), and its restart policies as admission left them (`slimPod`'s), so a
 * pod the kubelet would run more than once is refused as soon as the create answers, before its
 * container can have run twice. An answer too large to parse keeps only the uid (found in its first
 * kilobytes: the API server writes `metadata` first, `uid` after the name and namespace); the
 * watch's first event then shows the policies.
 */
const KEEP_UID_AND_RESTART_POLICIES = {
    post: (context) => new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__/* .Observable */ .cPK((async () => {
        if (context.httpStatusCode < 200 || context.httpStatusCode > 299)
            return context;
        const reader = context.body.stream()?.getReader();
        let head = '';
        let whole = true;
        const decoder = new TextDecoder();
        if (reader) {
            for (;;) {
                const { done, value } = await reader.read();
                if (done)
                    break;
                if (head.length < ANSWER_PARSED_BYTES && value)
                    head += decoder.decode(value, { stream: true });
                else
                    whole = false;
            }
        }
        let kept = {};
        try {
            if (!whole)
                throw new Error('too large');
            const pod = JSON.parse(head);
            const slim = slimPod(pod);
            kept = { metadata: { uid: pod.metadata?.uid }, ...(slim.spec ? { spec: { containers: slim.spec.containers, restartPolicy: slim.spec.restartPolicy } } : {}) };
        }
        catch {
            const uid = /"uid":"([^"]+)"/.exec(head)?.[1];
            if (uid !== undefined)
                kept = { metadata: { uid } };
        }
        const text = JSON.stringify(kept);
        context.body = { text: async () => text, binary: async () => Buffer.from(text), stream: () => null };
        return context;
    })()),
};
/** What client-node serializes in place of the pod `sendAsRendered` sends (it must not be null). */
const PLACEHOLDER = {};
/**
 * The fields of a listed or watched pod that anything in this project reads: the metadata
 * (without `managedFields`, often the largest part of a pod), the node it runs on, its status.
 * The container specs, volumes and the rest are dropped as each pod arrives, so the run holds
 * (and the watch's cache keeps) a few hundred bytes per pod rather than the whole object.
 */
function slimPod(pod) {
    const { managedFields: _managedFields, ...metadata } = pod.metadata ?? {};
    const slim = { metadata };
    const spec = pod.spec;
    if (spec !== undefined) {
        slim.spec = { containers: [] };
        if (spec.nodeName !== undefined)
            slim.spec.nodeName = spec.nodeName;
        // Whether the kubelet may run the task's container more than once (src/kube/classify.ts
        // `restartPolicyChange`): a webhook may have changed what we sent.
        if (spec.restartPolicy !== undefined)
            slim.spec.restartPolicy = spec.restartPolicy;
        const task = spec.containers?.find((c) => c.name === _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .CONTAINER */ .MR);
        if (task !== undefined && (task.restartPolicy !== undefined || task.restartPolicyRules !== undefined)) {
            slim.spec.containers.push({ name: task.name, restartPolicy: task.restartPolicy, restartPolicyRules: task.restartPolicyRules });
        }
    }
    if (pod.status !== undefined)
        slim.status = pod.status;
    return slim;
}
/** The PodApi of a connected client: every call through its rate limit, requests with its retries. */
function kubePodApi(client) {
    return {
        server: client.server,
        create: (namespace, pod, options = {}) => {
            const name = pod.metadata?.name ?? '';
            // Strict: a field the server does not know is a 400, not a warning and a dropped field
            // (a misspelt affinity would let the pod run on any node). The spec layer checks the same
            // offline against the pinned release; this catches a cluster of another version.
            const fieldValidation = 'Strict';
            const asRendered = sendAsRendered(pod, options.dryRun === true);
            if (options.dryRun) {
                return client.request(`create pod ${name} (dry run)`, () => client.core.createNamespacedPod({ namespace, body: PLACEHOLDER, dryRun: 'All', fieldValidation }, asRendered));
            }
            // Retrying a create after a network error is safe for the engine: if the first one reached
            // the server, the retry answers 409 and the engine adopts the pod (after checking its labels).
            return client.request(`create pod ${name}`, () => client.core.createNamespacedPod({ namespace, body: PLACEHOLDER, fieldValidation }, asRendered));
        },
        read: (namespace, name) => client.request(`get pod ${name}`, () => client.core.readNamespacedPod({ name, namespace })),
        delete: async (namespace, name, { gracePeriodSeconds }) => {
            await client.request(`delete pod ${name}`, () => client.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds, propagationPolicy: 'Background' }, dropSuccessBody));
        },
        deleteCollection: async (namespace, selector, { gracePeriodSeconds }) => {
            // The answer lists every pod deleted: dropped unread, the watch says the same.
            await client.request(`delete pods ${selector}`, () => client.core.deleteCollectionNamespacedPod({ namespace, labelSelector: selector, gracePeriodSeconds, propagationPolicy: 'Background' }, dropSuccessBody));
        },
        list: async (namespace, selector, options = {}) => {
            const list = await client.request(`list pods ${selector}`, () => client.core.listNamespacedPod({ namespace, labelSelector: selector }), {
                signal: options.signal,
            });
            return { items: list.items.map(slimPod), resourceVersion: list.metadata?.resourceVersion ?? '' };
        },
        watch: (namespace, selector, from, onEvent, onDone) => client.watchRequest(`watch pods ${selector}`, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { labelSelector: selector, resourceVersion: from.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: from.timeoutSeconds }, 
        // A Status (ERROR) or a BOOKMARK passes as it came; a pod is slimmed as it arrives.
        (type, object) => onEvent(type, type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED' ? slimPod(object) : object), onDone),
        log: (namespace, name, query, signal) => {
            const q = { container: query.container, timestamps: 'true', follow: query.follow ? 'true' : 'false' };
            if (query.sinceTime)
                q.sinceTime = query.sinceTime;
            return client.openStream(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log`, q, signal);
        },
    };
}


/***/ }),

/***/ 6877:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   Fp: () => (/* binding */ differsFromRendered),
/* harmony export */   Jj: () => (/* binding */ sameProof),
/* harmony export */   Ys: () => (/* binding */ PodProof),
/* harmony export */   e4: () => (/* binding */ podHash)
/* harmony export */ });
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7598);
/* harmony import */ var _common_canonical_json_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(3130);
/* harmony import */ var _pod_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(1794);
/**
 * The proof that a pod is this run's own: what lets the pod runner adopt a pod that exists
 * already (a 409 on create, a create whose answer was lost, a restart after a crash, a pod of an
 * earlier run attempt) without taking a pod someone else planted under our name and labels.
 *
 * Every pod we create carries two annotations:
 * - `pod-dag.io/proof-hash`: the SHA-256 of the canonical JSON of the pod as we send it, without
 *   these two annotations: which rendered spec the proof is for;
 * - `pod-dag.io/proof`: an Ed25519 signature over that hash and the pod's namespace, name and
 *   run/task/attempt labels, made with a private key that exists only in the memory of the
 *   process that created the pod.
 *
 * Each process generates its own key pair and records the public key in the run's state
 * (ConfigMap) BEFORE it creates any pod; a restart after a kill and the next run attempt trust
 * every public key recorded for the run. A public key lets one verify, never sign: whoever can
 * read the state (or mount it in a pod) still cannot forge a proof. Forging takes writing the
 * state (adding a key of one's own), which needs `update` on ConfigMaps in the namespace.
 *
 * Signature alone does not settle a pod whose proof was copied from one of ours that is gone
 * (read, deleted, re-created with another command under the same name): where the whole pod is at
 * hand (a read after a 409), `differsFromRendered` also compares it with what we rendered.
 */



const DOMAIN = 'pod-dag.io/proof v1';
/** The labels the signature covers (read from the pod itself, so they are verified with it). */
const SIGNED_LABELS = [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .LABELS */ .kg.dag, _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .LABELS */ .kg.runId, _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .LABELS */ .kg.runScope, _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .LABELS */ .kg.runAttempt, _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .LABELS */ .kg.task, _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .LABELS */ .kg.taskAttempt];
/**
 * The keys of a run: this process's key pair (to sign the pods it creates) and the public keys of
 * every process of the run the state records (to verify pods it finds).
 */
class PodProof {
    /** This process's public key (base64url of the raw Ed25519 key): record it before creating pods. */
    publicKey;
    #privateKey;
    #trusted = new Map();
    /**
     * A new key pair (or the one whose private key `privateKeyPem` holds: the CLI keeps it in a
     * file, to re-attach to its own run), trusting only itself until `trust` is given the run's keys.
     */
    constructor(privateKeyPem) {
        const { publicKey, privateKey } = privateKeyPem === undefined ? (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.generateKeyPairSync)('ed25519') : fromPem(privateKeyPem);
        this.#privateKey = privateKey;
        this.publicKey = publicKey.export({ format: 'jwk' }).x;
        this.#trusted.set(this.publicKey, publicKey);
    }
    /** Trusts pods signed by these public keys (of earlier processes of the run); malformed ones are skipped. */
    trust(keys) {
        for (const x of keys) {
            if (this.#trusted.has(x) || !/^[A-Za-z0-9_-]{43}$/.test(x))
                continue;
            try {
                this.#trusted.set(x, (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createPublicKey)({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }));
            }
            catch {
                // Not a key: nothing it signed can verify.
            }
        }
    }
    /** The private key, PEM (PKCS#8): for a file only its owner reads, never for a log or the cluster. */
    privateKeyPem() {
        return this.#privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    }
    /** How many keys are trusted (this process's and the run's). */
    get trustedCount() {
        return this.#trusted.size;
    }
    /** The public keys trusted (this process's first). */
    get trustedKeys() {
        return [...this.#trusted.keys()];
    }
    /** The pod with its proof annotations (a copy: `pod` is not changed). */
    prove(pod) {
        const bare = withoutProof(pod);
        const hash = podHash(bare);
        const signature = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.sign)(null, message(bare, hash), this.#privateKey).toString('base64url');
        return { ...bare, metadata: { ...bare.metadata, annotations: { ...bare.metadata?.annotations, [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proofHash]: hash, [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof]: signature } } };
    }
    /**
     * Whether `pod` (as the API returns it: whole, or slimmed by the watch) carries a proof signed
     * by a key of this run over its own name, namespace, run/task/attempt labels and the hash it
     * names. What the hash must be is the caller's to check.
     */
    verify(pod) {
        const a = pod.metadata?.annotations ?? {};
        const hash = a[_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proofHash];
        const signature = a[_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof];
        if (hash === undefined || signature === undefined) {
            return { ok: false, problem: `carries no proof that pod-dag-action created it (annotations ${_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proofHash} and ${_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof} missing)` };
        }
        if (!/^[0-9a-f]{64}$/.test(hash) || !/^[A-Za-z0-9_-]{86}$/.test(signature)) {
            return { ok: false, problem: `carries a malformed proof (annotations ${_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proofHash} / ${_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof})` };
        }
        const data = message(pod, hash);
        const sig = Buffer.from(signature, 'base64url');
        for (const key of this.#trusted.values()) {
            if ((0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.verify)(null, data, key, sig))
                return { ok: true, proof: { hash } };
        }
        return { ok: false, problem: `carries a proof that no process of this run signed (annotation ${_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof}): it was made by someone else, or for other labels or another name` };
    }
}
/**
 * Whether `pod` carries exactly the proof `proved` carries, over the same namespace, name and
 * signed labels: then it verifies exactly as `proved` does (Ed25519 is deterministic), so the
 * pod runner skips verifying its own fresh pods on every run (a string compare, not a signature check).
 */
function sameProof(pod, proved) {
    const a = pod.metadata;
    const b = proved.metadata;
    if (a === undefined || b === undefined || a.name !== b.name || a.namespace !== b.namespace)
        return false;
    for (const k of [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof, _pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proofHash]) {
        const v = a.annotations?.[k];
        if (v === undefined || v !== b.annotations?.[k])
            return false;
    }
    return SIGNED_LABELS.every((l) => a.labels?.[l] === b.labels?.[l]);
}
/** An Ed25519 key pair from its private key (PEM); throws if it is not one. */
function fromPem(pem) {
    const privateKey = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createPrivateKey)(pem);
    if (privateKey.asymmetricKeyType !== 'ed25519')
        throw new Error(`expected an Ed25519 private key, found ${privateKey.asymmetricKeyType ?? 'another kind of key'}`);
    return { privateKey, publicKey: (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createPublicKey)(privateKey) };
}
/** The pod without the proof annotations (a copy). */
function withoutProof(pod) {
    const { [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proofHash]: _h, [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.proof]: _s, ...annotations } = pod.metadata?.annotations ?? {};
    return { ...pod, metadata: { ...pod.metadata, annotations } };
}
/**
 * The SHA-256 (hex) of the canonical JSON of `pod` without its proof annotations, nor the task's
 * fingerprint: that one is derived from the spec and params the rest of the pod was rendered
 * from, and a pod rendered without it (by an earlier version of the action, or a test) is the same pod.
 */
function podHash(pod) {
    const { [_pod_js__WEBPACK_IMPORTED_MODULE_1__/* .ANNOTATIONS */ .BC.fingerprint]: _f, ...annotations } = pod.metadata?.annotations ?? {};
    return (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256').update((0,_common_canonical_json_js__WEBPACK_IMPORTED_MODULE_2__/* .canonicalJson */ .d)(withoutProof({ ...pod, metadata: { ...pod.metadata, annotations } }))).digest('hex');
}
/** What is signed: the domain, the pod's namespace, name and signed labels, and the hash. */
function message(pod, hash) {
    const labels = pod.metadata?.labels ?? {};
    return Buffer.from(JSON.stringify([DOMAIN, pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', ...SIGNED_LABELS.map((l) => labels[l] ?? null), hash]));
}
/**
 * Fields the API server (its defaulting and default admission plugins: ServiceAccount,
 * DefaultTolerationSeconds, Priority) or the scheduler add to a pod spec we did not set. Any
 * other field that we did not set and the pod has makes it another pod than the one we rendered.
 */
const SPEC_ADDED = new Set([
    'dnsPolicy',
    'enableServiceLinks',
    'nodeName',
    'preemptionPolicy',
    'priority',
    'priorityClassName',
    'schedulerName',
    'securityContext',
    'serviceAccount',
    'serviceAccountName',
    'terminationGracePeriodSeconds',
    'tolerations',
    'volumes',
]);
/** The same for a container. */
const CONTAINER_ADDED = new Set(['imagePullPolicy', 'resources', 'terminationMessagePath', 'terminationMessagePolicy', 'volumeMounts']);
/** The one mount the ServiceAccount admission plugin adds to every container. */
const TOKEN_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Arrays the server may add to after what we sent (tolerations, volumes). */
const APPENDABLE = new Set(['spec.tolerations', 'spec.volumes']);
/**
 * Where the pod the API returned is not the pod we rendered (a field path and both values, for a
 * message), or null when it is: every field we set has our value, and nothing that changes what
 * the container runs was added (another container, an init container, a mount, a command …).
 * Quantities compare by value ("1000m" is "1"); metadata is not compared (the proof covers names
 * and labels, and annotations and labels may be added by others without changing what runs).
 */
function differsFromRendered(actual, rendered) {
    return diff(plain(actual.spec), plain(rendered.spec), 'spec');
}
function plain(v) {
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}
function diff(actual, ours, path) {
    const show = (v) => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 120));
    const mismatch = () => `${path} is ${show(actual)}, not ${show(ours)}`;
    if (ours === undefined || ours === null) {
        if (actual === undefined || actual === null)
            return null;
        return mismatch();
    }
    if (/\.resources\.(requests|limits)\.[^.]+$/.test(path) && typeof actual === 'string' && typeof ours === 'string') {
        const a = quantity(actual);
        const o = quantity(ours);
        return a !== null && o !== null && Math.abs(a - o) <= 1e-9 * Math.max(Math.abs(a), Math.abs(o)) ? null : mismatch();
    }
    if (typeof ours !== 'object')
        return actual === ours ? null : mismatch();
    if (Array.isArray(ours)) {
        if (!Array.isArray(actual))
            return mismatch();
        const appendable = APPENDABLE.has(path);
        const mounts = /\.volumeMounts$/.test(path);
        if (actual.length < ours.length || (!appendable && !mounts && actual.length !== ours.length))
            return `${path} has ${actual.length} entries, not ${ours.length}`;
        for (let i = 0; i < ours.length; i++) {
            const d = diff(actual[i], ours[i], `${path}[${i}]`);
            if (d !== null)
                return d;
        }
        if (mounts)
            return extraMounts(actual.slice(ours.length), path);
        return null;
    }
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
        return mismatch();
    const a = actual;
    const o = ours;
    for (const [k, v] of Object.entries(o)) {
        const d = diff(a[k], v, `${path}.${k}`);
        if (d !== null)
            return d;
    }
    const added = path === 'spec' ? SPEC_ADDED : /^spec\.containers\[\d+\]$/.test(path) ? CONTAINER_ADDED : null;
    if (added === null)
        return null; // inside a field we set, the server's defaults (a probe's, a port's) are not ours to judge
    for (const [k, v] of Object.entries(a)) {
        if (o[k] !== undefined || v === undefined || v === null)
            continue;
        if (!added.has(k))
            return `${path}.${k} is ${show(v)}, which the pod as rendered does not set`;
        if (k === 'volumeMounts') {
            const d = extraMounts(v, `${path}.volumeMounts`);
            if (d !== null)
                return d;
        }
    }
    return null;
}
/** Mounts beyond ours: only the service account token's. */
function extraMounts(extra, path) {
    for (const m of extra) {
        const mountPath = m?.mountPath;
        if (mountPath !== TOKEN_MOUNT)
            return `${path} mounts ${JSON.stringify(mountPath)}, which the pod as rendered does not`;
    }
    return null;
}
const SUFFIX = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
/** A Kubernetes quantity's value ("500m" → 0.5, "1Gi" → 2^30), or null if it is not one. */
function quantity(q) {
    const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
    if (m === null)
        return null;
    return Number(m[1]) * SUFFIX[m[2] ?? ''];
}


/***/ }),

/***/ 724:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   L: () => (/* binding */ parseQuantity)
/* harmony export */ });
/** Kubernetes resource quantities (`500m`, `4Gi`, `1e3`), as numbers of base units. */
const DECIMAL = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
/** A Kubernetes quantity (`500m`, `4Gi`, `1e3`, `2`) as a number of base units, or `null`. */
function parseQuantity(text) {
    if (typeof text === 'number')
        return text;
    const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/.exec(text.trim());
    if (m === null)
        return null;
    const n = Number(m[1]);
    if (m[2] !== undefined)
        return n * BINARY[m[2]];
    if (m[3] !== undefined)
        return n * 10 ** Number(m[3].slice(1));
    return n * DECIMAL[m[4] ?? ''];
}


/***/ }),

/***/ 1308:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   f: () => (/* binding */ kubeTimeMs)
/* harmony export */ });
/** Times in Kubernetes objects. */
/**
 * A timestamp of a Kubernetes object in epoch ms: client-node gives a `Date`, raw JSON an RFC 3339
 * string; `null` when it is absent or not a time.
 */
function kubeTimeMs(t) {
    if (t === undefined || t === null)
        return null;
    const ms = t instanceof Date ? t.getTime() : new Date(String(t)).getTime();
    return Number.isFinite(ms) ? ms : null;
}


/***/ }),

/***/ 7718:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   u: () => (/* binding */ PodWatcher)
/* harmony export */ });
/* harmony import */ var _common_clock_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(9419);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(2474);


/** How many deleted pods' uids the watcher remembers (a create's answer is handled within far fewer deletions). */
const RECENT_DELETES = 256;
/** Watches the pods matching a selector and reports every change once, in order. */
class PodWatcher {
    #api;
    #namespace;
    #selector;
    #onEvent;
    #options;
    #cache = new Map();
    /**
     * Pods the run created that no list or event has shown yet, by name: their uid and how many
     * lists had started when the create answered. A list started after that which lacks the pod
     * proves it gone.
     */
    #unseen = new Map();
    /** Lists started so far (the first at `start`, one per 410 Gone). */
    #listsStarted = 0;
    /**
     * The uids of the last pods reported DELETED (at most `RECENT_DELETES`): a pod shown and deleted
     * before its create's answer was handled is not waited for (nor reported DELETED twice).
     */
    #recentlyDeleted = new Set();
    #stop = new AbortController();
    #rv = '';
    #controller = null;
    #loop = null;
    constructor(api, namespace, selector, onEvent, options = {}) {
        this.#api = api;
        this.#namespace = namespace;
        this.#selector = selector;
        this.#onEvent = (e) => {
            const uid = e.type === 'DELETED' ? e.pod.metadata?.uid : undefined;
            if (uid !== undefined) {
                this.#recentlyDeleted.add(uid);
                if (this.#recentlyDeleted.size > RECENT_DELETES)
                    this.#recentlyDeleted.delete(this.#recentlyDeleted.values().next().value);
            }
            onEvent(e);
        };
        this.#options = options;
    }
    /** The last known state of every pod of the run that exists. */
    get pods() {
        return this.#cache;
    }
    /**
     * Lists the pods (reporting each as ADDED) and starts watching. Resolves after the first list;
     * the returned promise of `done` settles when the watcher stops (rejects on 401/403).
     */
    async start() {
        await this.#list();
        this.#loop = this.#run();
        // Surface fatal errors through `done`; avoid an unhandled rejection meanwhile.
        this.#loop.catch(() => { });
    }
    /** Settles when the watcher stops: resolves after `stop()`, rejects with a fatal error. */
    get done() {
        return this.#loop ?? Promise.resolve();
    }
    /**
     * The run created pod `name` (its create answered with `uid`): if it is gone before the watch
     * shows it (created and deleted while the watch was away), the next list that started after
     * this call reports its DELETED, rather than the run waiting for a pod that no longer exists.
     */
    created(name, uid) {
        if (this.#cache.get(name)?.metadata?.uid === uid)
            return; // shown already: the cache's diff covers it
        if (this.#recentlyDeleted.has(uid))
            return; // shown and gone already
        this.#unseen.set(name, { uid, listsBefore: this.#listsStarted });
    }
    /** Stops watching; no event is reported after this returns. */
    stop() {
        this.#stop.abort(new Error('watch stopped'));
        this.#controller?.abort();
    }
    async #list() {
        // Counted before the request goes: a create that answers while it is in flight is not proved
        // gone by it (the list may have been read before the pod existed).
        const number = ++this.#listsStarted;
        const list = await this.#api.list(this.#namespace, this.#selector, { signal: this.#stop.signal });
        if (this.#stop.signal.aborted)
            return;
        this.#rv = list.resourceVersion;
        const seen = new Set();
        const listed = new Map();
        for (const pod of list.items)
            listed.set(pod.metadata?.name ?? '', pod.metadata?.uid);
        for (const [name, u] of [...this.#unseen]) {
            if (u.listsBefore >= number)
                continue; // this list may predate the pod: proves nothing
            this.#unseen.delete(name);
            // Listed under its uid: it exists, and the loop below reports it ADDED. Absent, or another
            // pod under its name: ours is gone, never seen.
            if (listed.get(name) === u.uid || this.#cache.get(name)?.metadata?.uid === u.uid)
                continue;
            this.#onEvent({ type: 'DELETED', pod: { metadata: { name, uid: u.uid } }, synthetic: true });
        }
        for (const pod of list.items) {
            const name = pod.metadata?.name ?? '';
            seen.add(name);
            if (this.#unseen.get(name)?.uid === pod.metadata?.uid)
                this.#unseen.delete(name);
            const old = this.#cache.get(name);
            this.#cache.set(name, pod);
            if (old && replaced(old, pod)) {
                // Deleted and created again under its name while we were not watching: two pods, two
                // stories. The one we knew is gone (it must not borrow the new one's end).
                this.#onEvent({ type: 'DELETED', pod: old, synthetic: true });
                this.#onEvent({ type: 'ADDED', pod, synthetic: true });
            }
            else if (!old)
                this.#onEvent({ type: 'ADDED', pod, synthetic: true });
            else if (old.metadata?.resourceVersion !== pod.metadata?.resourceVersion)
                this.#onEvent({ type: 'MODIFIED', pod, synthetic: true });
        }
        for (const [name, pod] of [...this.#cache]) {
            if (seen.has(name))
                continue;
            this.#cache.delete(name);
            this.#onEvent({ type: 'DELETED', pod, synthetic: true });
        }
    }
    async #run() {
        const sleep = this.#options.sleep ?? _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .abortableSleep */ .Mf;
        let failures = 0;
        while (!this.#stop.signal.aborted) {
            const result = await this.#watchOnce();
            if (this.#stop.signal.aborted)
                return;
            if (result.kind === 'ended') {
                failures = result.events > 0 ? 0 : failures;
                // A watch that ends at once with nothing in it, again and again, must not spin.
                if (result.events === 0 && result.quick)
                    await this.#pause(sleep, ++failures);
                continue;
            }
            const e = (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .classifyError */ .fe)(result.error);
            if (e.kind === 'unauthorized' || e.kind === 'forbidden') {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .KubeError */ .a3((0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .describeError */ .Uc)(result.error, `watch pods (${this.#selector}) in namespace ${this.#namespace}`, this.#api.server), e);
            }
            if (e.kind === 'gone') {
                this.#options.onRecover?.('watch resourceVersion expired (410 Gone); listing again');
                failures = 0;
                await this.#relist(sleep);
                continue;
            }
            this.#options.onRecover?.(`watch failed (${e.message}); resuming from resourceVersion ${this.#rv}`);
            // A watch that made progress before it failed starts the backoff afresh.
            if (result.events > 0)
                failures = 0;
            await this.#pause(sleep, ++failures, e.retryAfterMs);
        }
    }
    async #relist(sleep) {
        for (let n = 1; !this.#stop.signal.aborted; n++) {
            try {
                await this.#list();
                return;
            }
            catch (err) {
                const e = (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .classifyError */ .fe)(err);
                if (e.kind === 'unauthorized' || e.kind === 'forbidden')
                    throw err;
                await this.#pause(sleep, n, e.retryAfterMs);
            }
        }
    }
    async #pause(sleep, n, serverMs = null) {
        const ms = serverMs ?? Math.min(10_000, 100 * 2 ** Math.min(n - 1, 7));
        try {
            await sleep(ms, this.#stop.signal);
        }
        catch {
            // stopped while waiting
        }
    }
    /** One watch request; resolves when it ends, never rejects. */
    async #watchOnce() {
        const now = this.#options.now ?? _common_clock_js__WEBPACK_IMPORTED_MODULE_0__/* .systemClock */ .ml.now;
        const started = now();
        let events = 0;
        let gone = null;
        return new Promise((resolve) => {
            const from = { resourceVersion: this.#rv, timeoutSeconds: this.#options.timeoutSeconds ?? 25 };
            const onEvent = (type, obj) => {
                if (this.#stop.signal.aborted || gone)
                    return;
                if (type === 'ERROR') {
                    // A Status object: 410 Gone most often (the watch's resourceVersion is too old).
                    gone = obj ?? new Error('watch ERROR event without a status');
                    this.#controller?.abort();
                    return;
                }
                const pod = obj;
                const rv = pod?.metadata?.resourceVersion;
                if (rv)
                    this.#rv = rv;
                if (type === 'BOOKMARK')
                    return;
                if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED')
                    return;
                events++;
                const name = pod.metadata?.name ?? '';
                const old = this.#cache.get(name);
                if (this.#unseen.get(name)?.uid === pod.metadata?.uid)
                    this.#unseen.delete(name);
                if (type === 'DELETED') {
                    // The end of a pod already replaced under its name (its DELETED was synthesized when the
                    // new one showed): not the end of the pod that has the name now.
                    if (old && replaced(old, pod))
                        return;
                    this.#cache.delete(name);
                    this.#onEvent({ type, pod, synthetic: false });
                    return;
                }
                this.#cache.set(name, pod);
                // A pod under a known name with another uid, whose predecessor's DELETED never came: that
                // one is gone first.
                if (old && replaced(old, pod))
                    this.#onEvent({ type: 'DELETED', pod: old, synthetic: true });
                this.#onEvent({ type, pod, synthetic: false });
            };
            const onDone = (err) => {
                this.#controller = null;
                if (gone)
                    resolve({ kind: 'error', error: gone, events });
                else if (err && !this.#stop.signal.aborted && (0,_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .classifyError */ .fe)(err).kind !== 'timeout')
                    resolve({ kind: 'error', error: err, events });
                else
                    resolve({ kind: 'ended', events, quick: now() - started < 1000 });
            };
            this.#api.watch(this.#namespace, this.#selector, from, onEvent, onDone).then((controller) => {
                this.#controller = controller;
                if (this.#stop.signal.aborted)
                    controller.abort();
            }, (err) => onDone(err));
        });
    }
}
/** Whether `now` is another pod than `before` under the same name (the API gave each its own uid). */
function replaced(before, now) {
    const a = before.metadata?.uid;
    const b = now.metadata?.uid;
    return a !== undefined && b !== undefined && a !== b;
}


/***/ }),

/***/ 1781:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   U4: () => (/* binding */ LiveLogReporter)
/* harmony export */ });
/* unused harmony exports PENDING_LINE_GAP_MS, cutBefore, describeOutcome */
/* harmony import */ var _common_duration_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(2081);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7703);
/* harmony import */ var _escape_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(2527);



/** At most one line about a waiting pod per attempt in this long; a later change is told then. */
const PENDING_LINE_GAP_MS = 10_000;
/**
 * Reasons every pod passes through on its way to running. They are told only once the pod has
 * waited this long, so a run where pods start at once prints no waiting lines at all.
 */
const ROUTINE_WAITS = new Set(['Pending', 'Scheduled', 'ContainerCreating', 'PodInitializing']);
const ROUTINE_QUIET_MS = 10_000;
/** Image pull reasons that alternate while the kubelet backs off: one story, told once. */
const IMAGE_PULL = new Set(['ErrImagePull', 'ImagePullBackOff', 'RegistryUnavailable']);
/** What a waiting pod's status says, in words, and the key that tells one story from another. */
function pendingWords(s) {
    // The scheduler ends its sentences with a period; the line goes on after it.
    const message = (s.message?.trim() ?? '').replace(/\.$/, '');
    if (s.reason === 'Unschedulable') {
        return { key: `unschedulable:${message}`, text: `waiting for a node: ${message === '' ? 'no node fits the pod' : message}` };
    }
    if (IMAGE_PULL.has(s.reason)) {
        // "Back-off pulling image "x": ErrImagePull: <cause>" and "<cause>" are the same story.
        const cause = message.replace(/^Back-off pulling image "[^"]*":\s*(ErrImagePull:\s*)?/, '');
        return { key: `image:${cause}`, text: `cannot pull the image yet (${s.reason}): ${cause === '' ? message || 'no message' : cause}` };
    }
    if (s.reason === 'ContainerCreating' || s.reason === 'PodInitializing' || s.reason === 'Scheduled') {
        const on = s.node === null ? '' : ` on ${s.node}`;
        return { key: `creating:${s.node ?? ''}`, text: `pending: the container is being created${on} (pulling the image, mounting volumes)` };
    }
    return { key: `${s.reason}:${message}`, text: `pending: ${s.reason}${message === '' ? '' : `: ${message}`}` };
}
/**
 * Where to cut `text` to at most `max` characters so that no string of `hidden` (the credentials
 * and their encoded forms: `secretVariants`) is cut in two: `max`, or the start of one that spans it.
 */
function cutBefore(text, max, hidden) {
    let cut = max;
    for (const secret of hidden) {
        if (secret.length < 2)
            continue;
        // Only an occurrence that starts before the cut and ends after it matters: it lies in here.
        const from = Math.max(0, max - secret.length + 1);
        const window = text.slice(from, max + secret.length - 1);
        for (let at = window.indexOf(secret); at !== -1; at = window.indexOf(secret, at + 1)) {
            if (from + at < max && from + at + secret.length > max)
                cut = Math.min(cut, from + at);
        }
    }
    return cut;
}
/** Words for an attempt's outcome: "exit code 3", "OOMKilled: …", "evicted: …". */
function describeOutcome(o) {
    if (o.class === 'failed' && o.message)
        return o.message;
    if (o.class === 'failed')
        return o.exitCode !== null ? `exit code ${o.exitCode}` : (o.reason ?? 'failed');
    const head = o.reason ?? o.class;
    return o.message ? `${head}: ${o.message}` : head;
}
const VERB = {
    succeeded: 'succeeded',
    failed: 'failed',
    infrastructure: 'was lost to an infrastructure problem',
    configuration: 'failed on configuration',
    timeout: 'timed out',
    cancelled: 'was cancelled',
};
/** The Reporter that prints the run to the step log as it happens. */
class LiveLogReporter {
    #write;
    #max;
    #secrets;
    /** `secretVariants` of `#secrets`, computed again only when the list grew. */
    #variants = { of: 0, list: [] };
    /** The run's last line, from its `done` decision; printed by runFinished, after the last task's own line. */
    #done = null;
    /** Attempts whose pods wait to start, by `task#attempt`. */
    #waiting = new Map();
    /**
     * Attempts whose container started and whose log has not ended yet (`task#attempt`), with the
     * result lines held until it ends: a task's last lines come before its result, though the
     * engine goes on (creates the dependants, retries) as soon as the container ended.
     */
    #reading = new Map();
    constructor(options) {
        this.#write = options.write;
        this.#max = options.maxLineLength ?? 8000;
        this.#secrets = options.secrets ?? [];
    }
    runStarted(info) {
        const n = info.spec.tasks.length;
        const where = info.namespace ? ` in namespace ${info.namespace}` : '';
        const what = info.mode === 'dry-run' ? 'Dry run of' : 'Running';
        this.#write(`${what} DAG ${info.spec.name} (${n} ${n === 1 ? 'task' : 'tasks'})${where}`);
    }
    podCreated(task, attempt, pod, adopted, poke) {
        // A sensor's later pokes were announced by the "not yet" line of the poke before.
        if (poke !== undefined && poke > 1)
            return;
        this.#tellEnded();
        this.#write(`${label(task, attempt)} ${adopted ? 'adopted existing pod' : 'created pod'} ${pod}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
    }
    podPending(task, attempt, status, at) {
        const id = `${task}#${attempt}`;
        let w = this.#waiting.get(id);
        if (w === undefined) {
            w = { firstAt: at, lastKey: null, lastAt: null };
            this.#waiting.set(id, w);
        }
        const { key, text } = pendingWords(status);
        if (key === w.lastKey)
            return; // nothing new
        if (ROUTINE_WAITS.has(status.reason) && at - w.firstAt < ROUTINE_QUIET_MS)
            return; // the usual way to running
        if (w.lastAt !== null && at - w.lastAt < PENDING_LINE_GAP_MS)
            return; // a later change tells the newest
        w.lastKey = key;
        w.lastAt = at;
        const waited = at - w.firstAt >= 1000 ? `; waiting for ${(0,_common_duration_js__WEBPACK_IMPORTED_MODULE_0__/* .formatDuration */ .a)(at - w.firstAt)}` : '';
        this.#write(`${label(task, attempt)} ${text}${waited}`);
    }
    containerStarted(task, attempt, node, pendingMs) {
        this.#waiting.delete(`${task}#${attempt}`);
        this.#reading.set(`${task}#${attempt}`, { held: [], ended: null });
        const after = pendingMs >= 1000 ? ` after ${(0,_common_duration_js__WEBPACK_IMPORTED_MODULE_0__/* .formatDuration */ .a)(pendingMs)} pending` : '';
        this.#write(`${label(task, attempt)} started${node === null ? '' : ` on ${node}`}${after}`);
    }
    #hidden() {
        if (this.#variants.of !== this.#secrets.length)
            this.#variants = { of: this.#secrets.length, list: this.#secrets.flatMap(_escape_js__WEBPACK_IMPORTED_MODULE_2__/* .secretVariants */ .J5) };
        return this.#variants.list;
    }
    logLine(line) {
        // A carriage return or escape sequence must not rewrite earlier lines of the step log.
        let text = line.text.includes('\r') ? line.text.replace(/\r/g, '') : line.text;
        // "cut at", not a count: the log reader may have cut a longer line already (MAX_LOG_LINE_CHARS).
        // Between words too: a workflow secret the action does not know must not be cut in two either.
        if (text.length > this.#max)
            text = `${text.slice(0, Math.min(cutBefore(text, this.#max, this.#hidden()), (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .wordCut */ .ju)(text, this.#max)))}… (line cut at ${this.#max} characters)`;
        this.#write(`${label(line.task, line.attempt)} ${text}`);
    }
    logEnded(task, attempt) {
        const key = `${task}#${attempt}`;
        const reading = this.#reading.get(key);
        this.#reading.delete(key);
        for (const line of reading?.held ?? [])
            this.#write(line);
    }
    /**
     * Writes an attempt's result line now, or once its log has ended. `ended` says how its
     * container ended, for the line `#tellEnded` writes meanwhile.
     */
    #result(task, attempt, line, ended) {
        const reading = this.#reading.get(`${task}#${attempt}`);
        if (!reading)
            return this.#write(line);
        if (reading.held.length === 0)
            reading.ended = `${label(task, attempt)} ${ended} (the last lines of its log follow)`;
        reading.held.push(line);
    }
    /**
     * The engine moves on as soon as a container ends (it creates the dependants, skips, retries),
     * while that container's last lines and result line are still to come. Before a line about what
     * follows, the step log says which containers already ended, so it never reads as if a task
     * started before the one it needs had finished.
     */
    #tellEnded() {
        for (const reading of this.#reading.values()) {
            if (reading.ended === null)
                continue;
            this.#write(reading.ended);
            reading.ended = null;
        }
    }
    attemptFinished(task, attempt, outcome, run) {
        this.#waiting.delete(`${task}#${attempt}`);
        if (outcome.class !== 'succeeded')
            return; // failures are told by the retry / give-up decision
        const rec = run.task(task).attempts.find((a) => a.attempt === attempt);
        const took = rec && rec.finishedAt !== null ? ` in ${(0,_common_duration_js__WEBPACK_IMPORTED_MODULE_0__/* .formatDuration */ .a)(Math.max(0, rec.finishedAt - rec.startedAt))}` : '';
        const outs = Object.keys(outcome.outputs);
        this.#result(task, attempt, `${label(task, attempt)} succeeded${took}${attempt > 1 ? ` (attempt ${attempt})` : ''}${outs.length ? `; outputs: ${outs.join(', ')}` : ''}`, 'exited 0');
    }
    decision(d) {
        switch (d.type) {
            case 'retry':
                this.#result(d.task, d.failedAttempt, `${d.task} attempt ${d.failedAttempt} ${VERB[d.outcome.class]}: ${describeOutcome(d.outcome)}; retrying in ${(0,_common_duration_js__WEBPACK_IMPORTED_MODULE_0__/* .formatDuration */ .a)(d.delayMs)} (attempt ${d.nextAttempt} of ${d.maxAttempts})`, `ended: ${describeOutcome(d.outcome)}`);
                break;
            case 'give-up':
                this.#result(d.task, d.attempt, `${d.task} attempt ${d.attempt} ${VERB[d.outcome.class]}: ${describeOutcome(d.outcome)}; ${d.reason}`, `ended: ${describeOutcome(d.outcome)}`);
                break;
            case 'skip':
                this.#tellEnded();
                this.#write(`${d.task} skipped: ${d.reason}`);
                break;
            case 'poke':
                // One line per poke: a sensor that waits for hours stays readable.
                this.#write(`${label(d.task, d.attempt)} not yet (poke ${d.poke}); next poke at ${clockTime(d.at)}`);
                break;
            case 'expand': {
                this.#tellEnded();
                const shown = d.instances.slice(0, 5).join(', ') + (d.instances.length > 5 ? `, … (${d.instances.length - 5} more)` : '');
                this.#write(`${d.task}: ${d.instances.length} matrix instance${d.instances.length === 1 ? '' : 's'}: ${shown}`);
                break;
            }
            case 'fail':
                this.#tellEnded();
                this.#write(`${d.task} failed: ${d.reason}`);
                break;
            case 'cancel': {
                const names = d.attempts.map((a) => (a.attempt > 1 ? `${a.task} (attempt ${a.attempt})` : a.task)).join(', ');
                const why = d.reason === 'timeout' ? 'the DAG timeout was reached' : d.reason === 'fail-fast' ? 'an instance of the matrix failed (fail-fast)' : 'the run was cancelled';
                this.#write(`${why}: stopping ${names}`);
                break;
            }
            case 'done': {
                // Held until runFinished: the `done` decision comes with the last attempt's end, before
                // that attempt's own "succeeded" line is written.
                this.#done = d.result;
                break;
            }
            default:
                break;
        }
    }
    dryRunVerdict(v) {
        const problems = v.problems ?? [];
        if (!v.accepted)
            this.#write(`${v.task}: the cluster would reject pod ${v.pod}: ${v.message ?? 'no reason given'}`);
        else if (problems.length > 0)
            this.#write(`${v.task}: the cluster would accept pod ${v.pod}, but it would not run: ${problems.join('; ')}`);
        else
            this.#write(`${v.task}: the cluster would accept pod ${v.pod}`);
    }
    dryRunChecks(checks) {
        for (const s of checks.skipped)
            this.#write(`dry run: skipped a check (${s.check}): ${s.why}`);
    }
    runFinished(state) {
        // Whatever is still held (a log that never ended) is told before the run's last line.
        for (const reading of this.#reading.values())
            for (const line of reading.held)
                this.#write(line);
        this.#reading.clear();
        // A run's `done` decision said how it ended; a dry run has none.
        if (this.#done !== null) {
            const counts = new Map();
            for (const t of state.tasks)
                counts.set(t.result ?? 'unfinished', (counts.get(t.result ?? 'unfinished') ?? 0) + 1);
            const parts = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
            this.#write(`DAG ${state.dag} finished: ${this.#done} (${parts})`);
            return;
        }
        const failed = state.tasks.filter((t) => t.result === 'failed').length;
        this.#write(`DAG ${state.dag} finished: ${state.result ?? 'unfinished'}${failed ? ` (${failed} failed)` : ''}`);
    }
}
/** `02:15:00Z`: the UTC time of day (the step log's own timestamps are UTC too). */
function clockTime(ms) {
    return `${new Date(ms).toISOString().slice(11, 19)}Z`;
}
function label(task, attempt) {
    return attempt > 1 ? `[${task} #${attempt}]` : `[${task}]`;
}


/***/ })

};
