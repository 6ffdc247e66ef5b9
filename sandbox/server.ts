/**
 * The HTTP side of the sandbox: the router. Each request is authenticated, authorized, counted,
 * given its faults, and routed to its handler: discovery and OpenAPI here, the object verbs in
 * crud.ts, watches in watch.ts, pod logs in pod-log.ts, access reviews in reviews.ts. Handlers
 * throw ApiError; the top of each request turns it into a `Status` body with the right code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeOpenApiV2 } from './protobuf.ts';
import { allowed, type User } from './rbac.ts';
import { apiGroups, findResource, RESOURCES } from './resources.ts';
import { ApiError, forbidden, internalError, methodNotAllowed, pathNotFound, serviceUnavailable, tooManyRequests, unauthorized } from './status.ts';
import { type ServerContext, type Route, queryBool, send } from './http.ts';
import { getOne, list, create, update, patch, remove, removeCollection, eviction } from './crud.ts';
import { watch } from './watch.ts';
import { selfSubjectAccessReview, selfSubjectRulesReview } from './reviews.ts';
import { podLog } from './pod-log.ts';

// Who embeds the server (index.ts, the node agent) knows these by the server.
export type { RequestEvent, RequestObserver, ServerContext } from './http.ts';

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
  let watch = queryBool(query, 'watch');
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
    if (ctx.observers.size > 0) observe(ctx, req, res, r.verb, counted, user.name);
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

function observe(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, verb: string, resource: string, user: string): void {
  const remotePort = req.socket.remotePort;
  for (const o of ctx.observers) o({ phase: 'received', verb, resource, remotePort, user });
  res.once('finish', () => {
    for (const o of ctx.observers) o({ phase: 'answered', verb, resource, remotePort, user });
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
