/**
 * What the sandbox's HTTP handlers share: the server's context, a request's route, and writing
 * and reading JSON bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeAgent } from './agent.ts';
import { Counters, Faults } from './faults.ts';
import type { LogStore } from './logs.ts';
import type { User } from './rbac.ts';
import { findResource, type ResourceInfo } from './resources.ts';
import { parseFieldSelector, parseLabelSelector, type KObject, type Matcher } from './selectors.ts';
import { badRequest, notFound } from './status.ts';
import { resourceKey, type Store } from './store.ts';



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
  /**
   * How to end each open watch and log stream, called on close: each stream's own end, so that
   * nothing it still hears (a store change, a container's last lines) is written after it.
   */
  streams: Set<() => void>;
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
  /** The authenticated user's name (as the audit log's user.username). */
  user: string;
}

/** A listener of `Sandbox.onRequest`; it runs synchronously at each moment. */
export type RequestObserver = (event: RequestEvent) => void;

export interface Route {
  res: ResourceInfo;
  namespace?: string;
  name?: string;
  sub?: string;
  verb: string;
}

export const NAMESPACES = findResource('', 'namespaces')!;

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * A boolean query parameter as kube-apiserver reads it (apimachinery's Convert_Slice_string_To_bool):
 * absent, "0" or "false" in any case is false; anything else, even empty, is true. The Python
 * client sends `follow=True`.
 */
export function queryBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v !== '0' && v.toLowerCase() !== 'false';
}

export function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the object provided is unrecognized: couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

export function key(r: Route): string {
  return resourceKey(r.res);
}

export function mustGet(ctx: ServerContext, r: Route): KObject {
  const obj = ctx.store.get(key(r), r.namespace, r.name!);
  if (!obj) throw notFound(r.res, r.name!);
  return obj;
}

export function matchers(r: Route, q: URLSearchParams): Matcher {
  const labels = parseLabelSelector(q.get('labelSelector'));
  const fields = parseFieldSelector(q.get('fieldSelector'), r.res);
  return (o) => labels(o) && fields(o);
}
