/**
 * The object verbs of the sandbox API: get, list, create, update, patch, delete (one, a
 * collection, graceful pod deletion, namespace finalization) and pod eviction, with admission,
 * optimistic concurrency, dry run and field validation as the API server does them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import type { MutablePod } from './faults.ts';
import { admitServiceAccount, applyDefaults, defaultServiceAccount, normalizeLease, randomSuffix, validate } from './admission.ts';
import { unknownFields } from './fields.ts';
import { decodeProtobuf } from './protobuf.ts';
import { jsonPatch, mergePatch, strategicMergePatch, TestFailed } from './patch.ts';
import { apiVersionOf, RESOURCES } from './resources.ts';
import type { KObject } from './selectors.ts';
import { alreadyExists, ApiError, badRequest, cause, conflict, conflictMessage, expired, invalid, notFound, unsupportedMediaType } from './status.ts';
import { toTable, wantsTable } from './table.ts';
import { resourceKey, StaleResourceVersion } from './store.ts';
import { type ServerContext, type Route, NAMESPACES, now, send, readBody, parseJson, key, mustGet, matchers } from './http.ts';


export function getOne(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const obj = mustGet(ctx, r);
  if (wantsTable(req.headers.accept)) send(res, 200, toTable(r.res, [obj], obj.metadata.resourceVersion ?? '', q.get('includeObject')));
  else send(res, 200, obj);
}

export function list(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const match = matchers(r, q);
  const rvParam = q.get('resourceVersion') ?? '';
  const rvMatch = q.get('resourceVersionMatch');
  const current = ctx.store.resourceVersion;
  if (rvMatch === 'Exact' && rvParam !== String(current)) throw expired(rvParam, ctx.store.oldestResumable + 1);
  if (rvMatch && !['Exact', 'NotOlderThan'].includes(rvMatch)) {
    throw invalid('ListOptions', 'meta.k8s.io', '', [cause('FieldValueNotSupported', 'resourceVersionMatch', `Unsupported value: "${rvMatch}": supported values: "Exact", "NotOlderThan"`)]);
  }
  let items = ctx.store.list(key(r), r.res.namespaced ? r.namespace : undefined).filter(match);
  const limit = Number(q.get('limit') ?? 0);
  const cont = q.get('continue');
  let start = 0;
  if (cont) {
    try {
      const token = JSON.parse(Buffer.from(cont, 'base64').toString()) as { start: string };
      start = items.findIndex((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > token.start);
      if (start === -1) start = items.length;
    } catch {
      throw badRequest('continue key is not valid: illegal base64 data');
    }
  }
  items = items.slice(start);
  const metadata: Record<string, unknown> = { resourceVersion: String(current) };
  if (limit > 0 && items.length > limit) {
    const last = items[limit - 1]!;
    metadata.continue = Buffer.from(JSON.stringify({ start: `${last.metadata.namespace ?? ''}/${last.metadata.name}`, rv: current })).toString('base64');
    metadata.remainingItemCount = items.length - limit;
    items = items.slice(0, limit);
  }
  if (wantsTable(req.headers.accept)) {
    const table = toTable(r.res, items, String(current), q.get('includeObject')) as { metadata: Record<string, unknown> };
    table.metadata = metadata;
    send(res, 200, table);
    return;
  }
  send(res, 200, { kind: `${r.res.kind}List`, apiVersion: apiVersionOf(r.res), metadata, items });
}

export async function bodyObject(req: IncomingMessage): Promise<KObject> {
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
  if (type === 'application/vnd.kubernetes.protobuf') {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      return decodeProtobuf(Buffer.concat(chunks)) as KObject;
    } catch (err) {
      throw new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'UnsupportedMediaType', code: 415, message: (err as Error).message });
    }
  }
  if (type !== 'application/json' && type !== '*/*') {
    throw new ApiError({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'UnsupportedMediaType', code: 415,
      message: `the body of the request was in an unknown format - accepted media types include: application/json`,
    });
  }
  const body = parseJson(await readBody(req));
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the object provided is unrecognized: expected an object');
  const obj = body as KObject;
  obj.metadata = (obj.metadata ?? {}) as KObject['metadata'];
  return obj;
}

function checkKind(r: Route, obj: KObject): void {
  if (obj.kind !== undefined && obj.kind !== r.res.kind) {
    throw badRequest(`the API version in the data (${obj.apiVersion ?? ''}) does not match the expected API version (${apiVersionOf(r.res)})`);
  }
}

/**
 * Applies `fieldValidation` to a decoded body: Strict answers 400 as the strict decoder words it,
 * Warn (the default) adds one Warning header per unknown field, Ignore does nothing.
 */
function checkFields(r: Route, body: unknown, q: URLSearchParams, res: ServerResponse): void {
  const mode = q.get('fieldValidation') ?? 'Warn';
  if (!['Strict', 'Warn', 'Ignore'].includes(mode)) {
    throw badRequest(`fieldValidation: Unsupported value: "${mode}": supported values: "Ignore", "Strict", "Warn"`);
  }
  if (mode === 'Ignore' || r.sub) return;
  const unknown = unknownFields(r.res.kind, body);
  if (unknown.length === 0) return;
  if (mode === 'Strict') {
    const list = unknown.map((f) => `unknown field "${f}"`).join(', ');
    throw badRequest(`${r.res.kind} in version "${r.res.version}" cannot be handled as a ${r.res.kind}: strict decoding error: ${list}`);
  }
  res.setHeader('Warning', unknown.map((f) => `299 - "unknown field \\"${f}\\""`));
}

export function dryRun(q: URLSearchParams): boolean {
  const d = q.getAll('dryRun');
  if (d.some((x) => x !== 'All')) throw badRequest(`dryRun: Unsupported value: "${d.find((x) => x !== 'All')}": supported values: "All"`);
  return d.length > 0;
}

export async function create(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const obj = await bodyObject(req);
  checkKind(r, obj);
  checkFields(r, obj, q, res);
  const isDry = dryRun(q);
  if (r.res.namespaced) {
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== r.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = r.namespace;
    const ns = ctx.store.get('namespaces', undefined, r.namespace!);
    if (!ns) throw notFound(NAMESPACES, r.namespace!);
    if (ns.metadata.deletionTimestamp) {
      throw new ApiError({
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
        message: `${r.res.plural} "${obj.metadata.name ?? obj.metadata.generateName ?? ''}" is forbidden: unable to create new content in namespace ${r.namespace} because it is being terminated`,
        details: { name: obj.metadata.name, kind: r.res.plural },
      });
    }
  } else delete obj.metadata.namespace;
  // Mutating admission runs before the name is generated and before validation (as in kube-apiserver).
  if (r.res.plural === 'pods' && !r.sub) admitServiceAccount(obj, r.namespace!, (sa) => ctx.store.get('serviceaccounts', r.namespace, sa) !== undefined);
  // Then the mutating webhooks (a test's fault).
  if (r.res.plural === 'pods' && !r.sub) ctx.faults.podMutation?.(obj as unknown as MutablePod);
  if (!obj.metadata.name && typeof obj.metadata.generateName === 'string' && obj.metadata.generateName) {
    let name: string;
    do name = `${obj.metadata.generateName}${randomSuffix()}`;
    while (ctx.store.get(key(r), r.namespace, name));
    obj.metadata.name = name;
  }
  validate(obj, r.res);
  if (ctx.store.get(key(r), r.namespace, obj.metadata.name)) throw alreadyExists(r.res, obj.metadata.name);
  const full = applyDefaults(obj, r.res, now());
  delete full.metadata.resourceVersion;
  if (r.res.plural === 'pods') {
    // Who created the pod, as kube-apiserver records it: the fieldManager parameter, else the
    // client's user agent up to its first '/'. Only pods, and only on create: the action names a
    // pod's creator from it. (Its fieldsV1 set is left empty: nothing here reads it.)
    const manager = q.get('fieldManager') ?? String(req.headers['user-agent'] ?? 'unknown').split('/')[0]!;
    full.metadata.managedFields = [{ manager, operation: 'Update', apiVersion: full.apiVersion, time: full.metadata.creationTimestamp, fieldsType: 'FieldsV1', fieldsV1: {} }];
  }
  if (isDry) {
    send(res, 201, full);
    return;
  }
  const stored = ctx.store.create(key(r), full);
  // kube-controller-manager's service-account controller gives every new namespace its
  // `default` ServiceAccount (the one a pod naming none runs as).
  if (r.res.plural === 'namespaces') createDefaultServiceAccount(ctx, stored.metadata.name);
  send(res, 201, stored);
}

/** Creates a namespace's `default` ServiceAccount unless it exists. */
function createDefaultServiceAccount(ctx: ServerContext, namespace: string): void {
  if (ctx.store.get('serviceaccounts', namespace, 'default')) return;
  const res = RESOURCES.find((x) => x.group === '' && x.plural === 'serviceaccounts')!;
  ctx.store.create('serviceaccounts', applyDefaults(defaultServiceAccount(namespace), res, now()));
}

const UNCONDITIONAL_UPDATE = new Set(['configmaps', 'secrets', 'leases', 'namespaces', 'events', 'serviceaccounts']);

/** Pod spec fields an update may change (ValidatePodUpdate). */
function checkPodUpdate(prev: KObject, next: KObject): void {
  const strip = (spec: unknown): unknown => {
    const s = structuredClone(spec) as Record<string, unknown> & { containers?: { image?: string }[]; initContainers?: { image?: string }[] };
    for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) delete c.image;
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
    return s;
  };
  // Compared as JSON values: clients serialize fields in their own order.
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(strip(prev.spec))), JSON.parse(JSON.stringify(strip(next.spec))))) {
    throw invalid('Pod', '', prev.metadata.name, [cause('FieldValueForbidden', 'spec', 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)')]);
  }
}

/** Stores an updated object after the checks apiserver makes; shared by PUT and PATCH. */
export function store(ctx: ServerContext, r: Route, prev: KObject, next: KObject, expectedRv: string | undefined, isDry: boolean): KObject {
  if (next.metadata.name !== prev.metadata.name) {
    throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${prev.metadata.name})`);
  }
  if (r.res.namespaced && next.metadata.namespace !== undefined && next.metadata.namespace !== prev.metadata.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const out: KObject = structuredClone(next);
  out.apiVersion = prev.apiVersion;
  out.kind = prev.kind;
  // System fields are the server's.
  for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generateName'] as const) {
    if (prev.metadata[f] !== undefined) (out.metadata as Record<string, unknown>)[f] = prev.metadata[f];
    else delete out.metadata[f];
  }
  out.metadata.namespace = prev.metadata.namespace;
  if (r.res.plural === 'pods' || r.res.plural === 'namespaces') {
    if (r.sub === 'status') out.spec = prev.spec;
    else out.status = prev.status;
    if (r.res.plural === 'pods' && r.sub !== 'status') checkPodUpdate(prev, out);
  }
  if (r.res.plural === 'secrets') {
    const data = { ...((out.data ?? {}) as Record<string, string>) };
    for (const [k, v] of Object.entries((out.stringData ?? {}) as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    delete out.stringData;
    out.data = data;
  }
  if (r.res.plural === 'leases') normalizeLease(out);
  validate(out, r.res);
  delete out.metadata.resourceVersion;
  const comparable = (o: KObject): unknown => JSON.parse(JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } }));
  const same = isDeepStrictEqual(comparable(prev), comparable(out));
  if (expectedRv !== undefined && expectedRv !== prev.metadata.resourceVersion) throw conflict(r.res, prev.metadata.name);
  // A no-op write is not a change: no new resourceVersion, no watch event (as GuaranteedUpdate).
  if (same || isDry) return same ? prev : { ...out, metadata: { ...out.metadata, resourceVersion: prev.metadata.resourceVersion } };
  try {
    return ctx.store.update(key(r), out, expectedRv);
  } catch (err) {
    if (err instanceof StaleResourceVersion) throw conflict(r.res, prev.metadata.name);
    throw err;
  }
}

export async function update(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const obj = await bodyObject(req);
  checkKind(r, obj);
  checkFields(r, obj, q, res);
  const isDry = dryRun(q);
  const prev = mustGet(ctx, r);
  const rv = obj.metadata.resourceVersion;
  if ((rv === undefined || rv === '') && !UNCONDITIONAL_UPDATE.has(r.res.plural)) {
    throw invalid(r.res.kind, r.res.group, prev.metadata.name, [cause('FieldValueInvalid', 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update')]);
  }
  send(res, 200, store(ctx, r, prev, obj, rv || undefined, isDry));
}

export async function patch(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  const body = parseJson(await readBody(req));
  const isDry = dryRun(q);
  const prev = mustGet(ctx, r);
  let next: unknown;
  try {
    if (type === 'application/merge-patch+json') next = mergePatch(prev, body);
    else if (type === 'application/strategic-merge-patch+json') next = strategicMergePatch(prev, body);
    else if (type === 'application/json-patch+json') next = jsonPatch(prev, body);
    else throw unsupportedMediaType(type);
  } catch (err) {
    if (err instanceof TestFailed) throw invalid(r.res.kind, r.res.group, prev.metadata.name, [cause('FieldValueInvalid', '', 'the server rejected our request due to an error in our request: testing value failed')]);
    throw err;
  }
  const obj = next as KObject;
  checkFields(r, obj, q, res);
  if (typeof obj !== 'object' || obj === null || typeof obj.metadata !== 'object') throw badRequest('the patch did not produce an object');
  // A patch carries a resourceVersion precondition only if it sets one itself.
  const patchRv = (body as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
  send(res, 200, store(ctx, r, prev, obj, type === 'application/json-patch+json' ? (obj.metadata.resourceVersion !== prev.metadata.resourceVersion ? obj.metadata.resourceVersion : undefined) : patchRv, isDry));
}

interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  dryRun?: string[];
}

async function deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
  const text = await readBody(req);
  const opts: DeleteOptions = text.trim() ? (parseJson(text) as DeleteOptions) : {};
  if (q.has('gracePeriodSeconds')) opts.gracePeriodSeconds = Number(q.get('gracePeriodSeconds'));
  if (q.has('dryRun')) opts.dryRun = q.getAll('dryRun');
  return opts;
}

/** Deletes one object as apiserver does; returns what the response carries. */
function deleteObject(ctx: ServerContext, r: Route, obj: KObject, opts: DeleteOptions): KObject {
  const p = opts.preconditions;
  if (p?.uid && p.uid !== obj.metadata.uid) throw conflictMessage(r.res, obj.metadata.name, `Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${obj.metadata.uid}`);
  if (p?.resourceVersion && p.resourceVersion !== obj.metadata.resourceVersion) {
    throw conflictMessage(r.res, obj.metadata.name, `Precondition failed: ResourceVersion in precondition: ${p.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`);
  }
  const ns = obj.metadata.namespace;
  if (opts.dryRun?.length) return obj;
  if (r.res.plural === 'pods') {
    const spec = obj.spec as { nodeName?: string; terminationGracePeriodSeconds?: number };
    const phase = (obj.status as { phase?: string } | undefined)?.phase;
    let grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
    // Pods never bound to a node or already finished have nothing to stop (CheckGracefulDelete).
    if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
    if (grace > 0) {
      if (obj.metadata.deletionTimestamp) return obj;
      return ctx.store.update(key(r), {
        ...obj,
        metadata: { ...obj.metadata, deletionTimestamp: new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z'), deletionGracePeriodSeconds: grace },
      });
    }
    return ctx.store.remove(key(r), ns, obj.metadata.name) ?? obj;
  }
  if (r.res.plural === 'namespaces') {
    if (obj.metadata.deletionTimestamp) return obj;
    const marked = ctx.store.update(key(r), { ...obj, metadata: { ...obj.metadata, deletionTimestamp: now() }, status: { phase: 'Terminating' } });
    setImmediate(() => finalizeNamespace(ctx, obj.metadata.name));
    return marked;
  }
  return ctx.store.remove(key(r), ns, obj.metadata.name) ?? obj;
}

/** Empties a terminating namespace (pods gracefully) and removes it once nothing is left. */
function finalizeNamespace(ctx: ServerContext, name: string): void {
  const nsObj = ctx.store.get('namespaces', undefined, name);
  if (!nsObj?.metadata.deletionTimestamp) return;
  for (const res of RESOURCES.filter((x) => x.namespaced)) {
    for (const o of ctx.store.list(resourceKey(res), name)) {
      if (res.plural === 'pods') deleteObject(ctx, { res, namespace: name, name: o.metadata.name, verb: 'delete' }, o, {});
      else ctx.store.remove(resourceKey(res), name, o.metadata.name);
    }
  }
  if (ctx.store.list('pods', name).length === 0) {
    ctx.store.remove('namespaces', undefined, name);
    return;
  }
  const unsubscribe = ctx.store.subscribe((c) => {
    if (c.resource === 'pods' && c.type === 'DELETED' && c.object.metadata.namespace === name && ctx.store.list('pods', name).length === 0) {
      unsubscribe();
      setImmediate(() => ctx.store.remove('namespaces', undefined, name));
    }
  });
}

export async function remove(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const opts = await deleteOptions(req, q);
  const obj = mustGet(ctx, r);
  const deleted = deleteObject(ctx, r, obj, opts);
  // As kube-apiserver's generic registry: an object deleted at once is answered with a Status;
  // pods (ReturnDeletedObject) and objects still finalizing, with the object.
  if (r.res.plural === 'pods' || (deleted.metadata as { deletionTimestamp?: string }).deletionTimestamp) return send(res, 200, deleted);
  const details = { name: obj.metadata.name, ...(r.res.group ? { group: r.res.group } : {}), kind: r.res.plural, uid: obj.metadata.uid };
  send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details });
}

export async function removeCollection(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const opts = await deleteOptions(req, q);
  const match = matchers(r, q);
  const items = ctx.store.list(key(r), r.res.namespaced ? r.namespace : undefined).filter(match).map((o) => deleteObject(ctx, { ...r, name: o.metadata.name }, o, opts));
  send(res, 200, { kind: `${r.res.kind}List`, apiVersion: apiVersionOf(r.res), metadata: { resourceVersion: String(ctx.store.resourceVersion) }, items });
}

export async function eviction(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await bodyObject(req);
  const pod = mustGet(ctx, { ...r, sub: undefined });
  const phase = (pod.status as { phase?: string }).phase;
  const conditions = ((pod.status as { conditions?: unknown[] }).conditions ?? []) as { type: string }[];
  let target = pod;
  if (phase !== 'Succeeded' && phase !== 'Failed' && !conditions.some((c) => c.type === 'DisruptionTarget')) {
    target = ctx.store.update('pods', {
      ...pod,
      status: { ...(pod.status as object), conditions: [{ type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: now(), reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' }, ...conditions] },
    });
  }
  const opts = (body.deleteOptions ?? {}) as DeleteOptions;
  deleteObject(ctx, { ...r, sub: undefined, verb: 'delete' }, target, opts);
  send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
}
