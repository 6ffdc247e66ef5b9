/**
 * The HTTP side of the sandbox: routing, authentication, authorization, faults, and the
 * handlers for every verb. Handlers throw ApiError; the top of each request turns it into a
 * `Status` body with the right code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { applyDefaults, normalizeLease, randomSuffix, validate } from './admission.ts';
import type { NodeAgent } from './agent.ts';
import { Counters, Faults } from './faults.ts';
import { containerInstance, nowNanos, parseRfc3339, streamLog, type LogStore } from './logs.ts';
import { unknownFields } from './fields.ts';
import { decodeProtobuf, encodeOpenApiV2 } from './protobuf.ts';
import { jsonPatch, mergePatch, strategicMergePatch, TestFailed } from './patch.ts';
import { allowed, rulesIn, type User } from './rbac.ts';
import { apiGroups, apiVersionOf, findResource, RESOURCES, type ResourceInfo } from './resources.ts';
import { parseFieldSelector, parseLabelSelector, type KObject, type Matcher } from './selectors.ts';
import {
  alreadyExists, ApiError, badRequest, cause, conflict, conflictMessage, expired, expiredBody, forbidden, internalError, serviceUnavailable,
  invalid, methodNotAllowed, notFound, pathNotFound, tooManyRequests, unauthorized, unsupportedMediaType,
} from './status.ts';
import { toTable, wantsTable } from './table.ts';
import { resourceKey, StaleResourceVersion, type Change, type Store } from './store.ts';

/** What the handlers share. */
export interface ServerContext {
  store: Store;
  logs: LogStore;
  agent: NodeAgent;
  users: Map<string, User>;
  faults: Faults;
  counters: Counters;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK. */
  bookmarkIntervalMs: number;
  /** Open watch and log streams, ended on close. */
  streams: Set<ServerResponse>;
  kubernetesVersion: { major: string; minor: string; gitVersion: string };
  /** Listeners of `Sandbox.onRequest`. */
  observers: Set<RequestObserver>;
}

/** One API request as `Sandbox.onRequest` reports it, at each of its two moments. */
export interface RequestEvent {
  /** `received`: routed and counted, before it is handled; `answered`: its response was handed to the socket. */
  phase: 'received' | 'answered';
  verb: string;
  /** As the counters name it: `pods`, `pods/log`, `leases`, ... */
  resource: string;
  /** The client's port on this connection (tells connections, so clients, apart). */
  remotePort: number | undefined;
}

/** A listener of `Sandbox.onRequest`; it runs synchronously at each moment. */
export type RequestObserver = (event: RequestEvent) => void;

interface Route {
  res: ResourceInfo;
  namespace?: string;
  name?: string;
  sub?: string;
  verb: string;
}

const NAMESPACES = findResource('', 'namespaces')!;

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the object provided is unrecognized: couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

/** Parses the path and method into a route, or undefined for non-resource paths. */
function route(method: string, path: string, query: URLSearchParams): Route | undefined {
  let parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  if (parts[0] === 'api' && parts[1] === 'v1') {
    group = '';
    parts = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    if (!RESOURCES.some((r) => r.group === group && r.version === parts[2])) return undefined;
    parts = parts.slice(3);
  } else return undefined;
  if (parts.length === 0) return undefined;
  let watch = query.get('watch') === 'true' || query.get('watch') === '1';
  if (parts[0] === 'watch') {
    watch = true;
    parts = parts.slice(1);
  }
  let namespace: string | undefined;
  let plural: string;
  let rest: string[];
  if (parts[0] === 'namespaces' && parts.length >= 3 && findResource(group, parts[2]!)?.namespaced) {
    namespace = parts[1]!;
    plural = parts[2]!;
    rest = parts.slice(3);
  } else {
    plural = parts[0]!;
    rest = parts.slice(1);
  }
  const res = findResource(group, plural);
  if (!res) throw pathNotFound();
  if (res.namespaced === false && namespace !== undefined) throw pathNotFound();
  const name = rest[0];
  const sub = rest[1];
  if (rest.length > 2 || (sub !== undefined && !res.subresources.includes(sub))) throw pathNotFound();
  let verb: string;
  switch (method) {
    case 'GET': verb = watch ? 'watch' : name === undefined ? 'list' : 'get'; break;
    case 'POST': verb = 'create'; break;
    case 'PUT': verb = 'update'; break;
    case 'PATCH': verb = 'patch'; break;
    case 'DELETE': verb = name === undefined ? 'deletecollection' : 'delete'; break;
    default: throw methodNotAllowed();
  }
  if (verb === 'create' && name !== undefined && sub === undefined) throw methodNotAllowed();
  if (!res.verbs.includes(verb) && sub === undefined) throw methodNotAllowed();
  return { res, namespace, name, sub, verb };
}

/** Handles one request. */
export async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://sandbox');
  const method = req.method ?? 'GET';
  try {
    if (ctx.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, ctx.faults.latencyMs));
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (['/version', '/healthz', '/livez', '/readyz'].includes(path)) {
      ctx.counters.add('get', path.slice(1));
      if (path === '/version') send(res, 200, { ...ctx.kubernetesVersion, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' });
      else {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
      }
      return;
    }
    const user = authenticate(ctx, req);
    const r = route(method, path, url.searchParams);
    if (!r) {
      ctx.counters.add('get', 'discovery');
      discovery(res, path, req);
      return;
    }
    const counted = r.sub ? `${r.res.plural}/${r.sub}` : r.res.plural;
    ctx.counters.add(r.verb, counted);
    if (ctx.observers.size > 0) observe(ctx, req, res, r.verb, counted);
    const retryAfter = ctx.faults.throttled(r.verb, counted);
    if (retryAfter !== undefined) throw tooManyRequests(retryAfter);
    if (ctx.faults.failed(r.verb, counted)) throw internalError('sandbox fault injection: etcdserver: request timed out');
    const burst = ctx.faults.unavailable();
    if (burst !== undefined) throw serviceUnavailable(burst.retryAfterSeconds);
    if (ctx.faults.loses(r.verb, counted)) loseAnswer(req, res);
    if (!allowed(user, { verb: r.verb, group: r.res.group, resource: counted, namespace: r.namespace, name: r.name })) {
      throw forbidden(user.name, r.verb, r.res, r.sub, r.namespace, r.name);
    }
    await dispatch(ctx, user, r, req, res, url.searchParams);
  } catch (err) {
    if (err instanceof ApiError) send(res, err.code, err.body, err.headers);
    else {
      console.error('sandbox: internal error', err);
      const e = internalError(String((err as Error)?.message ?? err));
      send(res, 500, e.body);
    }
  }
}

/**
 * The request is handled as usual, but whatever it would answer is never sent: the connection is
 * destroyed once the handler answers (a watch or log stream: at its first byte).
 */
function loseAnswer(req: IncomingMessage, res: ServerResponse): void {
  const drop = (): ServerResponse => {
    req.socket.destroy();
    return res;
  };
  res.writeHead = drop as unknown as ServerResponse['writeHead'];
  res.write = ((): boolean => (drop(), false)) as unknown as ServerResponse['write'];
  res.end = drop as unknown as ServerResponse['end'];
}

function observe(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, verb: string, resource: string): void {
  const remotePort = req.socket.remotePort;
  for (const o of ctx.observers) o({ phase: 'received', verb, resource, remotePort });
  res.once('finish', () => {
    for (const o of ctx.observers) o({ phase: 'answered', verb, resource, remotePort });
  });
}

function authenticate(ctx: ServerContext, req: IncomingMessage): User {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  const user = m ? ctx.users.get(m[1]!.trim()) : undefined;
  if (!user) throw unauthorized();
  return user;
}

function apiResourceList(group: string, version: string): unknown {
  const resources: unknown[] = [];
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    resources.push({ name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, ...(r.shortNames ? { shortNames: r.shortNames } : {}), storageVersionHash: Buffer.from(r.plural).toString('base64').slice(0, 11) });
    for (const s of r.subresources) {
      const verbs = s === 'log' ? ['get'] : s === 'eviction' ? ['create'] : ['get', 'patch', 'update'];
      const kind = s === 'log' ? 'Pod' : s === 'eviction' ? 'Eviction' : r.kind;
      resources.push({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind, verbs, ...(s === 'eviction' ? { group: 'policy', version: 'v1' } : {}) });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

/**
 * OpenAPI for kubectl, operations only (no schemas, so kubectl skips client-side validation):
 * v2 as protobuf with one PATCH operation per kind declaring `dryRun` (kubectl < 1.23 checks it
 * before --dry-run=server), v3 with the same operations declaring `fieldValidation`, so newer
 * kubectl leaves validation to the server.
 */
function openapi(res: ServerResponse, path: string): boolean {
  if (path === '/openapi/v2') {
    const ops = RESOURCES.filter((r) => r.verbs.includes('patch')).map((r) => ({
      path: `/${r.group ? `apis/${r.group}` : 'api'}/${r.version}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`,
      group: r.group, version: r.version, kind: r.kind,
      queryParams: ['dryRun', 'fieldManager', 'fieldValidation', 'force'],
    }));
    // Not the Accept type itself: Go's mime parser (client-go's response handling) rejects its '@'.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.end(encodeOpenApiV2(ops));
    return true;
  }
  const gvs = [...new Set(RESOURCES.map((r) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`)))];
  if (path === '/openapi/v3') {
    send(res, 200, { paths: Object.fromEntries(gvs.map((gv) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=sandbox` }])) });
    return true;
  }
  const gv = path.slice('/openapi/v3/'.length);
  if (!path.startsWith('/openapi/v3/') || !gvs.includes(gv)) return false;
  const paths: Record<string, unknown> = {};
  for (const r of RESOURCES.filter((x) => (x.group ? `apis/${x.group}/${x.version}` : `api/${x.version}`) === gv)) {
    const base = `/${gv}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`;
    const param = (name: string): unknown => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
    paths[base] = {
      patch: {
        operationId: `patch${r.kind}`,
        parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation'), param('force')],
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
      },
    };
  }
  send(res, 200, { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0-sandbox' }, paths, components: { schemas: {} } });
  return true;
}

function discovery(res: ServerResponse, path: string, req: IncomingMessage): void {
  if (openapi(res, path)) return;
  if (path === '/api') {
    send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${req.socket.localAddress}:${req.socket.localPort}` }] });
    return;
  }
  if (path === '/api/v1') {
    send(res, 200, apiResourceList('', 'v1'));
    return;
  }
  const group = (g: string): unknown => ({ name: g, versions: [{ groupVersion: `${g}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' } });
  if (path === '/apis') {
    send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups().map(group) });
    return;
  }
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (m && apiGroups().includes(m[1]!)) {
    if (!m[2]) send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...(group(m[1]!) as object) });
    else if (m[2] === 'v1') send(res, 200, apiResourceList(m[1]!, 'v1'));
    else throw pathNotFound();
    return;
  }
  throw pathNotFound();
}

async function dispatch(ctx: ServerContext, user: User, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  if (r.res.plural === 'selfsubjectaccessreviews') return selfSubjectAccessReview(user, req, res);
  if (r.res.plural === 'selfsubjectrulesreviews') return selfSubjectRulesReview(user, req, res);
  if (r.sub === 'log') return podLog(ctx, r, req, res, q);
  if (r.sub === 'eviction') return eviction(ctx, r, req, res);
  switch (r.verb) {
    case 'get': return getOne(ctx, r, req, res, q);
    case 'list': return list(ctx, r, req, res, q);
    case 'watch': return watch(ctx, r, req, res, q);
    case 'create': return create(ctx, r, req, res, q);
    case 'update': return update(ctx, r, req, res, q);
    case 'patch': return patch(ctx, r, req, res, q);
    case 'delete': return remove(ctx, r, req, res, q);
    case 'deletecollection': return removeCollection(ctx, r, req, res, q);
    default: throw methodNotAllowed();
  }
}

function key(r: Route): string {
  return resourceKey(r.res);
}

function mustGet(ctx: ServerContext, r: Route): KObject {
  const obj = ctx.store.get(key(r), r.namespace, r.name!);
  if (!obj) throw notFound(r.res, r.name!);
  return obj;
}

function getOne(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const obj = mustGet(ctx, r);
  if (wantsTable(req.headers.accept)) send(res, 200, toTable(r.res, [obj], obj.metadata.resourceVersion ?? '', q.get('includeObject')));
  else send(res, 200, obj);
}

function matchers(r: Route, q: URLSearchParams): Matcher {
  const labels = parseLabelSelector(q.get('labelSelector'));
  const fields = parseFieldSelector(q.get('fieldSelector'), r.res);
  return (o) => labels(o) && fields(o);
}

function list(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
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

/** Serves a watch: history or current state first, then live changes, as newline-delimited JSON. */
function watch(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const match = matchers(r, q);
  const resource = key(r);
  const inScope = (o: KObject): boolean =>
    (!r.res.namespaced || r.namespace === undefined || o.metadata.namespace === r.namespace) &&
    (r.name === undefined || o.metadata.name === r.name);
  const rvParam = q.get('resourceVersion') ?? '';
  const timeoutSeconds = q.has('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : 1800 + Math.floor(Math.random() * 1800);
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  ctx.streams.add(res);
  const drop = ctx.faults.watchDrop;
  let delivered = 0;
  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = (): void => {};
  const close = (reset = false): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    ctx.streams.delete(res);
    if (reset) res.destroy();
    else res.end();
  };
  const table = wantsTable(req.headers.accept);
  let columnsSent = false;
  const write = (type: string, object: unknown): void => {
    if (closed) return;
    let out = object;
    if (table && type !== 'ERROR' && type !== 'BOOKMARK') {
      const o = object as KObject;
      out = toTable(r.res, [o], o.metadata.resourceVersion ?? '', q.get('includeObject'), !columnsSent);
      columnsSent = true;
    }
    res.write(`${JSON.stringify({ type, object: out })}\n`);
    if (type !== 'BOOKMARK') delivered++;
    const d = ctx.faults.watchDrop;
    if (d.afterEvents !== undefined && delivered >= d.afterEvents) close(d.mode === 'reset');
  };
  const deliver = (c: Change): void => {
    if (c.resource !== resource) return;
    const now = inScope(c.object) && match(c.object);
    const before = c.prev !== undefined && inScope(c.prev) && match(c.prev);
    if (c.type === 'ADDED' && now) write('ADDED', c.object);
    else if (c.type === 'DELETED' && before) write('DELETED', c.object);
    else if (c.type === 'MODIFIED') {
      // As the watch cache does: an object entering or leaving the selector is ADDED or DELETED.
      if (now && before) write('MODIFIED', c.object);
      else if (now) write('ADDED', c.object);
      else if (before) write('DELETED', c.object);
    }
  };
  req.on('close', () => close());
  if (rvParam === '' || rvParam === '0') {
    for (const o of ctx.store.list(resource, r.res.namespaced ? r.namespace : undefined)) {
      if (inScope(o) && match(o)) write('ADDED', o);
    }
  } else {
    const rv = Number(rvParam);
    if (!Number.isInteger(rv) || rv < 0) {
      write('ERROR', badRequest(`invalid resource version: ${rvParam}`).body);
      close();
      return;
    }
    const since = ctx.store.changesSince(rv);
    if (since === 'expired') {
      // The watch cache answers an old resourceVersion with 200 and one ERROR event.
      write('ERROR', expiredBody(rvParam, ctx.store.oldestResumable + 1));
      close();
      return;
    }
    for (const c of since) deliver(c);
  }
  if (closed) return;
  unsubscribe = ctx.store.subscribe(deliver);
  const kindObj = (): unknown => ({ kind: r.res.kind, apiVersion: apiVersionOf(r.res), metadata: { resourceVersion: String(ctx.store.resourceVersion) } });
  if (bookmarks) timers.push(setInterval(() => write('BOOKMARK', kindObj()), ctx.bookmarkIntervalMs));
  timers.push(setTimeout(() => {
    if (bookmarks) write('BOOKMARK', kindObj());
    close();
  }, timeoutSeconds * 1000));
  if (drop.afterSeconds !== undefined) timers.push(setTimeout(() => close(drop.mode === 'reset'), drop.afterSeconds * 1000));
}

async function bodyObject(req: IncomingMessage): Promise<KObject> {
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

function dryRun(q: URLSearchParams): boolean {
  const d = q.getAll('dryRun');
  if (d.some((x) => x !== 'All')) throw badRequest(`dryRun: Unsupported value: "${d.find((x) => x !== 'All')}": supported values: "All"`);
  return d.length > 0;
}

async function create(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
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
  if (isDry) {
    send(res, 201, full);
    return;
  }
  send(res, 201, ctx.store.create(key(r), full));
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
function store(ctx: ServerContext, r: Route, prev: KObject, next: KObject, expectedRv: string | undefined, isDry: boolean): KObject {
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

async function update(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
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

async function patch(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
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

async function remove(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const opts = await deleteOptions(req, q);
  const obj = mustGet(ctx, r);
  const deleted = deleteObject(ctx, r, obj, opts);
  // As kube-apiserver's generic registry: an object deleted at once is answered with a Status;
  // pods (ReturnDeletedObject) and objects still finalizing, with the object.
  if (r.res.plural === 'pods' || (deleted.metadata as { deletionTimestamp?: string }).deletionTimestamp) return send(res, 200, deleted);
  const details = { name: obj.metadata.name, ...(r.res.group ? { group: r.res.group } : {}), kind: r.res.plural, uid: obj.metadata.uid };
  send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details });
}

async function removeCollection(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const opts = await deleteOptions(req, q);
  const match = matchers(r, q);
  const items = ctx.store.list(key(r), r.res.namespaced ? r.namespace : undefined).filter(match).map((o) => deleteObject(ctx, { ...r, name: o.metadata.name }, o, opts));
  send(res, 200, { kind: `${r.res.kind}List`, apiVersion: apiVersionOf(r.res), metadata: { resourceVersion: String(ctx.store.resourceVersion) }, items });
}

async function eviction(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
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

async function selfSubjectAccessReview(user: User, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await bodyObject(req);
  const spec = (body.spec ?? {}) as { resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string }; nonResourceAttributes?: unknown };
  const a = spec.resourceAttributes;
  let ok = false;
  if (a) {
    const resource = a.subresource ? `${a.resource ?? ''}/${a.subresource}` : (a.resource ?? '');
    ok = allowed(user, { verb: a.verb ?? '', group: a.group ?? '', resource, namespace: a.namespace || undefined, name: a.name || undefined });
  } else if (spec.nonResourceAttributes) {
    ok = true;
  }
  send(res, 201, {
    kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec,
    status: ok ? { allowed: true, reason: 'RBAC: allowed by sandbox rules' } : { allowed: false },
  });
}

async function selfSubjectRulesReview(user: User, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await bodyObject(req);
  const ns = ((body.spec ?? {}) as { namespace?: string }).namespace ?? 'default';
  send(res, 201, {
    kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec ?? {},
    status: {
      resourceRules: [{ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] }, ...rulesIn(user, ns)],
      nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version', '/version/'] }],
      incomplete: false,
    },
  });
}

/** Serves pods/log as the kubelet does, including its 400s for containers with no log yet. */
function podLog(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const pod = mustGet(ctx, { ...r, sub: undefined });
  const spec = pod.spec as { nodeName?: string; containers: { name: string }[]; initContainers?: { name: string }[] };
  const names = spec.containers.map((c) => c.name);
  const initNames = (spec.initContainers ?? []).map((c) => c.name);
  let container = q.get('container') ?? '';
  if (!container) {
    if (names.length !== 1) {
      const init = initNames.length ? ` or one of the init containers: [${initNames.join(' ')}]` : '';
      throw badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]${init}`);
    }
    container = names[0]!;
  }
  if (!names.includes(container) && !initNames.includes(container)) throw badRequest(`container ${container} is not valid for pod ${pod.metadata.name}`);
  const causes = [];
  const tail = q.get('tailLines');
  const limit = q.get('limitBytes');
  const sinceSeconds = q.get('sinceSeconds');
  const sinceTime = q.get('sinceTime');
  if (tail !== null && !(Number(tail) >= 0)) causes.push(cause('FieldValueInvalid', 'tailLines', `Invalid value: ${tail}: must be greater than or equal to 0`));
  if (limit !== null && !(Number(limit) >= 1)) causes.push(cause('FieldValueInvalid', 'limitBytes', `Invalid value: ${limit}: must be greater than 0`));
  if (sinceSeconds !== null && !(Number(sinceSeconds) >= 1)) causes.push(cause('FieldValueInvalid', 'sinceSeconds', `Invalid value: ${sinceSeconds}: must be greater than 0`));
  if (sinceSeconds !== null && sinceTime !== null) causes.push(cause('FieldValueForbidden', '', 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified'));
  if (causes.length) throw invalid('PodLogOptions', '', '', causes);
  let since: number | undefined;
  if (sinceTime !== null) {
    since = parseRfc3339(sinceTime);
    if (since === undefined) throw badRequest(`parsing time "${sinceTime}" as "2006-01-02T15:04:05Z07:00": cannot parse "${sinceTime}" as "2006"`);
  } else if (sinceSeconds !== null) {
    since = nowNanos() - Number(sinceSeconds) * 1_000_000_000;
  }
  const start = (): void => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  };
  if (!spec.nodeName) {
    // apiserver has no node to ask: an empty log.
    start();
    res.end();
    return;
  }
  const previous = q.get('previous') === 'true';
  const instance = containerInstance(pod, container, previous);
  if (typeof instance === 'string') throw badRequest(instance);
  const log = ctx.logs.get(pod.metadata.uid!, container, instance);
  const cut = ctx.faults.cutLogsAfterBytes;
  start();
  ctx.streams.add(res);
  streamLog(req, res, log, {
    follow: q.get('follow') === 'true' && !previous,
    timestamps: q.get('timestamps') === 'true',
    since,
    tailLines: tail !== null ? Number(tail) : undefined,
    maxBytes: Math.min(limit !== null ? Number(limit) : Infinity, cut ?? Infinity),
    onEnd: () => ctx.streams.delete(res),
  });
}
