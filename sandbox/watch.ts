/**
 * Watches: from a resourceVersion (410 Gone when it was compacted away), with bookmarks, label and
 * field selectors, and the server's timeout.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiVersionOf } from './resources.ts';
import type { KObject } from './selectors.ts';
import { badRequest, expiredBody } from './status.ts';
import { toTable, wantsTable } from './table.ts';
import type { Change } from './store.ts';
import { type ServerContext, type Route, key, matchers, queryBool } from './http.ts';


/** Serves a watch: history or current state first, then live changes, as newline-delimited JSON. */
export function watch(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const match = matchers(r, q);
  const resource = key(r);
  const inScope = (o: KObject): boolean =>
    (!r.res.namespaced || r.namespace === undefined || o.metadata.namespace === r.namespace) &&
    (r.name === undefined || o.metadata.name === r.name);
  const rvParam = q.get('resourceVersion') ?? '';
  const timeoutSeconds = q.has('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : 1800 + Math.floor(Math.random() * 1800);
  const bookmarks = queryBool(q, 'allowWatchBookmarks');
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const drop = ctx.faults.watchDrop;
  const silentAfter = ctx.faults.takeWatchSilence();
  let delivered = 0;
  let closed = false;
  // The silenceWatches fault: from then on nothing reaches the client, and the server never ends it.
  const silent = (): boolean => silentAfter !== undefined && delivered >= silentAfter;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = (): void => {};
  const close = (reset = false): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    ctx.streams.delete(close);
    if (reset) res.destroy();
    else res.end();
  };
  const table = wantsTable(req.headers.accept);
  let columnsSent = false;
  const write = (type: string, object: unknown): void => {
    if (closed || silent()) return;
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
  ctx.streams.add(close);
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
    if (silent()) return;
    if (bookmarks) write('BOOKMARK', kindObj());
    close();
  }, timeoutSeconds * 1000));
  if (drop.afterSeconds !== undefined) timers.push(setTimeout(() => close(drop.mode === 'reset'), drop.afterSeconds * 1000));
}
